// A cluster node's and a camera's checks of received plans, task claims and commands
// (node/cluster/sample_checks.h): every reason from a sample built to trigger it, next to
// a valid sample accepted; and the ControlGate that ClusterFeed and the camera put in
// front of their logic (a plan naming an unknown task is not applied, and is counted).
#include "node/cluster/sample_checks.h"

#include <algorithm>

#include <utility>

#include <gtest/gtest.h>

#include "../../scenario_builder.h"

namespace coedge::node {
namespace {

using testing::make_model;
using testing::ScenarioBuilder;
using R = SampleRejection;

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr uint64_t kEpoch = 1'699'999'990'000'000'000;

Scenario scenario() {
  return ScenarioBuilder()
      .node("a")
      .node("b")
      .default_mbps(100)
      .model(make_model("m", 100, 0, 12500))
      .task("T1", "a", "m", 500)
      .task("T2", "b", "m", 500)
      .build();
}

net::Plan plan(uint64_t version = 3, uint64_t epoch = kEpoch) {
  net::Plan p;
  p.version = version;
  p.epoch = epoch;
  p.effective_ns = kNow + 500'000'000;
  p.assignments = {{"T1", "a"}, {"T2", ""}};
  return p;
}

R plan_reason(const net::Plan& p, uint64_t followed = 0) { return check_plan(scenario(), p, followed, kNow).reason; }

TEST(PlanChecks, AValidPlanIsAccepted) {
  EXPECT_EQ(plan_reason(plan()), R::kNone);
  EXPECT_EQ(plan_reason(plan(2), kEpoch), R::kNone);  // an older version of the epoch followed: ordered by the table
  EXPECT_EQ(plan_reason(plan(1, kEpoch + 5), kEpoch), R::kNone);  // a newer master
  net::Plan late = plan();
  late.effective_ns = 1;  // long past (a late node's TRANSIENT_LOCAL plan): fine
  EXPECT_EQ(plan_reason(late), R::kNone);
}

TEST(PlanChecks, EachReason) {
  net::Plan p = plan();
  p.assignments.push_back({"T9", "a"});
  EXPECT_EQ(plan_reason(p), R::kUnknownTask);
  p = plan();
  p.assignments.push_back({"T1", "b"});
  EXPECT_EQ(plan_reason(p), R::kDuplicate);
  p = plan();
  p.assignments[1].node = "z";
  EXPECT_EQ(plan_reason(p), R::kUnknownNode);
  EXPECT_EQ(plan_reason(plan(0)), R::kAbsurdValue);
  EXPECT_EQ(plan_reason(plan(uint64_t{1} << 32)), R::kAbsurdValue);
  EXPECT_EQ(plan_reason(plan(3, 0)), R::kAbsurdTime);
  EXPECT_EQ(plan_reason(plan(3, ~uint64_t{0})), R::kAbsurdTime);  // would outrank every real master
  p = plan();
  p.effective_ns = 0;
  EXPECT_EQ(plan_reason(p), R::kAbsurdTime);
  p.effective_ns = kNow + kMaxAheadNs + 1;
  EXPECT_EQ(plan_reason(p), R::kAbsurdTime);
  EXPECT_EQ(plan_reason(plan(9, kEpoch - 1), kEpoch), R::kStale);  // an older master's
}

TEST(PlanChecks, NoOverflowAtTheEdgesOfTheClock) {
  EXPECT_EQ(check_plan(scenario(), plan(), 0, std::numeric_limits<int64_t>::max()).reason, R::kNone);
  EXPECT_EQ(check_plan(scenario(), plan(), 0, std::numeric_limits<int64_t>::min()).reason, R::kAbsurdTime);
}

net::TaskAck ack(const std::string& node = "a", const std::string& sender = "a") {
  return net::TaskAck{"T1", node, kEpoch, 3, kNow + 300'000'000, sender};
}

R ack_reason(const net::TaskAck& a, bool secure = false, uint64_t followed = 0) {
  const std::vector<AppliedPlan> applied{applied_plan(scenario(), plan())};  // T1 on a, T2 unplaced
  return check_task_ack(scenario(), a, applied, followed, kNow, SampleCheckOptions{secure}).reason;
}

TEST(TaskAckChecks, AValidClaimIsAccepted) {
  EXPECT_EQ(ack_reason(ack(), true), R::kNone);
  EXPECT_EQ(ack_reason(ack("a", ""), false), R::kNone);  // open domain: no sender to compare
  net::TaskAck ahead = ack("b", "b");
  ahead.version = 4;  // a plan not seen here yet: accepted on the rest
  EXPECT_EQ(ack_reason(ahead), R::kNone);
}

TEST(TaskAckChecks, EachReason) {
  EXPECT_EQ(ack_reason(ack("a", "b")), R::kSenderMismatch);  // b claims in a's name
  EXPECT_EQ(ack_reason(ack("a", ""), true), R::kSenderMismatch);
  net::TaskAck a = ack();
  a.task = "T9";
  EXPECT_EQ(ack_reason(a), R::kUnknownTask);
  EXPECT_EQ(ack_reason(ack("z", "z")), R::kUnknownNode);
  a = ack();
  a.version = 0;
  EXPECT_EQ(ack_reason(a), R::kAbsurdValue);
  a = ack();
  a.from_ns = -1;
  EXPECT_EQ(ack_reason(a), R::kAbsurdTime);
  a = ack();
  a.from_ns = kNow + kMaxAheadNs + 1;
  EXPECT_EQ(ack_reason(a), R::kAbsurdTime);
  a = ack();
  a.epoch = 0;
  EXPECT_EQ(ack_reason(a), R::kAbsurdTime);
  a = ack();
  a.epoch = kEpoch - 1;  // older than the one followed, and no plan of it applied here
  EXPECT_EQ(ack_reason(a, false, kEpoch + 1), R::kStale);
  // An older master's claim for a plan applied here still orders the hand-over: accepted.
  EXPECT_EQ(ack_reason(ack(), false, kEpoch + 1), R::kNone);
  EXPECT_EQ(ack_reason(ack("b", "b")), R::kNotAssigned);  // plan 3 gives T1 to a
  a = ack("b", "b");
  a.task = "T2";  // plan 3 places T2 nowhere
  EXPECT_EQ(ack_reason(a), R::kNotAssigned);
}

TEST(CommandChecks, EachReason) {
  const Scenario s = scenario();
  EXPECT_TRUE(check_command(s, {"stop", ""}).ok());
  EXPECT_TRUE(check_command(s, {"stop-sources", "b"}).ok());
  EXPECT_EQ(check_command(s, {"reboot", ""}).reason, R::kUnknownCommand);
  EXPECT_EQ(check_command(s, {"", ""}).reason, R::kUnknownCommand);
  EXPECT_EQ(check_command(s, {"stop", "z"}).reason, R::kUnknownNode);
}

TEST(ControlGate, APlanNamingAnUnknownTaskIsNotAppliedAndIsCounted) {
  const Scenario s = scenario();
  ControlGate gate(s);
  const TimePoint t0{};
  net::Plan bad = plan(4);
  bad.assignments.push_back({"T9", "b"});
  const SampleVerdict v = gate.admit_plan(bad, kNow, t0);
  EXPECT_EQ(v.reason, R::kUnknownTask);
  EXPECT_TRUE(gate.applied().empty());  // not applied: claims are not checked against it
  EXPECT_EQ(gate.followed_epoch(), 0u);
  EXPECT_EQ(gate.rejections().total(SampleTopic::kPlan, R::kUnknownTask), 1u);
  const std::vector<std::string> logs = gate.take_logs();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("refused a plan sample (unknown_task): plan 4 of epoch"), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("task 'T9' is not in the scenario"), std::string::npos) << logs[0];

  // A valid plan is admitted and remembered; claims are then checked against it.
  EXPECT_TRUE(gate.admit_plan(plan(3), kNow, t0).ok());
  ASSERT_EQ(gate.applied().size(), 1u);
  EXPECT_EQ(gate.followed_epoch(), kEpoch);
  EXPECT_TRUE(gate.admit_ack(ack(), kNow, t0).ok());
  EXPECT_EQ(gate.admit_ack(ack("b", "b"), kNow, t0).reason, R::kNotAssigned);
  // The same refusal again within 10 s: counted, not logged.
  EXPECT_EQ(gate.admit_plan(bad, kNow, t0 + std::chrono::seconds(1)).reason, R::kUnknownTask);
  EXPECT_EQ(gate.rejections().total(SampleTopic::kPlan, R::kUnknownTask), 2u);
  const std::vector<std::string> later = gate.take_logs();
  ASSERT_EQ(later.size(), 1u);  // the not_assigned claim's only
  EXPECT_NE(later[0].find("not_assigned"), std::string::npos);
  // An older master's plan after a newer one: stale.
  EXPECT_TRUE(gate.admit_plan(plan(1, kEpoch + 1), kNow, t0).ok());
  EXPECT_EQ(gate.admit_plan(plan(7, kEpoch), kNow, t0).reason, R::kStale);
  EXPECT_EQ(gate.admit_command({"halt", ""}, t0).reason, R::kUnknownCommand);
  EXPECT_EQ(gate.rejections().total(), 5u);
}

TEST(ControlGate, KeepsOnlyTheNewestPlans) {
  const Scenario s = scenario();
  ControlGate gate(s);
  for (uint64_t v = 1; v <= ControlGate::kKept + 4; ++v) ASSERT_TRUE(gate.admit_plan(plan(v), kNow, TimePoint{}).ok());
  ASSERT_EQ(gate.applied().size(), ControlGate::kKept);
  EXPECT_EQ(gate.applied().front().version, 5u);
  EXPECT_EQ(gate.applied().back().version, ControlGate::kKept + 4);
}

TEST(ControlGate, ARepeatedOrLatePlanDoesNotPushOutTheNewestOnes) {
  const Scenario s = scenario();
  ControlGate gate(s);
  for (uint64_t v = 1; v <= ControlGate::kKept; ++v) ASSERT_TRUE(gate.admit_plan(plan(v), kNow, TimePoint{}).ok());
  // The same plan again and again (a replay, a late joiner's copy): one entry.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(gate.admit_plan(plan(3), kNow, TimePoint{}).ok());
  ASSERT_EQ(gate.applied().size(), ControlGate::kKept);
  auto has = [&](uint64_t version) {
    return std::any_of(gate.applied().begin(), gate.applied().end(),
                       [&](const AppliedPlan& p) { return p.version == version; });
  };
  for (uint64_t v = 1; v <= ControlGate::kKept; ++v) EXPECT_TRUE(has(v)) << v;
  // Full, a newer plan pushes out the lowest (epoch, version), not the earliest to arrive.
  ASSERT_TRUE(gate.admit_plan(plan(ControlGate::kKept + 1), kNow, TimePoint{}).ok());
  EXPECT_FALSE(has(1));
  EXPECT_TRUE(has(3));
  EXPECT_TRUE(has(ControlGate::kKept + 1));
}

// A reader as src/net's count what they refuse over their caps.
struct FakeReader {
  uint64_t total = 0;
  std::vector<std::string> kept;
  uint64_t rejected() const { return total; }
  std::vector<std::string> take_rejections() { return std::exchange(kept, {}); }
};
struct OldReader {};  // one without: refuses nothing

// src/net's readers have the API, so their cap refusals are counted (not the fallback).
template <typename Reader>
constexpr bool kCountsRefusals = requires(Reader& r) {
  r.rejected();
  r.take_rejections();
};
static_assert(kCountsRefusals<net::PlanReader> && kCountsRefusals<net::CommandReader> &&
              kCountsRefusals<net::TaskAckReader> && kCountsRefusals<net::ImageReaderSet> &&
              kCountsRefusals<net::ReportReader> && kCountsRefusals<net::SourceStatsReader>);

TEST(ControlGate, CountsWhatTheReadersRefusedOverTheirCaps) {
  const Scenario s = scenario();
  ControlGate gate(s);
  FakeReader reader{3, {"plan: assignments has 5000, more than the cap 4096"}};
  uint64_t seen = 0;
  const ReaderRefusals first = take_reader_refusals(reader, seen);
  EXPECT_EQ(first.count, 3u);
  gate.refused_by_reader(SampleTopic::kPlan, first, TimePoint{});
  EXPECT_EQ(gate.rejections().total(SampleTopic::kPlan, R::kOversized), 3u);
  const std::vector<std::string> logs = gate.take_logs();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("refused a plan sample (oversized): plan: assignments has 5000"), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("and 2 more"), std::string::npos) << logs[0];
  reader.total = 5;
  EXPECT_EQ(take_reader_refusals(reader, seen).count, 2u);  // the difference since the last look
  EXPECT_EQ(take_reader_refusals(reader, seen).count, 0u);
  OldReader old;
  uint64_t old_seen = 0;
  EXPECT_EQ(take_reader_refusals(old, old_seen).count, 0u);
}

}  // namespace
}  // namespace coedge::node
