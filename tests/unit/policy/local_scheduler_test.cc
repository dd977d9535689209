#include "policy/local_scheduler.h"

#include <gtest/gtest.h>

#include "policy/coedge_scheduler.h"
#include "policy/deadline_drop_scheduler.h"
#include "policy/triton_scheduler.h"

#include "../scenario_builder.h"

namespace coedge::policy {
namespace {

using testing::make_model;

TimePoint at_ms(double ms) { return kEpoch + from_ms(ms); }

class LocalSchedulerTest : public ::testing::Test {
 protected:
  // Model 0: 100 ms alone, +20 ms per extra image. Model 1: 50 ms alone, +10 ms.
  Scenario scenario = [] {
    Scenario s;
    s.models = {make_model("a", 100, 20), make_model("b", 50, 10)};
    return s;
  }();
  const std::vector<ModelProfile>& models = scenario.models;
  uint64_t next_id = 0;

  policy::Job job(ModelIndex model, double deadline_ms, int priority = 0, TaskIndex task = 0) {
    return policy::Job{next_id++, task, model, kEpoch, at_ms(deadline_ms), priority};
  }
  std::unique_ptr<policy::LocalScheduler> make(const char* spec) {
    auto parsed = SchedulerSpec::parse(spec);
    EXPECT_TRUE(parsed.ok()) << spec;
    return policy::make_local_scheduler(*parsed, scenario);
  }
  static std::vector<uint64_t> ids(const std::vector<policy::Job>& jobs) {
    std::vector<uint64_t> out;
    for (const policy::Job& j : jobs) out.push_back(j.id);
    return out;
  }
};

TEST_F(LocalSchedulerTest, CoedgeEq5RunsTheModelHoldingTheEarliestDeadline) {
  auto s = make("coedge");
  s->on_ready(job(0, 500), kEpoch);  // id 0
  s->on_ready(job(1, 300), kEpoch);  // id 1: the earliest deadline is in model 1's queue
  s->on_ready(job(0, 250), kEpoch);  // id 2
  policy::Decision d;
  s->decide(kEpoch, d);
  EXPECT_EQ(d.model, 0u);  // id 2 (250 ms) is the earliest; it sits in model 0's queue
  s->on_ready(job(1, 100), kEpoch);
  s->decide(kEpoch, d);
  EXPECT_EQ(d.model, 1u);
}

TEST_F(LocalSchedulerTest, CoedgeEq6TakesTheLargestBatchThatMeetsTheEarliestDeadline) {
  auto s = make("coedge");
  // Deadlines 165, 200, 300, 400 ms; ExeTime(a, b) = 100 + 20 (b - 1).
  for (double d : {300.0, 165.0, 400.0, 200.0}) s->on_ready(job(0, d), kEpoch);
  policy::Decision d;
  s->decide(at_ms(10), d);
  // At 10 ms: b = 3 ends at 150 <= 165, b = 4 ends at 170 > 165. The three earliest run.
  EXPECT_EQ(d.model, 0u);
  EXPECT_EQ(ids(d.batch), (std::vector<uint64_t>{1, 3, 0}));
  EXPECT_EQ(d.expected, from_ms(140));
  EXPECT_TRUE(d.dropped.empty());
  EXPECT_EQ(s->queued(), 1u);
}

TEST_F(LocalSchedulerTest, CoedgeMeetingTheDeadlineExactlyCounts) {
  auto s = make("coedge");
  s->on_ready(job(0, 120), kEpoch);
  s->on_ready(job(0, 500), kEpoch);
  policy::Decision d;
  s->decide(kEpoch, d);
  EXPECT_EQ(d.batch.size(), 2u);  // 0 + ExeTime(a, 2) = 120 ms = the earliest deadline
}

TEST_F(LocalSchedulerTest, CoedgeBatchesAtMostTen) {
  auto s = make("coedge");
  for (int i = 0; i < 15; ++i) s->on_ready(job(1, 10000), kEpoch);
  policy::Decision d;
  s->decide(kEpoch, d);
  EXPECT_EQ(d.batch.size(), 10u);
  EXPECT_EQ(d.expected, from_ms(140));
  EXPECT_EQ(s->queued(), 5u);
}

TEST_F(LocalSchedulerTest, CoedgeDropsJobsThatCannotMeetTheirDeadlineAlone) {
  auto s = make("coedge");
  s->on_ready(job(0, 150), kEpoch);  // id 0: at 60 ms, 60 + 100 > 150: dropped
  s->on_ready(job(0, 160), kEpoch);  // id 1: 60 + 100 = 160: feasible
  s->on_ready(job(1, 100), kEpoch);  // id 2: 60 + 50 > 100: dropped
  policy::Decision d;
  s->decide(at_ms(60), d);
  EXPECT_EQ(ids(d.dropped), (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(d.model, 0u);
  EXPECT_EQ(ids(d.batch), (std::vector<uint64_t>{1}));
  EXPECT_EQ(s->queued(), 0u);
}

TEST_F(LocalSchedulerTest, CoedgeTiesGoToTheLowerModelThenTheEarlierRelease) {
  auto s = make("coedge");
  s->on_ready(job(1, 300), kEpoch);  // id 0
  s->on_ready(job(0, 300), kEpoch);  // id 1
  policy::Decision d;
  s->decide(kEpoch, d);
  EXPECT_EQ(d.model, 0u);

  // One model, one deadline: the earlier release runs first, whatever order the jobs
  // became ready in. At 10 ms only one job fits before 120 ms (ExeTime(2) = 120 ms).
  auto same = make("coedge");
  policy::Job early = job(0, 120);  // id 2, released at 0
  policy::Job late = job(0, 120);   // id 3, released at 10 ms
  late.release = at_ms(10);
  same->on_ready(late, at_ms(10));
  same->on_ready(early, at_ms(10));
  same->decide(at_ms(10), d);
  EXPECT_EQ(d.model, 0u);
  EXPECT_EQ(ids(d.batch), (std::vector<uint64_t>{early.id}));
  same->decide(at_ms(10), d);
  EXPECT_EQ(ids(d.batch), (std::vector<uint64_t>{late.id}));
}

TEST_F(LocalSchedulerTest, CoedgeIdleQueueDecidesNothing) {
  auto s = make("coedge");
  policy::Decision d;
  s->decide(kEpoch, d);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_TRUE(d.dropped.empty());
  EXPECT_EQ(d.wake_at, TimePoint::max());
}

TEST_F(LocalSchedulerTest, EdfRunsOneJobAtATimeByDeadlineAndNeverDrops) {
  auto s = make("edf");
  s->on_ready(job(0, 300), kEpoch);  // id 0
  s->on_ready(job(1, 100), kEpoch);  // id 1
  s->on_ready(job(0, 100), kEpoch);  // id 2: same deadline as id 1, released later
  policy::Decision d;
  std::vector<uint64_t> order;
  for (int i = 0; i < 3; ++i) {
    s->decide(at_ms(1000), d);  // every deadline has passed: still no drop
    ASSERT_EQ(d.batch.size(), 1u);
    EXPECT_TRUE(d.dropped.empty());
    order.push_back(d.batch[0].id);
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 0}));
  EXPECT_EQ(d.expected, from_ms(100));
}

TEST_F(LocalSchedulerTest, FixedRunsTheHighestPriorityFirst) {
  auto s = make("fixed");
  s->on_ready(job(0, 100, 1), kEpoch);  // id 0
  s->on_ready(job(1, 900, 5), kEpoch);  // id 1
  s->on_ready(job(0, 800, 5), kEpoch);  // id 2: same priority, earlier deadline than id 1
  policy::Decision d;
  std::vector<uint64_t> order;
  for (int i = 0; i < 3; ++i) {
    s->decide(kEpoch, d);
    ASSERT_EQ(d.batch.size(), 1u);
    order.push_back(d.batch[0].id);
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{2, 1, 0}));
}

TEST_F(LocalSchedulerTest, UnknownNameIsAnError) {
  auto s = SchedulerSpec::parse("fifo");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("fifo"), std::string::npos);
  EXPECT_NE(s.error().message.find("coedge, edf, fixed, triton, deadline-drop"), std::string::npos);
}

TEST_F(LocalSchedulerTest, CoedgeWaitHoldsALoneJobWhenTheNextOneIsDueAndWaitingSavesTime) {
  policy::CoedgeScheduler s(models, policy::CoedgeSchedulerOptions{true});
  policy::Decision d;
  // Model 0 jobs arrive every 50 ms; ExeTime(a, b) = 100 + 20 (b - 1).
  s.on_ready(job(0, 1000), at_ms(0));
  s.decide(at_ms(0), d);  // no arrival pattern known yet: runs at once, as the paper's rule
  ASSERT_EQ(d.batch.size(), 1u);
  s.on_ready(job(0, 1000), at_ms(50));
  s.decide(at_ms(50), d);  // gap 50 ms known now; waiting 50 + 120 < 100 + 100: hold
  EXPECT_TRUE(d.batch.empty());
  EXPECT_EQ(d.wake_at, at_ms(112.5));  // the expected arrival (100) plus a quarter gap
  s.on_ready(job(0, 1000), at_ms(100));
  s.decide(at_ms(100), d);  // two jobs now; the next is due at 150: waiting saves time again
  EXPECT_TRUE(d.batch.empty());
  s.decide(at_ms(162), d);  // the expected job (150) did not come: run what is there
  EXPECT_EQ(d.batch.size(), 2u);
}

TEST_F(LocalSchedulerTest, CoedgeWaitRunsAtOnceWhenWaitingCostsMore) {
  Scenario slow;  // batching saves nothing: ExeTime(b) = 100 b
  slow.models = {make_model("a", 100, 100)};
  policy::CoedgeScheduler s(slow.models, policy::CoedgeSchedulerOptions{true});
  policy::Decision d;
  s.on_ready(job(0, 5000), at_ms(0));
  s.decide(at_ms(0), d);
  s.on_ready(job(0, 5000), at_ms(50));
  s.decide(at_ms(50), d);
  EXPECT_EQ(d.batch.size(), 1u);
}

TEST_F(LocalSchedulerTest, CoedgeWaitNeverHoldsAnotherModelPastItsDeadline) {
  policy::CoedgeScheduler s(models, policy::CoedgeSchedulerOptions{true});
  policy::Decision d;
  s.on_ready(job(0, 1000), at_ms(0));
  s.decide(at_ms(0), d);
  s.on_ready(job(0, 1000), at_ms(50));
  s.on_ready(job(1, 1030), at_ms(50));  // model 1 must start by 980: no room to wait
  s.decide(at_ms(50), d);
  EXPECT_EQ(d.model, 0u);
  EXPECT_EQ(d.batch.size(), 1u);
}

TEST_F(LocalSchedulerTest, DeadlineDropServesModelsRoundRobinWithTheLargestFeasibleBatch) {
  policy::DeadlineDropScheduler s(models);
  s.on_ready(job(0, 1000), kEpoch);  // id 0
  s.on_ready(job(0, 1000), kEpoch);  // id 1
  s.on_ready(job(1, 60), kEpoch);    // id 2: the most urgent, but model 0 has the first turn
  policy::Decision d;
  s.decide(kEpoch, d);
  EXPECT_EQ(d.model, 0u);
  EXPECT_EQ(d.batch.size(), 2u);
  s.decide(at_ms(5), d);  // model 1's turn: 5 + 50 <= 60
  EXPECT_EQ(d.model, 1u);
  s.on_ready(job(1, 100), at_ms(10));  // id 3
  s.on_ready(job(0, 100), at_ms(10));  // id 4: cannot make it (10 + 100 > 100)
  s.decide(at_ms(10), d);
  EXPECT_EQ(ids(d.dropped), (std::vector<uint64_t>{4}));
  EXPECT_EQ(d.model, 1u);  // model 0's turn, but its queue is empty now
}

policy::TritonConfig one_level(std::vector<policy::TritonModelConfig> per_model) {
  policy::TritonConfig c;
  c.models = std::move(per_model);
  c.priority_levels = {0};
  return c;
}

TEST_F(LocalSchedulerTest, TritonRunsAPreferredBatchAtOnce) {
  policy::TritonScheduler s(models, one_level({{{2, 4}, from_ms(50), kNever}, {{4}, from_ms(50), kNever}}));
  for (int i = 0; i < 3; ++i) s.on_ready(job(0, 5000), kEpoch);
  policy::Decision d;
  s.decide(kEpoch, d);
  EXPECT_EQ(d.batch.size(), 2u);  // 3 queued: the largest preferred size that fits is 2
  EXPECT_EQ(d.expected, from_ms(120));
}

TEST_F(LocalSchedulerTest, TritonWaitsUpToTheQueueDelayThenRunsWhatItHas) {
  policy::TritonScheduler s(models, one_level({{{4}, from_ms(50), kNever}, {{4}, from_ms(50), kNever}}));
  s.on_ready(job(0, 5000), at_ms(10));
  policy::Decision d;
  s.decide(at_ms(10), d);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_EQ(d.wake_at, at_ms(60));  // the oldest request's delay runs out
  s.on_ready(job(0, 5000), at_ms(30));
  s.decide(at_ms(30), d);
  EXPECT_TRUE(d.batch.empty());
  s.decide(at_ms(60), d);
  EXPECT_EQ(d.batch.size(), 2u);
  EXPECT_EQ(d.wake_at, TimePoint::max());
}

TEST_F(LocalSchedulerTest, TritonRejectsTimedOutRequestsAndIgnoresDeadlines) {
  policy::TritonScheduler s(models, one_level({{{1}, Duration{0}, from_ms(100)}, {{1}, Duration{0}, kNever}}));
  s.on_ready(job(0, 10), kEpoch);   // id 0: deadline long gone at 50 ms; Triton runs it
  s.on_ready(job(0, 10), at_ms(0)); // id 1
  policy::Decision d;
  s.decide(at_ms(50), d);
  EXPECT_TRUE(d.dropped.empty());
  EXPECT_EQ(ids(d.batch), (std::vector<uint64_t>{0}));
  s.decide(at_ms(150), d);  // id 1 has waited 150 ms > 100 ms
  EXPECT_EQ(ids(d.dropped), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(d.batch.empty());
}

TEST_F(LocalSchedulerTest, TritonServesHigherPriorityLevelsFirstAndTheOldestModel) {
  policy::TritonConfig c = one_level({{{2}, Duration{0}, kNever}, {{1}, Duration{0}, kNever}});
  c.priority_levels = {5, 1};
  policy::TritonScheduler s(models, c);
  s.on_ready(job(0, 5000, 1), at_ms(1));  // id 0, low priority
  s.on_ready(job(1, 5000, 1), at_ms(2));  // id 1, model 1
  s.on_ready(job(0, 5000, 1), at_ms(3));  // id 2, low
  s.on_ready(job(0, 5000, 5), at_ms(4));  // id 3, high
  policy::Decision d;
  s.decide(at_ms(4), d);
  EXPECT_EQ(d.model, 0u);  // its oldest request (1 ms) came first
  EXPECT_EQ(ids(d.batch), (std::vector<uint64_t>{3, 0}));  // the high level first, then FIFO
}

TEST_F(LocalSchedulerTest, TritonKnobsOverrideTheDefaultsAndAreChecked) {
  for (const TaskSpec& t : std::vector<TaskSpec>{{"t", 0, 0, from_ms(500), from_ms(500), 0, 0.1, ""}})
    scenario.tasks.push_back(t);
  auto s = make("triton:preferred=3,max-queue-delay=0ms");
  for (int i = 0; i < 4; ++i) s->on_ready(job(0, 5000), kEpoch);
  policy::Decision d;
  s->decide(kEpoch, d);
  EXPECT_EQ(d.batch.size(), 3u);
  s->decide(kEpoch, d);  // no queue delay: the one left runs at once, short of 3
  EXPECT_EQ(d.batch.size(), 1u);
  // With the default queue delay, the one left waits for more.
  auto delayed = make("triton:preferred=3");
  for (int i = 0; i < 4; ++i) delayed->on_ready(job(0, 5000), kEpoch);
  delayed->decide(kEpoch, d);
  EXPECT_EQ(d.batch.size(), 3u);
  delayed->decide(kEpoch, d);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_GT(d.wake_at, kEpoch);
  auto bad = SchedulerSpec::parse("triton:preferred=0,4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("1-10"), std::string::npos);
}

TEST(TritonConfig, CarefulDefaultsFollowTheTightestDeadline) {
  Scenario s;
  s.models = {make_model("m", 100, 20, 1000, 10, 10)};  // ExeTime(b) = 80 + 20 b ms
  TaskSpec t;
  t.model = 0;
  t.priority = 2;
  t.deadline = from_ms(700);
  s.tasks = {t};
  t.deadline = from_ms(500);
  t.priority = 7;
  s.tasks.push_back(t);
  const policy::TritonConfig c = policy::careful_triton_config(s);
  // budget = 500 - 20 = 480 ms; ExeTime(b) <= 240 for b <= 8.
  EXPECT_EQ(c.models[0].preferred_batch_sizes, (std::vector<int>{8}));
  EXPECT_EQ(c.models[0].max_queue_delay, from_ms(120));  // (480 - 240) / 2
  EXPECT_EQ(c.models[0].timeout, from_ms(380));          // 480 - 100
  EXPECT_EQ(c.priority_levels, (std::vector<int>{7, 2}));
}

}  // namespace
}  // namespace coedge::policy
