#include "master/cluster_state.h"

#include <gtest/gtest.h>

#include "../scenario_builder.h"

namespace coedge::master {
namespace {

using testing::make_model;
using testing::ScenarioBuilder;

Scenario two_nodes() {
  return ScenarioBuilder()
      .node("a")
      .node("b")
      .default_mbps(100)
      .model(make_model("m", 100, 0, 12500))
      .task("T1", "a", "m", 500)
      .task("T2", "b", "m", 500)
      .build();
}

net::NodeReport report(const std::string& node, std::vector<net::TaskReport> tasks) {
  net::NodeReport r;
  r.node = node;
  r.tasks = std::move(tasks);
  return r;
}

TEST(ClusterState, AWindowIsTheDifferenceOfCumulativeCountersSummedOverNodes) {
  const Scenario s = two_nodes();
  master::ClusterState state(s);
  // T1 ran on a, then moved to b: both report it.
  ASSERT_TRUE(state.on_report(report("a", {{"T1", 10, 8, 1, 1, 90.0, 50.0, 0}})));
  (void)state.window(TimePoint{});
  ASSERT_TRUE(state.on_report(report("a", {{"T1", 12, 9, 1, 2, 100.0, 55.0, 0}})));
  ASSERT_TRUE(state.on_report(report("b", {{"T1", 4, 3, 1, 0, 40.0, 20.0, 0}})));
  const policy::WindowReport w = state.window(TimePoint{});
  ASSERT_EQ(w.tasks.size(), 2u);
  EXPECT_EQ(w.tasks[0].finished, 1u + 1u + 4u);  // a: +1 met, +1 dropped; b: 3 met, 1 overdue
  EXPECT_EQ(w.tasks[0].missed, 1u + 1u);
  EXPECT_EQ(w.tasks[0].completed, 1u + 4u);
  EXPECT_DOUBLE_EQ(to_ms(w.tasks[0].mean_latency), (10.0 + 40.0) / 5);
  EXPECT_EQ(w.tasks[1].finished, 0u);
}

TEST(ClusterState, ARestartedNodeKeepsWhatItReportedBefore) {
  const Scenario s = two_nodes();
  master::ClusterState state(s);
  state.on_report(report("a", {{"T1", 10, 10, 0, 0, 100.0, 100.0, 0}, {"T2", 4, 4, 0, 0, 8.0, 8.0, 0}}));
  // Restarted (report_checks.h decides): counters start again; T2 not run yet in this life.
  state.on_report(report("a", {{"T1", 3, 2, 0, 1, 20.0, 20.0, 0}}), /*new_lifetime=*/true);
  state.on_report(report("a", {{"T1", 5, 4, 0, 1, 40.0, 40.0, 0}, {"T2", 1, 1, 0, 0, 2.0, 2.0, 0}}));
  const auto accounts = state.accounts();
  EXPECT_EQ(accounts[0].accepted, 15u);
  EXPECT_EQ(accounts[0].met, 14u);
  EXPECT_EQ(accounts[0].dropped_by_nodes, 1u);
  EXPECT_EQ(accounts[1].accepted, 5u);
  EXPECT_DOUBLE_EQ(accounts[1].latency_sum_ms, 10.0);
}

TEST(ClusterState, ARestartedCameraAddsItsNewCountToItsOldOne) {
  const Scenario s = two_nodes();
  master::ClusterState state(s);
  state.on_source_stats({"T1", "a", 40, 1000, "a"});
  state.on_source_stats({"T1", "a", 3, 2000, "a"}, /*new_lifetime=*/true);
  state.on_source_stats({"T1", "a", 7, 3000, "a"});
  EXPECT_EQ(state.accounts()[0].released, 47u);
}

TEST(ClusterState, SumsOverLifetimesSaturateInsteadOfWrappingAround) {
  const Scenario s = two_nodes();
  master::ClusterState state(s);
  constexpr uint64_t kBig = uint64_t{1} << 53;  // the most a check lets through
  for (int life = 0; life < 3000; ++life)  // 3000 x 2^53 > 2^64
    state.on_report(report("a", {{"T1", kBig, kBig, 0, 0, 0.0, 0.0, 0}}), /*new_lifetime=*/life > 0);
  for (int life = 0; life < 3000; ++life) state.on_source_stats({"T1", "a", kBig, 1000 + life, "a"}, life > 0);
  const auto accounts = state.accounts();
  EXPECT_EQ(accounts[0].accepted, UINT64_MAX);
  EXPECT_EQ(accounts[0].met, UINT64_MAX);
  EXPECT_EQ(accounts[0].released, UINT64_MAX);
  EXPECT_EQ(master::saturating_add(UINT64_MAX - 1, 1), UINT64_MAX);
  EXPECT_EQ(master::saturating_add(UINT64_MAX, UINT64_MAX), UINT64_MAX);
  EXPECT_EQ(master::saturating_add(2, 3), 5u);
}

TEST(ClusterState, FramesNoNodeClosedAreLostAndCountAsDropped) {
  const Scenario s = two_nodes();
  master::ClusterState state(s);
  state.on_source_stats({"T1", "a", 20, 0, ""});
  state.on_report(report("a", {{"T1", 15, 12, 1, 1, 0, 0, 1}}));  // one still open
  const auto accounts = state.accounts();
  EXPECT_EQ(accounts[0].released, 20u);
  EXPECT_EQ(accounts[0].lost, 20u - 14u);
  EXPECT_EQ(accounts[0].dropped(), 1u + 6u);
  EXPECT_EQ(accounts[0].met + accounts[0].overdue + accounts[0].dropped(), accounts[0].released);
  EXPECT_DOUBLE_EQ(accounts[0].miss_rate(), 8.0 / 20.0);
}

TEST(ClusterState, ADriversTopicCountsTheFramesTheNodesTookAndIgnoresSourceStats) {
  Scenario s = two_nodes();
  s.tasks[1].topic = "/gate/image_raw";  // T2: a camera driver's, no camera count
  master::ClusterState state(s);
  state.on_source_stats({"T1", "a", 20, 0, ""});
  state.on_source_stats({"T2", "b", 1000, 0, ""});  // someone else's count: not this task's
  // T2 ran on a, then on b: 9 + 6 frames taken, one of b's still open (lost), no surplus.
  state.on_report(report("a", {{"T1", 20, 20, 0, 0, 0, 0, 0}, {"T2", 9, 7, 1, 1, 0, 0, 0}}));
  state.on_report(report("b", {{"T2", 6, 5, 0, 0, 0, 0, 1}}));
  const auto accounts = state.accounts();
  EXPECT_EQ(accounts[0].released, 20u);  // T1 still counts its camera's frames
  EXPECT_EQ(accounts[1].released, 15u);
  EXPECT_EQ(accounts[1].accepted, 15u);
  EXPECT_EQ(accounts[1].lost, 1u);
  EXPECT_EQ(accounts[1].surplus, 0u);
  EXPECT_EQ(accounts[1].met + accounts[1].overdue + accounts[1].dropped(), accounts[1].released);
}

TEST(ClusterState, LinksArePairedAtTheLowerDirectionAndUnknownNodesIgnored) {
  const Scenario s = two_nodes();
  master::ClusterState state(s);
  net::NodeReport a = report("a", {});
  a.links = {{"b", 40, "probe"}, {"nobody", 5, "probe"}};
  net::NodeReport b = report("b", {});
  b.links = {{"a", 30, "passive"}};
  EXPECT_TRUE(state.on_report(a));
  EXPECT_TRUE(state.on_report(b));
  EXPECT_FALSE(state.on_report(report("stranger", {})));
  const policy::WindowReport w = state.window(TimePoint{});
  ASSERT_EQ(w.links.size(), 1u);
  EXPECT_EQ(w.links[0].a, 0u);
  EXPECT_EQ(w.links[0].b, 1u);
  EXPECT_DOUBLE_EQ(w.links[0].mbps, 30.0);
  EXPECT_TRUE(state.window(TimePoint{}).links.empty());  // each measurement is used once
}

}  // namespace
}  // namespace coedge::master
