// Tests of the node's shared-memory transport (ipc/shm_segment.h): the sealed segment, SPSC
// rings, chunk pools with holder masks, futex doorbells, and the crash-recovery protocol
// the header promises (a consumer releases its bit before it commits; the agent re-releases
// every uncommitted entry of a dead consumer; a restarted producer reclaims FILLING chunks).
// Cross-process tests fork(); children report through their exit status only and end with
// _exit(), so they never run gtest code; they map the parent's segment through the
// descriptor they inherit, as a worker maps the one it is handed.
#include "ipc/shm_segment.h"
#include "support/expect_ok.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace coedge::ipc {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Generous guards against hangs only; no test asserts on how long anything takes.
constexpr auto kGuard = std::chrono::seconds(60);

std::unique_ptr<Segment> create_segment(const SegmentPlan& plan) {
  auto s = Segment::create_sealed("coedge-test", plan);
  EXPECT_TRUE(s.ok()) << (s.ok() ? std::string() : s.error().message);
  if (!s.ok()) return nullptr;
  return std::move(*s);
}

// Another process's mapping of `creator` (here, this process's second one).
std::unique_ptr<Segment> open_segment(const Segment& creator, const SegmentPlan& plan) {
  auto s = Segment::map(creator.fd(), plan, Access::kReadWrite);
  EXPECT_TRUE(s.ok()) << (s.ok() ? std::string() : s.error().message);
  if (!s.ok()) return nullptr;
  return std::move(*s);
}

// A small message entry (not a chunk reference).
struct Msg {
  uint64_t seq = 0;
  uint64_t check = 0;
  uint64_t extra = 0;
};
uint64_t check_of(uint64_t seq) { return ~seq * 0x9e3779b97f4a7c15ull; }

SegmentPlan basic_plan() {
  SegmentPlan plan;
  plan.doorbells = {"consumer", "producer"};
  plan.rings = {{"refs", 4, sizeof(ChunkRef), "consumer"}, {"msgs", 8, sizeof(Msg), "producer"}};
  plan.pools = {{"small", 100, 4}, {"big", 4096, 2}};
  return plan;
}

ChunkRef entry_ref(const void* entry) {
  ChunkRef ref;
  std::memcpy(&ref, entry, sizeof ref);
  return ref;
}

// Chunk contents: a stamp, then a byte pattern derived from it filling chunk_bytes.
void stamp_chunk(Pool& pool, ChunkRef ref, uint64_t stamp) {
  auto* p = static_cast<uint8_t*>(pool.data(ref));
  std::memcpy(p, &stamp, sizeof stamp);
  for (uint64_t i = sizeof stamp; i < pool.chunk_bytes(); ++i) p[i] = static_cast<uint8_t>(stamp * 31 + i);
}
bool chunk_has_stamp(const Pool& pool, ChunkRef ref, uint64_t stamp) {
  const auto* p = static_cast<const uint8_t*>(pool.data(ref));
  uint64_t got;
  std::memcpy(&got, p, sizeof got);
  if (got != stamp) return false;
  for (uint64_t i = sizeof stamp; i < pool.chunk_bytes(); ++i) {
    if (p[i] != static_cast<uint8_t>(stamp * 31 + i)) return false;
  }
  return true;
}

// ---- A forked child that reports through its exit status ----------------------------
class Child {
 public:
  // Runs `body` in a child process; its return value is the exit status. The child never
  // returns into gtest and never runs destructors of the parent's objects.
  template <typename F>
  static Child start(F body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 100;
      try {
        code = body();
      } catch (...) {
        code = 101;
      }
      ::_exit(code);
    }
    return Child(pid);
  }
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  ~Child() {
    if (pid_ > 0) {  // a test failed before reaping it: do not leave it running
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  // The wait status once the child ended; nullopt (and the child killed) past the guard.
  std::optional<int> wait() {
    const auto give_up = SteadyClock::now() + kGuard;
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (r < 0) break;
      if (SteadyClock::now() > give_up) break;
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

bool exited_with(const std::optional<int>& status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}
bool killed_by(const std::optional<int>& status, int sig) {
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == sig;
}
std::string describe(const std::optional<int>& status) {
  if (!status) return "did not end within the guard";
  if (WIFEXITED(*status)) return "exit code " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return "signal " + std::to_string(WTERMSIG(*status));
  return "status " + std::to_string(*status);
}

// Waits on `bell` until `ring` has an entry; nullptr past `give_up`.
const void* wait_peek(Ring& ring, Doorbell& bell, SteadyClock::time_point give_up) {
  for (;;) {
    const uint32_t seen = bell.value();
    if (const void* e = ring.peek()) return e;
    if (SteadyClock::now() > give_up) return nullptr;
    bell.wait(seen, 100ms);
  }
}

// =====================================================================================
// Segment: create_sealed, map, errors
// =====================================================================================

TEST(ShmSegment, SecondMappingSeesTheSameRingsPoolsAndDoorbells) {
  auto creator = create_segment(basic_plan());
  ASSERT_NE(creator, nullptr);
  auto other = open_segment(*creator, basic_plan());
  ASSERT_NE(other, nullptr);

  Ring a_refs = test::expect_ok(creator->ring("refs"));
  Ring b_refs = test::expect_ok(other->ring("refs"));
  Pool a_pool = test::expect_ok(creator->pool("small"));
  Pool b_pool = test::expect_ok(other->pool("small"));
  EXPECT_EQ(b_pool.chunk_bytes(), 100u);
  EXPECT_EQ(b_pool.count(), 4u);
  EXPECT_EQ(b_refs.entry_bytes(), sizeof(ChunkRef));

  ChunkRef ref;
  ASSERT_TRUE(a_pool.alloc(ref));
  stamp_chunk(a_pool, ref, 42);
  a_pool.publish(ref, 1);
  ASSERT_TRUE(a_refs.push(&ref));

  EXPECT_EQ(b_pool.in_use(), 1u);
  EXPECT_EQ(b_refs.size(), 1u);
  const void* e = b_refs.peek();
  ASSERT_NE(e, nullptr);
  const ChunkRef got = entry_ref(e);
  EXPECT_EQ(got.pool, ref.pool);
  EXPECT_EQ(got.index, ref.index);
  EXPECT_NE(b_pool.data(got), a_pool.data(ref)) << "two mappings, two addresses";
  EXPECT_TRUE(chunk_has_stamp(b_pool, got, 42));
  b_pool.release(got, 1);
  b_refs.commit();
  EXPECT_EQ(a_pool.in_use(), 0u);
  EXPECT_EQ(a_refs.size(), 0u);

  Doorbell a_bell = test::expect_ok(creator->doorbell("consumer"));
  Doorbell b_bell = test::expect_ok(other->doorbell("consumer"));
  const uint32_t before = b_bell.value();
  a_bell.ring();
  EXPECT_NE(b_bell.value(), before);
}

TEST(ShmSegment, TheSegmentIsAnInMemoryFileOfThePlannedSizeThatNobodyCanResize) {
  auto creator = create_segment(basic_plan());
  ASSERT_NE(creator, nullptr);
  ASSERT_GE(creator->fd(), 0);
  struct stat st {};
  ASSERT_EQ(::fstat(creator->fd(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), basic_plan().bytes());
  const int seals = ::fcntl(creator->fd(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  EXPECT_EQ(seals & F_SEAL_FUTURE_WRITE, 0) << "kShared: every process given it may map it writable";
  // Shrinking would make every other mapping fault (SIGBUS); growing, and unsealing, are refused too.
  EXPECT_NE(::ftruncate(creator->fd(), 4096), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::ftruncate(creator->fd(), st.st_size + 4096), 0);
  EXPECT_NE(::fcntl(creator->fd(), F_ADD_SEALS, F_SEAL_WRITE), 0);
  // ... also through a descriptor reopened from /proc (what a worker could try).
  const int again = ::open(("/proc/self/fd/" + std::to_string(creator->fd())).c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(again, 0);
  EXPECT_NE(::ftruncate(again, 0), 0);
  ::close(again);
  auto other = open_segment(*creator, basic_plan());
  EXPECT_EQ(other->fd(), -1) << "a mapping owns no descriptor";
}

// A writer-only segment (the frames): the creator writes through its own mapping, and
// no process given the descriptor can write it in any way, even as root.
TEST(ShmSegment, AWriterOnlySegmentCanBeMappedOnlyReadOnlyByOthers) {
  auto s = Segment::create_sealed("coedge-test-frames", basic_plan(), Sealing::kWriterOnly);
  ASSERT_TRUE(s.ok()) << s.error().message;
  Segment& creator = **s;
  Pool mine = test::expect_ok(creator.pool("big"));
  ChunkRef ref;
  ASSERT_TRUE(mine.alloc(ref));
  stamp_chunk(mine, ref, 77);  // the creator's mapping stays writable
  mine.publish(ref, 1);
  mine.prefault(2);
  EXPECT_NE(::fcntl(creator.fd(), F_GET_SEALS) & F_SEAL_FUTURE_WRITE, 0);

  const int fd = creator.fd();
  const uint64_t bytes = basic_plan().bytes();
  EXPECT_EQ(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  const char byte = 1;
  EXPECT_EQ(::pwrite(fd, &byte, 1, 4096), -1);
  EXPECT_NE(::ftruncate(fd, 0), 0);
  const int reopened = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDWR | O_CLOEXEC);
  if (reopened >= 0) {  // opening may be allowed; mapping it writable is not
    EXPECT_EQ(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, reopened, 0), MAP_FAILED);
    EXPECT_EQ(::pwrite(reopened, &byte, 1, 4096), -1);
    ::close(reopened);
  }
  // A read-only mapping works, sees the creator's writes, and cannot be made writable.
  auto ro = Segment::map(fd, basic_plan(), Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  EXPECT_TRUE((*ro)->read_only());
  Pool theirs = test::expect_ok((*ro)->pool("big"));
  EXPECT_TRUE(chunk_has_stamp(theirs, ref, 77));
  EXPECT_EQ(theirs.in_use(), 1u);
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(theirs.data(ref)) & ~uintptr_t{4095});
  EXPECT_NE(::mprotect(page, 4096, PROT_READ | PROT_WRITE), 0);
  // A read-write map of it is refused with a message, not a crash.
  auto rw = Segment::map(fd, basic_plan(), Access::kReadWrite);
  ASSERT_FALSE(rw.ok());
  EXPECT_NE(rw.error().message.find("read-write"), std::string::npos) << rw.error().message;
  // Rings and doorbells are written by every user: a read-only mapping gives none.
  EXPECT_FALSE((*ro)->ring("refs").ok());
  EXPECT_FALSE((*ro)->doorbell("consumer").ok());
}

TEST(ShmSegment, AReadOnlyMappingCannotBeWrittenEvenOfASharedSegment) {
  auto creator = create_segment(basic_plan());
  ASSERT_NE(creator, nullptr);
  auto ro = Segment::map(creator->fd(), basic_plan(), Access::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  Pool pool = test::expect_ok((*ro)->pool("small"));
  ChunkRef ref;
  EXPECT_DEATH(pool.alloc(ref), "writable") << "a changing call on a read-only view is a bug, said as one";
}

TEST(ShmSegment, AMapFromAnotherPlanIsRefusedWithAClearMessage) {
  auto creator = create_segment(basic_plan());
  ASSERT_NE(creator, nullptr);
  // Another size.
  SegmentPlan bigger = basic_plan();
  bigger.pools[1].count = 3;
  auto s = Segment::map(creator->fd(), bigger, Access::kReadWrite);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(s.error().message.find("descriptor " + std::to_string(creator->fd())), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("bytes"), std::string::npos) << s.error().message;
  // The same size, another plan (a ring renamed: the digest differs).
  SegmentPlan renamed = basic_plan();
  renamed.rings[0].name = "refz";
  ASSERT_EQ(renamed.bytes(), basic_plan().bytes());
  ASSERT_NE(renamed.digest(), basic_plan().digest());
  s = Segment::map(creator->fd(), renamed, Access::kReadWrite);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("another plan"), std::string::npos) << s.error().message;
  // Capacities and doorbells count too.
  SegmentPlan rebelled = basic_plan();
  rebelled.rings[0].doorbell = "producer";
  EXPECT_NE(rebelled.digest(), basic_plan().digest());
  EXPECT_FALSE(Segment::map(creator->fd(), rebelled, Access::kReadWrite).ok());
  EXPECT_TRUE(Segment::map(creator->fd(), basic_plan(), Access::kReadWrite).ok());
}

TEST(ShmSegment, AMapOfAnotherVersionIsRefused) {
  auto creator = create_segment(basic_plan());
  ASSERT_NE(creator, nullptr);
  // The header starts with the 8-byte magic, then the 4-byte version.
  void* base = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, creator->fd(), 0);
  ASSERT_NE(base, MAP_FAILED);
  uint32_t version;
  std::memcpy(&version, static_cast<uint8_t*>(base) + 8, sizeof version);
  ++version;
  std::memcpy(static_cast<uint8_t*>(base) + 8, &version, sizeof version);
  auto s = Segment::map(creator->fd(), basic_plan(), Access::kReadWrite);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("format"), std::string::npos) << s.error().message;
  std::memset(base, 0x5a, 8);
  s = Segment::map(creator->fd(), basic_plan(), Access::kReadWrite);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not a CoEdge segment"), std::string::npos) << s.error().message;
  ::munmap(base, 4096);
}

TEST(ShmSegment, AMapOfAnUnsealedOrForeignDescriptorIsRefused) {
  // A plain memfd of the right size, never sealed: someone could shrink it under us.
  const int fd = ::memfd_create("coedge-test-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(basic_plan().bytes())), 0);
  auto s = Segment::map(fd, basic_plan(), Access::kReadWrite);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not a sealed"), std::string::npos) << s.error().message;
  ::close(fd);
  // A pipe, and a descriptor that is not open.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  EXPECT_FALSE(Segment::map(pipe_fds[0], basic_plan(), Access::kReadOnly).ok());
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  s = Segment::map(pipe_fds[0], basic_plan(), Access::kReadOnly);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
}

// Nothing is laid out from shared memory: whatever a process writes over the header and
// every byte that is not a ring index, a doorbell or a chunk word, the views of every
// mapping, made before or after, address exactly what the plan says.
TEST(ShmSegment, ScribblingOverTheSegmentMovesNoLookup) {
  auto creator = create_segment(basic_plan());
  ASSERT_NE(creator, nullptr);
  auto before = open_segment(*creator, basic_plan());
  ASSERT_NE(before, nullptr);
  Pool pool_before = test::expect_ok(before->pool("big"));
  Ring ring_before = test::expect_ok(before->ring("msgs"));
  ChunkRef ref;
  ASSERT_TRUE(pool_before.alloc(ref));
  void* data_before = pool_before.data(ref);
  // Every byte of the first 4 KiB (header, doorbells, ring headers), as a hostile worker would.
  void* base = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, creator->fd(), 0);
  ASSERT_NE(base, MAP_FAILED);
  const uint64_t header_bytes = 64;  // the header alone: a later map must refuse it
  std::mt19937 rng(11);
  for (size_t i = header_bytes; i < 4096; ++i) static_cast<uint8_t*>(base)[i] = static_cast<uint8_t>(rng());
  auto after = open_segment(*creator, basic_plan());
  ASSERT_NE(after, nullptr) << "a map after the scribble checks only the header";
  Pool creators = test::expect_ok(creator->pool("big"));
  stamp_chunk(creators, ref, 5);
  for (const Segment* s : {before.get(), after.get(), creator.get()}) {
    Pool p = test::expect_ok(s->pool("big"));
    EXPECT_TRUE(chunk_has_stamp(p, ref, 5)) << "every mapping finds the chunk where the plan puts it";
    EXPECT_EQ(p.chunk_bytes(), 4096u);
    EXPECT_EQ(p.count(), 2u);
    Ring r = test::expect_ok(s->ring("msgs"));
    EXPECT_EQ(r.capacity(), 8u);
    EXPECT_EQ(r.entry_bytes(), sizeof(Msg));
  }
  EXPECT_EQ(test::expect_ok(before->pool("big")).data(ref), data_before);
  // The scrambled ring indices read as corrupt or as some entries, never beyond the ring.
  EXPECT_LE(ring_before.size(), 8u);
  for (size_t i = 0; i < header_bytes; ++i) static_cast<uint8_t*>(base)[i] = static_cast<uint8_t>(rng());
  EXPECT_FALSE(Segment::map(creator->fd(), basic_plan(), Access::kReadWrite).ok());
  EXPECT_EQ(test::expect_ok(before->pool("big")).count(), 2u) << "mappings made before do not look at it";
  ::munmap(base, 4096);
}

TEST(ShmSegment, AnEmptyPlanMakesAUsableSegment) {
  auto s = create_segment(SegmentPlan{});
  ASSERT_NE(s, nullptr);
  EXPECT_NE(open_segment(*s, SegmentPlan{}), nullptr);
  EXPECT_FALSE(s->ring("x").ok());
  EXPECT_FALSE(s->pool(0).ok());
}

TEST(ShmSegmentPlan, RingWithAnUnknownDoorbellIsRejected) {
  SegmentPlan plan = basic_plan();
  plan.rings.push_back({"orphan", 4, 8, "nobody"});
  auto s = Segment::create_sealed("coedge-test", plan);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(s.error().message.find("orphan"), std::string::npos) << s.error().message;
}

TEST(ShmSegmentPlan, RingWithZeroCapacityOrEntrySizeIsRejected) {
  for (int which = 0; which < 2; ++which) {
    SegmentPlan plan = basic_plan();
    plan.rings.push_back({"empty", which == 0 ? 0u : 4u, which == 0 ? 8u : 0u, "consumer"});
    auto s = Segment::create_sealed("coedge-test", plan);
    ASSERT_FALSE(s.ok()) << which;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(s.error().message.find("empty"), std::string::npos) << s.error().message;
    // A process mapping with such a plan is refused the same way.
    auto creator = create_segment(basic_plan());
    auto m = Segment::map(creator->fd(), plan, Access::kReadWrite);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message.find("empty"), std::string::npos) << m.error().message;
  }
}

TEST(ShmSegmentPlan, BytesGrowWithWhatIsPlanned) {
  const SegmentPlan base = basic_plan();
  SegmentPlan more_ring = base;
  more_ring.rings[0].capacity = 1000;
  SegmentPlan more_chunks = base;
  more_chunks.pools[0].count = 100;
  SegmentPlan bigger_chunks = base;
  bigger_chunks.pools[1].chunk_bytes = 1 << 20;
  EXPECT_GT(more_ring.bytes(), base.bytes());
  EXPECT_GE(more_chunks.bytes(), base.bytes() + 96 * 100);
  EXPECT_GE(bigger_chunks.bytes(), base.bytes() + 2 * ((1 << 20) - 4096));
  EXPECT_NE(more_ring.digest(), base.digest());
  EXPECT_NE(more_chunks.digest(), base.digest());
  EXPECT_NE(bigger_chunks.digest(), base.digest());
  EXPECT_EQ(basic_plan().digest(), base.digest());
}

TEST(ShmSegment, LookupsOfMissingNamesSayWhatIsMissing) {
  auto s = create_segment(basic_plan());
  ASSERT_NE(s, nullptr);
  auto r = s->ring("no-such-ring");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("no-such-ring"), std::string::npos);
  auto p = s->pool("no-such-pool");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kNotFound);
  EXPECT_NE(p.error().message.find("no-such-pool"), std::string::npos);
  auto pi = s->pool(2);
  ASSERT_FALSE(pi.ok());
  EXPECT_EQ(pi.error().code, ErrorCode::kNotFound);
  auto d = s->doorbell("no-such-bell");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kNotFound);
  EXPECT_NE(d.error().message.find("no-such-bell"), std::string::npos);
  // Kinds do not mix: a pool's name is not a ring.
  EXPECT_FALSE(s->ring("small").ok());
  EXPECT_FALSE(s->pool("refs").ok());
}

TEST(ShmSegment, PoolByIndexIsPoolByName) {
  auto s = create_segment(basic_plan());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->pool_count(), 2u);
  for (uint32_t i = 0; i < 2; ++i) {
    Pool by_index = test::expect_ok(s->pool(i));
    Pool by_name = test::expect_ok(s->pool(basic_plan().pools[i].name));
    EXPECT_EQ(by_index.pool_index(), i);
    EXPECT_EQ(by_name.pool_index(), i);
    EXPECT_EQ(by_index.chunk_bytes(), by_name.chunk_bytes());
    ChunkRef ref;
    ASSERT_TRUE(by_name.alloc(ref));
    EXPECT_EQ(ref.pool, i) << "a reference names its pool, so a consumer can find it by index";
    EXPECT_EQ(by_index.data(ref), by_name.data(ref));
    EXPECT_EQ(by_index.in_use(), 1u);
    by_index.discard(ref);
  }
}

// Names are no longer stored in the segment: any length is found again whole.
TEST(ShmSegment, LongNamesAreFoundWhole) {
  SegmentPlan plan;
  plan.doorbells = {"d"};
  plan.rings = {{std::string(70, 'r'), 4, 8, "d"}, {std::string(70, 'r') + "x", 4, 8, "d"}};
  auto fits = Segment::create_sealed("coedge-test", plan);
  ASSERT_TRUE(fits.ok()) << fits.error().message;
  EXPECT_EQ(test::expect_ok((*fits)->ring(std::string(70, 'r'))).capacity(), 4u);
  EXPECT_TRUE((*fits)->ring(std::string(70, 'r') + "x").ok());
}

TEST(ShmSegment, EmptyAndDuplicateNamesAreRejected) {
  SegmentPlan plan;
  plan.doorbells = {"d", "d"};
  auto s = Segment::create_sealed("coedge-test", plan);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("twice"), std::string::npos) << s.error().message;
  plan.doorbells = {""};
  s = Segment::create_sealed("coedge-test", plan);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("without a name"), std::string::npos) << s.error().message;
}

// =====================================================================================
// Ring
// =====================================================================================

class RingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    segment_ = create_segment(basic_plan());
    ASSERT_NE(segment_, nullptr);
    refs_ = std::make_unique<Ring>(test::expect_ok(segment_->ring("refs")));
    msgs_ = std::make_unique<Ring>(test::expect_ok(segment_->ring("msgs")));
  }
  static Msg msg(uint64_t seq) { return Msg{seq, check_of(seq), seq * 3}; }
  static Msg read(const void* e) {
    Msg m;
    std::memcpy(&m, e, sizeof m);
    return m;
  }
  std::unique_ptr<Segment> segment_;
  std::unique_ptr<Ring> refs_, msgs_;
};

TEST_F(RingTest, EntriesComeOutInFifoOrder) {
  EXPECT_EQ(msgs_->entry_bytes(), sizeof(Msg));
  for (uint64_t i = 0; i < 5; ++i) {
    const Msg m = msg(i);
    ASSERT_TRUE(msgs_->push(&m));
  }
  for (uint64_t i = 0; i < 5; ++i) {
    const void* e = msgs_->peek();
    ASSERT_NE(e, nullptr);
    const Msg m = read(e);
    EXPECT_EQ(m.seq, i);
    EXPECT_EQ(m.check, check_of(i));
    EXPECT_EQ(m.extra, i * 3);
    msgs_->commit();
  }
  EXPECT_EQ(msgs_->peek(), nullptr);
}

TEST_F(RingTest, PushToAFullRingReturnsFalseAndKeepsTheEntries) {
  for (uint64_t i = 0; i < 8; ++i) {
    const Msg m = msg(i);
    ASSERT_TRUE(msgs_->push(&m)) << i;
  }
  EXPECT_EQ(msgs_->size(), 8u);
  const Msg extra = msg(99);
  EXPECT_FALSE(msgs_->push(&extra));
  EXPECT_FALSE(msgs_->push(&extra));
  EXPECT_EQ(msgs_->size(), 8u);
  EXPECT_EQ(read(msgs_->peek()).seq, 0u);
  msgs_->commit();  // one free slot
  EXPECT_TRUE(msgs_->push(&extra));
  EXPECT_FALSE(msgs_->push(&extra));
  for (uint64_t i = 1; i < 8; ++i) {
    EXPECT_EQ(read(msgs_->peek()).seq, i);
    msgs_->commit();
  }
  EXPECT_EQ(read(msgs_->peek()).seq, 99u);
  msgs_->commit();
  EXPECT_EQ(msgs_->size(), 0u);
}

TEST_F(RingTest, PeekLeavesTheEntryUntilCommit) {
  EXPECT_EQ(msgs_->peek(), nullptr);
  EXPECT_EQ(msgs_->size(), 0u);
  const Msg a = msg(1), b = msg(2);
  ASSERT_TRUE(msgs_->push(&a));
  ASSERT_TRUE(msgs_->push(&b));
  const void* first = msgs_->peek();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(msgs_->peek(), first);
  EXPECT_EQ(read(msgs_->peek()).seq, 1u);
  EXPECT_EQ(msgs_->size(), 2u);
  msgs_->commit();
  EXPECT_EQ(msgs_->size(), 1u);
  EXPECT_EQ(read(msgs_->peek()).seq, 2u);
  msgs_->commit();
  EXPECT_EQ(msgs_->peek(), nullptr);
}

TEST_F(RingTest, WrapsAroundManyTimesTheCapacity) {
  // Varying fill levels, so the head and tail cross the end of the slots at every offset.
  uint64_t pushed = 0, popped = 0;
  std::mt19937 rng(3);
  while (popped < 8 * 250 + 5) {
    const uint32_t burst = rng() % 9;
    for (uint32_t k = 0; k < burst; ++k) {
      const Msg m = msg(pushed);
      if (!msgs_->push(&m)) {
        EXPECT_EQ(msgs_->size(), 8u);
        break;
      }
      ++pushed;
    }
    ASSERT_EQ(msgs_->size(), pushed - popped);
    const uint32_t take = rng() % 9;
    for (uint32_t k = 0; k < take; ++k) {
      const void* e = msgs_->peek();
      if (e == nullptr) {
        EXPECT_EQ(pushed, popped);
        break;
      }
      const Msg m = read(e);
      ASSERT_EQ(m.seq, popped);
      ASSERT_EQ(m.check, check_of(popped));
      msgs_->commit();
      ++popped;
    }
  }
  EXPECT_GT(pushed, 8u * 250);
}

TEST_F(RingTest, DrainVisitsEveryUncommittedEntryInOrderAndEmptiesTheRing) {
  int calls = 0;
  msgs_->drain([&](const void*) { ++calls; });
  EXPECT_EQ(calls, 0);
  for (uint64_t i = 0; i < 6; ++i) {
    const Msg m = msg(i);
    ASSERT_TRUE(msgs_->push(&m));
  }
  msgs_->commit();  // the consumer had finished entry 0
  std::vector<uint64_t> seen;
  msgs_->drain([&](const void* e) { seen.push_back(read(e).seq); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(msgs_->size(), 0u);
  EXPECT_EQ(msgs_->peek(), nullptr);
  for (uint64_t i = 0; i < 8; ++i) {  // the whole capacity is usable again
    const Msg m = msg(i);
    EXPECT_TRUE(msgs_->push(&m));
  }
}

TEST_F(RingTest, PushRingsTheConsumersDoorbellOnly) {
  Doorbell consumer = test::expect_ok(segment_->doorbell("consumer"));
  Doorbell producer = test::expect_ok(segment_->doorbell("producer"));
  const uint32_t c0 = consumer.value(), p0 = producer.value();
  const ChunkRef ref{0, 1};
  ASSERT_TRUE(refs_->push(&ref));  // "refs" rings "consumer"
  EXPECT_NE(consumer.value(), c0);
  EXPECT_EQ(producer.value(), p0);
  const uint32_t c1 = consumer.value();
  const Msg m = msg(1);
  ASSERT_TRUE(msgs_->push(&m));  // "msgs" rings "producer"
  EXPECT_NE(producer.value(), p0);
  EXPECT_EQ(consumer.value(), c1);
}

// =====================================================================================
// Pool
// =====================================================================================

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    segment_ = create_segment(basic_plan());
    ASSERT_NE(segment_, nullptr);
    small_ = std::make_unique<Pool>(test::expect_ok(segment_->pool("small")));
    big_ = std::make_unique<Pool>(test::expect_ok(segment_->pool("big")));
  }
  std::vector<ChunkRef> alloc_all(Pool& pool) {
    std::vector<ChunkRef> refs;
    ChunkRef ref;
    while (refs.size() <= pool.count() && pool.alloc(ref)) refs.push_back(ref);
    return refs;
  }
  std::unique_ptr<Segment> segment_;
  std::unique_ptr<Pool> small_, big_;
};

TEST_F(PoolTest, AllocHandsOutEveryChunkOnceThenFails) {
  EXPECT_EQ(small_->count(), 4u);
  EXPECT_EQ(small_->in_use(), 0u);
  const std::vector<ChunkRef> refs = alloc_all(*small_);
  ASSERT_EQ(refs.size(), 4u);
  std::set<uint32_t> indices;
  for (const ChunkRef& r : refs) {
    EXPECT_EQ(r.pool, small_->pool_index());
    EXPECT_LT(r.index, 4u);
    indices.insert(r.index);
  }
  EXPECT_EQ(indices.size(), 4u);
  EXPECT_EQ(small_->in_use(), 4u);
  ChunkRef more;
  EXPECT_FALSE(small_->alloc(more));
  EXPECT_FALSE(small_->alloc(more));
  EXPECT_EQ(big_->in_use(), 0u) << "pools are independent";
  // A freed chunk is handed out again.
  small_->discard(refs[2]);
  EXPECT_EQ(small_->in_use(), 3u);
  ASSERT_TRUE(small_->alloc(more));
  EXPECT_EQ(more.index, refs[2].index);
  EXPECT_FALSE(small_->alloc(more));
}

TEST_F(PoolTest, PayloadsAreAlignedDistinctAndHoldChunkBytes) {
  for (Pool* pool : {small_.get(), big_.get()}) {
    const std::vector<ChunkRef> refs = alloc_all(*pool);
    ASSERT_EQ(refs.size(), pool->count());
    std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
    for (const ChunkRef& r : refs) {
      const auto start = reinterpret_cast<uintptr_t>(pool->data(r));
      EXPECT_EQ(start % 64, 0u) << "chunk " << r.index;
      ranges.emplace_back(start, start + pool->chunk_bytes());
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) EXPECT_LE(ranges[i - 1].second, ranges[i].first);
    // Writing all chunk_bytes of every chunk clobbers neither a neighbour nor the pool's
    // bookkeeping.
    for (size_t i = 0; i < refs.size(); ++i) stamp_chunk(*pool, refs[i], 1000 + i);
    for (size_t i = 0; i < refs.size(); ++i) EXPECT_TRUE(chunk_has_stamp(*pool, refs[i], 1000 + i)) << i;
    EXPECT_EQ(pool->in_use(), pool->count());
    for (const ChunkRef& r : refs) pool->publish(r, 1);
    for (const ChunkRef& r : refs) pool->release(r, 1);
    EXPECT_EQ(pool->in_use(), 0u);
  }
  EXPECT_EQ(small_->chunk_bytes(), 100u);
  EXPECT_EQ(big_->chunk_bytes(), 4096u);
  // The rings' memory is not touched by chunk writes either.
  Ring msgs = test::expect_ok(segment_->ring("msgs"));
  EXPECT_EQ(msgs.size(), 0u);
  EXPECT_EQ(msgs.entry_bytes(), sizeof(Msg));
}

TEST_F(PoolTest, EachHolderBitIsReleasedAndTheLastFreesTheChunk) {
  ChunkRef ref;
  ASSERT_TRUE(small_->alloc(ref));
  small_->publish(ref, 0b1011);
  small_->release(ref, 0b0010);
  EXPECT_EQ(small_->in_use(), 1u);
  small_->release(ref, 0b1000);
  EXPECT_EQ(small_->in_use(), 1u);
  small_->release(ref, 0b0100);  // never a holder: no effect
  EXPECT_EQ(small_->in_use(), 1u);
  small_->release(ref, 0b0001);
  EXPECT_EQ(small_->in_use(), 0u);
}

TEST_F(PoolTest, TheHighestHolderBitWorks) {
  ChunkRef ref;
  ASSERT_TRUE(small_->alloc(ref));
  const uint64_t top = uint64_t{1} << (kMaxHolders - 1);
  small_->publish(ref, top | 1);
  small_->release(ref, 1);
  EXPECT_EQ(small_->in_use(), 1u);
  small_->release(ref, top);
  EXPECT_EQ(small_->in_use(), 0u);
}

TEST_F(PoolTest, ReleaseIsIdempotent) {
  ChunkRef ref;
  ASSERT_TRUE(small_->alloc(ref));
  small_->publish(ref, 0b11);
  small_->release(ref, 0b01);
  small_->release(ref, 0b01);  // a dead consumer's bit released again by the agent
  small_->release(ref, 0b01);
  EXPECT_EQ(small_->in_use(), 1u) << "still held by bit 0b10";
  small_->release(ref, 0b10);
  EXPECT_EQ(small_->in_use(), 0u);
  small_->release(ref, 0b10);  // releasing a free chunk does nothing
  small_->release(ref, 0b01);
  EXPECT_EQ(small_->in_use(), 0u);
  // ... and a stale release never frees a chunk that is being filled again.
  ChunkRef again;
  ASSERT_TRUE(small_->alloc(again));
  ASSERT_TRUE(small_->alloc(again));
  ASSERT_TRUE(small_->alloc(again));
  ASSERT_TRUE(small_->alloc(again));
  EXPECT_EQ(small_->in_use(), 4u);
  small_->release(ref, 0b01);
  small_->release(ref, 0b10);
  small_->release(ref, ~uint64_t{0});
  EXPECT_EQ(small_->in_use(), 4u);
}

TEST_F(PoolTest, DiscardGivesBackAFilledChunk) {
  ChunkRef a, b;
  ASSERT_TRUE(small_->alloc(a));
  ASSERT_TRUE(small_->alloc(b));
  small_->discard(a);
  EXPECT_EQ(small_->in_use(), 1u);
  small_->discard(b);
  EXPECT_EQ(small_->in_use(), 0u);
  EXPECT_EQ(alloc_all(*small_).size(), 4u);
}

TEST_F(PoolTest, ReclaimFillingFreesOnlyChunksBeingFilled) {
  ChunkRef published, filling1, filling2;
  ASSERT_TRUE(small_->alloc(published));
  stamp_chunk(*small_, published, 7);
  small_->publish(published, 0b1);
  ASSERT_TRUE(small_->alloc(filling1));
  ASSERT_TRUE(small_->alloc(filling2));
  EXPECT_EQ(small_->in_use(), 3u);
  small_->reclaim_filling();
  EXPECT_EQ(small_->in_use(), 1u);
  EXPECT_TRUE(chunk_has_stamp(*small_, published, 7)) << "a published chunk is left alone";
  small_->reclaim_filling();  // idempotent
  EXPECT_EQ(small_->in_use(), 1u);
  small_->release(published, 0b1);
  EXPECT_EQ(small_->in_use(), 0u);
}

TEST_F(PoolTest, ReleaseAllReleasesOneBitOnEveryPublishedChunk) {
  const std::vector<ChunkRef> refs = alloc_all(*small_);
  ASSERT_EQ(refs.size(), 4u);
  small_->publish(refs[0], 0b01);  // only the dead consumer
  small_->publish(refs[1], 0b11);  // it and another
  small_->publish(refs[2], 0b10);  // only the other
  // refs[3] stays FILLING
  small_->release_all(0b01);
  EXPECT_EQ(small_->in_use(), 3u);
  small_->release_all(0b01);  // idempotent
  EXPECT_EQ(small_->in_use(), 3u);
  small_->release(refs[1], 0b10);
  EXPECT_EQ(small_->in_use(), 2u);
  small_->release_all(0b10);
  EXPECT_EQ(small_->in_use(), 1u) << "the FILLING chunk is not released";
  small_->discard(refs[3]);
  EXPECT_EQ(small_->in_use(), 0u);
}

// =====================================================================================
// Doorbell
// =====================================================================================

class DoorbellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    segment_ = create_segment(basic_plan());
    ASSERT_NE(segment_, nullptr);
  }
  // Runs `wait` on another thread; true when it returned within the guard. If it did not,
  // rings until it does so the test can end. `waited`, when given, receives how long the
  // wait took (steady clock, measured on the waiting thread).
  static bool returns(Doorbell bell, uint32_t seen, Duration timeout,
                      SteadyClock::duration* waited = nullptr) {
    auto done = std::async(std::launch::async, [=]() mutable {
      const auto start = SteadyClock::now();
      bell.wait(seen, timeout);
      if (waited) *waited = SteadyClock::now() - start;
    });
    if (done.wait_for(kGuard) == std::future_status::ready) return true;
    while (done.wait_for(10ms) != std::future_status::ready) bell.ring();
    return false;
  }
  std::unique_ptr<Segment> segment_;
};

TEST_F(DoorbellTest, RingAdvancesTheValue) {
  Doorbell bell = test::expect_ok(segment_->doorbell("consumer"));
  const uint32_t v = bell.value();
  bell.ring();
  EXPECT_EQ(bell.value(), v + 1);
  bell.ring();
  EXPECT_EQ(bell.value(), v + 2);
}

TEST_F(DoorbellTest, WaitReturnsAtOnceWhenRungAfterTheValueWasRead) {
  // No lost wake-up: the ring happened between value() and wait().
  Doorbell bell = test::expect_ok(segment_->doorbell("consumer"));
  const uint32_t seen = bell.value();
  bell.ring();
  EXPECT_TRUE(returns(bell, seen, std::chrono::hours(1)));
}

TEST_F(DoorbellTest, WaitReturnsWhenTheTimeoutPasses) {
  Doorbell bell = test::expect_ok(segment_->doorbell("consumer"));
  // Only a lower bound: the kernel never ends a timed wait early, so a wait that returned
  // before its timeout, unrung and with no signal, means a broken timeout (e.g. a
  // malformed timespec, which the kernel rejects at once). How much later it returned
  // depends on the machine and is not checked.
  SteadyClock::duration waited{};
  EXPECT_TRUE(returns(bell, bell.value(), 20ms, &waited));
  EXPECT_GE(waited, 20ms);
  waited = {};
  EXPECT_TRUE(returns(bell, bell.value(), 1500ms, &waited));  // whole seconds and a fraction
  EXPECT_GE(waited, 1500ms);
  EXPECT_TRUE(returns(bell, bell.value(), Duration(0)));
  EXPECT_TRUE(returns(bell, bell.value(), Duration(-5)));
}

TEST_F(DoorbellTest, RingFromAnotherThreadWakesAWaiter) {
  Doorbell bell = test::expect_ok(segment_->doorbell("consumer"));
  for (int round = 0; round < 3; ++round) {
    const uint32_t seen = bell.value();
    std::promise<void> about_to_wait;
    auto done = std::async(std::launch::async, [&, seen] {
      about_to_wait.set_value();
      bell.wait(seen, std::chrono::hours(1));
    });
    about_to_wait.get_future().wait();
    std::this_thread::sleep_for(20ms);  // likely asleep in the futex by now (not required)
    bell.ring();
    const bool woke = done.wait_for(kGuard) == std::future_status::ready;
    EXPECT_TRUE(woke) << "round " << round;
    while (done.wait_for(10ms) != std::future_status::ready) bell.ring();
  }
}

TEST_F(DoorbellTest, RingThroughOneMappingWakesAWaiterOnAnother) {
  // The futex is shared: the two mappings have different addresses.
  auto other = open_segment(*segment_, basic_plan());
  ASSERT_NE(other, nullptr);
  Doorbell ringer = test::expect_ok(segment_->doorbell("producer"));
  Doorbell waiter = test::expect_ok(other->doorbell("producer"));
  const uint32_t seen = waiter.value();
  std::promise<void> about_to_wait;
  auto done = std::async(std::launch::async, [&] {
    about_to_wait.set_value();
    waiter.wait(seen, std::chrono::hours(1));
  });
  about_to_wait.get_future().wait();
  std::this_thread::sleep_for(20ms);
  ringer.ring();
  EXPECT_EQ(done.wait_for(kGuard), std::future_status::ready);
  while (done.wait_for(10ms) != std::future_status::ready) ringer.ring();
}

TEST_F(DoorbellTest, DoorbellsAreIndependent) {
  Doorbell a = test::expect_ok(segment_->doorbell("consumer"));
  Doorbell b = test::expect_ok(segment_->doorbell("producer"));
  const uint32_t b0 = b.value();
  a.ring();
  a.ring();
  EXPECT_EQ(b.value(), b0);
}

// =====================================================================================
// Across processes (fork)
// =====================================================================================

// The doorbells: the parent's ("agent"/consumer) and the child's (producer).
SegmentPlan fork_plan() {
  SegmentPlan plan;
  plan.doorbells = {"parent", "child"};
  plan.rings = {{"chunks", 4, sizeof(ChunkRef), "parent"}, {"msgs", 8, sizeof(Msg), "parent"}};
  plan.pools = {{"frames", 200, 3}};
  return plan;
}

// Child-side helpers: no gtest, failures are exit codes.
template <typename T>
bool child_get(Result<T> r, T& out) {
  if (!r.ok()) return false;
  out = std::move(r).value();
  return true;
}

TEST(ShmCrossProcess, ChildProducerMessagesArriveInOrder) {
  auto segment = create_segment(fork_plan());
  ASSERT_NE(segment, nullptr);
  constexpr uint64_t kCount = 5000;  // hundreds of times the capacity
  const int fd = segment->fd();
  Child child = Child::start([&]() -> int {
    auto s = Segment::map(fd, fork_plan(), Access::kReadWrite);
    if (!s.ok()) return 2;
    auto ring = (*s)->ring("msgs");
    auto bell = (*s)->doorbell("child");
    if (!ring.ok() || !bell.ok()) return 3;
    const auto give_up = SteadyClock::now() + kGuard;
    for (uint64_t i = 0; i < kCount; ++i) {
      const Msg m{i, check_of(i), i * 3};
      for (;;) {
        const uint32_t seen = bell->value();
        if (ring->push(&m)) break;
        if (SteadyClock::now() > give_up) return 4;
        bell->wait(seen, 100ms);
      }
    }
    return 0;
  });
  ASSERT_TRUE(child.started());

  Ring ring = test::expect_ok(segment->ring("msgs"));
  Doorbell mine = test::expect_ok(segment->doorbell("parent"));
  Doorbell theirs = test::expect_ok(segment->doorbell("child"));
  const auto give_up = SteadyClock::now() + kGuard;
  for (uint64_t i = 0; i < kCount; ++i) {
    const void* e = wait_peek(ring, mine, give_up);
    ASSERT_NE(e, nullptr) << "gave up waiting for message " << i;
    Msg m;
    std::memcpy(&m, e, sizeof m);
    ASSERT_EQ(m.seq, i);
    ASSERT_EQ(m.check, check_of(i));
    ASSERT_EQ(m.extra, i * 3);
    ring.commit();
    theirs.ring();
  }
  const auto status = child.wait();
  EXPECT_TRUE(exited_with(status, 0)) << describe(status);
  EXPECT_EQ(ring.size(), 0u);
}

TEST(ShmCrossProcess, ChildProducerChunksArriveInOrderWithTheirPayloads) {
  auto segment = create_segment(fork_plan());
  ASSERT_NE(segment, nullptr);
  constexpr uint64_t kCount = 2000;  // the 3 chunks are reused hundreds of times
  const int fd = segment->fd();
  Child producer = Child::start([&]() -> int {
    auto s = Segment::map(fd, fork_plan(), Access::kReadWrite);
    if (!s.ok()) return 2;
    auto ring = (*s)->ring("chunks");
    auto pool = (*s)->pool("frames");
    auto bell = (*s)->doorbell("child");
    if (!ring.ok() || !pool.ok() || !bell.ok()) return 3;
    const auto give_up = SteadyClock::now() + kGuard;
    for (uint64_t i = 0; i < kCount; ++i) {
      ChunkRef ref;
      for (;;) {
        const uint32_t seen = bell->value();
        if (pool->alloc(ref)) break;
        if (SteadyClock::now() > give_up) return 4;
        bell->wait(seen, 100ms);
      }
      stamp_chunk(*pool, ref, i);
      pool->publish(ref, 1);
      for (;;) {
        const uint32_t seen = bell->value();
        if (ring->push(&ref)) break;
        if (SteadyClock::now() > give_up) return 5;
        bell->wait(seen, 100ms);
      }
    }
    return 0;
  });
  ASSERT_TRUE(producer.started());

  Ring ring = test::expect_ok(segment->ring("chunks"));
  Pool pool = test::expect_ok(segment->pool("frames"));
  Doorbell mine = test::expect_ok(segment->doorbell("parent"));
  Doorbell theirs = test::expect_ok(segment->doorbell("child"));
  const auto give_up = SteadyClock::now() + kGuard;
  for (uint64_t i = 0; i < kCount; ++i) {
    const void* e = wait_peek(ring, mine, give_up);
    ASSERT_NE(e, nullptr) << "gave up waiting for chunk " << i;
    const ChunkRef ref = entry_ref(e);
    ASSERT_EQ(ref.pool, pool.pool_index());
    ASSERT_LT(ref.index, pool.count());
    ASSERT_TRUE(chunk_has_stamp(pool, ref, i)) << "chunk " << i;
    pool.release(ref, 1);  // release, then commit: the consumer protocol
    ring.commit();
    theirs.ring();
  }
  const auto status = producer.wait();
  EXPECT_TRUE(exited_with(status, 0)) << describe(status);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(ring.size(), 0u);
}

// --- A consumer that dies in the middle of the protocol ------------------------------
enum class DeathPoint { kAfterPeek, kAfterRelease };
enum class DeathKind { kSigkill, kExit };

// The parent is the producer and, after the crash, the agent. The dead consumer holds
// bit 1; `other` is the holder mask of another consumer (0: none) that keeps its chunks
// outside any ring (like a second task reading the same frame).
void dead_consumer_scenario(DeathPoint point, DeathKind kind, uint64_t other) {
  auto segment = create_segment(fork_plan());
  ASSERT_NE(segment, nullptr);
  Ring ring = test::expect_ok(segment->ring("chunks"));
  Pool pool = test::expect_ok(segment->pool("frames"));
  constexpr uint64_t kDead = 1;

  std::vector<ChunkRef> sent;
  for (uint64_t i = 0; i < 3; ++i) {
    ChunkRef ref;
    ASSERT_TRUE(pool.alloc(ref));
    stamp_chunk(pool, ref, 100 + i);
    pool.publish(ref, kDead | other);
    ASSERT_TRUE(ring.push(&ref));
    sent.push_back(ref);
  }

  const int fd = segment->fd();
  Child consumer = Child::start([&]() -> int {
    auto s = Segment::map(fd, fork_plan(), Access::kReadWrite);
    if (!s.ok()) return 2;
    Ring r = *(*s)->ring("chunks");
    auto p = (*s)->pool(0);
    if (!p.ok()) return 3;
    // Entry 0: the whole protocol.
    const void* e = r.peek();
    if (e == nullptr || !chunk_has_stamp(*p, entry_ref(e), 100)) return 4;
    p->release(entry_ref(e), kDead);
    r.commit();
    // Entry 1: dies half-way.
    e = r.peek();
    if (e == nullptr || !chunk_has_stamp(*p, entry_ref(e), 101)) return 5;
    if (point == DeathPoint::kAfterRelease) p->release(entry_ref(e), kDead);
    if (kind == DeathKind::kSigkill) ::raise(SIGKILL);
    return 0;
  });
  ASSERT_TRUE(consumer.started());
  const auto status = consumer.wait();
  if (kind == DeathKind::kSigkill) {
    ASSERT_TRUE(killed_by(status, SIGKILL)) << describe(status);
  } else {
    ASSERT_TRUE(exited_with(status, 0)) << describe(status);
  }
  ASSERT_EQ(ring.size(), 2u) << "entries 1 and 2 were never committed";
  const uint32_t held_after_crash = pool.in_use();
  if (other == 0) {
    EXPECT_EQ(held_after_crash, point == DeathPoint::kAfterRelease ? 1u : 2u);
  } else {
    EXPECT_EQ(held_after_crash, 3u);
  }

  // The agent: release the dead consumer's bit on every uncommitted entry
  // (node/ipc_pipeline.cc reclaim_frames / reclaim_outputs).
  int drained = 0;
  ring.drain([&](const void* e) {
    ++drained;
    pool.release(entry_ref(e), kDead);
  });
  EXPECT_EQ(drained, 2);
  EXPECT_EQ(ring.size(), 0u);
  if (other != 0) {
    EXPECT_EQ(pool.in_use(), 3u) << "the other consumer still holds all three";
    for (size_t i = 0; i < sent.size(); ++i) EXPECT_TRUE(chunk_has_stamp(pool, sent[i], 100 + i));
    for (const ChunkRef& ref : sent) pool.release(ref, other);
  }
  EXPECT_EQ(pool.in_use(), 0u);

  // Nothing was freed twice: every chunk is handed out exactly once, and further stale
  // releases of the dead bit do not free chunks that are being filled.
  std::set<uint32_t> indices;
  ChunkRef ref;
  while (indices.size() <= pool.count() && pool.alloc(ref)) indices.insert(ref.index);
  EXPECT_EQ(indices.size(), pool.count());
  for (const ChunkRef& r : sent) pool.release(r, kDead);
  EXPECT_EQ(pool.in_use(), pool.count());
  EXPECT_FALSE(pool.alloc(ref));
}

TEST(ShmCrossProcess, ConsumerKilledAfterPeekIsReclaimed) {
  dead_consumer_scenario(DeathPoint::kAfterPeek, DeathKind::kSigkill, 0);
}
TEST(ShmCrossProcess, ConsumerKilledAfterReleaseBeforeCommitIsReclaimed) {
  dead_consumer_scenario(DeathPoint::kAfterRelease, DeathKind::kSigkill, 0);
}
TEST(ShmCrossProcess, ConsumerExitingAfterPeekIsReclaimed) {
  dead_consumer_scenario(DeathPoint::kAfterPeek, DeathKind::kExit, 0);
}
TEST(ShmCrossProcess, ConsumerExitingAfterReleaseBeforeCommitIsReclaimed) {
  dead_consumer_scenario(DeathPoint::kAfterRelease, DeathKind::kExit, 0);
}
TEST(ShmCrossProcess, ConsumerKilledAfterPeekLeavesChunksOfAnotherHolder) {
  dead_consumer_scenario(DeathPoint::kAfterPeek, DeathKind::kSigkill, 0b100);
}
TEST(ShmCrossProcess, ConsumerKilledAfterReleaseLeavesChunksOfAnotherHolder) {
  dead_consumer_scenario(DeathPoint::kAfterRelease, DeathKind::kSigkill, 0b100);
}

// --- A producer that dies while filling ----------------------------------------------
void dead_producer_scenario(DeathKind kind) {
  auto segment = create_segment(fork_plan());
  ASSERT_NE(segment, nullptr);
  Ring ring = test::expect_ok(segment->ring("chunks"));
  Pool pool = test::expect_ok(segment->pool("frames"));
  const int fd = segment->fd();

  Child first = Child::start([&]() -> int {
    auto s = Segment::map(fd, fork_plan(), Access::kReadWrite);
    if (!s.ok()) return 2;
    Ring r = *(*s)->ring("chunks");
    Pool p = *(*s)->pool("frames");
    ChunkRef ref;
    if (!p.alloc(ref)) return 3;
    stamp_chunk(p, ref, 1);
    p.publish(ref, 1);
    if (!r.push(&ref)) return 4;
    if (!p.alloc(ref)) return 5;  // FILLING when it dies
    std::memset(p.data(ref), 0xee, 10);
    if (kind == DeathKind::kSigkill) ::raise(SIGKILL);
    return 0;
  });
  ASSERT_TRUE(first.started());
  const auto first_status = first.wait();
  if (kind == DeathKind::kSigkill) {
    ASSERT_TRUE(killed_by(first_status, SIGKILL)) << describe(first_status);
  } else {
    ASSERT_TRUE(exited_with(first_status, 0)) << describe(first_status);
  }
  EXPECT_EQ(pool.in_use(), 2u);
  EXPECT_EQ(ring.size(), 1u);

  Child second = Child::start([&]() -> int {  // the restarted producer
    auto s = Segment::map(fd, fork_plan(), Access::kReadWrite);
    if (!s.ok()) return 2;
    Ring r = *(*s)->ring("chunks");
    Pool p = *(*s)->pool("frames");
    p.reclaim_filling();
    if (p.in_use() != 1) return 6;
    ChunkRef ref;
    for (uint64_t stamp = 2; stamp <= 3; ++stamp) {
      if (!p.alloc(ref)) return 3;
      stamp_chunk(p, ref, stamp);
      p.publish(ref, 1);
      if (!r.push(&ref)) return 4;
    }
    return 0;
  });
  ASSERT_TRUE(second.started());
  const auto second_status = second.wait();
  ASSERT_TRUE(exited_with(second_status, 0)) << describe(second_status);
  EXPECT_EQ(pool.in_use(), 3u) << "all three chunks are published, none leaked";

  for (uint64_t stamp = 1; stamp <= 3; ++stamp) {
    const void* e = ring.peek();
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(chunk_has_stamp(pool, entry_ref(e), stamp)) << stamp;
    pool.release(entry_ref(e), 1);
    ring.commit();
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(ring.peek(), nullptr);
}

TEST(ShmCrossProcess, ProducerKilledWhileFillingIsReclaimedByItsSuccessor) {
  dead_producer_scenario(DeathKind::kSigkill);
}
TEST(ShmCrossProcess, ProducerExitingWhileFillingIsReclaimedByItsSuccessor) {
  dead_producer_scenario(DeathKind::kExit);
}

// =====================================================================================
// Crash recovery: stale references, and the one documented gap
// =====================================================================================

// A dead consumer's release freed the chunk; the live producer allocated and published
// it again before the agent drained the dead consumer's ring. The agent's re-release of
// the stale entry must not touch the new publication: the generation tells them apart.
TEST(ShmCrashRecovery, AStaleEntryOfADeadConsumerReleasesNothingOnceTheChunkIsReused) {
  SegmentPlan plan = fork_plan();
  plan.pools = {{"outputs", 64, 1}};
  auto segment = create_segment(plan);
  ASSERT_NE(segment, nullptr);
  Ring ring = test::expect_ok(segment->ring("chunks"));
  Pool pool = test::expect_ok(segment->pool("outputs"));

  ChunkRef ref;
  ASSERT_TRUE(pool.alloc(ref));  // producer
  pool.publish(ref, 1);
  ASSERT_TRUE(ring.push(&ref));
  ASSERT_NE(ring.peek(), nullptr);  // consumer: peek, release (the last holder) ...
  pool.release(entry_ref(ring.peek()), 1);
  // ... and dies before commit.
  ChunkRef again;
  ASSERT_TRUE(pool.alloc(again));  // the live producer reuses the chunk
  ASSERT_EQ(again.index, ref.index);
  stamp_chunk(pool, again, 2);
  pool.publish(again, 1);  // about to push it

  ring.drain([&](const void* e) { pool.release(entry_ref(e), 1); });  // the agent
  EXPECT_EQ(pool.in_use(), 1u) << "the new publication is owed to the next consumer";
  ASSERT_TRUE(ring.push(&again));
  ChunkRef third;
  EXPECT_FALSE(pool.alloc(third)) << "the producer can overwrite a chunk that is in a ring";
}

// (A consumer killed inside release() cannot leave a published chunk without holders:
// the holder bits and the state change in one atomic step, see shm_segment.cc.)

// KNOWN GAP, documented in shm_segment.h (kept disabled: it states what is not handled).
// A producer killed between publish() and push() leaves a published chunk in no ring:
// no drain releases it and reclaim_filling() skips it; for tensors, the next server
// restart (release_all) recovers it.
TEST(ShmCrashRecovery, DISABLED_GapProducerKilledBetweenPublishAndPushLeaksTheChunk) {
  auto segment = create_segment(fork_plan());
  ASSERT_NE(segment, nullptr);
  Ring ring = test::expect_ok(segment->ring("chunks"));
  Pool pool = test::expect_ok(segment->pool("frames"));
  const int fd = segment->fd();
  Child producer = Child::start([&]() -> int {
    auto s = Segment::map(fd, fork_plan(), Access::kReadWrite);
    if (!s.ok()) return 2;
    Pool p = *(*s)->pool("frames");
    ChunkRef ref;
    if (!p.alloc(ref)) return 3;
    p.publish(ref, 1);
    ::raise(SIGKILL);  // before push
    return 0;
  });
  ASSERT_TRUE(producer.started());
  const auto status = producer.wait();
  ASSERT_TRUE(killed_by(status, SIGKILL)) << describe(status);
  pool.reclaim_filling();  // the restarted producer
  ring.drain([&](const void* e) { pool.release(entry_ref(e), 1); });  // the consumer side
  EXPECT_EQ(pool.in_use(), 0u);
}

// =====================================================================================
// Randomized invariants (one process, seeded)
// =====================================================================================

// A model of the pool and three consumer rings, driven by random producer, consumer and
// crash steps; after every step the segment must agree with the model.
class RandomizedModel {
 public:
  RandomizedModel(Segment& segment, uint32_t seed) : rng_(seed), pool_(*segment.pool("chunks")) {
    for (int k = 0; k < kConsumers; ++k) rings_.push_back(*segment.ring("to" + std::to_string(k)));
  }
  static constexpr int kConsumers = 3;
  static SegmentPlan plan() {
    SegmentPlan p;
    p.doorbells = {"bell"};
    for (int k = 0; k < kConsumers; ++k) p.rings.push_back({"to" + std::to_string(k), 3u + k, sizeof(ChunkRef), "bell"});
    p.pools = {{"chunks", 72, 7}};
    return p;
  }

  void step() {
    const uint32_t action = rng_() % 100;
    if (action < 35) {
      produce();
    } else if (action < 45) {
      finish_filling();
    } else if (action < 85) {
      consume(static_cast<int>(rng_() % kConsumers));
    } else if (action < 92) {
      crash_consumer(static_cast<int>(rng_() % kConsumers));
    } else {
      crash_producer();
    }
  }

  void check() {
    uint32_t expected = static_cast<uint32_t>(filling_.size() + holders_.size());
    ASSERT_EQ(pool_.in_use(), expected);
    for (int k = 0; k < kConsumers; ++k) {
      ASSERT_EQ(rings_[k].size(), queues_[k].size()) << "ring " << k;
      const void* e = rings_[k].peek();
      ASSERT_EQ(e == nullptr, queues_[k].empty());
      if (e != nullptr) {
        ASSERT_EQ(entry_ref(e).index, queues_[k].front());
      }
    }
    for (const auto& [index, holders] : holders_) {
      ASSERT_NE(holders, 0u);
      ASSERT_TRUE(chunk_has_stamp(pool_, ChunkRef{pool_.pool_index(), index}, stamps_.at(index))) << index;
    }
  }

  // Every consumer finishes its ring; nothing may be left.
  void finish() {
    for (int k = 0; k < kConsumers; ++k) {
      while (!queues_[k].empty()) consume(k);
    }
    for (uint32_t index : std::vector<uint32_t>(filling_.begin(), filling_.end())) {
      pool_.discard(ChunkRef{pool_.pool_index(), index});
      filling_.erase(index);
    }
    ASSERT_TRUE(holders_.empty());
    ASSERT_EQ(pool_.in_use(), 0u);
  }

  uint64_t delivered() const { return delivered_; }

 private:
  void produce() {
    ChunkRef ref;
    const bool got = pool_.alloc(ref);
    ASSERT_EQ(got, filling_.size() + holders_.size() < pool_.count());
    if (!got) return;
    ASSERT_EQ(ref.pool, pool_.pool_index());
    ASSERT_FALSE(filling_.count(ref.index) || holders_.count(ref.index)) << "handed out twice: " << ref.index;
    filling_.insert(ref.index);
    stamps_[ref.index] = ++serial_;
    refs_[ref.index] = ref;  // with its generation: releases must name the publication
    stamp_chunk(pool_, ref, serial_);
  }

  void finish_filling() {
    if (filling_.empty()) return;
    auto it = filling_.begin();
    std::advance(it, rng_() % filling_.size());
    const uint32_t index = *it;
    filling_.erase(it);
    const ChunkRef ref = refs_.at(index);
    if (rng_() % 8 == 0) {
      pool_.discard(ref);
      return;
    }
    const uint64_t mask = 1 + rng_() % ((1u << kConsumers) - 1);  // a non-empty subset
    pool_.publish(ref, mask);
    holders_[index] = mask;
    // Push to each addressed consumer; a full ring means that consumer is skipped and its
    // bit released at once (as publish_frame does).
    for (int k = 0; k < kConsumers; ++k) {
      const uint64_t bit = uint64_t{1} << k;
      if ((mask & bit) == 0) continue;
      if (rings_[k].push(&ref)) {
        queues_[k].push_back(index);
      } else {
        ASSERT_EQ(queues_[k].size(), rings_[k].size());
        pool_.release(ref, bit);
        drop_bit(index, bit);
      }
    }
  }

  void consume(int k) {
    const void* e = rings_[k].peek();
    if (e == nullptr) return;
    const ChunkRef ref = entry_ref(e);
    const uint64_t bit = uint64_t{1} << k;
    ASSERT_EQ(ref.index, queues_[k].front());
    ASSERT_TRUE(chunk_has_stamp(pool_, ref, stamps_.at(ref.index)));
    pool_.release(ref, bit);
    rings_[k].commit();
    queues_[k].pop_front();
    drop_bit(ref.index, bit);
    ++delivered_;
  }

  // Consumer k dies at a random point of its protocol for the oldest entry; the agent
  // then drains its ring releasing its bit (before the producer can run again).
  void crash_consumer(int k) {
    const uint64_t bit = uint64_t{1} << k;
    if (!queues_[k].empty() && rng_() % 2 == 0) {
      pool_.release(entry_ref(rings_[k].peek()), bit);  // released, not committed
      drop_bit(queues_[k].front(), bit);
      if (rng_() % 2 == 0) pool_.release(entry_ref(rings_[k].peek()), bit);  // twice: harmless
    }
    rings_[k].drain([&](const void* e) { pool_.release(entry_ref(e), bit); });
    while (!queues_[k].empty()) {
      drop_bit(queues_[k].front(), bit);
      queues_[k].pop_front();
    }
    // A stale release of every chunk after the drain changes nothing either.
    if (rng_() % 4 == 0) pool_.release_all(bit);
  }

  void crash_producer() {
    pool_.reclaim_filling();
    filling_.clear();
  }

  void drop_bit(uint32_t index, uint64_t bit) {
    auto it = holders_.find(index);
    if (it == holders_.end()) return;
    it->second &= ~bit;
    if (it->second == 0) holders_.erase(it);
  }

  std::mt19937 rng_;
  Pool pool_;
  std::vector<Ring> rings_;
  std::deque<uint32_t> queues_[kConsumers];
  std::set<uint32_t> filling_;
  std::map<uint32_t, uint64_t> holders_;  // published chunk -> bits still holding it
  std::map<uint32_t, uint64_t> stamps_;
  std::map<uint32_t, ChunkRef> refs_;  // the latest publication of each chunk
  uint64_t serial_ = 0;
  uint64_t delivered_ = 0;
};

TEST(ShmRandomized, PoolAndRingsAgreeWithAModel) {
  for (uint32_t seed : {1u, 2u, 3u, 20240601u, 987654321u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto segment = create_segment(RandomizedModel::plan());
    ASSERT_NE(segment, nullptr);
    RandomizedModel model(*segment, seed);
    for (int i = 0; i < 20000; ++i) {
      model.step();
      if (::testing::Test::HasFatalFailure()) FAIL() << "at step " << i;
      model.check();
      if (::testing::Test::HasFatalFailure()) FAIL() << "at step " << i;
    }
    model.finish();
    if (::testing::Test::HasFatalFailure()) return;
    EXPECT_GT(model.delivered(), 1000u) << "the walk exercised consumption";
  }
}

}  // namespace
}  // namespace coedge::ipc
