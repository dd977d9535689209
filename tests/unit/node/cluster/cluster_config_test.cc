// A cluster node's config is its scenario's models and tasks, the same structs (one task
// schema: config/node_config.h), with a topic sensor per task; no profile file is written.
#include "node/cluster/cluster_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/node_config_loader.h"
#include "config/scenario_loader.h"

namespace coedge::node {
namespace {

namespace fs = std::filesystem;

TEST(ClusterNodeConfig, TasksAreTheScenariosOwn) {
  const fs::path dir = fs::temp_directory_path() / ("coedge-cluster-config-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "models");
  std::ofstream(dir / "models/det.onnx") << "stand-in";
  auto scenario = config::parse_scenario(
      "name: s\n"
      "models:\n"
      "  - {name: det, input_shape: [3, 64, 48], exe_ms: [5, 8, 11, 14, 17, 20, 23, 26, 29, 32]}\n"
      "nodes: [{name: n1}, {name: n2}]\n"
      "network: {default_mbps: 100}\n"
      "tasks:\n"
      "  - {name: a, source: n2, model: det, period: 250ms, deadline: 200ms, priority: 2, epsilon: 0.05}\n"
      "  - {name: b, source: n1, model: det, period: 1s}\n",
      (dir / "s.yaml").string(), dir.string());
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  ClusterNodeSettings settings;
  settings.node = "n1";
  settings.models_dir = (dir / "models").string();
  settings.run_dir = (dir / "run").string();
  auto config = cluster_node_config(*scenario, settings);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->models, scenario->models);  // profiles included
  EXPECT_EQ(config->profiles, scenario->source_file);
  ASSERT_EQ(config->tasks.size(), 2u);
  for (size_t t = 0; t < 2; ++t) {
    TaskSpec expected = scenario->tasks[t];
    expected.source = 0;  // the node's own one-node view
    EXPECT_EQ(config->tasks[t], expected);
    const config::SensorConfig& sensor = config->sensors[config->task_runtime[t].sensor];
    EXPECT_EQ(sensor.kind, config::SensorKind::kTopic);
    EXPECT_EQ(sensor.name, scenario->tasks[t].name);
    EXPECT_EQ(sensor.width, 48);
    EXPECT_EQ(sensor.height, 64);
  }
  EXPECT_FALSE(fs::exists(dir / "run/profiles.yaml"));  // nothing goes through a file

  // The same task from a node file is the same struct.
  std::ofstream(dir / "set.yaml") << "profile_set: p\nmodels:\n"
                                     "  - {name: det, input_shape: [3, 64, 48], "
                                     "exe_ms: [5, 8, 11, 14, 17, 20, 23, 26, 29, 32]}\n";
  auto node = config::parse_node_config(
      "profiles: set.yaml\n"
      "models: [{name: det, file: models/det.onnx}]\n"
      "sensors: [{name: c, kind: synthetic}]\n"
      "tasks: [{name: a, model: det, sensor: c, period: 250ms, deadline: 200ms, priority: 2, epsilon: 0.05}]\n",
      "n.yaml", dir.string());
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(node->tasks[0], config->tasks[0]);
  EXPECT_EQ(node->models[0].exe_time, config->models[0].exe_time);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace coedge::node
