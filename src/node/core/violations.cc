// The violation policy's bookkeeping: a kill history per task, pruned to the window on
// each kill (so it never holds more than `limit` entries that matter), a per-role flag for
// kills under way, and fixed flood windows.
#include "node/core/violations.h"

#include <array>

#include "core/result.h"

namespace coedge::node {
namespace {

constexpr std::array<std::string_view, kViolationKindCount> kKindNames = {
    "foreign_task", "wrong_kind", "unknown_job", "wrong_stage", "bad_reason",   "bad_stamps",
    "bad_chunk",    "bad_tensor", "forged_job",  "bad_result",  "flood",        "corrupt_ring"};
static_assert(static_cast<size_t>(ViolationKind::kCorruptRing) + 1 == kViolationKindCount);

size_t role_index(WorkerRole role) { return role == WorkerRole::kPre ? 0 : 1; }

}  // namespace

std::string_view to_string(ViolationKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kKindNames.size() ? kKindNames[i] : "unknown";
}

std::string_view to_string(WorkerRole role) { return role == WorkerRole::kPre ? "pre" : "post"; }

ViolationTracker::ViolationTracker(uint32_t tasks, uint32_t limit, Duration window, FloodRule flood)
    : limit_(limit), window_(window), flood_(flood), tasks_(tasks) {
  COEDGE_CHECK(window.count() > 0);
  COEDGE_CHECK(flood.per.count() > 0);
}

ViolationTracker::Task& ViolationTracker::task(uint32_t index) {
  COEDGE_CHECK(index < tasks_.size());
  return tasks_[index];
}

const ViolationTracker::Task& ViolationTracker::task(uint32_t index) const {
  COEDGE_CHECK(index < tasks_.size());
  return tasks_[index];
}

ViolationAction ViolationTracker::on_violation(uint32_t index, WorkerRole role, ViolationKind kind,
                                               TimePoint now) {
  Task& t = task(index);
  ++t.violations;
  const auto k = static_cast<size_t>(kind);
  COEDGE_CHECK(k < kViolationKindCount);
  ++t.by_kind[k];
  bool& killing = t.killing[role_index(role)];
  if (t.quarantined || killing) return {};
  killing = true;
  ++t.kills;
  ViolationAction action{.kill_worker = true};
  // Kills older than the window no longer count. A clock that went back (it should not)
  // keeps everything: never fewer kills than happened within the window.
  while (!t.kill_times.empty() && now - t.kill_times.front() >= window_) t.kill_times.pop_front();
  t.kill_times.push_back(now);
  if (limit_ > 0 && t.kill_times.size() >= limit_) {
    t.quarantined = true;
    t.kill_times.clear();
    action.quarantine = true;
  }
  return action;
}

void ViolationTracker::on_worker_started(uint32_t index, WorkerRole role) {
  task(index).killing[role_index(role)] = false;
}

bool ViolationTracker::quarantined(uint32_t index) const { return task(index).quarantined; }

void ViolationTracker::clear(uint32_t index) {
  Task& t = task(index);
  t.quarantined = false;
  t.kill_times.clear();
  t.killing[0] = t.killing[1] = false;
  t.flood_started = false;
  t.empty_wakes = 0;
  t.flood_said = false;
}

uint64_t ViolationTracker::violations(uint32_t index) const { return task(index).violations; }

uint64_t ViolationTracker::violations(uint32_t index, ViolationKind kind) const {
  const auto k = static_cast<size_t>(kind);
  COEDGE_CHECK(k < kViolationKindCount);
  return task(index).by_kind[k];
}

uint64_t ViolationTracker::kills(uint32_t index) const { return task(index).kills; }

uint32_t ViolationTracker::quarantined_tasks() const {
  uint32_t n = 0;
  for (const Task& t : tasks_) n += t.quarantined ? 1 : 0;
  return n;
}

bool ViolationTracker::on_wake(uint32_t index, bool found_work, TimePoint now) {
  Task& t = task(index);
  // A new window at the first wake, after `per`, or if the clock went back.
  if (!t.flood_started || now - t.flood_window_start >= flood_.per || now < t.flood_window_start) {
    t.flood_started = true;
    t.flood_window_start = now;
    t.empty_wakes = 0;
    t.flood_said = false;
  }
  if (found_work) return false;
  ++t.empty_wakes;
  if (t.flood_said || t.empty_wakes <= flood_.empty_wakes) return false;
  t.flood_said = true;
  return true;
}

}  // namespace coedge::node
