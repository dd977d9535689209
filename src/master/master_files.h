// The master's files, from the core's records (master_core.h): one line of plans.jsonl
// per published plan, one line of windows.jsonl per window, summary.json, and the table
// the driver prints at the end. Pure formatting: no I/O. Outcomes are keyed by the one
// outcome vocabulary (core/job_outcome.h) that the nodes' and the simulator's files use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/scenario.h"
#include "master/master_core.h"

namespace coedge::master {

// {"t", "version", "epoch", "effective_unix_s", "assignments": {task: node ("" unplaced)}}
std::string plan_json_line(const PublishedPlan& plan);
// {"t", "window", "tasks": {task: {finished, missed, miss_rate, mean_latency_ms}},
//  "links": [{a, b, mbps}], "changes": ["T1 a -> b (evicted)", ...],
//  "explanations": [{change, text, explanation}] for the changes with one (unplaceable,
//  evicted, link_changed; explanation: policy::to_json), "waiting": [{task, text,
//  explanation}]: stage 2's word on tasks it could not re-admit, when the reason changed}
std::string window_json_line(const Scenario& scenario, const WindowRecord& window);
// summary.json (indented): scenario, dispatcher, duration_s, window_s, epoch,
// plan_versions, tasks, models, totals (with surplus and accounted), measured_profiles,
// allocation (per node, its tasks), nodes (per node: reports, the plan it runs, stopped)
// why (per task unplaced, missing its epsilon or evicted: status, text, evictions,
// explanation), rejected_samples ({topic: {reason: count}}, the samples the checks refused:
// master/report_checks.h) and rejected_samples_total.
std::string summary_json(const MasterSummary& summary);
// One row of the accounting table; mean_ms < 0 leaves the mean latency out (the "all" row).
struct AccountRow {
  std::string task, model, node;
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0, lost = 0;
  double miss_rate = 0;
  double mean_ms = -1;
};
// The accounting table, a header and one line per row: the master's at the end, and
// `coedge cluster`'s report read back from summary.json, print the same columns.
std::string account_table(const std::vector<AccountRow>& rows);
// Per task and in all: released, met, overdue, dropped, lost, miss and mean latency.
std::string summary_table(const MasterSummary& summary);

}  // namespace coedge::master
