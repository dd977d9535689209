#include "sim/lower_bound.h"

#include <gtest/gtest.h>

#include "../scenario_builder.h"

namespace coedge::sim {
namespace {

using testing::make_model;
using testing::ScenarioBuilder;

TEST(LowerBound, ZeroWhenThePooledCapacitySuffices) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .node("b")
                         .default_mbps(100)
                         .model(make_model("m", 100, 100))  // batching saves nothing
                         .task("A", "a", "m", 200)
                         .task("B", "a", "m", 200)
                         .build();
  EXPECT_DOUBLE_EQ(sim::miss_rate_lower_bound(s).miss_rate, 0.0);  // 1.0 of 2 accelerators
}

TEST(LowerBound, OverloadServesTheCheapestJobsFirst) {
  // One node. Cheap: 100 ms per job every 200 ms (0.5). Dear: 400 ms every 500 ms (0.8).
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .model(make_model("cheap", 100, 100))
                         .model(make_model("dear", 400, 400))
                         .task("C", "a", "cheap", 200)
                         .task("D", "a", "dear", 500)
                         .build();
  // Rates: 5/s and 2/s. Cheap jobs take 0.5 s/s; the remaining 0.5 s/s serves 1.25 of
  // the 2 dear jobs per second: 0.75 of 7 jobs per second are missed.
  const sim::MissRateBound b = sim::miss_rate_lower_bound(s);
  EXPECT_NEAR(b.accelerator, 0.75 / 7.0, 1e-12);
  EXPECT_NEAR(b.miss_rate, 0.75 / 7.0, 1e-12);
}

TEST(LowerBound, BatchingOnlyCountsWhereTheDeadlineAllowsIt) {
  // ExeTime(b) = 100 + 10 (b - 1): batch 10 costs 19 ms per job, but takes 190 ms.
  ScenarioBuilder b = ScenarioBuilder().node("a").model(make_model("m", 100, 10));
  for (int i = 0; i < 20; ++i) b.task("T" + std::to_string(i), "a", "m", 100, 0, 150);
  // Deadline 150 ms: batches up to b = 6 (150 ms) fit, at 25 ms per job. 20 jobs per
  // 100 ms need 20 x 25 / 100 = 5 accelerators; the one there serves a fifth of them.
  const sim::MissRateBound bound = sim::miss_rate_lower_bound(b.build());
  EXPECT_NEAR(bound.accelerator, 1.0 - 1.0 / 5.0, 1e-9);
}

// A link that becomes fast during the run (events) lets tasks reach the other node: the
// bound must count it (a run that used it achieved less than the start's network allows).
TEST(LowerBound, ALinkThatGetsFasterDuringTheRunCountsAtItsBest) {
  ScenarioBuilder builder;
  builder.node("a").node("b").link("a", "b", 0.5).model(make_model("m", 100, 100));
  builder.task("A", "a", "m", 150).task("B", "a", "m", 150).run(100, 10);
  Scenario s = builder.build();
  EXPECT_GT(sim::miss_rate_lower_bound(s).miss_rate, 0.2);  // one accelerator for 1.33 of work
  s.link_changes.push_back({from_ms(1), 0, 1, 1000});
  EXPECT_DOUBLE_EQ(sim::miss_rate_lower_bound(s).miss_rate, 0.0);
  s.link_changes.back().at = s.run.duration;  // at the very end: never used
  EXPECT_GT(sim::miss_rate_lower_bound(s).miss_rate, 0.2);
}

TEST(LowerBound, TasksNoNodeCanServeInTimeAlwaysMiss) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .model(make_model("m", 300, 0))
                         .task("Late", "a", "m", 1000, 0, 200)
                         .task("Fine", "a", "m", 1000)
                         .build();
  const sim::MissRateBound b = sim::miss_rate_lower_bound(s);
  EXPECT_DOUBLE_EQ(b.unreachable, 0.5);
  EXPECT_DOUBLE_EQ(b.miss_rate, 0.5);
}

}  // namespace
}  // namespace coedge::sim

namespace coedge::sim {
namespace {

TEST(LowerBound, LocalityCountsWhereTasksCannotReachIdleNodes) {
  // Two nodes with no link: all four tasks come from a, whose one accelerator can serve
  // half of their work; b idles. Pooled, two accelerators would suffice.
  ScenarioBuilder b = ScenarioBuilder().node("a").node("b").model(make_model("m", 100, 100));
  for (int i = 0; i < 4; ++i) b.task("T" + std::to_string(i), "a", "m", 200);
  const sim::MissRateBound bound = sim::miss_rate_lower_bound(b.build());
  EXPECT_NEAR(bound.accelerator, 0.5, 1e-12);
  // With a link, b can help and the bound drops to zero.
  ScenarioBuilder linked = ScenarioBuilder().node("a").node("b").link("a", "b", 1000).model(
      make_model("m", 100, 100, 1000));
  for (int i = 0; i < 4; ++i) linked.task("T" + std::to_string(i), "a", "m", 200);
  EXPECT_NEAR(sim::miss_rate_lower_bound(linked.build()).miss_rate, 0.0, 1e-12);
}

}  // namespace
}  // namespace coedge::sim
