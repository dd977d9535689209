// What the node runtime records about one job (one frame of one task) from its release
// to its end: the timestamps of every stage, the batch it ran in, and how it ended.
// Times are on the agent's clock (TimePoint since the agent started); a stage the job
// never reached keeps TimePoint{} and `reached()` says so. Plain data.
#pragma once

#include <cstdint>

#include "core/job_outcome.h"
#include "core/time.h"

namespace coedge::node {

struct JobRecord {
  uint64_t id = 0;
  uint32_t task = 0;  // index into NodeConfig::tasks
  TimePoint release{};
  TimePoint deadline{};  // absolute
  TimePoint pre_start{}, pre_end{};
  TimePoint infer_start{}, infer_end{};  // the whole batch's forward pass
  TimePoint post_start{}, post_end{};
  TimePoint end{};  // when its outcome was decided
  int batch = 0;    // size of the batch it ran in; 0 if it never ran
  JobOutcome outcome = JobOutcome::kOpen;
  DropCause reason = DropCause::kNone;

  static bool reached(TimePoint t) { return t != TimePoint{}; }
};

}  // namespace coedge::node
