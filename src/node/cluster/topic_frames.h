// What both DDS feeds (ClusterFeed, TopicFeed) do with a frame that tasks took from a
// ROS 2 image topic: decode it once (node/cluster/ros_frame.h), release one job per task
// that took it, and publish it into the pipeline once with all their jobs. Also the
// per-topic counters (frames received, rejected by reason) and the rate-limited log of
// rejections, and the results publisher both feeds create on their DDS domain.
//
// The job's release is the frame's stamp moved onto the agent's clock (now − age, age ≥
// 0: the camera's clock and this host's agree, or the frame is taken as new); its
// deadline the release plus the task's deadline. The frame's identity carries the stamp
// and frame_id of its header (a stamp of 0: the identity's stamp stays 0, its capture time
// is the arrival). Thread-safety: release_and_publish from one feeder thread per feed;
// TopicCounters are atomics, read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/node_config.h"
#include "core/clock.h"
#include "core/scenario.h"
#include "net/dds.h"
#include "node/cluster/ros_frame.h"
#include "node/core/accounting.h"
#include "node/core/result_log.h"
#include "node/feed.h"
#include "node/pipeline.h"

namespace coedge::node {

struct TopicCounters {
  std::atomic<uint64_t> received{0};
  std::array<std::atomic<uint64_t>, kFrameRejectionCount> rejected{};  // by FrameRejection
  // Counts a rejection; true when it is to be logged (the first 5 of the topic, then
  // every 1000th), so that a driver sending garbage at 30 fps does not flood the log.
  bool count_rejection(FrameRejection reason);
  uint64_t rejected_total() const;
  std::atomic<uint64_t> off_clock{0};
  // Counts a frame released at arrival for its stamp; true when it is to be logged (the
  // first, then every 1000th).
  bool count_off_clock();
  // The feed's summary entry for sensor `sensor` (every reason, zeros included).
  Feed::SensorCounts counts(uint32_t sensor) const;
};

// One task that took the frame: its index, and the frame's identity as it is to see it
// (its sensor index and sequence number).
struct FrameTaker {
  uint32_t task = 0;
  uint32_t sensor = 0;
  uint64_t sequence = 0;
};

struct PublishedFrame {
  FrameRejection rejected = FrameRejection::kNone;
  std::string why;  // when rejected
  // The stamp was more than a second in the future, or older than ten times max(1 s, the
  // longest deadline of its takers): not this node's clock (a driver on sim time or its device's
  // clock). The jobs were released at arrival; `stamp_age_ns` says how far off it was.
  bool off_clock = false;
  int64_t stamp_age_ns = 0;
};

// Releases a job for every taker (at the frame's stamp, `stamp_ns`: the header's, or the
// arrival when it has none), decodes the frame once against `max` (the sensor's largest
// frame), and publishes it into the pipeline under sensor `pool_sensor` with the jobs of
// the takers whose task can take frames; a rejected frame's jobs are dropped kBadFrame, an
// unavailable task's with its cause. REQUIRES: takers non-empty.
PublishedFrame release_and_publish(const net::Image& image, int64_t stamp_ns, std::span<const FrameTaker> takers,
                                   const config::SensorConfig& max, uint32_t pool_sensor,
                                   const config::NodeConfig& config, Accounting& accounting, Pipeline& pipeline,
                                   const Clock& clock);

// A feed's DDS domain and the reader set of its image topics (one DdsDomain per process:
// the feed owns it, and the result publisher is created on it too).
struct FeedDds {
  std::unique_ptr<net::DdsDomain> domain;
  std::unique_ptr<net::ImageReaderSet> readers;
};
// `security`: the participant's DDS Security files (none: an open domain).
Result<FeedDds> join_dds(uint32_t domain, const std::string& interface_address, const std::vector<std::string>& peers,
                         const std::optional<net::DdsSecurityFiles>& security = std::nullopt);

// Counts and logs what release_and_publish said about a frame of the topic that `what`
// names (e.g. "sensor front (/front/image_raw)"): a stamp off this node's clock, a rejected
// frame (also counted in `metrics` under `metrics_index` when that is >= 0). Logging is
// throttled by the counters (the first, then every 1000th; the first 5 rejections).
void note_published(const PublishedFrame& published, TopicCounters& counters, const std::string& what,
                    NodeMetrics* metrics, int32_t metrics_index, const std::function<void(const std::string&)>& log);

// The node's results on the bus (node/cluster/result_publisher.h) when the config says
// publish_results: created on `domain` for every task, and added to the agent's ResultLog.
// Null when off. Errors: the publisher's (writers refused by DDS). The ResultLog keeps the
// sink: the caller keeps it alive until no job can close (the feed, until the agent
// destroys it after closing every job), so nothing that can fail comes after this call.
Result<std::unique_ptr<ResultSink>> start_result_publisher(net::DdsDomain& domain, const FeedContext& context);

}  // namespace coedge::node
