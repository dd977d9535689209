// The master's checks of received node reports and source statistics (report_checks.h).
#include "master/report_checks.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace coedge::master {
namespace {

using R = SampleRejection;

std::string num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// NaN, infinite or negative: not a time, a sum or a rate.
bool bad_number(double v) { return !std::isfinite(v) || v < 0; }

SampleVerdict check_sender(const std::string& sender, const std::string& named, const char* what,
                           const CheckOptions& options) {
  if (sender.empty()) {
    if (options.require_sender)
      return refuse(R::kSenderMismatch, std::string(what) + " " + shown_text(named) +
                                            " from a writer in no partition (a secure domain requires one)");
    return {};
  }
  if (sender != named)
    return refuse(R::kSenderMismatch, std::string(what) + " about " + shown_text(named) + " written by " +
                                          shown_text(sender));
  return {};
}

// A sender's wall-clock stamp: after 1970, and at most kMaxAheadNs ahead of the master's.
SampleVerdict check_stamp(int64_t stamp_ns, const char* field, std::optional<int64_t> wall_now_ns) {
  if (stamp_ns <= 0) return refuse(R::kAbsurdTime, std::string(field) + " " + std::to_string(stamp_ns));
  if (wall_now_ns && stamp_ns > *wall_now_ns && stamp_ns - *wall_now_ns > kMaxAheadNs)
    return refuse(R::kAbsurdTime, std::string(field) + " " + std::to_string(stamp_ns) + " is " +
                                      num(static_cast<double>(stamp_ns - *wall_now_ns) / 1e9) +
                                      " s ahead of the master's clock (at most an hour)");
  return {};
}

SampleVerdict check_task(const net::TaskReport& t) {
  const std::string where = "task " + shown_text(t.task) + ": ";
  if (bad_number(t.latency_sum_ms)) return refuse(R::kBadNumber, where + "latency_sum_ms " + num(t.latency_sum_ms));
  if (bad_number(t.node_latency_sum_ms))
    return refuse(R::kBadNumber, where + "node_latency_sum_ms " + num(t.node_latency_sum_ms));
  for (const auto& [name, v] : {std::pair{"released", t.released}, std::pair{"met", t.met},
                                std::pair{"overdue", t.overdue}, std::pair{"dropped", t.dropped}}) {
    if (v > kMaxCounter) return refuse(R::kAbsurdValue, where + name + " " + std::to_string(v) + " > 2^53");
  }
  const uint64_t closed = t.met + t.overdue + t.dropped;  // each <= 2^53: no overflow
  if (closed > t.released)
    return refuse(R::kAbsurdValue, where + "met + overdue + dropped = " + std::to_string(closed) + " > released " +
                                       std::to_string(t.released));
  if (t.queue_length > kMaxQueueLength || t.queue_length > t.released - closed)
    return refuse(R::kAbsurdValue, where + "queue_length " + std::to_string(t.queue_length) + " beyond its " +
                                       std::to_string(t.released - closed) + " open jobs (cap " +
                                       std::to_string(kMaxQueueLength) + ")");
  const double completed = static_cast<double>(t.met + t.overdue);
  if (t.latency_sum_ms > completed * kMaxTimeMs || t.node_latency_sum_ms > completed * kMaxTimeMs)
    return refuse(R::kAbsurdValue, where + "latency sums " + num(t.latency_sum_ms) + "/" + num(t.node_latency_sum_ms) +
                                       " ms over " + std::to_string(t.met + t.overdue) + " jobs: above an hour each");
  return {};
}

SampleVerdict check_profile(const net::ProfileReport& p) {
  const std::string where = "profile " + shown_text(p.model) + ": ";
  if (p.exe_ms.size() > static_cast<size_t>(kMaxBatch) || p.batches.size() > static_cast<size_t>(kMaxBatch))
    return refuse(R::kAbsurdValue, where + std::to_string(p.exe_ms.size()) + " times and " +
                                       std::to_string(p.batches.size()) + " counts, for at most " +
                                       std::to_string(kMaxBatch) + " batch sizes");
  if (!p.batches.empty() && p.batches.size() != p.exe_ms.size())
    return refuse(R::kAbsurdValue, where + std::to_string(p.exe_ms.size()) + " times but " +
                                       std::to_string(p.batches.size()) + " counts");
  for (size_t b = 0; b < p.exe_ms.size(); ++b) {
    if (bad_number(p.exe_ms[b])) return refuse(R::kBadNumber, where + "exe_ms[" + std::to_string(b) + "] " + num(p.exe_ms[b]));
    if (p.exe_ms[b] > kMaxTimeMs)
      return refuse(R::kAbsurdValue, where + "exe_ms[" + std::to_string(b) + "] " + num(p.exe_ms[b]) + " > an hour");
  }
  for (size_t b = 0; b < p.batches.size(); ++b)
    if (p.batches[b] > kMaxCounter)
      return refuse(R::kAbsurdValue, where + "batches[" + std::to_string(b) + "] " + std::to_string(p.batches[b]) + " > 2^53");
  for (const auto& [name, v] : {std::pair{"pre_ms", p.pre_ms}, std::pair{"post_ms", p.post_ms}}) {
    if (bad_number(v)) return refuse(R::kBadNumber, where + name + " " + num(v));
    if (v > kMaxTimeMs) return refuse(R::kAbsurdValue, where + name + " " + num(v) + " > an hour");
  }
  return {};
}

}  // namespace

ReportVerdict check_report(const Scenario& scenario, const net::NodeReport& report, const AcceptedReport* last,
                           bool gone_since, const CheckOptions& options, std::optional<int64_t> wall_now_ns) {
  auto refused = [](SampleVerdict v) {
    ReportVerdict out;
    out.reason = v.reason;
    out.why = std::move(v.why);
    return out;
  };
  const NodeIndex k = scenario.find_node(report.node);
  if (k == kNone) return refused(refuse(R::kUnknownNode, "node " + shown_text(report.node) + " is not in the scenario"));
  if (SampleVerdict v = check_sender(report.sender, report.node, "report", options); !v.ok()) return refused(std::move(v));
  if (report.seq > kMaxCounter)
    return refused(refuse(R::kAbsurdValue, "seq " + std::to_string(report.seq) + " > 2^53"));
  if (SampleVerdict v = check_stamp(report.stamp_ns, "stamp_ns", wall_now_ns); !v.ok()) return refused(std::move(v));

  std::vector<bool> seen_task(scenario.tasks.size(), false);
  for (const net::TaskReport& t : report.tasks) {
    const TaskIndex i = scenario.find_task(t.task);
    if (i == kNone) return refused(refuse(R::kUnknownTask, "task " + shown_text(t.task) + " is not in the scenario"));
    if (seen_task[i]) return refused(refuse(R::kDuplicate, "task " + shown_text(t.task) + " twice"));
    seen_task[i] = true;
    if (SampleVerdict v = check_task(t); !v.ok()) return refused(std::move(v));
  }
  std::vector<bool> seen_peer(scenario.nodes.size(), false);
  for (const net::LinkReport& l : report.links) {
    const NodeIndex peer = scenario.find_node(l.peer);
    if (peer == kNone) return refused(refuse(R::kUnknownNode, "link to " + shown_text(l.peer) + ", not a node"));
    if (seen_peer[peer]) return refused(refuse(R::kDuplicate, "link to " + shown_text(l.peer) + " twice"));
    seen_peer[peer] = true;
    if (bad_number(l.mbps)) return refused(refuse(R::kBadNumber, "link to " + l.peer + ": " + num(l.mbps) + " Mbit/s"));
    if (l.mbps > kMaxLinkMbps)
      return refused(refuse(R::kAbsurdValue, "link to " + l.peer + ": " + num(l.mbps) + " Mbit/s > " + num(kMaxLinkMbps)));
    if (l.method != "probe" && l.method != "passive")
      return refused(refuse(R::kAbsurdValue, "link to " + l.peer + ": method " + shown_text(l.method) +
                                                 " (probe or passive)"));
  }
  std::vector<bool> seen_model(scenario.models.size(), false);
  for (const net::ProfileReport& p : report.profiles) {
    const ModelIndex m = scenario.find_model(p.model);
    if (m == kNone) return refused(refuse(R::kUnknownModel, "profile of " + shown_text(p.model) + ", not a model"));
    if (seen_model[m]) return refused(refuse(R::kDuplicate, "profile of " + shown_text(p.model) + " twice"));
    seen_model[m] = true;
    if (SampleVerdict v = check_profile(p); !v.ok()) return refused(std::move(v));
  }

  ReportVerdict out;
  if (last == nullptr) return out;
  if (report.seq <= last->seq) {
    // The node restarted: its seq began again. Gone since, it restarted whatever its stamp
    // (its clock may have been stepped back; a replay of an old report while it is gone
    // reads as a restart too, and is one lifetime's worth of counters at most) — but the
    // very report last accepted (same seq and stamp), delivered again, stays a duplicate.
    const bool same_as_last = report.seq == last->seq && report.stamp_ns == last->stamp_ns;
    if (report.stamp_ns > last->stamp_ns || (gone_since && !same_as_last)) {
      out.new_lifetime = true;
      return out;
    }
    return refused(refuse(R::kStale, "seq " + std::to_string(report.seq) + " after " + std::to_string(last->seq) +
                                         ", stamp not newer"));
  }
  for (const net::TaskReport& t : report.tasks) {
    const TaskIndex i = scenario.find_task(t.task);
    if (i >= last->tasks.size() || !last->tasks[i]) continue;
    const net::TaskReport& before = *last->tasks[i];
    const char* field = t.released < before.released           ? "released"
                        : t.met < before.met                   ? "met"
                        : t.overdue < before.overdue           ? "overdue"
                        : t.dropped < before.dropped           ? "dropped"
                        : t.latency_sum_ms < before.latency_sum_ms ? "latency_sum_ms"
                        : t.node_latency_sum_ms < before.node_latency_sum_ms ? "node_latency_sum_ms"
                                                                             : nullptr;
    if (field == nullptr) continue;
    if (gone_since) {
      out.new_lifetime = true;  // a restart whose first report was missed
      return out;
    }
    return refused(refuse(R::kCounterDecreased, "task " + t.task + ": " + field + " went down (seq " +
                                                    std::to_string(report.seq) + " after " +
                                                    std::to_string(last->seq) + ")"));
  }
  return out;
}

void remember(const Scenario& scenario, const net::NodeReport& report, AcceptedReport& last, bool new_lifetime) {
  last.seq = report.seq;
  last.stamp_ns = report.stamp_ns;
  // A new lifetime's counters start again: what the earlier one reported of a task is no
  // floor for them, even for the tasks this report does not name (a restarted node's first
  // report usually names none).
  if (new_lifetime) last.tasks.assign(scenario.tasks.size(), std::nullopt);
  last.tasks.resize(scenario.tasks.size());
  for (const net::TaskReport& t : report.tasks) {
    const TaskIndex i = scenario.find_task(t.task);
    if (i != kNone) last.tasks[i] = t;
  }
}

StatsVerdict check_source_stats(const Scenario& scenario, const net::SourceStats& stats, const AcceptedStats* last,
                                const CheckOptions& options, std::optional<int64_t> wall_now_ns) {
  auto refused = [](SampleRejection reason, std::string why) {
    StatsVerdict out;
    out.reason = reason;
    out.why = std::move(why);
    return out;
  };
  const TaskIndex t = scenario.find_task(stats.task);
  if (t == kNone) return refused(R::kUnknownTask, "task " + shown_text(stats.task) + " is not in the scenario");
  if (scenario.find_node(stats.node) == kNone)
    return refused(R::kUnknownNode, "node " + shown_text(stats.node) + " is not in the scenario");
  if (SampleVerdict v = check_sender(stats.sender, stats.node, "source statistics", options); !v.ok())
    return refused(v.reason, std::move(v.why));
  const TaskSpec& task = scenario.tasks[t];
  if (scenario.find_node(stats.node) != task.source)
    return refused(R::kNotSource, "task " + task.name + " counted by " + stats.node + ", its source is " +
                                      (task.source < scenario.nodes.size() ? scenario.nodes[task.source].name : "?"));
  if (!task.topic.empty())
    return refused(R::kNotSource, "task " + task.name + " is fed by a camera driver's topic " + task.topic +
                                      ", not by a camera of the cluster");
  if (stats.published > kMaxCounter)
    return refused(R::kAbsurdValue, "task " + task.name + ": published " + std::to_string(stats.published) + " > 2^53");
  if (stats.last_stamp_ns < 0)
    return refused(R::kAbsurdTime, "task " + task.name + ": last_stamp_ns " + std::to_string(stats.last_stamp_ns));
  if (stats.last_stamp_ns > 0) {  // 0: no frame yet
    if (SampleVerdict v = check_stamp(stats.last_stamp_ns, "last_stamp_ns", wall_now_ns); !v.ok())
      return refused(v.reason, "task " + task.name + ": " + v.why);
  }
  StatsVerdict out;
  if (stats.published == 0 && stats.last_stamp_ns == 0) {  // no frame yet: nothing to count
    out.empty = true;
    return out;
  }
  if (last == nullptr || stats.published >= last->published) return out;
  if (stats.last_stamp_ns > last->last_stamp_ns) {
    out.new_lifetime = true;
    return out;
  }
  return refused(R::kCounterDecreased, "task " + task.name + ": published " + std::to_string(stats.published) +
                                           " after " + std::to_string(last->published) + ", last stamp not newer");
}

}  // namespace coedge::master
