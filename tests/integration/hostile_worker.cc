// A hostile worker, for the isolation tests and the hostile-worker benchmark
// (docs/SECURITY.md). It is an SDK worker that behaves for a number of frames (zero
// tensors, empty results), then, from inside its pre-processing callback, takes over its
// process and attacks the node through everything it can reach: its task's shared memory
// (mapped read-write, as every worker of the task may), its sensor's frames (read-only),
// the wake-up words, the CPU. It never returns to the SDK: it runs until the agent kills
// it (as it must, for every attack but spin, which the task's CPU limit bounds and the
// agent's hang detection ends).
//
// Environment (the node config's tasks[i].env):
//   COEDGE_HOSTILE_ATTACK  refs | events | flood | scribble | spin | mix (default mix:
//                          the others in turn, 2 s each)
//   COEDGE_HOSTILE_AFTER   honest frames before the attack (default 20)
//   COEDGE_HOSTILE_SEED    the random seed (default: the pid)
// Attacks, in the words of the issue:
//   refs     random and out-of-range chunk references, wrong generations, unpublished
//            chunks, huge element counts, forged job-table slots, into the tensor ring;
//   events   garbage kinds and reasons, other tasks' job ids, its own jobs in the wrong
//            stage or with forged stamps, another role's kReady, into its event ring;
//   flood    fills its tensor and event rings nonstop and rings its task's bells in a loop;
//   scribble random bytes over every byte of its task segment, in a loop; once, tries to
//            write its frames (mmap PROT_WRITE, pwrite, reopen read-write, ftruncate,
//            mprotect) and logs each outcome (all must fail);
//   spin     busy loops on as many threads as the machine has cores.
// What it did is logged on stderr (the worker's log in RUN_DIR/logs).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coedge/worker.h"
#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"

namespace {

using namespace coedge;

struct Options {
  std::string attack = "mix";
  int after = 20;
  uint64_t seed = 0;
  // From the worker's command line (the same the SDK parses).
  std::string task, kind, role;
  std::vector<int64_t> input_shape, output_shape;
  int task_fd = -1, frames_fd = -1;
};
Options g_options;
int g_frames = 0;

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::atoll(text.substr(pos, comma - pos).c_str()));
    pos = comma + 1;
  }
  return out;
}

void parse(int argc, char** argv) {
  Options& o = g_options;
  if (const char* a = std::getenv("COEDGE_HOSTILE_ATTACK")) o.attack = a;
  if (const char* a = std::getenv("COEDGE_HOSTILE_AFTER")) o.after = std::atoi(a);
  o.seed = static_cast<uint64_t>(getpid());
  if (const char* a = std::getenv("COEDGE_HOSTILE_SEED")) o.seed = std::strtoull(a, nullptr, 10);
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--task") o.task = value;
    else if (key == "--kind") o.kind = value;
    else if (key == "--role") o.role = value;
    else if (key == "--input-shape") o.input_shape = parse_shape(value);
    else if (key == "--output-shape") o.output_shape = parse_shape(value);
    else if (key == "--shm-task-fd") o.task_fd = std::atoi(value.c_str());
    else if (key == "--shm-frames-fd") o.frames_fd = std::atoi(value.c_str());
  }
}

void say(const char* what) {
  std::fprintf(stderr, "hostile worker (%s, %s): %s\n", g_options.task.c_str(), g_options.role.c_str(), what);
}

// What the attacks work with: the task segment, as the SDK maps it, and raw.
struct Target {
  std::unique_ptr<ipc::Segment> segment;
  std::optional<ipc::Ring> tensors, events;
  std::optional<ipc::Pool> tensor_pool;
  std::optional<ipc::Doorbell> agent_bell, server_bell;
  uint8_t* raw = nullptr;
  size_t raw_bytes = 0;
};

Target open_target() {
  const Options& o = g_options;
  Target t;
  const ipc::SegmentPlan plan =
      ipc::task_segment_plan(ipc::task_channels(o.task, o.input_shape, o.output_shape, o.kind));
  auto segment = ipc::Segment::map(o.task_fd, plan, ipc::Access::kReadWrite);
  if (!segment.ok()) {
    std::fprintf(stderr, "hostile worker: cannot map its task segment: %s\n", segment.error().message.c_str());
    std::_Exit(3);
  }
  t.segment = std::move(*segment);
  auto get = [](auto r) {
    if (!r.ok()) {
      std::fprintf(stderr, "hostile worker: %s\n", r.error().message.c_str());
      std::_Exit(3);
    }
    return *r;
  };
  t.tensors = get(t.segment->ring(ipc::tensor_ring(o.task)));
  t.events = get(t.segment->ring(o.role == "pre" ? ipc::pre_events(o.task) : ipc::post_events(o.task)));
  t.tensor_pool = get(t.segment->pool(ipc::tensor_pool(o.task)));
  t.agent_bell = get(t.segment->doorbell(ipc::kAgentBell));
  t.server_bell = get(t.segment->doorbell(ipc::kServerBell));
  struct stat st{};
  if (fstat(o.task_fd, &st) == 0 && st.st_size > 0) {
    void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, o.task_fd, 0);
    if (p != MAP_FAILED) {
      t.raw = static_cast<uint8_t*>(p);
      t.raw_bytes = static_cast<size_t>(st.st_size);
    }
  }
  return t;
}

uint64_t input_elements() {
  uint64_t n = 1;
  for (int64_t d : g_options.input_shape) n *= static_cast<uint64_t>(d);
  return n;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void attack_refs(Target& t, std::mt19937_64& rng, uint64_t own_job) {
  for (int i = 0; i < 64; ++i) {
    ipc::ChunkRef ref;
    switch (rng() % 5) {
      case 0: ref = {static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()), 0}; break;
      case 1: ref = {t.tensor_pool->pool_index(), t.tensor_pool->count() + static_cast<uint32_t>(rng() % 1000), 0, 0}; break;
      case 2: {  // a real chunk, wrong generation
        ref = {t.tensor_pool->pool_index(), static_cast<uint32_t>(rng() % t.tensor_pool->count()),
               static_cast<uint32_t>(rng()), 0};
        break;
      }
      default: {  // a chunk it filled with lies: never published, or published with a huge count or a forged slot
        if (!t.tensor_pool->alloc(ref)) continue;
        auto* h = static_cast<ipc::TensorHeader*>(t.tensor_pool->data(ref));
        h->job = rng() % 3 == 0 ? rng() : own_job + rng() % 64;
        h->table_slot = static_cast<uint32_t>(rng());
        h->elements = rng() % 2 ? (uint64_t{1} << 63) : input_elements();
        h->pre_start_us = now_us() - static_cast<int64_t>(rng() % 100000000);
        h->pre_end_us = now_us() + static_cast<int64_t>(rng() % 100000000);
        if (rng() % 4 != 0) t.tensor_pool->publish(ref, ipc::kSoleHolder);
        break;
      }
    }
    t.tensors->push(&ref);
    t.server_bell->ring();
  }
}

void attack_events(Target& t, std::mt19937_64& rng, uint64_t own_job) {
  for (int i = 0; i < 64; ++i) {
    ipc::JobEvent e;
    e.ref.job = rng() % 3 == 0 ? rng() : own_job - 32 + rng() % 64;  // its own and its neighbours'
    e.ref.task = rng() % 2 ? static_cast<uint32_t>(rng() % 8) : static_cast<uint32_t>(rng());
    e.ref.release_us = now_us() - 1000;
    e.ref.deadline_us = now_us() + static_cast<int64_t>(rng() % 100000000);
    e.kind = static_cast<ipc::EventKind>(rng() % 9);
    e.reason = static_cast<uint8_t>(rng());
    e.batch = static_cast<int32_t>(rng());
    e.pre_start_us = now_us() + static_cast<int64_t>(rng() % 10000000) - 5000000;
    e.pre_end_us = static_cast<int64_t>(rng());
    e.infer_start_us = now_us();
    e.infer_end_us = now_us() - 1;
    e.post_end_us = static_cast<int64_t>(rng());
    t.events->push(&e);
  }
  t.agent_bell->ring();
}

void attack_flood(Target& t, std::mt19937_64& rng, uint64_t own_job) {
  ipc::JobEvent stale;
  stale.ref.job = own_job > 100 ? own_job - 100 : 1;
  stale.kind = ipc::EventKind::kPreDone;
  for (int i = 0; i < 100000; ++i) {
    t.events->push(&stale);
    ipc::ChunkRef ref{t.tensor_pool->pool_index(), static_cast<uint32_t>(rng() % t.tensor_pool->count()), 0, 0};
    t.tensors->push(&ref);
    t.agent_bell->ring();
    t.server_bell->ring();
  }
}

void attack_scribble(Target& t, std::mt19937_64& rng) {
  if (t.raw == nullptr) return;
  for (size_t i = 0; i + 8 <= t.raw_bytes; i += 8) {
    const uint64_t v = rng();
    std::memcpy(t.raw + i, &v, 8);
  }
}

// The frames are read-only to workers: every way to write them must fail. Logged, once.
void try_frames() {
  const int fd = g_options.frames_fd;
  if (fd < 0) return;
  char line[256];
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  std::snprintf(line, sizeof line, "frames: mmap PROT_WRITE %s", p == MAP_FAILED ? "refused" : "ALLOWED");
  say(line);
  const char byte = 1;
  std::snprintf(line, sizeof line, "frames: pwrite %s", pwrite(fd, &byte, 1, 0) < 0 ? "refused" : "ALLOWED");
  say(line);
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  const int rw = open(self.c_str(), O_RDWR);
  std::snprintf(line, sizeof line, "frames: reopen read-write %s", rw < 0 ? "refused" : "allowed");
  say(line);
  if (rw >= 0) {
    void* q = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
    std::snprintf(line, sizeof line, "frames: mmap PROT_WRITE of the reopened file %s",
                  q == MAP_FAILED ? "refused" : "ALLOWED");
    say(line);
    close(rw);
  }
  std::snprintf(line, sizeof line, "frames: ftruncate %s", ftruncate(fd, 0) < 0 ? "refused" : "ALLOWED");
  say(line);
  void* r = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  if (r != MAP_FAILED) {
    std::snprintf(line, sizeof line, "frames: mprotect PROT_WRITE %s",
                  mprotect(r, 4096, PROT_READ | PROT_WRITE) < 0 ? "refused" : "ALLOWED");
    say(line);
  }
}

[[noreturn]] void burn() {
  std::atomic<uint64_t> x{0};
  for (;;) x.fetch_add(1, std::memory_order_relaxed);
}

[[noreturn]] void spin() {
  const unsigned n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < n; ++i) {
    std::thread(burn).detach();
  }
  burn();
}

[[noreturn]] void attack(uint64_t own_job) {
  Target t = open_target();
  std::mt19937_64 rng(g_options.seed);
  const std::string& mode = g_options.attack;
  say(("attacking: " + mode).c_str());
  if (mode == "spin") spin();
  if (mode == "scribble" || mode == "mix") try_frames();
  static const char* kCycle[] = {"refs", "events", "flood", "scribble"};
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t round = 0;; ++round) {
    std::string now_mode = mode;
    if (mode == "mix") {
      const auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
      now_mode = kCycle[(s / 2) % 4];
      if ((s / 2) % 5 == 4) spin();
    }
    if (now_mode == "refs") attack_refs(t, rng, own_job);
    else if (now_mode == "events") attack_events(t, rng, own_job);
    else if (now_mode == "flood") attack_flood(t, rng, own_job);
    else if (now_mode == "scribble") attack_scribble(t, rng);
    else {
      say("unknown COEDGE_HOSTILE_ATTACK; exiting");
      std::_Exit(2);
    }
    if (round % 64 == 0) std::this_thread::yield();
  }
}

void* init(const coedge_task_info*, char*, size_t) {
  static int state = 0;
  return &state;
}

int pre(void*, const coedge_frame* frame, coedge_tensor* tensor, char*, size_t) {
  if (++g_frames > g_options.after) attack(frame->job);
  std::memset(tensor->data, 0, tensor->elements * sizeof(float));
  return 0;
}

int post(void*, const coedge_output*, char* result, size_t size, char*, size_t) {
  if (size > 2) std::strcpy(result, "{}");
  return 0;
}

const coedge_worker_callbacks kCallbacks = {COEDGE_WORKER_ABI_VERSION, init, pre, post, nullptr};

}  // namespace

int main(int argc, char** argv) {
  parse(argc, argv);
  return coedge_worker_main(argc, argv, &kCallbacks);
}
