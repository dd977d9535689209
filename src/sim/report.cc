#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace coedge::sim {
namespace {

double percentile_ms(std::vector<int64_t>& sorted_us, double q) {
  if (sorted_us.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted_us.size())));
  return static_cast<double>(sorted_us[std::max<size_t>(rank, 1) - 1]) / 1000.0;
}

Stats make_stats(uint64_t released, uint64_t met, uint64_t overdue, uint64_t dropped,
                 std::vector<int64_t> latencies_us) {
  Stats s{released, met, overdue, dropped, 0, 0, 0, 0, 0};
  if (released) s.miss_rate = static_cast<double>(overdue + dropped) / static_cast<double>(released);
  if (!latencies_us.empty()) {
    std::sort(latencies_us.begin(), latencies_us.end());
    double sum = 0;
    for (int64_t v : latencies_us) sum += static_cast<double>(v);
    s.mean_ms = sum / static_cast<double>(latencies_us.size()) / 1000.0;
    s.p50_ms = percentile_ms(latencies_us, 0.50);
    s.p95_ms = percentile_ms(latencies_us, 0.95);
    s.p99_ms = percentile_ms(latencies_us, 0.99);
  }
  return s;
}

Stats merge(const std::vector<const TaskTally*>& tallies) {
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0;
  std::vector<int64_t> latencies;
  for (const TaskTally* t : tallies) {
    released += t->released;
    met += t->met;
    overdue += t->overdue;
    dropped += t->dropped;
    latencies.insert(latencies.end(), t->latencies_us.begin(), t->latencies_us.end());
  }
  return make_stats(released, met, overdue, dropped, std::move(latencies));
}

std::string fmt(const char* format, auto... args) {
  const int size = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<size_t>(size > 0 ? size : 0), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

std::string node_name(const Scenario& s, NodeIndex k) {
  return k == kNone ? std::string("-") : s.nodes[k].name;
}

// Columns padded to the widest cell; the first column left-aligned, the rest right.
std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const std::string& cell = rows[r][c];
      const std::string pad(width[c] - cell.size(), ' ');
      out += c == 0 ? cell + pad : "  " + pad + cell;
    }
    out += '\n';
    if (r == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      out += std::string(total - 2, '-') + '\n';
    }
  }
  return out;
}

std::vector<std::string> stats_cells(const std::string& name, const Stats& s) {
  return {name,
          std::to_string(s.released),
          std::to_string(s.met),
          std::to_string(s.overdue),
          std::to_string(s.dropped),
          percent(s.miss_rate),
          fmt("%.1f", s.mean_ms),
          fmt("%.1f", s.p50_ms),
          fmt("%.1f", s.p95_ms),
          fmt("%.1f", s.p99_ms)};
}

const std::vector<std::string> kStatsHeader = {"", "released", "met", "overdue", "dropped",
                                               "miss", "mean ms", "p50 ms", "p95 ms", "p99 ms"};

Status write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    return Error{ErrorCode::kIo, "cannot write " + path.string() + ": " + std::strerror(errno)};
  }
  return Ok{};
}

Status make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create folder " + dir + ": " + ec.message()};
  return Ok{};
}

std::string stats_csv_row(const std::string& name, const Stats& s) {
  return fmt("%s,%llu,%llu,%llu,%llu,%.6f,%.3f,%.3f,%.3f,%.3f\n", csv_field(name).c_str(),
             static_cast<unsigned long long>(s.released), static_cast<unsigned long long>(s.met),
             static_cast<unsigned long long>(s.overdue),
             static_cast<unsigned long long>(s.dropped), s.miss_rate, s.mean_ms, s.p50_ms,
             s.p95_ms, s.p99_ms);
}
const char* kStatsCsvHeader =
    "released,met,overdue,dropped,miss_rate,mean_ms,p50_ms,p95_ms,p99_ms\n";

nlohmann::ordered_json stats_json(const Stats& s) {
  return {{"released", s.released}, {"met", s.met},         {"overdue", s.overdue},
          {"dropped", s.dropped},   {"miss_rate", s.miss_rate}, {"mean_ms", s.mean_ms},
          {"p50_ms", s.p50_ms},     {"p95_ms", s.p95_ms},     {"p99_ms", s.p99_ms}};
}

// A stage the job never reached is an empty field.
std::string ms_or_blank(TimePoint t) {
  return t == TimePoint::min() ? std::string() : fmt("%.3f", to_s(t) * 1000.0);
}

}  // namespace

RunSummary summarize(const Scenario& scenario, const SimResult& result, std::string label) {
  RunSummary summary;
  summary.label = std::move(label);
  std::vector<const TaskTally*> all;
  std::map<ModelIndex, std::vector<const TaskTally*>> by_model;
  for (TaskIndex t = 0; t < result.tasks.size(); ++t) {
    const TaskTally& tally = result.tasks[t];
    summary.tasks.push_back(make_stats(tally.released, tally.met, tally.overdue, tally.dropped,
                                       tally.latencies_us));
    all.push_back(&tally);
    by_model[scenario.tasks[t].model].push_back(&tally);
  }
  for (const auto& [model, tallies] : by_model) {
    summary.model_names.push_back(scenario.models[model].name);
    summary.models.push_back(merge(tallies));
  }
  summary.overall = merge(all);
  const double duration_s = to_s(scenario.run.duration);
  // Over the whole simulated span: an overloaded node keeps working off its backlog after
  // the last release, and that work belongs to the run.
  const double span_s = std::max(duration_s, to_s(result.end_time));
  double busy = 0;
  for (Duration d : result.accelerator_busy) busy += to_s(d);
  if (!result.accelerator_busy.empty() && span_s > 0)
    summary.accelerator_utilisation =
        busy / (span_s * static_cast<double>(result.accelerator_busy.size()));
  if (duration_s > 0) summary.jobs_per_second = static_cast<double>(summary.overall.met) / duration_s;
  for (const TimedPlanRecord& r : result.plan_records)
    if (r.at != kEpoch) ++summary.plan_changes;
  return summary;
}

namespace {

// The tasks other than t that `plan` puts on node k: "T1 (yolo), T3 (vgg)".
std::string sharing(const Scenario& s, const policy::Plan& plan, NodeIndex k, TaskIndex t) {
  std::string out;
  for (TaskIndex j = 0; j < plan.node_of_task.size(); ++j) {
    if (j == t || plan.node_of_task[j] != k) continue;
    if (!out.empty()) out += ", ";
    out += s.tasks[j].name + " (" + s.models[s.tasks[j].model].name + ")";
  }
  return out;
}

// The last record of `reason` for task t, or null.
const TimedPlanRecord* last_record(const SimResult& r, TaskIndex t, policy::PlanReason reason, size_t* count) {
  const TimedPlanRecord* last = nullptr;
  *count = 0;
  for (const TimedPlanRecord& rec : r.plan_records)
    if (rec.record.task == t && rec.record.reason == reason) {
      last = &rec;
      ++*count;
    }
  return last;
}

// The estimate for a placed task: the dispatcher's own when it keeps estimates for that
// node, else Eq. 3 for the placement (flagged by `*by_plan`).
policy::NodeEstimate placed_estimate(const Scenario& s, const SimResult& r, TaskIndex t, bool* by_plan) {
  const NodeIndex k = r.final_plan.node_of_task[t];
  if (t < r.explanations.size()) {
    const policy::Explanation& why = r.explanations[t];
    if (why.node == k && !why.candidates.empty() && why.candidates.front().node == k) {
      *by_plan = false;
      return why.candidates.front();
    }
  }
  *by_plan = true;
  return policy::estimate_in_plan(s, r.final_plan, t);
}

std::string history(const Scenario& s, const SimResult& r, TaskIndex t) {
  std::string out;
  size_t evictions = 0, link_changes = 0;
  if (const TimedPlanRecord* e = last_record(r, t, policy::PlanReason::kEvicted, &evictions)) {
    out += fmt("; evicted %zu time%s, last at %.1f s from %s", evictions, evictions == 1 ? "" : "s", to_s(e->at),
               node_name(s, e->record.from).c_str());
    if (e->record.why && e->record.why->eviction) {
      const policy::EvictionCause& c = *e->record.why->eviction;
      if (c.violator != kNone)
        out += " (" + s.tasks[c.violator].name + " missed " + percent(c.miss_rate) + " > epsilon " +
               percent(c.epsilon) + " there)";
    }
  }
  if (const TimedPlanRecord* l = last_record(r, t, policy::PlanReason::kLinkChanged, &link_changes)) {
    out += fmt("; taken off %s at %.1f s by a slower link", node_name(s, l->record.from).c_str(), to_s(l->at));
    if (l->record.why) out += " (" + policy::describe(s, *l->record.why) + ")";
  }
  return out;
}

}  // namespace

std::vector<TaskWhy> explain_tasks(const Scenario& s, const SimResult& r, const RunSummary& summary) {
  std::vector<TaskWhy> out;
  for (TaskIndex t = 0; t < s.tasks.size(); ++t) {
    const TaskSpec& task = s.tasks[t];
    const NodeIndex k = r.final_plan.node_of_task[t];
    const std::string past = history(s, r, t);
    TaskWhy why;
    why.task = t;
    if (k == kNone) {
      why.status = "unplaced";
      why.text = task.name + " unplaced: " +
                 (t < r.explanations.size() ? policy::describe(s, r.explanations[t]) : std::string("no explanation")) +
                 past;
    } else if (summary.tasks[t].released > 0 && summary.tasks[t].miss_rate > task.epsilon) {
      bool by_plan = false;
      const policy::NodeEstimate e = placed_estimate(s, r, t, &by_plan);
      const std::string others = sharing(s, r.final_plan, k, t);
      why.status = "misses_epsilon";
      why.text = task.name + " missed " + percent(summary.tasks[t].miss_rate) + " > epsilon " +
                 percent(task.epsilon) + ", on " + policy::describe_estimate(s, task, e) +
                 (by_plan ? " (Eq. 3 for this placement; the dispatcher keeps no estimate)" : "") +
                 fmt("; node alpha %.2f", e.alpha) + "; " +
                 (others.empty() ? "alone on " + s.nodes[k].name : "shares " + s.nodes[k].name + " with " + others) +
                 (e.verdict == policy::Verdict::kFits
                      ? "; the estimate fits, so the misses come from what Eq. 3 does not see (bursts, "
                        "batches, another model's batch ahead of it)"
                      : "") +
                 past;
    } else if (!past.empty()) {
      why.status = "evicted";
      why.text = task.name + " on " + s.nodes[k].name + " at the end" + past;
    } else {
      continue;
    }
    out.push_back(std::move(why));
  }
  return out;
}

namespace {
// The "why" lines of one run for a table: unplaced tasks first, at most kMaxWhyLines.
std::string why_block(const std::vector<TaskWhy>& whys) {
  std::vector<const TaskWhy*> order;
  for (const TaskWhy& w : whys)
    if (w.status == "unplaced") order.push_back(&w);
  for (const TaskWhy& w : whys)
    if (w.status != "unplaced") order.push_back(&w);
  std::string out;
  for (size_t i = 0; i < order.size() && i < kMaxWhyLines; ++i) out += "  " + order[i]->text + "\n";
  if (order.size() > kMaxWhyLines)
    out += fmt("  ... %zu more: summary.json's \"why\" has every task, `coedge explain DIR TASK` one\n",
               order.size() - kMaxWhyLines);
  return out;
}
}  // namespace

MissRateBound comparison_bound(const Scenario& scenario, const std::vector<SimResult>& results) {
  MissRateBound best = miss_rate_lower_bound(scenario);
  bool first = true;
  for (const SimResult& r : results) {
    std::vector<uint64_t> released;
    for (const TaskTally& t : r.tasks) released.push_back(t.released);
    const MissRateBound b = miss_rate_lower_bound(scenario, released);
    if (first || b.miss_rate < best.miss_rate) best = b;
    first = false;
  }
  return best;
}

std::vector<std::string> allocation_by_node(const Scenario& scenario, const policy::Plan& plan) {
  std::vector<std::string> cells(scenario.nodes.size() + 1);
  for (TaskIndex t = 0; t < plan.node_of_task.size(); ++t) {
    const NodeIndex k = plan.node_of_task[t];
    std::string& cell = cells[k == kNone ? scenario.nodes.size() : k];
    if (!cell.empty()) cell += ",";
    cell += scenario.tasks[t].name;
  }
  return cells;
}

std::string format_run(const Scenario& scenario, const SimResult& result,
                       const RunSummary& summary) {
  std::string out = fmt("Scenario %s: %zu nodes, %zu tasks, %.0f s simulated, dispatcher %s, "
                        "scheduler %s\n\n",
                        scenario.name.c_str(), scenario.nodes.size(), scenario.tasks.size(),
                        to_s(scenario.run.duration), result.dispatcher.c_str(),
                        result.scheduler.c_str());
  std::vector<std::vector<std::string>> rows{kStatsHeader};
  rows[0][0] = "task";
  rows[0].push_back("node");
  for (TaskIndex t = 0; t < summary.tasks.size(); ++t) {
    auto cells = stats_cells(scenario.tasks[t].name, summary.tasks[t]);
    cells.push_back(node_name(scenario, result.final_plan.node_of_task[t]));
    rows.push_back(std::move(cells));
  }
  out += render_table(rows) + "\n";
  rows = {kStatsHeader};
  rows[0][0] = "model";
  for (size_t i = 0; i < summary.models.size(); ++i)
    rows.push_back(stats_cells(summary.model_names[i], summary.models[i]));
  rows.push_back(stats_cells("overall", summary.overall));
  out += render_table(rows) + "\n";

  const auto initial = allocation_by_node(scenario, result.initial_plan);
  const auto final_cells = allocation_by_node(scenario, result.final_plan);
  rows = {{"node", "allocation at start", "allocation at end"}};
  for (NodeIndex k = 0; k < scenario.nodes.size(); ++k)
    rows.push_back({scenario.nodes[k].name, initial[k], final_cells[k]});
  if (!initial.back().empty() || !final_cells.back().empty())
    rows.push_back({"(unplaced)", initial.back(), final_cells.back()});
  out += render_table(rows);
  out += fmt("\naccelerator utilisation %.1f%%, %zu stage-2 plan changes, %llu events\n",
             summary.accelerator_utilisation * 100.0, summary.plan_changes,
             static_cast<unsigned long long>(result.events));
  const auto whys = explain_tasks(scenario, result, summary);
  if (!whys.empty()) out += "\nWhy:\n" + why_block(whys);
  return out;
}

std::string format_comparison(const Scenario& scenario, const std::vector<SimResult>& results,
                              const std::vector<RunSummary>& summaries,
                              const MissRateBound& bound) {
  std::string out = fmt("Scenario %s: %zu nodes, %zu tasks, %.0f s simulated, seed %llu\n\n",
                        scenario.name.c_str(), scenario.nodes.size(), scenario.tasks.size(),
                        to_s(scenario.run.duration),
                        static_cast<unsigned long long>(scenario.run.seed));
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"miss rate"};
  for (const std::string& m : summaries.front().model_names) header.push_back(m);
  for (const char* h : {"overall", "above bound", "p99 ms", "accel util", "met/s", "plan changes"})
    header.push_back(h);
  rows.push_back(header);
  for (const RunSummary& s : summaries) {
    std::vector<std::string> row{s.label};
    for (const Stats& m : s.models) row.push_back(percent(m.miss_rate));
    row.push_back(percent(s.overall.miss_rate));
    // The bound is below every run (comparison_bound), but the two rates are sums of
    // different terms: a difference within floating-point noise would print as "-0.00 pp".
    double above = s.overall.miss_rate - bound.miss_rate;
    if (above < 0 && above > -1e-9) above = 0;
    row.push_back(fmt("%+.2f pp", above * 100.0));
    row.push_back(fmt("%.1f", s.overall.p99_ms));
    row.push_back(fmt("%.1f%%", s.accelerator_utilisation * 100.0));
    row.push_back(fmt("%.2f", s.jobs_per_second));
    row.push_back(std::to_string(s.plan_changes));
    rows.push_back(std::move(row));
  }
  out += render_table(rows);
  out += fmt("Lower bound on the miss rate (pooled capacity, perfect batching): %s "
             "(no node in time: %s, accelerators: %s, CPU: %s)\n\n",
             percent(bound.miss_rate).c_str(), percent(bound.unreachable).c_str(),
             percent(bound.accelerator).c_str(), percent(bound.cpu).c_str());
  // Why: the first policy in full, the others' unplaced tasks once per distinct line.
  std::string why_text;
  std::vector<std::pair<std::string, std::vector<std::string>>> shared;  // line, labels
  for (size_t i = 0; i < results.size() && i < summaries.size(); ++i) {
    const auto whys = explain_tasks(scenario, results[i], summaries[i]);
    if (i == 0) {
      why_text = why_block(whys);
      continue;
    }
    for (const TaskWhy& w : whys) {
      if (w.status != "unplaced") continue;
      auto it = std::find_if(shared.begin(), shared.end(), [&](const auto& p) { return p.first == w.text; });
      if (it == shared.end()) shared.push_back({w.text, {summaries[i].label}});
      else it->second.push_back(summaries[i].label);
    }
  }
  if (!why_text.empty()) out += "Why, for " + summaries.front().label + ":\n" + why_text + "\n";
  if (!shared.empty()) {
    out += "Unplaced tasks of the other policies:\n";
    size_t shown = 0;
    for (const auto& [line, labels] : shared) {
      if (shown++ == kMaxWhyLines) {
        out += fmt("  ... %zu more (summary.json's \"why\" in each policy's folder)\n", shared.size() - kMaxWhyLines);
        break;
      }
      std::string names;
      for (const std::string& l : labels) names += (names.empty() ? "" : ", ") + l;
      out += "  [" + names + "] " + line + "\n";
    }
    out += "\n";
  }
  if (summaries.size() > kMaxAllocationColumns)
    return out + "Allocations: allocation.csv in each policy's result folder.\n";

  rows = {{"node"}};
  for (const RunSummary& s : summaries) rows[0].push_back(s.label);
  std::vector<std::vector<std::string>> cells;
  for (const SimResult& r : results) cells.push_back(allocation_by_node(scenario, r.final_plan));
  for (NodeIndex k = 0; k <= scenario.nodes.size(); ++k) {
    const bool unplaced_row = k == scenario.nodes.size();
    std::vector<std::string> row{unplaced_row ? "(unplaced)" : scenario.nodes[k].name};
    bool any = false;
    for (const auto& c : cells) {
      row.push_back(c[k]);
      any = any || !c[k].empty();
    }
    if (!unplaced_row || any) rows.push_back(std::move(row));
  }
  out += "Allocation per node at the end of the run:\n" + render_table(rows);
  return out;
}

std::string format_seed_sweep(const Scenario& scenario, uint64_t first_seed,
                              const std::vector<std::vector<RunSummary>>& runs) {
  const size_t seeds = runs.front().size();
  std::string out = fmt("Scenario %s: %zu nodes, %zu tasks, %.0f s simulated, seeds %llu..%llu\n\n",
                        scenario.name.c_str(), scenario.nodes.size(), scenario.tasks.size(),
                        to_s(scenario.run.duration), static_cast<unsigned long long>(first_seed),
                        static_cast<unsigned long long>(first_seed + seeds - 1));
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"mean miss rate"};
  for (const std::string& m : runs.front().front().model_names) header.push_back(m);
  for (const char* h : {"overall", "min", "max"}) header.push_back(h);
  rows.push_back(header);
  for (const auto& policy : runs) {
    std::vector<std::string> row{policy.front().label};
    for (size_t m = 0; m < policy.front().models.size(); ++m) {
      double sum = 0;
      for (const RunSummary& r : policy) sum += r.models[m].miss_rate;
      row.push_back(percent(sum / static_cast<double>(seeds)));
    }
    double sum = 0, lo = 1, hi = 0;
    for (const RunSummary& r : policy) {
      sum += r.overall.miss_rate;
      lo = std::min(lo, r.overall.miss_rate);
      hi = std::max(hi, r.overall.miss_rate);
    }
    row.push_back(percent(sum / static_cast<double>(seeds)));
    row.push_back(percent(lo));
    row.push_back(percent(hi));
    rows.push_back(std::move(row));
  }
  return out + render_table(rows);
}

Status write_seed_sweep_file(const std::string& dir, uint64_t first_seed,
                             const std::vector<std::vector<RunSummary>>& runs) {
  if (Status st = make_dir(dir); !st.ok()) return st;
  std::string text = std::string("policy,seed,model,") + kStatsCsvHeader;
  for (const auto& policy : runs) {
    for (size_t i = 0; i < policy.size(); ++i) {
      const RunSummary& r = policy[i];
      const std::string prefix = csv_field(r.label) + "," + std::to_string(first_seed + i) + ",";
      for (size_t m = 0; m < r.models.size(); ++m)
        text += prefix + stats_csv_row(r.model_names[m], r.models[m]);
      text += prefix + stats_csv_row("overall", r.overall);
    }
  }
  return write_text(std::filesystem::path(dir) / "seeds.csv", text);
}

std::string run_summary_json(const Scenario& scenario, const SimResult& result, const RunSummary& summary) {
  nlohmann::ordered_json json;
  json["scenario"] = scenario.name;
  json["dispatcher"] = result.dispatcher;
  json["scheduler"] = result.scheduler;
  json["seed"] = scenario.run.seed;
  json["duration_s"] = to_s(scenario.run.duration);
  json["overall"] = stats_json(summary.overall);
  for (size_t i = 0; i < summary.models.size(); ++i)
    json["models"][summary.model_names[i]] = stats_json(summary.models[i]);
  for (TaskIndex t = 0; t < summary.tasks.size(); ++t) {
    auto entry = stats_json(summary.tasks[t]);
    entry["node"] = node_name(scenario, result.final_plan.node_of_task[t]);
    json["tasks"][scenario.tasks[t].name] = entry;
  }
  const auto allocation = allocation_by_node(scenario, result.final_plan);
  for (NodeIndex k = 0; k < scenario.nodes.size(); ++k)
    json["allocation"][scenario.nodes[k].name] = allocation[k];
  json["unplaced"] = allocation.back();
  json["accelerator_utilisation"] = summary.accelerator_utilisation;
  json["met_per_second"] = summary.jobs_per_second;
  json["plan_changes"] = summary.plan_changes;
  json["why"] = nlohmann::ordered_json::object();
  for (const TaskWhy& w : explain_tasks(scenario, result, summary)) {
    const TaskSpec& task = scenario.tasks[w.task];
    nlohmann::ordered_json entry;
    entry["status"] = w.status;
    entry["text"] = w.text;
    entry["miss_rate"] = summary.tasks[w.task].miss_rate;
    entry["epsilon"] = task.epsilon;
    const NodeIndex k = result.final_plan.node_of_task[w.task];
    entry["node"] = k == kNone ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(scenario.nodes[k].name);
    if (w.task < result.explanations.size())
      entry["explanation"] = nlohmann::ordered_json::parse(policy::to_json(scenario, result.explanations[w.task]));
    if (k != kNone) {
      bool by_plan = false;
      policy::Explanation e;
      e.task = w.task;
      e.node = k;
      e.candidates.push_back(placed_estimate(scenario, result, w.task, &by_plan));
      e.candidates_total = 1;
      entry["estimate"] = nlohmann::ordered_json::parse(policy::to_json(scenario, e))["candidates"][0];
      entry["estimate_by"] = by_plan ? "eq3_for_placement" : "dispatcher";
      entry["shares_node_with"] = nlohmann::ordered_json::array();
      for (TaskIndex j = 0; j < result.final_plan.node_of_task.size(); ++j)
        if (j != w.task && result.final_plan.node_of_task[j] == k)
          entry["shares_node_with"].push_back(
              {{"task", scenario.tasks[j].name}, {"model", scenario.models[scenario.tasks[j].model].name}});
    }
    size_t evictions = 0;
    if (const TimedPlanRecord* e = last_record(result, w.task, policy::PlanReason::kEvicted, &evictions)) {
      entry["evictions"] = evictions;
      entry["last_eviction"] = {{"time_s", to_s(e->at)}, {"from", node_name(scenario, e->record.from)}};
      if (e->record.why)
        entry["last_eviction"]["explanation"] = nlohmann::ordered_json::parse(policy::to_json(scenario, *e->record.why));
    }
    json["why"][task.name] = std::move(entry);
  }
  json["events"] = result.events;
  json["end_time_s"] = to_s(result.end_time);
  return json.dump(2) + "\n";
}

Status write_run_files(const std::string& dir, const Scenario& scenario,
                       const SimResult& result, const RunSummary& summary) {
  if (Status st = make_dir(dir); !st.ok()) return st;
  const std::filesystem::path base(dir);

  std::string text = std::string("task,model,node,") + kStatsCsvHeader;
  for (TaskIndex t = 0; t < summary.tasks.size(); ++t) {
    const TaskSpec& task = scenario.tasks[t];
    text += csv_field(task.name) + "," + csv_field(scenario.models[task.model].name) + "," +
            csv_field(node_name(scenario, result.final_plan.node_of_task[t])) + "," +
            stats_csv_row("", summary.tasks[t]).substr(1);
  }
  if (Status st = write_text(base / "tasks.csv", text); !st.ok()) return st;

  text = std::string("model,") + kStatsCsvHeader;
  for (size_t i = 0; i < summary.models.size(); ++i)
    text += stats_csv_row(summary.model_names[i], summary.models[i]);
  text += stats_csv_row("overall", summary.overall);
  if (Status st = write_text(base / "models.csv", text); !st.ok()) return st;

  text = "task,source,node_at_start,node_at_end\n";
  for (TaskIndex t = 0; t < scenario.tasks.size(); ++t)
    text += csv_field(scenario.tasks[t].name) + "," + csv_field(scenario.nodes[scenario.tasks[t].source].name) +
            "," + csv_field(node_name(scenario, result.initial_plan.node_of_task[t])) + "," +
            csv_field(node_name(scenario, result.final_plan.node_of_task[t])) + "\n";
  if (Status st = write_text(base / "allocation.csv", text); !st.ok()) return st;

  text = "window_end_s,task,node,finished,missed,miss_rate,mean_latency_ms\n";
  for (const WindowRow& w : result.windows)
    text += fmt("%.3f,%s,%s,%llu,%llu,%.6f,%.3f\n", to_s(w.end),
                csv_field(scenario.tasks[w.task].name).c_str(), csv_field(node_name(scenario, w.node)).c_str(),
                static_cast<unsigned long long>(w.stats.finished),
                static_cast<unsigned long long>(w.stats.missed), w.stats.miss_rate(),
                to_ms(w.stats.mean_latency));
  if (Status st = write_text(base / "windows.csv", text); !st.ok()) return st;

  text = "time_s,task,from,to,reason,why\n";
  {
    // Plan changes and waiting notes merged by time; at one instant the changes first.
    std::vector<std::pair<const TimedPlanRecord*, bool>> rows;  // (record, is a note)
    size_t i = 0, j = 0;
    while (i < result.plan_records.size() || j < result.waiting_notes.size()) {
      if (j == result.waiting_notes.size() ||
          (i < result.plan_records.size() && result.plan_records[i].at <= result.waiting_notes[j].at))
        rows.push_back({&result.plan_records[i++], false});
      else
        rows.push_back({&result.waiting_notes[j++], true});
    }
    for (const auto& [r, is_note] : rows)
      text += fmt("%.3f,%s,%s,%s,%s,", to_s(r->at), csv_field(scenario.tasks[r->record.task].name).c_str(),
                  csv_field(node_name(scenario, r->record.from)).c_str(),
                  csv_field(node_name(scenario, r->record.to)).c_str(),
                  is_note ? "waiting" : std::string(to_string(r->record.reason)).c_str()) +
              csv_field(r->record.why ? policy::describe(scenario, *r->record.why) : std::string()) + "\n";
  }
  if (Status st = write_text(base / "plan_changes.csv", text); !st.ok()) return st;

  if (!result.jobs.empty()) {
    std::ostringstream jobs;
    jobs << "id,task,node,batch,outcome,drop_reason,release_ms,deadline_ms,arrive_ms,"
            "pre_start_ms,pre_end_ms,infer_start_ms,infer_end_ms,post_start_ms,end_ms\n";
    for (const JobRecord& j : result.jobs)
      jobs << fmt("%llu,%s,%s,%u,%s,%s,", static_cast<unsigned long long>(j.id),
                  csv_field(scenario.tasks[j.task].name).c_str(), csv_field(node_name(scenario, j.node)).c_str(),
                  static_cast<unsigned>(j.batch), std::string(to_string(j.outcome)).c_str(),
                  j.drop == DropCause::kNone ? "" : std::string(to_string(j.drop)).c_str())
           << ms_or_blank(j.release) << ',' << ms_or_blank(j.deadline) << ','
           << ms_or_blank(j.arrive) << ',' << ms_or_blank(j.pre_start) << ','
           << ms_or_blank(j.pre_end) << ',' << ms_or_blank(j.infer_start) << ','
           << ms_or_blank(j.infer_end) << ',' << ms_or_blank(j.post_start) << ','
           << ms_or_blank(j.end) << '\n';
    if (Status st = write_text(base / "jobs.csv", jobs.str()); !st.ok()) return st;
  }

  return write_text(base / "summary.json", run_summary_json(scenario, result, summary));
}

std::string comparison_json(const Scenario& scenario, const std::vector<RunSummary>& summaries,
                            const MissRateBound& bound) {
  nlohmann::ordered_json json;
  json["scenario"] = scenario.name;
  json["seed"] = scenario.run.seed;
  json["lower_bound"] = {{"miss_rate", bound.miss_rate}, {"unreachable", bound.unreachable},
                         {"accelerator", bound.accelerator}, {"cpu", bound.cpu}};
  for (const RunSummary& s : summaries) {
    nlohmann::ordered_json entry;
    entry["overall"] = stats_json(s.overall);
    for (size_t i = 0; i < s.models.size(); ++i)
      entry["models"][s.model_names[i]] = stats_json(s.models[i]);
    entry["accelerator_utilisation"] = s.accelerator_utilisation;
    entry["met_per_second"] = s.jobs_per_second;
    entry["plan_changes"] = s.plan_changes;
    json["policies"][s.label] = entry;
  }
  return json.dump(2) + "\n";
}

Status write_comparison_files(const std::string& dir, const Scenario& scenario,
                              const std::vector<RunSummary>& summaries,
                              const MissRateBound& bound) {
  if (Status st = make_dir(dir); !st.ok()) return st;
  std::string text = std::string("policy,model,") + kStatsCsvHeader;
  for (const RunSummary& s : summaries) {
    for (size_t i = 0; i < s.models.size(); ++i)
      text += csv_field(s.label) + "," + stats_csv_row(s.model_names[i], s.models[i]);
    text += csv_field(s.label) + "," + stats_csv_row("overall", s.overall);
  }
  if (Status st = write_text(std::filesystem::path(dir) / "compare.csv", text); !st.ok()) return st;
  return write_text(std::filesystem::path(dir) / "compare.json", comparison_json(scenario, summaries, bound));
}

std::string csv_field(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace coedge::sim
