// The violation policy on a manual clock: every violation kills the worker, violations
// found before its replacement runs count as one kill, the limit-th kill within the window
// quarantines the task (once, until clear()), kills age out of the window, tasks and roles
// are independent, and floods of empty wake-ups are said once per window.
#include "node/core/violations.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace coedge::node {
namespace {

using namespace std::chrono_literals;

constexpr ViolationAction kKill{.kill_worker = true};
constexpr ViolationAction kKillAndQuarantine{.kill_worker = true, .quarantine = true};
constexpr ViolationAction kNothing{};

TimePoint at(Duration d) { return kEpoch + d; }

// One violation and the worker's restart: one whole kill cycle.
ViolationAction kill_cycle(ViolationTracker& v, uint32_t task, WorkerRole role, TimePoint now) {
  ViolationAction a = v.on_violation(task, role, ViolationKind::kWrongStage, now);
  v.on_worker_started(task, role);
  return a;
}

TEST(ViolationTracker, KindNamesAreTheMetricLabels) {
  EXPECT_EQ(to_string(ViolationKind::kForeignTask), "foreign_task");
  EXPECT_EQ(to_string(ViolationKind::kWrongKind), "wrong_kind");
  EXPECT_EQ(to_string(ViolationKind::kUnknownJob), "unknown_job");
  EXPECT_EQ(to_string(ViolationKind::kWrongStage), "wrong_stage");
  EXPECT_EQ(to_string(ViolationKind::kBadReason), "bad_reason");
  EXPECT_EQ(to_string(ViolationKind::kBadStamps), "bad_stamps");
  EXPECT_EQ(to_string(ViolationKind::kBadChunk), "bad_chunk");
  EXPECT_EQ(to_string(ViolationKind::kBadTensor), "bad_tensor");
  EXPECT_EQ(to_string(ViolationKind::kForgedJob), "forged_job");
  EXPECT_EQ(to_string(ViolationKind::kBadResult), "bad_result");
  EXPECT_EQ(to_string(ViolationKind::kFlood), "flood");
  EXPECT_EQ(to_string(ViolationKind::kCorruptRing), "corrupt_ring");
  std::set<std::string_view> names;
  for (size_t k = 0; k < kViolationKindCount; ++k) names.insert(to_string(static_cast<ViolationKind>(k)));
  EXPECT_EQ(names.size(), kViolationKindCount);  // distinct
  EXPECT_EQ(to_string(WorkerRole::kPre), "pre");
  EXPECT_EQ(to_string(WorkerRole::kPost), "post");
}

TEST(ViolationTracker, EveryViolationKillsAndTheThirdKillQuarantines) {
  ViolationTracker v(2, 3, 60s);
  EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPre, at(1s)), kKill);
  EXPECT_FALSE(v.quarantined(0));
  EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPost, at(10s)), kKill);
  EXPECT_FALSE(v.quarantined(0));
  EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPre, at(59s)), kKillAndQuarantine);
  EXPECT_TRUE(v.quarantined(0));
  EXPECT_FALSE(v.quarantined(1));
  EXPECT_EQ(v.quarantined_tasks(), 1u);
  // Quarantine is said once; the retired workers' leftovers ask for nothing more.
  EXPECT_EQ(v.on_violation(0, WorkerRole::kPre, ViolationKind::kBadChunk, at(60s)), kNothing);
  EXPECT_EQ(v.on_violation(0, WorkerRole::kPost, ViolationKind::kBadChunk, at(61s)), kNothing);
  EXPECT_TRUE(v.quarantined(0));
  EXPECT_EQ(v.violations(0), 5u);
  EXPECT_EQ(v.kills(0), 3u);
  EXPECT_EQ(v.violations(1), 0u);
}

TEST(ViolationTracker, ViolationsBeforeTheReplacementRunsAreOneKill) {
  ViolationTracker v(1, 3, 60s);
  // One drain of a bad worker: ten violations, one kill.
  EXPECT_EQ(v.on_violation(0, WorkerRole::kPre, ViolationKind::kBadReason, at(1s)), kKill);
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ(v.on_violation(0, WorkerRole::kPre, ViolationKind::kForeignTask, at(1s + 1ms * i)), kNothing);
  EXPECT_EQ(v.violations(0), 10u);
  EXPECT_EQ(v.violations(0, ViolationKind::kForeignTask), 9u);
  EXPECT_EQ(v.violations(0, ViolationKind::kBadReason), 1u);
  EXPECT_EQ(v.kills(0), 1u);
  // The other worker of the task is killed on its own.
  EXPECT_EQ(v.on_violation(0, WorkerRole::kPost, ViolationKind::kBadResult, at(2s)), kKill);
  EXPECT_EQ(v.kills(0), 2u);
  // Only the replacement's own violation is the next kill (here the third: quarantine).
  v.on_worker_started(0, WorkerRole::kPre);
  EXPECT_EQ(v.on_violation(0, WorkerRole::kPre, ViolationKind::kBadStamps, at(3s)), kKillAndQuarantine);
}

TEST(ViolationTracker, KillsAgeOutOfTheWindow) {
  ViolationTracker v(1, 3, 60s);
  EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPre, at(0s)), kKill);
  EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPre, at(30s)), kKill);
  // The first kill was 60 s ago: out of the window, so this is the second of two.
  EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPre, at(60s)), kKill);
  EXPECT_FALSE(v.quarantined(0));
  // 30 s and 60 s are still in the window at 89 s.
  EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPre, at(89s)), kKillAndQuarantine);
  // Spread out, kills never quarantine.
  ViolationTracker slow(1, 3, 60s);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(kill_cycle(slow, 0, WorkerRole::kPost, at(31s * i)), kKill) << i;
  EXPECT_FALSE(slow.quarantined(0));
}

TEST(ViolationTracker, ClearEndsQuarantineAndForgetsKills) {
  ViolationTracker v(2, 2, 10s);
  kill_cycle(v, 1, WorkerRole::kPre, at(1s));
  EXPECT_EQ(kill_cycle(v, 1, WorkerRole::kPre, at(2s)), kKillAndQuarantine);
  v.on_violation(1, WorkerRole::kPost, ViolationKind::kFlood, at(3s));  // leftovers
  v.clear(1);  // a new plan activated it again
  EXPECT_FALSE(v.quarantined(1));
  EXPECT_EQ(v.quarantined_tasks(), 0u);
  // Its kills are forgotten: one kill within the window is not yet the limit of two.
  EXPECT_EQ(kill_cycle(v, 1, WorkerRole::kPost, at(4s)), kKill);
  EXPECT_FALSE(v.quarantined(1));
  EXPECT_EQ(kill_cycle(v, 1, WorkerRole::kPre, at(5s)), kKillAndQuarantine);
  EXPECT_EQ(v.violations(1), 5u);  // a total for the run
}

TEST(ViolationTracker, LimitZeroNeverQuarantines) {
  ViolationTracker v(1, 0, 60s);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(kill_cycle(v, 0, WorkerRole::kPre, at(1ms * i)), kKill);
  EXPECT_FALSE(v.quarantined(0));
  EXPECT_EQ(v.kills(0), 100u);
}

TEST(ViolationTracker, LimitOneQuarantinesAtTheFirstKill) {
  ViolationTracker v(1, 1, 60s);
  EXPECT_EQ(v.on_violation(0, WorkerRole::kPost, ViolationKind::kCorruptRing, at(0s)), kKillAndQuarantine);
}

TEST(ViolationTracker, EmptyWakeFloodsAreSaidOncePerWindow) {
  ViolationTracker v(2, 3, 60s, FloodRule{.empty_wakes = 1000, .per = 1s});
  // 1000 empty wakes within a second are allowed; the 1001st is a flood, said once.
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(v.on_wake(0, false, at(1us * i))) << i;
  EXPECT_TRUE(v.on_wake(0, false, at(500ms)));
  for (int i = 0; i < 5000; ++i) EXPECT_FALSE(v.on_wake(0, false, at(600ms)));
  // Wakes that found work never count; the other task is independent.
  for (int i = 0; i < 5000; ++i) EXPECT_FALSE(v.on_wake(1, true, at(700ms)));
  EXPECT_FALSE(v.on_wake(1, false, at(700ms)));
  // A new window: counted from zero again.
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(v.on_wake(0, false, at(1s + 1us * i))) << i;
  EXPECT_TRUE(v.on_wake(0, false, at(1999ms)));
  // A slow waker is never a flood: 999 a second for ten seconds.
  ViolationTracker w(1, 3, 60s);
  for (int s = 0; s < 10; ++s)
    for (int i = 0; i < 999; ++i) EXPECT_FALSE(w.on_wake(0, false, at(1s * s + 1ms * i)));
  // The tracker only says it: a flood is no violation until the driver reports one.
  EXPECT_EQ(v.violations(0), 0u);
}

TEST(ViolationTrackerDeath, IndexOutOfRangeIsABug) {
  ViolationTracker v(1, 3, 60s);
  EXPECT_DEATH(v.on_violation(1, WorkerRole::kPre, ViolationKind::kFlood, at(0s)), "index < tasks_.size");
  EXPECT_DEATH(ViolationTracker(1, 3, 0s), "window.count");
}

}  // namespace
}  // namespace coedge::node
