// The master's driver: DDS in and out, the real clocks, the files and stderr around the
// passive MasterCore (master_core.h), which makes every decision.
#include "master/master_service.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.h"
#include "master/master_core.h"
#include "master/master_files.h"
#include "master/master_metrics.h"

namespace coedge::master {
namespace {

// The longest the driver sleeps, so that samples that arrived are fed to the core soon.
constexpr Duration kMaxSleep = std::chrono::milliseconds(50);

void log(const std::string& text) { std::fprintf(stderr, "[master] %s\n", text.c_str()); }

}  // namespace

int run_master(Scenario scenario, const MasterOptions& options) {
  MasterMetrics metrics(scenario);
  if (!options.metrics_listen.empty()) {
    if (Status st = metrics.serve(options.metrics_listen); !st.ok()) return log("error: " + st.error().message), 1;
    log("metrics on http://" + options.metrics_listen + "/metrics");
  }
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

  const std::string dds_domain = std::to_string(options.dds.domain);
  MasterConfig config;
  config.dispatcher = options.dispatcher;
  config.window = options.window.count() > 0 ? options.window : scenario.run.window;
  config.duration = options.duration;
  config.plan_lead = options.plan_lead;
  config.wait_for_nodes = options.wait_for_nodes;
  config.progress_every = options.progress_every;
  config.epoch = static_cast<uint64_t>(realtime_ns());  // later than any earlier master's
  config.missing_nodes_hint = "are their agents running, on DDS domain " + dds_domain + "?";
  // With DDS Security every node and camera writes in its own partition: a sample from a
  // writer in none is nobody's (master/report_checks.h).
  config.require_sender = options.dds.security.has_value();
  log("waiting for " + std::to_string(scenario.nodes.size()) + " nodes to report (DDS domain " + dds_domain + ")");
  const MonotonicClock clock;
  MasterCore core(scenario, config, clock.now());

  uint64_t reports_refused = 0, sources_refused = 0;  // by the readers, at the last look
  while (true) {
    for (const net::NodeReport& r : (*reports)->take()) core.on_report(r, clock.now(), realtime_ns());
    for (const net::SourceStats& s : (*sources)->take()) core.on_source_stats(s, clock.now(), realtime_ns());
    // Samples the readers refused over their caps (net/dds.h) count with the core's.
    for (auto [topic, refusals] : {std::pair{SampleTopic::kNodeReport, take_reader_refusals(**reports, reports_refused)},
                                   std::pair{SampleTopic::kSourceStats, take_reader_refusals(**sources, sources_refused)}}) {
      core.on_refused_elsewhere(topic, SampleRejection::kOversized, refusals.count,
                                refusals.reasons.empty() ? "" : refusals.reasons.front(), clock.now());
    }
    for (const net::LivelinessEvent& e : (*reports)->take_liveliness()) core.on_liveliness(e.node, e.alive, clock.now());
    if (options.stop != nullptr && options.stop->load()) core.request_stop(clock.now());
    const TimePoint now = clock.now();
    const Actions actions = core.tick(now, realtime_ns());

    for (const PublishedPlan& p : actions.plans) {
      if (Status st = (*plans)->write(p.plan); !st.ok()) log("plan not published: " + st.error().message);
      if (plans_log.is_open()) plans_log << plan_json_line(p) << "\n" << std::flush;
    }
    for (const WindowRecord& w : actions.windows)
      if (windows_log.is_open()) windows_log << window_json_line(scenario, w) << "\n" << std::flush;
    for (const net::Command& c : actions.commands)
      if (Status st = (*commands)->write(c); !st.ok()) log("command '" + c.command + "' not sent: " + st.error().message);
    for (const std::string& line : actions.logs) log(line);
    for (const WindowRecord& w : actions.windows) {
      for (size_t t = 0; t < w.report.tasks.size(); ++t) {
        metrics.set_window_miss_ratio(static_cast<TaskIndex>(t), w.report.tasks[t].miss_rate());
      }
    }
    metrics.update(core);

    if (actions.finished) {
      if (!actions.finished->ok()) return 1;  // the core logged why
      const MasterSummary& summary = actions.finished->value();
      // The metrics first: once summary.json exists, /metrics says what it says.
      metrics.finish(summary);
      std::fprintf(stdout, "\n%s", summary_table(summary).c_str());  // the result: stdout; the log: stderr
      std::fflush(stdout);
      if (!options.out_dir.empty()) {
        std::ofstream(options.out_dir + "/summary.json") << summary_json(summary) << "\n";
        log("results written to " + options.out_dir);
      }
      if (!options.metrics_listen.empty() && options.metrics_linger.count() > 0) {
        log("metrics: serving the final counters for " + format_duration(options.metrics_linger));
        const TimePoint until = clock.now() + options.metrics_linger;
        while (clock.now() < until && !(options.stop != nullptr && options.stop->load())) {
          std::this_thread::sleep_for(std::min<Duration>(kMaxSleep, until - clock.now()));
        }
      }
      if (summary.totals.surplus > 0) {
        log("accounting error: nodes closed " + std::to_string(summary.totals.surplus) +
            " jobs more than the cameras released");
        return kRunUnaccounted;
      }
      return summary.accounted() ? 0 : kRunUnaccounted;
    }
    const TimePoint wake = std::min(actions.wake_at, now + kMaxSleep);
    const Duration left = wake - clock.now();
    if (left.count() > 0) std::this_thread::sleep_for(left);
  }
}

}  // namespace coedge::master
