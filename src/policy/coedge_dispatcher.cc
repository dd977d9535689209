#include "policy/coedge_dispatcher.h"

#include <algorithm>
#include <limits>

#include "policy/estimators.h"
#include "policy/similarity.h"

namespace coedge::policy {
namespace {
constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kSimilarityTolerance = 1e-12;
}  // namespace

CoedgeDispatcher::CoedgeDispatcher(const Scenario& scenario, CoedgeDispatcherOptions options)
    : scenario_(scenario),
      options_(options),
      view_(scenario.network),
      nodes_(scenario.nodes.size()),
      where_(scenario.tasks.size(), kNone),
      bans_(scenario.tasks.size()),
      reported_(scenario.tasks.size()),
      lost_(scenario.nodes.size(), false) {
  for (auto& node : nodes_) {
    node.model_counts.assign(scenario.models.size(), 0);
    node.model_rates.assign(scenario.models.size(), 0.0);
    node.capacity = kInfinity;
  }
  model_budget_.assign(scenario.models.size(), kNever);
  for (const TaskSpec& task : scenario.tasks) {
    const ModelProfile& m = scenario.models[task.model];
    model_budget_[task.model] =
        std::min(model_budget_[task.model], (task.deadline - m.pre_time - m.post_time) / 2);
  }
  task_loads_.reserve(scenario.tasks.size());
  for (const TaskSpec& task : scenario.tasks)
    task_loads_.push_back(task_load(task, scenario.models[task.model]));
}

double CoedgeDispatcher::batched_cost_us(ModelIndex m, uint32_t n) const {
  const ModelProfile& model = scenario_.models[m];
  int batch = 1;
  for (int b = std::min<int>(kMaxBatch, static_cast<int>(n)); b > 1; --b) {
    if (model.exe(b) <= model_budget_[m]) {
      batch = b;
      break;
    }
  }
  return static_cast<double>(model.exe(batch).count()) / batch;
}

double CoedgeDispatcher::load_with(NodeIndex k, TaskIndex t) const {
  const NodeState& node = nodes_[k];
  if (!options_.batch_aware) return node.load + task_loads_[t];
  const ModelIndex m = scenario_.tasks[t].model;
  const double rate = node.model_rates[m];
  const double added = 1.0 / static_cast<double>(scenario_.tasks[t].period.count());
  const uint32_t n = node.model_counts[m];
  const double before = n ? rate * batched_cost_us(m, n) : 0.0;
  return node.load - before + (rate + added) * batched_cost_us(m, n + 1);
}

std::vector<TaskIndex> CoedgeDispatcher::by_priority(std::vector<TaskIndex> tasks) const {
  std::sort(tasks.begin(), tasks.end(), [this](TaskIndex a, TaskIndex b) {
    const int pa = scenario_.tasks[a].priority, pb = scenario_.tasks[b].priority;
    return pa != pb ? pa > pb : a < b;
  });
  return tasks;
}

Duration CoedgeDispatcher::blocking(NodeIndex k, ModelIndex own, ModelIndex extra) const {
  Duration longest{0};
  if (!options_.blocking_aware) return longest;
  for (ModelIndex m = 0; m < scenario_.models.size(); ++m) {
    if (m != own && (nodes_[k].model_counts[m] > 0 || m == extra)) longest = std::max(longest, scenario_.models[m].exe(1));
  }
  return longest;
}

Duration CoedgeDispatcher::worst_single_job(const TaskSpec& task, NodeIndex k, ModelIndex extra) const {
  const ModelProfile& model = scenario_.models[task.model];
  return blocking(k, task.model, extra) + model.exe(1) + model.pre_time + model.post_time;
}

TaskIndex CoedgeDispatcher::broken_by_new_model(NodeIndex k, TaskIndex t, double* worst_us) const {
  const ModelIndex added = scenario_.tasks[t].model;
  for (TaskIndex j : nodes_[k].tasks) {
    const TaskSpec& task = scenario_.tasks[j];
    const Duration comm = comm_time(view_, scenario_.models[task.model].input_bytes, task.source, k);
    const Duration worst = comm + worst_single_job(task, k, added);
    if (worst > task.deadline) {
      *worst_us = static_cast<double>(worst.count());
      return j;
    }
  }
  return kNone;
}

bool CoedgeDispatcher::banned(TaskIndex t, NodeIndex k) const {
  for (const Ban& ban : bans_[t])
    if (ban.node == k && window_ < ban.until_window) return true;
  return false;
}

int CoedgeDispatcher::banned_until(TaskIndex t, NodeIndex k) const {
  int until = 0;
  for (const Ban& ban : bans_[t])
    if (ban.node == k && window_ < ban.until_window) until = std::max(until, ban.until_window);
  return until;
}

double CoedgeDispatcher::own_inference_us(TaskIndex t, uint32_t n) const {
  const ModelIndex m = scenario_.tasks[t].model;
  if (options_.batch_aware) return batched_cost_us(m, n);
  return static_cast<double>(scenario_.models[m].exe(1).count());
}

NodeEstimate CoedgeDispatcher::bare_estimate(TaskIndex t, NodeIndex k) const {
  const TaskSpec& task = scenario_.tasks[t];
  NodeEstimate e;
  e.node = k;
  e.deadline = task.deadline;
  e.alpha = nodes_[k].alpha;
  e.capacity = nodes_[k].capacity;
  e.transfer = comm_time(view_, scenario_.models[task.model].input_bytes, task.source, k);
  return e;
}

NodeEstimate CoedgeDispatcher::evaluate(TaskIndex t, NodeIndex k) const {
  const TaskSpec& task = scenario_.tasks[t];
  const ModelProfile& model = scenario_.models[task.model];
  const NodeState& node = nodes_[k];
  NodeEstimate e = bare_estimate(t, k);
  const Duration comm = e.transfer;
  if (comm != kNever)
    fill_estimate(task, model, comm, load_with(k, t), own_inference_us(t, node.model_counts[task.model] + 1),
                  node.alpha, e);
  if (lost_[k]) {
    e.verdict = Verdict::kNodeLost;
  } else if (!bans_[t].empty() && banned(t, k)) {
    e.verdict = Verdict::kBanned;
    e.banned_until = banned_until(t, k);
  } else if (comm == kNever) {
    e.verdict = Verdict::kNoLink;
  } else if (e.total_us > static_cast<double>(task.deadline.count())) {
    e.verdict = Verdict::kMissesDeadline;
  } else if (e.load > node.capacity) {
    e.verdict = Verdict::kBreaksOther;
    e.other = node.tightest;
  } else if (options_.blocking_aware) {
    const Duration own_worst = comm + worst_single_job(task, k, kNone);
    if (own_worst > task.deadline) {
      e.verdict = Verdict::kWorstCase;
      e.worst_case_us = static_cast<double>(own_worst.count());
    } else if (node.model_counts[task.model] == 0) {
      e.other = broken_by_new_model(k, t, &e.worst_case_us);
      if (e.other != kNone) e.verdict = Verdict::kWorstCase;
    }
  }
  return e;
}

NodeEstimate CoedgeDispatcher::placed_estimate(TaskIndex t) const {
  const NodeIndex k = where_[t];
  COEDGE_CHECK(k != kNone);
  const TaskSpec& task = scenario_.tasks[t];
  const ModelProfile& model = scenario_.models[task.model];
  const NodeState& node = nodes_[k];
  NodeEstimate e = bare_estimate(t, k);
  const Duration comm = e.transfer;
  if (comm == kNever) {
    e.verdict = Verdict::kNoLink;
    return e;
  }
  fill_estimate(task, model, comm, node.load, own_inference_us(t, node.model_counts[task.model]), node.alpha, e);
  if (e.total_us > static_cast<double>(task.deadline.count())) e.verdict = Verdict::kMissesDeadline;
  return e;
}

NodeIndex CoedgeDispatcher::best_node(TaskIndex t, Explanation* why) const {
  const TaskSpec& task = scenario_.tasks[t];
  reachable_nodes(scenario_, view_, t, candidates_);

  NodeIndex best = kNone;
  double best_similarity = -1, best_latency = kInfinity;
  for (NodeIndex k : candidates_) {
    const NodeEstimate e = evaluate(t, k);
    if (why) why->candidates.push_back(e);
    if (e.verdict != Verdict::kFits) continue;
    const NodeState& node = nodes_[k];
    const double latency = e.total_us;
    const double similarity = task_similarity(task.model, node.model_counts, node.count_squares);
    const bool better =
        similarity > best_similarity + kSimilarityTolerance ||
        (similarity > best_similarity - kSimilarityTolerance &&
         (latency < best_latency || (latency == best_latency && k < best)));
    if (best == kNone || better) {
      best = k;
      best_similarity = similarity;
      best_latency = latency;
    }
  }
  if (why) {
    why->task = t;
    why->node = where_[t];
    why->window = window_;
    sort_candidates(*why);
  }
  return best;
}

std::shared_ptr<const Explanation> CoedgeDispatcher::explain_waiting(TaskIndex t) const {
  auto why = std::make_shared<Explanation>();
  best_node(t, why.get());
  return why;
}

Explanation CoedgeDispatcher::explain(TaskIndex t) const {
  if (where_[t] == kNone) return *explain_waiting(t);
  Explanation why;
  why.task = t;
  why.node = where_[t];
  why.window = window_;
  why.candidates.push_back(placed_estimate(t));
  why.candidates_total = 1;
  return why;
}

void CoedgeDispatcher::note_waiting(TaskIndex t, std::shared_ptr<const Explanation> why) {
  if (reported_[t] && reported_[t]->same_reason(*why)) return;
  reported_[t] = why;
  notes_.push_back({t, kNone, kNone, PlanReason::kUnplaceable, std::move(why)});
}

void CoedgeDispatcher::take_waiting_notes(std::vector<PlanRecord>& notes) {
  notes.insert(notes.end(), notes_.begin(), notes_.end());
  notes_.clear();
}

void CoedgeDispatcher::assign(TaskIndex t, NodeIndex k) {
  const TaskSpec& task = scenario_.tasks[t];
  NodeState& node = nodes_[k];
  node.load = load_with(k, t);
  node.tasks.push_back(t);
  node.count_squares += 2 * node.model_counts[task.model] + 1;  // (c+1)^2 - c^2
  ++node.model_counts[task.model];
  node.model_rates[task.model] += 1.0 / static_cast<double>(task.period.count());
  where_[t] = k;
  reported_[t].reset();  // if it waits again, that is news
  const Duration comm = comm_time(view_, scenario_.models[task.model].input_bytes, task.source, k);
  const double capacity = load_capacity(task, scenario_.models[task.model], comm, node.alpha);
  if (capacity < node.capacity) {  // the min, and who sets it
    node.capacity = capacity;
    node.tightest = t;
  }
}

void CoedgeDispatcher::remove(TaskIndex t) {
  const NodeIndex k = where_[t];
  COEDGE_CHECK(k != kNone);
  NodeState& node = nodes_[k];
  const ModelIndex m = scenario_.tasks[t].model;
  node.tasks.erase(std::find(node.tasks.begin(), node.tasks.end(), t));
  --node.model_counts[m];
  node.count_squares -= 2 * node.model_counts[m] + 1;
  node.model_rates[m] = 0;
  for (TaskIndex other : node.tasks)  // exact, without drift from float subtraction
    if (scenario_.tasks[other].model == m)
      node.model_rates[m] += 1.0 / static_cast<double>(scenario_.tasks[other].period.count());
  node.load = 0;
  if (options_.batch_aware) {
    for (ModelIndex model = 0; model < node.model_counts.size(); ++model)
      if (node.model_counts[model] > 0)
        node.load += node.model_rates[model] * batched_cost_us(model, node.model_counts[model]);
  } else {
    for (TaskIndex other : node.tasks) node.load += task_loads_[other];
  }
  where_[t] = kNone;
  recompute_capacity(k);
}

void CoedgeDispatcher::recompute_capacity(NodeIndex k) {
  NodeState& node = nodes_[k];
  node.capacity = kInfinity;
  node.tightest = kNone;
  for (TaskIndex t : node.tasks) {
    const TaskSpec& task = scenario_.tasks[t];
    const ModelProfile& model = scenario_.models[task.model];
    const Duration comm = comm_time(view_, model.input_bytes, task.source, k);
    const double capacity = load_capacity(task, model, comm, node.alpha);
    if (capacity < node.capacity) {
      node.capacity = capacity;
      node.tightest = t;
    }
  }
}

Plan CoedgeDispatcher::initial(std::vector<PlanRecord>& records) {
  std::vector<TaskIndex> all(scenario_.tasks.size());
  for (TaskIndex t = 0; t < all.size(); ++t) all[t] = t;
  for (TaskIndex t : by_priority(std::move(all))) {
    const NodeIndex k = best_node(t);
    if (k == kNone) {
      auto why = explain_waiting(t);
      reported_[t] = why;
      records.push_back({t, kNone, kNone, PlanReason::kUnplaceable, std::move(why)});
    } else {
      assign(t, k);
      records.push_back({t, kNone, k, PlanReason::kPlaced});
    }
  }
  return plan();
}

Plan CoedgeDispatcher::update(const WindowReport& report, std::vector<PlanRecord>& records) {
  COEDGE_CHECK(report.tasks.size() == scenario_.tasks.size());
  ++window_;
  std::vector<Duration> comm_before(where_.size(), Duration(0));
  for (TaskIndex t = 0; t < where_.size(); ++t) {
    if (where_[t] == kNone) continue;
    comm_before[t] = comm_time(view_, scenario_.models[scenario_.tasks[t].model].input_bytes,
                               scenario_.tasks[t].source, where_[t]);
  }
  for (const MeasuredLink& link : report.links)
    if (link.a != link.b) view_.set(link.a, link.b, link.mbps, view_.latency(link.a, link.b));

  // Rule 1: a placement that a slower link broke, by estimate, is offered again.
  std::vector<TaskIndex> offered;
  for (TaskIndex t = 0; t < where_.size(); ++t) {
    const NodeIndex k = where_[t];
    if (k == kNone) continue;
    const NodeEstimate estimate = placed_estimate(t);  // Eq. 2 + Eq. 3 with the new view
    if (estimate.transfer <= comm_before[t]) continue;
    if (estimate.verdict == Verdict::kFits) continue;
    auto why = std::make_shared<Explanation>();
    why->task = t;
    why->node = k;
    why->window = window_;
    why->candidates.push_back(estimate);
    why->candidates_total = 1;
    remove(t);
    records.push_back({t, k, kNone, PlanReason::kLinkChanged, std::move(why)});
    offered.push_back(t);
  }

  // Rule 2: alpha follows measured / estimated latency.
  for (NodeIndex k = 0; k < nodes_.size(); ++k) {
    NodeState& node = nodes_[k];
    double measured = 0, estimated = 0;
    for (TaskIndex t : node.tasks) {
      const TaskWindow& seen = report.tasks[t];
      if (seen.finished == 0) continue;
      const TaskSpec& task = scenario_.tasks[t];
      const auto dropped = static_cast<double>(seen.finished - seen.completed);
      measured += (static_cast<double>(seen.completed) *
                       static_cast<double>(seen.mean_node_latency.count()) +
                   dropped * static_cast<double>(task.deadline.count())) /
                  static_cast<double>(seen.finished);
      estimated += exec_estimate_us(task, scenario_.models[task.model], node.load, 0.0);
    }
    if (estimated > 0) {
      const double target = measured / estimated - 1.0;
      node.alpha = std::clamp((node.alpha + target) / 2.0, kMinAlpha, kMaxAlpha);
    }
  }

  // Rule 3: at most one eviction per node that missed.
  for (NodeIndex k = 0; k < nodes_.size(); ++k) {
    const NodeState& node = nodes_[k];
    int worst_priority = std::numeric_limits<int>::min();
    bool violated = false;
    TaskIndex violator = kNone;  // for the explanation: the first of the highest priority
    for (TaskIndex t : node.tasks) {
      const TaskWindow& seen = report.tasks[t];
      if (seen.finished > 0 && seen.miss_rate() > scenario_.tasks[t].epsilon) {
        violated = true;
        if (violator == kNone || scenario_.tasks[t].priority > worst_priority) violator = t;
        worst_priority = std::max(worst_priority, scenario_.tasks[t].priority);
      }
    }
    if (!violated) continue;
    TaskIndex victim = kNone;
    for (TaskIndex t : node.tasks) {
      const int p = scenario_.tasks[t].priority;
      if (p > worst_priority) continue;
      if (victim == kNone) {
        victim = t;
        continue;
      }
      const int pv = scenario_.tasks[victim].priority;
      const bool lower = p < pv || (p == pv && (task_loads_[t] > task_loads_[victim] ||
                                                (task_loads_[t] == task_loads_[victim] &&
                                                 t > victim)));
      if (lower) victim = t;
    }
    if (victim == kNone) continue;
    auto why = std::make_shared<Explanation>(explain(victim));
    why->eviction = std::make_shared<const EvictionCause>(
        EvictionCause{k, violator, report.tasks[violator].miss_rate(), scenario_.tasks[violator].epsilon});
    remove(victim);
    auto& bans = bans_[victim];
    std::erase_if(bans, [this](const Ban& b) { return b.until_window <= window_; });
    bans.push_back(Ban{k, window_ + kBanWindows});
    if (options_.evict_only_if_placeable && best_node(victim) == kNone) {
      bans.pop_back();  // nowhere better: it stays, meeting what it can
      assign(victim, k);
      continue;
    }
    records.push_back({victim, k, kNone, PlanReason::kEvicted, std::move(why)});
    offered.push_back(victim);
  }

  for (NodeIndex k = 0; k < nodes_.size(); ++k) recompute_capacity(k);

  // Rule 4: evicted and waiting tasks, in priority order.
  std::vector<bool> is_offered(where_.size(), false);
  for (TaskIndex t : offered) is_offered[t] = true;
  for (TaskIndex t = 0; t < where_.size(); ++t)
    if (where_[t] == kNone && !is_offered[t]) offered.push_back(t);
  for (TaskIndex t : by_priority(std::move(offered))) {
    const NodeIndex k = best_node(t);
    if (k != kNone) {
      assign(t, k);
      records.push_back({t, kNone, k, PlanReason::kReadmitted});
    } else {
      note_waiting(t, explain_waiting(t));  // why not, when that changed
    }
  }
  return plan();
}

std::optional<Plan> CoedgeDispatcher::on_node_lost(NodeIndex node, std::vector<PlanRecord>& records) {
  COEDGE_CHECK(node < nodes_.size());
  lost_[node] = true;
  std::vector<TaskIndex> offered = nodes_[node].tasks;
  for (TaskIndex t : offered) {
    remove(t);
    records.push_back({t, node, kNone, PlanReason::kNodeLost});
  }
  for (TaskIndex t : by_priority(std::move(offered))) {
    const NodeIndex k = best_node(t);
    if (k == kNone) {
      auto why = explain_waiting(t);
      reported_[t] = why;
      records.push_back({t, kNone, kNone, PlanReason::kUnplaceable, std::move(why)});
    } else {
      assign(t, k);
      records.push_back({t, kNone, k, PlanReason::kReadmitted});
    }
  }
  return plan();
}

void CoedgeDispatcher::on_node_back(NodeIndex node) {
  COEDGE_CHECK(node < nodes_.size());
  lost_[node] = false;
}

}  // namespace coedge::policy
