#include "master/master_core.h"

#include <algorithm>
#include <cstdio>

namespace coedge::master {

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::kWaiting: return "waiting";
    case Phase::kRunning: return "running";
    case Phase::kSettling: return "settling";
    case Phase::kDraining: return "draining";
    case Phase::kDone: return "done";
  }
  return "?";
}

std::string describe(const Scenario& s, const policy::PlanRecord& r) {
  auto name = [&](NodeIndex k) { return k == kNone ? std::string("-") : s.nodes[k].name; };
  return s.tasks[r.task].name + " " + name(r.from) + " -> " + name(r.to) + " (" + std::string(to_string(r.reason)) +
         ")";
}

std::string describe_with_why(const Scenario& s, const policy::PlanRecord& r) {
  std::string out = describe(s, r);
  if (r.why) out += ": " + policy::describe(s, *r.why);
  if (r.why && r.why->eviction && r.why->eviction->violator != kNone) {
    const policy::EvictionCause& e = *r.why->eviction;
    char rates[96];
    std::snprintf(rates, sizeof rates, " missed %.2f%% > epsilon %.2f%%", 100 * e.miss_rate, 100 * e.epsilon);
    out += "; evicted because " + s.tasks[e.violator].name + rates + " on " + s.nodes[e.node].name;
  }
  return out;
}

MasterCore::MasterCore(const Scenario& scenario, MasterConfig config, TimePoint now)
    : scenario_(scenario),
      config_(std::move(config)),
      state_(scenario),
      dispatcher_(policy::make_dispatcher(config_.dispatcher, scenario)),
      alive_(scenario.nodes.size(), false),
      nodes_(scenario.nodes.size()),
      accepted_(scenario.nodes.size()),
      gone_since_(scenario.nodes.size(), false),
      accepted_stats_(scenario.tasks.size()),
      lifetime_at_(scenario.nodes.size()),
      stats_lifetime_at_(scenario.tasks.size()),
      started_(now),
      next_note_(now + config_.waiting_note_every),
      evictions_(scenario.tasks.size(), 0) {
  COEDGE_CHECK(config_.window.count() > 0);
  for (const TaskSpec& task : scenario.tasks) longest_deadline_ = std::max(longest_deadline_, task.deadline);
}

MasterCore::~MasterCore() = default;

void MasterCore::refused(SampleTopic topic, const SampleVerdict& verdict, TimePoint now, uint64_t count) {
  const uint64_t n = rejections_.count(topic, verdict.reason, now, count);
  if (n == 0) return;
  std::string line = "refused a " + std::string(to_string(topic)) + " sample (" + std::string(to_string(verdict.reason)) +
                     "): " + verdict.why;
  if (n > 1) line += " (and " + std::to_string(n - 1) + " more such since the last line)";
  queued_logs_.push_back(std::move(line));
}

void MasterCore::restarted(size_t which, std::string line, TimePoint now) {
  RestartLog& r = restarts_[which];
  ++r.total;
  ++r.unlogged;
  if (r.logged && now - r.last_log < kRestartLogEvery) return;
  if (r.unlogged > 1) line += " (and " + std::to_string(r.unlogged - 1) + " more such since the last line)";
  r.logged = true;
  r.last_log = now;
  r.unlogged = 0;
  queued_logs_.push_back(std::move(line));
}

void MasterCore::on_refused_elsewhere(SampleTopic topic, SampleRejection reason, uint64_t n, const std::string& why,
                                      TimePoint now) {
  if (n > 0) refused(topic, SampleVerdict{reason, why.empty() ? "refused by the DDS reader" : why}, now, n);
}

void MasterCore::on_report(const net::NodeReport& report, TimePoint now, int64_t wall_now_ns) {
  if (phase_ == Phase::kDone) return;
  const NodeIndex k = scenario_.find_node(report.node);
  const CheckOptions options{config_.require_sender};
  const AcceptedReport* last = k != kNone && accepted_[k] ? &*accepted_[k] : nullptr;
  const ReportVerdict verdict = check_report(scenario_, report, last, k != kNone && gone_since_[k], options, wall_now_ns);
  if (!verdict.ok()) return refused(SampleTopic::kNodeReport, verdict, now);
  if (verdict.new_lifetime) {
    // One new lifetime per node per kMinLifetime: a peer forging restarts (or two writers of
    // one node alternating, an old process back after a fail-over) would otherwise add a
    // lifetime's counters with every report. A genuine restart's later reports are accepted
    // once the period passed (counters are cumulative: nothing is lost).
    if (lifetime_at_[k] && now - *lifetime_at_[k] < kMinLifetime)
      return refused(SampleTopic::kNodeReport,
                     refuse(SampleRejection::kStale, "node " + report.node + " restarted again within " +
                                                         format_duration(kMinLifetime) + " (seq " +
                                                         std::to_string(report.seq) + ")"),
                     now);
    lifetime_at_[k] = now;
    restarted(0, "node " + report.node + " restarted: its counters start again", now);
  }
  if (!accepted_[k]) accepted_[k].emplace();
  remember(scenario_, report, *accepted_[k], verdict.new_lifetime);
  gone_since_[k] = report.final_report;
  (void)state_.on_report(report, verdict.new_lifetime);
  NodeInfo& info = nodes_[k];
  ++info.reports;
  info.plan_epoch = report.plan_epoch;
  info.plan_version = report.plan_version;
  if (!info.up_at) info.up_at = now;
  if (!info.first_met_at) {
    for (const net::TaskReport& t : report.tasks) {
      if (t.met > 0) info.first_met_at = now;
    }
  }
  if (report.final_report) {
    info.final_report = true;
    if (phase_ == Phase::kWaiting) {
      if (alive_[k]) queued_logs_.push_back("node " + report.node + " stopped before the start; waiting for it again");
      alive_[k] = false;
      return;
    }
    if (phase_ == Phase::kRunning && alive_[k]) queued_logs_.push_back("node " + report.node + " stopped (its final report)");
    return on_liveliness(report.node, false, now);  // done: gone, as its liveliness soon will be
  }
  if (info.final_report) {  // a report after its last one: the node was started again
    info.final_report = false;
    if (phase_ != Phase::kWaiting) on_liveliness(report.node, true, now);
  }
  if (phase_ == Phase::kWaiting && !alive_[k]) {
    queued_logs_.push_back("node " + report.node + " is up");
    alive_[k] = true;
  }
}

void MasterCore::on_source_stats(const net::SourceStats& stats, TimePoint now, int64_t wall_now_ns) {
  if (phase_ == Phase::kDone) return;
  const TaskIndex t = scenario_.find_task(stats.task);
  const AcceptedStats* last = t != kNone && accepted_stats_[t] ? &*accepted_stats_[t] : nullptr;
  const StatsVerdict verdict = check_source_stats(scenario_, stats, last, CheckOptions{config_.require_sender}, wall_now_ns);
  if (!verdict.ok()) return refused(SampleTopic::kSourceStats, verdict, now);
  if (verdict.empty) return;  // a camera before its first frame: nothing to count
  if (verdict.new_lifetime) {  // at most one per task's camera per kMinLifetime (on_report)
    if (stats_lifetime_at_[t] && now - *stats_lifetime_at_[t] < kMinLifetime)
      return refused(SampleTopic::kSourceStats,
                     refuse(SampleRejection::kStale, "the camera of task " + stats.task + " restarted again within " +
                                                         format_duration(kMinLifetime)),
                     now);
    stats_lifetime_at_[t] = now;
    restarted(1, "the camera of task " + stats.task + " restarted: its count starts again", now);
  }
  accepted_stats_[t] = AcceptedStats{stats.published, stats.last_stamp_ns};
  state_.on_source_stats(stats, verdict.new_lifetime);
}

void MasterCore::on_liveliness(const std::string& node, bool alive, TimePoint /*now*/) {
  const NodeIndex k = scenario_.find_node(node);
  if (k == kNone) return;
  if (!alive) gone_since_[k] = true;  // its next report may be a restart's (report_checks.h)
  // After its final report a node is done; an "alive" seen since is older news (the
  // reader may have noticed the node's lapse and its last report in one go): only a new
  // report brings it back (on_report).
  if (alive && nodes_[k].final_report) return;
  switch (phase_) {
    case Phase::kWaiting:
      // Up means reported (on_report); only a node that was up and went away matters.
      if (alive || !alive_[k]) return;
      queued_logs_.push_back("node " + node + " went away before the start; waiting for it again");
      alive_[k] = false;
      return;
    case Phase::kRunning:
      if (alive_[k] == alive) return;
      alive_[k] = alive;
      changes_.push_back({k, alive});
      return;
    case Phase::kSettling:
    case Phase::kDraining:
      alive_[k] = alive;
      return;
    case Phase::kDone:
      return;
  }
}

void MasterCore::request_stop(TimePoint /*now*/) { stop_requested_ = true; }

Actions MasterCore::tick(TimePoint now, int64_t wall_now_ns) {
  Actions out;
  out.logs = std::move(queued_logs_);
  queued_logs_.clear();
  if (phase_ == Phase::kWaiting) tick_waiting(now, wall_now_ns, out);
  if (phase_ == Phase::kRunning) tick_running(now, wall_now_ns, out);
  if (phase_ == Phase::kSettling && now >= settle_until_) {
    out.commands.push_back({"stop", ""});
    drain_until_ = now + kDrainTime + 2 * longest_deadline_;
    enter(Phase::kDraining, out);
  }
  if (phase_ == Phase::kDraining &&
      (now >= drain_until_ || std::find(alive_.begin(), alive_.end(), true) == alive_.end())) {
    finish(out);
  }
  out.wake_at = wake_at(now);
  return out;
}

void MasterCore::tick_waiting(TimePoint now, int64_t wall_now_ns, Actions& out) {
  if (std::find(alive_.begin(), alive_.end(), false) == alive_.end()) return start_running(now, wall_now_ns, out);
  if (stop_requested_) {
    const std::string why = "stopped before the nodes were up";
    out.logs.push_back(why);
    out.finished = Error{ErrorCode::kNotFound, why};
    return enter(Phase::kDone, out);
  }
  if (now - started_ > config_.wait_for_nodes) {
    std::string missing;
    for (NodeIndex k = 0; k < alive_.size(); ++k)
      if (!alive_[k]) missing += " " + scenario_.nodes[k].name;
    const std::string why = "no report within " + format_duration(config_.wait_for_nodes) + " from:" + missing +
                            (config_.missing_nodes_hint.empty() ? "" : " (" + config_.missing_nodes_hint + ")");
    out.logs.push_back("error: " + why);
    out.finished = Error{ErrorCode::kNotFound, why};
    return enter(Phase::kDone, out);
  }
  if (config_.waiting_note_every.count() > 0 && now >= next_note_) {
    const size_t up = static_cast<size_t>(std::count(alive_.begin(), alive_.end(), true));
    out.logs.push_back("waiting: " + std::to_string(up) + "/" + std::to_string(alive_.size()) + " nodes up");
    while (next_note_ <= now) next_note_ += config_.waiting_note_every;
  }
}

void MasterCore::start_running(TimePoint now, int64_t wall_now_ns, Actions& out) {
  enter(Phase::kRunning, out);
  run_start_ = now;
  std::vector<policy::PlanRecord> records;
  publish(dispatcher_->initial(records), now, wall_now_ns, out);
  for (const policy::PlanRecord& r : records)
    if (r.reason == policy::PlanReason::kUnplaceable) out.logs.push_back("stage 1: " + describe_with_why(scenario_, r));
  records.clear();
  dispatcher_->take_waiting_notes(records);  // stage 1's reasons are in its records already
  (void)state_.window(TimePoint{});  // windows count from here
  out.logs.push_back("running" +
                     (config_.duration.count() > 0 ? " for " + format_duration(config_.duration)
                                                   : std::string(" until stopped")) +
                     ", window " + format_duration(config_.window) + ", dispatcher " + config_.dispatcher.text());
  next_window_ = now + config_.window;
  next_progress_ = now + config_.progress_every;
}

void MasterCore::tick_running(TimePoint now, int64_t wall_now_ns, Actions& out) {
  if (stop_requested_ || (config_.duration.count() > 0 && now - run_start_ >= config_.duration)) {
    return begin_stopping(now, out);
  }
  const double t = since_start(now);
  // Liveliness first, at once: a lost node's tasks are placed again now, not at the window.
  for (const Change& c : changes_) {
    const std::string& name = scenario_.nodes[c.node].name;
    std::vector<policy::PlanRecord> records;
    if (!c.alive) {
      char when[96];
      std::snprintf(when, sizeof when, "%.1fs (unix %.3f s): node ", t, static_cast<double>(wall_now_ns) / 1e9);
      out.logs.push_back(when + name + " is lost (liveliness)");
      if (auto plan = dispatcher_->on_node_lost(c.node, records)) {
        for (const policy::PlanRecord& r : records) out.logs.push_back("  " + describe_with_why(scenario_, r));
        records.clear();
        dispatcher_->take_waiting_notes(records);  // given in the records above
        publish(*plan, now, wall_now_ns, out);
      } else {
        out.logs.push_back("  the " + config_.dispatcher.text() +
                           " dispatcher does not move tasks: its tasks are lost with it");
      }
    } else {
      out.logs.push_back(std::to_string(static_cast<int>(t)) + "s: node " + name + " is back");
      dispatcher_->on_node_back(c.node);
    }
  }
  changes_.clear();
  if (now >= next_window_) close_window(now, wall_now_ns, out);
  if (config_.progress_every.count() > 0 && now >= next_progress_) {
    progress(now, out);
    while (next_progress_ <= now) next_progress_ += config_.progress_every;
  }
}

void MasterCore::close_window(TimePoint now, int64_t wall_now_ns, Actions& out) {
  WindowRecord record;
  record.window = ++windows_;
  record.t = since_start(now);
  record.report = state_.window(TimePoint{} + (now - run_start_));
  const policy::Plan plan = dispatcher_->update(record.report, record.changes);
  dispatcher_->take_waiting_notes(record.waiting);
  for (const policy::PlanRecord& r : record.changes) {
    out.logs.push_back("window " + std::to_string(record.window) + ": " + describe_with_why(scenario_, r));
    if (r.reason == policy::PlanReason::kEvicted) ++evictions_[r.task];
  }
  for (const policy::PlanRecord& r : record.waiting)  // only when its reason changed
    out.logs.push_back("window " + std::to_string(record.window) + ": " + scenario_.tasks[r.task].name +
                       " still waits: " + (r.why ? policy::describe(scenario_, *r.why) : std::string("?")));
  out.windows.push_back(std::move(record));
  publish(plan, now, wall_now_ns, out);
  // The next window ends on the grid of the first plan. A tick later than a whole window
  // (the driver stalled) merges the windows it missed into this one rather than closing
  // empty ones back to back, which stage 2 would read as windows without a miss.
  const TimePoint due = next_window_;
  next_window_ += config_.window;
  if (next_window_ <= now) {
    int covers = 1;
    for (; next_window_ <= now; next_window_ += config_.window) ++covers;
    out.logs.push_back("window " + std::to_string(windows_) + " closed " + format_duration(now - due) +
                       " late: it covers " + std::to_string(covers) + " windows");
  }
}

void MasterCore::progress(TimePoint now, Actions& out) {
  uint64_t accepted = 0, closed = 0, missed = 0;
  for (const TaskAccount& a : state_.accounts()) {
    accepted += a.accepted;
    closed += a.met + a.overdue + a.dropped_by_nodes;
    missed += a.overdue + a.dropped_by_nodes;
  }
  char line[160];
  std::snprintf(line, sizeof line, "%5.0fs: jobs closed %llu of %llu accepted, miss %.2f%%", since_start(now),
                static_cast<unsigned long long>(closed), static_cast<unsigned long long>(accepted),
                closed ? 100.0 * static_cast<double>(missed) / static_cast<double>(closed) : 0.0);
  out.logs.push_back(line);
}

void MasterCore::begin_stopping(TimePoint now, Actions& out) {
  ran_s_ = since_start(now);
  changes_.clear();  // the dispatcher is done; liveliness now only tells who is gone
  out.logs.push_back("stopping: cameras first, then the nodes");
  out.commands.push_back({"stop-sources", ""});
  settle_until_ = now + kSettleTime + longest_deadline_;
  enter(Phase::kSettling, out);
}

void MasterCore::finish(Actions& out) {
  std::string still;
  for (NodeIndex k = 0; k < alive_.size(); ++k)
    if (alive_[k]) still += " " + scenario_.nodes[k].name;
  if (!still.empty()) out.logs.push_back("no final report from:" + still + " (their open jobs count as lost)");
  out.finished = summary();
  enter(Phase::kDone, out);
}

void MasterCore::enter(Phase phase, Actions& out) {
  phase_ = phase;
  out.phases.push_back(phase);
}

void MasterCore::publish(const policy::Plan& plan, TimePoint now, int64_t wall_now_ns, Actions& out) {
  if (version_ > 0 && plan.node_of_task == current_) return;  // unchanged: nothing to publish
  current_ = plan.node_of_task;
  for (const NodeIndex k : current_) {
    if (k != kNone && k < nodes_.size()) nodes_[k].ever_given_tasks = true;
  }
  PublishedPlan p;
  p.t = since_start(now);
  p.plan.version = ++version_;
  p.plan.epoch = config_.epoch;
  p.plan.effective_ns = wall_now_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(config_.plan_lead).count();
  for (TaskIndex task = 0; task < scenario_.tasks.size(); ++task) {
    const NodeIndex k = task < plan.node_of_task.size() ? plan.node_of_task[task] : kNone;
    p.plan.assignments.push_back({scenario_.tasks[task].name, k == kNone ? "" : scenario_.nodes[k].name});
  }
  std::string by_node;
  for (NodeIndex k = 0; k < scenario_.nodes.size(); ++k) {
    std::string tasks;
    for (TaskIndex task = 0; task < plan.node_of_task.size(); ++task)
      if (plan.node_of_task[task] == k) tasks += (tasks.empty() ? "" : ",") + scenario_.tasks[task].name;
    by_node += " " + scenario_.nodes[k].name + "[" + tasks + "]";
  }
  char head[64];
  std::snprintf(head, sizeof head, "%.1fs plan %llu:", p.t, static_cast<unsigned long long>(p.plan.version));
  out.logs.push_back(head + by_node);
  out.plans.push_back(std::move(p));
}

MasterSummary MasterCore::summary() const {
  MasterSummary s;
  s.scenario = scenario_.name;
  s.dispatcher = config_.dispatcher.text();
  s.duration_s = ran_s_;
  s.first_plan_s = version_ > 0 ? to_s(run_start_ - started_) : -1;  // stage 1 always publishes
  s.window_s = to_s(config_.window);
  s.epoch = config_.epoch;
  s.plan_versions = version_;
  const std::vector<TaskAccount> accounts = state_.accounts();
  std::vector<TaskAccount> per_model(scenario_.models.size());
  for (TaskIndex task = 0; task < accounts.size(); ++task) {
    const TaskAccount& a = accounts[task];
    const TaskSpec& spec = scenario_.tasks[task];
    const NodeIndex k = current_.empty() ? kNone : current_[task];
    TaskSummary t;
    t.task = spec.name;
    t.model = scenario_.models[spec.model].name;
    t.source = scenario_.nodes[spec.source].name;
    t.node = k == kNone ? "-" : scenario_.nodes[k].name;
    t.topic = spec.topic;
    t.account = a;
    t.mean_latency_ms = a.met + a.overdue ? a.latency_sum_ms / static_cast<double>(a.met + a.overdue) : 0.0;
    s.tasks.push_back(std::move(t));
    for (TaskAccount* sum : {&per_model[spec.model], &s.totals}) {
      sum->released = saturating_add(sum->released, a.released);
      sum->accepted = saturating_add(sum->accepted, a.accepted);
      sum->met = saturating_add(sum->met, a.met);
      sum->overdue = saturating_add(sum->overdue, a.overdue);
      sum->dropped_by_nodes = saturating_add(sum->dropped_by_nodes, a.dropped_by_nodes);
      sum->lost = saturating_add(sum->lost, a.lost);
      sum->surplus = saturating_add(sum->surplus, a.surplus);
      sum->latency_sum_ms += a.latency_sum_ms;
    }
  }
  for (ModelIndex m = 0; m < per_model.size(); ++m)
    if (per_model[m].released > 0) s.models.emplace_back(scenario_.models[m].name, per_model[m]);
  const auto measured = state_.measured_profiles();
  for (ModelIndex m = 0; m < measured.size(); ++m) {
    uint64_t batches = 0;
    for (uint64_t n : measured[m].batches) batches += n;
    if (batches > 0) s.measured_profiles.emplace_back(scenario_.models[m].name, measured[m]);
  }
  for (NodeIndex k = 0; k < scenario_.nodes.size(); ++k) {
    NodeSummary n;
    n.node = scenario_.nodes[k].name;
    n.reports = nodes_[k].reports;
    n.plan_epoch = nodes_[k].plan_epoch;
    n.plan_version = nodes_[k].plan_version;
    n.stopped = !alive_[k];
    n.final_report = nodes_[k].final_report;
    n.up_s = nodes_[k].up_at ? to_s(*nodes_[k].up_at - started_) : -1;
    n.first_met_s = nodes_[k].first_met_at ? to_s(*nodes_[k].first_met_at - started_) : -1;
    n.ever_given_tasks = nodes_[k].ever_given_tasks;
    for (TaskIndex task = 0; task < current_.size(); ++task)
      if (current_[task] == k) n.tasks.push_back(scenario_.tasks[task].name);
    s.nodes.push_back(std::move(n));
  }
  rejections_.for_each([&](SampleTopic topic, SampleRejection reason, uint64_t n) {
    s.rejected_samples.push_back({std::string(to_string(topic)), std::string(to_string(reason)), n});
  });
  // Why: the dispatcher's present view of each task that did not do well.
  for (TaskIndex task = 0; task < accounts.size() && !current_.empty(); ++task) {
    const TaskSpec& spec = scenario_.tasks[task];
    const NodeIndex k = current_[task];
    const double miss = accounts[task].miss_rate();
    TaskWhy why;
    why.task = spec.name;
    why.evictions = evictions_[task];
    const policy::Explanation explanation = dispatcher_->explain(task);
    char rates[96];
    std::snprintf(rates, sizeof rates, " missed %.2f%% > epsilon %.2f%%", 100 * miss, 100 * spec.epsilon);
    if (k == kNone) {
      why.status = "unplaced";
      why.text = spec.name + " unplaced: " + policy::describe(scenario_, explanation);
    } else if (accounts[task].released > 0 && miss > spec.epsilon) {
      why.status = "misses_epsilon";
      std::string sharing;
      for (TaskIndex j = 0; j < current_.size(); ++j)
        if (j != task && current_[j] == k)
          sharing += (sharing.empty() ? "" : ", ") + scenario_.tasks[j].name + " (" +
                     scenario_.models[scenario_.tasks[j].model].name + ")";
      const bool own = !explanation.candidates.empty() && explanation.candidates.front().node == k;
      const policy::NodeEstimate e = own ? explanation.candidates.front()
                                         : policy::estimate_in_plan(scenario_, policy::Plan{current_}, task);
      char alpha[48];
      std::snprintf(alpha, sizeof alpha, "; node alpha %.2f", e.alpha);
      why.text = spec.name + rates + ", on " + policy::describe_estimate(scenario_, spec, e) +
                 (own ? "" : " (Eq. 3 for this placement; the dispatcher keeps no estimate)") + alpha + "; " +
                 (sharing.empty() ? "alone on " + scenario_.nodes[k].name
                                  : "shares " + scenario_.nodes[k].name + " with " + sharing);
    } else if (why.evictions > 0) {
      why.status = "evicted";
      why.text = spec.name + " on " + scenario_.nodes[k].name + " at the end";
    } else {
      continue;
    }
    if (why.evictions > 0) why.text += "; evicted " + std::to_string(why.evictions) + " time(s)";
    why.explanation_json = policy::to_json(scenario_, explanation);
    s.why.push_back(std::move(why));
  }
  return s;
}

TimePoint MasterCore::wake_at(TimePoint now) const {
  switch (phase_) {
    case Phase::kWaiting: {
      // The timeout is "more than wait_for_nodes": one microsecond after it.
      TimePoint at = started_ + config_.wait_for_nodes + Duration(1);
      if (stop_requested_) at = now;
      if (config_.waiting_note_every.count() > 0) at = std::min(at, next_note_);
      return at;
    }
    case Phase::kRunning: {
      if (stop_requested_ || !changes_.empty()) return now;
      TimePoint at = next_window_;
      if (config_.progress_every.count() > 0) at = std::min(at, next_progress_);
      if (config_.duration.count() > 0) at = std::min(at, run_start_ + config_.duration);
      return at;
    }
    case Phase::kSettling: return settle_until_;
    case Phase::kDraining: return drain_until_;
    case Phase::kDone: return TimePoint::max();
  }
  return TimePoint::max();
}

}  // namespace coedge::master
