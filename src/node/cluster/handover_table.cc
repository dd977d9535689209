#include "node/cluster/handover_table.h"

#include <algorithm>

#include "core/result.h"

namespace coedge::node {
namespace {

constexpr int64_t kNothing = std::numeric_limits<int64_t>::min();

int64_t saturating_add(int64_t a, int64_t b) {
  if (b > 0 && a > kHandOverNever - b) return kHandOverNever;
  if (b < 0 && a < kNothing - b) return kNothing;
  return a + b;
}

}  // namespace

HandOverTable::HandOverTable(size_t tasks, HandOverOptions options) : options_(options), tasks_(tasks) {
  COEDGE_CHECK(options_.unsubscribe_grace_ns >= 0 && options_.history_ns > 0 && options_.ack_lead_ns >= 0);
}

bool HandOverTable::owns(const Task& task, int64_t stamp_ns) const {
  if (stamp_ns < task.floor_ns) return false;
  const Entry* best = nullptr;
  for (const Entry& e : task.entries) {
    if (e.start_ns <= stamp_ns && e.start_ns != kHandOverNever && (!best || e.version > best->version)) best = &e;
  }
  return best && best->holder == Holder::kMe;
}

bool HandOverTable::owns(HandOverTask task, int64_t stamp_ns) const {
  COEDGE_CHECK(task < tasks_.size());
  return owns(tasks_[task], stamp_ns);
}

bool HandOverTable::take(HandOverTask task, int64_t stamp_ns) {
  COEDGE_CHECK(task < tasks_.size());
  Task& state = tasks_[task];
  if (owns(state, stamp_ns)) return true;
  ++state.ignored;
  return false;
}

// The plan in force changes only at the starts of known plans: evaluate one stamp per
// segment between consecutive starts (ignoring the floor: it refuses frames, it does not
// end a hold).
HandOverTable::Ownership HandOverTable::ownership(const Task& task) const {
  std::vector<int64_t> starts;
  for (const Entry& e : task.entries)
    if (e.start_ns != kHandOverNever) starts.push_back(e.start_ns);
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  Ownership o;
  bool previous_owned = false;
  for (size_t i = 0; i < starts.size(); ++i) {
    const Entry* best = nullptr;
    for (const Entry& e : task.entries)
      if (e.start_ns <= starts[i] && (!best || e.version > best->version)) best = &e;
    const bool owned = best->holder == Holder::kMe;
    if (owned && !previous_owned) o.run_from = starts[i];
    if (owned) o.end = i + 1 < starts.size() ? starts[i + 1] : kHandOverNever;
    previous_owned = owned;
  }
  return o;
}

int64_t HandOverTable::owned_end(const Task& task) const { return ownership(task).end; }

bool HandOverTable::holds(HandOverTask task) const {
  COEDGE_CHECK(task < tasks_.size());
  return owned_end(tasks_[task]) == kHandOverNever;
}

bool HandOverTable::subscribed(HandOverTask task) const {
  COEDGE_CHECK(task < tasks_.size());
  return tasks_[task].subscribed;
}

uint64_t HandOverTable::ignored(HandOverTask task) const {
  COEDGE_CHECK(task < tasks_.size());
  return tasks_[task].ignored;
}

bool HandOverTable::wants_subscription(const Task& task, int64_t now_ns) const {
  const Entry* newest = nullptr;
  for (const Entry& e : task.entries)
    if (!newest || e.version > newest->version) newest = &e;
  if (newest && newest->holder == Holder::kMe) return true;
  const int64_t end = owned_end(task);
  if (end == kNothing) return false;
  return now_ns < saturating_add(end, options_.unsubscribe_grace_ns);
}

void HandOverTable::claim(HandOverTask t, int64_t now_ns, HandOverActions& out) {
  Task& task = tasks_[t];
  if (options_.mode != HandOverMode::kOnReady || !task.ready) return;
  for (Entry& e : task.entries) {
    if (e.holder != Holder::kMe || e.start_ns != kHandOverNever) continue;
    e.start_ns = std::max(e.effective_ns, saturating_add(now_ns, options_.ack_lead_ns));
    out.acks.push_back({t, e.version, e.start_ns});
  }
}

void HandOverTable::merge_history(Task& task, int64_t now_ns) {
  const int64_t cutoff = saturating_add(now_ns, -options_.history_ns);
  task.floor_ns = std::max(task.floor_ns, cutoff);
  // Every plan that started at or before the cutoff is eligible for every stamp the
  // table still judges: only the highest version among them matters.
  const Entry* keep = nullptr;
  for (const Entry& e : task.entries)
    if (e.start_ns <= cutoff && (!keep || e.version > keep->version)) keep = &e;
  if (!keep) return;
  const uint64_t kept = keep->version;
  std::erase_if(task.entries, [&](const Entry& e) { return e.start_ns <= cutoff && e.version != kept; });
  std::erase_if(task.acks, [&](const auto& a) { return a.second <= cutoff && a.first < kept; });
}

void HandOverTable::settle(int64_t now_ns, HandOverActions& out, bool retry_subscribe) {
  for (HandOverTask t = 0; t < tasks_.size(); ++t) {
    Task& task = tasks_[t];
    const bool wanted = wants_subscription(task, now_ns);
    if (wanted && !task.subscribed && (retry_subscribe || !task.subscribe_failed)) {
      task.subscribed = true;
      task.subscribe_failed = false;
      out.subscribe.push_back(t);
    } else if (!wanted && task.subscribed) {
      task.subscribed = false;
      out.unsubscribe.push_back(t);
    }
    const Ownership o = ownership(task);
    const int64_t end = o.end;
    const bool holding = end == kHandOverNever;
    if (holding && !task.holding) {
      out.gained.push_back({t, o.run_from});
    } else if (!holding && task.holding) {
      out.lost.push_back({t, end});
    }
    task.holding = holding;
    if (task.subscribed && wanted && end != kHandOverNever && end != kNothing) {
      const Entry* newest = nullptr;
      for (const Entry& e : task.entries)
        if (!newest || e.version > newest->version) newest = &e;
      if (newest->holder != Holder::kMe)
        out.wake_ns = std::min(out.wake_ns, saturating_add(end, options_.unsubscribe_grace_ns));
    }
  }
}

HandOverActions HandOverTable::on_plan(const HandOverPlan& plan, int64_t now_ns) {
  COEDGE_CHECK(plan.mine.size() == tasks_.size());
  COEDGE_CHECK(plan.unplaced.empty() || plan.unplaced.size() == tasks_.size());
  HandOverActions out;
  const auto at = std::lower_bound(versions_.begin(), versions_.end(), plan.version);
  if (at != versions_.end() && *at == plan.version) {
    settle(now_ns, out, false);
    return out;
  }
  versions_.insert(at, plan.version);
  newest_version_ = std::max(newest_version_, plan.version);
  for (HandOverTask t = 0; t < tasks_.size(); ++t) {
    Task& task = tasks_[t];
    const auto known = std::find_if(task.entries.begin(), task.entries.end(),
                                    [&](const Entry& e) { return e.version == plan.version; });
    if (known != task.entries.end()) {
      // Learnt from an acknowledgement: another node claimed the task under this plan.
      // A plan that gives it to this node after all is believed over the claim.
      if (plan.mine[t]) *known = Entry{plan.version, plan.effective_ns, Holder::kMe, kHandOverNever};
      claim(t, now_ns, out);
      merge_history(task, now_ns);
      continue;
    }
    Entry e;
    e.version = plan.version;
    e.effective_ns = plan.effective_ns;
    e.holder = plan.mine[t] ? Holder::kMe : !plan.unplaced.empty() && plan.unplaced[t] ? Holder::kNobody : Holder::kOther;
    if (options_.mode == HandOverMode::kImmediate || e.holder == Holder::kNobody) {
      e.start_ns = plan.effective_ns;
    } else if (e.holder == Holder::kOther) {
      const auto ack = task.acks.find(plan.version);
      e.start_ns = ack == task.acks.end() ? kHandOverNever : ack->second;
    }
    task.entries.push_back(e);
    claim(t, now_ns, out);
    merge_history(task, now_ns);
  }
  settle(now_ns, out, true);
  return out;
}

HandOverActions HandOverTable::on_ready(HandOverTask task, int64_t now_ns) {
  COEDGE_CHECK(task < tasks_.size());
  HandOverActions out;
  tasks_[task].ready = true;
  claim(task, now_ns, out);
  settle(now_ns, out, false);
  return out;
}

void HandOverTable::on_not_ready(HandOverTask task) {
  COEDGE_CHECK(task < tasks_.size());
  tasks_[task].ready = false;
}

HandOverActions HandOverTable::on_ack(const HandOverAck& ack, int64_t now_ns) {
  HandOverActions out;
  if (options_.mode == HandOverMode::kOnReady && ack.task < tasks_.size()) {
    Task& task = tasks_[ack.task];
    auto [it, fresh] = task.acks.emplace(ack.version, ack.from_ns);
    if (fresh) {
      bool known = false;
      for (Entry& e : task.entries) {
        if (e.version != ack.version) continue;
        known = true;
        if (e.holder == Holder::kOther && e.start_ns == kHandOverNever) e.start_ns = ack.from_ns;
      }
      // An acknowledgement ahead of its plan already says that the plan gives the task
      // to another node, and from when: the plan, when it comes, adds nothing for it.
      if (!known) task.entries.push_back({ack.version, ack.from_ns, Holder::kOther, ack.from_ns});
    }
  }
  settle(now_ns, out, false);
  return out;
}

HandOverActions HandOverTable::poll(int64_t now_ns) {
  HandOverActions out;
  for (Task& task : tasks_) merge_history(task, now_ns);
  settle(now_ns, out, false);
  return out;
}

void HandOverTable::on_subscribe_failed(HandOverTask task) {
  COEDGE_CHECK(task < tasks_.size());
  tasks_[task].subscribed = false;
  tasks_[task].subscribe_failed = true;
}

}  // namespace coedge::node
