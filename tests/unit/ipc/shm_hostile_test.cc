// Hostile-process tests of the shared-memory segment (ipc/shm_segment.h, "Trust"): a
// process that maps a segment read-write (a worker, its task's segment) rewrites every
// byte of it it likes — the header, the space around the doorbells and ring indices,
// chunk words — and a ring's indices. Nothing there is a layout: the agent's views, and
// those of any process that maps the segment later, go on addressing only the regions
// their plan gives them, refuse references outside them, and treat inconsistent ring
// indices as a corrupt ring, without crashing, dividing by zero or looping without end.
// A map() after the header was rewritten is refused (it is only compared, never used).
//
// The tests write the segment through a second, raw mapping of its descriptor, at the
// offsets shm_segment.cc lays a plan out at (a layout shared with built workers: it
// changes only with the segment format's version).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"
#include "support/expect_ok.h"

namespace coedge::ipc {
namespace {

// Where hostile_plan() puts things (shm_segment.cc: a 64-byte header, 64-byte doorbells,
// a ring = 128 bytes of indices + its slots, a pool = its chunks, each a 64-byte word
// slot + the payload rounded up to 64).
constexpr uint64_t kChunkSlotBytes = 64;
constexpr uint64_t kRingHeaderBytes = 128;
constexpr uint64_t kRingHead = 0, kRingTail = 64;
constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kSmallPoolOffset = 64 + 2 * 64 + (128 + 8 * 16) + (128 + 4 * 16);

// A second, raw mapping of the segment: what a hostile worker sees and writes.
class RawMapping {
 public:
  explicit RawMapping(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
      bytes_ = static_cast<size_t>(st.st_size);
      void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      base_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
    }
  }
  ~RawMapping() {
    if (base_ != nullptr) ::munmap(base_, bytes_);
  }
  RawMapping(const RawMapping&) = delete;
  RawMapping& operator=(const RawMapping&) = delete;
  bool ok() const { return base_ != nullptr; }
  size_t bytes() const { return bytes_; }
  template <typename T>
  void put(uint8_t* at, T value) {
    std::memcpy(at, &value, sizeof value);
  }
  uint8_t* base() const { return base_; }

 private:
  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
};

struct TwoWordMsg {
  uint64_t seq = 0;
  uint64_t check = 0;
};

SegmentPlan hostile_plan() {
  SegmentPlan plan;
  plan.doorbells = {"agent", "worker"};
  plan.rings = {{"msgs", 8, sizeof(TwoWordMsg), "agent"}, {"refs", 4, sizeof(ChunkRef), "worker"}};
  plan.pools = {{"small", 100, 4}, {"big", 4096, 2}};
  return plan;
}

class ShmHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Segment::create_sealed("coedge-test-hostile", hostile_plan());
    ASSERT_TRUE(s.ok()) << s.error().message;
    segment_ = std::move(*s);
    raw_ = std::make_unique<RawMapping>(segment_->fd());
    ASSERT_TRUE(raw_->ok());
    // The offsets above are the ones the segment uses (else every test here is void).
    Pool small = test::expect_ok(segment_->pool("small"));
    std::memset(small.data(ChunkRef{small.pool_index(), 0, 0, 0}), 0x3c, 8);
    ASSERT_EQ(raw_->base()[kSmallPoolOffset + kChunkSlotBytes], 0x3c);
  }
  // Address in the raw mapping of the byte at `p` in the creator's mapping (both map the
  // same memory, so offsets agree).
  uint8_t* raw_at(const void* p) {
    Pool small = test::expect_ok(segment_->pool("small"));
    const auto* first = static_cast<const uint8_t*>(small.data(ChunkRef{small.pool_index(), 0, 0, 0}));
    const uint8_t* creator_base = first - kChunkSlotBytes - kSmallPoolOffset;
    return raw_->base() + (static_cast<const uint8_t*>(p) - creator_base);
  }
  std::unique_ptr<Segment> segment_;
  std::unique_ptr<RawMapping> raw_;
};

TEST_F(ShmHostile, ScribblingBeforeAPoolChangesNothingTheAgentAddresses) {
  Pool pool = test::expect_ok(segment_->pool("small"));
  std::vector<const void*> before;
  for (uint32_t i = 0; i < 4; ++i) before.push_back(pool.data(ChunkRef{pool.pool_index(), i, 0, 0}));
  ChunkRef ref;
  ASSERT_TRUE(pool.alloc(ref));
  pool.publish(ref, 1);

  // The header, the doorbells and both rings: every byte before the pool.
  std::mt19937 rng(3);
  for (uint64_t b = 0; b < kSmallPoolOffset; ++b) raw_->base()[b] = static_cast<uint8_t>(rng());

  for (Pool p : {pool, test::expect_ok(segment_->pool("small")), test::expect_ok(segment_->pool(pool.pool_index()))}) {
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

TEST_F(ShmHostile, ARewrittenHeaderDoesNotMoveTheAgentsLookups) {
  Pool small = test::expect_ok(segment_->pool("small"));
  Ring msgs = test::expect_ok(segment_->ring("msgs"));
  const void* first = small.data(ChunkRef{small.pool_index(), 0, 0, 0});
  const TwoWordMsg m{1, 2};
  ASSERT_TRUE(msgs.push(&m));
  const void* slot = msgs.peek();
  // The whole header set to nonsense.
  for (size_t b = 0; b < kHeaderBytes; ++b) raw_->base()[b] = 0xee;
  EXPECT_EQ(test::expect_ok(segment_->pool("small")).data(ChunkRef{small.pool_index(), 0, 0, 0}), first);
  EXPECT_EQ(test::expect_ok(segment_->ring("msgs")).peek(), slot);
  EXPECT_TRUE(segment_->doorbell("worker").ok());
  EXPECT_TRUE(segment_->pool(1).ok());
  EXPECT_FALSE(segment_->pool(2).ok());
}

TEST_F(ShmHostile, TakeResultRefusesChunksOutsideThePlanWhateverThePoolHeaderSays) {
  SegmentPlan plan;
  plan.doorbells = {"agent"};
  plan.rings = {{"result/t", kResultRing, sizeof(ChunkRef), "agent"}};
  plan.pools = {{"results/t", kResultChunkBytes, kResultChunks}};
  auto s = Segment::create_sealed("coedge-test-results", plan);
  ASSERT_TRUE(s.ok()) << s.error().message;
  Ring ring = test::expect_ok((*s)->ring("result/t"));
  Pool pool = test::expect_ok((*s)->pool("results/t"));
  // The worker's side, through its own mapping.
  auto w = Segment::map((*s)->fd(), plan, Access::kReadWrite);
  ASSERT_TRUE(w.ok()) << w.error().message;
  Ring worker_ring = test::expect_ok((*w)->ring("result/t"));
  Pool worker_pool = test::expect_ok((*w)->pool("results/t"));
  JobRef job;
  job.job = 42;
  ASSERT_TRUE(send_result(worker_pool, worker_ring, job, "{\"ok\":1}", "test"));
  // Then the worker scribbles over the header and pushes references past the planned chunks.
  RawMapping raw((*s)->fd());
  ASSERT_TRUE(raw.ok());
  std::memset(raw.base(), 0xff, kHeaderBytes);
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

TEST_F(ShmHostile, InconsistentRingIndicesMakeACorruptRingThatReadsEmptyAndFull) {
  Ring msgs = test::expect_ok(segment_->ring("msgs"));
  const TwoWordMsg m{1, 2};
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
    Ring r = test::expect_ok(segment_->ring("msgs"));
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
  Ring r = test::expect_ok(segment_->ring("msgs"));
  EXPECT_FALSE(r.corrupt());
  EXPECT_EQ(r.size(), 8u);
  EXPECT_FALSE(r.push(&m));  // full
  int visited = 0;
  r.drain([&](const void* e) {
    ++visited;
    EXPECT_GE(static_cast<const uint8_t*>(e), slot0);
    EXPECT_LT(static_cast<const uint8_t*>(e), slot0 + 8 * sizeof(TwoWordMsg));
  });
  EXPECT_EQ(visited, 8);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.corruptions(), 0u);
}

TEST_F(ShmHostile, DrainVisitsOnlyWhatWasThereWhileAProducerKeepsPushing) {
  Ring msgs = test::expect_ok(segment_->ring("msgs"));
  Ring producer = test::expect_ok(segment_->ring("msgs"));
  for (uint64_t i = 0; i < 3; ++i) {
    const TwoWordMsg m{i, 0};
    ASSERT_TRUE(producer.push(&m));
  }
  int visited = 0;
  msgs.drain([&](const void*) {
    ++visited;
    const TwoWordMsg m{100, 0};
    producer.push(&m);  // one more for every one taken: an endless supply
  });
  EXPECT_EQ(visited, 3);
  EXPECT_EQ(msgs.size(), 3u);
}

// map() compares the header, once: any field rewritten, and a later map is refused with
// a message; the mappings made before go on as planned.
TEST_F(ShmHostile, AMapAfterTheHeaderWasRewrittenIsRefused) {
  auto before = Segment::map(segment_->fd(), hostile_plan(), Access::kReadWrite);
  ASSERT_TRUE(before.ok()) << before.error().message;
  struct Edit {
    const char* what;
    uint64_t offset;
    uint64_t value;
    size_t bytes;
  };
  // SegmentHeader: magic@0, version@8, digest@16, bytes@24.
  const std::vector<Edit> edits = {
      {"magic", 0, 1, 8}, {"version", 8, 2, 4}, {"digest", 16, 12345, 8}, {"bytes", 24, 1u << 20, 8}};
  for (const Edit& e : edits) {
    uint8_t saved[8];
    std::memcpy(saved, raw_->base() + e.offset, e.bytes);
    std::memcpy(raw_->base() + e.offset, &e.value, e.bytes);
    auto opened = Segment::map(segment_->fd(), hostile_plan(), Access::kReadWrite);
    EXPECT_FALSE(opened.ok()) << e.what;
    std::memcpy(raw_->base() + e.offset, saved, e.bytes);
  }
  EXPECT_TRUE(Segment::map(segment_->fd(), hostile_plan(), Access::kReadOnly).ok());
  Pool small = test::expect_ok((*before)->pool("small"));
  EXPECT_EQ(small.count(), 4u);
  EXPECT_EQ(small.data(ChunkRef{small.pool_index(), 4, 0, 0}), nullptr);
  EXPECT_EQ(test::expect_ok((*before)->ring("msgs")).capacity(), 8u);
}

}  // namespace
}  // namespace coedge::ipc
