#include "policy/dispatcher.h"

#include <limits>

#include "policy/coedge_dispatcher.h"
#include "policy/estimators.h"
#include "policy/simple_dispatchers.h"
#include "policy/spread_dispatcher.h"

namespace coedge::policy {
std::string_view to_string(PlanReason reason) {
  switch (reason) {
    case PlanReason::kPlaced: return "placed";
    case PlanReason::kUnplaceable: return "unplaceable";
    case PlanReason::kEvicted: return "evicted";
    case PlanReason::kReadmitted: return "readmitted";
    case PlanReason::kMoved: return "moved";
    case PlanReason::kNodeLost: return "node_lost";
    case PlanReason::kLinkChanged: return "link_changed";
  }
  return "?";
}

Explanation Dispatcher::explain(TaskIndex t) const {
  Explanation why;
  why.task = t;
  why.policy_note = "this dispatcher keeps no estimates";
  return why;
}

std::unique_ptr<Dispatcher> make_dispatcher(const DispatcherSpec& spec, const Scenario& scenario) {
  const std::string_view base = spec.base();
  if (base == "local") return std::make_unique<LocalDispatcher>(scenario);
  if (base == "naive") return std::make_unique<NaiveDispatcher>(scenario);
  if (base == "spread") return std::make_unique<SpreadDispatcher>(scenario);
  COEDGE_CHECK(base == "coedge");
  CoedgeDispatcherOptions options;
  options.batch_aware = spec.has("batch-aware");
  options.blocking_aware = spec.has("blocking-aware");
  options.evict_only_if_placeable = spec.has("useful-evictions");
  return std::make_unique<CoedgeDispatcher>(scenario, options);
}

void reachable_nodes(const Scenario& scenario, const Network& network, TaskIndex t,
                     std::vector<NodeIndex>& out) {
  out.clear();
  const NodeIndex source = scenario.tasks[t].source;
  out.push_back(source);
  if (network.default_mbps > 0) {
    for (NodeIndex k = 0; k < scenario.nodes.size(); ++k)
      if (k != source) out.push_back(k);
    return;
  }
  for (const Link& link : network.adjacency[source])
    if (link.mbps > 0) out.push_back(link.peer);
}

NodeEstimate estimate_in_plan(const Scenario& scenario, const Plan& plan, TaskIndex t) {
  const NodeIndex k = plan.node_of_task[t];
  COEDGE_CHECK(k != kNone);
  const TaskSpec& task = scenario.tasks[t];
  const ModelProfile& model = scenario.models[task.model];
  NodeEstimate e;
  e.node = k;
  e.deadline = task.deadline;
  e.capacity = std::numeric_limits<double>::infinity();
  const Duration comm = comm_time(scenario.network, model.input_bytes, task.source, k);
  e.transfer = comm;
  if (comm == kNever) {
    e.verdict = Verdict::kNoLink;
    return e;
  }
  double load = 0;
  for (TaskIndex j = 0; j < plan.node_of_task.size(); ++j)
    if (plan.node_of_task[j] == k) load += task_load(scenario.tasks[j], scenario.models[scenario.tasks[j].model]);
  fill_estimate(task, model, comm, load, static_cast<double>(model.exe(1).count()), 0.0, e);
  if (e.total_us > static_cast<double>(task.deadline.count())) e.verdict = Verdict::kMissesDeadline;
  return e;
}

}  // namespace coedge::policy
