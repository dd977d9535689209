// How a job ended, and why a dropped job was dropped: the one vocabulary of the simulator,
// the node runtime, the master and every report (CSV, JSON lines, metrics, summaries).
// A released job ends exactly once, as met (finished by its deadline), overdue (finished
// after it) or dropped (never finished, with a cause). Miss rate = (overdue + dropped) /
// released. The strings of to_string() are the ones files and metrics carry.
#pragma once

#include <cstdint>
#include <string_view>

namespace coedge {

enum class JobOutcome : uint8_t { kOpen, kMet, kOverdue, kDropped };

// Why a job was dropped (kNone for a job that was not). The values are stable: workers
// built with an earlier SDK write them into shared memory (ipc::JobEvent::reason).
enum class DropCause : uint8_t {
  kNone = 0,
  kScheduler = 1,        // the local scheduler dropped it: it could not meet its deadline
                         // even alone (coedge, deadline-drop) or outwaited its queue
                         // timeout (triton)
  kBadFrame = 2,         // pre-processing rejected the frame (corrupt, empty, wrong channels)
  kWorkerCrash = 3,      // its pre or post worker died or hung while holding it
  kServerCrash = 4,      // the inference server died while holding it
  kInferenceError = 5,   // the backend failed on its batch
  kLost = 6,             // never finished: closed long after its deadline, or no node closed it
  kShutdown = 7,         // still open when the node stopped, or stopped running its task
  kOverload = 8,         // no queue space (shared memory exhausted)
  kUnplaced = 9,         // no node hosts its task (the dispatcher found none that can)
  kUnreachable = 10,     // its input cannot reach the executing node (no link)
  kNotReady = 11,        // its task was not ready on the node yet: workers starting or
                         // its model loading (a node starts a task when a plan gives it)
  kProtocolViolation = 12,  // its task's worker broke the worker protocol (wrote something
                            // the agent or server refused: docs/SECURITY.md), or the task is
                            // quarantined for doing so repeatedly
};
inline constexpr int kDropCauseCount = 13;

std::string_view to_string(JobOutcome outcome);  // "open", "met", "overdue", "dropped"
std::string_view to_string(DropCause cause);     // "none", "unplaced", ..., "overload"

}  // namespace coedge
