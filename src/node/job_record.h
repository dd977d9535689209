// What the node runtime records about one job (one frame of one task) from its release
// to its end: the timestamps of every stage, the batch it ran in, and how it ended.
// Times are on the agent's clock (TimePoint since the agent started); a stage the job
// never reached keeps TimePoint{} and `reached()` says so. Plain data.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/time.h"

namespace coedge {

enum class JobOutcome : uint8_t { kOpen, kMet, kOverdue, kDropped };

// Why a job was dropped (kNone for met/overdue jobs).
enum class DropCause : uint8_t {
  kNone,
  kDeadline,      // the scheduler found it could not meet its deadline even alone
  kBadFrame,      // pre-processing rejected the frame (corrupt, empty, wrong channels)
  kWorkerCrash,   // its pre or post worker died or hung while holding it
  kServerCrash,   // the inference server died while holding it
  kInferenceError,// the backend failed on its batch
  kLost,          // never finished: closed by the agent long after its deadline
  kShutdown,      // still open when the node stopped
  kOverload,      // no queue space (shared memory exhausted)
};

std::string_view to_string(JobOutcome outcome);
std::string_view to_string(DropCause reason);

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

}  // namespace coedge
