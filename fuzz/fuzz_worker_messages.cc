// libFuzzer target: every message the agent or the server reads from a worker, and what a
// worker's SDK reads from them, through the pure checks of ipc/worker_checks.h; and the
// agent's end of a result ring (ipc::take_result) on a segment whose bytes the input
// scribbles over, as a hostile post worker can. The first byte picks the message:
//   0 a job event (check_worker_event) against a small ledger the input also describes;
//   1 a tensor header (check_tensor) against a job table in a local buffer;
//   2 a frame ticket and its frame header (check_ticket, the pre worker's SDK);
//   3 an output header (check_output, the post worker's SDK);
//   4 results: chunks published and references pushed as the input says, then scribbles
//     over the whole segment file, then take_result until the ring is empty.
// Besides "no crash, hang, leak or sanitizer report", each mode asserts the promise its
// check makes to its caller (the oracle below it): what is accepted is safe to use.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ipc/job_table.h"
#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"
#include "ipc/worker_checks.h"

namespace {

using namespace coedge::ipc;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_worker_messages: broken promise: %s\n", what);
  std::abort();
}

template <typename T>
T take(FuzzedDataProvider& in) {
  T value{};
  const std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(sizeof(T));
  if (!bytes.empty()) std::memcpy(&value, bytes.data(), bytes.size());
  return value;
}

// A time the agent itself wrote (a ledger's release, a table's deadline, the clock's now):
// CLOCK_MONOTONIC microseconds, never near the ends of int64 (worker-written times, the
// stamps in events and tensors, stay arbitrary).
int64_t trusted_time(FuzzedDataProvider& in) { return in.ConsumeIntegralInRange<int64_t>(0, int64_t{1} << 62); }

// A ledger of a few jobs, described by the input.
class Ledger : public JobView {
 public:
  std::map<uint64_t, JobFacts> jobs;
  JobFacts lookup(uint64_t job) const override {
    auto it = jobs.find(job);
    return it == jobs.end() ? JobFacts{} : it->second;
  }
};

void job_event(FuzzedDataProvider& in) {
  Ledger ledger;
  const int n = in.ConsumeIntegralInRange(0, 4);
  for (int i = 0; i < n; ++i) {
    JobFacts f;
    f.state = static_cast<JobFacts::State>(in.ConsumeIntegralInRange(0, 2));
    f.task = in.ConsumeIntegralInRange<uint32_t>(0, 3);
    f.stage = static_cast<JobPhase>(in.ConsumeIntegralInRange(0, 2));
    f.release_us = trusted_time(in);
    ledger.jobs[in.ConsumeIntegralInRange<uint64_t>(0, 7)] = f;
  }
  WorkerSource source;
  source.task = in.ConsumeIntegralInRange<uint32_t>(0, 3);
  source.role = in.ConsumeBool() ? Role::kPre : Role::kPost;
  const int64_t now = trusted_time(in);
  const JobEvent e = take<JobEvent>(in);
  const EventCheck c = check_worker_event(source, e, ledger, now);
  const JobFacts facts = ledger.lookup(e.ref.job);
  const bool own_open = facts.state == JobFacts::State::kOpen && facts.task == source.task;
  if (c.drop_job && !(c.verdict == Verdict::kViolation && own_open)) fail("drop_job names a job not open or not the task's");
  if (c.verdict == Verdict::kViolation && c.code == Violation::kNone) fail("a violation without a code");
  if (c.verdict != Verdict::kViolation && c.code != Violation::kNone) fail("a code without a violation");
  if (c.verdict == Verdict::kApply && e.kind != EventKind::kReady && !own_open) fail("applied news of a job not the task's and open");
  if (c.verdict == Verdict::kApply && e.ref.task != source.task) fail("applied an event naming another task");
  (void)to_string(c.code);
}

void tensor(FuzzedDataProvider& in) {
  alignas(64) static unsigned char memory[JobTable::kBytes];
  std::memset(memory, 0, sizeof memory);
  JobTable table(memory);
  const int n = in.ConsumeIntegralInRange(0, 4);
  for (int i = 0; i < n; ++i) {
    JobEntry e;
    e.task = in.ConsumeIntegralInRange<uint32_t>(0, 3);
    e.job = in.ConsumeIntegralInRange<uint64_t>(0, 7);
    e.release_us = trusted_time(in);
    e.deadline_us = trusted_time(in);
    table.write(in.ConsumeIntegralInRange<uint32_t>(0, 7), e);
  }
  // A slot's sequence word as anything (torn, odd): the reader must give up, not loop.
  if (in.ConsumeBool()) {
    const size_t at = in.ConsumeIntegralInRange<size_t>(0, 7) * sizeof(JobSlot) + in.ConsumeIntegralInRange<size_t>(0, 3);
    memory[at] = in.ConsumeIntegral<uint8_t>();
  }
  TensorInput t;
  t.task = in.ConsumeIntegralInRange<uint32_t>(0, 3);
  t.chunk_published = in.ConsumeBool();
  t.expected_elements = in.ConsumeIntegral<uint64_t>();
  t.chunk_bytes = in.ConsumeIntegral<uint64_t>();
  t.now_us = trusted_time(in);
  t.header = take<TensorHeader>(in);
  const TensorCheck c = check_tensor(t, table);
  if (c.job && (c.job->task != t.task || c.job->job != t.header.job)) fail("a table entry of another task or job");
  if (c.code == Violation::kNone) {
    if (!t.chunk_published) fail("a tensor accepted from an unpublished chunk");
    if (!c.job) fail("a sound tensor without its job");
    if (t.header.elements != t.expected_elements) fail("a tensor accepted with another element count");
    // (A chunk smaller than the header itself holds no payload: only 0 elements fit.)
    const uint64_t room =
        t.chunk_bytes > payload_offset<TensorHeader>() ? t.chunk_bytes - payload_offset<TensorHeader>() : 0;
    if (static_cast<unsigned __int128>(t.header.elements) * sizeof(float) > room)
      fail("a tensor accepted that does not fit its chunk");
    if (t.header.table_slot >= kJobSlots) fail("a tensor accepted with a table slot out of range");
  }
  (void)to_string(c.code);
}

void ticket(FuzzedDataProvider& in) {
  const uint32_t task = in.ConsumeIntegralInRange<uint32_t>(0, 3);
  const bool found = in.ConsumeBool();
  const uint64_t chunk_bytes = in.ConsumeIntegral<uint64_t>();
  const FrameTicket t = take<FrameTicket>(in);
  const FrameHeader f = take<FrameHeader>(in);
  if (!check_ticket(t, task, found, f, chunk_bytes).empty()) return;
  if (!found || t.job.task != task || t.table_slot >= kJobSlots) fail("a ticket accepted for another task or chunk");
  if (f.width <= 0 || f.height <= 0 || f.channels <= 0 || f.stride <= 0) fail("a frame accepted with no pixels");
  const unsigned __int128 rows = static_cast<unsigned __int128>(f.stride) * static_cast<uint64_t>(f.height);
  if (static_cast<uint64_t>(f.stride) < static_cast<uint64_t>(f.width) * static_cast<uint64_t>(f.channels) ||
      rows + payload_offset<FrameHeader>() > chunk_bytes)
    fail("a frame accepted whose rows do not fit its chunk");
}

void output(FuzzedDataProvider& in) {
  const uint32_t task = in.ConsumeIntegralInRange<uint32_t>(0, 3);
  const uint64_t chunk_bytes = in.ConsumeIntegral<uint64_t>();
  const OutputHeader h = take<OutputHeader>(in);
  if (!check_output(h, task, chunk_bytes).empty()) return;
  if (h.ref.task != task || h.rank < 0 || h.rank > kMaxRank) fail("an output accepted for another task or rank");
  const uint64_t size = h.dtype == OutputDType::kU8 ? 1 : (h.dtype == OutputDType::kF32 ? 4 : 0);
  if (size == 0) fail("an output accepted with an unknown dtype");
  // (A chunk smaller than the header itself holds no payload: only 0 elements fit.)
  const uint64_t room = chunk_bytes > payload_offset<OutputHeader>() ? chunk_bytes - payload_offset<OutputHeader>() : 0;
  if (static_cast<unsigned __int128>(h.elements) * size > room) fail("an output accepted that does not fit its chunk");
}

// One result ring and pool as task_segment_plan sizes them, in a memfd of our own.
struct ResultSegment {
  std::unique_ptr<Segment> segment;
  ResultSegment() {
    SegmentPlan plan;
    plan.doorbells = {"agent"};
    plan.rings = {{"result/t", kResultRing, sizeof(ChunkRef), "agent"}};
    plan.pools = {{"results/t", kResultChunkBytes, kResultChunks}};
    auto s = Segment::create_sealed("coedge-fuzz-results", plan);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.error().message.c_str());
      std::abort();
    }
    segment = std::move(*s);
  }
};

void results(FuzzedDataProvider& in) {
  // A fresh segment per input: no state carries from one input to the next.
  ResultSegment rs;
  Ring ring = *rs.segment->ring("result/t");
  Pool pool = *rs.segment->pool("results/t");
  // What an honest or hostile post worker can do with its own ring and pool.
  const int steps = in.ConsumeIntegralInRange(0, 24);
  std::vector<ChunkRef> published;
  for (int i = 0; i < steps; ++i) {
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0: {  // publish a chunk with the input's header and text
        ChunkRef c;
        if (!pool.alloc(c)) break;
        const ResultHeader h = take<ResultHeader>(in);
        std::memcpy(pool.data(c), &h, sizeof h);
        const std::vector<uint8_t> text = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 256));
        if (!text.empty())
          std::memcpy(static_cast<char*>(pool.data(c)) + payload_offset<ResultHeader>(), text.data(), text.size());
        pool.publish(c, kSoleHolder);
        published.push_back(c);
        break;
      }
      case 1:  // push a reference it published, or a mangled one
        if (!published.empty()) {
          ChunkRef c = published[in.ConsumeIntegralInRange<size_t>(0, published.size() - 1)];
          if (in.ConsumeBool()) c.generation += in.ConsumeIntegral<uint8_t>();
          ring.push(&c);
        }
        break;
      case 2: {  // push any reference
        const ChunkRef c = take<ChunkRef>(in);
        ring.push(&c);
        break;
      }
    }
  }
  // Scribbles over the segment as mapped by another process: ring indices, state words,
  // the header, texts.
  const int scribbles = in.ConsumeIntegralInRange(0, 8);
  if (scribbles > 0) {
    const int fd = rs.segment->fd();
    const off_t size = ::lseek(fd, 0, SEEK_END);
    void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) fail("cannot map the segment");
    for (int i = 0; i < scribbles; ++i) {
      const size_t at = in.ConsumeIntegralInRange<size_t>(0, static_cast<size_t>(size) - 8);
      const uint64_t v = in.ConsumeIntegral<uint64_t>();
      std::memcpy(static_cast<char*>(map) + at, &v, sizeof v);
    }
    ::munmap(map, size);
  }
  // The agent's side: bounded whatever was written (a corrupt ring reads as empty).
  uint32_t taken = 0;
  while (auto r = take_result(ring, pool)) {
    if (++taken > kResultRing) fail("take_result went on past the ring's capacity");
    if (r->status == ReceivedResult::Status::kOk && (r->json.empty() || r->json.size() > kMaxResultBytes))
      fail("a result accepted with a length out of range");
    if (r->status != ReceivedResult::Status::kOk && r->error.empty()) fail("a refused result without a reason");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  FuzzedDataProvider in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: job_event(in); break;
    case 1: tensor(in); break;
    case 2: ticket(in); break;
    case 3: output(in); break;
    case 4: results(in); break;
  }
  return 0;
}
