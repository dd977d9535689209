// The paper's CoEdge dispatcher (§4.2.2), stages 1 and 2.
//
// Stage 1 (initial): tasks in priority order (ties: task index). For each, every node it
// can reach is a candidate (reachable_nodes). A node is feasible when the task's estimate
// T_com (Eq. 2) + (1 + alpha_k) * T_exe (Eq. 3) meets its deadline AND the tasks already
// there still meet theirs with the added load (the paper checks only the new task; without
// the second check a low-priority task could break a higher-priority one placed before
// it). Among feasible nodes: highest Eq. 4 similarity, then lowest estimated latency, then
// lowest node index. A task no node can host waits, unplaced.
//
// Stage 2 (update, each window), rules chosen where the paper is silent (docs/POLICIES.md):
//  1. the bandwidth view takes the measured values; a placed task whose transfer got
//     slower by it and whose estimate (Eq. 2 + Eq. 3) now misses its deadline is taken
//     off its node (kLinkChanged) and offered again in rule 4, without waiting for the
//     misses that rule 3 would need (the question of the paper's Fig. 11);
//  2. alpha_k tracks measured / estimated latency on node k: target = sum of measured mean
//     node latencies / sum of alpha-free Eq. 3 estimates - 1, smoothed alpha = (alpha +
//     target) / 2, bounded to [kMinAlpha, kMaxAlpha]. A dropped job counts as having
//     taken its whole relative deadline (a lower bound), so that drops raise alpha;
//  3. on a node where some task missed more than its epsilon, one task is evicted: the
//     lowest-priority task whose priority is <= the highest violator's (never a higher
//     one); ties: the largest load, then the highest index. It may not return to that node
//     for the next kBanWindows windows (each node it was evicted from is remembered);
//  4. evicted and waiting tasks are offered again, in priority order, as in stage 1.
//
// A lost node (on_node_lost, from the runtime's liveliness) gets no task until it is
// back; its tasks are offered again at once, in priority order, as in stage 1.
//
// CoEdge+ option (CoedgeDispatcherOptions::batch_aware, the `coedge+` dispatcher): Eq. 3
// counts what batching saves. The n tasks of one model on a node are expected to run in
// batches of b = the largest size <= min(n, 10) whose ExeTime fits half of the model's
// tightest budget (deadline - pre - post); each of their jobs then costs ExeTime(b) / b
// instead of ExeTime(1). The node load is the sum over its models of (sum of the tasks'
// rates) x that cost.
//
// CoEdge++ (the `coedge++` dispatcher): CoEdge+ and two more rules, for hardware where a
// batch of one model can hold up another's deadline-critical job (a CPU, where batching
// gains little):
//  - blocking-aware placement (CoedgeDispatcherOptions::blocking_aware): inference is not
//    preemptive, so a job may wait for a whole batch of another model that started just
//    before it arrived, which Eq. 3's average load does not see. Besides Eq. 3, a node
//    must pass a worst case for a single job: transfer + the longest ExeTime(1) among the
//    node's other models + its own ExeTime(1) + pre + post <= deadline, for the task
//    placed and, when it brings a new model, for every task already there;
//  - useful evictions only (CoedgeDispatcherOptions::evict_only_if_placeable): rule 3 takes
//    a task off an overloaded node only when some other node can take it by estimate; a
//    task that would only wait unplaced (and miss every job) stays where it is.
// Everything else is unchanged.
//
// Explanations (explain(), PlanRecord::why, take_waiting_notes()): best_node() evaluates
// each candidate with evaluate(), which both decides and explains: the verdict, the terms
// of the estimate and, for a capacity refusal, the task already there that would break
// (the one whose deadline sets the node's capacity). A decision asks best_node() without
// an explanation; only when a task finds no node is the same loop run again on the same
// state to collect every candidate's estimate, so explaining costs nothing when tasks fit.
#pragma once

#include <optional>
#include <vector>

#include "policy/dispatcher.h"

namespace coedge::policy {

struct CoedgeDispatcherOptions {
  bool batch_aware = false;             // Eq. 3 with batching (CoEdge+)
  bool blocking_aware = false;          // + the wait for another model's batch (CoEdge++)
  bool evict_only_if_placeable = false; // rule 3 never leaves a task waiting (CoEdge++)
};

class CoedgeDispatcher final : public Dispatcher {
 public:
  static constexpr double kMinAlpha = -0.5;
  static constexpr double kMaxAlpha = 3.0;
  static constexpr int kBanWindows = 3;

  explicit CoedgeDispatcher(const Scenario& scenario, CoedgeDispatcherOptions options = {});
  Plan initial(std::vector<PlanRecord>& records) override;
  Plan update(const WindowReport& report, std::vector<PlanRecord>& records) override;
  std::optional<Plan> on_node_lost(NodeIndex node, std::vector<PlanRecord>& records) override;
  void on_node_back(NodeIndex node) override;

  Explanation explain(TaskIndex t) const override;
  void take_waiting_notes(std::vector<PlanRecord>& notes) override;

  double alpha(NodeIndex node) const { return nodes_[node].alpha; }
  const Network& bandwidth_view() const { return view_; }

 private:
  struct NodeState {
    std::vector<TaskIndex> tasks;
    double load = 0;                     // sum of T_avg(j) / p_j over its tasks
    std::vector<uint32_t> model_counts;  // EV(S_k)
    std::vector<double> model_rates;     // jobs per microsecond per model (batch-aware load)
    uint64_t count_squares = 0;
    double alpha = 0;
    double capacity = 0;  // the largest load at which every task here meets its deadline
    TaskIndex tightest = kNone;  // the task whose deadline sets `capacity`
  };
  struct Ban {
    NodeIndex node = kNone;
    int until_window = 0;  // banned while window_ < until_window
  };

  // Best feasible node for task t, skipping the nodes it is banned from; kNone if none.
  // With `why`, also every candidate's estimate (sorted, explanation.h).
  NodeIndex best_node(TaskIndex t, Explanation* why = nullptr) const;
  // Task t's estimate and verdict on node k, where it is not (yet): the decision's test.
  NodeEstimate evaluate(TaskIndex t, NodeIndex k) const;
  // Task t's estimate on node k before any term: node, deadline, alpha, capacity, transfer.
  NodeEstimate bare_estimate(TaskIndex t, NodeIndex k) const;
  // Task t's estimate on the node it is on (Eq. 2 + Eq. 3 with its load there): fits or
  // misses its deadline, or no link. Stage 2's rule 1 decides with it.
  NodeEstimate placed_estimate(TaskIndex t) const;
  // Its own inference per job (us) on node k when n tasks of its model are there with it.
  double own_inference_us(TaskIndex t, uint32_t n) const;
  std::shared_ptr<const Explanation> explain_waiting(TaskIndex t) const;
  // Queues a waiting note for t unless its reason is the one last given.
  void note_waiting(TaskIndex t, std::shared_ptr<const Explanation> why);
  bool banned(TaskIndex t, NodeIndex k) const;
  int banned_until(TaskIndex t, NodeIndex k) const;
  void assign(TaskIndex t, NodeIndex k);
  void remove(TaskIndex t);
  void recompute_capacity(NodeIndex k);
  // The node's load if task t joined it (batch-aware or Eq. 3's plain sum).
  double load_with(NodeIndex k, TaskIndex t) const;
  // Per-job accelerator cost (us) of model m when n of its tasks share a node.
  double batched_cost_us(ModelIndex m, uint32_t n) const;
  std::vector<TaskIndex> by_priority(std::vector<TaskIndex> tasks) const;
  // The longest ExeTime(1) among the models on node k other than `own`, counting `extra`
  // as if it were there (kNone: nothing extra); 0 unless blocking_aware.
  Duration blocking(NodeIndex k, ModelIndex own, ModelIndex extra) const;
  // The first task on node k that fails the single-job worst case when task t (of a model
  // new to k) joins and may block it (blocking_aware), with that worst case (us) in
  // `worst_us`; kNone when all pass.
  TaskIndex broken_by_new_model(NodeIndex k, TaskIndex t, double* worst_us) const;
  // Transfer aside, the longest a lone job of `task` can take on node k: blocked by the
  // longest batch of another model (counting `extra` as there), then its own inference.
  Duration worst_single_job(const TaskSpec& task, NodeIndex k, ModelIndex extra) const;
  Plan plan() const { return Plan{where_}; }

  const Scenario& scenario_;
  CoedgeDispatcherOptions options_;
  std::vector<Duration> model_budget_;  // per model: (tightest deadline - pre - post) / 2
  Network view_;
  std::vector<NodeState> nodes_;
  std::vector<NodeIndex> where_;
  std::vector<double> task_loads_;
  std::vector<std::vector<Ban>> bans_;  // per task; expired entries are pruned
  mutable std::vector<NodeIndex> candidates_;  // scratch
  // Per task, the explanation last given for it while waiting (reset when placed).
  std::vector<std::shared_ptr<const Explanation>> reported_;
  std::vector<PlanRecord> notes_;  // waiting notes not yet taken
  std::vector<bool> lost_;              // per node: the runtime lost it
  int window_ = 0;
};

}  // namespace coedge::policy
