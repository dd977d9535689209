// Summaries of simulation results, and their renderings: a plain terminal table, CSV
// files and a JSON summary. Miss rate = (overdue + dropped) / released. Latency
// statistics are over completed jobs (met or overdue): a dropped job has no end-to-end
// latency, and it is already counted as a miss. Percentiles are nearest-rank.
// Output is deterministic: same result, same bytes.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"
#include "sim/lower_bound.h"
#include "sim/simulator.h"

namespace coedge::sim {

struct Stats {
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0;
  double miss_rate = 0;  // 0 when nothing was released
  double mean_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0;
};

struct RunSummary {
  std::string label;  // e.g. "CoEdge" or "coedge+edf"
  std::vector<Stats> tasks;
  std::vector<std::string> model_names;  // models used by some task, in model order
  std::vector<Stats> models;             // parallel to model_names
  Stats overall;
  double accelerator_utilisation = 0;  // mean over nodes of busy time / simulated span
  double jobs_per_second = 0;          // jobs that met their deadline, per simulated second
  size_t plan_changes = 0;             // stage-2 records (evictions, moves, re-admissions)
};

RunSummary summarize(const Scenario& scenario, const SimResult& result, std::string label);

// "Y1, V1" per node, in task order; unplaced tasks under "(unplaced)".
std::vector<std::string> allocation_by_node(const Scenario& scenario, const policy::Plan& plan);

// Why a task did not do well: every task that ended unplaced, was evicted or taken off a
// node during the run, or missed more than its epsilon, in task order. `text` is one line
// naming the task first: for an unplaced task the dispatcher's explanation (its best
// nodes' estimates term by term, or the link that cannot carry it); for a placed task
// missing epsilon its node, the estimate against the deadline (the dispatcher's, or Eq. 3
// for the placement when the dispatcher keeps none), the node's alpha and the tasks and
// models that share the node; the last eviction or link change, when there was one.
struct TaskWhy {
  TaskIndex task = kNone;
  std::string status;  // "unplaced", "misses_epsilon" or "evicted" (placed, within epsilon)
  std::string text;
};
std::vector<TaskWhy> explain_tasks(const Scenario& scenario, const SimResult& result,
                                   const RunSummary& summary);
// The tables print at most this many "why" lines per policy (unplaced first), and say
// how many more summary.json holds: a city of a thousand nodes has hundreds.
inline constexpr size_t kMaxWhyLines = 20;

std::string format_run(const Scenario& scenario, const SimResult& result,
                       const RunSummary& summary);
// One row per policy, with its distance above the capacity lower bound; the allocation
// per node too when there are at most kMaxAllocationColumns policies.
// Below the table, the "why" lines (explain_tasks) of the first policy (CoEdge), and for
// the others their unplaced tasks, the same line once for all the policies that share it.
inline constexpr size_t kMaxAllocationColumns = 6;
std::string format_comparison(const Scenario& scenario, const std::vector<SimResult>& results,
                              const std::vector<RunSummary>& summaries,
                              const MissRateBound& bound);

// The lower bound for a comparison: the smallest of the bounds on each run's released jobs
// (lower_bound.h), so that it is below every policy's achieved miss rate.
MissRateBound comparison_bound(const Scenario& scenario, const std::vector<SimResult>& results);

// Writes tasks.csv, models.csv, allocation.csv, windows.csv, plan_changes.csv,
// summary.json and, when jobs were recorded, jobs.csv into `dir` (created if needed).
// plan_changes.csv has a `why` column (the explanation's text, for unplaceable, evicted and
// link_changed rows) and, besides the plan changes, rows with reason `waiting`: stage 2's
// word on a task it could not re-admit, written when the reason changed. summary.json has
// a "why" object: per task of explain_tasks, its status, text, and the structured
// explanation (policy::to_json), with the miss rate, epsilon and node sharing.
Status write_run_files(const std::string& dir, const Scenario& scenario,
                       const SimResult& result, const RunSummary& summary);
// Mean, min and max miss rates per policy over seeds. runs[policy][i] ran on seed
// first_seed + i; every policy ran on the same seeds.
std::string format_seed_sweep(const Scenario& scenario, uint64_t first_seed,
                              const std::vector<std::vector<RunSummary>>& runs);
// seeds.csv: one row per policy, seed and model type (and "overall").
Status write_seed_sweep_file(const std::string& dir, uint64_t first_seed,
                             const std::vector<std::vector<RunSummary>>& runs);

// The documents of summary.json and compare.json, which `coedge sim --json` prints too.
std::string run_summary_json(const Scenario& scenario, const SimResult& result, const RunSummary& summary);
std::string comparison_json(const Scenario& scenario, const std::vector<RunSummary>& summaries,
                            const MissRateBound& bound);

// compare.csv and compare.json: one row per policy pair and model type.
Status write_comparison_files(const std::string& dir, const Scenario& scenario,
                              const std::vector<RunSummary>& summaries,
                              const MissRateBound& bound);

// A CSV field as RFC 4180 writes it: quoted when it holds a comma, quote or line break
// (policy labels such as "coedge:batch-aware,useful-evictions+edf" do).
std::string csv_field(const std::string& field);

}  // namespace coedge::sim
