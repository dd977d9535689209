// How frames travel from the agent's sensors through a task's pre-processing, the shared
// inference server and post-processing: the part of the node runtime that differs
// between isolation modes. InProcessPipeline runs it all as threads of the agent (mode
// "none", the paper's Mono Container); IpcPipeline runs each worker and the server as
// processes over the node's shared-memory segment (modes "process" and "sandbox"). Both report
// every stage of every job to the same Accounting, hand every result to the same writer
// (ResultLog: the agent alone writes the results files), and run the same worker callbacks
// and the same InferenceEngine, so their measurements and results compare like for like.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "config/node_config.h"
#include "core/clock.h"
#include "core/result.h"
#include "core/scenario.h"
#include "ipc/messages.h"
#include "node/core/accounting.h"
#include "node/core/result_log.h"

namespace coedge::os {
class ProcessLauncher;
}  // namespace coedge::os

namespace coedge::node {

struct PipelineContext {
  // The node's config, profiles resolved (measured ones included); the IPC pipeline hands
  // it to the server process as it is (config/node_config_wire.h).
  const config::NodeConfig* config = nullptr;
  const Scenario* scenario = nullptr;          // node_scenario(*config)
  Accounting* accounting = nullptr;
  ResultLog* results = nullptr;                // the writer of every task's results file
  NodeMetrics* metrics = nullptr;
  const Clock* clock = nullptr;
  std::string coedge_exe;                      // this binary: runs `coedge node-server`
  std::string worker_exe;                      // the stock worker executable
  std::vector<std::string> task_kinds;         // per task: "classification", "detection", "segmentation" or ""
  std::vector<std::vector<int64_t>> input_shapes, output_shapes;  // per model, one item
  Duration restart_backoff_max = std::chrono::seconds(5);  // longest delay before a restart
  // Lean nodes: a model no active task has used for this long is unloaded (a task that
  // leaves and comes back within it finds its model still loaded).
  Duration model_unload_grace = std::chrono::seconds(30);
  // What starts, signals and reaps the worker and server processes (IPC modes); null: the
  // system's (os/process_launcher.h). A test may inject a fake; it must outlive the pipeline.
  os::ProcessLauncher* launcher = nullptr;
};

// What the agent reports about the health of its processes (IPC modes), to show that
// crashes leave nothing behind.
struct PipelineHealth {
  int worker_restarts = 0;
  int server_restarts = 0;
  int server_fds = -1;          // open file descriptors of the server process; -1: n/a
  int processes = 0;            // worker and server processes running
  int shm_files = 0;            // files in the node's private /dev/shm (its memory is memfds: 0)
  uint64_t chunks_in_use = 0;   // shared-memory chunks not free (filling or held), every pool
  uint64_t frame_chunks_in_use = 0;  // of those, frame chunks (the sensors' pools)
  // Protocol violations by the workers since the start (every one, kills or not:
  // node/core/violations.h), and the tasks quarantined now. IPC modes; 0 otherwise.
  uint64_t protocol_violations = 0;
  uint32_t quarantined_tasks = 0;
  // The agent's own open descriptors (/proc/self/fd), counted by whoever builds the
  // summary (not the pipeline: the agent holds more than the pipeline's); -1: unknown.
  int agent_fds = -1;
};

enum class CrashTarget { kWorker, kServer };

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  // Starts what the node's tasks share (the server, the shared memory) and returns once
  // it is up. No task runs yet: activate() starts one. Errors name the part that failed.
  virtual Status start() = 0;
  // Lean nodes. activate() starts the task's workers and asks for its model, without
  // waiting: task_unavailable() says kNotReady until both are up. deactivate() stops the
  // task's workers (jobs they still hold are closed as kShutdown); its model is unloaded
  // once no active task has used it for `model_unload_grace`. Both are idempotent.
  // Called from the agent's loop thread, as poll() is.
  virtual void activate(uint32_t task) = 0;
  virtual void deactivate(uint32_t task) = 0;
  // Polls until every active task is ready. An error names what failed (a model that does
  // not load, a worker that exits while starting) or what was not ready after `timeout`.
  virtual Status wait_ready(Duration timeout) = 0;
  // Whether the task can take frames now: kNone, or why a frame cannot reach it: kNotReady
  // (not active, or its workers or model still starting), kServerCrash or kWorkerCrash
  // (that process is restarting). Any thread.
  virtual DropCause task_unavailable(uint32_t task) const = 0;
  bool ready(uint32_t task) const { return task_unavailable(task) == DropCause::kNone; }
  // A captured frame for `jobs` (already released in the ledger). Called from the
  // sensor's thread. A job that cannot be delivered is dropped in the ledger here.
  virtual void publish_frame(uint32_t sensor, const cv::Mat& frame, uint64_t sequence,
                             TimePoint capture, std::span<const ipc::JobRef> jobs) = 0;
  // The agent's loop: handles news from the workers and the server and supervises them,
  // for at most `timeout`.
  virtual void poll(Duration timeout) = 0;
  // Stops every worker and the server. Open jobs stay open (the agent closes them).
  virtual void stop() = 0;
  // Fault injection (`coedge node --crash-every`): SIGKILLs the next worker in turn, or
  // the server. False when the mode has no such process.
  virtual bool inject_crash(CrashTarget) { return false; }
  virtual PipelineHealth health() const { return {}; }
  // After stop(), once the agent is done: removes the shared memory and its daemon.
  virtual void release_shared_memory() {}
};

std::unique_ptr<Pipeline> make_in_process_pipeline(PipelineContext context);
std::unique_ptr<Pipeline> make_ipc_pipeline(PipelineContext context);

}  // namespace coedge::node
