#include "master/master_service.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/job_outcome.h"
#include "master/cluster_state.h"
#include "policy/dispatcher.h"

namespace coedge::master {
namespace {

// Released, met, overdue, dropped, lost and the miss rate of an account, keyed by the one
// outcome vocabulary (core/job_outcome.h) that the node's and the simulator's files use.
nlohmann::json outcome_counts(const TaskAccount& a) {
  nlohmann::json j{{"released", a.released}, {"miss_rate", a.miss_rate()}};
  j[std::string(to_string(JobOutcome::kMet))] = a.met;
  j[std::string(to_string(JobOutcome::kOverdue))] = a.overdue;
  j[std::string(to_string(JobOutcome::kDropped))] = a.dropped();
  j[std::string(to_string(DropCause::kLost))] = a.lost;
  return j;
}

void log(const std::string& text) { std::fprintf(stderr, "[master] %s\n", text.c_str()); }

struct Publisher {
  const Scenario& scenario;
  net::PlanWriter& writer;
  Duration lead;
  uint64_t version = 0;
  std::vector<NodeIndex> current;
  std::ofstream* plans_log = nullptr;

  void publish(const policy::Plan& plan, double t) {
    if (version > 0 && plan.node_of_task == current) return;
    current = plan.node_of_task;
    net::Plan msg;
    msg.version = ++version;
    msg.effective_ns = realtime_ns() + lead.count() * 1000;
    nlohmann::json line{{"t", t}, {"version", msg.version}, {"effective_unix_s", static_cast<double>(msg.effective_ns) / 1e9},
                        {"assignments", nlohmann::json::object()}};
    for (TaskIndex task = 0; task < plan.node_of_task.size(); ++task) {
      const NodeIndex k = plan.node_of_task[task];
      const std::string node = k == kNone ? "" : scenario.nodes[k].name;
      msg.assignments.push_back({scenario.tasks[task].name, node});
      line["assignments"][scenario.tasks[task].name] = node;
    }
    if (Status st = writer.write(msg); !st.ok()) log("plan not published: " + st.error().message);
    if (plans_log) *plans_log << line.dump() << "\n" << std::flush;
    std::string by_node;
    for (NodeIndex k = 0; k < scenario.nodes.size(); ++k) {
      std::string tasks;
      for (TaskIndex task = 0; task < plan.node_of_task.size(); ++task)
        if (plan.node_of_task[task] == k) tasks += (tasks.empty() ? "" : ",") + scenario.tasks[task].name;
      by_node += " " + scenario.nodes[k].name + "[" + tasks + "]";
    }
    char head[64];
    std::snprintf(head, sizeof head, "%.1fs plan %llu:", t, static_cast<unsigned long long>(msg.version));
    log(head + by_node);
  }
};

std::string describe(const Scenario& s, const policy::PlanRecord& r) {
  auto name = [&](NodeIndex k) { return k == kNone ? std::string("-") : s.nodes[k].name; };
  return s.tasks[r.task].name + " " + name(r.from) + " -> " + name(r.to) + " (" +
         std::string(to_string(r.reason)) + ")";
}

}  // namespace

int run_master(Scenario scenario, const MasterOptions& options) {
  const Duration window = options.window.count() > 0 ? options.window : scenario.run.window;
  auto domain = net::DdsDomain::create(options.dds);
  if (!domain.ok()) return log("error: " + domain.error().message), 1;
  auto plans = net::PlanWriter::create(**domain);
  auto reports = net::ReportReader::create(**domain);
  auto sources = net::SourceStatsReader::create(**domain);
  auto commands = net::CommandWriter::create(**domain);
  for (const Error* e : {plans.ok() ? nullptr : &plans.error(), reports.ok() ? nullptr : &reports.error(),
                         sources.ok() ? nullptr : &sources.error(), commands.ok() ? nullptr : &commands.error()}) {
    if (e) return log("error: " + e->message), 1;
  }
  std::ofstream plans_log, windows_log;
  if (!options.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out_dir, ec);
    plans_log.open(options.out_dir + "/plans.jsonl");
    windows_log.open(options.out_dir + "/windows.jsonl");
    if (ec || !plans_log || !windows_log) return log("error: cannot write to " + options.out_dir), 1;
  }
  auto stop_requested = [&] { return options.stop != nullptr && options.stop->load(); };
  auto t_since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const auto started = std::chrono::steady_clock::now();

  // Wait for every node's first report: their models are loaded and workers up.
  ClusterState state(scenario);
  std::vector<bool> alive(scenario.nodes.size(), false);
  log("waiting for " + std::to_string(scenario.nodes.size()) + " nodes to report (DDS domain " +
      std::to_string(options.dds.domain) + ")");
  double next_note = 5;
  while (true) {
    for (net::NodeReport& r : (*reports)->take()) {
      if (!state.on_report(r)) {
        log("ignoring a report from '" + r.node + "', which is not a node of " + scenario.source_file);
        continue;
      }
      const NodeIndex k = scenario.find_node(r.node);
      if (!alive[k]) log("node " + r.node + " is up");
      alive[k] = true;
    }
    for (const net::LivelinessEvent& e : (*reports)->take_liveliness()) {
      const NodeIndex k = scenario.find_node(e.node);
      if (k == kNone || e.alive || !alive[k]) continue;
      log("node " + e.node + " went away before the start; waiting for it again");
      alive[k] = false;
    }
    if (std::find(alive.begin(), alive.end(), false) == alive.end()) break;
    const double waited = t_since(started);
    if (stop_requested()) return log("stopped before the nodes were up"), 1;
    if (waited > to_s(options.wait_for_nodes)) {
      std::string missing;
      for (NodeIndex k = 0; k < alive.size(); ++k)
        if (!alive[k]) missing += " " + scenario.nodes[k].name;
      return log("error: no report within " + format_duration(options.wait_for_nodes) + " from:" + missing +
                 " (are their agents running, on DDS domain " + std::to_string(options.dds.domain) + "?)"),
             1;
    }
    if (waited >= next_note) {
      size_t up = 0;
      for (bool a : alive) up += a;
      log("waiting: " + std::to_string(up) + "/" + std::to_string(alive.size()) + " nodes up");
      next_note += 5;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  auto dispatcher = policy::make_dispatcher(options.dispatcher, scenario);
  Publisher publisher{scenario, **plans, options.plan_lead, 0, {}, plans_log.is_open() ? &plans_log : nullptr};
  std::vector<policy::PlanRecord> records;
  const auto run_start = std::chrono::steady_clock::now();
  publisher.publish(dispatcher->initial(records), 0.0);
  for (const policy::PlanRecord& r : records)
    if (r.reason == policy::PlanReason::kUnplaceable) log("stage 1: " + describe(scenario, r));
  (void)state.window(TimePoint{});  // windows count from here
  log("running" + (options.duration.count() > 0 ? " for " + format_duration(options.duration) : std::string(" until stopped")) +
      ", window " + format_duration(window) + ", dispatcher " + options.dispatcher.text());

  // The nodes' reports and the cameras' counts received since the last call.
  auto absorb = [&] {
    for (const net::NodeReport& r : (*reports)->take()) state.on_report(r);
    for (const net::SourceStats& s : (*sources)->take()) state.on_source_stats(s);
  };
  double next_window = to_s(window), next_progress = to_s(options.progress_every);
  int windows = 0;
  while (!stop_requested() && (options.duration.count() == 0 || t_since(run_start) < to_s(options.duration))) {
    const double t = t_since(run_start);
    absorb();
    for (const net::LivelinessEvent& e : (*reports)->take_liveliness()) {
      const NodeIndex k = scenario.find_node(e.node);
      if (k == kNone || alive[k] == e.alive) continue;
      alive[k] = e.alive;
      records.clear();
      if (!e.alive) {
        char when[96];
        std::snprintf(when, sizeof when, "%.1fs (unix %.3f s): node ", t, static_cast<double>(realtime_ns()) / 1e9);
        log(when + e.node + " is lost (liveliness)");
        if (auto plan = dispatcher->on_node_lost(k, records)) {
          for (const policy::PlanRecord& r : records) log("  " + describe(scenario, r));
          publisher.publish(*plan, t);
        } else {
          log("  the " + options.dispatcher.text() + " dispatcher does not move tasks: its tasks are lost with it");
        }
      } else {
        log(std::to_string(static_cast<int>(t)) + "s: node " + e.node + " is back");
        dispatcher->on_node_back(k);
      }
    }
    if (t >= next_window) {
      next_window += to_s(window);
      ++windows;
      const policy::WindowReport report = state.window(TimePoint{} + from_ms(t * 1000));
      records.clear();
      const policy::Plan plan = dispatcher->update(report, records);
      nlohmann::json line{{"t", t}, {"window", windows}, {"tasks", nlohmann::json::object()},
                          {"links", nlohmann::json::array()}};
      for (TaskIndex task = 0; task < report.tasks.size(); ++task) {
        const policy::TaskWindow& w = report.tasks[task];
        line["tasks"][scenario.tasks[task].name] = {{"finished", w.finished}, {"missed", w.missed},
                                                    {"miss_rate", w.miss_rate()},
                                                    {"mean_latency_ms", to_ms(w.mean_latency)}};
      }
      for (const policy::MeasuredLink& l : report.links)
        line["links"].push_back({{"a", scenario.nodes[l.a].name}, {"b", scenario.nodes[l.b].name}, {"mbps", l.mbps}});
      line["changes"] = nlohmann::json::array();
      for (const policy::PlanRecord& r : records) {
        log("window " + std::to_string(windows) + ": " + describe(scenario, r));
        line["changes"].push_back(describe(scenario, r));
      }
      if (windows_log.is_open()) windows_log << line.dump() << "\n" << std::flush;
      publisher.publish(plan, t);
    }
    if (t >= next_progress) {
      next_progress += to_s(options.progress_every);
      uint64_t released = 0, closed = 0, missed = 0;
      for (const TaskAccount& a : state.accounts()) {
        released += a.accepted;
        closed += a.met + a.overdue + a.dropped_by_nodes;
        missed += a.overdue + a.dropped_by_nodes;
      }
      char line[160];
      std::snprintf(line, sizeof line, "%5.0fs: jobs closed %llu of %llu accepted, miss %.2f%%", t,
                    static_cast<unsigned long long>(closed), static_cast<unsigned long long>(released),
                    closed ? 100.0 * static_cast<double>(missed) / static_cast<double>(closed) : 0.0);
      log(line);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double ran_s = t_since(run_start);

  // Stop the cameras, let their last frames arrive, then stop the nodes.
  Duration longest{0};
  for (const TaskSpec& task : scenario.tasks) longest = std::max(longest, task.deadline);
  log("stopping: cameras first, then the nodes");
  (void)(*commands)->write({"stop-sources", ""});
  const auto settle_until = std::chrono::steady_clock::now() + std::chrono::seconds(1) + longest;
  while (std::chrono::steady_clock::now() < settle_until) {
    absorb();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (void)(*commands)->write({"stop", ""});
  const auto drain_until = std::chrono::steady_clock::now() + std::chrono::seconds(15) + 2 * longest;
  while (std::chrono::steady_clock::now() < drain_until && std::find(alive.begin(), alive.end(), true) != alive.end()) {
    absorb();
    for (const net::LivelinessEvent& e : (*reports)->take_liveliness()) {
      const NodeIndex k = scenario.find_node(e.node);
      if (k != kNone) alive[k] = e.alive;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  absorb();
  std::string still;
  for (NodeIndex k = 0; k < alive.size(); ++k)
    if (alive[k]) still += " " + scenario.nodes[k].name;
  if (!still.empty()) log("no final report from:" + still + " (their open jobs count as lost)");

  // The accounting of every released job.
  const auto accounts = state.accounts();
  nlohmann::json summary;
  summary["scenario"] = scenario.name;
  summary["dispatcher"] = options.dispatcher.text();
  summary["duration_s"] = ran_s;
  summary["window_s"] = to_s(window);
  summary["plan_versions"] = publisher.version;
  summary["tasks"] = nlohmann::json::array();
  std::vector<TaskAccount> per_model(scenario.models.size());
  TaskAccount all;
  std::fprintf(stderr, "\n%-10s %-14s %-6s %8s %8s %8s %8s %6s %8s %9s\n", "task", "model", "node", "released",
               "met", "overdue", "dropped", "lost", "miss", "mean ms");
  for (TaskIndex task = 0; task < accounts.size(); ++task) {
    const TaskAccount& a = accounts[task];
    const NodeIndex k = publisher.current.empty() ? kNone : publisher.current[task];
    const std::string node = k == kNone ? "-" : scenario.nodes[k].name;
    const double mean = a.met + a.overdue ? a.latency_sum_ms / static_cast<double>(a.met + a.overdue) : 0.0;
    std::fprintf(stderr, "%-10s %-14s %-6s %8llu %8llu %8llu %8llu %6llu %7.2f%% %9.1f\n",
                 scenario.tasks[task].name.c_str(), scenario.models[scenario.tasks[task].model].name.c_str(),
                 node.c_str(), static_cast<unsigned long long>(a.released), static_cast<unsigned long long>(a.met),
                 static_cast<unsigned long long>(a.overdue), static_cast<unsigned long long>(a.dropped()),
                 static_cast<unsigned long long>(a.lost), 100 * a.miss_rate(), mean);
    nlohmann::json entry = outcome_counts(a);
    entry.update({{"task", scenario.tasks[task].name},
                  {"model", scenario.models[scenario.tasks[task].model].name},
                  {"source", scenario.nodes[scenario.tasks[task].source].name},
                  {"node", node}, {"accepted", a.accepted}, {"mean_latency_ms", mean}});
    summary["tasks"].push_back(std::move(entry));
    for (TaskAccount* sum : {&per_model[scenario.tasks[task].model], &all}) {
      sum->released += a.released;
      sum->accepted += a.accepted;
      sum->met += a.met;
      sum->overdue += a.overdue;
      sum->dropped_by_nodes += a.dropped_by_nodes;
      sum->lost += a.lost;
      sum->surplus += a.surplus;
      sum->latency_sum_ms += a.latency_sum_ms;
    }
  }
  std::fprintf(stderr, "%-10s %-14s %-6s %8llu %8llu %8llu %8llu %6llu %7.2f%%\n", "all", "", "",
               static_cast<unsigned long long>(all.released), static_cast<unsigned long long>(all.met),
               static_cast<unsigned long long>(all.overdue), static_cast<unsigned long long>(all.dropped()),
               static_cast<unsigned long long>(all.lost), 100 * all.miss_rate());
  summary["models"] = nlohmann::json::object();
  for (ModelIndex m = 0; m < per_model.size(); ++m) {
    const TaskAccount& a = per_model[m];
    if (a.released == 0) continue;
    summary["models"][scenario.models[m].name] = outcome_counts(a);
  }
  summary["totals"] = outcome_counts(all);
  summary["totals"].update({{"surplus", all.surplus},
                            {"accounted", all.surplus == 0 && all.met + all.overdue + all.dropped() == all.released}});
  summary["measured_profiles"] = nlohmann::json::object();
  const auto measured = state.measured_profiles();
  for (ModelIndex m = 0; m < measured.size(); ++m) {
    uint64_t batches = 0;
    for (uint64_t n : measured[m].batches) batches += n;
    if (batches == 0) continue;
    summary["measured_profiles"][scenario.models[m].name] = {{"exe_ms", measured[m].exe_ms},
                                                             {"batches", measured[m].batches}};
  }
  summary["allocation"] = nlohmann::json::object();
  for (NodeIndex k = 0; k < scenario.nodes.size(); ++k) {
    nlohmann::json tasks = nlohmann::json::array();
    for (TaskIndex task = 0; task < publisher.current.size(); ++task)
      if (publisher.current[task] == k) tasks.push_back(scenario.tasks[task].name);
    summary["allocation"][scenario.nodes[k].name] = tasks;
  }
  if (!options.out_dir.empty()) {
    std::ofstream(options.out_dir + "/summary.json") << summary.dump(2) << "\n";
    log("results written to " + options.out_dir);
  }
  if (all.surplus > 0) {
    log("accounting error: nodes closed " + std::to_string(all.surplus) + " jobs more than the cameras released");
    return 3;
  }
  return all.met + all.overdue + all.dropped() == all.released ? 0 : 3;
}

}  // namespace coedge::master
