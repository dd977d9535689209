// The checks of what workers send (ipc/worker_checks.h), field by field and edge by edge,
// on plain structs: a fake ledger (a map) and a job table in local memory.
#include "ipc/worker_checks.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/job_outcome.h"

namespace coedge::ipc {
namespace {

constexpr int64_t kRelease = 10'000'000;  // us
constexpr int64_t kNow = kRelease + 50'000;

class FakeLedger final : public JobView {
 public:
  // Jobs 1..last were released; `open` holds the open ones.
  uint64_t last = 20;
  std::map<uint64_t, JobFacts> open;
  JobFacts lookup(uint64_t job) const override {
    auto it = open.find(job);
    if (it != open.end()) return it->second;
    JobFacts f;
    f.state = job != 0 && job <= last ? JobFacts::State::kClosed : JobFacts::State::kNeverReleased;
    return f;
  }
  void add(uint64_t job, uint32_t task, JobPhase stage) {
    JobFacts f;
    f.state = JobFacts::State::kOpen;
    f.task = task;
    f.stage = stage;
    f.release_us = kRelease;
    open[job] = f;
  }
};

// Task 1's jobs: 5 at pre, 6 at the server, 7 at post; task 2's job 8 at pre, 9 at post.
FakeLedger ledger() {
  FakeLedger l;
  l.add(5, 1, JobPhase::kPre);
  l.add(6, 1, JobPhase::kServer);
  l.add(7, 1, JobPhase::kPost);
  l.add(8, 2, JobPhase::kPre);
  l.add(9, 2, JobPhase::kPost);
  return l;
}

JobEvent pre_done(uint64_t job) {
  JobEvent e;
  e.ref.job = job;
  e.ref.task = 1;
  e.kind = EventKind::kPreDone;
  e.pre_start_us = kRelease + 1'000;
  e.pre_end_us = kRelease + 2'000;
  return e;
}
JobEvent done(uint64_t job) {
  JobEvent e;
  e.ref.job = job;
  e.ref.task = 1;
  e.kind = EventKind::kDone;
  e.post_start_us = kRelease + 30'000;
  e.post_end_us = kRelease + 31'000;
  return e;
}
JobEvent dropped(uint64_t job, DropCause cause, bool post = false) {
  JobEvent e = post ? done(job) : pre_done(job);
  e.kind = EventKind::kDropped;
  e.reason = static_cast<uint8_t>(cause);
  return e;
}

constexpr WorkerSource kPre{1, Role::kPre};
constexpr WorkerSource kPost{1, Role::kPost};

struct EventCase {
  std::string name;
  WorkerSource source;
  JobEvent event;
  Verdict verdict;
  Violation code;
  bool drop_job;
};

std::vector<EventCase> event_cases() {
  std::vector<EventCase> c;
  auto with = [](JobEvent e, auto change) {
    change(e);
    return e;
  };
  // Sound messages.
  c.push_back({"pre kPreDone of its job at pre", kPre, pre_done(5), Verdict::kApply, Violation::kNone, false});
  c.push_back({"pre kPreDone after the server's news (job at post)", kPre, pre_done(7), Verdict::kApply, Violation::kNone, false});
  c.push_back({"pre kDropped bad_frame at pre", kPre, dropped(5, DropCause::kBadFrame), Verdict::kApply, Violation::kNone, false});
  c.push_back({"pre kDropped overload at the server (ring full)", kPre, dropped(6, DropCause::kOverload), Verdict::kApply, Violation::kNone, false});
  c.push_back({"pre kDropped overload, no pre_end", kPre, with(dropped(5, DropCause::kOverload), [](JobEvent& e) { e.pre_end_us = 0; }), Verdict::kApply, Violation::kNone, false});
  c.push_back({"post kDone at post", kPost, done(7), Verdict::kApply, Violation::kNone, false});
  c.push_back({"post kDone result not sent", kPost, with(done(7), [](JobEvent& e) { e.reason = kResultNotSent; }), Verdict::kApply, Violation::kNone, false});
  c.push_back({"post kDropped bad_frame at post", kPost, dropped(7, DropCause::kBadFrame, true), Verdict::kApply, Violation::kNone, false});
  c.push_back({"post kDone with the server's stamps (ignored, not checked)", kPost,
               with(done(7), [](JobEvent& e) { e.infer_start_us = -5; e.pre_start_us = 1; e.batch = 99; }), Verdict::kApply, Violation::kNone, false});
  c.push_back({"pre kReady", kPre, with(JobEvent{}, [](JobEvent& e) { e.kind = EventKind::kReady; e.ref.task = 1; e.reason = 0; e.batch = 3; }), Verdict::kApply, Violation::kNone, false});
  c.push_back({"post kReady", kPost, with(JobEvent{}, [](JobEvent& e) { e.kind = EventKind::kReady; e.ref.task = 1; e.reason = 1; }), Verdict::kApply, Violation::kNone, false});
  c.push_back({"stamp exactly 1 s before release", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_start_us = kRelease - kStampSlackUs; }), Verdict::kApply, Violation::kNone, false});
  c.push_back({"stamp exactly now", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_end_us = kNow; }), Verdict::kApply, Violation::kNone, false});
  c.push_back({"start == end", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_end_us = e.pre_start_us; }), Verdict::kApply, Violation::kNone, false});
  // A closed job: late news, ignored.
  c.push_back({"closed job", kPre, pre_done(3), Verdict::kIgnore, Violation::kNone, false});
  c.push_back({"closed job, post", kPost, done(3), Verdict::kIgnore, Violation::kNone, false});
  // Task.
  c.push_back({"names another task", kPre, with(pre_done(5), [](JobEvent& e) { e.ref.task = 2; }), Verdict::kViolation, Violation::kForeignTask, true});
  c.push_back({"names another task and its job", kPre, with(pre_done(8), [](JobEvent& e) { e.ref.task = 2; }), Verdict::kViolation, Violation::kForeignTask, false});
  c.push_back({"another task's job under its own task", kPre, pre_done(8), Verdict::kViolation, Violation::kForeignTask, false});
  c.push_back({"another task's job, post", kPost, done(9), Verdict::kViolation, Violation::kForeignTask, false});
  c.push_back({"a kReady for another task", kPre, with(JobEvent{}, [](JobEvent& e) { e.kind = EventKind::kReady; e.ref.task = 0; }), Verdict::kViolation, Violation::kForeignTask, false});
  // Kind.
  c.push_back({"pre sends kDone", kPre, with(done(5), [](JobEvent&) {}), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"post sends kPreDone", kPost, pre_done(7), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"kInferred", kPost, with(done(7), [](JobEvent& e) { e.kind = EventKind::kInferred; }), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"kModel", kPre, with(pre_done(5), [](JobEvent& e) { e.kind = EventKind::kModel; }), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"kViolation", kPre, with(pre_done(5), [](JobEvent& e) { e.kind = EventKind::kViolation; }), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"kind 0", kPre, with(pre_done(5), [](JobEvent& e) { e.kind = static_cast<EventKind>(0); }), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"kind 255", kPost, with(done(7), [](JobEvent& e) { e.kind = static_cast<EventKind>(255); }), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"kReady for the other role", kPre, with(JobEvent{}, [](JobEvent& e) { e.kind = EventKind::kReady; e.ref.task = 1; e.reason = 1; }), Verdict::kViolation, Violation::kWrongKind, false});
  c.push_back({"kReady as the server", kPost, with(JobEvent{}, [](JobEvent& e) { e.kind = EventKind::kReady; e.ref.task = 1; e.reason = 2; }), Verdict::kViolation, Violation::kWrongKind, false});
  // Job.
  c.push_back({"job 0", kPre, pre_done(0), Verdict::kViolation, Violation::kUnknownJob, false});
  c.push_back({"a job never released", kPre, pre_done(21), Verdict::kViolation, Violation::kUnknownJob, false});
  c.push_back({"job 2^64-1", kPost, done(~uint64_t{0}), Verdict::kViolation, Violation::kUnknownJob, false});
  // Stage.
  c.push_back({"pre kPreDone twice (job at the server)", kPre, pre_done(6), Verdict::kViolation, Violation::kWrongStage, true});
  c.push_back({"pre drops a job at post", kPre, dropped(7, DropCause::kBadFrame), Verdict::kViolation, Violation::kWrongStage, true});
  c.push_back({"post kDone of a job at pre", kPost, done(5), Verdict::kViolation, Violation::kWrongStage, true});
  c.push_back({"post kDone of a job at the server", kPost, done(6), Verdict::kViolation, Violation::kWrongStage, true});
  c.push_back({"post drops a job at the server", kPost, dropped(6, DropCause::kBadFrame, true), Verdict::kViolation, Violation::kWrongStage, true});
  // Reasons.
  for (int r = 0; r < 256; ++r) {
    const auto cause = static_cast<DropCause>(r);
    if (cause == DropCause::kBadFrame || cause == DropCause::kOverload) continue;
    c.push_back({"pre drops with reason " + std::to_string(r), kPre, dropped(5, cause), Verdict::kViolation, Violation::kBadReason, true});
  }
  c.push_back({"post drops with reason 200", kPost, dropped(7, static_cast<DropCause>(200), true), Verdict::kViolation, Violation::kBadReason, true});
  c.push_back({"post drops as protocol_violation", kPost, dropped(7, DropCause::kProtocolViolation, true), Verdict::kViolation, Violation::kBadReason, true});
  c.push_back({"kPreDone with a reason", kPre, with(pre_done(5), [](JobEvent& e) { e.reason = 1; }), Verdict::kViolation, Violation::kBadReason, true});
  c.push_back({"kDone with reason 2", kPost, with(done(7), [](JobEvent& e) { e.reason = 2; }), Verdict::kViolation, Violation::kBadReason, true});
  // Stamps.
  c.push_back({"pre_start 1 us too early", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_start_us = kRelease - kStampSlackUs - 1; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"pre_end in the future", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_end_us = kNow + 1; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"pre_end before pre_start", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_end_us = e.pre_start_us - 1; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"kPreDone without pre_end", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_end_us = 0; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"kPreDone without pre_start", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_start_us = 0; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"pre_start INT64_MIN", kPre, with(pre_done(5), [](JobEvent& e) { e.pre_start_us = INT64_MIN; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"pre_end INT64_MAX", kPre, with(dropped(5, DropCause::kOverload), [](JobEvent& e) { e.pre_end_us = INT64_MAX; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"post_end in the future", kPost, with(done(7), [](JobEvent& e) { e.post_end_us = kNow + 1'000'000; }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"post stamps unordered", kPost, with(done(7), [](JobEvent& e) { std::swap(e.post_start_us, e.post_end_us); }), Verdict::kViolation, Violation::kBadStamps, true});
  c.push_back({"kDone without post stamps", kPost, with(done(7), [](JobEvent& e) { e.post_start_us = e.post_end_us = 0; }), Verdict::kViolation, Violation::kBadStamps, true});
  return c;
}

TEST(WorkerChecks, EveryEventFieldAndEdge) {
  const FakeLedger jobs = ledger();
  for (const EventCase& c : event_cases()) {
    const EventCheck got = check_worker_event(c.source, c.event, jobs, kNow);
    EXPECT_EQ(got.verdict, c.verdict) << c.name << ": " << got.detail;
    EXPECT_EQ(got.code, c.code) << c.name << ": " << to_string(got.code) << " " << got.detail;
    EXPECT_EQ(got.drop_job, c.drop_job) << c.name;
    EXPECT_EQ(got.detail.empty(), c.verdict != Verdict::kViolation) << c.name << ": " << got.detail;
  }
}

// The regression of the accounting crash (a worker's kDropped with reason 200 made the
// agent throw) and of task A's worker closing task B's jobs: both are violations now, and
// another task's job is never the one dropped for it.
TEST(WorkerChecks, Reason200AndAnotherTasksJobAreViolationsNotCrashes) {
  const FakeLedger jobs = ledger();
  const EventCheck reason = check_worker_event(kPre, dropped(5, static_cast<DropCause>(200)), jobs, kNow);
  EXPECT_EQ(reason.code, Violation::kBadReason);
  EXPECT_NE(reason.detail.find("200"), std::string::npos) << reason.detail;
  const EventCheck foreign = check_worker_event(kPre, dropped(8, DropCause::kBadFrame), jobs, kNow);
  EXPECT_EQ(foreign.code, Violation::kForeignTask);
  EXPECT_FALSE(foreign.drop_job);
}

TEST(WorkerChecks, EveryViolationHasAName) {
  for (int v = 0; v < kViolationCount; ++v) {
    EXPECT_STRNE(to_string(static_cast<Violation>(v)), "unknown") << v;
  }
  EXPECT_STREQ(to_string(static_cast<Violation>(kViolationCount)), "unknown");
}

// --- tensors ---------------------------------------------------------------------------

struct Table {
  alignas(64) uint8_t bytes[JobTable::kBytes] = {};
};

constexpr uint64_t kElements = 3 * 4 * 4;

TensorInput tensor(uint64_t job, uint32_t slot) {
  TensorInput in;
  in.task = 1;
  in.chunk_published = true;
  in.header.job = job;
  in.header.table_slot = slot;
  in.header.pre_start_us = kRelease + 1'000;
  in.header.pre_end_us = kRelease + 2'000;
  in.header.elements = kElements;
  in.expected_elements = kElements;
  in.chunk_bytes = payload_offset<TensorHeader>() + kElements * sizeof(float);
  in.now_us = kNow;
  return in;
}

TEST(WorkerChecks, EveryTensorFieldAndEdge) {
  auto memory = std::make_unique<Table>();
  JobTable table(memory->bytes);
  table.write(4, {1, 5, kRelease, kRelease + 100'000});
  table.write(6, {2, 8, kRelease, kRelease + 100'000});  // task 2's job
  auto* slots = reinterpret_cast<JobSlot*>(memory->bytes);
  table.write(9, {1, 11, kRelease, kRelease + 100'000});
  slots[9].seq.store(slots[9].seq.load() + 1);  // torn: being written
  auto with = [](TensorInput in, auto change) {
    change(in);
    return in;
  };
  struct Case {
    std::string name;
    TensorInput in;
    Violation code;
    bool job;  // the table's job comes back (dropped on a violation)
  };
  const std::vector<Case> cases = {
      {"sound", tensor(5, 4), Violation::kNone, true},
      {"stamps at the edges", with(tensor(5, 4), [](TensorInput& i) { i.header.pre_start_us = kRelease - kStampSlackUs; i.header.pre_end_us = kNow; }), Violation::kNone, true},
      {"unpublished chunk", with(tensor(5, 4), [](TensorInput& i) { i.chunk_published = false; }), Violation::kBadChunk, false},
      {"slot 256", tensor(5, kJobSlots), Violation::kBadTensor, false},
      {"slot 2^32-1", tensor(5, 0xffffffffu), Violation::kBadTensor, false},
      {"empty slot", tensor(5, 0), Violation::kForgedJob, false},
      {"torn slot", tensor(11, 9), Violation::kForgedJob, false},
      {"forged job id", tensor(6, 4), Violation::kForgedJob, false},
      {"another task's job and slot", tensor(8, 6), Violation::kForgedJob, false},
      {"elements 0", with(tensor(5, 4), [](TensorInput& i) { i.header.elements = 0; }), Violation::kBadTensor, true},
      {"elements one more", with(tensor(5, 4), [](TensorInput& i) { i.header.elements = kElements + 1; }), Violation::kBadTensor, true},
      {"elements 2^63", with(tensor(5, 4), [](TensorInput& i) { i.header.elements = uint64_t{1} << 63; }), Violation::kBadTensor, true},
      {"elements beyond the chunk", with(tensor(5, 4), [](TensorInput& i) { i.chunk_bytes -= 4; }), Violation::kBadTensor, true},
      {"pre_start too early", with(tensor(5, 4), [](TensorInput& i) { i.header.pre_start_us = kRelease - kStampSlackUs - 1; }), Violation::kBadStamps, true},
      {"pre_end in the future", with(tensor(5, 4), [](TensorInput& i) { i.header.pre_end_us = kNow + 1; }), Violation::kBadStamps, true},
      {"pre stamps unordered", with(tensor(5, 4), [](TensorInput& i) { std::swap(i.header.pre_start_us, i.header.pre_end_us); }), Violation::kBadStamps, true},
      {"no pre stamps", with(tensor(5, 4), [](TensorInput& i) { i.header.pre_start_us = i.header.pre_end_us = 0; }), Violation::kBadStamps, true},
  };
  for (const Case& c : cases) {
    const TensorCheck got = check_tensor(c.in, table);
    EXPECT_EQ(got.code, c.code) << c.name << ": " << to_string(got.code) << " " << got.detail;
    EXPECT_EQ(got.job.has_value(), c.job) << c.name;
    if (got.job) {
      // Identity, release and deadline are the table's, never the header's.
      EXPECT_EQ(got.job->job, 5u) << c.name;
      EXPECT_EQ(got.job->task, 1u) << c.name;
      EXPECT_EQ(got.job->deadline_us, kRelease + 100'000) << c.name;
    }
  }
}

// A tensor naming a job whose slot was reused a whole table later (kJobSlots deliveries)
// is stale: refused, and the newer job in the slot is not dropped for it.
TEST(WorkerChecks, AStaleTensorIsRefused) {
  auto memory = std::make_unique<Table>();
  JobTable table(memory->bytes);
  for (uint64_t n = 0; n <= kJobSlots; ++n) table.write(job_slot(n), {1, 100 + n, kRelease, kRelease + 1});
  const TensorCheck got = check_tensor(tensor(100, job_slot(0)), table);
  EXPECT_EQ(got.code, Violation::kForgedJob);
  EXPECT_FALSE(got.job.has_value());
}

// --- what the SDK reads ----------------------------------------------------------------

TEST(WorkerChecks, TicketsAndFramesAreBoundsChecked) {
  FrameTicket t;
  t.job.task = 1;
  t.table_slot = 3;
  FrameHeader f;
  f.width = 4;
  f.height = 2;
  f.channels = 3;
  f.stride = 12;
  const uint64_t chunk = payload_offset<FrameHeader>() + 24;
  EXPECT_EQ(check_ticket(t, 1, true, f, chunk), "");
  EXPECT_NE(check_ticket(t, 1, true, f, chunk - 1), "");  // the last row does not fit
  EXPECT_NE(check_ticket(t, 2, true, f, chunk), "");      // another task's ticket
  EXPECT_NE(check_ticket(t, 1, false, f, chunk), "");     // a chunk outside the pool
  FrameTicket slot = t;
  slot.table_slot = kJobSlots;
  EXPECT_NE(check_ticket(slot, 1, true, f, chunk), "");
  for (auto change : {+[](FrameHeader& h) { h.width = 0; }, +[](FrameHeader& h) { h.height = -1; },
                      +[](FrameHeader& h) { h.channels = 5; }, +[](FrameHeader& h) { h.stride = 11; },
                      +[](FrameHeader& h) { h.stride = INT32_MAX; h.height = INT32_MAX; }}) {
    FrameHeader bad = f;
    change(bad);
    EXPECT_NE(check_ticket(t, 1, true, bad, chunk), "");
  }
}

TEST(WorkerChecks, OutputsAreBoundsChecked) {
  OutputHeader h;
  h.ref.task = 1;
  h.rank = 2;
  h.elements = 10;
  const uint64_t chunk = payload_offset<OutputHeader>() + 40;
  EXPECT_EQ(check_output(h, 1, chunk), "");
  EXPECT_NE(check_output(h, 1, chunk - 1), "");
  EXPECT_NE(check_output(h, 0, chunk), "");
  OutputHeader u8 = h;
  u8.dtype = OutputDType::kU8;
  u8.elements = 40;
  EXPECT_EQ(check_output(u8, 1, chunk), "");
  for (auto change : {+[](OutputHeader& o) { o.rank = -1; }, +[](OutputHeader& o) { o.rank = kMaxRank + 1; },
                      +[](OutputHeader& o) { o.dtype = static_cast<OutputDType>(7); },
                      +[](OutputHeader& o) { o.elements = ~uint64_t{0}; }}) {
    OutputHeader bad = h;
    change(bad);
    EXPECT_NE(check_output(bad, 1, chunk), "");
  }
}

}  // namespace
}  // namespace coedge::ipc
