// The paper's placement baselines.
//  - LocalDispatcher: every task on its source node, always ("Local+EDF" and
//    "No offloading" in the paper, depending on the local scheduler).
//  - NaiveDispatcher (§6.4 "naive global allocation"): starts local, then each window
//    moves tasks using measured miss rates alone: on every node where some task missed
//    more than its epsilon, the task that missed most (ties: lower priority, then higher
//    index) moves to the reachable node with the lowest mean measured miss rate (ties:
//    fewer tasks, then lower index), if that node is doing better than its own. It sees
//    no bandwidth, no profiles and no model similarity.
#pragma once

#include <vector>

#include "policy/dispatcher.h"

namespace coedge::policy {

class LocalDispatcher final : public Dispatcher {
 public:
  explicit LocalDispatcher(const Scenario& scenario) : scenario_(scenario) {}
  Plan initial(std::vector<PlanRecord>& records) override;
  Plan update(const WindowReport& report, std::vector<PlanRecord>& records) override;
  Explanation explain(TaskIndex t) const override;

 private:
  const Scenario& scenario_;
};

class NaiveDispatcher final : public Dispatcher {
 public:
  explicit NaiveDispatcher(const Scenario& scenario) : scenario_(scenario) {}
  Plan initial(std::vector<PlanRecord>& records) override;
  Plan update(const WindowReport& report, std::vector<PlanRecord>& records) override;
  Explanation explain(TaskIndex t) const override;

 private:
  const Scenario& scenario_;
  std::vector<NodeIndex> where_;
  std::vector<NodeIndex> candidates_;  // scratch
};

}  // namespace coedge::policy
