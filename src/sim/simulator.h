// The discrete-event cluster simulator. Single-threaded and deterministic: the same
// scenario, options and seed give the same result, bit for bit. It drives the very policy
// objects the runtime drives (src/policy), with simulated time.
//
// What it models, per job of a periodic task:
//   release on the source node (period, seeded phase, release jitter)
//   -> transfer of input_bytes to the executing node (one transfer at a time per directed
//      link, first come first served, size / bandwidth + latency; none on the source)
//   -> pre-processing on one of the node's CPU cores (FIFO when all are busy)
//   -> the node's local scheduler, which batches jobs onto the single accelerator
//   -> post-processing on a CPU core -> end: met when end <= deadline, else overdue.
// A job the scheduler drops, or whose task no node hosts, ends dropped. Every window the
// nodes report to the dispatcher, whose new plan applies to jobs released afterwards (jobs
// in flight finish where they are). After `duration` no job is released and the
// simulation runs until every job has ended, so each released job is counted exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/job_outcome.h"
#include "core/result.h"
#include "core/scenario.h"
#include "policy/dispatcher.h"
#include "policy/local_scheduler.h"

namespace coedge::sim {

struct SimOptions {
  policy::PolicySpec policy;  // the dispatcher and every node's local scheduler
  bool record_jobs = false;  // keep a JobRecord per job (memory grows with the run)
  // Called with the fraction of simulated time done, at every window and at the end.
  std::function<void(double)> progress;
};

// The life of one job. Stages a job never reached hold TimePoint::min().
struct JobRecord {
  uint64_t id = 0;
  TaskIndex task = kNone;
  NodeIndex node = kNone;  // where it executed (kNone if never placed)
  uint16_t batch = 0;      // size of the batch it ran in
  JobOutcome outcome = JobOutcome::kOpen;
  DropCause drop = DropCause::kNone;
  TimePoint release, deadline, arrive, pre_start, pre_end, infer_start, infer_end, post_start,
      end;
};

struct TaskTally {
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0;
  std::vector<int64_t> latencies_us;  // release to end of completed (met or overdue) jobs
};

struct WindowRow {
  TimePoint end;
  TaskIndex task = kNone;
  NodeIndex node = kNone;  // where the plan had the task during the window
  policy::TaskWindow stats;
};

struct TimedPlanRecord {
  TimePoint at;
  policy::PlanRecord record;
};

struct SimResult {
  std::string dispatcher, scheduler;  // the specs' canonical texts
  policy::Plan initial_plan, final_plan;
  std::vector<TimedPlanRecord> plan_records;
  // Why tasks still waited after stage 1 and each window, when that changed
  // (Dispatcher::take_waiting_notes): kUnplaceable records with `why`, not plan changes.
  std::vector<TimedPlanRecord> waiting_notes;
  // Per task, the dispatcher's explain() at the end of the run (policy/explanation.h).
  std::vector<policy::Explanation> explanations;
  std::vector<TaskTally> tasks;
  std::vector<Duration> accelerator_busy;  // per node
  std::vector<WindowRow> windows;
  std::vector<JobRecord> jobs;  // only with SimOptions::record_jobs
  TimePoint end_time;           // when the last job ended
  uint64_t events = 0;
  // The most events ever queued at once: what the event queue cost in memory. It grows
  // with the tasks and jobs in flight, not with the run's length or its number of windows.
  uint64_t peak_pending_events = 0;
  uint64_t jobs_released = 0;
};

// Cannot fail: the specs were checked when parsed.
SimResult simulate(const Scenario& scenario, const SimOptions& options);

}  // namespace coedge::sim
