// The local scheduler decides, on one node, what its single accelerator runs next.
// Passive and pure: the driver (simulator or runtime) reports ready jobs with on_ready()
// and, whenever the accelerator is idle, asks decide(). Time is always passed in.
//
// Contract of decide(now, out):
//  - out.batch: the jobs to run now as one forward pass of one model (may be empty);
//  - out.dropped: jobs removed from the queues without running; the driver counts them;
//  - out.wake_at: if no batch was chosen but jobs are waiting, when to ask again
//    (TimePoint::max() when only a new job or a finished batch can change the answer).
// Every job given to on_ready() leaves through exactly one batch or one drop, unless it is
// still queued. Not thread-safe; one instance per node.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"
#include "policy/job.h"
#include "policy/policy_spec.h"

namespace coedge::policy {

struct Decision {
  ModelIndex model = kNone;
  std::vector<Job> batch;
  Duration expected{};  // profiled ExeTime(model, batch.size())
  std::vector<Job> dropped;
  TimePoint wake_at = TimePoint::max();

  void clear() {
    model = kNone;
    batch.clear();
    expected = Duration{0};
    dropped.clear();
    wake_at = TimePoint::max();
  }
};

class LocalScheduler {
 public:
  virtual ~LocalScheduler() = default;
  virtual void on_ready(const Job& job, TimePoint now) = 0;
  virtual void decide(TimePoint now, Decision& out) = 0;
  virtual size_t queued() const = 0;
};

// The local scheduler `spec` names (policy_spec.h: parsed and checked already, so this
// cannot fail); its options, such as triton's knobs, apply to every model.
// REQUIRES: `scenario` outlives the scheduler.
std::unique_ptr<LocalScheduler> make_local_scheduler(const SchedulerSpec& spec,
                                                     const Scenario& scenario);

}  // namespace coedge::policy
