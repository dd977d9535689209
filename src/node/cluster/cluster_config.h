// The node agent's configuration when it is one node of a cluster (`coedge node
// --scenario S.yaml --name N`): every task of the scenario, each with a topic sensor of
// its own (its camera's ROS 2 topic; frames sized as the model's input), every model from
// `models_dir`/<name>.onnx. The config's models and tasks are the scenario's own structs
// (ModelProfile with its profile, TaskSpec), copied as they are: a node config and a
// scenario share one task schema (config/node_config.h), and nothing goes through a file.
// Which tasks actually run is the master's plan: the node starts a task's workers when
// the plan gives it the task, and the plan opens and closes the flow of frames, so a
// change never disturbs the other tasks. Pure but for creating the run folder. And the
// feed that links such an agent to its cluster (cluster_feed_starter).
#pragma once

#include <string>

#include "config/node_config.h"
#include "core/result.h"
#include "core/scenario.h"
#include "node/cluster/cluster_feed.h"
#include "node/feed.h"

namespace coedge::node {

struct ClusterNodeSettings {
  std::string node;          // a node of the scenario
  std::string models_dir;    // holds <model>.onnx for every model of the scenario
  std::string run_dir;       // default: default_run_dir(node)
  policy::SchedulerSpec scheduler;  // default: the paper's
  config::Isolation isolation = config::Isolation::kSandbox;
  int backend_threads = 1;   // a cluster node is a small computer: one inference thread
  // opencv, torch or auto (config/model_backend.h): auto runs each model on the backend
  // its scenario profile was measured on (opencv when the profile records none).
  std::string backend = "auto";
};

// Errors: an unknown node, a model file that does not exist, a model whose input is not
// [3, H, W], a run folder that cannot be written.
Result<config::NodeConfig> cluster_node_config(const Scenario& scenario, const ClusterNodeSettings& settings);

// The agent's feed for a cluster node (AgentOptions::feed): starts a ClusterFeed
// (cluster_feed.h) over `scenario` with `options`, once the agent's pipeline is up.
// REQUIRES: `scenario` outlives the agent's run; the agent's config is
// cluster_node_config(scenario, ...) for options.node.
FeedStarter cluster_feed_starter(const ClusterOptions& options, const Scenario& scenario);

}  // namespace coedge::node
