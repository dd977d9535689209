// The configuration of one node agent (`coedge node --config NODE.yaml`, or a cluster
// node's, built from its scenario by node/cluster/cluster_config.h): the models it serves,
// the sensors it replays, the tasks it runs and how it isolates them. One typed struct
// with defaults; validated once by load_node_config (node_config_loader.h). The file
// format is documented in docs/NODE_CONFIG.md. Plain data, no behaviour.
//
// One task schema: the node's models and tasks are the scenario's own types
// (core/scenario.h: ModelProfile with its profiled ExeTime, TaskSpec), exactly as a
// scenario file loads them, so the node's local scheduler plans with them as they are
// (node/core/node_scenario.h) and the simulator and the node cannot read a task
// differently. What only a node has rides alongside, one entry per model (its ONNX file)
// and per task (its sensor and workers), in the same order.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/scenario.h"
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

// kTopic: frames arrive over DDS on a ROS 2 image topic (`path` holds the topic: the
// file's `topic:`), from a camera elsewhere (a ROS 2 driver, or a cluster's `coedge
// camera`); the node does not capture them itself.
// kStream: a live network stream (`url`: http, tcp, udp, rtsp, ...) read through OpenCV's
// FFmpeg backend (node/stream_source.h).
enum class SensorKind { kFolder, kVideo, kSynthetic, kTopic, kStream };

// A stream sensor's connection settings (docs/NODE_CONFIG.md, "Stream sensors").
struct StreamSettings {
  std::string url;                                        // as FFmpeg takes it
  Duration open_timeout = std::chrono::seconds(5);        // one connection attempt at most
  Duration stall_timeout = std::chrono::seconds(2);       // no frame this long: stalled (and
                                                          // the connection is dropped)
  Duration reconnect_min = std::chrono::milliseconds(500);  // the first retry's delay,
  Duration reconnect_max = std::chrono::seconds(10);        // doubling up to this
  bool operator==(const StreamSettings&) const = default;
};

// A topic sensor's subscription: best effort matches both reliable and best-effort
// publishers (ROS 2's SensorDataQoS drivers); reliable only reliable ones, losslessly.
enum class TopicReliability { kBestEffort, kReliable };

struct SensorConfig {
  std::string name;
  SensorKind kind = SensorKind::kSynthetic;
  std::string path;        // folder of images or video file (absolute after loading); topic name
  int width = 1280;        // synthetic frames; for a topic, the largest frame expected
  int height = 720;
  bool loop = true;        // start again at the end of a folder or video
  Duration period{};       // how often a frame is captured; 0 = the fastest task's period
  Duration phase{};        // its first capture, after the node starts (cameras are rarely in step)
  StreamSettings stream;   // kind kStream only
  // kind kTopic only: the topic carries sensor_msgs/CompressedImage (default: the topic
  // ends in /compressed), and the subscription's reliability.
  bool compressed = false;
  TopicReliability reliability = TopicReliability::kBestEffort;
  bool operator==(const SensorConfig&) const = default;
};

// What a segmentation task writes besides its results: nothing, or each job's label map
// (class id per pixel) as an 8-bit PNG in its task folder (`masks: png`).
enum class MaskOutput { kNone, kPng };

// The resource limits of one task's workers, its pre and post worker together (one
// cgroup per task: docs/NODE_CONFIG.md, "Sandbox and limits"). 0 in a field: no limit of
// that kind. The defaults are the node's `worker_limits` defaults. The os layer has its
// own os::CgroupLimits; the node converts (config does not depend on os).
struct WorkerLimits {
  double cpus = 1.0;                        // CPUs' worth of time (CFS quota / period)
  uint64_t memory_bytes = 512ull << 20;     // memory.limit_in_bytes
  uint32_t pids = 64;                       // pids.max: processes and threads
  bool operator==(const WorkerLimits&) const = default;
};
// The loader's bounds (docs/NODE_CONFIG.md): below them a worker cannot start, above
// cpus the value is a typo. The kernel refuses a CFS quota under 1 ms per 100 ms period.
inline constexpr double kMinWorkerCpus = 0.01;
inline constexpr double kMaxWorkerCpus = 1024;
inline constexpr uint64_t kMinWorkerMemory = 16ull << 20;
inline constexpr uint32_t kMinWorkerPids = 8;
inline constexpr uint32_t kMaxWorkerPids = 4194304;  // the kernel's PID_MAX_LIMIT

// How the sandbox (isolation: sandbox) is tightened beyond its namespaces.
struct SandboxConfig {
  // The seccomp filter that denies what a pre/post worker never needs (ptrace, mount,
  // bpf, ...). Off only for debugging; whoever starts the workers logs that it is off.
  bool seccomp = true;
  // Absolute, normalised paths hidden from every worker (an empty tmpfs over each), on
  // top of the node's own defaults. A path may not exist yet (the loader notes it).
  std::vector<std::string> private_paths;
  bool operator==(const SandboxConfig&) const = default;
};
inline constexpr size_t kMaxPrivatePaths = 256;

// What a worker that breaks the protocol gets (node/core/violations.h): every violation
// kills it; the `limit`-th kill of one task within `window` quarantines the task until a
// new plan activates it again. limit 0: never quarantine.
struct ViolationPolicy {
  uint32_t limit = 3;
  Duration window = std::chrono::seconds(60);
  bool operator==(const ViolationPolicy&) const = default;
};
inline constexpr uint32_t kMaxViolationLimit = 1000000;

// The node-only part of a task: where its frames come from and how its workers run.
struct TaskRuntime {
  uint32_t sensor = 0;            // index into NodeConfig::sensors
  std::string worker = "stock";   // "stock" or the path of a worker executable (SDK)
  std::string rootfs;             // optional root filesystem for the task's sandbox
  std::vector<std::pair<std::string, std::string>> env;  // extra environment of its workers
  // Detection thresholds handed to its workers (coedge_task_info.confidence / nms_iou):
  // unset, the stock worker's defaults (0.25 and 0.45). Both in [0, 1] (the loader's range,
  // docs/NODE_CONFIG.md). confidence also filters a classification task's top classes;
  // nms_iou is for detection models only.
  std::optional<double> confidence, nms_iou;
  // `masks`: for a segmentation task (the agent refuses it on any other), handed to its
  // workers as coedge_task_info.masks. Not on the server's wire (node_config_wire.h): the
  // server writes no masks.
  MaskOutput masks = MaskOutput::kNone;
  // The node's `worker_limits` with the task's own `limits:` applied field by field
  // (resolved by the loader; a config built in code gets the defaults). Every replica of
  // a task has its own cgroup with these limits.
  WorkerLimits limits;
  bool operator==(const TaskRuntime&) const = default;
};

struct NodeConfig {
  std::string name = "node";
  std::string source_file;           // where it was loaded from, for messages
  policy::SchedulerSpec scheduler;   // every model's local scheduler; default: the paper's
  Isolation isolation = Isolation::kSandbox;
  SandboxConfig sandbox;             // isolation: sandbox only
  // The default limits of every task's workers (`worker_limits:`); each task's resolved
  // limits are in task_runtime[i].limits. Not applied with isolation: none.
  WorkerLimits worker_limits;
  ViolationPolicy violations;
  std::string run_dir;               // default: /var/tmp/coedge-<name> (set by the loader)
  // The models' inference backend unless a model names its own: opencv, torch or auto
  // (config/model_backend.h resolves it per model).
  std::string backend = "opencv";
  int backend_threads = 0;           // 0: the backend's default
  // Where the models' timings come from: a profile-set file (`profiles:`, or `coedge node
  // --profiles`), or a cluster node's scenario file. Empty: the agent measures the models
  // at start (until then their exe_time is zero).
  std::string profiles;
  Duration window = std::chrono::seconds(10);   // rolling miss-rate window
  // The agent warns when a model's measured batch times exceed its profile by more than
  // this fraction (node/core/profile_check.h); agent-side only, not sent to the server.
  double profile_margin = 0.25;
  Duration duration{};               // 0: run until SIGINT/SIGTERM
  Duration hang_timeout = std::chrono::seconds(3);  // a worker silent this long is killed
  int metrics_port = 0;              // Prometheus /metrics port; 0: off
  // The address /metrics binds to (config/listen_address.h): loopback unless opened.
  std::string metrics_address = "127.0.0.1";
  // After the run, /metrics stays up this long (the final counters, for a last scrape);
  // a stop signal ends it early. 0: the agent exits at once.
  Duration metrics_linger{};
  std::string jobs_jsonl;            // per-job JSON lines file; empty: off
  // A node on DDS (topic sensors, or a cluster node) publishes every task's results as
  // ROS 2 vision_msgs (node/cluster/result_publisher.h). Agent-side only.
  bool publish_results = true;
  // The node's models, with their profiles (name as in the config; timings from
  // `profiles`), and its tasks: TaskSpec.model indexes `models`, TaskSpec.source is 0
  // (this node), deadline is resolved (the period when the file gives none).
  std::vector<ModelProfile> models;
  std::vector<TaskSpec> tasks;
  // Per model: the file its backend loads (absolute): its ONNX file on opencv, its
  // TorchScript file on torch (config/model_backend.h picks the sibling file). Until the
  // backends are resolved, the file as given.
  std::vector<std::string> model_files;
  // Per model: the file as the config gave it (absolute), which the backends' files are
  // found beside, and where (FILE:LINE, for messages; empty when not from a file).
  std::vector<std::string> model_sources;
  std::vector<std::string> model_where;
  // Per model: the backend it asked for (opencv, torch, auto; empty: the node's `backend`),
  // and once resolve_model_backends has run, the one that runs it (opencv or torch).
  std::vector<std::string> model_backend_requests;
  std::vector<std::string> model_backends;
  // Per model: its class names by class id, from its `labels:` file (one name per line;
  // load_labels_file), and that file (absolute); both empty when the model has none.
  std::vector<std::vector<std::string>> model_labels;
  std::vector<std::string> model_labels_files;
  std::vector<TaskRuntime> task_runtime;  // per task
  std::vector<SensorConfig> sensors;
  // One line per deprecated name the file used (e.g. an old scheduler name), for the
  // caller to print; the file still loads.
  std::vector<std::string> notices;
};

}  // namespace coedge::config
