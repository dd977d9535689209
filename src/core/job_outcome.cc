#include "core/job_outcome.h"

namespace coedge {

std::string_view to_string(JobOutcome outcome) {
  switch (outcome) {
    case JobOutcome::kOpen: return "open";
    case JobOutcome::kMet: return "met";
    case JobOutcome::kOverdue: return "overdue";
    case JobOutcome::kDropped: return "dropped";
  }
  return "?";
}

std::string_view to_string(DropCause cause) {
  switch (cause) {
    case DropCause::kNone: return "none";
    case DropCause::kUnplaced: return "unplaced";
    case DropCause::kUnreachable: return "unreachable";
    case DropCause::kScheduler: return "scheduler";
    case DropCause::kBadFrame: return "bad_frame";
    case DropCause::kWorkerCrash: return "worker_crash";
    case DropCause::kServerCrash: return "server_crash";
    case DropCause::kInferenceError: return "inference_error";
    case DropCause::kLost: return "lost";
    case DropCause::kShutdown: return "shutdown";
    case DropCause::kOverload: return "overload";
    case DropCause::kNotReady: return "not_ready";
    case DropCause::kProtocolViolation: return "protocol_violation";
  }
  return "?";
}

}  // namespace coedge
