#include "node/cluster/cluster_config.h"

#include <filesystem>
#include <fstream>
#include <utility>

#include "config/node_config_loader.h"
#include "config/scenario_writer.h"
#include "node/cluster/cluster_feed.h"

namespace coedge::node {

Result<config::NodeConfig> cluster_node_config(const Scenario& scenario, const ClusterNodeSettings& settings) {
  if (scenario.find_node(settings.node) == kNone) {
    std::string names;
    for (const NodeSpec& n : scenario.nodes) names += (names.empty() ? "" : ", ") + n.name;
    return Error{ErrorCode::kInvalidInput, scenario.source_file + ": no node named '" + settings.node +
                                               "' (the scenario's nodes: " + names + ")"};
  }
  config::NodeConfig config;
  config.name = settings.node;
  config.source_file = scenario.source_file;
  config.scheduler = settings.scheduler;
  config.isolation = settings.isolation;
  config.backend_threads = settings.backend_threads;
  config.run_dir = settings.run_dir.empty() ? config::default_run_dir(settings.node) : settings.run_dir;
  for (const ModelProfile& m : scenario.models) {
    const std::string file = std::filesystem::absolute(settings.models_dir + "/" + m.name + ".onnx").string();
    if (!std::filesystem::exists(file)) {
      return Error{ErrorCode::kNotFound, "model " + m.name + ": " + file +
                                             " does not exist (--models-dir names the folder holding <model>.onnx)"};
    }
    if (m.input_shape.size() != 3 || m.input_shape[0] != 3) {
      return Error{ErrorCode::kUnsupported, scenario.source_file + ": model " + m.name +
                                                " needs input_shape [3, H, W] for its camera frames"};
    }
    config.models.push_back({m.name, file});
  }
  for (const TaskSpec& t : scenario.tasks) {
    const ModelProfile& m = scenario.models[t.model];
    config::SensorConfig sensor;
    sensor.name = t.name;
    sensor.kind = config::SensorKind::kTopic;
    sensor.path = camera_topic(scenario.nodes[t.source].name, t.name);
    sensor.height = static_cast<int>(m.input_shape[1]);
    sensor.width = static_cast<int>(m.input_shape[2]);
    sensor.period = t.period;
    config.sensors.push_back(sensor);
    config::NodeTaskConfig task;
    task.name = t.name;
    task.model = m.name;
    task.sensor = t.name;
    task.period = t.period;
    task.deadline = t.deadline;
    task.priority = t.priority;
    task.epsilon = t.epsilon;
    config.tasks.push_back(task);
  }
  std::error_code ec;
  std::filesystem::create_directories(config.run_dir, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create run folder " + config.run_dir + ": " + ec.message()};
  config.profiles = config.run_dir + "/profiles.yaml";
  if (!settings.write_profiles) return config;
  std::ofstream out(config.profiles);
  out << config::write_profile_set_yaml("cluster", "the profiles of scenario " + scenario.source_file,
                                scenario.models, "");
  if (!out) return Error{ErrorCode::kIo, "cannot write " + config.profiles};
  return config;
}

FeedStarter cluster_feed_starter(const ClusterOptions& options, const Scenario& scenario) {
  FeedStarter starter;
  starter.start = [options, &scenario](const config::NodeConfig& config, Accounting& accounting,
                                       Pipeline& pipeline, const Clock& clock) -> Result<std::unique_ptr<Feed>> {
    auto started = ClusterFeed::start(options, scenario, config, accounting, pipeline, clock);
    if (!started.ok()) return started.error();
    return std::unique_ptr<Feed>(std::move(*started));
  };
  starter.started =
      "joined the cluster (DDS domain " + std::to_string(options.domain) + "); waiting for the master's plan";
  return starter;
}

}  // namespace coedge::node
