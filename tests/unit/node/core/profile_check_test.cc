// ProfileCheck: synthetic batch timings against a made-up profile (no clock, no sleeps).
#include "node/core/profile_check.h"

#include <gtest/gtest.h>

namespace coedge::node {
namespace {

using std::chrono::milliseconds;

// Two models: "a" profiled 100 ms at b=1 and 180 ms at b=2; "b" has no profile (zeros).
std::vector<ModelProfile> models() {
  ModelProfile a;
  a.name = "a";
  a.exe_time[0] = milliseconds(100);
  a.exe_time[1] = milliseconds(180);
  ModelProfile b;
  b.name = "b";
  return {a, b};
}

TEST(ProfileCheck, WarnsOnceWhenTheMedianExceedsTheMargin) {
  ProfileCheck check(models(), 0.25);
  // The fifth batch completes the judged set; 140/100 = 1.4 > 1.25.
  for (int i = 0; i < kProfileCheckBatches - 1; ++i) {
    EXPECT_FALSE(check.on_batch(0, 1, milliseconds(140))) << i;
  }
  EXPECT_FALSE(check.ratio(0).has_value());
  auto finding = check.on_batch(0, 1, milliseconds(140));
  ASSERT_TRUE(finding);
  EXPECT_EQ(finding->kind, ProfileDeviation::kSlower);
  EXPECT_EQ(finding->model, 0u);
  EXPECT_EQ(finding->batch, 1);
  EXPECT_EQ(finding->batches, kProfileCheckBatches);
  EXPECT_DOUBLE_EQ(finding->measured_ms, 140);
  EXPECT_DOUBLE_EQ(finding->profiled_ms, 100);
  EXPECT_DOUBLE_EQ(finding->ratio, 1.4);
  ASSERT_TRUE(check.ratio(0));
  EXPECT_DOUBLE_EQ(*check.ratio(0), 1.4);
  // Judged once: more slow batches of that size say nothing new.
  for (int i = 0; i < 3 * kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 1, milliseconds(500)));
  EXPECT_EQ(check.findings().size(), 1u);
}

TEST(ProfileCheck, WithinTheMarginIsSilent) {
  ProfileCheck check(models(), 0.25);
  // b=1: median 120 ms, 1.2 <= 1.25; b=2: 146 ms, 180 / 146 < 1.25, not "faster" either.
  for (int i = 0; i < kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 1, milliseconds(120)));
  for (int i = 0; i < kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 2, milliseconds(146)));
  EXPECT_TRUE(check.findings().empty());
  ASSERT_TRUE(check.ratio(0));
  EXPECT_DOUBLE_EQ(*check.ratio(0), 1.2);  // the larger of 1.2 and 146/180
}

TEST(ProfileCheck, OneSlowFirstBatchDoesNotWarn) {
  ProfileCheck check(models(), 0.25);
  // A first run ten times slower (lazy initialisation), then on profile: the median is 100.
  EXPECT_FALSE(check.on_batch(0, 1, milliseconds(1000)));
  for (int i = 1; i < kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 1, milliseconds(100)));
  EXPECT_TRUE(check.findings().empty());
}

TEST(ProfileCheck, EachBatchSizeIsJudgedOnItsOwn) {
  ProfileCheck check(models(), 0.25);
  std::vector<ProfileFinding> found;
  // Interleaved: b=1 on profile, b=2 twice as slow as its profile.
  for (int i = 0; i < kProfileCheckBatches; ++i) {
    if (auto f = check.on_batch(0, 1, milliseconds(100))) found.push_back(*f);
    if (auto f = check.on_batch(0, 2, milliseconds(360))) found.push_back(*f);
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].batch, 2);
  EXPECT_DOUBLE_EQ(found[0].ratio, 2.0);
  EXPECT_DOUBLE_EQ(*check.ratio(0), 2.0);
}

TEST(ProfileCheck, FarBelowTheProfileIsAFasterFinding) {
  ProfileCheck check(models(), 0.25);
  std::optional<ProfileFinding> finding;
  for (int i = 0; i < kProfileCheckBatches; ++i) finding = check.on_batch(0, 1, milliseconds(50));
  ASSERT_TRUE(finding);
  EXPECT_EQ(finding->kind, ProfileDeviation::kFaster);
  EXPECT_DOUBLE_EQ(finding->ratio, 0.5);
}

TEST(ProfileCheck, TheMarginIsTheConfiguredOne) {
  ProfileCheck strict(models(), 0.1), lax(models(), 1.0);
  std::optional<ProfileFinding> a, b;
  for (int i = 0; i < kProfileCheckBatches; ++i) {
    a = strict.on_batch(0, 1, milliseconds(115));
    b = lax.on_batch(0, 1, milliseconds(190));
  }
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ProfileDeviation::kSlower);
  EXPECT_FALSE(b);  // 1.9 <= 2.0
  EXPECT_DOUBLE_EQ(lax.margin(), 1.0);
}

TEST(ProfileCheck, NothingToCompareWithIsIgnored) {
  ProfileCheck check(models(), 0.25);
  for (int i = 0; i < 2 * kProfileCheckBatches; ++i) {
    EXPECT_FALSE(check.on_batch(1, 1, milliseconds(500)));   // model without a profile
    EXPECT_FALSE(check.on_batch(0, 3, milliseconds(500)));   // size without a profiled time
    EXPECT_FALSE(check.on_batch(0, 0, milliseconds(500)));   // out of range
    EXPECT_FALSE(check.on_batch(0, kMaxBatch + 1, milliseconds(500)));
    EXPECT_FALSE(check.on_batch(7, 1, milliseconds(500)));   // unknown model
  }
  EXPECT_TRUE(check.findings().empty());
  EXPECT_FALSE(check.ratio(1));
  EXPECT_FALSE(check.ratio(7));
}

}  // namespace
}  // namespace coedge::node
