// The feed of a node of its own (`coedge node --config`) whose config has topic sensors
// (docs/NODE_CONFIG.md, "Topic sensors"): frames from ROS 2 camera drivers over DDS.
//   - One DDS domain for the process, one subscription per topic sensor that a task uses
//     (sensor_msgs/Image, or CompressedImage when the sensor is `compressed`), with the
//     sensor's reliability. Several tasks on one topic share its subscription: no relay.
//   - Per task a TopicSampler (node/core/topic_sampler.h) picks the frames it takes, one per
//     period, by their header stamps (the arrival time when a driver stamps 0); the frames
//     it does not take are skipped: no job, counted per task.
//   - A frame that any task took is decoded once (node/cluster/ros_frame.h), a job is
//     released for each task that took it, and it is published into the pipeline once with
//     all their jobs (node/cluster/topic_frames.h). A rejected frame's jobs are dropped
//     kBadFrame, so every released job is accounted; its reason is counted per sensor.
//   - The node's results are published on the bus (publish_results; result_publisher.h).
// Counters: per sensor frames received and rejected by reason, per task frames skipped, in
// the agent's metrics as they happen and in its summary (counts()).
// Threads: a feeder thread takes frames from DDS and publishes them into the pipeline;
// poll() and the rest are called from the agent's loop thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "net/dds.h"
#include "node/feed.h"

namespace coedge::node {

struct TopicOptions {
  uint32_t domain = 0;                   // DDS domain id
  std::string interface_address;         // DDS interface; empty: Cyclone's default
  std::vector<std::string> dds_peers;    // unicast discovery peers; empty: multicast
  std::optional<net::DdsSecurityFiles> security;  // DDS Security files; none: an open domain
};

class TopicFeed final : public Feed {
 public:
  // REQUIRES: the context's config has a topic sensor that a task uses; the pipeline is
  // started and every task activated. Errors: DDS refusing the domain or a subscription.
  static Result<std::unique_ptr<TopicFeed>> start(const TopicOptions& options, const FeedContext& context);
  ~TopicFeed() override;

  // Logs a topic that stayed silent for the first 5 s; never asks to stop (the node's
  // duration or a signal does).
  bool poll(TimePoint now) override;
  void stop_accepting() override;
  void final_report() override;
  Counts counts() const override;

  struct Impl;

 private:
  explicit TopicFeed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether the config has a topic sensor that a task uses (then `coedge node --config`
// starts a TopicFeed).
bool has_topic_sensors(const config::NodeConfig& config);

// The agent's feed (AgentOptions::feed) for such a config.
FeedStarter topic_feed_starter(const TopicOptions& options);

}  // namespace coedge::node
