// The hand-over table of a cluster node: which frames of which task this node takes,
// across the master's plan changes, and when to open and close its camera subscriptions.
// A passive object: events in (a plan arriving, a task becoming ready here, another
// node's acknowledgement), decisions out (take this frame or not; subscribe, unsubscribe,
// send an acknowledgement, call again at a wake time). No threads, no I/O, no clock
// reads: every time is passed in. Not thread-safe: the driver (ClusterFeed) guards it.
//
// Times. A plan's effective time, a frame's capture stamp and every `now_ns` passed in are
// nanoseconds on one clock, the cameras' CLOCK_REALTIME (one machine: always the same
// clock; several hosts: PTP or NTP). The table never compares a stamp with the local
// monotonic clock.
//
// The rule. A plan (version v, effective time E) names, per task, this node, another
// node, or nobody. Each plan that the table knows starts, for each task, at a time S:
//   - immediate mode (today's cluster): S = E;
//   - ready mode: S = F, the time from which the named node accepts the task. That node
//     chooses it once it both knows the plan and has the task ready, at local time c:
//     F = max(E, c + ack lead), and announces it in an acknowledgement (task, v, F) that
//     a driver carries to every other node. Until this node has heard that
//     acknowledgement, a plan naming another node has not started (the node losing the
//     task keeps it); a plan naming nobody starts at E (nobody will acknowledge it). The
//     lead lets the acknowledgement reach the other nodes before the first frame claimed;
//     one that comes later makes the frames in between processed twice.
// The plan IN FORCE at capture stamp s is the known plan of the highest version among
// those whose start S <= s. This node takes a frame of task t with stamp s iff the plan
// in force at s names it. So:
//   - a node that gains a task at E accepts from E, a node that loses it accepts until
//     E (immediate mode); every stamp has at most one owner among nodes that know the
//     same plans (and acknowledgements);
//   - a plan that arrives after its effective time still applies from E: frames that
//     this node was offered before the plan arrived were judged by the plans it knew
//     then. A gaining node lost them (they were gone before it subscribed); a losing node
//     took them, and so did the gaining node if it knew the plan in time — the only way
//     a frame is processed twice. The master publishes plans ahead of E (its lead) so
//     that this does not happen; the ready mode adds the lead on acknowledgements.
//   - the order in which plans arrive does not matter, and a task that leaves and comes
//     back keeps every interval it owned (frames of an earlier interval still in flight
//     are taken).
// A plan that never arrives (a reader that keeps only the newest plan, two plans
// published between two reads) cannot be accounted for: a node that missed the plan that
// took a task away and saw the next one give it back believes it never lost the task.
//
// Subscriptions. A task's subscription is wanted while the newest known plan names this
// node (from the moment that plan arrives, ahead of its start, so that frames flow at S),
// and, after that, until `unsubscribe_grace_ns` past the end of the last stamp this node
// owns, for the frames captured before the hand-over that are still in flight.
//
// History. A table merges plans that started more than `history_ns` before `now_ns` (only
// the highest version among them still matters for newer stamps) and refuses frames
// captured before that horizon (counted as ignored).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

namespace coedge::node {

using HandOverTask = uint32_t;  // a task's index in the scenario

inline constexpr int64_t kHandOverNever = std::numeric_limits<int64_t>::max();

enum class HandOverMode {
  kImmediate,  // a plan starts at its effective time (the cluster today)
  kOnReady,    // a plan starts when the named node is ready (acknowledgements)
};

struct HandOverOptions {
  HandOverMode mode = HandOverMode::kImmediate;
  // A node that loses a task keeps its subscription this long past the last stamp it
  // owns, for the frames captured before the hand-over that are still in flight.
  int64_t unsubscribe_grace_ns = 3'000'000'000;
  // Plans that started longer ago than this are merged; older frames are refused.
  int64_t history_ns = 60'000'000'000;
  // Ready mode: a node claims a task no earlier than this after it decides to, so that
  // its acknowledgement reaches the losing node before the first frame it claims.
  int64_t ack_lead_ns = 0;
};

// A plan as this node sees it. REQUIRES: mine.size() == tasks; unplaced empty or the
// same size.
struct HandOverPlan {
  uint64_t version = 0;
  int64_t effective_ns = 0;
  std::vector<bool> mine;      // per task: the plan places it on this node
  std::vector<bool> unplaced;  // per task: the plan places it on no node (empty: none)
};

// Ready mode: "the node named by plan `version` for `task` accepts it from `from_ns`".
struct HandOverAck {
  HandOverTask task = 0;
  uint64_t version = 0;
  int64_t from_ns = 0;
};

struct HandOverActions {
  std::vector<HandOverTask> subscribe;    // open these subscriptions now
  std::vector<HandOverTask> unsubscribe;  // close these now
  std::vector<HandOverAck> acks;          // ready mode: tell every other node
  // Tasks this node now holds (owns every stamp from `from_ns` on), and tasks it no
  // longer holds (owns none from `until_ns` on): for logs and reports.
  struct Change {
    HandOverTask task = 0;
    int64_t at_ns = 0;
  };
  std::vector<Change> gained;
  std::vector<Change> lost;
  // Call poll() again at or after this time (kHandOverNever: no need).
  int64_t wake_ns = kHandOverNever;
};

class HandOverTable {
 public:
  explicit HandOverTable(size_t tasks, HandOverOptions options = {});

  // A plan arrived at `now_ns`. A version already known changes nothing.
  HandOverActions on_plan(const HandOverPlan& plan, int64_t now_ns);
  // The task's workers and model are ready on this node (ready mode: plans naming this
  // node start; immediate mode: recorded only). REQUIRES: task < tasks.
  HandOverActions on_ready(HandOverTask task, int64_t now_ns);
  // The task is no longer ready here (its workers went away): plans that name this node
  // from now on wait for on_ready; claims already announced stand.
  void on_not_ready(HandOverTask task);
  // Ready mode: another node's acknowledgement (ignored in immediate mode, and for a plan
  // naming this node). An acknowledgement may arrive before its plan: it says by itself
  // that the plan gives the task to another node from `from_ns`, so a losing node stops
  // on time even when the plan reaches it late.
  HandOverActions on_ack(const HandOverAck& ack, int64_t now_ns);
  // Closes the subscriptions whose grace ended; merges old history.
  HandOverActions poll(int64_t now_ns);
  // The driver could not open the subscription: the next plan that wants it tries again.
  void on_subscribe_failed(HandOverTask task);

  // Whether this node takes a frame of `task` captured at `stamp_ns`; a frame refused is
  // counted as ignored. REQUIRES: task < tasks.
  bool take(HandOverTask task, int64_t stamp_ns);

  // Inspection (tests and reports).
  bool owns(HandOverTask task, int64_t stamp_ns) const;  // take() without counting
  bool holds(HandOverTask task) const;                   // owns every stamp from some time on
  bool subscribed(HandOverTask task) const;
  uint64_t ignored(HandOverTask task) const;
  uint64_t newest_version() const { return newest_version_; }
  bool knows(uint64_t version) const { return std::binary_search(versions_.begin(), versions_.end(), version); }
  size_t tasks() const { return tasks_.size(); }

 private:
  enum class Holder : uint8_t { kMe, kOther, kNobody };
  struct Entry {
    uint64_t version = 0;
    int64_t effective_ns = 0;
    Holder holder = Holder::kNobody;
    int64_t start_ns = kHandOverNever;  // kHandOverNever: not started (ready mode)
  };
  struct Task {
    std::vector<Entry> entries;              // known plans, by version
    std::map<uint64_t, int64_t> acks;        // ready mode: others' claims by version
    bool ready = false;
    bool subscribed = false;
    bool subscribe_failed = false;           // retried on the next plan
    bool holding = false;                    // as last reported in gained/lost
    int64_t floor_ns = std::numeric_limits<int64_t>::min();  // older stamps refused
    uint64_t ignored = 0;
  };

  struct Ownership {
    int64_t end = std::numeric_limits<int64_t>::min();  // see owned_end
    int64_t run_from = kHandOverNever;  // start of the last interval owned
  };
  Ownership ownership(const Task& task) const;
  // The end of the last stamp interval this node owns: kHandOverNever if it owns an
  // unbounded tail, min() if it owns nothing.
  int64_t owned_end(const Task& task) const;
  bool owns(const Task& task, int64_t stamp_ns) const;
  bool wants_subscription(const Task& task, int64_t now_ns) const;
  void claim(HandOverTask t, int64_t now_ns, HandOverActions& out);
  void merge_history(Task& task, int64_t now_ns);
  // Subscriptions, gained/lost and the wake time after any event.
  void settle(int64_t now_ns, HandOverActions& out, bool retry_subscribe);

  HandOverOptions options_;
  std::vector<Task> tasks_;
  std::vector<uint64_t> versions_;  // every plan version known (sorted)
  uint64_t newest_version_ = 0;
};

}  // namespace coedge::node
