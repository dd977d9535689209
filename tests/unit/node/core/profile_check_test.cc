// ProfileCheck: synthetic batch timings against a made-up profile (no clock, no sleeps).
#include "node/core/profile_check.h"

#include <gtest/gtest.h>

#include "node/core/accounting.h"

namespace coedge::node {
namespace {

using std::chrono::milliseconds;

// Two models: "a" profiled 100 ms at b=1, 180 ms at b=2, 250 ms at b=3 (nothing beyond);
// "b" has no profile (zeros).
std::vector<ModelProfile> models() {
  ModelProfile a;
  a.name = "a";
  a.exe_time[0] = milliseconds(100);
  a.exe_time[1] = milliseconds(180);
  a.exe_time[2] = milliseconds(250);
  ModelProfile b;
  b.name = "b";
  return {a, b};
}

TEST(ProfileCheck, TheModelIsJudgedOnceItsFirstBatchesAreIn) {
  ProfileCheck check(models(), 0.25);
  // The third batch completes the model's judgment; 140/100 = 1.4 > 1.25.
  for (int i = 0; i < kProfilePooledBatches - 1; ++i) {
    EXPECT_FALSE(check.on_batch(0, 1, milliseconds(140))) << i;
  }
  EXPECT_FALSE(check.ratio(0).has_value());
  auto finding = check.on_batch(0, 1, milliseconds(140));
  ASSERT_TRUE(finding);
  EXPECT_TRUE(finding->pooled);
  EXPECT_EQ(finding->kind, ProfileDeviation::kSlower);
  EXPECT_EQ(finding->model, 0u);
  EXPECT_EQ(finding->batch, 1);
  EXPECT_EQ(finding->batches, kProfilePooledBatches);
  EXPECT_DOUBLE_EQ(finding->measured_ms, 140);
  EXPECT_DOUBLE_EQ(finding->profiled_ms, 100);
  EXPECT_DOUBLE_EQ(finding->ratio, 1.4);
  ASSERT_TRUE(check.ratio(0));
  EXPECT_DOUBLE_EQ(*check.ratio(0), 1.4);
  // The size's own judgment (at its fifth batch) agrees: kept as detail, not said again.
  for (int i = 0; i < 3 * kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 1, milliseconds(140)));
  EXPECT_EQ(check.findings().size(), 1u);
  ASSERT_EQ(check.size_findings().size(), 1u);
  EXPECT_FALSE(check.size_findings()[0].pooled);
  EXPECT_EQ(check.size_findings()[0].batches, kProfileCheckBatches);
  EXPECT_DOUBLE_EQ(check.size_findings()[0].ratio, 1.4);
}

TEST(ProfileCheck, MixedBatchSizesAreJudgedTogether) {
  // A batching scheduler spreads the model over sizes 1, 2 and 3, each about twice its
  // profile: no size reaches kProfileCheckBatches batches, the model's judgment warns.
  ProfileCheck check(models(), 0.25);
  EXPECT_FALSE(check.on_batch(0, 1, milliseconds(210)));  // 2.1x
  EXPECT_FALSE(check.on_batch(0, 3, milliseconds(450)));  // 1.8x
  auto finding = check.on_batch(0, 2, milliseconds(360));  // 2.0x
  ASSERT_TRUE(finding);
  EXPECT_TRUE(finding->pooled);
  EXPECT_EQ(finding->kind, ProfileDeviation::kSlower);
  // The median batch, a real one: size 2, 360 ms against 180 ms.
  EXPECT_EQ(finding->batch, 2);
  EXPECT_EQ(finding->batches, 3);
  EXPECT_DOUBLE_EQ(finding->measured_ms, 360);
  EXPECT_DOUBLE_EQ(finding->profiled_ms, 180);
  EXPECT_DOUBLE_EQ(finding->ratio, 2.0);
  EXPECT_DOUBLE_EQ(*check.ratio(0), 2.0);
  EXPECT_TRUE(check.size_findings().empty());  // no size judged yet
}

TEST(ProfileCheck, FewBatchesOfALongPeriodTaskSuffice) {
  // A task with a 4 s period runs three batches in a 10 s window: a slow first one (lazy
  // initialisation) and two at 1.5x. Two batches are not enough to judge; three are.
  ProfileCheck check(models(), 0.25);
  EXPECT_FALSE(check.on_batch(0, 1, milliseconds(900)));
  EXPECT_FALSE(check.on_batch(0, 1, milliseconds(150)));
  EXPECT_FALSE(check.ratio(0));
  auto finding = check.on_batch(0, 1, milliseconds(150));
  ASSERT_TRUE(finding);
  EXPECT_DOUBLE_EQ(finding->ratio, 1.5);
  EXPECT_DOUBLE_EQ(finding->measured_ms, 150);
}

TEST(ProfileCheck, WithinTheMarginIsSilent) {
  ProfileCheck check(models(), 0.25);
  // b=1: median 120 ms, 1.2 <= 1.25; b=2: 146 ms, 180 / 146 < 1.25, not "faster" either.
  for (int i = 0; i < kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 1, milliseconds(120)));
  for (int i = 0; i < kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 2, milliseconds(146)));
  EXPECT_TRUE(check.findings().empty());
  EXPECT_TRUE(check.size_findings().empty());
  ASSERT_TRUE(check.ratio(0));
  EXPECT_DOUBLE_EQ(*check.ratio(0), 1.2);  // the largest of the model's 1.2, b=1's 1.2, b=2's 146/180
}

TEST(ProfileCheck, OneSlowFirstBatchDoesNotWarn) {
  ProfileCheck check(models(), 0.25);
  // A first run ten times slower (lazy initialisation), then on profile: the median is 100.
  EXPECT_FALSE(check.on_batch(0, 1, milliseconds(1000)));
  for (int i = 1; i < kProfileCheckBatches; ++i) EXPECT_FALSE(check.on_batch(0, 1, milliseconds(100)));
  EXPECT_TRUE(check.findings().empty());
}

TEST(ProfileCheck, ASizeThatLeavesAMatchingModelIsReported) {
  ProfileCheck check(models(), 0.25);
  // The model's first batches are of size 1 and on profile: it matches. Size 2 then runs
  // twice as slow as its profile: its own judgment says so, once.
  for (int i = 0; i < kProfilePooledBatches; ++i) EXPECT_FALSE(check.on_batch(0, 1, milliseconds(100)));
  std::vector<ProfileFinding> found;
  for (int i = 0; i < 2 * kProfileCheckBatches; ++i) {
    if (auto f = check.on_batch(0, 1, milliseconds(100))) found.push_back(*f);
    if (auto f = check.on_batch(0, 2, milliseconds(360))) found.push_back(*f);
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_FALSE(found[0].pooled);
  EXPECT_EQ(found[0].batch, 2);
  EXPECT_EQ(found[0].batches, kProfileCheckBatches);
  EXPECT_DOUBLE_EQ(found[0].ratio, 2.0);
  EXPECT_DOUBLE_EQ(*check.ratio(0), 2.0);
  EXPECT_EQ(check.findings().size(), 1u);
}

TEST(ProfileCheck, FarBelowTheProfileIsAFasterFinding) {
  ProfileCheck check(models(), 0.25);
  std::optional<ProfileFinding> finding;
  for (int i = 0; i < kProfilePooledBatches; ++i) finding = check.on_batch(0, 1, milliseconds(50));
  ASSERT_TRUE(finding);
  EXPECT_EQ(finding->kind, ProfileDeviation::kFaster);
  EXPECT_DOUBLE_EQ(finding->ratio, 0.5);
}

TEST(ProfileCheck, TheMarginIsTheConfiguredOne) {
  ProfileCheck strict(models(), 0.1), lax(models(), 1.0);
  std::optional<ProfileFinding> a, b;
  for (int i = 0; i < kProfilePooledBatches; ++i) {
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
    EXPECT_FALSE(check.on_batch(0, 4, milliseconds(500)));   // size without a profiled time
    EXPECT_FALSE(check.on_batch(0, 0, milliseconds(500)));   // out of range
    EXPECT_FALSE(check.on_batch(0, kMaxBatch + 1, milliseconds(500)));
    EXPECT_FALSE(check.on_batch(7, 1, milliseconds(500)));   // unknown model
  }
  EXPECT_TRUE(check.findings().empty());
  EXPECT_FALSE(check.ratio(0));  // none of those counted towards model a's judgment
  EXPECT_FALSE(check.ratio(1));
  EXPECT_FALSE(check.ratio(7));
}

// The check is fed by the accounting (NodeMetrics::on_batch, the batch observer): a batch
// whose jobs have all closed already (expired while queued, on a node far slower than its
// profile) is observed too, else the slowest nodes would never be warned.
TEST(ProfileCheckFeed, ABatchWhoseJobsHaveAllClosedIsStillObserved) {
  using std::chrono::seconds;
  Scenario scenario;
  scenario.models.push_back(models()[0]);
  TaskSpec task;
  task.name = "t";
  task.model = 0;
  task.period = milliseconds(100);
  task.deadline = milliseconds(100);
  scenario.tasks.push_back(task);
  config::NodeConfig config;
  config.name = "n";
  config.window = seconds(10);
  config.tasks = scenario.tasks;
  NodeMetrics metrics("n", {{"t", "a", 0.1}}, {"a"});
  std::vector<std::pair<int, Duration>> seen;
  metrics.set_batch_observer([&seen](uint32_t, int b, Duration d) { seen.emplace_back(b, d); });
  const TimePoint t0{};
  Accounting accounting(config, scenario, metrics, nullptr, t0);
  const uint64_t id = accounting.release(0, t0, t0 + milliseconds(100));
  accounting.expire(t0 + seconds(1), Duration{});  // closed while its batch still runs
  accounting.inferred(id, 0, t0 + milliseconds(200), t0 + milliseconds(1500), 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, 1);
  EXPECT_EQ(seen[0].second, milliseconds(1300));
  EXPECT_EQ(accounting.batch_times()[0][0].count, 1u);
}

}  // namespace
}  // namespace coedge::node
