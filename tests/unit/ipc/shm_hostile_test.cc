// Hostile-header tests of the shared-memory segment (ipc/shm_segment.h, "Trust"): a
// process that maps the segment rewrites the layout fields in it — a pool's stride, count,
// chunk size and index, a ring's capacity, entry size and doorbell, the directories — and
// a ring's indices. The agent's views (made by the creator) must go on addressing only
// their own region, refuse references outside it, and treat inconsistent ring indices as a
// corrupt ring, without crashing, dividing by zero or looping without end. An opener must
// refuse a segment whose layout was rewritten before it opened it.
//
// The tests write the segment through a second, raw mapping, at the offsets of the
// structs in shm_segment.cc (a wire layout shared with built workers: it changes only with
// kVersion). Files live in /dev/shm under unique names and are removed.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"

namespace coedge::ipc {
namespace {

// Offsets inside the segment's structs (shm_segment.cc).
constexpr uint64_t kPoolHeaderBytes = 64;   // align_up(sizeof(PoolHeader))
constexpr uint64_t kChunkSlotBytes = 64;    // align_up(sizeof(ChunkSlot))
constexpr uint64_t kRingHeaderBytes = 192;  // align_up(sizeof(RingHeader))
constexpr uint64_t kPoolChunkBytes = 0, kPoolStride = 8, kPoolCount = 16, kPoolIndex = 20;
constexpr uint64_t kRingHead = 0, kRingTail = 64, kRingCapacity = 128, kRingEntryBytes = 132, kRingDoorbell = 136;

std::string unique_path() {
  static std::atomic<int> counter{0};
  return "/dev/shm/coedge-ipc-hostile-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

template <typename T>
T get(Result<T> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? std::string() : r.error().message);
  return std::move(r).value();
}

// A second mapping of the segment file: what a hostile worker sees and writes.
class RawMapping {
 public:
  explicit RawMapping(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0) {
      bytes_ = static_cast<size_t>(st.st_size);
      void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      base_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
    }
    if (fd >= 0) ::close(fd);
  }
  ~RawMapping() {
    if (base_ != nullptr) ::munmap(base_, bytes_);
  }
  RawMapping(const RawMapping&) = delete;
  RawMapping& operator=(const RawMapping&) = delete;
  bool ok() const { return base_ != nullptr; }
  size_t bytes() const { return bytes_; }
  // The raw address of the same byte `p` points at in another mapping of the file.
  uint8_t* same(const void* p, const void* other_base) const {
    return base_ + (static_cast<const uint8_t*>(p) - static_cast<const uint8_t*>(other_base));
  }
  template <typename T>
  void put(uint8_t* at, T value) {
    std::memcpy(at, &value, sizeof value);
  }
  uint8_t* base() const { return base_; }

 private:
  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
};

struct Msg {
  uint64_t seq = 0;
  uint64_t check = 0;
};

SegmentPlan hostile_plan() {
  SegmentPlan plan;
  plan.doorbells = {"agent", "worker"};
  plan.rings = {{"msgs", 8, sizeof(Msg), "agent"}, {"refs", 4, sizeof(ChunkRef), "worker"}};
  plan.pools = {{"small", 100, 4}, {"big", 4096, 2}};
  return plan;
}

class ShmHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Segment::create(path_, hostile_plan());
    ASSERT_TRUE(s.ok()) << s.error().message;
    segment_ = std::move(*s);
    raw_ = std::make_unique<RawMapping>(path_);
    ASSERT_TRUE(raw_->ok());
  }
  // Address in the raw mapping of pool `p`'s header, found through the creator's view.
  uint8_t* pool_header(Pool& p) {
    const uint8_t* first = static_cast<const uint8_t*>(p.data(ChunkRef{p.pool_index(), 0, 0, 0}));
    return raw_at(first - kChunkSlotBytes - kPoolHeaderBytes);
  }
  // Address in the raw mapping of the byte at `p` in the creator's mapping: both map the
  // same file, so offsets agree; the creator's base is found from a pool header, whose
  // offset the segment file's directory records (read from the raw mapping, not trusted
  // by anything under test).
  uint8_t* raw_at(const void* p) {
    Pool small = get(segment_->pool("small"));
    const auto* first = static_cast<const uint8_t*>(small.data(ChunkRef{small.pool_index(), 0, 0, 0}));
    const uint64_t small_offset = small_header_offset();
    const uint8_t* creator_base = first - kChunkSlotBytes - kPoolHeaderBytes - small_offset;
    return raw_->base() + (static_cast<const uint8_t*>(p) - creator_base);
  }
  // The pools directory (SegmentHeader::pools_offset at byte 48) holds {name[64], offset}.
  uint64_t small_header_offset() {
    uint64_t pools_dir = 0, offset = 0;
    std::memcpy(&pools_dir, raw_->base() + 48, sizeof pools_dir);
    std::memcpy(&offset, raw_->base() + pools_dir + 64, sizeof offset);
    return offset;
  }
  std::string path_ = unique_path();
  std::unique_ptr<Segment> segment_;
  std::unique_ptr<RawMapping> raw_;
};

TEST_F(ShmHostile, APoolHeaderRewrittenAfterCreationChangesNothingTheAgentAddresses) {
  Pool pool = get(segment_->pool("small"));
  std::vector<const void*> before;
  for (uint32_t i = 0; i < 4; ++i) before.push_back(pool.data(ChunkRef{pool.pool_index(), i, 0, 0}));
  ChunkRef ref;
  ASSERT_TRUE(pool.alloc(ref));
  pool.publish(ref, 1);

  uint8_t* h = pool_header(pool);
  raw_->put<uint64_t>(h + kPoolChunkBytes, ~uint64_t{0});
  raw_->put<uint64_t>(h + kPoolStride, uint64_t{1} << 40);
  raw_->put<uint32_t>(h + kPoolCount, 0xffffffffu);
  raw_->put<uint32_t>(h + kPoolIndex, 7);

  for (Pool p : {pool, get(segment_->pool("small")), get(segment_->pool(pool.pool_index()))}) {
    EXPECT_EQ(p.count(), 4u);
    EXPECT_EQ(p.chunk_bytes(), 100u);
    for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(p.data(ChunkRef{p.pool_index(), i, 0, 0}), before[i]) << i;
    // References outside the planned pool: no address, and the operations do nothing.
    EXPECT_EQ(p.data(ChunkRef{p.pool_index(), 4, 0, 0}), nullptr);
    EXPECT_EQ(p.data(ChunkRef{p.pool_index(), 0xffffffffu, 0, 0}), nullptr);
    EXPECT_EQ(p.data(ChunkRef{p.pool_index() + 1, 0, 0, 0}), nullptr);
    EXPECT_FALSE(p.contains(ChunkRef{7, 0, 0, 0}));
    p.release(ChunkRef{p.pool_index(), 1000000, ref.generation, 0}, 1);
    p.publish(ChunkRef{p.pool_index(), 1000000, 0, 0}, 1);
    p.discard(ChunkRef{p.pool_index(), 1000000, 0, 0});
    // The loops run over the planned count only.
    EXPECT_EQ(p.in_use(), 1u);
    p.reclaim_filling();
    EXPECT_LE(p.in_use(), 4u);
  }
  // release_all and alloc stay inside the 4 planned chunks.
  pool.release_all(1);
  EXPECT_EQ(pool.in_use(), 0u);
  std::vector<ChunkRef> all;
  while (all.size() < 10 && pool.alloc(ref)) all.push_back(ref);
  ASSERT_EQ(all.size(), 4u);
  for (const ChunkRef& r : all) {
    EXPECT_LT(r.index, 4u);
    EXPECT_EQ(r.pool, pool.pool_index());
  }
}

TEST_F(ShmHostile, RewrittenDirectoriesDoNotMoveTheAgentsLookups) {
  Pool small = get(segment_->pool("small"));
  Ring msgs = get(segment_->ring("msgs"));
  const void* first = small.data(ChunkRef{small.pool_index(), 0, 0, 0});
  const Msg m{1, 2};
  ASSERT_TRUE(msgs.push(&m));
  const void* slot = msgs.peek();
  // Every count and offset of the segment header (after the magic and version), and every
  // directory offset, set to nonsense.
  for (size_t b = 12; b < 64; ++b) raw_->base()[b] = 0xee;
  EXPECT_EQ(get(segment_->pool("small")).data(ChunkRef{small.pool_index(), 0, 0, 0}), first);
  EXPECT_EQ(get(segment_->ring("msgs")).peek(), slot);
  EXPECT_TRUE(segment_->doorbell("worker").ok());
  EXPECT_TRUE(segment_->pool(1).ok());
  EXPECT_FALSE(segment_->pool(2).ok());
}

TEST_F(ShmHostile, TakeResultRefusesChunksOutsideThePlanWhateverThePoolHeaderSays) {
  SegmentPlan plan;
  plan.doorbells = {"agent"};
  plan.rings = {{"result/t", kResultRing, sizeof(ChunkRef), "agent"}};
  plan.pools = {{"results/t", kResultChunkBytes, kResultChunks}};
  const std::string path = unique_path();
  auto s = Segment::create(path, plan);
  ASSERT_TRUE(s.ok()) << s.error().message;
  Ring ring = get((*s)->ring("result/t"));
  Pool pool = get((*s)->pool("results/t"));
  // The worker's side, through its own mapping (an opener's views).
  auto w = Segment::open(path);
  ASSERT_TRUE(w.ok()) << w.error().message;
  Ring worker_ring = get((*w)->ring("result/t"));
  Pool worker_pool = get((*w)->pool("results/t"));
  JobRef job;
  job.job = 42;
  ASSERT_TRUE(send_result(worker_pool, worker_ring, job, "{\"ok\":1}", "test"));
  // Then the worker makes the pool look huge, with chunks 1 TiB apart (its header found
  // through the pools directory, SegmentHeader::pools_offset at byte 48)...
  RawMapping raw(path);
  ASSERT_TRUE(raw.ok());
  uint64_t pools_dir = 0, offset = 0;
  std::memcpy(&pools_dir, raw.base() + 48, sizeof pools_dir);
  std::memcpy(&offset, raw.base() + pools_dir + 64, sizeof offset);
  raw.put<uint64_t>(raw.base() + offset + kPoolStride, uint64_t{1} << 40);
  raw.put<uint32_t>(raw.base() + offset + kPoolCount, 0xffffffffu);
  // ... and pushes references past the planned chunks.
  const ChunkRef far{pool.pool_index(), 1000000, 0, 0};
  const ChunkRef next{pool.pool_index(), kResultChunks, 0, 0};
  ASSERT_TRUE(worker_ring.push(&far));
  ASSERT_TRUE(worker_ring.push(&next));

  auto r = take_result(ring, pool);  // the real one, at the planned place
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ReceivedResult::Status::kOk) << r->error;
  EXPECT_EQ(r->json, "{\"ok\":1}");
  EXPECT_EQ(r->ref.job, 42u);
  for (int i = 0; i < 2; ++i) {
    r = take_result(ring, pool);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ReceivedResult::Status::kBadChunk);
  }
  EXPECT_FALSE(take_result(ring, pool).has_value());
  pool.release_all(kSoleHolder);  // over the planned 18 chunks, not 2^32 of them
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST_F(ShmHostile, ARingHeaderRewrittenAfterCreationKeepsThePlannedCapacityAndEntrySize) {
  Ring msgs = get(segment_->ring("msgs"));
  const Msg m0{10, 11};
  ASSERT_TRUE(msgs.push(&m0));
  const uint8_t* slot0 = static_cast<const uint8_t*>(msgs.peek());
  uint8_t* h = raw_at(slot0 - kRingHeaderBytes);
  raw_->put<uint32_t>(h + kRingCapacity, 0);  // was: SIGFPE in position % capacity
  raw_->put<uint32_t>(h + kRingEntryBytes, 1u << 20);
  raw_->put<uint32_t>(h + kRingDoorbell, 12345);
  for (Ring r : {msgs, get(segment_->ring("msgs"))}) {
    EXPECT_EQ(r.capacity(), 8u);
    EXPECT_EQ(r.entry_bytes(), sizeof(Msg));
  }
  Ring again = get(segment_->ring("msgs"));
  // Wrap around several times: every slot is one of the 8 planned ones.
  for (uint64_t i = 1; i < 40; ++i) {
    const Msg m{10 + i, 11 + i};
    ASSERT_TRUE(again.push(&m));
    const auto* e = static_cast<const uint8_t*>(again.peek());
    ASSERT_NE(e, nullptr);
    EXPECT_GE(e, slot0);
    EXPECT_LT(e, slot0 + 8 * sizeof(Msg));
    Msg out;
    std::memcpy(&out, e, sizeof out);
    EXPECT_EQ(out.seq, 10 + i - 1);
    again.commit();
  }
  EXPECT_FALSE(again.corrupt());
}

TEST_F(ShmHostile, InconsistentRingIndicesMakeACorruptRingThatReadsEmptyAndFull) {
  Ring msgs = get(segment_->ring("msgs"));
  const Msg m{1, 2};
  ASSERT_TRUE(msgs.push(&m));
  const uint8_t* slot0 = static_cast<const uint8_t*>(msgs.peek());
  uint8_t* h = raw_at(slot0 - kRingHeaderBytes);
  uint64_t head = 0, tail = 0;
  std::memcpy(&head, h + kRingHead, sizeof head);
  std::memcpy(&tail, h + kRingTail, sizeof tail);
  ASSERT_EQ(head - tail, 1u);

  struct Case {
    uint64_t head, tail;
  };
  for (const Case& c : {Case{tail + 9, tail}, Case{uint64_t{1} << 63, 0}, Case{5, 6}, Case{0, ~uint64_t{0} - 20}}) {
    raw_->put<uint64_t>(h + kRingHead, c.head);
    raw_->put<uint64_t>(h + kRingTail, c.tail);
    Ring r = get(segment_->ring("msgs"));
    EXPECT_TRUE(r.corrupt()) << c.head << " " << c.tail;
    EXPECT_EQ(r.peek(), nullptr);
    EXPECT_EQ(r.size(), 0u);
    EXPECT_FALSE(r.push(&m));  // nothing written
    r.commit();                // nothing moved
    int visited = 0;
    r.drain([&](const void*) { ++visited; });  // ends at once
    EXPECT_EQ(visited, 0);
    EXPECT_EQ(r.corruptions(), 1u);  // one episode, however many calls saw it
    uint64_t now_head = 0, now_tail = 0;
    std::memcpy(&now_head, h + kRingHead, sizeof now_head);
    std::memcpy(&now_tail, h + kRingTail, sizeof now_tail);
    EXPECT_EQ(now_head, c.head);
    EXPECT_EQ(now_tail, c.tail);
  }
  // Indices made consistent again (a full ring, near the wrap of 64 bits): usable again,
  // and every slot it hands out is a planned one.
  raw_->put<uint64_t>(h + kRingHead, uint64_t{5});
  raw_->put<uint64_t>(h + kRingTail, ~uint64_t{0} - 2);  // head - tail == 8 == capacity
  Ring r = get(segment_->ring("msgs"));
  EXPECT_FALSE(r.corrupt());
  EXPECT_EQ(r.size(), 8u);
  EXPECT_FALSE(r.push(&m));  // full
  int visited = 0;
  r.drain([&](const void* e) {
    ++visited;
    EXPECT_GE(static_cast<const uint8_t*>(e), slot0);
    EXPECT_LT(static_cast<const uint8_t*>(e), slot0 + 8 * sizeof(Msg));
  });
  EXPECT_EQ(visited, 8);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.corruptions(), 0u);
}

TEST_F(ShmHostile, DrainVisitsOnlyWhatWasThereWhileAProducerKeepsPushing) {
  Ring msgs = get(segment_->ring("msgs"));
  Ring producer = get(segment_->ring("msgs"));
  for (uint64_t i = 0; i < 3; ++i) {
    const Msg m{i, 0};
    ASSERT_TRUE(producer.push(&m));
  }
  int visited = 0;
  msgs.drain([&](const void*) {
    ++visited;
    const Msg m{100, 0};
    producer.push(&m);  // one more for every one taken: an endless supply
  });
  EXPECT_EQ(visited, 3);
  EXPECT_EQ(msgs.size(), 3u);
}

// An opener reads the layout once and checks it: a rewritten one is refused.
TEST_F(ShmHostile, AnOpenerRefusesALayoutRewrittenBeforeItOpened) {
  Pool small = get(segment_->pool("small"));
  Ring msgs = get(segment_->ring("msgs"));
  const Msg m{1, 2};
  ASSERT_TRUE(msgs.push(&m));
  uint8_t* ph = pool_header(small);
  uint8_t* rh = raw_at(static_cast<const uint8_t*>(msgs.peek()) - kRingHeaderBytes);
  ASSERT_TRUE(Segment::open(path_).ok());

  struct Edit {
    const char* what;
    uint8_t* at;
    uint64_t value;
    size_t bytes;
  };
  const std::vector<Edit> edits = {
      {"pool stride", ph + kPoolStride, uint64_t{1} << 40, 8},
      {"pool stride, one chunk more", ph + kPoolStride, 64 + 128 + 64, 8},
      {"pool count", ph + kPoolCount, 5, 4},
      {"pool count, huge", ph + kPoolCount, 0xffffffffu, 4},
      {"pool chunk size", ph + kPoolChunkBytes, 1000, 8},
      {"pool index", ph + kPoolIndex, 1, 4},
      {"ring capacity 0", rh + kRingCapacity, 0, 4},
      {"ring capacity", rh + kRingCapacity, 9, 4},
      {"ring entry size", rh + kRingEntryBytes, 1u << 20, 4},
      {"ring entry size 0", rh + kRingEntryBytes, 0, 4},
      {"ring doorbell", rh + kRingDoorbell, 99, 4},
      {"pools directory", raw_->base() + 48, 8, 8},
      {"rings directory", raw_->base() + 40, 8, 8},
      {"pool count in the header", raw_->base() + 20, 3, 4},
      {"ring count in the header", raw_->base() + 16, 1000000, 4},
  };
  for (const Edit& e : edits) {
    uint8_t saved[8];
    std::memcpy(saved, e.at, e.bytes);
    std::memcpy(e.at, &e.value, e.bytes);
    auto opened = Segment::open(path_);
    EXPECT_FALSE(opened.ok()) << e.what;
    if (!opened.ok()) {
      EXPECT_NE(opened.error().message.find("damaged layout"), std::string::npos) << e.what;
    }
    std::memcpy(e.at, saved, e.bytes);
  }
  // A name that fills its field (no NUL) is refused too.
  uint64_t pools_dir = 0;
  std::memcpy(&pools_dir, raw_->base() + 48, sizeof pools_dir);
  std::memset(raw_->base() + pools_dir, 'x', 64);
  EXPECT_FALSE(Segment::open(path_).ok());
}

// An opener's views are as fixed as the creator's: rewriting after open changes nothing.
TEST_F(ShmHostile, AnOpenersViewsIgnoreALayoutRewrittenAfterItOpened) {
  auto opened = Segment::open(path_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Pool small = get((*opened)->pool("small"));
  Ring msgs = get((*opened)->ring("msgs"));
  const void* first = small.data(ChunkRef{small.pool_index(), 3, 0, 0});
  const Msg m{1, 2};
  ASSERT_TRUE(msgs.push(&m));
  Pool creator_small = get(segment_->pool("small"));
  uint8_t* ph = pool_header(creator_small);
  raw_->put<uint64_t>(ph + kPoolStride, 3);
  raw_->put<uint32_t>(ph + kPoolCount, 0xffffffffu);
  const auto* slot = static_cast<const uint8_t*>(get(segment_->ring("msgs")).peek());
  raw_->put<uint32_t>(raw_at(slot - kRingHeaderBytes) + kRingCapacity, 0);
  Pool again = get((*opened)->pool("small"));
  EXPECT_EQ(again.count(), 4u);
  EXPECT_EQ(again.data(ChunkRef{again.pool_index(), 3, 0, 0}), first);
  EXPECT_EQ(again.data(ChunkRef{again.pool_index(), 4, 0, 0}), nullptr);
  Ring r = get((*opened)->ring("msgs"));
  EXPECT_EQ(r.capacity(), 8u);
  EXPECT_EQ(r.size(), 1u);
  ASSERT_NE(r.peek(), nullptr);
}

}  // namespace
}  // namespace coedge::ipc
