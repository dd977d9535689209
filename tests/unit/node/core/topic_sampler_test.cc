// TopicSampler: which frames of a faster (or slower) camera topic a task takes.
#include "node/core/topic_sampler.h"

#include <gtest/gtest.h>

#include <vector>

namespace coedge::node {
namespace {

constexpr int64_t kMs = 1'000'000;

// Offers every stamp, returns the indexes taken.
std::vector<size_t> taken(TopicSampler& s, const std::vector<int64_t>& stamps) {
  std::vector<size_t> out;
  for (size_t i = 0; i < stamps.size(); ++i) {
    if (s.offer(stamps[i])) out.push_back(i);
  }
  return out;
}

// n frames of a driver at `fps` from `start`, stamps truncated to ns as a driver does.
std::vector<int64_t> driver(double fps, int n, int64_t start = 1'700'000'000'000'000'000) {
  std::vector<int64_t> stamps;
  for (int i = 0; i < n; ++i) stamps.push_back(start + static_cast<int64_t>(i * 1e9 / fps));
  return stamps;
}

TEST(TopicSamplerTest, ThirtyFpsIntoAHundredMsTaskTakesEveryThirdFrame) {
  TopicSampler s(100 * kMs);
  const auto got = taken(s, driver(30, 30));
  ASSERT_EQ(got.size(), 10u);
  for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], 3 * k);
  EXPECT_EQ(s.taken(), 10u);
  EXPECT_EQ(s.skipped(), 20u);
}

TEST(TopicSamplerTest, ThirtyFpsIntoAFiftyMsTaskTakesOnePerPeriodOnAverage) {
  TopicSampler s(50 * kMs);
  // 0, 33, 67, 100, 133, 167, 200 ms...: the first frame at or just before each release
  // (0, 50, 100, ...; 12.5 ms early is accepted): 0, 67 (for 50), 100, 167 (for 150), 200.
  const auto got = taken(s, driver(30, 31));
  EXPECT_EQ(got, (std::vector<size_t>{0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24, 26, 27, 29, 30}));
  EXPECT_EQ(s.taken() + s.skipped(), 31u);
}

TEST(TopicSamplerTest, ATopicSlowerThanTheTaskHasEveryFrameTaken) {
  TopicSampler s(100 * kMs);
  const auto got = taken(s, driver(5, 10));  // one frame per 200 ms
  EXPECT_EQ(got.size(), 10u);
  EXPECT_EQ(s.skipped(), 0u);
}

TEST(TopicSamplerTest, AnExactPeriodDriverWithJitterHasEveryFrameTaken) {
  // A camera at the task's own period whose stamps come up to 20 ms early or late.
  TopicSampler s(100 * kMs);
  const int64_t jitter[] = {0, -20, 15, 20, -20, 0, -5, 20, -20, 10, -19, 19};
  std::vector<int64_t> stamps;
  for (int i = 0; i < 12; ++i) stamps.push_back(5'000 * kMs + i * 100 * kMs + jitter[i] * kMs);
  EXPECT_EQ(taken(s, stamps).size(), 12u);
  EXPECT_EQ(s.skipped(), 0u);
}

TEST(TopicSamplerTest, AFrameMoreThanAQuarterPeriodEarlyWaitsForTheNext) {
  TopicSampler s(100 * kMs);
  EXPECT_TRUE(s.offer(1000 * kMs));
  EXPECT_FALSE(s.offer(1074 * kMs));  // 26 ms before its release at 1100
  EXPECT_TRUE(s.offer(1075 * kMs));   // exactly a quarter early
  // The next slot is 1200 (its early edge 1175 lies after 1075).
  EXPECT_FALSE(s.offer(1174 * kMs));
  EXPECT_TRUE(s.offer(1176 * kMs));
}

TEST(TopicSamplerTest, DuplicatesAndReorderedFramesAreSkipped) {
  TopicSampler s(100 * kMs);
  EXPECT_TRUE(s.offer(1000 * kMs));
  EXPECT_FALSE(s.offer(1000 * kMs));  // the same frame again
  EXPECT_TRUE(s.offer(1100 * kMs));
  EXPECT_FALSE(s.offer(1100 * kMs));
  EXPECT_FALSE(s.offer(1090 * kMs));  // late, behind the last taken
  EXPECT_FALSE(s.offer(950 * kMs));   // older still, but less than 2 periods back
  EXPECT_TRUE(s.offer(1200 * kMs));
  EXPECT_EQ(s.taken(), 3u);
  EXPECT_EQ(s.skipped(), 4u);
}

TEST(TopicSamplerTest, AClockJumpBackReanchorsTheGrid) {
  TopicSampler s(100 * kMs);
  EXPECT_TRUE(s.offer(10'000 * kMs));
  EXPECT_TRUE(s.offer(10'100 * kMs));
  // The driver restarted with a clock 5 s behind: taken at once, the grid starts there.
  EXPECT_TRUE(s.offer(5'100 * kMs));
  EXPECT_FALSE(s.offer(5'150 * kMs));
  EXPECT_TRUE(s.offer(5'190 * kMs));
  // Exactly two periods back is not a jump: skipped as reordering.
  TopicSampler t(100 * kMs);
  EXPECT_TRUE(t.offer(10'000 * kMs));
  EXPECT_FALSE(t.offer(9'800 * kMs));
  EXPECT_TRUE(t.offer(9'799 * kMs));
}

TEST(TopicSamplerTest, ALateFrameDoesNotMakeTheNextSlotsCatchUp) {
  // A 300 ms gap (the driver stalled): the next frame is taken and the grid resumes from
  // the slot after it, not with a burst of the slots missed.
  TopicSampler s(100 * kMs);
  EXPECT_TRUE(s.offer(1000 * kMs));
  EXPECT_TRUE(s.offer(1330 * kMs));
  EXPECT_FALSE(s.offer(1360 * kMs));
  EXPECT_TRUE(s.offer(1390 * kMs));  // the slot of 1400, 10 ms early
}

TEST(TopicSamplerTest, TheGridIsTheMultiplesOfThePeriodWhereverTheFirstFrameFalls) {
  TopicSampler s(100 * kMs);
  EXPECT_TRUE(s.offer(1030 * kMs));   // the first frame: taken
  EXPECT_FALSE(s.offer(1063 * kMs));  // the next release is 1100, not 1130
  EXPECT_TRUE(s.offer(1096 * kMs));
  EXPECT_FALSE(s.offer(1129 * kMs));
  EXPECT_TRUE(s.offer(1196 * kMs));
}

// The hand-over property: a node that subscribed earlier and one that subscribed later
// (its first frame another one) take the same frames from the later one's next take on,
// whatever the phase of the driver's frames against the grid.
TEST(TopicSamplerTest, TwoNodesOfferedOneTopicFromDifferentFramesAgree) {
  for (const int64_t phase_ms : {0, 7, 13, 29, 41, 77}) {
    const auto stamps = driver(30, 300, 1'700'000'000'000'000'000 + phase_ms * kMs);
    for (const size_t late_start : {1u, 2u, 5u, 31u}) {
      TopicSampler early(200 * kMs), late(200 * kMs);
      std::vector<size_t> a, b;
      for (size_t i = 0; i < stamps.size(); ++i) {
        if (early.offer(stamps[i])) a.push_back(i);
        if (i >= late_start && late.offer(stamps[i])) b.push_back(i);
      }
      // Drop the late node's first take, and what each took up to the later node's second.
      ASSERT_GE(b.size(), 3u);
      const size_t from = b[1];
      std::erase_if(a, [&](size_t i) { return i < from; });
      std::erase_if(b, [&](size_t i) { return i < from; });
      EXPECT_EQ(a, b) << "phase " << phase_ms << " ms, second node from frame " << late_start;
    }
  }
}

}  // namespace
}  // namespace coedge::node
