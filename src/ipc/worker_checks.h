// The checks of everything the agent and the server read from a worker, and of what a
// worker's SDK reads from the (trusted) agent and server. Pure functions: each takes a
// COPY of what was read out of shared memory (the caller copies once, then calls these)
// and a small private context, and returns a verdict; no OS state, no clock, no I/O, so
// they are unit-tested on plain structs and fuzzed (fuzz/fuzz_worker_messages.cc).
//
// The rules (docs/WORKER_SDK.md, "What a worker may send"):
//  - the task of a message is the task whose ring it came on (WorkerSource); an event that
//    names another task, or another task's job, is kForeignTask;
//  - a pre worker sends kReady, kPreDone and kDropped; a post worker kReady, kDone and
//    kDropped (kWrongKind otherwise, and for a kReady that names another role);
//  - a job id the agent never released is kUnknownJob; a job that was released but is
//    closed is NOT a violation (late news, ignored: kIgnore);
//  - the job must be where the role can honestly speak of it (kWrongStage otherwise):
//    pre kPreDone: the job is at pre-processing (or already at post-processing, when the
//    server's news of it was read first); pre kDropped: at pre-processing, or at the
//    server (the SDK gives up a job whose tensor found the ring full right after its
//    kPreDone); post kDone/kDropped: at post-processing;
//  - a worker may drop a job for kBadFrame or kOverload only (kBadReason otherwise, e.g. a
//    cause outside the vocabulary); a kDone's reason is 0 or kResultNotSent, a kPreDone's 0;
//  - stamps: only the role's own are taken (pre_* from pre, post_* from post; the others
//    a worker sends are ignored, never applied); each set one lies in
//    [release - kStampSlackUs, now] and start <= end; a kPreDone or kDone sets both
//    (kBadStamps otherwise).
// A tensor (check_tensor): its chunk is in the task's tensor pool and published in the
// generation of its reference (kBadChunk); its table slot is < kJobSlots and its element
// count the model's, fitting the chunk (kBadTensor); the job table's slot holds this job of this task, read
// consistently (kForgedJob: stale, forged or torn); its pre stamps are ordered and within
// [release - kStampSlackUs, now] (kBadStamps). The job's identity, release and deadline
// are the table's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ipc/job_table.h"
#include "ipc/messages.h"

namespace coedge::ipc {

// A worker's stamps may precede its job's release by this much (never more), and never
// follow the moment the message is read.
inline constexpr int64_t kStampSlackUs = 1'000'000;

// Where a job is, as the agent's ledger says (node::JobStage, mirrored: ipc links no node code).
enum class JobPhase : uint8_t { kPre, kServer, kPost };

// What the agent knows of a job id.
struct JobFacts {
  enum class State : uint8_t { kNeverReleased, kClosed, kOpen };
  State state = State::kNeverReleased;
  uint32_t task = 0;                 // kOpen only
  JobPhase stage = JobPhase::kPre;   // kOpen only
  int64_t release_us = 0;            // kOpen only
};

// The agent's ledger, as the checks see it (the agent adapts its JobLedger; tests and the
// fuzzer use a map).
class JobView {
 public:
  virtual ~JobView() = default;
  virtual JobFacts lookup(uint64_t job) const = 0;
};

// Whose ring a message came on: fixed by the ring, never by the message.
struct WorkerSource {
  uint32_t task = 0;
  Role role = Role::kPre;
};

enum class Verdict : uint8_t {
  kApply,      // a sound message: apply it (a kReady, or news of an open job of the task)
  kIgnore,     // news of a job that is closed already: nothing to do, not a violation
  kViolation,  // `code`, `detail`: never applied
};

struct EventCheck {
  Verdict verdict = Verdict::kApply;
  Violation code = Violation::kNone;
  std::string detail;  // for the log: which field, its value, why
  // On a violation: the job the event names is open and the source task's (the agent
  // drops it with protocol_violation). Never another task's job.
  bool drop_job = false;
};

// `e`: the event as copied out of the ring; `now_us`: CLOCK_MONOTONIC when it was read.
EventCheck check_worker_event(WorkerSource source, const JobEvent& e, const JobView& jobs, int64_t now_us);

// A tensor as the server took it off task `task`'s ring.
struct TensorInput {
  uint32_t task = 0;              // the ring's
  bool chunk_published = false;   // Pool::published(ref) != nullptr in the task's tensor pool
  TensorHeader header;            // the copy (zeros when the chunk is not published)
  uint64_t expected_elements = 0; // the task's model's per-item input count
  uint64_t chunk_bytes = 0;       // the tensor pool's chunk size (header + float32 payload must fit)
  int64_t now_us = 0;
};

struct TensorCheck {
  Violation code = Violation::kNone;  // kNone: sound
  std::string detail;
  // The table's entry for the job, when its slot holds header.job of this task (set on a
  // sound tensor, and on a violation after the slot matched: that job is dropped).
  std::optional<JobEntry> job;
};

TensorCheck check_tensor(const TensorInput& in, const JobTable& table);

// --- SDK side: what a worker reads from the agent and the server (trusted, but still
// bounds-checked before the worker touches memory through it). Empty string: sound.

// A pre worker's ticket and the frame header it copied from the ticket's chunk
// (`frame_chunk_bytes`: that pool's chunk size; `frame_found`: the chunk was in its pool).
std::string check_ticket(const FrameTicket& ticket, uint32_t task, bool frame_found, const FrameHeader& frame,
                         uint64_t frame_chunk_bytes);

// A post worker's output header (copied), of a chunk of `chunk_bytes` bytes.
std::string check_output(const OutputHeader& header, uint32_t task, uint64_t chunk_bytes);

// For logs and metrics: "foreign_task", "wrong_kind", ... ("none" for kNone, "unknown"
// for a value outside the enum).
const char* to_string(Violation v);

}  // namespace coedge::ipc
