// What feeds a node agent from outside the node: frames for its topic sensors, reports
// back, and the word to stop. The agent starts a feed once its pipeline is up
// (AgentOptions::feed), polls it from its loop, stops it accepting before it drains the
// jobs in flight, and lets it send a last report once every job is closed. A cluster
// node's feed is ClusterFeed (node/cluster/cluster_feed.h), a node whose config has topic
// sensors TopicFeed (node/cluster/topic_feed.h), both over DDS; the agent knows only this
// interface, so coedge_node links no DDS and no iperf. The feed owns the process's DDS
// domain, so it is also what publishes the node's results on the bus (a ResultSink it
// adds to the agent's ResultLog when it starts).
// Threads: the agent calls every member from its loop thread; a feed may run threads of
// its own (it publishes frames into the pipeline from them).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/node_config.h"
#include "core/clock.h"
#include "core/result.h"
#include "core/time.h"
#include "node/core/accounting.h"
#include "node/core/metrics.h"
#include "node/core/result_log.h"
#include "node/pipeline.h"

namespace coedge::node {

class Feed {
 public:
  virtual ~Feed() = default;
  // Every turn of the agent's loop. Returns true once the node is asked to stop.
  virtual bool poll(TimePoint now) = 0;
  // Accepts no more frames: returns once nothing more is published into the pipeline.
  virtual void stop_accepting() = 0;
  // The last report, after every job is closed (so the accounting it carries is complete).
  virtual void final_report() = 0;

  // What the feed counted, for the agent's summary: per topic sensor (config index) the
  // frames received and rejected (by reason: node/cluster/ros_frame.h), per task the frames
  // its sampler skipped (node/core/topic_sampler.h). Called after final_report().
  struct SensorCounts {
    uint32_t sensor = 0;
    uint64_t received = 0;
    std::vector<std::pair<std::string, uint64_t>> rejected;  // reason -> frames, every reason
    // Frames whose header stamp was far off this node's clock (another clock: sim time, a
    // device's): their jobs were released at arrival instead.
    uint64_t off_clock = 0;
  };
  // Control samples refused (node/cluster/sample_checks.h): per (topic, reason) counted.
  struct RejectedSamples {
    std::string topic, reason;  // core/sample_rejection.h names
    uint64_t count = 0;
  };
  struct Counts {
    std::vector<SensorCounts> sensors;
    std::vector<uint64_t> skipped;  // per task; empty: none counted
    std::vector<RejectedSamples> rejected_samples;
  };
  virtual Counts counts() const { return {}; }
};

// What the agent hands a feed when it starts it; everything outlives the feed.
struct FeedContext {
  const config::NodeConfig* config = nullptr;
  Accounting* accounting = nullptr;
  Pipeline* pipeline = nullptr;
  const Clock* clock = nullptr;
  ResultLog* results = nullptr;         // the feed may add a sink (before any frame)
  NodeMetrics* metrics = nullptr;
  std::vector<std::string> task_kinds;  // per task: "detection", "classification" or ""
  // Per config sensor: its index among the metrics' sensors (NodeMetrics), or -1.
  std::vector<int32_t> metrics_sensor;
};

// How the agent starts a feed, once its pipeline is started; an error stops the node
// before it runs. `started` is logged once the feed is up. `plans_tasks`: the feed starts
// and stops the node's tasks itself (a cluster node's, by the master's plan); otherwise the
// agent starts every task before the feed.
struct FeedStarter {
  std::function<Result<std::unique_ptr<Feed>>(const FeedContext&)> start;
  std::string started;
  bool plans_tasks = false;
};

}  // namespace coedge::node
