// The agent's frame holds (node/core/frame_holds.h): each hold is released exactly once,
// whichever way its job leaves pre-processing — its pre worker's kPreDone or kDropped, the
// pre worker's death, or the job closing otherwise (the sweep) — and never on a word
// about another task's job.
#include "node/core/frame_holds.h"

#include <gtest/gtest.h>

#include <set>

namespace coedge::node {
namespace {

FrameHolds::Hold hold(uint32_t task, uint64_t job, uint64_t bit, uint32_t index = 3) {
  FrameHolds::Hold h;
  h.sensor = 0;
  h.frame = ipc::ChunkRef{1, index, 7, 0};
  h.bit = bit;
  h.task = task;
  h.job = job;
  return h;
}

TEST(FrameHolds, AJobsOwnNewsReleasesItsHoldOnce) {
  FrameHolds holds;
  holds.add(hold(0, 10, 1));
  holds.add(hold(1, 11, 2));
  // kPreDone (or kDropped) of job 10 from task 0's pre worker.
  const auto first = holds.take_job(0, 10);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->bit, 1u);
  EXPECT_EQ(first->frame.index, 3u);
  // A second word about it (a duplicate, or the sweep) finds nothing.
  EXPECT_FALSE(holds.take_job(0, 10).has_value());
  EXPECT_TRUE(holds.take_if([](const FrameHolds::Hold& h) { return h.job == 10; }).empty());
  EXPECT_EQ(holds.size(), 1u);
}

TEST(FrameHolds, AnotherTasksWordReleasesNothing) {
  FrameHolds holds;
  holds.add(hold(1, 11, 2));
  EXPECT_FALSE(holds.take_job(0, 11).has_value());  // task 0's worker naming task 1's job
  EXPECT_EQ(holds.size(), 1u);
  EXPECT_TRUE(holds.take_job(1, 11).has_value());
}

TEST(FrameHolds, ADeadPreWorkersHoldsAreReleasedOnceAndOnlyItsTasks) {
  FrameHolds holds;
  holds.add(hold(0, 10, 1, 3));
  holds.add(hold(1, 11, 2, 3));
  holds.add(hold(0, 12, 1, 4));
  const auto gone = holds.take_task(0);
  ASSERT_EQ(gone.size(), 2u);
  std::set<uint64_t> jobs;
  for (const auto& h : gone) jobs.insert(h.job);
  EXPECT_EQ(jobs, (std::set<uint64_t>{10, 12}));
  EXPECT_TRUE(holds.take_task(0).empty());  // a second reclaim: nothing more
  EXPECT_FALSE(holds.take_job(0, 10).has_value());  // its late news: nothing
  EXPECT_EQ(holds.size(), 1u);
}

TEST(FrameHolds, TheSweepReleasesJobsThatLeftPreProcessingOnce) {
  FrameHolds holds;
  holds.add(hold(0, 10, 1));
  holds.add(hold(0, 11, 1, 4));
  // Job 11 closed without its pre worker's word (expired, dropped elsewhere).
  std::set<uint64_t> closed = {11};
  auto done = [&](const FrameHolds::Hold& h) { return closed.count(h.job) != 0; };
  const auto swept = holds.take_if(done);
  ASSERT_EQ(swept.size(), 1u);
  EXPECT_EQ(swept[0].job, 11u);
  EXPECT_TRUE(holds.take_if(done).empty());
  EXPECT_FALSE(holds.take_job(0, 11).has_value());  // the worker's late kDropped
  EXPECT_TRUE(holds.take_job(0, 10).has_value());
  EXPECT_EQ(holds.size(), 0u);
}

TEST(FrameHolds, AJobIsHeldOnce) {
  FrameHolds holds;
  holds.add(hold(0, 10, 1));
  EXPECT_DEATH(holds.add(hold(0, 10, 1)), "");
}

}  // namespace
}  // namespace coedge::node
