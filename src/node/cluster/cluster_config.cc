#include "node/cluster/cluster_config.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include "config/model_backend.h"
#include "config/node_config_loader.h"
#include "node/cluster/cluster_feed.h"

namespace coedge::node {
namespace {

// The largest frame a task on a camera driver's topic accepts (larger: dropped, too_large).
constexpr int kDriverMaxWidth = 1920;
constexpr int kDriverMaxHeight = 1080;

}  // namespace

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
  config.backend = settings.backend;
  config.run_dir = settings.run_dir.empty() ? config::default_run_dir(settings.node) : settings.run_dir;
  // The models and tasks are the scenario's own, profiles included: nothing to convert.
  config.profiles = scenario.source_file;
  for (const ModelProfile& m : scenario.models) {
    // NAME.onnx or NAME.pt: the backend that runs the model picks the file of its format
    // (config/model_backend.h).
    const std::string stem = std::filesystem::absolute(settings.models_dir + "/" + m.name).string();
    std::string file = stem + ".onnx";
    if (!std::filesystem::exists(file) && std::filesystem::exists(stem + ".pt")) file = stem + ".pt";
    if (!std::filesystem::exists(file)) {
      return Error{ErrorCode::kNotFound, "model " + m.name + ": " + file +
                                             " does not exist (--models-dir names the folder holding <model>.onnx "
                                             "or <model>.pt)"};
    }
    if (m.input_shape.size() != 3 || m.input_shape[0] != 3) {
      return Error{ErrorCode::kUnsupported, scenario.source_file + ": model " + m.name +
                                                " needs input_shape [3, H, W] for its camera frames"};
    }
    config.models.push_back(m);
    config.model_files.push_back(file);
  }
  // Tasks on one camera driver's topic share one sensor: each frame is written once into
  // its pool, planned for all of them, and read in place by each (the cluster's own
  // camera topics carry one task each).
  std::map<std::string, uint32_t> driver_sensor;  // topic -> sensor index
  for (const TaskSpec& t : scenario.tasks) {
    const ModelProfile& m = scenario.models[t.model];
    config::TaskRuntime runtime;
    runtime.sensor = static_cast<uint32_t>(config.sensors.size());
    if (auto shared = driver_sensor.find(t.topic); !t.topic.empty() && shared != driver_sensor.end()) {
      runtime.sensor = shared->second;
      config::SensorConfig& sensor = config.sensors[runtime.sensor];
      sensor.period = std::min(sensor.period, t.period);
    } else {
      config::SensorConfig sensor;
      sensor.name = t.name;
      sensor.kind = config::SensorKind::kTopic;
      if (t.topic.empty()) {
        // The cluster's camera: frames sized as the model's input, on the task's own topic.
        sensor.path = camera_topic(scenario.nodes[t.source].name, t.name);
        sensor.height = static_cast<int>(m.input_shape[1]);
        sensor.width = static_cast<int>(m.input_shape[2]);
      } else {
        // A camera driver's topic (docs/CLUSTER.md, "Camera drivers"): whatever size it
        // publishes, up to full HD (each frame slot in shared memory is planned that large).
        sensor.path = t.topic;
        sensor.compressed = config::is_compressed_topic(t.topic);
        sensor.width = kDriverMaxWidth;
        sensor.height = kDriverMaxHeight;
        driver_sensor.emplace(t.topic, runtime.sensor);
      }
      sensor.period = t.period;
      config.sensors.push_back(sensor);
    }
    TaskSpec task = t;
    task.source = 0;  // the node's own view: its one node (the camera's node is the topic)
    if (task.deadline.count() <= 0) task.deadline = task.period;
    config.tasks.push_back(task);
    config.task_runtime.push_back(runtime);
  }
  auto backends = config::resolve_model_backends(config);
  if (!backends.ok()) return Error{backends.error().code, scenario.source_file + ": " + backends.error().message};
  config.notices = std::move(*backends);
  std::error_code ec;
  std::filesystem::create_directories(config.run_dir, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create run folder " + config.run_dir + ": " + ec.message()};
  return config;
}

FeedStarter cluster_feed_starter(const ClusterOptions& options, const Scenario& scenario) {
  FeedStarter starter;
  starter.start = [options, &scenario](const FeedContext& context) -> Result<std::unique_ptr<Feed>> {
    auto started = ClusterFeed::start(options, scenario, context);
    if (!started.ok()) return started.error();
    return std::unique_ptr<Feed>(std::move(*started));
  };
  starter.plans_tasks = true;
  starter.started =
      "joined the cluster (DDS domain " + std::to_string(options.domain) + "); waiting for the master's plan";
  return starter;
}

}  // namespace coedge::node
