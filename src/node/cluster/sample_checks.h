// A cluster node's and a camera's checks of the control samples they receive (DESIGN:
// trust boundaries): the master's plan and commands, and the other nodes' task claims
// (acknowledgements) are a network peer's untrusted input, used only once these accepted
// them. Pure: no I/O, no clock reads (`now_ns`, CLOCK_REALTIME, is passed in), no state
// (the caller passes what it applied before); the fuzz targets call them too. Reasons:
// core/sample_rejection.h. Images are checked where they are decoded
// (node/cluster/ros_frame.h).
//
// Plan: refused, whole, when an assignment names an unknown task or node (a node "" is
// "unplaced"), a task twice, a version of 0 or beyond 32 bits (the hand-over table orders
// plans by epoch rank and a 32-bit version), an epoch of 0 or more than kMaxAheadNs ahead
// of `now_ns` (an epoch is its master's start: a far-future one would outrank every real
// master's plans for good; within the hour, a master whose clock runs ahead), an
// effective time of 0 or less or more than kMaxAheadNs ahead, or an epoch older than the
// one followed (a stale master's, kStale). A plan of the followed epoch with a lower
// version is NOT refused: the hand-over table takes plans in any order (a late plan still
// decides the frames captured while it was in force: handover_table.h).
//
// Task claim (TaskAck): refused when its sender (the writer's node partition) is not the
// node it names (or it has none, in a secure domain), it names an unknown task or node, a
// version of 0 or beyond 32 bits, a from time of 0 or less or beyond kMaxAheadNs, an epoch
// more than kMaxAheadNs ahead, an epoch older than the one followed of which the receiver applied no plan
// (among `applied`: an older master's claim of a plan the node applied still orders the
// hand-over, cluster_feed.cc order_of) (kStale), or when the plan it names is
// one the receiver applied and that plan gives the task to another node (kNotAssigned). A
// claim for a plan the receiver has not seen (it may arrive before its plan) cannot be
// checked against it: it is accepted on the rest.
//
// Command: only "stop" and "stop-sources", for every node ("") or a node of the scenario.
//
// ControlGate is what a node's feed and a camera put between their readers and their
// logic: a passive object (DESIGN: control loops as passive cores) that checks each
// sample against what it admitted before, remembers the plans it admitted, counts the
// refused per (topic, reason) and queues a log line for them, rate-limited (the first of
// each (topic, reason), then at most one per 10 s with the count since).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/sample_rejection.h"
#include "core/scenario.h"
#include "net/dds.h"

namespace coedge::node {

inline constexpr int64_t kMaxAheadNs = 3'600'000'000'000;  // an hour
inline constexpr uint64_t kMaxPlanVersion = 0xffffffffu;

struct SampleCheckOptions {
  bool require_sender = false;  // a secure domain: a claim from a writer in no partition is refused
};

// A plan the receiver applied: its (epoch, version) and, per scenario task, its node
// (kNone: unplaced, or not in the plan).
struct AppliedPlan {
  uint64_t epoch = 0, version = 0;
  std::vector<NodeIndex> node_of_task;
};
AppliedPlan applied_plan(const Scenario& scenario, const net::Plan& plan);

// `followed_epoch`: the epoch of the newest plan applied (0: none).
SampleVerdict check_plan(const Scenario& scenario, const net::Plan& plan, uint64_t followed_epoch, int64_t now_ns);

// `applied`: plans the receiver applied (any order).
SampleVerdict check_task_ack(const Scenario& scenario, const net::TaskAck& ack, std::span<const AppliedPlan> applied,
                             uint64_t followed_epoch, int64_t now_ns, const SampleCheckOptions& options);

SampleVerdict check_command(const Scenario& scenario, const net::Command& command);

class ControlGate {
 public:
  // REQUIRES: `scenario` outlives the gate.
  explicit ControlGate(const Scenario& scenario, SampleCheckOptions options = {});

  // Each returns the verdict; a refused sample is counted and may queue a log line. An
  // admitted plan is remembered as applied (the caller applies it) and its epoch is
  // followed from then on. `now_ns`: CLOCK_REALTIME; `now`: the caller's clock, for the log
  // throttle.
  SampleVerdict admit_plan(const net::Plan& plan, int64_t now_ns, TimePoint now);
  SampleVerdict admit_ack(const net::TaskAck& ack, int64_t now_ns, TimePoint now);
  SampleVerdict admit_command(const net::Command& command, TimePoint now);
  // What the DDS reader of `topic` refused over its caps since the last look
  // (take_reader_refusals): counted as kOversized, logged like the others.
  void refused_by_reader(SampleTopic topic, const ReaderRefusals& refusals, TimePoint now);

  std::vector<std::string> take_logs();  // the lines queued since the last call, in order
  const RejectionCounter& rejections() const { return rejections_; }
  uint64_t followed_epoch() const { return followed_epoch_; }
  // One per (epoch, version), the last admitted last; at most kKept (the highest
  // (epoch, version) kept).
  std::span<const AppliedPlan> applied() const { return applied_; }

  static constexpr size_t kKept = 16;

 private:
  SampleVerdict note(SampleTopic topic, SampleVerdict verdict, TimePoint now, uint64_t count = 1);

  const Scenario& scenario_;
  SampleCheckOptions options_;
  uint64_t followed_epoch_ = 0;
  std::vector<AppliedPlan> applied_;
  RejectionCounter rejections_;
  std::vector<std::string> logs_;
};

}  // namespace coedge::node
