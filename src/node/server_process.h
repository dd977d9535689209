// The shared inference server as its own process (isolation modes sandbox and process):
// one per node, started and supervised by the node agent. It preloads every model of the
// node, subscribes to every task's pre-processed tensors, runs the InferenceEngine (the
// node's local scheduler over the real clock) and publishes each job's output to its
// task's post-processing worker, all through the node's shared memory. It reports every
// job it drops or runs to the agent's ledger. Runs until SIGTERM/SIGINT.
#pragma once

#include <vector>

#include "config/node_config.h"
#include "core/scenario.h"

namespace coedge::node {

// Returns the process exit code (non-zero when a model or the scheduler cannot load).
int run_server_process(const config::NodeConfig& config, const std::vector<ModelProfile>& profiles);

}  // namespace coedge::node
