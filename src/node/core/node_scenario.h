// What the node's local scheduler needs to know: a one-node Scenario holding the node's
// models (with their profiled ExeTime) and tasks exactly as its config holds them — the
// config's models and tasks already are the scenario's types (config/node_config.h), so
// this only puts them in a Scenario beside the node and its window; no name is looked up
// and nothing can fail. The scheduler is the simulator's own (src/policy), so it reads
// the same Scenario shape. Pure.
#pragma once

#include "config/node_config.h"
#include "core/scenario.h"

namespace coedge::node {

// Node 0 is `config.name`, with no links (a node alone); run.window is config.window.
Scenario node_scenario(const config::NodeConfig& config);

}  // namespace coedge::node
