// What the node's local scheduler needs to know, built from the node's config and its
// models' profiles: a one-node Scenario (models in config order, with their profiled
// ExeTime; tasks with period, deadline and priority). The scheduler is the simulator's
// own (src/policy), so it reads the same Scenario shape. Pure.
#pragma once

#include <vector>

#include "config/node_config.h"
#include "core/result.h"
#include "core/scenario.h"

namespace coedge::node {

// Errors: a model with no profile in `profiles` (matched by name).
Result<Scenario> build_node_scenario(const config::NodeConfig& config,
                                     const std::vector<ModelProfile>& profiles);

}  // namespace coedge::node
