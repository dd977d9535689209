// The messages that cross process boundaries on one node, as they lie in shared memory.
// Each is a plain, fixed-size header at the start of a chunk, followed (for frames,
// tensors, outputs and results) by its payload in the same chunk: a frame is written once by the
// agent and read in place by every task's pre-processing worker, which never writes it;
// only chunk references (and, towards a pre worker, a FrameTicket naming its job) move through
// the rings (ipc/shm_segment.h). Times are CLOCK_MONOTONIC microseconds, which every
// process of a machine shares. Plain data: no pointers, no virtuals, trivially copyable;
// sizes and offsets are frozen in ipc/abi_layout.h (a change is an ABI bump).
//
// Trust: what a worker writes (TensorHeader, ResultHeader, JobEvent from its rings) is
// untrusted: the agent and the server copy it out of shared memory once and check the
// copy (ipc/worker_checks.h). A job's identity, release and deadline come from the agent's
// ledger or from its job table (ipc/job_table.h), never from a worker's message; the task
// of a message is the task whose ring it came on.
#pragma once

#include <cstdint>
#include <type_traits>

#include "ipc/shm_segment.h"  // ChunkRef

namespace coedge::ipc {

inline constexpr int kMaxJobsPerFrame = 32;  // tasks that one sensor frame can feed
inline constexpr int kMaxRank = 6;

// The worker protocol: how a worker process and the agent talk through the segment (the
// rings and messages below). It is the SDK's COEDGE_WORKER_ABI_VERSION (coedge/worker.h),
// sent in every worker's kReady, so that the agent refuses a worker built against another
// SDK (docs/WORKER_SDK.md, "ABI versioning"). 1: the post worker wrote results.jsonl
// itself (its kReady carried 0 here); 2: results go to the agent (ResultHeader); 3: a pre
// worker gets a FrameTicket per job and never writes the frame (the agent releases it),
// a TensorHeader names its job by id and job-table slot only, and every message a worker
// sends is checked (a violation gets the worker killed: ipc/worker_checks.h).
inline constexpr int32_t kWorkerProtocol = 3;

// A post result's JSON text, without a terminating NUL: at most this many bytes (the SDK's
// result buffer, 64 KiB with its NUL, fits).
inline constexpr uint32_t kMaxResultBytes = 64 * 1024;

// A job of one task, named in every message that carries it.
struct JobRef {
  uint64_t job = 0;
  uint32_t task = 0;
  uint32_t reserved = 0;
  int64_t release_us = 0;
  int64_t deadline_us = 0;  // absolute
};

// Sensor frame: 8-bit pixels, `stride` bytes per row, right after the header. Written by
// the agent only; workers read it in place and never write it.
struct FrameHeader {
  uint64_t sequence = 0;
  int64_t capture_us = 0;
  int32_t width = 0, height = 0, channels = 0, stride = 0;
  uint64_t payload_bytes() const { return static_cast<uint64_t>(stride) * static_cast<uint64_t>(height); }
};

// Agent -> one task's pre worker (ring frame/<task>): a frame for one job of that task.
// `job` is the agent's own (id, task, release, deadline from its ledger); `table_slot` is
// the job's slot in the task's job table (ipc/job_table.h), which the pre worker copies
// into its TensorHeader so that the server finds the job there.
struct FrameTicket {
  ChunkRef frame;
  JobRef job;
  uint32_t table_slot = 0;
  uint32_t reserved = 0;
};

// Extra numbers that pre-processing passes to post-processing with a job (for the stock
// detector: the letterbox scale and padding, and the frame size).
struct Aux {
  double values[6] = {};
};

// A pre-processed input item ([C, H, W] float32 after the header), pre -> server. Names its
// job by id and job-table slot only: the server takes the task from the ring, and the
// job's release and deadline from the agent's job table, never from here.
struct TensorHeader {
  uint64_t job = 0;
  uint32_t table_slot = 0;  // the FrameTicket's
  uint32_t reserved = 0;
  int64_t pre_start_us = 0, pre_end_us = 0;
  Aux aux;
  uint64_t elements = 0;
};

// One post result (the worker's JSON object, `bytes` bytes after the header, no NUL),
// post worker -> agent, which appends it to the task's results file. Untrusted: the agent
// checks the chunk, the length and the job before use (ipc::take_result, node/core/result_log.h).
struct ResultHeader {
  JobRef ref;
  uint32_t bytes = 0;
  uint32_t reserved = 0;
};

// The element type of an output item: float32, or one byte per element (a segmentation
// model's per-pixel class ids, taken by the server: infer/segmentation.h).
enum class OutputDType : uint8_t { kF32 = 0, kU8 = 1 };

// One item of a batch's output (`elements` of `dtype` after the header), server -> post.
struct OutputHeader {
  JobRef ref;
  int64_t pre_start_us = 0, pre_end_us = 0;
  int64_t infer_start_us = 0, infer_end_us = 0;
  int32_t batch = 0;
  int32_t rank = 0;
  int64_t shape[kMaxRank] = {};  // of this item (without the batch axis)
  Aux aux;
  uint64_t elements = 0;
  // Appended (issue 13): the fields above and the payload's offset stay where they were
  // (checked below), so the change to the shared layout is this one field.
  OutputDType dtype = OutputDType::kF32;
  uint8_t reserved_dtype[7] = {};
};
static_assert(sizeof(OutputHeader) == 184, "OutputHeader's layout is shared by every process of a node");

// What a worker or the server tells the agent about a job. The agent's ledger moves the
// job from stage to stage and closes it on kDone or kDropped.
// kReady: a worker or the server is connected and waiting for work (ref.task names the
// task, `reason` the role: 0 pre, 1 post, 2 server; from a worker, `batch` carries its
// kWorkerProtocol, 0 from a worker of protocol 1).
// kDone from a post worker: its result, if any, was pushed to the task's result ring
// before this event, so the agent takes the task's results before it closes the job;
// `reason` kResultNotSent: the worker had a result but the result ring stayed full.
// kModel: the server only (the agent ignores it from a worker's ring): what became of a
// ServerCommand; `batch` is the model's index, `reason` a ModelState.
// kViolation: the server only: task ref.task's pre worker sent a tensor the server
// refused; `reason` is a Violation. (The job it named, if it was that task's, is dropped
// by a kDropped of its own.)
enum class EventKind : uint8_t {
  kPreDone = 1, kInferred = 2, kDone = 3, kDropped = 4, kReady = 5, kModel = 6, kViolation = 7
};
enum class Role : uint8_t { kPre = 0, kPost = 1, kServer = 2 };
enum class ModelState : uint8_t { kLoaded = 0, kLoadFailed = 1, kUnloaded = 2 };
inline constexpr uint8_t kResultNotSent = 1;  // JobEvent::reason of a kDone

// What a worker did wrong, as the checks of ipc/worker_checks.h find it (and as the server
// tells the agent in a kViolation's `reason`). Values are stable (metrics labels, logs);
// the agent maps them onto its own node::ViolationKind.
enum class Violation : uint8_t {
  kNone = 0,
  kForeignTask = 1,  // names another task (in the event, or the job is another task's)
  kWrongKind = 2,    // a kind its role may not send (or a kReady for another role)
  kUnknownJob = 3,   // a job id the agent never released
  kWrongStage = 4,   // its job is not at its role's stage
  kBadReason = 5,    // a drop cause a worker may not claim, or a reason out of range
  kBadStamps = 6,    // times outside [release - 1 s, now], unordered, or not its role's
  kBadChunk = 7,     // a chunk reference outside its pool, or not published in that generation
  kBadTensor = 8,    // a tensor of the wrong element count or a bad table slot
  kForgedJob = 9,    // the job table's slot does not hold the job it names (stale or forged)
  kBadResult = 10,   // a result chunk or length that is wrong
  kFlood = 11,       // more messages than its role can honestly send
  kCorruptRing = 12, // a ring whose indices disagree
};
inline constexpr int kViolationCount = 13;

// Agent -> server (ring kServerControl): which models to hold. A node loads a model when
// the first task that uses it arrives and unloads it once no task has used it for a grace
// period (lean nodes). A restarted server holds none: the agent sends its loads again
// when the new server says it is ready.
enum class ModelCommand : uint8_t { kLoad = 1, kUnload = 2 };
struct ServerCommand {
  ModelCommand command = ModelCommand::kLoad;
  uint8_t reserved[3] = {};
  uint32_t model = 0;  // index in the node's models
};

struct JobEvent {
  JobRef ref;
  EventKind kind = EventKind::kDone;
  uint8_t reason = 0;  // a coedge::DropCause (core/job_outcome.h), for kDropped
  int32_t batch = 0;
  int64_t pre_start_us = 0, pre_end_us = 0;
  int64_t infer_start_us = 0, infer_end_us = 0;
  int64_t post_start_us = 0, post_end_us = 0;
};


// Payloads start at this alignment after their header.
inline constexpr uint64_t kPayloadAlign = 64;
template <typename Header>
constexpr uint64_t payload_offset() {
  return (sizeof(Header) + kPayloadAlign - 1) / kPayloadAlign * kPayloadAlign;
}
static_assert(payload_offset<OutputHeader>() == 192, "the dtype field did not move the output payload");

}  // namespace coedge::ipc

#include "ipc/abi_layout.h"  // the frozen sizes and offsets of everything above
