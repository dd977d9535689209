// The worker SDK's runtime: argument parsing, the node's shared memory (its task's
// segment and, for pre, its sensor's frames, handed over as descriptors and mapped with
// the plans computed from the command line: ipc/node_topology.h), and the pre or
// post loop around the user's callbacks (sdk/include/coedge/worker.h). Every job a
// worker takes ends in one event to the agent's ledger: kPreDone or kDropped from pre,
// kDone or kDropped from post. A post result goes to the agent through the task's result
// ring, before the job's kDone (ipc/messages.h): the agent writes the results file. Each
// worker's kReady carries its protocol (COEDGE_WORKER_ABI_VERSION), which the agent checks.
// Protocol 3: a pre worker takes FrameTickets (frame chunk + its job) and never writes the
// frame (the agent releases it when the job's kPreDone or kDropped arrives); its tensor
// names the job by id and job-table slot. Everything this runtime sends obeys the checks
// of ipc/worker_checks.h (a worker that breaks them is killed by the agent). What it reads
// from the agent and the server is copied once and bounds-checked before use.
// The callbacks are called through sdk::WorkerInvoker (coedge/worker_invoke.h), as in
// --isolation none. Single-threaded; stops on SIGTERM/SIGINT.
#include "coedge/worker.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "coedge/worker_invoke.h"
#include "core/clock.h"
#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"
#include "ipc/worker_checks.h"
#include "core/job_outcome.h"

// What the worker tells the agent in its kReady is the protocol it speaks; a result the
// invoker accepts always fits a result chunk.
static_assert(coedge::ipc::kWorkerProtocol == COEDGE_WORKER_ABI_VERSION);
static_assert(coedge::sdk::kResultBytes - 1 <= coedge::ipc::kMaxResultBytes);

namespace {

using namespace coedge;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Args {
  std::string role, node, task, model, kind, sensor, task_dir;
  uint32_t task_index = 0;
  std::vector<int64_t> input_shape, output_shape;
  bool results = true;
  double confidence = -1, nms_iou = -1;  // -1: not set
  std::vector<std::string> labels;
  std::vector<const char*> label_ptrs;   // into `labels`, for coedge_task_info
  std::string masks;                     // "png" or "": the task's masks setting
  int task_fd = -1, frames_fd = -1;      // the shared memory's descriptors
  uint64_t frame_bytes = 0;              // pre: its sensor's frame segment, as planned
  uint32_t frame_readers = 0;
};

bool parse_fraction(const std::string& text, double& out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= 0 && v <= 1)) return false;
  out = v;
  return true;
}

bool parse_shape(const std::string& text, std::vector<int64_t>& out) {
  out.clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (part.empty()) return false;
    char* end = nullptr;
    const long long v = std::strtoll(part.c_str(), &end, 10);
    if (*end != '\0' || v <= 0) return false;
    out.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return !out.empty() && out.size() <= COEDGE_MAX_RANK;
}

// The task's settings from the node config (thresholds and class names), in
// TASK_DIR/coedge-settings, which the agent writes before it starts the task's workers
// (src/node/ipc_pipeline.cc, write_task_settings). A file and not options: a worker built
// against an SDK from before these settings ignores the file, where it would refuse an
// option it does not know (exit 2, "unknown option") and never start. Lines:
//   confidence X     (in [0, 1])
//   nms_iou X        (in [0, 1])
//   label NAME       (one per class, in class order; NAME is the rest of the line)
//   masks png        (a segmentation task writes each job's label map as a PNG)
// and `#` comments. No file (a worker started by hand): nothing set. An option given on
// the command line (--confidence, --nms-iou, --labels) wins over the file.
bool read_settings(Args& a, bool confidence_given, bool nms_given, bool labels_given, std::string& why) {
  if (a.task_dir.empty()) return true;
  const std::string file = a.task_dir + "/coedge-settings";
  std::ifstream in(file);
  if (!in) return true;
  std::string line;
  std::vector<std::string> labels;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? std::string() : line.substr(space + 1);
    const std::string where = file + ":" + std::to_string(line_no) + ": ";
    if (key == "confidence" || key == "nms_iou") {
      double v = -1;
      if (!parse_fraction(value, v)) {
        why = where + "bad " + key + " '" + value + "' (a number in [0, 1])";
        return false;
      }
      if (key == "confidence" && !confidence_given) a.confidence = v;
      if (key == "nms_iou" && !nms_given) a.nms_iou = v;
    } else if (key == "label") {
      labels.push_back(value);
    } else if (key == "masks") {
      // A value of a newer agent (another format) is ignored, like a newer key: no masks.
      if (value == "png") a.masks = value;
      else std::fprintf(stderr, "coedge worker: %signored masks '%s' (this worker writes png)\n", where.c_str(), value.c_str());
    }  // other keys: settings of a newer agent, ignored (the reason this is a file)
  }
  if (!labels_given && !labels.empty()) a.labels = std::move(labels);
  return true;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "coedge worker: %s\n"
               "A CoEdge worker is started by the node agent (coedge node), with:\n"
               "  --role pre|post --node NAME --task NAME --task-index N --model NAME\n"
               "  --kind KIND --sensor NAME --task-dir DIR --input-shape C,H,W\n"
               "  --output-shape D1[,D2...] --shm-task-fd FD\n"
               "  [--shm-frames-fd FD --frame-bytes N --frame-readers N (pre)]\n"
               "  [--results 0|1 (0: send no results)]\n"
               "  [--confidence X] [--nms-iou X] (in [0, 1]) [--labels NAMES (one per line)]\n"
               "(the last three override the task's settings, which the agent writes to\n"
               "DIR/coedge-settings: docs/WORKER_SDK.md)\n",
               why);
  return 2;
}

bool parse_args(int argc, char** argv, Args& a, std::string& why) {
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) { why = "missing value after " + key; return false; }
    const std::string value = argv[++i];
    if (key == "--role") a.role = value;
    else if (key == "--node") a.node = value;
    else if (key == "--task") a.task = value;
    else if (key == "--model") a.model = value;
    else if (key == "--kind") a.kind = value;
    else if (key == "--sensor") a.sensor = value;
    else if (key == "--task-dir") a.task_dir = value;
    else if (key == "--results") a.results = value != "0";
    else if (key == "--confidence") { if (!parse_fraction(value, a.confidence)) { why = "bad --confidence " + value + " (a number in [0, 1])"; return false; } }
    else if (key == "--nms-iou") { if (!parse_fraction(value, a.nms_iou)) { why = "bad --nms-iou " + value + " (a number in [0, 1])"; return false; } }
    else if (key == "--labels") {
      a.labels.clear();
      size_t pos = 0;
      while (pos <= value.size()) {
        const size_t nl = value.find('\n', pos);
        a.labels.push_back(value.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
    }
    else if (key == "--task-index") {
      char* end = nullptr;
      const unsigned long v = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || v > 1000000) { why = "bad --task-index " + value; return false; }
      a.task_index = static_cast<uint32_t>(v);
    }
    else if (key == "--shm-task-fd" || key == "--shm-frames-fd" || key == "--frame-bytes" || key == "--frame-readers") {
      char* end = nullptr;
      errno = 0;
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      const bool fd = key == "--shm-task-fd" || key == "--shm-frames-fd";
      if (value.empty() || *end != '\0' || errno != 0 || (fd && (v < 3 || v > 1000000)) || v > (uint64_t{1} << 40)) {
        why = "bad " + key + " " + value;
        return false;
      }
      if (key == "--shm-task-fd") a.task_fd = static_cast<int>(v);
      else if (key == "--shm-frames-fd") a.frames_fd = static_cast<int>(v);
      else if (key == "--frame-bytes") a.frame_bytes = v;
      else a.frame_readers = static_cast<uint32_t>(std::min<uint64_t>(v, 1000000));
    }
    else if (key == "--input-shape") { if (!parse_shape(value, a.input_shape)) { why = "bad --input-shape " + value; return false; } }
    else if (key == "--output-shape") { if (!parse_shape(value, a.output_shape)) { why = "bad --output-shape " + value; return false; } }
    else { why = "unknown option " + key; return false; }
  }
  if (a.role != "pre" && a.role != "post") { why = "--role must be pre or post"; return false; }
  if (a.task.empty() || a.input_shape.empty() || a.output_shape.empty()) {
    why = "--task, --input-shape and --output-shape are required";
    return false;
  }
  if (a.role == "pre" && a.sensor.empty()) { why = "--sensor is required for --role pre"; return false; }
  if (a.task_fd < 0) { why = "--shm-task-fd is required (the node agent hands the worker its shared memory)"; return false; }
  if (a.role == "pre" && (a.frames_fd < 0 || a.frame_bytes == 0)) {
    why = "--shm-frames-fd and --frame-bytes are required for --role pre";
    return false;
  }
  return true;
}

void send_event(ipc::Ring& events, const ipc::JobEvent& event) {
  ipc::send_event(events, event, "coedge worker");
}

template <typename T>
T must(Result<T> r, const Args& a) {
  if (!r.ok()) {
    std::fprintf(stderr, "coedge worker %s/%s: %s\n", a.task.c_str(), a.role.c_str(), r.error().message.c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

// The task's segment, read-write, from the plan its command line gives.
std::unique_ptr<ipc::Segment> map_task(const Args& a) {
  const ipc::TaskChannels channels = ipc::task_channels(a.task, a.input_shape, a.output_shape, a.kind);
  return must(ipc::Segment::map(a.task_fd, ipc::task_segment_plan(channels), ipc::Access::kReadWrite), a);
}

int run_pre(const Args& a, sdk::WorkerInvoker& worker) {
  auto segment = map_task(a);
  // The frames, read-only: the agent wrote them and releases them (this worker cannot
  // write them, its mapping nor any other: the agent sealed them).
  auto frame_segment = must(ipc::Segment::map(a.frames_fd, ipc::frame_segment_plan({a.sensor, a.frame_bytes, a.frame_readers}),
                                              ipc::Access::kReadOnly),
                            a);
  ipc::Ring frames = must(segment->ring(ipc::frame_ring(a.task)), a);
  ipc::Ring tensors = must(segment->ring(ipc::tensor_ring(a.task)), a);
  ipc::Pool tensor_pool = must(segment->pool(ipc::tensor_pool(a.task)), a);
  ipc::Ring events = must(segment->ring(ipc::pre_events(a.task)), a);
  ipc::Doorbell bell = must(segment->doorbell(ipc::pre_bell(a.task)), a);
  tensor_pool.reclaim_filling();  // what a crashed predecessor was writing
  ipc::JobEvent ready;
  ready.kind = ipc::EventKind::kReady;
  ready.ref.task = a.task_index;
  ready.reason = static_cast<uint8_t>(ipc::Role::kPre);
  ready.batch = ipc::kWorkerProtocol;
  send_event(events, ready);

  const uint64_t elements = sdk::elements_of(a.input_shape);
  const uint64_t bytes = ipc::payload_offset<ipc::TensorHeader>() + elements * sizeof(float);
  if (bytes > tensor_pool.chunk_bytes()) {
    std::fprintf(stderr, "coedge worker %s/pre: input %llu bytes exceeds the node's tensor chunks\n",
                 a.task.c_str(), static_cast<unsigned long long>(bytes));
    return 1;
  }
  while (!g_stop) {
    const uint32_t seen = bell.value();
    const void* entry = frames.peek();
    if (entry == nullptr) {
      bell.wait(seen, std::chrono::milliseconds(200));
      continue;
    }
    ipc::FrameTicket ticket;
    std::memcpy(&ticket, entry, sizeof ticket);
    // The frame's header, copied once and checked with the ticket; its pixels are read in
    // place (the agent wrote them; this worker never writes the frame).
    auto frame_pool = frame_segment->pool(ticket.frame.pool);
    const void* frame_chunk = frame_pool.ok() ? frame_pool->data(ticket.frame) : nullptr;
    ipc::FrameHeader frame;
    if (frame_chunk != nullptr) std::memcpy(&frame, frame_chunk, sizeof frame);
    const std::string bad = ipc::check_ticket(ticket, a.task_index, frame_chunk != nullptr, frame,
                                              frame_pool.ok() ? frame_pool->chunk_bytes() : 0);
    const ipc::JobRef ref = ticket.job;
    ipc::JobEvent event;
    event.ref = ref;
    event.pre_start_us = MonotonicClock::monotonic_us();
    if (!bad.empty()) {
      frames.commit();
      std::fprintf(stderr, "coedge worker %s/pre: %s: skipped\n", a.task.c_str(), bad.c_str());
      if (ref.task == a.task_index) {  // our job: give it up, so that it does not wait for its deadline
        event.kind = ipc::EventKind::kDropped;
        event.reason = static_cast<uint8_t>(DropCause::kBadFrame);
        send_event(events, event);
      }
      continue;
    }
    ipc::ChunkRef tensor_ref;
    if (!tensor_pool.alloc(tensor_ref)) {
      // The server holds every tensor chunk of this task: it is far behind.
      frames.commit();
      event.kind = ipc::EventKind::kDropped;
      event.reason = static_cast<uint8_t>(DropCause::kOverload);
      send_event(events, event);
      continue;
    }
    void* chunk = tensor_pool.data(tensor_ref);
    auto* header = new (chunk) ipc::TensorHeader();
    coedge_frame in{};
    in.pixels = static_cast<const uint8_t*>(frame_chunk) + ipc::payload_offset<ipc::FrameHeader>();
    in.width = frame.width;
    in.height = frame.height;
    in.channels = frame.channels;
    in.stride = frame.stride;
    in.sequence = frame.sequence;
    in.capture_us = frame.capture_us;
    in.job = ref.job;
    in.deadline_us = ref.deadline_us;
    const std::span<float> tensor(
        reinterpret_cast<float*>(static_cast<uint8_t*>(chunk) + ipc::payload_offset<ipc::TensorHeader>()),
        elements);
    ipc::Aux aux;
    const bool ok = worker.pre(in, tensor, a.input_shape, aux.values);
    // Done with the frame: the agent releases it when this job's event arrives (below).
    frames.commit();
    event.pre_end_us = MonotonicClock::monotonic_us();
    if (!ok) {
      tensor_pool.discard(tensor_ref);
      event.kind = ipc::EventKind::kDropped;
      event.reason = static_cast<uint8_t>(DropCause::kBadFrame);
      worker.report(ref.job, "pre-processing");
      send_event(events, event);
      continue;
    }
    header->job = ref.job;
    header->table_slot = ticket.table_slot;
    header->pre_start_us = event.pre_start_us;
    header->pre_end_us = event.pre_end_us;
    header->aux = aux;
    header->elements = elements;
    // The event goes first: once the server holds the tensor, the ledger must already
    // know the job left pre-processing, or a crash here would drop it twice.
    event.kind = ipc::EventKind::kPreDone;
    send_event(events, event);
    tensor_pool.publish(tensor_ref, ipc::kSoleHolder);
    if (!tensors.push(&tensor_ref)) {
      tensor_pool.release(tensor_ref, ipc::kSoleHolder);
      event.kind = ipc::EventKind::kDropped;
      event.reason = static_cast<uint8_t>(DropCause::kOverload);
      send_event(events, event);
    }
  }
  return 0;
}

int run_post(const Args& a, sdk::WorkerInvoker& worker) {
  auto segment = map_task(a);
  ipc::Ring outputs = must(segment->ring(ipc::output_ring(a.task)), a);
  ipc::Ring events = must(segment->ring(ipc::post_events(a.task)), a);
  ipc::Doorbell bell = must(segment->doorbell(ipc::post_bell(a.task)), a);
  ipc::Ring results = must(segment->ring(ipc::result_ring(a.task)), a);
  ipc::Pool result_pool = must(segment->pool(ipc::result_pool(a.task)), a);
  result_pool.reclaim_filling();  // what a crashed predecessor was writing
  ipc::JobEvent ready;
  ready.kind = ipc::EventKind::kReady;
  ready.ref.task = a.task_index;
  ready.reason = static_cast<uint8_t>(ipc::Role::kPost);
  ready.batch = ipc::kWorkerProtocol;
  send_event(events, ready);
  const std::string who = "coedge worker " + a.task + "/post";
  while (!g_stop) {
    const uint32_t seen = bell.value();
    const void* entry = outputs.peek();
    if (entry == nullptr) {
      bell.wait(seen, std::chrono::milliseconds(200));
      continue;
    }
    ipc::ChunkRef ref;
    std::memcpy(&ref, entry, sizeof ref);
    auto found = segment->pool(ref.pool);
    const void* chunk = found.ok() ? found->data(ref) : nullptr;
    if (chunk == nullptr) {  // a chunk outside its pool: nothing to read or release
      outputs.commit();
      continue;
    }
    ipc::Pool& pool = *found;
    // The header copied once, then checked: the item's elements must lie inside its chunk,
    // its rank and dtype be known (the server is another process). The shape itself is
    // checked by the invoker.
    ipc::OutputHeader header;
    std::memcpy(&header, chunk, sizeof header);
    ipc::JobEvent event;
    event.ref = header.ref;
    event.post_start_us = MonotonicClock::monotonic_us();
    const std::string bad = ipc::check_output(header, a.task_index, pool.chunk_bytes());
    bool ok = false;
    if (!bad.empty()) {
      worker.report(event.ref.job, "post-processing", bad.c_str());
    } else {
      const bool bytes = header.dtype == ipc::OutputDType::kU8;
      const uint64_t elements = header.elements;
      int64_t shape[COEDGE_MAX_RANK];
      for (int i = 0; i < header.rank; ++i) shape[i] = header.shape[i];
      sdk::OutputItem item;
      const uint8_t* payload = static_cast<const uint8_t*>(chunk) + ipc::payload_offset<ipc::OutputHeader>();
      item.dtype = static_cast<int32_t>(header.dtype);
      if (bytes) item.labels = std::span<const uint8_t>(payload, elements);
      else item.data = std::span<const float>(reinterpret_cast<const float*>(payload), elements);
      item.shape = std::span<const int64_t>(shape, static_cast<size_t>(header.rank));
      item.aux = header.aux.values;
      item.job = header.ref.job;
      item.batch = header.batch;
      item.release_us = header.ref.release_us;
      item.deadline_us = header.ref.deadline_us;
      ok = worker.post(item);
      if (!ok) worker.report(event.ref.job, "post-processing");
    }
    pool.release(ref, ipc::kSoleHolder);
    outputs.commit();
    event.post_end_us = MonotonicClock::monotonic_us();
    if (event.ref.task != a.task_index) continue;  // not this task's (the check said so): not ours to report
    // A failure is the user's code (or the server's item) rejecting the job.
    event.kind = ok ? ipc::EventKind::kDone : ipc::EventKind::kDropped;
    if (!ok) event.reason = static_cast<uint8_t>(DropCause::kBadFrame);
    // The result before kDone: the agent takes it while the job is still open.
    if (ok && a.results && !worker.result().empty() &&
        !ipc::send_result(result_pool, results, event.ref, worker.result(), who.c_str())) {
      event.reason = ipc::kResultNotSent;
    }
    send_event(events, event);
  }
  return 0;
}

}  // namespace

extern "C" int64_t coedge_now_us(void) { return MonotonicClock::monotonic_us(); }

extern "C" int coedge_worker_main(int argc, char** argv, const coedge_worker_callbacks* cb) {
  if (cb == nullptr || cb->init == nullptr || cb->pre == nullptr || cb->post == nullptr) {
    std::fprintf(stderr, "coedge worker: its callbacks are incomplete (init, pre and post are required)\n");
    return 2;
  }
  // ABI 1's and 2's callbacks are ABI 3's (2 and 3 changed the protocol with the agent,
  // which this runtime speaks): a worker whose source says 1 or 2 is accepted once rebuilt.
  if (cb->abi_version != COEDGE_WORKER_ABI_VERSION && cb->abi_version != 1 && cb->abi_version != 2) {
    std::fprintf(stderr, "coedge worker: built for worker ABI %d, this SDK is ABI %d: rebuild it\n",
                 cb->abi_version, COEDGE_WORKER_ABI_VERSION);
    return 2;
  }
  Args a;
  std::string why;
  if (!parse_args(argc, argv, a, why)) return usage(why.c_str());
  const bool confidence_given = a.confidence >= 0, nms_given = a.nms_iou >= 0, labels_given = !a.labels.empty();
  if (!read_settings(a, confidence_given, nms_given, labels_given, why)) {
    std::fprintf(stderr, "coedge worker: %s\n", why.c_str());
    return 2;
  }

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  coedge_task_info info{};
  info.node = a.node.c_str();
  info.task = a.task.c_str();
  info.model = a.model.c_str();
  info.kind = a.kind.c_str();
  info.task_dir = a.task_dir.c_str();
  info.role = a.role.c_str();
  info.input_rank = static_cast<int32_t>(a.input_shape.size());
  for (size_t i = 0; i < a.input_shape.size(); ++i) info.input_shape[i] = a.input_shape[i];
  info.output_rank = static_cast<int32_t>(a.output_shape.size());
  for (size_t i = 0; i < a.output_shape.size(); ++i) info.output_shape[i] = a.output_shape[i];
  info.confidence = a.confidence;
  info.nms_iou = a.nms_iou;
  for (const std::string& label : a.labels) a.label_ptrs.push_back(label.c_str());
  info.label_count = static_cast<int32_t>(a.label_ptrs.size());
  info.labels = a.label_ptrs.empty() ? nullptr : a.label_ptrs.data();
  info.masks = a.masks.c_str();

  char error[512] = {0};
  void* state = cb->init(&info, error, sizeof error);
  if (state == nullptr) {
    std::fprintf(stderr, "coedge worker %s/%s: init failed: %s\n", a.task.c_str(), a.role.c_str(),
                 error[0] ? error : "(no message)");
    return 1;
  }
  sdk::WorkerInvoker worker(cb, state, "coedge worker " + a.task + "/" + a.role);
  const int rc = a.role == "pre" ? run_pre(a, worker) : run_post(a, worker);
  if (cb->fini != nullptr) cb->fini(state);
  return rc;
}
