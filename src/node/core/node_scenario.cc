#include "node/core/node_scenario.h"

namespace coedge::node {

Scenario node_scenario(const config::NodeConfig& config) {
  Scenario s;
  s.name = config.name;
  s.source_file = config.source_file;
  NodeSpec node;
  node.name = config.name;
  s.nodes.push_back(node);
  s.network.adjacency.resize(1);
  s.run.window = config.window;
  s.models = config.models;
  s.tasks = config.tasks;
  return s;
}

}  // namespace coedge::node
