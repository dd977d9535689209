// A cluster node's checks of received plans, task claims and commands (sample_checks.h).
#include "node/cluster/sample_checks.h"

#include <algorithm>
#include <limits>
#include <string>

namespace coedge::node {
namespace {

using R = SampleRejection;

// The latest time a sample may name: an hour after now (saturated: `now_ns` is the
// caller's, e.g. a fuzz target's).
int64_t latest(int64_t now_ns) {
  return now_ns > std::numeric_limits<int64_t>::max() - kMaxAheadNs ? std::numeric_limits<int64_t>::max()
                                                                     : now_ns + kMaxAheadNs;
}
bool absurd_time(int64_t t, int64_t now_ns) { return t <= 0 || t > latest(now_ns); }
// An epoch is its master's start (CLOCK_REALTIME ns): never 0, never in the future.
bool absurd_epoch(uint64_t epoch, int64_t now_ns) {
  return epoch == 0 || latest(now_ns) <= 0 || epoch > static_cast<uint64_t>(latest(now_ns));
}

}  // namespace

AppliedPlan applied_plan(const Scenario& scenario, const net::Plan& plan) {
  AppliedPlan out{plan.epoch, plan.version, std::vector<NodeIndex>(scenario.tasks.size(), kNone)};
  for (const net::Assignment& a : plan.assignments) {
    const TaskIndex t = scenario.find_task(a.task);
    if (t != kNone && !a.node.empty()) out.node_of_task[t] = scenario.find_node(a.node);
  }
  return out;
}

SampleVerdict check_plan(const Scenario& scenario, const net::Plan& plan, uint64_t followed_epoch, int64_t now_ns) {
  const std::string which = "plan " + std::to_string(plan.version) + " of epoch " + std::to_string(plan.epoch);
  if (plan.version == 0 || plan.version > kMaxPlanVersion)
    return refuse(R::kAbsurdValue, which + ": version out of 1..2^32-1");
  if (absurd_epoch(plan.epoch, now_ns))
    return refuse(R::kAbsurdTime, which + ": its epoch (its master's start) is 0 or more than an hour ahead");
  if (absurd_time(plan.effective_ns, now_ns))
    return refuse(R::kAbsurdTime, which + ": effective at " + std::to_string(plan.effective_ns) +
                                      " ns, 0 or more than an hour ahead of " + std::to_string(now_ns));
  std::vector<bool> seen(scenario.tasks.size(), false);
  for (const net::Assignment& a : plan.assignments) {
    const TaskIndex t = scenario.find_task(a.task);
    if (t == kNone) return refuse(R::kUnknownTask, which + ": task " + shown_text(a.task) + " is not in the scenario");
    if (seen[t]) return refuse(R::kDuplicate, which + ": task " + a.task + " twice");
    seen[t] = true;
    if (!a.node.empty() && scenario.find_node(a.node) == kNone)
      return refuse(R::kUnknownNode, which + ": task " + a.task + " on " + shown_text(a.node) + ", not a node");
  }
  if (plan.epoch < followed_epoch)
    return refuse(R::kStale, which + ": older than the epoch followed, " + std::to_string(followed_epoch));
  return {};
}

SampleVerdict check_task_ack(const Scenario& scenario, const net::TaskAck& ack, std::span<const AppliedPlan> applied,
                             uint64_t followed_epoch, int64_t now_ns, const SampleCheckOptions& options) {
  const std::string which = "claim of " + shown_text(ack.task) + " by " + shown_text(ack.node);
  if (ack.sender.empty() ? options.require_sender : ack.sender != ack.node)
    return refuse(R::kSenderMismatch, which + " written by " + (ack.sender.empty() ? "a writer in no partition"
                                                                                   : shown_text(ack.sender)));
  const TaskIndex t = scenario.find_task(ack.task);
  if (t == kNone) return refuse(R::kUnknownTask, which + ": not a task of the scenario");
  const NodeIndex k = scenario.find_node(ack.node);
  if (k == kNone) return refuse(R::kUnknownNode, which + ": not a node of the scenario");
  if (ack.version == 0 || ack.version > kMaxPlanVersion)
    return refuse(R::kAbsurdValue, which + ": plan version " + std::to_string(ack.version) + " out of 1..2^32-1");
  if (absurd_epoch(ack.epoch, now_ns))
    return refuse(R::kAbsurdTime, which + ": plan epoch " + std::to_string(ack.epoch) + " is 0 or more than an hour ahead");
  if (absurd_time(ack.from_ns, now_ns))
    return refuse(R::kAbsurdTime, which + ": from " + std::to_string(ack.from_ns) +
                                      " ns, 0 or more than an hour ahead of " + std::to_string(now_ns));
  // An older master's claim is stale only if the receiver never applied a plan of that
  // epoch: the hand-over table orders the plans of every epoch it followed (cluster_feed.cc
  // order_of), so a claim for one of them still decides who takes the task's frames
  // (refusing it, two nodes would take them).
  if (ack.epoch < followed_epoch &&
      std::none_of(applied.begin(), applied.end(), [&](const AppliedPlan& p) { return p.epoch == ack.epoch; }))
    return refuse(R::kStale, which + ": for epoch " + std::to_string(ack.epoch) +
                                 ", older than the one followed and never applied here");
  for (const AppliedPlan& p : applied) {
    if (p.epoch != ack.epoch || p.version != ack.version) continue;
    if (t < p.node_of_task.size() && p.node_of_task[t] != k)
      return refuse(R::kNotAssigned, which + ": plan " + std::to_string(ack.version) + " gives it to " +
                                         (p.node_of_task[t] == kNone ? std::string("no node")
                                                                     : scenario.nodes[p.node_of_task[t]].name));
    break;
  }
  return {};
}

SampleVerdict check_command(const Scenario& scenario, const net::Command& command) {
  if (command.command != "stop" && command.command != "stop-sources")
    return refuse(R::kUnknownCommand, "command " + shown_text(command.command) + " (stop or stop-sources)");
  if (!command.node.empty() && scenario.find_node(command.node) == kNone)
    return refuse(R::kUnknownNode, "command " + command.command + " for " + shown_text(command.node) + ", not a node");
  return {};
}

ControlGate::ControlGate(const Scenario& scenario, SampleCheckOptions options)
    : scenario_(scenario), options_(options) {}

SampleVerdict ControlGate::note(SampleTopic topic, SampleVerdict verdict, TimePoint now, uint64_t count) {
  if (verdict.ok()) return verdict;
  if (const uint64_t n = rejections_.count(topic, verdict.reason, now, count); n > 0) {
    logs_.push_back("refused a " + std::string(to_string(topic)) + " sample (" + std::string(to_string(verdict.reason)) +
                    "): " + verdict.why +
                    (n > 1 ? " (and " + std::to_string(n - 1) + " more such since the last line)" : ""));
  }
  return verdict;
}

SampleVerdict ControlGate::admit_plan(const net::Plan& plan, int64_t now_ns, TimePoint now) {
  SampleVerdict v = check_plan(scenario_, plan, followed_epoch_, now_ns);
  if (v.ok()) {
    followed_epoch_ = std::max(followed_epoch_, plan.epoch);
    // One entry per (epoch, version): a repeated plan (a late joiner's, a replay) replaces
    // its entry rather than pushing genuine ones out. Full: the lowest (epoch, version)
    // goes, not the earliest to arrive (plans arrive in any order).
    auto same = std::find_if(applied_.begin(), applied_.end(), [&](const AppliedPlan& p) {
      return p.epoch == plan.epoch && p.version == plan.version;
    });
    if (same != applied_.end()) applied_.erase(same);
    applied_.push_back(applied_plan(scenario_, plan));
    if (applied_.size() > kKept) {
      applied_.erase(std::min_element(applied_.begin(), applied_.end(), [](const AppliedPlan& a, const AppliedPlan& b) {
        return std::pair{a.epoch, a.version} < std::pair{b.epoch, b.version};
      }));
    }
  }
  return note(SampleTopic::kPlan, std::move(v), now);
}

SampleVerdict ControlGate::admit_ack(const net::TaskAck& ack, int64_t now_ns, TimePoint now) {
  return note(SampleTopic::kTaskAck, check_task_ack(scenario_, ack, applied_, followed_epoch_, now_ns, options_), now);
}

SampleVerdict ControlGate::admit_command(const net::Command& command, TimePoint now) {
  return note(SampleTopic::kCommand, check_command(scenario_, command), now);
}

void ControlGate::refused_by_reader(SampleTopic topic, const ReaderRefusals& refusals, TimePoint now) {
  if (refusals.count == 0) return;
  note(topic,
       refuse(SampleRejection::kOversized, refusals.reasons.empty() ? "refused by the DDS reader" : refusals.reasons.front()),
       now, refusals.count);
}

std::vector<std::string> ControlGate::take_logs() {
  std::vector<std::string> out;
  out.swap(logs_);
  return out;
}

}  // namespace coedge::node
