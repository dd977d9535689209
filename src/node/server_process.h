// The shared inference server as its own process (isolation modes sandbox and process):
// one per node, started and supervised by the node agent. It holds the models the agent
// asks for (ipc::ServerCommand on the control ring: load when a task using the model
// arrives, unload once none has for a while), loading each on a thread of its own so the
// models already held keep running; it subscribes to every task's pre-processed tensors,
// runs the InferenceEngine (the node's local scheduler over the real clock) and publishes
// each job's output to its task's post-processing worker, all through the node's shared
// memory. It reports every job it drops or runs, and every model it loads or unloads, to
// the agent. Starts with no model. Runs until SIGTERM/SIGINT.
#pragma once

#include <vector>

#include "config/node_config.h"
#include "core/scenario.h"

namespace coedge::node {

// Returns the process exit code (non-zero when the backend or the shared memory is unusable;
// a model that does not load is reported to the agent, and the server goes on).
int run_server_process(const config::NodeConfig& config, const std::vector<ModelProfile>& profiles);

}  // namespace coedge::node
