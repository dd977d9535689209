// The writer: what it writes reads back to an equal scenario, it is deterministic, and
// names that YAML would misread are quoted.
#include "config/scenario_writer.h"

#include <gtest/gtest.h>

#include <random>

#include "config/scenario_loader.h"
#include "config_test_util.h"

namespace coedge::config {
namespace {

using namespace std::chrono_literals;
using testing::expect_same_scenario;
using testing::kDataDir;

Scenario round_trip(const Scenario& s) {
  const std::string text = config::write_scenario_yaml(s);
  Result<Scenario> back = config::parse_scenario(text, "written.yaml", "/nonexistent");
  EXPECT_TRUE(back.ok()) << back.error().message << "\n" << text.substr(0, 4000);
  return back.ok() ? *back : Scenario{};
}

TEST(ScenarioWriter, BaseScenarioRoundTrips) {
  Result<Scenario> s = config::parse_scenario(testing::kBase, "x.yaml", kDataDir);
  ASSERT_TRUE(s.ok()) << s.error().message;
  expect_same_scenario(*s, round_trip(*s));
}

TEST(ScenarioWriter, ADriversTopicRoundTrips) {
  Result<Scenario> s = config::parse_scenario(testing::kBase, "x.yaml", kDataDir);
  ASSERT_TRUE(s.ok()) << s.error().message;
  s->tasks[0].topic = "/gate/image_raw/compressed";
  const Scenario back = round_trip(*s);
  expect_same_scenario(*s, back);
  EXPECT_EQ(back.tasks[0].topic, "/gate/image_raw/compressed");
  EXPECT_EQ(back.tasks[1].topic, "");
}

TEST(ScenarioWriter, ProfiledScenarioBecomesSelfContained) {
  Result<Scenario> s = config::load_scenario(kDataDir + "/lamppost.yaml");
  ASSERT_TRUE(s.ok()) << s.error().message;
  const std::string text = config::write_scenario_yaml(*s);
  EXPECT_EQ(text.find("profiles:"), std::string::npos);
  EXPECT_EQ(text.find("from:"), std::string::npos);
  // Read from a folder without the profile files: nothing is needed from outside, and
  // where the numbers came from is kept.
  Scenario back = round_trip(*s);
  expect_same_scenario(*s, back);
  EXPECT_EQ(back.models[1].profile_source, kDataDir + "/profiles/jetson-tx2.yaml");
}

TEST(ScenarioWriter, OutputIsDeterministicAndExplicit) {
  Result<Scenario> s = config::parse_scenario(testing::kBase, "x.yaml", kDataDir);
  ASSERT_TRUE(s.ok());
  const std::string a = config::write_scenario_yaml(*s);
  EXPECT_EQ(a, config::write_scenario_yaml(*s));
  EXPECT_EQ(a, config::write_scenario_yaml(round_trip(*s)));
  EXPECT_NE(a.find("    deadline: 100ms\n    priority: 0\n    epsilon: 0.1\n"), std::string::npos)
      << a;
  EXPECT_NE(a.find("    input_bytes: 3072\n"), std::string::npos) << a;
  EXPECT_NE(a.find("  links:\n    - between: [n1, n2]\n      mbps: 100\n      latency: 0s\n"),
            std::string::npos)
      << a;
}

// A random fleet with awkward values: sub-millisecond times, fractional bandwidths,
// names YAML would read as something else unless quoted.
Scenario random_scenario(int nodes, int tasks, uint32_t seed) {
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Scenario s;
  s.name = "fleet: \"quoted\" name";
  s.run.duration = Duration(uniform(1, 1 << 30));
  s.run.window = 90500us;
  s.run.seed = 0xFFFFFFFFFFFFFFFFull;
  s.run.release_jitter = 1us;
  s.run.random_phase = false;
  s.run.exec_jitter = 0.1 / 3;
  const char* odd_names[] = {"true", "null", "1", "a b", "x: y", "-", "#c", "[l]", "yes", "é"};
  for (int i = 0; i < nodes; ++i) {
    NodeSpec n;
    n.name = i < 10 ? odd_names[i] : "node-" + std::to_string(i);
    n.cpu_cores = uniform(1, 64);
    s.nodes.push_back(n);
  }
  s.network.default_mbps = 12.345678901234567;
  s.network.default_latency = 1500us;
  s.network.adjacency.assign(s.nodes.size(), {});
  for (int i = 0; i < nodes * 3; ++i) {
    const auto a = static_cast<NodeIndex>(uniform(0, nodes - 1));
    const auto b = static_cast<NodeIndex>(uniform(0, nodes - 1));
    if (a != b) s.network.set(a, b, 1.0 / uniform(1, 1000), Duration(uniform(0, 5000)));
  }
  for (int m = 0; m < 5; ++m) {
    ModelProfile p;
    p.name = "model\t" + std::to_string(m);
    p.input_shape = {3, uniform(1, 1024), uniform(1, 1024)};
    p.input_bytes = uniform(1, 1 << 30);
    Duration t{uniform(1, 100000)};
    for (Duration& e : p.exe_time) e = t += Duration(uniform(0, 100000));
    p.pre_time = Duration(uniform(0, 100000));
    p.post_time = Duration(uniform(0, 100000));
    p.profile_source = m == 0 ? "inline" : "profiles/set " + std::to_string(m) + ".yaml";
    s.models.push_back(p);
  }
  for (int i = 0; i < tasks; ++i) {
    TaskSpec t;
    t.name = "task/" + std::to_string(i);
    t.source = static_cast<NodeIndex>(uniform(0, nodes - 1));
    t.model = static_cast<ModelIndex>(uniform(0, 4));
    t.period = Duration(uniform(1, 10000000));
    t.deadline = Duration(uniform(1, 10000000));
    t.priority = uniform(-5, 5);
    t.epsilon = uniform(0, 1000) / 1000.0;
    s.tasks.push_back(t);
  }
  for (int i = 0; i < 20; ++i) {
    const auto a = static_cast<NodeIndex>(uniform(0, nodes - 2));
    s.link_changes.push_back(LinkChange{Duration(uniform(0, 5) * 1000000), a, a + 1, uniform(1, 99) / 7.0});
  }
  std::stable_sort(s.link_changes.begin(), s.link_changes.end(),
                   [](const LinkChange& x, const LinkChange& y) { return x.at < y.at; });
  return s;
}

TEST(ScenarioWriter, RandomFleetRoundTripsExactly) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const Scenario s = random_scenario(200, 2000, seed);
    expect_same_scenario(s, round_trip(s));
  }
}

TEST(ScenarioWriter, LargeFleetRoundTrips) {
  // City scale in nodes; fewer tasks than a city (100,000) only to keep this unit test
  // around a second, most of it yaml-cpp reading. Speed is not asserted here.
  const Scenario s = random_scenario(10000, 20000, 7);
  expect_same_scenario(s, round_trip(s));
}

}  // namespace
}  // namespace coedge::config
