// What the fuzz targets (fuzz/, docs/SECURITY.md "Fuzzing") found in the config readers,
// each as the smallest input that showed it; the reproducers themselves are in the seed
// corpora (fuzz/corpus/TARGET/crash-*), so every fuzz run replays them too.
#include <gtest/gtest.h>

#include <string>

#include "config/node_config_loader.h"
#include "config/scenario_loader.h"
#include "config_test_util.h"

namespace coedge::config {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// yaml-cpp 0.7's LoadAll never returned on a stray ',' outside any collection (its parser
// reports an empty document there forever; the scenario, profile-set and node-config
// readers all grew memory until killed). Now a syntax error at that place.
TEST(FuzzRegressions, StrayCommaIsASyntaxErrorNotAHang) {
  for (const std::string& text : {std::string(","), std::string("# comment\n  ,,,,\n"), std::string("name: x\n,\n")}) {
    Result<Scenario> s = parse_scenario(text, "x.yaml", testing::kDataDir);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_TRUE(contains(s.error().message, "x.yaml:")) << s.error().message;
    Result<NodeConfig> n = parse_node_config(text, "n.yaml", testing::kDataDir);
    ASSERT_FALSE(n.ok()) << text;
  }
  Result<Scenario> s = parse_scenario(",", "x.yaml", testing::kDataDir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "x.yaml:1: YAML syntax error: the text cannot be read on from here at ',' (a stray character "
            "outside any list or map?)");
  // A real second document is still named as one.
  Result<Scenario> two = parse_scenario("name: a\n---\nname: b\n", "x.yaml", testing::kDataDir);
  ASSERT_FALSE(two.ok());
  EXPECT_TRUE(contains(two.error().message, "only one YAML document is allowed per file")) << two.error().message;
}

// A task without `sensor:` (or `model:`) was reported as missing the field but kept, with
// sensor index 0: the sensor-period check then read config.sensors[0] of an empty list.
TEST(FuzzRegressions, TaskWithoutSensorOrModelIsReportedNotKept) {
  for (const std::string& text : {std::string("tasks:\n  - {name: t, period: 1s}\n"),
                                  std::string("tasks:\n  - {name: t, model: m, period: 1s}\n"),
                                  std::string("tasks:\n  - {name: t, sensor: c, period: 1s}\n")}) {
    Result<NodeConfig> r = parse_node_config(text, "n.yaml", testing::kDataDir);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_TRUE(contains(r.error().message, "n.yaml:")) << r.error().message;
  }
  Result<NodeConfig> r = parse_node_config("tasks:\n  - {name: t, period: 1s}\n", "n.yaml", testing::kDataDir);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "missing required field")) << r.error().message;
}

}  // namespace
}  // namespace coedge::config
