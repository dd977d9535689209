// Placement as the Kubernetes default scheduler places pods (kube-scheduler: filter nodes
// whose allocatable resources fit the pod's requests — NodeResourcesFit — then score
// them, LeastAllocated by default), as a peer baseline. A task "requests" the share of
// an accelerator its profile asks for, T_avg / period; a node's allocatable is one
// accelerator. Tasks are scheduled in priority order (the scheduling queue), each to the
// reachable node with the least requested compute after adding it (ties: lower index);
// a task that fits nowhere stays pending (unplaced). Blind to bandwidth, deadlines and
// batching. Like Kubernetes, it never moves a running task: update() keeps the plan.
#pragma once

#include <vector>

#include "policy/dispatcher.h"

namespace coedge::policy {

class SpreadDispatcher final : public Dispatcher {
 public:
  explicit SpreadDispatcher(const Scenario& scenario) : scenario_(scenario) {}
  Plan initial(std::vector<PlanRecord>& records) override;
  Plan update(const WindowReport& report, std::vector<PlanRecord>& records) override;
  Explanation explain(TaskIndex t) const override;

 private:
  const Scenario& scenario_;
  Plan plan_;
};

}  // namespace coedge::policy
