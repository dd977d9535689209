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
#include <cstddef>
#include <cstring>
#include <limits>
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

// Part of the worker ABI (ipc/abi_layout.h): a built worker's SDK walks these.
static_assert(offsetof(RingHeader, head) == 0 && offsetof(RingHeader, tail) == 64 &&
              offsetof(RingHeader, capacity) == 128 && offsetof(RingHeader, entry_bytes) == 132 &&
              offsetof(RingHeader, doorbell) == 136 && sizeof(RingHeader) == 192);
static_assert(sizeof(ChunkSlot) == 64 && sizeof(DoorbellSlot) == 128);

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

// Only the changing state of these headers is read after create/open: a ring's head and
// tail. capacity, entry_bytes, doorbell, and a pool header's fields, are written by the
// creator and read once by Segment::open (shm_segment.h, "Trust").
RingHeader* ring_header(void* h) { return static_cast<RingHeader*>(h); }

ChunkSlot* chunk_slot(uint8_t* chunks, uint64_t stride, uint32_t index) {
  return reinterpret_cast<ChunkSlot*>(chunks + stride * index);
}

// `offset` += `n`, unless that passes `limit` (or wraps).
bool grow(uint64_t& offset, uint64_t n, uint64_t limit) {
  if (offset > limit || n > limit - offset) return false;
  offset += n;
  return true;
}

// A name as stored in a fixed field: NUL-terminated inside it, not empty.
bool read_name(const char (&field)[kNameBytes], std::string& out) {
  char copy[kNameBytes];
  std::memcpy(copy, field, kNameBytes);  // once: another process may be writing it
  const size_t n = strnlen(copy, kNameBytes);
  if (n == 0 || n == kNameBytes) return false;
  out.assign(copy, n);
  return true;
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
uint64_t Ring::used(uint64_t head, uint64_t tail) const {
  const uint64_t n = head - tail;  // wraps as the indices do
  if (n > capacity_) {
    if (!corrupt_) ++corruptions_;
    corrupt_ = true;
    return ~uint64_t{0};
  }
  corrupt_ = false;
  return n;
}

bool Ring::push(const void* entry) {
  RingHeader* r = ring_header(h_);
  const uint64_t head = r->head.load(std::memory_order_relaxed);
  const uint64_t n = used(head, r->tail.load(std::memory_order_acquire));
  if (n >= capacity_) return false;  // full, or corrupt
  std::memcpy(slots_ + (head % capacity_) * entry_bytes_, entry, entry_bytes_);
  r->head.store(head + 1, std::memory_order_release);
  doorbell_.ring();
  return true;
}

const void* Ring::peek() const {
  RingHeader* r = ring_header(h_);
  const uint64_t tail = r->tail.load(std::memory_order_relaxed);
  const uint64_t n = used(r->head.load(std::memory_order_acquire), tail);
  if (n == 0 || n > capacity_) return nullptr;  // empty, or corrupt
  return slots_ + (tail % capacity_) * entry_bytes_;
}

void Ring::commit() {
  RingHeader* r = ring_header(h_);
  const uint64_t tail = r->tail.load(std::memory_order_relaxed);
  const uint64_t n = used(r->head.load(std::memory_order_acquire), tail);
  if (n == 0 || n > capacity_) return;
  r->tail.store(tail + 1, std::memory_order_release);
}

size_t Ring::size() const {
  RingHeader* r = ring_header(h_);
  const uint64_t tail = r->tail.load(std::memory_order_acquire);
  const uint64_t n = used(r->head.load(std::memory_order_acquire), tail);
  return n > capacity_ ? 0 : static_cast<size_t>(n);
}

bool Ring::corrupt() const {
  RingHeader* r = ring_header(h_);
  const uint64_t tail = r->tail.load(std::memory_order_acquire);
  return used(r->head.load(std::memory_order_acquire), tail) > capacity_;
}

// --- Pool ---------------------------------------------------------------------------
bool Pool::alloc(ChunkRef& out) {
  // The lowest free chunk: the chunks in use stay few and low, so the memory a pool
  // touches is what its peak of chunks in flight needs, not the whole pool.
  for (uint32_t i = 0; i < count_; ++i) {
    ChunkSlot* c = chunk_slot(chunks_, stride_, i);
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
  chunks = std::min(chunks, count_);
  if (chunks == 0) return;
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto first = reinterpret_cast<uintptr_t>(chunks_);
  const uintptr_t end = first + static_cast<uintptr_t>(stride_) * chunks;
  const uintptr_t begin = first / static_cast<uintptr_t>(page) * static_cast<uintptr_t>(page);
#ifdef MADV_POPULATE_WRITE
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)begin;
  (void)end;
#endif
}

void* Pool::data(ChunkRef ref) const {
  if (!contains(ref)) return nullptr;
  return reinterpret_cast<uint8_t*>(chunk_slot(chunks_, stride_, ref.index)) + align_up(sizeof(ChunkSlot));
}

const void* Pool::published(ChunkRef ref) const {
  if (!contains(ref)) return nullptr;
  const uint64_t w = chunk_slot(chunks_, stride_, ref.index)->word.load(std::memory_order_acquire);
  if (state_of(w) != kPublished || generation_of(w) != (ref.generation & 0x3fffffffu)) return nullptr;
  return data(ref);
}

void Pool::publish(ChunkRef ref, uint64_t holders) {
  if (!contains(ref)) return;
  ChunkSlot* c = chunk_slot(chunks_, stride_, ref.index);
  const uint64_t w = c->word.load(std::memory_order_relaxed);
  c->word.store(make_word(generation_of(w), kPublished, holders), std::memory_order_release);
}

void Pool::discard(ChunkRef ref) {
  if (!contains(ref)) return;
  ChunkSlot* c = chunk_slot(chunks_, stride_, ref.index);
  const uint64_t w = c->word.load(std::memory_order_relaxed);
  c->word.store(make_word(generation_of(w), kFree, 0), std::memory_order_release);
}

namespace {
// Clears `bit` of a published chunk's holders if `generation` matches (any generation
// when `any`); the last holder frees it, in the same atomic step. The word is shared: a
// hostile process rewriting it without pause could fail our exchange forever, so the
// tries are bounded (a legitimate race needs one retry per concurrent release).
void release_word(ChunkSlot* c, uint32_t generation, bool any, uint64_t bit) {
  uint64_t w = c->word.load(std::memory_order_acquire);
  for (int tries = 0; tries < 4096; ++tries) {
    if (state_of(w) != kPublished || (!any && generation_of(w) != generation) || (w & bit) == 0) return;
    const uint64_t holders = (w & kHolderMask) & ~bit;
    const uint64_t next = make_word(generation_of(w), holders == 0 ? kFree : kPublished, holders);
    if (c->word.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire)) return;
  }
}
}  // namespace

void Pool::release(ChunkRef ref, uint64_t bit) {
  if (!contains(ref)) return;
  release_word(chunk_slot(chunks_, stride_, ref.index), ref.generation & 0x3fffffffu, false, bit & kHolderMask);
}

void Pool::reclaim_filling() {
  for (uint32_t i = 0; i < count_; ++i) {
    ChunkSlot* c = chunk_slot(chunks_, stride_, i);
    uint64_t w = c->word.load(std::memory_order_acquire);
    if (state_of(w) == kFilling) {
      c->word.compare_exchange_strong(w, make_word(generation_of(w), kFree, 0), std::memory_order_acq_rel);
    }
  }
}

void Pool::release_all(uint64_t bit) {
  for (uint32_t i = 0; i < count_; ++i) release_word(chunk_slot(chunks_, stride_, i), 0, true, bit & kHolderMask);
}

uint32_t Pool::in_use() const {
  uint32_t n = 0;
  for (uint32_t i = 0; i < count_; ++i) {
    n += state_of(chunk_slot(chunks_, stride_, i)->word.load(std::memory_order_acquire)) != kFree ? 1 : 0;
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

bool Segment::lay_out(const SegmentPlan& plan, uint64_t limit, Layout& out) {
  out = Layout{};
  uint64_t offset = 0;
  if (!grow(offset, align_up(sizeof(SegmentHeader)), limit)) return false;
  out.doorbells_offset = offset;
  for (size_t i = 0; i < plan.doorbells.size(); ++i) {
    out.doorbells.push_back({plan.doorbells[i], offset + i * sizeof(DoorbellSlot)});
  }
  if (!grow(offset, align_up(sizeof(DoorbellSlot) * plan.doorbells.size()), limit)) return false;
  out.rings_dir = offset;
  if (!grow(offset, align_up(sizeof(RingEntryDir) * plan.rings.size()), limit)) return false;
  out.pools_dir = offset;
  if (!grow(offset, align_up(sizeof(PoolEntryDir) * plan.pools.size()), limit)) return false;
  for (const RingPlan& r : plan.rings) {
    RingLayout l;
    l.name = r.name;
    l.offset = offset;
    l.slots_offset = offset + align_up(sizeof(RingHeader));
    l.capacity = r.capacity;
    l.entry_bytes = r.entry_bytes;
    l.doorbell = ~uint32_t{0};
    for (size_t d = 0; d < plan.doorbells.size() && l.doorbell == ~uint32_t{0}; ++d) {
      if (plan.doorbells[d] == r.doorbell) l.doorbell = static_cast<uint32_t>(d);
    }
    if (l.doorbell == ~uint32_t{0} || r.capacity == 0 || r.entry_bytes == 0) return false;
    if (!grow(offset, ring_bytes(r), limit)) return false;  // < 2^64: two 32-bit factors
    out.rings.push_back(std::move(l));
  }
  for (const PoolPlan& p : plan.pools) {
    PoolLayout l;
    l.name = p.name;
    if (!grow(offset, align_up(sizeof(PoolHeader)), limit)) return false;
    l.chunks_offset = offset;
    if (p.chunk_bytes > limit) return false;  // so that the stride cannot wrap
    l.chunk_bytes = p.chunk_bytes;
    l.stride = pool_stride(p);
    l.count = p.count;
    if (p.count > 0 && l.stride > (limit - offset) / p.count) return false;
    offset += l.stride * p.count;
    out.pools.push_back(std::move(l));
  }
  out.bytes = offset;
  return true;
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
  Layout layout;
  if (!lay_out(plan, static_cast<uint64_t>(std::numeric_limits<off_t>::max()), layout)) {
    return Error{ErrorCode::kInvalidInput, "shared-memory plan: the segment would be too large"};
  }
  const uint64_t bytes = layout.bytes;
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
  // The headers are written for openers (which check them against their size); this
  // process keeps `layout` and never reads them back.
  auto* header = new (base) SegmentHeader{};
  header->version = kVersion;
  header->doorbells = static_cast<uint32_t>(plan.doorbells.size());
  header->rings = static_cast<uint32_t>(plan.rings.size());
  header->pools = static_cast<uint32_t>(plan.pools.size());
  header->bytes = bytes;
  header->doorbells_offset = layout.doorbells_offset;
  header->rings_offset = layout.rings_dir;
  header->pools_offset = layout.pools_dir;
  for (const DoorbellLayout& d : layout.doorbells) {
    auto* slot = new (at<DoorbellSlot>(base, d.offset)) DoorbellSlot{};
    copy_name(slot->name, d.name);
  }
  for (size_t i = 0; i < layout.rings.size(); ++i) {
    const RingLayout& r = layout.rings[i];
    auto* dir = at<RingEntryDir>(base, layout.rings_dir + i * sizeof(RingEntryDir));
    copy_name(dir->name, r.name);
    dir->offset = r.offset;
    auto* ring = new (at<RingHeader>(base, r.offset)) RingHeader{};
    ring->capacity = r.capacity;
    ring->entry_bytes = r.entry_bytes;
    ring->doorbell = r.doorbell;
  }
  for (size_t i = 0; i < layout.pools.size(); ++i) {
    const PoolLayout& p = layout.pools[i];
    const uint64_t offset = p.chunks_offset - align_up(sizeof(PoolHeader));
    auto* dir = at<PoolEntryDir>(base, layout.pools_dir + i * sizeof(PoolEntryDir));
    copy_name(dir->name, p.name);
    dir->offset = offset;
    auto* pool = new (at<PoolHeader>(base, offset)) PoolHeader{};
    pool->chunk_bytes = p.chunk_bytes;
    pool->stride = p.stride;
    pool->count = p.count;
    pool->index = static_cast<uint32_t>(i);
    for (uint32_t c = 0; c < p.count; ++c) new (at<ChunkSlot>(base, p.chunks_offset + p.stride * c)) ChunkSlot{};
  }
  // Last, with release order: a reader that sees the magic sees a complete layout.
  std::atomic_ref<uint64_t>(header->magic).store(kMagic, std::memory_order_release);
  return std::unique_ptr<Segment>(new Segment(path, base, bytes, true, std::move(layout)));
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
  auto fail = [&](const std::string& why) -> Error {
    ::munmap(base, bytes);
    return Error{ErrorCode::kInvalidInput, path + " " + why};
  };
  const uint64_t magic =
      std::atomic_ref<uint64_t>(static_cast<SegmentHeader*>(base)->magic).load(std::memory_order_acquire);
  SegmentHeader header;
  std::memcpy(&header, base, sizeof header);  // once: any process can write it
  if (magic != kMagic || header.version != kVersion || header.bytes != bytes) {
    return fail("is not a CoEdge shared-memory segment of this version (rebuild the worker?)");
  }
  // Read what the creator wrote, ONCE, into a plan (each read inside the file), then lay
  // that plan out as the creator did and require every stored offset to be where it says.
  const std::string bad = "has a damaged layout (written over by a process that maps it?)";
  auto inside = [&](uint64_t offset, uint64_t n) { return offset <= bytes && n <= bytes - offset; };
  if (!inside(header.doorbells_offset, uint64_t{header.doorbells} * sizeof(DoorbellSlot)) ||
      !inside(header.rings_offset, uint64_t{header.rings} * sizeof(RingEntryDir)) ||
      !inside(header.pools_offset, uint64_t{header.pools} * sizeof(PoolEntryDir))) {
    return fail(bad);
  }
  SegmentPlan plan;
  for (uint32_t i = 0; i < header.doorbells; ++i) {
    std::string name;
    if (!read_name(at<DoorbellSlot>(base, header.doorbells_offset + i * sizeof(DoorbellSlot))->name, name)) {
      return fail(bad);
    }
    plan.doorbells.push_back(std::move(name));
  }
  std::vector<uint64_t> ring_offsets, pool_offsets;
  std::vector<uint32_t> ring_bells;
  for (uint32_t i = 0; i < header.rings; ++i) {
    RingEntryDir dir;
    std::memcpy(&dir, at<RingEntryDir>(base, header.rings_offset + i * sizeof(RingEntryDir)), sizeof dir);
    RingPlan r;
    if (!read_name(dir.name, r.name) || !inside(dir.offset, sizeof(RingHeader))) return fail(bad);
    const auto* ring = at<RingHeader>(base, dir.offset);
    r.capacity = ring->capacity;
    r.entry_bytes = ring->entry_bytes;
    const uint32_t doorbell = ring->doorbell;
    if (doorbell >= plan.doorbells.size()) return fail(bad);
    r.doorbell = plan.doorbells[doorbell];
    ring_offsets.push_back(dir.offset);
    ring_bells.push_back(doorbell);
    plan.rings.push_back(std::move(r));
  }
  std::vector<uint64_t> strides;
  for (uint32_t i = 0; i < header.pools; ++i) {
    PoolEntryDir dir;
    std::memcpy(&dir, at<PoolEntryDir>(base, header.pools_offset + i * sizeof(PoolEntryDir)), sizeof dir);
    PoolPlan p;
    if (!read_name(dir.name, p.name) || !inside(dir.offset, sizeof(PoolHeader))) return fail(bad);
    const auto* pool = at<PoolHeader>(base, dir.offset);
    if (pool->index != i) return fail(bad);
    p.chunk_bytes = pool->chunk_bytes;
    p.count = pool->count;
    pool_offsets.push_back(dir.offset);
    strides.push_back(pool->stride);
    plan.pools.push_back(std::move(p));
  }
  Layout layout;
  bool same = lay_out(plan, bytes, layout) && layout.bytes == bytes &&
              layout.doorbells_offset == header.doorbells_offset && layout.rings_dir == header.rings_offset &&
              layout.pools_dir == header.pools_offset;
  for (size_t i = 0; same && i < layout.rings.size(); ++i) {
    same = layout.rings[i].offset == ring_offsets[i];
  }
  for (size_t i = 0; same && i < layout.pools.size(); ++i) {
    same = layout.pools[i].chunks_offset - align_up(sizeof(PoolHeader)) == pool_offsets[i] &&
           layout.pools[i].stride == strides[i];
  }
  // A ring's doorbell as stored must be the one its name picks (the creator refuses
  // duplicate names).
  for (size_t i = 0; same && i < layout.rings.size(); ++i) same = layout.rings[i].doorbell == ring_bells[i];
  if (!same) return fail(bad);
  return std::unique_ptr<Segment>(new Segment(path, base, bytes, false, std::move(layout)));
}

Segment::~Segment() {
  ::munmap(base_, bytes_);
  if (owner_) ::unlink(path_.c_str());
}

Result<Doorbell> Segment::doorbell(const std::string& name) const {
  for (const DoorbellLayout& d : layout_.doorbells) {
    if (d.name == name) return Doorbell(at<DoorbellSlot>(base_, d.offset));
  }
  return Error{ErrorCode::kNotFound, "shared memory has no doorbell '" + name + "'"};
}

Result<Ring> Segment::ring(const std::string& name) const {
  for (const RingLayout& r : layout_.rings) {
    if (r.name != name) continue;
    return Ring(at<RingHeader>(base_, r.offset), at<uint8_t>(base_, r.slots_offset), r.capacity, r.entry_bytes,
                Doorbell(at<DoorbellSlot>(base_, layout_.doorbells[r.doorbell].offset)));
  }
  return Error{ErrorCode::kNotFound, "shared memory has no ring '" + name + "'"};
}

Pool Segment::make_pool(uint32_t index) const {
  const PoolLayout& p = layout_.pools[index];
  return Pool(at<uint8_t>(base_, p.chunks_offset), index, p.chunk_bytes, p.stride, p.count);
}

Result<Pool> Segment::pool(const std::string& name) const {
  for (uint32_t i = 0; i < layout_.pools.size(); ++i) {
    if (layout_.pools[i].name == name) return make_pool(i);
  }
  return Error{ErrorCode::kNotFound, "shared memory has no pool '" + name + "'"};
}

Result<Pool> Segment::pool(uint32_t index) const {
  if (index >= layout_.pools.size()) {
    return Error{ErrorCode::kNotFound, "shared memory has no pool #" + std::to_string(index)};
  }
  return make_pool(index);
}

}  // namespace coedge::ipc
