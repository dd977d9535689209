#include "policy/spread_dispatcher.h"

#include <algorithm>

#include "policy/estimators.h"

namespace coedge::policy {

Plan SpreadDispatcher::initial(std::vector<PlanRecord>& records) {
  const auto& tasks = scenario_.tasks;
  std::vector<TaskIndex> order(tasks.size());
  for (TaskIndex t = 0; t < order.size(); ++t) order[t] = t;
  std::stable_sort(order.begin(), order.end(), [&](TaskIndex a, TaskIndex b) {
    return tasks[a].priority > tasks[b].priority;
  });
  std::vector<double> requested(scenario_.nodes.size(), 0.0);
  std::vector<NodeIndex> candidates;
  plan_.node_of_task.assign(tasks.size(), kNone);
  for (TaskIndex t : order) {
    const double request = task_load(tasks[t], scenario_.models[tasks[t].model]);
    reachable_nodes(scenario_, scenario_.network, t, candidates);
    std::sort(candidates.begin(), candidates.end());
    NodeIndex best = kNone;
    for (NodeIndex k : candidates) {
      if (requested[k] + request > 1.0 + 1e-9) continue;  // NodeResourcesFit
      if (best == kNone || requested[k] < requested[best]) best = k;  // LeastAllocated
    }
    if (best == kNone) {
      records.push_back({t, kNone, kNone, PlanReason::kUnplaceable});
      continue;
    }
    requested[best] += request;
    plan_.node_of_task[t] = best;
    records.push_back({t, kNone, best, PlanReason::kPlaced});
  }
  return plan_;
}

Plan SpreadDispatcher::update(const WindowReport& /*report*/, std::vector<PlanRecord>& /*records*/) {
  return plan_;
}

}  // namespace coedge::policy
