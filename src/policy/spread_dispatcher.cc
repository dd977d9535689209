#include "policy/spread_dispatcher.h"

#include <algorithm>
#include <cstdio>

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
      records.push_back({t, kNone, kNone, PlanReason::kUnplaceable,
                         std::make_shared<const Explanation>(explain(t))});
      continue;
    }
    requested[best] += request;
    plan_.node_of_task[t] = best;
    records.push_back({t, kNone, best, PlanReason::kPlaced});
  }
  return plan_;
}

Explanation SpreadDispatcher::explain(TaskIndex t) const {
  Explanation why;
  why.task = t;
  why.node = t < plan_.node_of_task.size() ? plan_.node_of_task[t] : kNone;
  char share[32];
  std::snprintf(share, sizeof share, "%.0f%%",
                100.0 * task_load(scenario_.tasks[t], scenario_.models[scenario_.tasks[t].model]));
  why.policy_note = std::string("the spread dispatcher places like kube-scheduler, by requested compute: "
                                "this task requests ") +
                    share +
                    " of an accelerator (ExeTime(1) / period) and goes to the reachable node with "
                    "the least requested after it, if that stays within 100%; blind to deadlines and "
                    "bandwidth, it never moves a task";
  return why;
}

Plan SpreadDispatcher::update(const WindowReport& /*report*/, std::vector<PlanRecord>& /*records*/) {
  return plan_;
}

}  // namespace coedge::policy
