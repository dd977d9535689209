#include "policy/simple_dispatchers.h"

namespace coedge::policy {
namespace {
Plan all_local(const Scenario& scenario, std::vector<PlanRecord>* records) {
  Plan plan;
  plan.node_of_task.reserve(scenario.tasks.size());
  for (TaskIndex t = 0; t < scenario.tasks.size(); ++t) {
    plan.node_of_task.push_back(scenario.tasks[t].source);
    if (records) records->push_back({t, kNone, scenario.tasks[t].source, PlanReason::kPlaced});
  }
  return plan;
}
}  // namespace

Plan LocalDispatcher::initial(std::vector<PlanRecord>& records) {
  return all_local(scenario_, &records);
}

Plan LocalDispatcher::update(const WindowReport& /*report*/, std::vector<PlanRecord>& /*records*/) {
  return all_local(scenario_, nullptr);
}

Explanation LocalDispatcher::explain(TaskIndex t) const {
  Explanation why;
  why.task = t;
  why.node = scenario_.tasks[t].source;
  why.policy_note = "the local dispatcher never moves a task: it runs on its source node " +
                    scenario_.nodes[why.node].name + ", whatever its load";
  return why;
}

Explanation NaiveDispatcher::explain(TaskIndex t) const {
  Explanation why;
  why.task = t;
  why.node = t < where_.size() ? where_[t] : scenario_.tasks[t].source;
  why.policy_note =
      "the naive dispatcher keeps no estimates: it starts every task on its source and, each "
      "window, moves the worst task of a node where one missed more than its epsilon to the "
      "reachable node with the lowest mean measured miss rate";
  return why;
}

Plan NaiveDispatcher::initial(std::vector<PlanRecord>& records) {
  Plan plan = all_local(scenario_, &records);
  where_ = plan.node_of_task;
  return plan;
}

Plan NaiveDispatcher::update(const WindowReport& report, std::vector<PlanRecord>& records) {
  COEDGE_CHECK(report.tasks.size() == scenario_.tasks.size());
  const size_t node_count = scenario_.nodes.size();
  std::vector<double> miss_sum(node_count, 0.0);
  std::vector<uint32_t> task_count(node_count, 0);
  for (TaskIndex t = 0; t < where_.size(); ++t) {
    miss_sum[where_[t]] += report.tasks[t].miss_rate();
    ++task_count[where_[t]];
  }
  auto mean_miss = [&](NodeIndex k) {
    return task_count[k] ? miss_sum[k] / task_count[k] : 0.0;
  };

  // The worst task of each node, decided before anything moves.
  std::vector<TaskIndex> worst(node_count, kNone);
  for (TaskIndex t = 0; t < where_.size(); ++t) {
    const double rate = report.tasks[t].miss_rate();
    if (report.tasks[t].finished == 0 || rate <= scenario_.tasks[t].epsilon) continue;
    TaskIndex& w = worst[where_[t]];
    if (w == kNone) {
      w = t;
      continue;
    }
    const double wr = report.tasks[w].miss_rate();
    const int p = scenario_.tasks[t].priority, pw = scenario_.tasks[w].priority;
    if (rate > wr || (rate == wr && (p < pw || (p == pw && t > w)))) w = t;
  }

  for (NodeIndex k = 0; k < node_count; ++k) {
    const TaskIndex t = worst[k];
    if (t == kNone) continue;
    reachable_nodes(scenario_, scenario_.network, t, candidates_);
    NodeIndex target = kNone;
    for (NodeIndex c : candidates_) {
      if (c == k) continue;
      if (target == kNone || mean_miss(c) < mean_miss(target) ||
          (mean_miss(c) == mean_miss(target) &&
           (task_count[c] < task_count[target] ||
            (task_count[c] == task_count[target] && c < target)))) {
        target = c;
      }
    }
    if (target == kNone || mean_miss(target) >= mean_miss(k)) continue;
    const double rate = report.tasks[t].miss_rate();
    miss_sum[k] -= rate;
    --task_count[k];
    miss_sum[target] += rate;  // the task brings its trouble along, as far as naive knows
    ++task_count[target];
    records.push_back({t, k, target, PlanReason::kMoved});
    where_[t] = target;
  }
  return Plan{where_};
}

}  // namespace coedge::policy
