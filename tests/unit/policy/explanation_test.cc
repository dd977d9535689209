// Explanations (policy/explanation.h): the CoEdge dispatcher's estimates term by term on
// hand-built fleets whose numbers are easy to check, each verdict, the waiting notes of
// stage 2, and the simple dispatchers' notes.
#include "policy/explanation.h"

#include <gtest/gtest.h>

#include "policy/coedge_dispatcher.h"
#include "policy/dispatcher.h"
#include "policy/simple_dispatchers.h"
#include "policy/spread_dispatcher.h"
#include "../scenario_builder.h"

namespace coedge::policy {
namespace {

using testing::make_model;
using testing::ScenarioBuilder;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const PlanRecord* record_of(const std::vector<PlanRecord>& records, TaskIndex t, PlanReason reason) {
  for (const PlanRecord& r : records)
    if (r.task == t && r.reason == reason) return &r;
  return nullptr;
}

WindowReport report_for(const Scenario& s) {
  WindowReport r;
  r.tasks.resize(s.tasks.size());
  return r;
}

// Issue 17's case: 650 ms inference + 30 + 40 ms pre/post = 720 ms > 700 ms on every node.
TEST(Explanation, UnplaceableRecordGivesEveryTermAgainstTheDeadline) {
  // 12,500 bytes at 100 Mbit/s take 1 ms; the link adds 2 ms.
  const Scenario s = ScenarioBuilder()
                         .node("n1")
                         .node("n2")
                         .link("n1", "n2", 100, 2)
                         .model(make_model("yolo", 650, 520, 12500, 30, 40))
                         .task("T4", "n1", "yolo", 1000, 1, 700)
                         .build();
  CoedgeDispatcher d(s);
  std::vector<PlanRecord> records;
  const Plan plan = d.initial(records);
  EXPECT_EQ(plan.node_of_task[0], kNone);
  const PlanRecord* r = record_of(records, 0, PlanReason::kUnplaceable);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->why);
  const Explanation& why = *r->why;
  ASSERT_EQ(why.candidates.size(), 2u);
  const NodeEstimate& best = why.candidates[0];  // the source: no transfer, closest
  EXPECT_EQ(best.node, 0u);
  EXPECT_EQ(best.verdict, Verdict::kMissesDeadline);
  EXPECT_EQ(best.transfer, Duration{0});
  EXPECT_NEAR(best.queueing_us, 0, 1e-6);
  EXPECT_NEAR(best.inference_us, 650000, 1e-6);
  EXPECT_NEAR(best.pre_post_us, 70000, 1e-6);
  EXPECT_NEAR(best.total_us, 720000, 1e-6);
  EXPECT_NEAR(best.margin_us(), 20000, 1e-6);
  const NodeEstimate& other = why.candidates[1];
  EXPECT_EQ(other.node, 1u);
  EXPECT_EQ(other.transfer, from_ms(3));
  EXPECT_NEAR(other.total_us, 723000, 1e-6);
  const std::string text = describe(s, why);
  EXPECT_TRUE(contains(text, "best node n1: transfer 0 ms + queueing 0 ms + inference 650 ms + pre/post 70 ms = "
                             "720 ms > deadline 700 ms (misses by 20 ms"))
      << text;
  EXPECT_TRUE(contains(text, "n2: transfer 3 ms +")) << text;
  const std::string json = to_json(s, why);
  EXPECT_TRUE(contains(json, "\"verdict\":\"misses_deadline\"")) << json;
  EXPECT_TRUE(contains(json, "\"total_ms\":720.000")) << json;
  EXPECT_TRUE(contains(json, "\"inference_ms\":650.000")) << json;
}

TEST(Explanation, ALinkThatCannotCarryItIsNamedAndSortedLast) {
  // n2 would be fast but its link is down (0 Mbit/s); n1 is too slow.
  const Scenario s = ScenarioBuilder()
                         .node("n1")
                         .node("n2")
                         .default_mbps(100)
                         .link("n1", "n2", 0)
                         .model(make_model("m", 300, 0, 12500))
                         .task("Big", "n1", "m", 1000, 0, 200)
                         .build();
  CoedgeDispatcher d(s);
  std::vector<PlanRecord> records;
  d.initial(records);
  const Explanation why = d.explain(0);
  EXPECT_EQ(why.node, kNone);
  ASSERT_EQ(why.candidates.size(), 2u);
  EXPECT_EQ(why.candidates[0].verdict, Verdict::kMissesDeadline);
  EXPECT_EQ(why.candidates[1].node, 1u);
  EXPECT_EQ(why.candidates[1].verdict, Verdict::kNoLink);
  EXPECT_EQ(why.candidates[1].transfer, kNever);
  const std::string text = describe(s, why);
  EXPECT_TRUE(contains(text, "n2: no link from n1")) << text;
  EXPECT_TRUE(contains(to_json(s, why), "\"verdict\":\"no_link\",\"transfer_ms\":null")) << to_json(s, why);
}

TEST(Explanation, ACapacityRefusalNamesTheTaskItWouldBreak) {
  // One node. High (priority 2, 100 ms every 200 ms, deadline 120 ms) is placed first; it
  // meets its deadline while the node's load is at most 120 / 200 = 0.6. Low adds 100 / 250
  // = 0.4: U = 0.9; its own estimate 250 * 0.9 = 225 ms fits its 250 ms deadline, but High
  // would break.
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .model(make_model("m", 100, 0))
                         .task("High", "a", "m", 200, 2, 120)
                         .task("Low", "a", "m", 250, 1)
                         .build();
  CoedgeDispatcher d(s);
  std::vector<PlanRecord> records;
  const Plan plan = d.initial(records);
  EXPECT_EQ(plan.node_of_task[0], 0u);
  EXPECT_EQ(plan.node_of_task[1], kNone);
  const PlanRecord* r = record_of(records, 1, PlanReason::kUnplaceable);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->why);
  ASSERT_EQ(r->why->candidates.size(), 1u);
  const NodeEstimate& e = r->why->candidates[0];
  EXPECT_EQ(e.verdict, Verdict::kBreaksOther);
  EXPECT_EQ(e.other, 0u);
  EXPECT_NEAR(e.total_us, 225000, 1e-6);
  EXPECT_NEAR(e.queueing_us, 125000, 1e-6);  // High's share of Low's period: 250 * 0.5
  EXPECT_NEAR(e.inference_us, 100000, 1e-6);
  EXPECT_NEAR(e.capacity, 0.6, 1e-12);
  const std::string text = describe(s, *r->why);
  EXPECT_TRUE(contains(text, "but it would break High there")) << text;
  EXPECT_TRUE(contains(to_json(s, *r->why), "\"other\":\"High\"")) << to_json(s, *r->why);
}

TEST(Explanation, TheSingleJobWorstCaseOfCoedgePlusPlusIsAVerdict) {
  // B's model takes 150 ms; A's job (50 ms, deadline 180 ms) could wait behind a whole
  // batch of it: 150 + 50 = 200 ms > 180 ms, although Eq. 3's average fits.
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .model(make_model("slow", 150, 0))
                         .model(make_model("fast", 50, 0))
                         .task("B", "a", "slow", 10000, 2)
                         .task("A", "a", "fast", 1000, 1, 180)
                         .build();
  CoedgeDispatcherOptions options;
  options.batch_aware = options.blocking_aware = true;
  CoedgeDispatcher d(s, options);
  std::vector<PlanRecord> records;
  const Plan plan = d.initial(records);
  EXPECT_EQ(plan.node_of_task[1], kNone);
  const Explanation why = d.explain(1);
  ASSERT_EQ(why.candidates.size(), 1u);
  EXPECT_EQ(why.candidates[0].verdict, Verdict::kWorstCase);
  EXPECT_NEAR(why.candidates[0].worst_case_us, 200000, 1e-6);
  EXPECT_TRUE(contains(describe(s, why), "worst case")) << describe(s, why);
}

// An evicted task is banned from its node for kBanWindows windows, and says so while it
// waits; the waiting note is given once, not every window.
TEST(Explanation, EvictedTasksAreBannedAndWaitingNotesComeOnlyWhenTheReasonChanges) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .model(make_model("m", 100, 0))
                         .task("High", "a", "m", 400, 2)
                         .task("Low", "a", "m", 400, 1)
                         .build();
  CoedgeDispatcher d(s);
  std::vector<PlanRecord> records;
  d.initial(records);
  WindowReport report = report_for(s);
  report.tasks[0].finished = 10;
  report.tasks[0].missed = 5;  // High misses 50% > 10%: Low (lower priority) is evicted
  report.tasks[0].completed = 10;
  report.tasks[0].mean_node_latency = from_ms(200);
  records.clear();
  const Plan plan = d.update(report, records);
  EXPECT_EQ(plan.node_of_task[1], kNone);
  const PlanRecord* evicted = record_of(records, 1, PlanReason::kEvicted);
  ASSERT_NE(evicted, nullptr);
  ASSERT_TRUE(evicted->why);
  ASSERT_TRUE(evicted->why->eviction);
  EXPECT_EQ(evicted->why->eviction->violator, 0u);
  EXPECT_DOUBLE_EQ(evicted->why->eviction->miss_rate, 0.5);
  EXPECT_TRUE(contains(to_json(s, *evicted->why), "\"violator\":\"High\"")) << to_json(s, *evicted->why);

  std::vector<PlanRecord> notes;
  d.take_waiting_notes(notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].task, 1u);
  ASSERT_TRUE(notes[0].why);
  ASSERT_EQ(notes[0].why->candidates.size(), 1u);
  EXPECT_EQ(notes[0].why->candidates[0].verdict, Verdict::kBanned);
  EXPECT_EQ(notes[0].why->candidates[0].banned_until, 1 + CoedgeDispatcher::kBanWindows);
  EXPECT_TRUE(contains(describe(s, *notes[0].why), "banned there after an eviction until window 4"))
      << describe(s, *notes[0].why);

  // A quiet window: still banned for the same reason, so no new note.
  notes.clear();
  records.clear();
  d.update(report_for(s), records);
  d.take_waiting_notes(notes);
  EXPECT_TRUE(notes.empty());
  EXPECT_TRUE(records.empty());
}

TEST(Explanation, APlacedTaskIsExplainedByItsOwnNodesEstimate) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .model(make_model("m", 100, 0, 12500, 5, 5))
                         .task("X", "a", "m", 500)
                         .task("Y", "a", "m", 500)
                         .build();
  CoedgeDispatcher d(s);
  std::vector<PlanRecord> records;
  d.initial(records);
  const Explanation why = d.explain(1);
  EXPECT_EQ(why.node, 0u);
  ASSERT_EQ(why.candidates.size(), 1u);
  EXPECT_EQ(why.candidates[0].verdict, Verdict::kFits);
  EXPECT_NEAR(why.candidates[0].queueing_us, 100000, 1e-6);  // X's job in Y's period
  EXPECT_NEAR(why.candidates[0].total_us, 210000, 1e-6);
  EXPECT_TRUE(contains(describe(s, why), "on a: transfer 0 ms + queueing 100 ms + inference 100 ms + pre/post 10 ms = "
                                         "210 ms <= deadline 500 ms: fits"))
      << describe(s, why);
  // The Eq. 3 estimate of a placement, for dispatchers that keep none: the same figure.
  const NodeEstimate in_plan = estimate_in_plan(s, Plan{{0, 0}}, 1);
  EXPECT_NEAR(in_plan.total_us, 210000, 1e-6);
}

TEST(Explanation, TheSimpleDispatchersSayWhatTheyDo) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .model(make_model("m", 900, 0))
                         .task("X", "a", "m", 500)
                         .task("Y", "a", "m", 500)
                         .build();
  LocalDispatcher local(s);
  EXPECT_TRUE(contains(local.explain(0).policy_note, "never moves a task")) << local.explain(0).policy_note;
  EXPECT_TRUE(contains(describe(s, local.explain(0)), "source node a"));
  NaiveDispatcher naive(s);
  std::vector<PlanRecord> records;
  naive.initial(records);
  EXPECT_TRUE(contains(naive.explain(0).policy_note, "measured miss rate"));
  SpreadDispatcher spread(s);
  records.clear();
  spread.initial(records);  // 900 / 500 = 180% of an accelerator: fits nowhere
  const PlanRecord* r = record_of(records, 0, PlanReason::kUnplaceable);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->why);
  EXPECT_TRUE(contains(r->why->policy_note, "requests 180%")) << r->why->policy_note;
}

TEST(Explanation, SortingPutsFitsFirstThenTheClosestMisses) {
  Explanation why;
  auto estimate = [](NodeIndex k, Verdict v, double total) {
    NodeEstimate e;
    e.node = k;
    e.verdict = v;
    e.total_us = total;
    e.deadline = from_ms(100);
    return e;
  };
  why.candidates = {estimate(0, Verdict::kNoLink, 0), estimate(1, Verdict::kMissesDeadline, 300000),
                    estimate(2, Verdict::kMissesDeadline, 150000), estimate(3, Verdict::kFits, 90000),
                    estimate(4, Verdict::kNodeLost, 0)};
  sort_candidates(why);
  EXPECT_EQ(why.candidates_total, 5u);
  ASSERT_EQ(why.candidates.size(), kMaxCandidates);
  EXPECT_EQ(why.candidates[0].node, 3u);
  EXPECT_EQ(why.candidates[1].node, 2u);
  EXPECT_EQ(why.candidates[2].node, 1u);
}

TEST(Explanation, MillisecondsPrintWholeOrToOneDecimal) {
  EXPECT_EQ(format_ms(650000), "650");
  EXPECT_EQ(format_ms(20500), "20.5");
  EXPECT_EQ(format_ms(-0.4), "0");
  EXPECT_EQ(format_ms(100304), "100.3");
}

// Review fixes: a banned node without a link reads and sorts as "no link"; a margin under
// a twentieth of a millisecond is not "misses by 0 ms"; measured-bandwidth noise in a
// transfer is not a new reason, a link that vanishes is.
TEST(Explanation, ABannedNodeWithoutALinkIsNoLinkAndTinyMarginsPrintInMicroseconds) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .node("b")
                         .model(make_model("m", 100, 100))
                         .task("T", "a", "m", 100)
                         .build();
  NodeEstimate banned;
  banned.node = 1;
  banned.verdict = Verdict::kBanned;
  banned.transfer = kNever;
  banned.deadline = from_ms(100);
  NodeEstimate miss;
  miss.node = 0;
  miss.verdict = Verdict::kMissesDeadline;
  miss.deadline = from_ms(100);
  miss.inference_us = 100020;
  miss.total_us = 100020;
  Explanation why;
  why.task = 0;
  why.candidates = {banned, miss};
  sort_candidates(why);
  EXPECT_EQ(why.candidates[0].node, 0u) << "a miss before a node without a link";
  EXPECT_TRUE(contains(describe_estimate(s, s.tasks[0], banned), "b: no link from a")) << describe_estimate(s, s.tasks[0], banned);
  const std::string text = describe_estimate(s, s.tasks[0], miss);
  EXPECT_TRUE(contains(text, "(misses by 20 us")) << text;
  EXPECT_FALSE(contains(text, "misses by 0 ms")) << text;

  Explanation before, after;
  miss.transfer = from_ms(30);
  before.candidates = {miss};
  miss.transfer += std::chrono::microseconds(5);
  after.candidates = {miss};
  EXPECT_TRUE(before.same_reason(after)) << "5 us of bandwidth noise";
  miss.transfer = kNever;
  after.candidates = {miss};
  EXPECT_FALSE(before.same_reason(after)) << "the link vanished";
}

}  // namespace
}  // namespace coedge::policy
