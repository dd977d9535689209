// The global task dispatcher decides which node executes each task (paper §4.2.2).
// Passive and pure like the local schedulers: initial() is stage 1, from profiles alone;
// update() is stage 2, called once per window with what the nodes measured. Both return
// the whole plan and append a record for every change, so that drivers can log and
// report decisions in one format. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"
#include "policy/explanation.h"
#include "policy/policy_spec.h"

namespace coedge::policy {

// node_of_task[t] is the node that executes task t, or kNone when no node can host it
// (its jobs are released and dropped: it counts in the miss rate, as in Eq. 1).
struct Plan {
  std::vector<NodeIndex> node_of_task;
};

enum class PlanReason {
  kPlaced,       // stage 1 put the task on a node
  kUnplaceable,  // no node can meet the task's deadline; it waits
  kEvicted,      // stage 2 took the task off an overloaded node
  kReadmitted,   // stage 2 found a node for a waiting or evicted task
  kMoved,        // a dispatcher that moves tasks directly (naive) moved it
  kNodeLost,     // its node stopped answering (the runtime's liveliness); it is offered again
  kLinkChanged,  // a measured bandwidth made its placement miss the deadline by estimate
};
std::string_view to_string(PlanReason reason);

struct PlanRecord {
  PlanRecord() = default;
  // Not an aggregate, so that the four-field records of before still build without a
  // `why` (-Wmissing-field-initializers).
  PlanRecord(TaskIndex task_, NodeIndex from_, NodeIndex to_, PlanReason reason_,
             std::shared_ptr<const Explanation> why_ = nullptr)
      : task(task_), from(from_), to(to_), reason(reason_), why(std::move(why_)) {}
  TaskIndex task = kNone;
  NodeIndex from = kNone;
  NodeIndex to = kNone;
  PlanReason reason = PlanReason::kPlaced;
  // Why, for kUnplaceable, kEvicted and kLinkChanged records of dispatchers that estimate
  // (explanation.h); null otherwise. Shared: records are copied into reports and logs.
  std::shared_ptr<const Explanation> why;
};

// What the nodes measured for one task over the last window.
struct TaskWindow {
  uint64_t finished = 0;  // jobs that ended in the window: met, overdue or dropped
  uint64_t missed = 0;    // overdue + dropped
  uint64_t completed = 0;          // met + overdue: the jobs with a latency
  Duration mean_latency{};         // release to end, over completed jobs
  Duration mean_node_latency{};    // arrival at the executing node to end (no transfer)
  double miss_rate() const {
    return finished ? static_cast<double>(missed) / static_cast<double>(finished) : 0.0;
  }
};

struct MeasuredLink {
  NodeIndex a = kNone;
  NodeIndex b = kNone;
  double mbps = 0;
};

struct WindowReport {
  TimePoint now{};
  std::vector<TaskWindow> tasks;      // indexed by task
  std::vector<MeasuredLink> links;    // bandwidths measured in the window
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual Plan initial(std::vector<PlanRecord>& records) = 0;
  virtual Plan update(const WindowReport& report, std::vector<PlanRecord>& records) = 0;
  // The runtime lost contact with `node` (its agent died or its network did): a
  // dispatcher that can move tasks takes them off it and places them elsewhere, and puts
  // nothing there until on_node_back(). Returns the new plan, or nullopt when the
  // dispatcher does not move tasks (Local: a task stays on its source, lost with it).
  virtual std::optional<Plan> on_node_lost(NodeIndex /*node*/, std::vector<PlanRecord>& /*records*/) {
    return std::nullopt;
  }
  // The node answers again; it becomes a candidate for later placements.
  virtual void on_node_back(NodeIndex /*node*/) {}
  // Why task t is where the plan has it, or why it waits, from the dispatcher's present
  // state: for a placed task its node's estimate; for a waiting one every node it could
  // run on, closest first. Changes nothing. The default, for dispatchers without
  // estimates, says what the dispatcher does.
  virtual Explanation explain(TaskIndex t) const;
  // Stage 2's word on the tasks that still wait after initial(), update() or
  // on_node_lost(): one kUnplaceable record (from = to = kNone, with `why`) per waiting task
  // whose reason changed since it was last given (in a record or here), so that a driver
  // can log each window's attempt without repeating itself. Not part of the plan's
  // records; appended to `notes`, and drained by the call.
  virtual void take_waiting_notes(std::vector<PlanRecord>& /*notes*/) {}
};

// The dispatcher `spec` names (policy_spec.h: parsed and checked already, so this cannot
// fail). REQUIRES: `scenario` outlives the dispatcher.
std::unique_ptr<Dispatcher> make_dispatcher(const DispatcherSpec& spec, const Scenario& scenario);

// The nodes task `t` may execute on: its source, then every node it can reach (all nodes
// when the network has a default bandwidth, otherwise the source's explicit links). This
// keeps the dispatcher's per-task cost independent of the fleet size (paper §4.2.2).
void reachable_nodes(const Scenario& scenario, const Network& network, TaskIndex t,
                     std::vector<NodeIndex>& out);

// Eq. 2 + Eq. 3 (alpha 0, no batching) for task t on the node `plan` puts it on, with the
// tasks the plan puts there: the paper's estimate for any placement, e.g. a baseline's
// that keeps none. Verdict kFits, kMissesDeadline or kNoLink. REQUIRES: t is placed.
NodeEstimate estimate_in_plan(const Scenario& scenario, const Plan& plan, TaskIndex t);

}  // namespace coedge::policy
