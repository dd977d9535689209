#include "ipc/shm_segment.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

namespace coedge::ipc {
namespace {

constexpr uint64_t kMagic = 0x6567644563454f43ull;  // "COEcEdge"
constexpr uint32_t kVersion = 2;
constexpr uint64_t kAlign = 64;
constexpr size_t kNameBytes = 64;

constexpr uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// --- The structs that live in the segment (plain, fixed layout, no pointers) --------
struct SegmentHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t doorbells, rings, pools;
  uint64_t bytes;
  uint64_t doorbells_offset, rings_offset, pools_offset;
};

struct alignas(kAlign) DoorbellSlot {
  char name[kNameBytes];
  std::atomic<uint32_t> seq;
  std::atomic<uint32_t> waiters;
};

struct RingEntryDir {
  char name[kNameBytes];
  uint64_t offset;
};

struct PoolEntryDir {
  char name[kNameBytes];
  uint64_t offset;
};

struct RingHeader {
  alignas(kAlign) std::atomic<uint64_t> head;  // written by the producer
  alignas(kAlign) std::atomic<uint64_t> tail;  // written by the consumer
  alignas(kAlign) uint32_t capacity;
  uint32_t entry_bytes;
  uint32_t doorbell;
};

enum : uint64_t { kFree = 0, kFilling = 1, kPublished = 2 };

// One word per chunk: holder bits 0-31, state bits 32-33, generation bits 34-63.
constexpr uint64_t kHolderMask = 0xffffffffull;
constexpr uint64_t state_of(uint64_t w) { return (w >> 32) & 3; }
constexpr uint32_t generation_of(uint64_t w) { return static_cast<uint32_t>(w >> 34); }
constexpr uint64_t make_word(uint32_t generation, uint64_t state, uint64_t holders) {
  return (uint64_t{generation & 0x3fffffffu} << 34) | (state << 32) | (holders & kHolderMask);
}

struct alignas(kAlign) ChunkSlot {
  std::atomic<uint64_t> word;
};

struct PoolHeader {
  uint64_t chunk_bytes;
  uint64_t stride;  // slot header + payload
  uint32_t count;
  uint32_t index;
  std::atomic<uint32_t> hint;  // unused (kept: the layout is shared with built workers)
};

static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free to work across processes");

uint64_t ring_bytes(const RingPlan& r) {
  return align_up(sizeof(RingHeader)) + align_up(uint64_t{r.capacity} * r.entry_bytes);
}
uint64_t pool_stride(const PoolPlan& p) { return align_up(sizeof(ChunkSlot)) + align_up(p.chunk_bytes); }
uint64_t pool_bytes(const PoolPlan& p) { return align_up(sizeof(PoolHeader)) + pool_stride(p) * p.count; }

void copy_name(char (&dst)[kNameBytes], const std::string& name) {
  std::memset(dst, 0, kNameBytes);
  std::memcpy(dst, name.data(), std::min(name.size(), kNameBytes - 1));
}

template <typename T>
T* at(void* base, uint64_t offset) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(base) + offset);
}

RingHeader* ring_header(void* h) { return static_cast<RingHeader*>(h); }
uint8_t* ring_slot(void* h, uint64_t position) {
  RingHeader* r = ring_header(h);
  return static_cast<uint8_t*>(h) + align_up(sizeof(RingHeader)) +
         (position % r->capacity) * r->entry_bytes;
}

PoolHeader* pool_header(void* h) { return static_cast<PoolHeader*>(h); }
ChunkSlot* chunk_slot(void* h, uint32_t index) {
  return reinterpret_cast<ChunkSlot*>(static_cast<uint8_t*>(h) + align_up(sizeof(PoolHeader)) +
                                      pool_header(h)->stride * index);
}

std::atomic<uint32_t>& seq_of(void* word) { return static_cast<DoorbellSlot*>(word)->seq; }
std::atomic<uint32_t>& waiters_of(void* word) { return static_cast<DoorbellSlot*>(word)->waiters; }

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  // A shared (non-private) futex: the word is in memory mapped by several processes.
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

Error io_error(const std::string& what, const std::string& path) {
  return Error{ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno)};
}

}  // namespace

// --- Doorbell -----------------------------------------------------------------------
uint32_t Doorbell::value() const { return seq_of(word_).load(std::memory_order_seq_cst); }

void Doorbell::wait(uint32_t seen, Duration timeout) {
  if (timeout <= Duration(0)) return;
  waiters_of(word_).fetch_add(1, std::memory_order_seq_cst);
  if (seq_of(word_).load(std::memory_order_seq_cst) == seen) {
    timespec ts{static_cast<time_t>(timeout.count() / 1000000),
                static_cast<long>(timeout.count() % 1000000) * 1000};
    futex(&seq_of(word_), FUTEX_WAIT, seen, &ts);
  }
  waiters_of(word_).fetch_sub(1, std::memory_order_seq_cst);
}

void Doorbell::ring() {
  seq_of(word_).fetch_add(1, std::memory_order_seq_cst);
  if (waiters_of(word_).load(std::memory_order_seq_cst) > 0) {
    futex(&seq_of(word_), FUTEX_WAKE, INT_MAX, nullptr);
  }
}

// --- Ring ---------------------------------------------------------------------------
bool Ring::push(const void* entry) {
  RingHeader* r = ring_header(h_);
  const uint64_t head = r->head.load(std::memory_order_relaxed);
  if (head - r->tail.load(std::memory_order_acquire) >= r->capacity) return false;
  std::memcpy(ring_slot(h_, head), entry, r->entry_bytes);
  r->head.store(head + 1, std::memory_order_release);
  doorbell_.ring();
  return true;
}

const void* Ring::peek() const {
  RingHeader* r = ring_header(h_);
  const uint64_t tail = r->tail.load(std::memory_order_relaxed);
  if (tail == r->head.load(std::memory_order_acquire)) return nullptr;
  return ring_slot(h_, tail);
}

void Ring::commit() {
  RingHeader* r = ring_header(h_);
  r->tail.store(r->tail.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

size_t Ring::size() const {
  RingHeader* r = ring_header(h_);
  return static_cast<size_t>(r->head.load(std::memory_order_acquire) -
                             r->tail.load(std::memory_order_acquire));
}

uint32_t Ring::entry_bytes() const { return ring_header(h_)->entry_bytes; }

// --- Pool ---------------------------------------------------------------------------
bool Pool::alloc(ChunkRef& out) {
  PoolHeader* p = pool_header(h_);
  // The lowest free chunk: the chunks in use stay few and low, so the memory a pool
  // touches is what its peak of chunks in flight needs, not the whole pool.
  for (uint32_t i = 0; i < p->count; ++i) {
    ChunkSlot* c = chunk_slot(h_, i);
    // Only this pool's producer takes a free chunk, so no other process races us here.
    const uint64_t w = c->word.load(std::memory_order_acquire);
    if (state_of(w) != kFree) continue;
    const uint32_t generation = (generation_of(w) + 1) & 0x3fffffffu;
    c->word.store(make_word(generation, kFilling, 0), std::memory_order_relaxed);
    out = ChunkRef{index_, i, generation, 0};
    return true;
  }
  return false;
}

void Pool::prefault(uint32_t chunks) {
  const PoolHeader* p = pool_header(h_);
  chunks = std::min(chunks, p->count);
  if (chunks == 0) return;
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto first = reinterpret_cast<uintptr_t>(chunk_slot(h_, 0));
  const uintptr_t end = first + static_cast<uintptr_t>(p->stride) * chunks;
  const uintptr_t begin = first / static_cast<uintptr_t>(page) * static_cast<uintptr_t>(page);
#ifdef MADV_POPULATE_WRITE
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#endif
}

void* Pool::data(ChunkRef ref) const {
  return reinterpret_cast<uint8_t*>(chunk_slot(h_, ref.index)) + align_up(sizeof(ChunkSlot));
}

uint64_t Pool::chunk_bytes() const { return pool_header(h_)->chunk_bytes; }
uint32_t Pool::count() const { return pool_header(h_)->count; }

void Pool::publish(ChunkRef ref, uint64_t holders) {
  ChunkSlot* c = chunk_slot(h_, ref.index);
  const uint64_t w = c->word.load(std::memory_order_relaxed);
  c->word.store(make_word(generation_of(w), kPublished, holders), std::memory_order_release);
}

void Pool::discard(ChunkRef ref) {
  ChunkSlot* c = chunk_slot(h_, ref.index);
  const uint64_t w = c->word.load(std::memory_order_relaxed);
  c->word.store(make_word(generation_of(w), kFree, 0), std::memory_order_release);
}

namespace {
// Clears `bit` of a published chunk's holders if `generation` matches (any generation
// when `any`); the last holder frees it, in the same atomic step.
void release_word(ChunkSlot* c, uint32_t generation, bool any, uint64_t bit) {
  uint64_t w = c->word.load(std::memory_order_acquire);
  while (true) {
    if (state_of(w) != kPublished || (!any && generation_of(w) != generation) || (w & bit) == 0) return;
    const uint64_t holders = (w & kHolderMask) & ~bit;
    const uint64_t next = make_word(generation_of(w), holders == 0 ? kFree : kPublished, holders);
    if (c->word.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire)) return;
  }
}
}  // namespace

void Pool::release(ChunkRef ref, uint64_t bit) {
  release_word(chunk_slot(h_, ref.index), ref.generation & 0x3fffffffu, false, bit & kHolderMask);
}

void Pool::reclaim_filling() {
  for (uint32_t i = 0; i < count(); ++i) {
    ChunkSlot* c = chunk_slot(h_, i);
    uint64_t w = c->word.load(std::memory_order_acquire);
    if (state_of(w) == kFilling) {
      c->word.compare_exchange_strong(w, make_word(generation_of(w), kFree, 0), std::memory_order_acq_rel);
    }
  }
}

void Pool::release_all(uint64_t bit) {
  for (uint32_t i = 0; i < count(); ++i) release_word(chunk_slot(h_, i), 0, true, bit & kHolderMask);
}

uint32_t Pool::in_use() const {
  uint32_t n = 0;
  for (uint32_t i = 0; i < count(); ++i) {
    n += state_of(chunk_slot(h_, i)->word.load(std::memory_order_acquire)) != kFree ? 1 : 0;
  }
  return n;
}

// --- Segment ------------------------------------------------------------------------
uint64_t SegmentPlan::bytes() const {
  uint64_t n = align_up(sizeof(SegmentHeader));
  n += align_up(sizeof(DoorbellSlot) * doorbells.size());
  n += align_up(sizeof(RingEntryDir) * rings.size());
  n += align_up(sizeof(PoolEntryDir) * pools.size());
  for (const RingPlan& r : rings) n += ring_bytes(r);
  for (const PoolPlan& p : pools) n += pool_bytes(p);
  return n;
}

Result<std::unique_ptr<Segment>> Segment::create(const std::string& path, const SegmentPlan& plan) {
  // Names are stored in fixed fields and looked up whole: refuse what would not fit.
  auto check_names = [](const std::vector<std::string>& names, const char* kind) -> Status {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty() || names[i].size() >= kNameBytes) {
        return Error{ErrorCode::kInvalidInput, std::string("shared-memory plan: ") + kind + " name '" +
                                                   names[i] + "' must have 1 to " +
                                                   std::to_string(kNameBytes - 1) + " bytes (shorten the task or sensor name)"};
      }
      for (size_t k = 0; k < i; ++k) {
        if (names[k] == names[i]) {
          return Error{ErrorCode::kInvalidInput, std::string("shared-memory plan: ") + kind + " '" + names[i] + "' twice"};
        }
      }
    }
    return Ok{};
  };
  std::vector<std::string> ring_names, pool_names;
  for (const RingPlan& r : plan.rings) ring_names.push_back(r.name);
  for (const PoolPlan& p : plan.pools) pool_names.push_back(p.name);
  using Named = std::pair<const std::vector<std::string>*, const char*>;
  for (const Named& named : {Named{&plan.doorbells, "doorbell"}, Named{&ring_names, "ring"},
                             Named{&pool_names, "pool"}}) {
    if (Status st = check_names(*named.first, named.second); !st.ok()) return st.error();
  }
  for (const RingPlan& r : plan.rings) {
    bool found = false;
    for (const auto& d : plan.doorbells) found = found || d == r.doorbell;
    if (!found || r.capacity == 0 || r.entry_bytes == 0) {
      return Error{ErrorCode::kInvalidInput, "shared-memory plan: ring " + r.name +
                                                 " needs a capacity, an entry size and a known doorbell"};
    }
  }
  const uint64_t bytes = plan.bytes();
  ::unlink(path.c_str());  // a stale segment from a crashed run
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", path);
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    Error e = io_error("cannot size (" + std::to_string(bytes) + " bytes)", path);
    ::close(fd);
    ::unlink(path.c_str());
    return e;
  }
  // Not populated: the segment is sized for every task the node may run, and only the
  // chunks that are used take memory (Pool::prefault backs a task's first chunks when it
  // starts, so that its first jobs do not pay the page faults).
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) {
    Error e = io_error("cannot map", path);
    ::unlink(path.c_str());
    return e;
  }
  auto* header = new (base) SegmentHeader{};
  header->version = kVersion;
  header->doorbells = static_cast<uint32_t>(plan.doorbells.size());
  header->rings = static_cast<uint32_t>(plan.rings.size());
  header->pools = static_cast<uint32_t>(plan.pools.size());
  header->bytes = bytes;
  uint64_t offset = align_up(sizeof(SegmentHeader));
  header->doorbells_offset = offset;
  for (size_t i = 0; i < plan.doorbells.size(); ++i) {
    auto* d = new (at<DoorbellSlot>(base, offset + i * sizeof(DoorbellSlot))) DoorbellSlot{};
    copy_name(d->name, plan.doorbells[i]);
  }
  offset += align_up(sizeof(DoorbellSlot) * plan.doorbells.size());
  header->rings_offset = offset;
  offset += align_up(sizeof(RingEntryDir) * plan.rings.size());
  header->pools_offset = offset;
  offset += align_up(sizeof(PoolEntryDir) * plan.pools.size());
  for (size_t i = 0; i < plan.rings.size(); ++i) {
    const RingPlan& r = plan.rings[i];
    auto* dir = at<RingEntryDir>(base, header->rings_offset + i * sizeof(RingEntryDir));
    copy_name(dir->name, r.name);
    dir->offset = offset;
    auto* ring = new (at<RingHeader>(base, offset)) RingHeader{};
    ring->capacity = r.capacity;
    ring->entry_bytes = r.entry_bytes;
    for (size_t d = 0; d < plan.doorbells.size(); ++d) {
      if (plan.doorbells[d] == r.doorbell) ring->doorbell = static_cast<uint32_t>(d);
    }
    offset += ring_bytes(r);
  }
  for (size_t i = 0; i < plan.pools.size(); ++i) {
    const PoolPlan& p = plan.pools[i];
    auto* dir = at<PoolEntryDir>(base, header->pools_offset + i * sizeof(PoolEntryDir));
    copy_name(dir->name, p.name);
    dir->offset = offset;
    auto* pool = new (at<PoolHeader>(base, offset)) PoolHeader{};
    pool->chunk_bytes = p.chunk_bytes;
    pool->stride = pool_stride(p);
    pool->count = p.count;
    pool->index = static_cast<uint32_t>(i);
    for (uint32_t c = 0; c < p.count; ++c) new (chunk_slot(pool, c)) ChunkSlot{};
    offset += pool_bytes(p);
  }
  // Last, with release order: a reader that sees the magic sees a complete layout.
  std::atomic_ref<uint64_t>(header->magic).store(kMagic, std::memory_order_release);
  return std::unique_ptr<Segment>(new Segment(path, base, bytes, true));
}

Result<std::unique_ptr<Segment>> Segment::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open the node's shared memory", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(SegmentHeader))) {
    ::close(fd);
    return Error{ErrorCode::kInvalidInput, path + " is not a CoEdge shared-memory segment"};
  }
  const auto bytes = static_cast<uint64_t>(st.st_size);
  // Not populated: this process touches only its own parts (a minor fault per page, once).
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return io_error("cannot map", path);
  auto* header = static_cast<SegmentHeader*>(base);
  const uint64_t magic = std::atomic_ref<uint64_t>(header->magic).load(std::memory_order_acquire);
  if (magic != kMagic || header->version != kVersion || header->bytes != bytes) {
    ::munmap(base, bytes);
    return Error{ErrorCode::kInvalidInput,
                 path + " is not a CoEdge shared-memory segment of this version (rebuild the worker?)"};
  }
  return std::unique_ptr<Segment>(new Segment(path, base, bytes, false));
}

Segment::~Segment() {
  ::munmap(base_, bytes_);
  if (owner_) ::unlink(path_.c_str());
}

Result<Doorbell> Segment::doorbell(const std::string& name) const {
  const auto* header = static_cast<const SegmentHeader*>(base_);
  for (uint32_t i = 0; i < header->doorbells; ++i) {
    auto* d = at<DoorbellSlot>(base_, header->doorbells_offset + i * sizeof(DoorbellSlot));
    if (name == d->name) return Doorbell(d);
  }
  return Error{ErrorCode::kNotFound, "shared memory has no doorbell '" + name + "'"};
}

Result<Ring> Segment::ring(const std::string& name) const {
  const auto* header = static_cast<const SegmentHeader*>(base_);
  for (uint32_t i = 0; i < header->rings; ++i) {
    auto* dir = at<RingEntryDir>(base_, header->rings_offset + i * sizeof(RingEntryDir));
    if (name != dir->name) continue;
    auto* ring = at<RingHeader>(base_, dir->offset);
    auto* bell = at<DoorbellSlot>(base_, header->doorbells_offset + ring->doorbell * sizeof(DoorbellSlot));
    return Ring(ring, Doorbell(bell));
  }
  return Error{ErrorCode::kNotFound, "shared memory has no ring '" + name + "'"};
}

Result<Pool> Segment::pool(const std::string& name) const {
  const auto* header = static_cast<const SegmentHeader*>(base_);
  for (uint32_t i = 0; i < header->pools; ++i) {
    auto* dir = at<PoolEntryDir>(base_, header->pools_offset + i * sizeof(PoolEntryDir));
    if (name == dir->name) return Pool(at<PoolHeader>(base_, dir->offset), i);
  }
  return Error{ErrorCode::kNotFound, "shared memory has no pool '" + name + "'"};
}

Result<Pool> Segment::pool(uint32_t index) const {
  const auto* header = static_cast<const SegmentHeader*>(base_);
  if (index >= header->pools) return Error{ErrorCode::kNotFound, "shared memory has no pool #" + std::to_string(index)};
  auto* dir = at<PoolEntryDir>(base_, header->pools_offset + index * sizeof(PoolEntryDir));
  return Pool(at<PoolHeader>(base_, dir->offset), index);
}

}  // namespace coedge::ipc
