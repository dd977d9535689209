#include "node/core/node_scenario.h"

namespace coedge::node {

Result<Scenario> build_node_scenario(const config::NodeConfig& config,
                                     const std::vector<ModelProfile>& profiles) {
  Scenario s;
  s.name = config.name;
  s.source_file = config.source_file;
  NodeSpec node;
  node.name = config.name;
  s.nodes.push_back(node);
  s.network.adjacency.resize(1);
  s.run.window = config.window;
  for (const config::NodeModelConfig& m : config.models) {
    const ModelProfile* found = nullptr;
    for (const ModelProfile& p : profiles) {
      if (p.name == m.name) found = &p;
    }
    if (found == nullptr) {
      std::string have;
      for (const ModelProfile& p : profiles) have += (have.empty() ? "" : ", ") + p.name;
      return Error{ErrorCode::kNotFound,
                   config.source_file + ": model '" + m.name +
                       "' has no profile in the profile set (it has: " +
                       (have.empty() ? "none" : have) +
                       "); profile it with `coedge profile` or leave `profiles:` out to "
                       "measure at start"};
    }
    s.models.push_back(*found);
    s.models.back().name = m.name;
  }
  for (const config::NodeTaskConfig& t : config.tasks) {
    TaskSpec task;
    task.name = t.name;
    task.source = 0;
    task.model = s.find_model(t.model);
    COEDGE_CHECK(task.model != kNone);  // the loader checked the reference
    task.period = t.period;
    task.deadline = t.deadline.count() > 0 ? t.deadline : t.period;
    task.priority = t.priority;
    task.epsilon = t.epsilon;
    s.tasks.push_back(task);
  }
  return s;
}

}  // namespace coedge::node
