// Why a task is, or is not, on a node: the dispatcher's own estimate for each node it
// could run on, term by term, and the verdict the dispatcher drew from it (kubectl's
// "0/3 nodes are available: ..." for CoEdge). The CoEdge dispatcher fills a NodeEstimate
// in the very loop that decides (CoedgeDispatcher::best_node), so the numbers here are the
// numbers the decision used, not a second computation of Eq. 3. Explanations never change
// a decision: they are read after it was made.
//
// The terms (estimators.h; the task m, the node k, its load U_k with m on it):
//   transfer    Eq. 2, S_m / B(src_m, k) + the link's latency; 0 on the source
//   queueing    Eq. 3's share of the other tasks on k: p_m * (U_k - own load)
//   inference   its own: p_m * own load = ExeTime(1) (CoEdge+: its batched share)
//   pre/post    C_m, the model's pre- and post-processing time
//   correction  alpha_k * (queueing + inference + pre/post), stage 2's correction
//   total       transfer + (1 + alpha_k) * (queueing + inference + pre/post): the figure
//               the dispatcher compared with the deadline
// Pure: formatting to text happens here too, but no I/O. Deterministic: same inputs, same
// text.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/scenario.h"

namespace coedge::policy {

enum class Verdict : uint8_t {
  kFits,            // the dispatcher could put the task there
  kMissesDeadline,  // the estimate (total) exceeds the task's deadline
  kNoLink,          // no route from the task's source, or a transfer that never ends
  kBreaksOther,     // with its load, task `other` already there would miss its deadline
  kWorstCase,       // CoEdge++: a lone job's worst case misses (its own, or `other`'s)
  kBanned,          // evicted from this node; may not return before window `banned_until`
  kNodeLost,        // the runtime lost the node
};
// "fits", "misses_deadline", "no_link", "breaks_other", "worst_case", "banned", "node_lost"
std::string_view to_string(Verdict verdict);

// One node's estimate for one task. Durations in microseconds as doubles, as Eq. 3 is
// computed; `transfer` is kNever when there is no link (the other terms are then 0).
struct NodeEstimate {
  NodeIndex node = kNone;
  Verdict verdict = Verdict::kFits;
  Duration transfer{};
  double queueing_us = 0;
  double inference_us = 0;
  double pre_post_us = 0;
  double alpha = 0;
  double correction_us = 0;
  double total_us = 0;
  double alone_us = 0;     // the total were the task alone on the node (its best case there)
  Duration deadline{};
  double load = 0;         // U_k with the task (accelerator share per microsecond)
  double capacity = 0;     // the largest U_k at which every task already there meets its deadline
  TaskIndex other = kNone; // kBreaksOther, kWorstCase: the task that would miss
  double worst_case_us = 0;  // kWorstCase: the single-job worst case that misses
  int banned_until = 0;      // kBanned: the first window the task may return
  double margin_us() const { return total_us - static_cast<double>(deadline.count()); }
};

// Stage 2's rule 3 took the task off `node` because `violator` missed more than its ε.
struct EvictionCause {
  NodeIndex node = kNone;
  TaskIndex violator = kNone;
  double miss_rate = 0;
  double epsilon = 0;
};

struct Explanation {
  TaskIndex task = kNone;
  NodeIndex node = kNone;  // where the plan has it when explained (kNone: waiting)
  int window = 0;          // the dispatcher's window count then (0: stage 1)
  // For dispatchers without estimates: what they do, in one sentence.
  std::string policy_note;
  // The nodes it could run on, closest first (sort_candidates); at most kMaxCandidates.
  // For a placed task, the first is its own node.
  std::vector<NodeEstimate> candidates;
  size_t candidates_total = 0;  // before truncation
  std::shared_ptr<const EvictionCause> eviction;  // kEvicted records only

  // Same nodes, verdicts, other tasks, bans and transfers, and totals within 1% of the
  // deadline: for reporting a waiting task's reason only when it changed.
  bool same_reason(const Explanation& other) const;
};

inline constexpr size_t kMaxCandidates = 3;

// Fits first (by total), then the estimates that miss (by how far above the deadline),
// then the nodes without a link; ties by node index. Truncates to kMaxCandidates and
// records the count before in `candidates_total`.
void sort_candidates(Explanation& why);

// "n2: transfer 30 ms + queueing 0 ms + inference 650 ms + pre/post 40 ms = 720 ms >
// deadline 700 ms (misses by 20 ms)". Milliseconds, one decimal unless whole.
std::string describe_estimate(const Scenario& scenario, const TaskSpec& task,
                              const NodeEstimate& estimate);
// The whole explanation in one line, without the task's name: "best node n2: ...; n3:
// no link from n1". For a policy note, the note.
std::string describe(const Scenario& scenario, const Explanation& why);

// Milliseconds as the explanations print them: "650", "20.5".
std::string format_ms(double us);

// The explanation as one compact JSON object (written here, by hand, so that the
// simulator's and the master's files carry one format without the policy library linking
// a JSON library): {"task", "node" (null: waiting), "window", "text", "note"?,
// "eviction"?: {"node", "violator", "miss_rate", "epsilon"}, "candidates_total",
// "candidates": [{"node", "verdict", "transfer_ms" (null: no link), "queueing_ms",
// "inference_ms", "pre_post_ms", "alpha", "correction_ms", "total_ms", "alone_ms", "deadline_ms",
// "margin_ms", "load", "capacity" (null: no limit), "other"?, "worst_case_ms"?,
// "banned_until_window"?}]}. Times to the microsecond; keys in this order.
std::string to_json(const Scenario& scenario, const Explanation& why);

}  // namespace coedge::policy
