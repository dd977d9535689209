// The shared inference server as its own process (isolation modes sandbox and process):
// one per node, started and supervised by the node agent. It holds the models the agent
// asks for (ipc::ServerCommand on the control ring: load when a task using the model
// arrives, unload once none has for a while), loading each on a thread of its own so the
// models already held keep running; it subscribes to every task's pre-processed tensors,
// runs the InferenceEngine (the node's local scheduler over the real clock) and publishes
// each job's output to its task's post-processing worker, all through the node's shared
// memory. It reports every job it drops or runs, and every model it loads or unloads, to
// the agent. Starts with no model. Runs until SIGTERM/SIGINT.
//
// Its config is the agent's own NodeConfig, models' profiles and command-line overrides
// included, handed over as a document (config/node_config_wire.h) on a descriptor — the
// agent makes it the server's stdin — with its digest on the command line
// (`coedge node-server --config-digest HEX`): the server derives nothing from files.
// Its shared memory comes as descriptors (`--shm-fds 3,4,...`: the control segment, then
// each task's, in the config's task order; ipc/node_topology.h), with each task's tensor
// and output item sizes (`--shm-task-sizes T:O,...`), from which it computes the plans it
// maps them with; it never opens a path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/node_config.h"
#include "core/result.h"

namespace coedge::node {

// The largest config document a server takes (a city-scale node's is a few hundred kB).
inline constexpr size_t kMaxServerConfigBytes = 64u << 20;

// Reads the agent's config document from `fd` (from its start: a restarted server reads
// it again) and checks it against `digest` (read_node_config_wire). Errors name the
// descriptor and what was wrong: unreadable, empty, garbled, another version, a digest
// that does not match.
Result<config::NodeConfig> receive_server_config(int fd, const std::string& digest);

// The server's shared memory as the agent hands it over.
struct ServerShm {
  int control_fd = -1;
  std::vector<int> task_fds;  // per task of the config, in its order
  std::vector<uint64_t> tensor_bytes, output_bytes;  // per task: one item, header excluded
};
// From `--shm-fds` and `--shm-task-sizes`. Errors name the option and the bad part; one
// task descriptor and one size pair per task of the config is required.
Result<ServerShm> parse_server_shm(const std::string& fds, const std::string& sizes, size_t tasks);

// Returns the process exit code (non-zero when the backend or the shared memory is unusable;
// a model that does not load is reported to the agent, and the server goes on).
// `digest`: the config's, for the log.
int run_server_process(const config::NodeConfig& config, const std::string& digest, const ServerShm& shm);

}  // namespace coedge::node
