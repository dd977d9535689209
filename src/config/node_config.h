// The configuration of one node agent (`coedge node --config NODE.yaml`): the models it
// serves, the sensors it replays, the tasks it runs and how it isolates them. One typed
// struct with defaults; validated once by load_node_config (node_config_loader.h). The
// file format is documented in docs/NODE_CONFIG.md. Plain data, no behaviour.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "policy/policy_spec.h"

namespace coedge::config {

// How a task's pre- and post-processing workers are isolated from each other and from
// the inference server.
enum class Isolation {
  kSandbox,  // one process per worker, inside a bubblewrap sandbox (the default)
  kProcess,  // one process per worker, no sandbox
  kNone,     // everything in the agent's process: the paper's "Mono Container" baseline
};

// kTopic: frames arrive over DDS on a ROS 2 image topic (`path` holds the topic), from a
// camera elsewhere; the node does not capture them itself (used by cluster nodes).
enum class SensorKind { kFolder, kVideo, kSynthetic, kTopic };

struct SensorConfig {
  std::string name;
  SensorKind kind = SensorKind::kSynthetic;
  std::string path;        // folder of images or video file (absolute after loading); topic name
  int width = 1280;        // synthetic frames; for a topic, the largest frame expected
  int height = 720;
  bool loop = true;        // start again at the end of a folder or video
  Duration period{};       // how often a frame is captured; 0 = the fastest task's period
  Duration phase{};        // its first capture, after the node starts (cameras are rarely in step)
};

struct NodeModelConfig {
  std::string name;
  std::string file;        // ONNX file (absolute after loading)
};

struct NodeTaskConfig {
  std::string name;
  std::string model;       // a NodeModelConfig name
  std::string sensor;      // a SensorConfig name
  Duration period{};
  Duration deadline{};     // relative; defaults to the period
  int priority = 0;        // larger is more important
  double epsilon = 0.10;   // tolerable miss rate (for reports)
  std::string worker = "stock";  // "stock" or the path of a worker executable (SDK)
  std::string rootfs;      // optional root filesystem for the task's sandbox
  std::vector<std::pair<std::string, std::string>> env;  // extra environment of its workers
};

struct NodeConfig {
  std::string name = "node";
  std::string source_file;           // where it was loaded from, for messages
  policy::SchedulerSpec scheduler;   // every model's local scheduler; default: the paper's
  Isolation isolation = Isolation::kSandbox;
  std::string run_dir;               // default: /var/tmp/coedge-<name> (set by the loader)
  std::string backend = "opencv";
  int backend_threads = 0;           // 0: the backend's default
  std::string profiles;              // profile-set file; empty: measure the models at start
  Duration window = std::chrono::seconds(10);   // rolling miss-rate window
  Duration duration{};               // 0: run until SIGINT/SIGTERM
  Duration hang_timeout = std::chrono::seconds(3);  // a worker silent this long is killed
  int metrics_port = 0;              // Prometheus /metrics port; 0: off
  std::string jobs_jsonl;            // per-job JSON lines file; empty: off
  std::vector<NodeModelConfig> models;
  std::vector<SensorConfig> sensors;
  std::vector<NodeTaskConfig> tasks;
  // One line per deprecated name the file used (e.g. an old scheduler name), for the
  // caller to print; the file still loads.
  std::vector<std::string> notices;
};

}  // namespace coedge::config
