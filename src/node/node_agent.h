// The node agent (`coedge node`): starts and supervises everything on one edge node —
// the pipeline of its isolation mode (workers, the shared inference server, their
// shared memory), one thread per sensor replaying frames at its tasks' periods — keeps the job
// accounting, exports metrics, prints progress and a per-task summary, and stops cleanly
// on request, closing every job still open. Every released job ends as met, overdue or
// dropped, and the totals say so. Each run has a run id (summary.json's run_id); its
// result lines (RUN_DIR/results/<task>.jsonl) and job lines (config.jobs_jsonl) carry it
// and are appended, and both files are opened only once the run has started
// (docs/NODE_CONFIG.md, "Results").
#pragma once

#include <atomic>
#include <cstdio>
#include <string>

#include "config/node_config.h"
#include "node/feed.h"
#include "node/pipeline.h"
#include "core/time.h"

namespace coedge::node {

struct AgentOptions {
  config::NodeConfig config;
  std::string coedge_exe;    // this program, to start `coedge node-server`
  std::string worker_exe;    // the stock worker executable
  std::string summary_json;  // default: <run_dir>/summary.json
  std::FILE* table = stdout; // where the per-task table goes at the end (null: none)
  Duration progress_every = std::chrono::seconds(10);  // 0: no progress lines
  int profile_runs = 5;      // when the models are measured at start
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by a signal) to stop the run
  // Fault injection: every `crash_every` (0: never), SIGKILL a worker in turn, or the
  // server (sandbox and process modes).
  Duration crash_every{};
  Duration crash_for{};  // inject only this long from the start (0: the whole run)
  bool crash_server = false;
  Duration restart_backoff_max = std::chrono::seconds(5);
  // A cluster node (`coedge node --scenario`): its topic sensors are fed from outside, by
  // the feed that `feed.start` starts once the pipeline is up (node/feed.h); unset: no
  // feed. A cluster node's is ClusterFeed, over DDS (node/cluster/cluster_config.h:
  // cluster_feed_starter), whose REQUIRES are that config.tasks and config.sensors are its
  // scenario's tasks, in its order (cluster_node_config builds such a config).
  FeedStarter feed;
  os::ProcessLauncher* launcher = nullptr;        // PipelineContext::launcher (null: the system's)
};

// run_node_agent's result after a run whose released jobs were not all closed (met,
// overdue or dropped): an internal accounting error. `coedge node` exits with it
// (apps/coedge/commands.h: kExitUnaccounted).
inline constexpr int kRunUnaccounted = 3;

// Returns the process exit code: 0 after a run, 1 when the node cannot start,
// kRunUnaccounted after a run whose released jobs were not all accounted for.
// REQUIRES for the sandbox and process modes: the process is still single-threaded.
int run_node_agent(const AgentOptions& options);

}  // namespace coedge::node
