// The scenario model: nodes, the network between them, model profiles, periodic tasks and
// run settings. Plain data, validated once by src/config; every index stored here is
// in range. Shared read-only by the policies, the simulator and the runtime.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/time.h"

namespace coedge {

using NodeIndex = uint32_t;
using TaskIndex = uint32_t;
using ModelIndex = uint32_t;
inline constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// The paper profiles batch sizes 1..10 (§4.3) and so do we.
inline constexpr int kMaxBatch = 10;

struct NodeSpec {
  std::string name;
  int cpu_cores = 4;  // cores for pre/post-processing; the node has one accelerator
};

struct ModelProfile {
  std::string name;
  std::vector<int64_t> input_shape;  // e.g. {3, 640, 640}
  int64_t input_bytes = 0;           // bytes sent between nodes per job (the sensor frame)
  std::array<Duration, kMaxBatch> exe_time{};  // exe_time[b-1] = ExeTime(model, b), whole batch
  Duration pre_time{};                         // CPU time of pre-processing, per job
  Duration post_time{};                        // CPU time of post-processing, per job
  std::string profile_source;                  // where exe_time came from, for reports
  // The inference backend exe_time was measured on ("opencv", "torch"); empty when the
  // file does not say. A node with `backend: auto` runs the model on this one, so that the
  // scheduler plans with the numbers of the backend that runs it.
  std::string backend;

  // REQUIRES: 1 <= batch <= kMaxBatch.
  Duration exe(int batch) const { return exe_time[static_cast<size_t>(batch - 1)]; }
  bool operator==(const ModelProfile&) const = default;
};

struct TaskSpec {
  std::string name;
  NodeIndex source = kNone;  // the node whose sensor releases the jobs
  ModelIndex model = kNone;
  Duration period{};
  Duration deadline{};       // relative; defaults to the period
  int priority = 0;          // larger is more important
  double epsilon = 0.10;     // tolerable miss rate
  // A cluster task whose frames come from a ROS 2 image topic that something else publishes
  // (a camera driver): its absolute ROS topic name ("/front/image_raw"; a name ending in
  // "/compressed" is a sensor_msgs/CompressedImage topic). Empty: the cluster's own camera
  // (`coedge camera`) publishes the task at its period. The simulator ignores it.
  std::string topic;
  bool operator==(const TaskSpec&) const = default;
};

// One undirected link. Bandwidth in Mbit/s (10^6 bit/s).
struct Link {
  NodeIndex peer = kNone;
  double mbps = 0;
  Duration latency{};
};

// The network as sparse adjacency, so that city-scale fleets stay small. A pair without
// an explicit link uses the defaults; default_mbps == 0 means such pairs cannot talk.
struct Network {
  double default_mbps = 0;
  Duration default_latency{};
  std::vector<std::vector<Link>> adjacency;  // per node, sorted by peer

  // The link between a and b (a != b), or nullptr when they have no explicit link.
  const Link* find(NodeIndex a, NodeIndex b) const;
  // Bandwidth in Mbit/s between a and b; 0 when they cannot talk. a == b is infinite.
  double mbps(NodeIndex a, NodeIndex b) const;
  Duration latency(NodeIndex a, NodeIndex b) const;
  // Adds or replaces the undirected link a-b. REQUIRES: a != b, both in range.
  void set(NodeIndex a, NodeIndex b, double mbps, Duration latency);
};

// A change of the network during a run (the question of the paper's Fig. 11).
struct LinkChange {
  Duration at{};
  NodeIndex a = kNone;
  NodeIndex b = kNone;
  double mbps = 0;
};

struct RunSettings {
  Duration duration = std::chrono::seconds(600);
  Duration window = std::chrono::seconds(120);  // miss-rate window and stage-2 period
  uint64_t seed = 1;
  Duration release_jitter{};  // each release is delayed by U[0, jitter)
  bool random_phase = true;   // tasks start at a seeded offset within their period
  double exec_jitter = 0;     // a batch takes ExeTime * (1 + U[-j, j]); profiles stay exact
};

struct Scenario {
  std::string name;
  std::string source_file;
  std::vector<NodeSpec> nodes;
  Network network;
  std::vector<ModelProfile> models;
  std::vector<TaskSpec> tasks;
  std::vector<LinkChange> link_changes;  // sorted by time
  RunSettings run;

  NodeIndex find_node(const std::string& name) const;
  ModelIndex find_model(const std::string& name) const;
  TaskIndex find_task(const std::string& name) const;  // kNone when there is none
};

// Time to send `bytes` over `mbps` (Eq. 2 without latency), rounded up to the
// microsecond; kNever when it would exceed 10^15 us (31 years). REQUIRES: mbps > 0.
Duration transfer_time(int64_t bytes, double mbps);

}  // namespace coedge
