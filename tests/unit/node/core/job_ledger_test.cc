// JobLedger: ids increase from 1; a job moves pre -> server -> post on pre_done() and
// inferred() (and never moves back on late or reordered news); done() decides met or
// overdue from post_end against the deadline (inclusive), falling back to `now` when no
// post_end is known; drop() closes with its reason; news about an unknown or closed job is
// ignored (false / nullopt) and never counted twice; drop_stage() closes only the jobs held
// by that stage (one task's pre or post worker, or the server for every task); expire()
// closes as kLost only jobs whose deadline + grace lies strictly before `now`; close_all();
// per-task and overall totals keep released == met + overdue + dropped + open;
// window_miss_rate() counts only jobs closed in (now - window, now]; oldest_in_stage() and
// open_by_stage(). A seeded randomized property test applies a few thousand random
// operations and checks the conservation invariant (and the bookkeeping against a model
// of what is open) after every one. Time is passed in by hand; nothing sleeps.
#include "node/core/job_ledger.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

namespace coedge::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Instants as milliseconds after a non-zero origin (TimePoint{} means "never reached").
TimePoint at(int64_t ms) { return TimePoint(seconds(1)) + milliseconds(ms); }

JobRecord post_stamps(TimePoint post_start, TimePoint post_end) {
  JobRecord r;
  r.post_start = post_start;
  r.post_end = post_end;
  return r;
}

void expect_conserved(const node::JobLedger& ledger, size_t tasks) {
  const node::TaskTotals all = ledger.totals();
  EXPECT_EQ(all.released, all.closed() + ledger.open());
  const auto by_stage = ledger.open_by_stage();
  ASSERT_EQ(by_stage.size(), tasks);
  node::TaskTotals sum;
  for (uint32_t t = 0; t < tasks; ++t) {
    const node::TaskTotals tt = ledger.totals(t);
    const size_t open_t = by_stage[t][0] + by_stage[t][1] + by_stage[t][2];
    EXPECT_EQ(tt.released, tt.met + tt.overdue + tt.dropped + open_t) << "task " << t;
    sum.released += tt.released;
    sum.met += tt.met;
    sum.overdue += tt.overdue;
    sum.dropped += tt.dropped;
  }
  EXPECT_EQ(sum.released, all.released);
  EXPECT_EQ(sum.met, all.met);
  EXPECT_EQ(sum.overdue, all.overdue);
  EXPECT_EQ(sum.dropped, all.dropped);
}

TEST(JobLedger, ReleaseIdsIncreaseFromOneAcrossTasks) {
  node::JobLedger ledger(3, seconds(10));
  EXPECT_EQ(ledger.release(0, at(0), at(100)), 1u);
  EXPECT_EQ(ledger.release(2, at(1), at(100)), 2u);
  EXPECT_EQ(ledger.release(1, at(2), at(100)), 3u);
  EXPECT_EQ(ledger.release(0, at(3), at(100)), 4u);
  EXPECT_EQ(ledger.open(), 4u);
  EXPECT_EQ(ledger.totals(0).released, 2u);
  EXPECT_EQ(ledger.totals(1).released, 1u);
  EXPECT_EQ(ledger.totals(2).released, 1u);
  EXPECT_EQ(ledger.totals().released, 4u);
  // Closing jobs never recycles ids.
  ledger.close_all(DropCause::kShutdown, at(5));
  EXPECT_EQ(ledger.release(1, at(6), at(100)), 5u);
  expect_conserved(ledger, 3);
}

TEST(JobLedger, StagesProgressPreServerPost) {
  node::JobLedger ledger(1, seconds(10));
  const uint64_t id = ledger.release(0, at(0), at(100));
  EXPECT_EQ(ledger.stage(id), node::JobStage::kPre);
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPre), at(0));

  EXPECT_TRUE(ledger.pre_done(id, at(1), at(5)));
  EXPECT_EQ(ledger.stage(id), node::JobStage::kServer);
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPre), std::nullopt);
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kServer), at(5));

  EXPECT_TRUE(ledger.inferred(id, at(6), at(20), 3));
  EXPECT_EQ(ledger.stage(id), node::JobStage::kPost);
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kServer), std::nullopt);
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPost), at(20));

  auto closed = ledger.done(id, post_stamps(at(21), at(30)), at(31));
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->id, id);
  EXPECT_EQ(closed->task, 0u);
  EXPECT_EQ(closed->release, at(0));
  EXPECT_EQ(closed->deadline, at(100));
  EXPECT_EQ(closed->pre_start, at(1));
  EXPECT_EQ(closed->pre_end, at(5));
  EXPECT_EQ(closed->infer_start, at(6));
  EXPECT_EQ(closed->infer_end, at(20));
  EXPECT_EQ(closed->batch, 3);
  EXPECT_EQ(closed->post_start, at(21));
  EXPECT_EQ(closed->post_end, at(30));
  EXPECT_EQ(closed->outcome, JobOutcome::kMet);
  EXPECT_EQ(closed->reason, DropCause::kNone);
  EXPECT_EQ(closed->end, at(30));  // finished when its post-processing did
  EXPECT_EQ(ledger.stage(id), std::nullopt);
  EXPECT_EQ(ledger.open(), 0u);
}

TEST(JobLedger, ReorderedNewsNeverMovesAJobBack) {
  node::JobLedger ledger(1, seconds(10));
  const uint64_t id = ledger.release(0, at(0), at(100));
  // The server's news overtakes the pre worker's: the job is at post-processing.
  EXPECT_TRUE(ledger.inferred(id, at(6), at(20), 2));
  EXPECT_EQ(ledger.stage(id), node::JobStage::kPost);
  EXPECT_TRUE(ledger.pre_done(id, at(1), at(5)));
  EXPECT_EQ(ledger.stage(id), node::JobStage::kPost);
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPost), at(20));
  auto closed = ledger.done(id, node::JobRecord{}, at(40));
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->pre_start, at(1));  // the late stamps were still kept
  EXPECT_EQ(closed->pre_end, at(5));
  EXPECT_EQ(closed->batch, 2);
}

TEST(JobLedger, DoneIsMetUpToAndIncludingTheDeadline) {
  node::JobLedger ledger(1, seconds(10));
  const uint64_t early = ledger.release(0, at(0), at(100));
  const uint64_t exact = ledger.release(0, at(0), at(100));
  const uint64_t late = ledger.release(0, at(0), at(100));
  // `now` (when the news arrives) is after the deadline for all three: only post_end counts.
  auto a = ledger.done(early, post_stamps(at(50), at(99)), at(500));
  auto b = ledger.done(exact, post_stamps(at(50), at(100)), at(500));
  auto c = ledger.done(late, post_stamps(at(50), at(101)), at(500));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->outcome, JobOutcome::kMet);
  EXPECT_EQ(b->outcome, JobOutcome::kMet);
  EXPECT_EQ(c->outcome, JobOutcome::kOverdue);
  EXPECT_EQ(c->reason, DropCause::kNone);
  EXPECT_EQ(c->end, at(101));
  const node::TaskTotals t = ledger.totals(0);
  EXPECT_EQ(t.met, 2u);
  EXPECT_EQ(t.overdue, 1u);
  EXPECT_EQ(t.dropped, 0u);
  EXPECT_DOUBLE_EQ(t.miss_rate(), 1.0 / 3.0);
}

TEST(JobLedger, DoneWithoutPostEndUsesNow) {
  node::JobLedger ledger(1, seconds(10));
  const uint64_t met = ledger.release(0, at(0), at(100));
  const uint64_t overdue = ledger.release(0, at(0), at(100));
  auto a = ledger.done(met, node::JobRecord{}, at(100));
  auto b = ledger.done(overdue, node::JobRecord{}, at(101));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->outcome, JobOutcome::kMet);
  EXPECT_EQ(a->end, at(100));
  EXPECT_FALSE(node::JobRecord::reached(a->post_end));
  EXPECT_EQ(b->outcome, JobOutcome::kOverdue);
  EXPECT_EQ(b->end, at(101));
}

TEST(JobLedger, DoneKeepsOnlyTheStampsTheReporterKnows) {
  node::JobLedger ledger(1, seconds(10));
  const uint64_t id = ledger.release(0, at(0), at(100));
  ASSERT_TRUE(ledger.pre_done(id, at(1), at(5)));
  ASSERT_TRUE(ledger.inferred(id, at(6), at(20), 4));
  node::JobRecord stamps;  // the post worker knows only its own times; batch 0 = unknown
  stamps.infer_end = at(21);  // a stamp it does know overrides the ledger's
  stamps.post_start = at(22);
  stamps.post_end = at(30);
  auto closed = ledger.done(id, stamps, at(31));
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->pre_start, at(1));
  EXPECT_EQ(closed->pre_end, at(5));
  EXPECT_EQ(closed->infer_start, at(6));
  EXPECT_EQ(closed->infer_end, at(21));
  EXPECT_EQ(closed->post_start, at(22));
  EXPECT_EQ(closed->batch, 4);
}

TEST(JobLedger, DropClosesWithItsReason) {
  node::JobLedger ledger(2, seconds(10));
  const uint64_t id = ledger.release(1, at(0), at(100));
  ASSERT_TRUE(ledger.pre_done(id, at(1), at(5)));
  auto closed = ledger.drop(id, DropCause::kBadFrame, at(7));
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->outcome, JobOutcome::kDropped);
  EXPECT_EQ(closed->reason, DropCause::kBadFrame);
  EXPECT_EQ(closed->end, at(7));
  EXPECT_EQ(closed->pre_end, at(5));
  EXPECT_EQ(ledger.totals(1).dropped, 1u);
  EXPECT_EQ(ledger.totals(0).dropped, 0u);
  expect_conserved(ledger, 2);
}

TEST(JobLedger, LateNewsForAClosedJobIsIgnoredAndNeverDoubleCounts) {
  node::JobLedger ledger(1, seconds(10));
  const uint64_t a = ledger.release(0, at(0), at(100));
  const uint64_t b = ledger.release(0, at(0), at(100));
  ASSERT_TRUE(ledger.done(a, post_stamps(at(1), at(2)), at(3)));
  ASSERT_TRUE(ledger.drop(b, DropCause::kWorkerCrash, at(3)));
  const node::TaskTotals before = ledger.totals(0);
  for (uint64_t id : {a, b}) {
    EXPECT_FALSE(ledger.pre_done(id, at(4), at(5)));
    EXPECT_FALSE(ledger.inferred(id, at(4), at(5), 1));
    EXPECT_EQ(ledger.done(id, post_stamps(at(4), at(5)), at(6)), std::nullopt);
    EXPECT_EQ(ledger.drop(id, DropCause::kLost, at(6)), std::nullopt);
    EXPECT_EQ(ledger.stage(id), std::nullopt);
  }
  // Unknown ids (never released, or 0) likewise.
  for (uint64_t id : {uint64_t{0}, uint64_t{99}}) {
    EXPECT_FALSE(ledger.pre_done(id, at(4), at(5)));
    EXPECT_FALSE(ledger.inferred(id, at(4), at(5), 1));
    EXPECT_EQ(ledger.done(id, node::JobRecord{}, at(6)), std::nullopt);
    EXPECT_EQ(ledger.drop(id, DropCause::kLost, at(6)), std::nullopt);
  }
  // Sweeps find nothing more to close.
  EXPECT_TRUE(ledger.expire(at(100000), milliseconds(0)).empty());
  EXPECT_TRUE(ledger.close_all(DropCause::kShutdown, at(100000)).empty());
  const node::TaskTotals after = ledger.totals(0);
  EXPECT_EQ(after.released, before.released);
  EXPECT_EQ(after.met, before.met);
  EXPECT_EQ(after.overdue, before.overdue);
  EXPECT_EQ(after.dropped, before.dropped);
  EXPECT_EQ(after.met, 1u);
  EXPECT_EQ(after.dropped, 1u);
  expect_conserved(ledger, 1);
}

// Two tasks, each with one job at each stage. Returns ids[task][stage].
std::array<std::array<uint64_t, 3>, 2> one_job_per_stage(node::JobLedger& ledger) {
  std::array<std::array<uint64_t, 3>, 2> ids{};
  for (uint32_t t = 0; t < 2; ++t) {
    for (size_t s = 0; s < 3; ++s) {
      const uint64_t id = ledger.release(t, at(0), at(100));
      if (s >= 1) {
        EXPECT_TRUE(ledger.pre_done(id, at(1), at(2)));
      }
      if (s >= 2) {
        EXPECT_TRUE(ledger.inferred(id, at(3), at(4), 1));
      }
      ids[t][s] = id;
    }
  }
  return ids;
}

TEST(JobLedger, DropStageOfOneTasksPreWorkerClosesOnlyItsPreJobs) {
  node::JobLedger ledger(2, seconds(10));
  const auto ids = one_job_per_stage(ledger);
  auto closed = ledger.drop_stage(0u, node::JobStage::kPre, DropCause::kWorkerCrash, at(10));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, ids[0][0]);
  EXPECT_EQ(closed[0].outcome, JobOutcome::kDropped);
  EXPECT_EQ(closed[0].reason, DropCause::kWorkerCrash);
  EXPECT_EQ(closed[0].end, at(10));
  EXPECT_EQ(ledger.open(), 5u);
  EXPECT_EQ(ledger.stage(ids[1][0]), node::JobStage::kPre);  // the other task's pre job stays
  EXPECT_EQ(ledger.stage(ids[0][1]), node::JobStage::kServer);
  EXPECT_EQ(ledger.stage(ids[0][2]), node::JobStage::kPost);
  EXPECT_EQ(ledger.totals(0).dropped, 1u);
  EXPECT_EQ(ledger.totals(1).dropped, 0u);
  // Nothing more to drop there.
  EXPECT_TRUE(ledger.drop_stage(0u, node::JobStage::kPre, DropCause::kWorkerCrash, at(11)).empty());
  expect_conserved(ledger, 2);
}

TEST(JobLedger, DropStageOfOneTasksPostWorkerClosesOnlyItsPostJobs) {
  node::JobLedger ledger(2, seconds(10));
  const auto ids = one_job_per_stage(ledger);
  auto closed = ledger.drop_stage(1u, node::JobStage::kPost, DropCause::kWorkerCrash, at(10));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, ids[1][2]);
  EXPECT_EQ(closed[0].reason, DropCause::kWorkerCrash);
  EXPECT_EQ(ledger.stage(ids[0][2]), node::JobStage::kPost);
  EXPECT_EQ(ledger.stage(ids[1][0]), node::JobStage::kPre);
  EXPECT_EQ(ledger.stage(ids[1][1]), node::JobStage::kServer);
  EXPECT_EQ(ledger.open(), 5u);
  expect_conserved(ledger, 2);
}

TEST(JobLedger, DropStageOfTheServerClosesEveryTasksServerJobs) {
  node::JobLedger ledger(2, seconds(10));
  const auto ids = one_job_per_stage(ledger);
  auto closed = ledger.drop_stage(std::nullopt, node::JobStage::kServer, DropCause::kServerCrash, at(10));
  ASSERT_EQ(closed.size(), 2u);
  std::set<uint64_t> got{closed[0].id, closed[1].id};
  EXPECT_EQ(got, (std::set<uint64_t>{ids[0][1], ids[1][1]}));
  for (const JobRecord& r : closed) {
    EXPECT_EQ(r.outcome, JobOutcome::kDropped);
    EXPECT_EQ(r.reason, DropCause::kServerCrash);
  }
  EXPECT_EQ(ledger.open(), 4u);
  const auto by_stage = ledger.open_by_stage();
  for (uint32_t t = 0; t < 2; ++t) {
    EXPECT_EQ(by_stage[t][0], 1u);
    EXPECT_EQ(by_stage[t][1], 0u);
    EXPECT_EQ(by_stage[t][2], 1u);
  }
  EXPECT_EQ(ledger.totals(0).dropped, 1u);
  EXPECT_EQ(ledger.totals(1).dropped, 1u);
  expect_conserved(ledger, 2);
}

TEST(JobLedger, ExpireClosesOnlyJobsPastDeadlinePlusGraceAsLost) {
  node::JobLedger ledger(2, seconds(10));
  const uint64_t a = ledger.release(0, at(0), at(100));   // lost at now > 150
  const uint64_t b = ledger.release(1, at(0), at(200));   // lost at now > 250
  const uint64_t c = ledger.release(0, at(0), at(150));   // exactly at the edge below
  ASSERT_TRUE(ledger.inferred(b, at(1), at(2), 1));       // stage does not matter
  const Duration grace = milliseconds(50);
  EXPECT_TRUE(ledger.expire(at(150), grace).empty());     // deadline + grace == now: not yet
  auto closed = ledger.expire(at(151), grace);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, a);
  EXPECT_EQ(closed[0].outcome, JobOutcome::kDropped);
  EXPECT_EQ(closed[0].reason, DropCause::kLost);
  EXPECT_EQ(closed[0].end, at(151));
  EXPECT_EQ(ledger.stage(b), node::JobStage::kPost);
  EXPECT_EQ(ledger.stage(c), node::JobStage::kPre);
  closed = ledger.expire(at(201), grace);  // c: 150 + 50 < 201
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, c);
  closed = ledger.expire(at(1000), grace);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, b);
  EXPECT_EQ(ledger.open(), 0u);
  EXPECT_EQ(ledger.totals(0).dropped, 2u);
  EXPECT_EQ(ledger.totals(1).dropped, 1u);
  expect_conserved(ledger, 2);
}

TEST(JobLedger, CloseAllDropsEveryOpenJobOnce) {
  node::JobLedger ledger(2, seconds(10));
  const auto ids = one_job_per_stage(ledger);
  ASSERT_TRUE(ledger.done(ids[0][2], post_stamps(at(5), at(6)), at(7)));
  auto closed = ledger.close_all(DropCause::kShutdown, at(20));
  ASSERT_EQ(closed.size(), 5u);
  for (size_t i = 0; i < closed.size(); ++i) {
    EXPECT_EQ(closed[i].outcome, JobOutcome::kDropped);
    EXPECT_EQ(closed[i].reason, DropCause::kShutdown);
    EXPECT_EQ(closed[i].end, at(20));
    if (i > 0) {
      EXPECT_LT(closed[i - 1].id, closed[i].id);  // deterministic: by id
    }
  }
  EXPECT_EQ(ledger.open(), 0u);
  EXPECT_TRUE(ledger.close_all(DropCause::kShutdown, at(21)).empty());
  const node::TaskTotals all = ledger.totals();
  EXPECT_EQ(all.released, 6u);
  EXPECT_EQ(all.met, 1u);
  EXPECT_EQ(all.dropped, 5u);
  expect_conserved(ledger, 2);
}

TEST(JobLedger, TotalsPerTaskAndOverall) {
  node::JobLedger ledger(3, seconds(10));
  const uint64_t a = ledger.release(0, at(0), at(100));
  const uint64_t b = ledger.release(0, at(0), at(100));
  const uint64_t c = ledger.release(1, at(0), at(100));
  ledger.release(2, at(0), at(100));  // stays open
  ASSERT_TRUE(ledger.done(a, post_stamps(at(1), at(50)), at(51)));
  ASSERT_TRUE(ledger.done(b, post_stamps(at(1), at(150)), at(151)));
  ASSERT_TRUE(ledger.drop(c, DropCause::kScheduler, at(10)));
  EXPECT_EQ(ledger.totals(0).met, 1u);
  EXPECT_EQ(ledger.totals(0).overdue, 1u);
  EXPECT_EQ(ledger.totals(1).dropped, 1u);
  EXPECT_EQ(ledger.totals(2).closed(), 0u);
  EXPECT_DOUBLE_EQ(ledger.totals(2).miss_rate(), 0.0);  // nothing closed yet
  const node::TaskTotals all = ledger.totals();
  EXPECT_EQ(all.released, 4u);
  EXPECT_EQ(all.met, 1u);
  EXPECT_EQ(all.overdue, 1u);
  EXPECT_EQ(all.dropped, 1u);
  EXPECT_DOUBLE_EQ(all.miss_rate(), 2.0 / 3.0);
  expect_conserved(ledger, 3);
}

TEST(JobLedger, WindowMissRateCountsOnlyJobsClosedInTheWindow) {
  node::JobLedger ledger(2, seconds(10));
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(0)), 0.0);  // none closed
  // Task 0: a miss closed at 1 s, a met job at 2 s, a miss at 5 s.
  const uint64_t a = ledger.release(0, at(0), at(100));
  const uint64_t b = ledger.release(0, at(0), at(100000));
  const uint64_t c = ledger.release(0, at(0), at(100000));
  ASSERT_TRUE(ledger.drop(a, DropCause::kScheduler, at(1000)));
  ASSERT_TRUE(ledger.done(b, post_stamps(at(1), at(1999)), at(2000)));
  ASSERT_TRUE(ledger.drop(c, DropCause::kBadFrame, at(5000)));
  // Task 1 has its own window.
  const uint64_t d = ledger.release(1, at(0), at(100000));
  ASSERT_TRUE(ledger.done(d, post_stamps(at(1), at(2)), at(3000)));

  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(5000)), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(1, at(5000)), 0.0);
  // The window is (now - 10 s, now]: a job closed exactly 10 s ago has fallen out.
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(10999)), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(11000)), 1.0 / 2.0);
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(12000)), 1.0);
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(15000)), 0.0);  // all fell out
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(1, at(15000)), 0.0);
  // The totals keep everything.
  EXPECT_EQ(ledger.totals(0).closed(), 3u);
  EXPECT_DOUBLE_EQ(ledger.totals(0).miss_rate(), 2.0 / 3.0);
  // New closings count again; overdue counts as a miss.
  const uint64_t e = ledger.release(0, at(15000), at(15100));
  ASSERT_TRUE(ledger.done(e, post_stamps(at(15050), at(15200)), at(15201)));
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(15300)), 1.0);
  const uint64_t f = ledger.release(0, at(15000), at(16000));
  ASSERT_TRUE(ledger.done(f, post_stamps(at(15050), at(15400)), at(15401)));
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(15500)), 0.5);
}

TEST(JobLedger, WindowMissRateCountsSweptJobs) {
  node::JobLedger ledger(1, seconds(10));
  ledger.release(0, at(0), at(100));
  ledger.release(0, at(0), at(100));
  const uint64_t met = ledger.release(0, at(0), at(5000));
  ASSERT_TRUE(ledger.done(met, post_stamps(at(1), at(2)), at(3)));
  ASSERT_EQ(ledger.expire(at(1000), milliseconds(10)).size(), 2u);
  EXPECT_DOUBLE_EQ(ledger.window_miss_rate(0, at(1000)), 2.0 / 3.0);
}

TEST(JobLedger, OldestInStageAndOpenByStage) {
  node::JobLedger ledger(2, seconds(10));
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPre), std::nullopt);
  const uint64_t a = ledger.release(0, at(10), at(1000));
  const uint64_t b = ledger.release(0, at(5), at(1000));  // released earlier, higher id
  const uint64_t c = ledger.release(0, at(20), at(1000));
  const uint64_t d = ledger.release(1, at(1), at(1000));
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPre), at(5));
  EXPECT_EQ(ledger.oldest_in_stage(1, node::JobStage::kPre), at(1));
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kServer), std::nullopt);

  // The server stage is entered at pre_end, not at release.
  ASSERT_TRUE(ledger.pre_done(b, at(30), at(40)));
  ASSERT_TRUE(ledger.pre_done(a, at(30), at(35)));
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPre), at(20));
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kServer), at(35));
  // The post stage at infer_end.
  ASSERT_TRUE(ledger.inferred(a, at(50), at(60), 2));
  ASSERT_TRUE(ledger.inferred(b, at(50), at(60), 2));
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kServer), std::nullopt);
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPost), at(60));
  EXPECT_EQ(ledger.oldest_in_stage(1, node::JobStage::kPost), std::nullopt);

  auto counts = ledger.open_by_stage();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0], (std::array<size_t, 3>{1, 0, 2}));
  EXPECT_EQ(counts[1], (std::array<size_t, 3>{1, 0, 0}));

  ASSERT_TRUE(ledger.drop(c, DropCause::kBadFrame, at(70)));
  ASSERT_TRUE(ledger.pre_done(d, at(2), at(3)));
  counts = ledger.open_by_stage();
  EXPECT_EQ(counts[0], (std::array<size_t, 3>{0, 0, 2}));
  EXPECT_EQ(counts[1], (std::array<size_t, 3>{0, 1, 0}));
  EXPECT_EQ(ledger.oldest_in_stage(0, node::JobStage::kPre), std::nullopt);
  EXPECT_EQ(ledger.oldest_in_stage(1, node::JobStage::kServer), at(3));
}

// Random operations on random (often closed or unknown) ids, checked against a simple
// model of which jobs are open and at which stage, with the conservation invariant after
// every step.
TEST(JobLedger, RandomOperationsConserveEveryJob) {
  constexpr size_t kTasks = 4;
  std::mt19937 rng(20240611);
  node::JobLedger ledger(kTasks, milliseconds(500));
  struct ModelJob {
    uint32_t task;
    node::JobStage stage;
    TimePoint deadline;
  };
  std::map<uint64_t, ModelJob> open;
  uint64_t released = 0, closed = 0, next_id = 1;
  int64_t now_ms = 0;
  auto pick = [&]() -> uint64_t {  // an id: open, closed, or never released
    return std::uniform_int_distribution<uint64_t>(0, next_id + 2)(rng);
  };
  auto check_closed = [&](const JobRecord& r, uint64_t id) {
    auto it = open.find(id);
    ASSERT_NE(it, open.end()) << "closed a job that was not open: " << id;
    EXPECT_EQ(r.task, it->second.task);
    EXPECT_NE(r.outcome, JobOutcome::kOpen);
    open.erase(it);
    ++closed;
  };
  const DropCause causes[] = {DropCause::kScheduler, DropCause::kBadFrame, DropCause::kWorkerCrash,
                              DropCause::kInferenceError, DropCause::kOverload};
  for (int step = 0; step < 5000; ++step) {
    now_ms += std::uniform_int_distribution<int64_t>(0, 5)(rng);
    const TimePoint now = at(now_ms);
    const int op = std::uniform_int_distribution<int>(0, 99)(rng);
    if (op < 30) {
      const auto task = std::uniform_int_distribution<uint32_t>(0, kTasks - 1)(rng);
      const TimePoint deadline = now + milliseconds(std::uniform_int_distribution<int>(10, 100)(rng));
      const uint64_t id = ledger.release(task, now, deadline);
      ASSERT_EQ(id, next_id);
      ++next_id;
      ++released;
      open.emplace(id, ModelJob{task, node::JobStage::kPre, deadline});
    } else if (op < 48) {
      const uint64_t id = pick();
      const bool was_open = open.count(id) != 0;
      EXPECT_EQ(ledger.pre_done(id, now, now), was_open);
      if (was_open && open[id].stage == node::JobStage::kPre) open[id].stage = node::JobStage::kServer;
    } else if (op < 64) {
      const uint64_t id = pick();
      const bool was_open = open.count(id) != 0;
      EXPECT_EQ(ledger.inferred(id, now, now, 1), was_open);
      if (was_open) open[id].stage = node::JobStage::kPost;
    } else if (op < 80) {
      const uint64_t id = pick();
      const bool was_open = open.count(id) != 0;
      node::JobRecord stamps;
      if (rng() % 2) stamps.post_end = now;
      auto r = ledger.done(id, stamps, now);
      ASSERT_EQ(r.has_value(), was_open);
      if (r) {
        EXPECT_EQ(r->outcome, now <= open[id].deadline ? JobOutcome::kMet : JobOutcome::kOverdue);
        check_closed(*r, id);
      }
    } else if (op < 90) {
      const uint64_t id = pick();
      const bool was_open = open.count(id) != 0;
      const DropCause cause = causes[rng() % std::size(causes)];
      auto r = ledger.drop(id, cause, now);
      ASSERT_EQ(r.has_value(), was_open);
      if (r) {
        EXPECT_EQ(r->reason, cause);
        check_closed(*r, id);
      }
    } else if (op < 95) {
      const auto stage = static_cast<node::JobStage>(rng() % 3);
      std::optional<uint32_t> task;
      if (stage != node::JobStage::kServer) task = static_cast<uint32_t>(rng() % kTasks);
      size_t expected = 0;
      for (const auto& [id, j] : open)
        if (j.stage == stage && (!task || j.task == *task)) ++expected;
      auto rs = ledger.drop_stage(task, stage, DropCause::kWorkerCrash, now);
      ASSERT_EQ(rs.size(), expected);
      for (const JobRecord& r : rs) {
        ASSERT_EQ(open.count(r.id), 1u);
        EXPECT_EQ(open.at(r.id).stage, stage);
        check_closed(r, r.id);
      }
    } else if (op < 99) {
      const Duration grace = milliseconds(std::uniform_int_distribution<int>(0, 50)(rng));
      size_t expected = 0;
      for (const auto& [id, j] : open)
        if (j.deadline + grace < now) ++expected;
      auto rs = ledger.expire(now, grace);
      ASSERT_EQ(rs.size(), expected);
      for (const JobRecord& r : rs) {
        EXPECT_EQ(r.reason, DropCause::kLost);
        check_closed(r, r.id);
      }
    } else {
      const size_t expected = open.size();
      auto rs = ledger.close_all(DropCause::kShutdown, now);
      ASSERT_EQ(rs.size(), expected);
      for (const JobRecord& r : rs) check_closed(r, r.id);
    }
    ASSERT_EQ(ledger.open(), open.size()) << "step " << step;
    const node::TaskTotals all = ledger.totals();
    ASSERT_EQ(all.released, released);
    ASSERT_EQ(all.closed(), closed);
    ASSERT_EQ(all.released, all.met + all.overdue + all.dropped + ledger.open()) << "step " << step;
    for (const auto& [id, j] : open) ASSERT_EQ(ledger.stage(id), j.stage) << "job " << id;
    const double rate = ledger.window_miss_rate(static_cast<uint32_t>(step % kTasks), now);
    ASSERT_GE(rate, 0.0);
    ASSERT_LE(rate, 1.0);
    expect_conserved(ledger, kTasks);
    if (::testing::Test::HasFailure()) FAIL() << "at step " << step;
  }
  EXPECT_GT(released, 1000u);
  EXPECT_GT(closed, 500u);
}

// claim_result(): one result per open job of its own task; unknown, closed, another
// task's and second results are told apart; the job stays open and moves on as before.
TEST(JobLedgerResults, OneResultPerOpenJobOfItsTask) {
  JobLedger ledger(2, seconds(120));
  const uint64_t a = ledger.release(0, at(0), at(100));
  const uint64_t b = ledger.release(1, at(0), at(100));
  EXPECT_EQ(ledger.claim_result(0, 0), ResultClaim::kUnknown);
  EXPECT_EQ(ledger.claim_result(b + 1, 0), ResultClaim::kUnknown);
  EXPECT_EQ(ledger.claim_result(b, 0), ResultClaim::kOtherTask);
  EXPECT_EQ(ledger.claim_result(a, 0), ResultClaim::kOk);
  EXPECT_EQ(ledger.claim_result(a, 0), ResultClaim::kDuplicate);
  EXPECT_EQ(ledger.stage(a), JobStage::kPre);
  ASSERT_TRUE(ledger.done(a, post_stamps(at(10), at(20)), at(20)).has_value());
  EXPECT_EQ(ledger.claim_result(a, 0), ResultClaim::kClosed);
  EXPECT_EQ(ledger.claim_result(b, 1), ResultClaim::kOk);
  EXPECT_EQ(ledger.totals().met, 1u);
  EXPECT_EQ(ledger.open(), 1u);
}

}  // namespace
}  // namespace coedge::node
