// How one node's processes are wired through shared memory: which segments there are,
// who maps each and how, the names of their rings, pools and doorbells, and the plans
// that size them. The agent creates every segment (ipc::Segment::create_sealed) and
// hands each process the descriptors it may have; each process computes the layout from
// the same plan function (never from the segment). Pure.
//
//   segment            agent   server   task t's pre   task t's post
//   control            RW      RW       -              -
//   task/<t>           RW      RW       RW             RW
//   frames/<sensor>    RW(*)   -        RO (its sensor's) -
//   (*) sealed writer-only: no process but the agent can ever map it writable.
// So a worker can write its own task's rings, pools and doorbells (harming only its own
// task: every reader of them checks what it reads) and read its camera's frames; it
// never maps the agent's or the server's own structures, nor another task's.
//
//   agent --frame/<task>--> pre worker --tensor/<task>--> server --output/<task>--> post worker
//   (frame/<task> carries FrameTickets: the frame's chunk and the job; the frame itself,
//   in frames/<sensor>, is written by the agent only)
//   agent --jobs/<task>--> server (in the control segment: the job table, releases and
//   deadlines, ipc/job_table.h)
//   post worker --result/<task>--> agent (its results; the agent writes RUN_DIR/results/<task>.jsonl)
//   each of them --event/...--> agent (job events: one ring per producer process)
//   agent --control/server--> server (which models to hold)
// Doorbells: the control segment holds the agent's and the server's own; each task
// segment has its own "agent" and "server" bells (rung by that task's rings towards
// them: a worker that plays with its bell disturbs only its task's wake-ups) and its
// workers' bells. The agent and the server sleep on all of theirs at once (bell_waiter.h).
// send_result() and take_result() are the two ends of a result ring: the post worker's
// and the agent's (which checks what the worker wrote: chunk, length).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>


#include "ipc/messages.h"
#include "ipc/shm_segment.h"

namespace coedge::ipc {

// The segments' memfd names (they show in /proc/PID/fd; nothing looks them up).
inline constexpr const char* kControlSegment = "coedge-control";
inline std::string task_segment(const std::string& task) { return "coedge-task-" + task; }
inline std::string frame_segment(const std::string& sensor) { return "coedge-frames-" + sensor; }

inline std::string frame_ring(const std::string& task) { return "frame/" + task; }
inline std::string tensor_ring(const std::string& task) { return "tensor/" + task; }
inline std::string output_ring(const std::string& task) { return "output/" + task; }
inline std::string pre_events(const std::string& task) { return "event/" + task + "/pre"; }
inline std::string post_events(const std::string& task) { return "event/" + task + "/post"; }
inline std::string result_ring(const std::string& task) { return "result/" + task; }
inline constexpr const char* kServerEvents = "event/server";
inline constexpr const char* kServerControl = "control/server";

inline std::string frame_pool(const std::string& sensor) { return "frames/" + sensor; }
inline std::string tensor_pool(const std::string& task) { return "tensors/" + task; }
inline std::string output_pool(const std::string& task) { return "outputs/" + task; }
inline std::string result_pool(const std::string& task) { return "results/" + task; }
// One chunk holding the task's JobTable: written by the agent, read by the server; never
// a worker's to map (the node's control region).
inline std::string job_table_pool(const std::string& task) { return "jobs/" + task; }

// A task's result ring and pool, as planned (the agent checks chunk references against
// these, never against the pool's header in shared memory, which a worker can write).
inline constexpr uint32_t kResultRing = 16;
inline constexpr uint32_t kResultChunks = kResultRing + 2;
inline constexpr uint64_t kResultChunkBytes = payload_offset<ResultHeader>() + kMaxResultBytes;

// In the control segment AND in each task segment (each its own word).
inline constexpr const char* kAgentBell = "agent";
inline constexpr const char* kServerBell = "server";
inline std::string pre_bell(const std::string& task) { return task + "/pre"; }
inline std::string post_bell(const std::string& task) { return task + "/post"; }

// A sensor's frame pool holds this many frames per task that reads it (and as many more
// spare): the agent lets no task hold more at once (node/ipc_pipeline.cc), so a task that
// keeps its frames can never take another task's.
inline constexpr uint32_t kFramesPerReader = 4;

// A tensor or output chunk has one consumer: this is its holder bit.
inline constexpr uint64_t kSoleHolder = 1;

struct TaskChannels {
  std::string name;
  uint64_t tensor_bytes = 0;  // one input item (float32), header excluded
  uint64_t output_bytes = 0;  // one output item (float32, or u8 for segmentation), header excluded
};
// A task's channels from what its workers are told on their command line (the agent, the
// server and the SDK all size a task segment with this).
TaskChannels task_channels(const std::string& task, const std::vector<int64_t>& input_shape,
                           const std::vector<int64_t>& output_shape, const std::string& kind);

struct SensorChannels {
  std::string name;
  uint64_t frame_bytes = 0;  // largest frame's pixels, header excluded
  uint32_t tasks = 0;        // tasks that read it
};

// Sends a job event to the agent. A full ring means the agent is behind: this waits a
// little (up to ~50 ms), then gives up on the event, says so on stderr and returns false;
// the agent then closes the job as lost after its deadline (counted, never vanished).
bool send_event(Ring& events, const JobEvent& event, const char* who);

// Post worker: sends one result of job `ref` (JSON text, no NUL) to the agent, before the
// job's kDone event. A full pool or ring means the agent is behind: this waits a little
// (up to ~50 ms each), then drops the result, says so on stderr and returns false (the
// job itself is still reported by its kDone). False too for a text longer than
// kMaxResultBytes. REQUIRES: `pool` and `ring` are the task's result pool and ring.
bool send_result(Pool& pool, Ring& ring, const JobRef& ref, std::string_view json, const char* who);

// A result as the agent took it out of shared memory: its own copy.
struct ReceivedResult {
  enum class Status : uint8_t {
    kOk,
    kBadChunk,   // a chunk reference outside the task's result pool, or to a chunk not
                 // published in the reference's generation
    kBadLength,  // a length of 0, beyond kMaxResultBytes or beyond the chunk
  };
  Status status = Status::kOk;
  JobRef ref;          // as the worker wrote it: the agent checks the job against its ledger
  std::string json;    // kOk: the worker's text
  std::string error;   // otherwise: what was wrong
};
// Agent: takes the oldest entry of a task's result ring (`pool`: the task's result pool).
// nullopt when the ring is empty; otherwise the entry is consumed (its chunk released).
// The header and the text are copied out of shared memory once, before they are checked.
std::optional<ReceivedResult> take_result(Ring& ring, Pool& pool);

// The agent's and the server's own: the server's event and control rings, their bells,
// and each task's job table (`tasks`: the node's task names, in order).
SegmentPlan control_segment_plan(const std::vector<std::string>& tasks);
// One task's: its frame ring (agent -> pre: FrameTickets), tensor ring and pool (pre -> server), output
// ring and pool (server -> post), result ring and pool (post -> agent), its workers'
// event rings, and its four bells. Pool indices: tensors 0, outputs 1, results 2.
SegmentPlan task_segment_plan(const TaskChannels& task);
// One sensor's frames: a pool (index 0) and nothing else, written by the agent only.
SegmentPlan frame_segment_plan(const SensorChannels& sensor);

}  // namespace coedge::ipc
