// What a worker that breaks the protocol gets: a passive core (events and `now` in,
// actions out; no clock, no I/O, no locks: one driver thread calls it) that the agent
// consults when it finds a violation in what a worker wrote, or when the server reports one.
//
// The policy (docs/NODE_CONFIG.md, `violations: {limit, window}`):
//   - every violation kills the offending worker; the supervisor restarts it with its
//     usual backoff;
//   - the `limit`-th kill of one task's workers within `window` (sliding) quarantines the
//     task: on_violation says so once (ViolationAction::quarantine), quarantined() stays
//     true until clear(), which the driver calls when a new plan deactivates and
//     activates the task again. limit 0: never quarantine.
//
// One kill, however many violations: what a worker wrote is found in batches (one drain
// of its ring may hold many bad events, and more may still be drained before the kill
// takes effect). So once a worker's kill was asked for, further violations of that worker
// (same task, same role) are counted in violations() but ask for no kill and do not count
// towards the limit, until the driver reports with on_worker_started() that the worker's
// replacement runs (its kReady). The driver must discard or drain whatever the killed worker
// left in its rings before that report, or the leftovers count against the replacement.
// The two workers of a task are killed separately: a bad pre and a bad post worker found
// in one drain are two kills.
//
// Floods (optional; the driver decides whether to use it): on_wake() counts a task's
// wake-ups of the agent that found nothing to do; more than FloodRule::empty_wakes of them
// within one FloodRule::per (fixed windows, starting at the first wake) is a flood, said
// once per window, for the driver to report as a ViolationKind::kFlood violation.
//
// Tasks are indices 0..tasks-1 given to the constructor; an index out of range is a bug
// and aborts. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace coedge::node {

// What the worker did. The names (to_string) are the `kind` label values of
// coedge_node_protocol_violations_total (docs/METRICS.md).
enum class ViolationKind : uint8_t {
  kForeignTask,  // a message naming another task than the one whose ring it came on
  kWrongKind,    // an event kind its role may not send
  kUnknownJob,   // a job that was never released (not one that closed: that is stale)
  kWrongStage,   // a job of its task that is not in its role's stage
  kBadReason,    // a drop reason a worker may not claim, or out of the vocabulary
  kBadStamps,    // stamps out of order, in the future or before the job's release
  kBadChunk,     // a chunk reference out of range, unpublished or of another generation
  kBadTensor,    // a tensor header with a wrong element count or size
  kForgedJob,    // a job id or table slot that does not match the agent's job table
  kBadResult,    // a result that does not check (size, job, stage)
  kFlood,        // wake-ups or events far beyond what its jobs explain
  kCorruptRing,  // ring indices that cannot be (head past tail + capacity, ...)
};
inline constexpr size_t kViolationKindCount = 12;

// "foreign_task", "wrong_kind", "unknown_job", "wrong_stage", "bad_reason", "bad_stamps",
// "bad_chunk", "bad_tensor", "forged_job", "bad_result", "flood", "corrupt_ring".
std::string_view to_string(ViolationKind kind);

enum class WorkerRole : uint8_t { kPre, kPost };
std::string_view to_string(WorkerRole role);  // "pre", "post"

struct ViolationAction {
  bool kill_worker = false;  // kill the offending worker (its supervisor restarts it)
  bool quarantine = false;   // the task enters quarantine now (said once, until clear())
  bool operator==(const ViolationAction&) const = default;
};

// When wake-ups are a flood: more than `empty_wakes` that found nothing within `per`.
struct FloodRule {
  uint32_t empty_wakes = 1000;
  Duration per = std::chrono::seconds(1);
};

class ViolationTracker {
 public:
  // `limit`: kills of one task within `window` that quarantine it (0: never).
  // REQUIRES: window > 0, flood.per > 0.
  ViolationTracker(uint32_t tasks, uint32_t limit, Duration window, FloodRule flood = {});

  // A violation by `task`'s `role` worker at `now`. Returns kill_worker unless the
  // worker's kill is already under way (see the header) or the task is quarantined (its
  // workers are retired then); quarantine when this kill is the limit-th in the window.
  ViolationAction on_violation(uint32_t task, WorkerRole role, ViolationKind kind, TimePoint now);

  // The replacement of `task`'s `role` worker runs: its next violation is a new kill.
  void on_worker_started(uint32_t task, WorkerRole role);

  bool quarantined(uint32_t task) const;
  // The task was deactivated and activated again by a new plan: out of quarantine, its
  // kills forgotten, its workers new. violations() keeps counting (a total for the run).
  void clear(uint32_t task);

  // Every violation of the task's workers since the start, of any kind (kills or not).
  uint64_t violations(uint32_t task) const;
  // The same by kind.
  uint64_t violations(uint32_t task, ViolationKind kind) const;
  // Kills asked for by on_violation, since the start.
  uint64_t kills(uint32_t task) const;
  // Tasks quarantined now.
  uint32_t quarantined_tasks() const;

  // One wake-up of the agent by `task` at `now`, which found work or not. True once per
  // flood window, when its empty wakes pass FloodRule::empty_wakes.
  bool on_wake(uint32_t task, bool found_work, TimePoint now);

  uint32_t tasks() const { return static_cast<uint32_t>(tasks_.size()); }

 private:
  struct Task {
    std::deque<TimePoint> kill_times;  // within the window (older ones dropped on a kill)
    bool killing[2] = {false, false};  // by role: a kill asked for, its replacement not yet up
    bool quarantined = false;
    uint64_t violations = 0;
    uint64_t by_kind[kViolationKindCount] = {};
    uint64_t kills = 0;
    bool flood_started = false;
    TimePoint flood_window_start{};
    uint32_t empty_wakes = 0;  // in the current flood window
    bool flood_said = false;   // in the current flood window
  };
  Task& task(uint32_t index);
  const Task& task(uint32_t index) const;

  uint32_t limit_;
  Duration window_;
  FloodRule flood_;
  std::vector<Task> tasks_;
};

}  // namespace coedge::node
