#include "policy/estimators.h"

#include <gtest/gtest.h>

#include <cmath>

#include "policy/similarity.h"
#include "../scenario_builder.h"

namespace coedge::policy {
namespace {

using testing::make_model;
using testing::ScenarioBuilder;

TEST(CommTime, Eq2IsBytesOverBandwidthPlusLatency) {
  Scenario s = ScenarioBuilder().node("a").node("b").node("c").build();
  s.network.set(0, 1, 80, from_ms(1));
  // 1,228,800 bytes * 8 / 80e6 bit/s = 122.88 ms, plus 1 ms of latency.
  EXPECT_EQ(policy::comm_time(s.network, 1228800, 0, 1), Duration(123880));
  EXPECT_EQ(policy::comm_time(s.network, 1228800, 1, 0), Duration(123880));  // links are undirected
}

TEST(CommTime, ZeroOnTheSourceAndNeverWithoutALink) {
  Scenario s = ScenarioBuilder().node("a").node("b").node("c").build();
  s.network.set(0, 1, 80, Duration{0});
  EXPECT_EQ(policy::comm_time(s.network, 1000, 2, 2), Duration{0});
  EXPECT_EQ(policy::comm_time(s.network, 1000, 0, 2), kNever);
  s.network.default_mbps = 8;  // 1000 bytes at 8 Mbit/s = 1 ms
  EXPECT_EQ(policy::comm_time(s.network, 1000, 0, 2), Duration(1000));
}

TEST(ExecEstimate, Eq3SumsTheNodesLoadOverThePeriodOfTheNewTask) {
  const Scenario s = ScenarioBuilder()
                         .node("n")
                         .model(make_model("vgg", 200, 0, 1, 10, 5))
                         .model(make_model("yolo", 650, 0))
                         .task("V1", "n", "vgg", 700)
                         .task("Y1", "n", "yolo", 1300)
                         .task("V2", "n", "vgg", 700)
                         .build();
  // V2 joins a node running V1 and Y1. Eq. 3 with m = V2, over S_k plus V2 itself:
  // 700*200/700 + 700*650/1300 + 700*200/700 = 200 + 350 + 200 = 750 ms, C = 10 + 5 ms.
  double load = 0;
  for (const TaskSpec& t : s.tasks) load += policy::task_load(t, s.models[t.model]);
  const TaskSpec& v2 = s.tasks[2];
  EXPECT_NEAR(policy::exec_estimate_us(v2, s.models[0], load, 0.0), 765000.0, 1e-6);
  // The online correction scales the whole estimate: (1 + 0.2) * 765 ms.
  EXPECT_NEAR(policy::exec_estimate_us(v2, s.models[0], load, 0.2), 918000.0, 1e-6);
}

TEST(LoadCapacity, IsTheInverseOfEq3) {
  const Scenario s = ScenarioBuilder()
                         .node("n")
                         .model(make_model("vgg", 200, 0, 1, 10, 5))
                         .task("V1", "n", "vgg", 700, 0, 600)
                         .build();
  const TaskSpec& v1 = s.tasks[0];
  // Deadline 600 ms, 20 ms of transfer, C = 15 ms: 700 * U + 15 <= 580 -> U <= 565/700.
  const double cap = policy::load_capacity(v1, s.models[0], from_ms(20), 0.0);
  EXPECT_NEAR(cap, 565.0 / 700.0, 1e-12);
  EXPECT_NEAR(policy::exec_estimate_us(v1, s.models[0], cap, 0.0) + 20000.0, 600000.0, 1e-6);
  EXPECT_LT(policy::load_capacity(v1, s.models[0], kNever, 0.0), 0.0);
}

TEST(Similarity, Eq4MatchesThePapersExample) {
  // Three model types; the node runs 2 tasks of type 1 and 3 of type 3: EV = (2, 0, 3).
  const double node[] = {2, 0, 3};
  const double type2[] = {0, 1, 0};
  const double type1[] = {1, 0, 0};
  EXPECT_DOUBLE_EQ(policy::cosine_similarity(type2, node), 0.0);
  EXPECT_NEAR(policy::cosine_similarity(type1, node), 2.0 / std::sqrt(13.0), 1e-12);
  const uint32_t counts[] = {2, 0, 3};
  EXPECT_NEAR(policy::task_similarity(0, counts, 13), 2.0 / std::sqrt(13.0), 1e-12);
  EXPECT_NEAR(policy::task_similarity(2, counts, 13), 3.0 / std::sqrt(13.0), 1e-12);
  EXPECT_DOUBLE_EQ(policy::task_similarity(1, counts, 13), 0.0);
}

TEST(Similarity, AnEmptyNodeSharesNothing) {
  const double zero[] = {0, 0};
  const double one[] = {1, 0};
  EXPECT_DOUBLE_EQ(policy::cosine_similarity(one, zero), 0.0);
  const uint32_t counts[] = {0, 0};
  EXPECT_DOUBLE_EQ(policy::task_similarity(0, counts, 0), 0.0);
}

}  // namespace
}  // namespace coedge::policy
