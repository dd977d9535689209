// The node agent's single place where job news is applied: the ledger (who holds which
// job, how each ended), and, for every job that closes, the metrics, the job's result line
// (ResultLog::job_closed: a result is written once its outcome is known) and its job line
// (JobLog). Sensors, the event loop and the in-process workers all report through here, so
// no closed job escapes the metrics. Thread-safe (the ledger, metrics and logs are).
#pragma once

#include <cstdint>
#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/node_config.h"
#include "core/scenario.h"
#include "node/core/job_ledger.h"
#include "node/core/job_line.h"
#include "node/core/metrics.h"
#include "node/core/result_log.h"

namespace coedge::node {

class Accounting {
 public:
  // REQUIRES: config, scenario, metrics and log (may be null) outlive this.
  // `epoch`: the agent's start, subtracted from every time written to the log.
  Accounting(const config::NodeConfig& config, const Scenario& scenario, NodeMetrics& metrics,
             JobLog* log, TimePoint epoch);

  // From now on, closed jobs also go to `results` (their held results' lines) and `jobs`
  // (one job line each), under `run`'s identity; either may be null. The agent calls it
  // once the run has started, after opening the files. REQUIRES: before any job is
  // released; the logs outlive this.
  void start_writing(RunContext run, JobLog* jobs, ResultLog* results);

  // `frame`: the released frame's identity (FrameIdentity), kept for the job's lines.
  uint64_t release(uint32_t task, TimePoint release, TimePoint deadline, FrameIdentity frame = {});
  void pre_done(uint64_t id, TimePoint pre_start, TimePoint pre_end);
  void inferred(uint64_t id, uint32_t task, TimePoint start, TimePoint end, int batch);
  void done(uint64_t id, const JobRecord& stamps, TimePoint now);
  void drop(uint64_t id, DropCause reason, TimePoint now);
  void drop_stage(std::optional<uint32_t> task, JobStage stage, DropCause reason, TimePoint now);
  void expire(TimePoint now, Duration grace);
  void close_all(DropCause reason, TimePoint now);
  // Refreshes the rolling miss rates and queue lengths in the metrics.
  void refresh_gauges(TimePoint now);

  // Per task: what the summary reports about its finished (met or overdue) jobs.
  struct TaskStats {
    std::vector<double> latency_ms;  // end - release
    double pre_ms = 0, queue_ms = 0, inference_ms = 0, post_ms = 0;  // sums
    uint64_t batch_sum = 0;
    uint64_t finished = 0;
  };
  std::vector<TaskStats> task_stats() const;
  // Per task, over its finished (met or overdue) jobs: the sums of end - release and of
  // end - arrival at this node (the start of pre-processing). Cheap: for periodic reports.
  struct LatencySums {
    double latency_ms = 0, node_latency_ms = 0;
  };
  std::vector<LatencySums> latency_sums() const;
  // Per model and batch size (index b - 1): the batches run and their summed inference
  // time, as measured here (the profile this node really has).
  struct BatchTime {
    double sum_ms = 0;
    uint64_t count = 0;
  };
  std::vector<std::array<BatchTime, kMaxBatch>> batch_times() const;
  // Dropped jobs of all tasks, by cause (index: DropCause).
  std::vector<uint64_t> drops_by_cause() const;

  JobLedger& ledger() { return ledger_; }
  const JobLedger& ledger() const { return ledger_; }

 private:
  void closed(const JobRecord& record);

  const config::NodeConfig& config_;
  const Scenario& scenario_;
  NodeMetrics& metrics_;
  JobLog* log_;
  ResultLog* results_ = nullptr;
  RunContext run_;  // the lines' identity
  JobLedger ledger_;
  mutable std::mutex stats_mu_;
  std::vector<TaskStats> stats_;
  std::vector<LatencySums> sums_;
  std::vector<uint64_t> drops_by_cause_ = std::vector<uint64_t>(kDropCauseCount, 0);
  mutable std::mutex batch_mu_;
  std::vector<TimePoint> last_batch_start_;  // per model: a new start is a new batch
  std::vector<std::array<BatchTime, kMaxBatch>> batch_times_;  // per model
};

}  // namespace coedge::node
