#include "master/master_files.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/job_outcome.h"

namespace coedge::master {
namespace {

// Released, met, overdue, dropped, lost and the miss rate of an account.
nlohmann::json outcome_counts(const TaskAccount& a) {
  nlohmann::json j{{"released", a.released}, {"miss_rate", a.miss_rate()}};
  j[std::string(to_string(JobOutcome::kMet))] = a.met;
  j[std::string(to_string(JobOutcome::kOverdue))] = a.overdue;
  j[std::string(to_string(JobOutcome::kDropped))] = a.dropped();
  j[std::string(to_string(DropCause::kLost))] = a.lost;
  return j;
}

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

std::string plan_json_line(const PublishedPlan& p) {
  nlohmann::json line{{"t", p.t},
                      {"version", p.plan.version},
                      {"epoch", p.plan.epoch},
                      {"effective_unix_s", static_cast<double>(p.plan.effective_ns) / 1e9},
                      {"assignments", nlohmann::json::object()}};
  for (const net::Assignment& a : p.plan.assignments) line["assignments"][a.task] = a.node;
  return line.dump();
}

std::string window_json_line(const Scenario& scenario, const WindowRecord& w) {
  nlohmann::json line{{"t", w.t}, {"window", w.window}, {"tasks", nlohmann::json::object()},
                      {"links", nlohmann::json::array()}, {"changes", nlohmann::json::array()}};
  for (TaskIndex task = 0; task < w.report.tasks.size(); ++task) {
    const policy::TaskWindow& t = w.report.tasks[task];
    line["tasks"][scenario.tasks[task].name] = {{"finished", t.finished}, {"missed", t.missed},
                                                {"miss_rate", t.miss_rate()},
                                                {"mean_latency_ms", to_ms(t.mean_latency)}};
  }
  for (const policy::MeasuredLink& l : w.report.links)
    line["links"].push_back({{"a", scenario.nodes[l.a].name}, {"b", scenario.nodes[l.b].name}, {"mbps", l.mbps}});
  for (const policy::PlanRecord& r : w.changes) line["changes"].push_back(describe(scenario, r));
  // The explanations of the changes that have one, and stage 2's waiting notes.
  line["explanations"] = nlohmann::json::array();
  for (const policy::PlanRecord& r : w.changes)
    if (r.why)
      line["explanations"].push_back({{"change", describe(scenario, r)},
                                      {"text", describe_with_why(scenario, r)},
                                      {"explanation", nlohmann::json::parse(policy::to_json(scenario, *r.why))}});
  line["waiting"] = nlohmann::json::array();
  for (const policy::PlanRecord& r : w.waiting)
    if (r.why)
      line["waiting"].push_back({{"task", scenario.tasks[r.task].name},
                                 {"text", scenario.tasks[r.task].name + " still waits: " + policy::describe(scenario, *r.why)},
                                 {"explanation", nlohmann::json::parse(policy::to_json(scenario, *r.why))}});
  return line.dump();
}

namespace {
// A start-up time for summary.json, to 0.1 s; null when it did not happen.
nlohmann::json seconds_or_null(double s) {
  return s < 0 ? nlohmann::json(nullptr) : nlohmann::json(std::round(s * 10) / 10);
}
}  // namespace

std::string summary_json(const MasterSummary& s) {
  nlohmann::json j;
  j["scenario"] = s.scenario;
  j["dispatcher"] = s.dispatcher;
  j["duration_s"] = s.duration_s;
  j["window_s"] = s.window_s;
  j["epoch"] = s.epoch;
  j["plan_versions"] = s.plan_versions;
  j["tasks"] = nlohmann::json::array();
  for (const TaskSummary& t : s.tasks) {
    nlohmann::json entry = outcome_counts(t.account);
    if (!t.topic.empty()) entry["topic"] = t.topic;
    entry.update({{"task", t.task}, {"model", t.model}, {"source", t.source}, {"node", t.node},
                  {"accepted", t.account.accepted}, {"mean_latency_ms", t.mean_latency_ms}});
    j["tasks"].push_back(std::move(entry));
  }
  j["models"] = nlohmann::json::object();
  for (const auto& [model, account] : s.models) j["models"][model] = outcome_counts(account);
  j["totals"] = outcome_counts(s.totals);
  j["totals"].update({{"surplus", s.totals.surplus}, {"accounted", s.accounted()}});
  j["measured_profiles"] = nlohmann::json::object();
  for (const auto& [model, p] : s.measured_profiles)
    j["measured_profiles"][model] = {{"exe_ms", p.exe_ms}, {"batches", p.batches}};
  j["allocation"] = nlohmann::json::object();
  j["nodes"] = nlohmann::json::object();
  for (const NodeSummary& n : s.nodes) {
    j["allocation"][n.node] = n.tasks;
    j["nodes"][n.node] = {{"reports", n.reports}, {"plan_epoch", n.plan_epoch}, {"plan_version", n.plan_version},
                          {"stopped", n.stopped}, {"final_report", n.final_report}, {"up_s", seconds_or_null(n.up_s)},
                          {"first_met_s", seconds_or_null(n.first_met_s)}};
  }
  j["why"] = nlohmann::json::object();
  for (const TaskWhy& w : s.why) {
    nlohmann::json entry{{"status", w.status}, {"text", w.text}, {"evictions", w.evictions}};
    if (!w.explanation_json.empty()) entry["explanation"] = nlohmann::json::parse(w.explanation_json);
    j["why"][w.task] = std::move(entry);
  }
  // Samples refused by the checks (report_checks.h): {topic: {reason: count}}, and their sum.
  j["rejected_samples"] = nlohmann::json::object();
  uint64_t rejected = 0;
  for (const RejectedSamples& r : s.rejected_samples) {
    j["rejected_samples"][r.topic][r.reason] = r.count;
    rejected += r.count;
  }
  j["rejected_samples_total"] = rejected;
  // Seconds since the master started; null: did not happen.
  j["startup"] = {{"first_plan_s", seconds_or_null(s.first_plan_s)},
                  {"all_first_met_s", seconds_or_null(s.all_first_met_s())}};
  return j.dump(2);
}

std::string account_table(const std::vector<AccountRow>& rows) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-10s %-14s %-6s %8s %8s %8s %8s %6s %8s %9s\n", "task", "model", "node",
                "released", "met", "overdue", "dropped", "lost", "miss", "mean ms");
  out += line;
  for (const AccountRow& r : rows) {
    std::snprintf(line, sizeof line, "%-10s %-14s %-6s %8llu %8llu %8llu %8llu %6llu %7.2f%%", r.task.c_str(),
                  r.model.c_str(), r.node.c_str(), ull(r.released), ull(r.met), ull(r.overdue), ull(r.dropped),
                  ull(r.lost), 100 * r.miss_rate);
    out += line;
    if (r.mean_ms >= 0) {
      std::snprintf(line, sizeof line, " %9.1f", r.mean_ms);
      out += line;
    }
    out += "\n";
  }
  return out;
}

std::string summary_table(const MasterSummary& s) {
  auto row = [](std::string task, std::string model, std::string node, const TaskAccount& a, double mean_ms) {
    return AccountRow{std::move(task), std::move(model), std::move(node), a.released, a.met, a.overdue,
                      a.dropped(), a.lost, a.miss_rate(), mean_ms};
  };
  std::vector<AccountRow> rows;
  for (const TaskSummary& t : s.tasks) rows.push_back(row(t.task, t.model, t.node, t.account, t.mean_latency_ms));
  rows.push_back(row("all", "", "", s.totals, -1));
  std::string table = account_table(rows);
  // The rows above count what the cameras released; jobs the nodes closed beyond that are
  // not in them, and would read as a clean run: say so under the table.
  // A driver's task has no camera count: one that took no frame at all reads as a clean
  // run of nothing. Say why that may be.
  for (const TaskSummary& t : s.tasks) {
    if (t.topic.empty() || t.account.released > 0 || t.node == "-") continue;
    table += "task " + t.task + ": no frame was taken from its driver's topic " + t.topic +
             " (is the driver publishing there, on this DDS domain? a best-effort (SensorDataQoS) driver needs "
             "`coedge node --best-effort-frames`; a CompressedImage topic's name ends in /compressed)\n";
  }
  for (const TaskSummary& t : s.tasks) {
    if (t.account.surplus == 0) continue;
    table += "task " + t.task + ": the nodes closed " + std::to_string(t.account.surplus) +
             " jobs more than its camera reported releasing (frames from a camera driver? name its "
             "topic in the task's `topic:` field, docs/CLUSTER.md); they are not in the rows above\n";
  }
  // Refused samples changed nothing above; a count says someone sent them.
  if (!s.rejected_samples.empty()) {
    table += "samples refused:";
    for (const RejectedSamples& r : s.rejected_samples)
      table += " " + r.topic + "/" + r.reason + " " + std::to_string(r.count);
    table += " (see the log)\n";
  }
  return table;
}

}  // namespace coedge::master
