// What feeds a node agent from outside the node: frames for its topic sensors, reports
// back, and the word to stop. The agent starts a feed once its pipeline is up
// (AgentOptions::feed), polls it from its loop, stops it accepting before it drains the
// jobs in flight, and lets it send a last report once every job is closed. A cluster
// node's feed is ClusterFeed, over DDS (node/cluster/cluster_feed.h); the agent knows only
// this interface, so coedge_node links no DDS and no iperf.
// Threads: the agent calls every member from its loop thread; a feed may run threads of
// its own (it publishes frames into the pipeline from them).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/node_config.h"
#include "core/clock.h"
#include "core/result.h"
#include "core/time.h"
#include "node/core/accounting.h"
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
};

// How the agent starts a feed, once its pipeline is started: `start` gets the agent's
// config, accounting, pipeline and clock, which outlive the feed it returns; an error
// stops the node before it runs. `started` is logged once the feed is up.
struct FeedStarter {
  std::function<Result<std::unique_ptr<Feed>>(const config::NodeConfig&, Accounting&, Pipeline&,
                                              const Clock&)>
      start;
  std::string started;
};

}  // namespace coedge::node
