#include "ipc/shm_segment.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <time.h>
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
// 3: memfds mapped from each process's own plan; no directory in the segment.
constexpr uint32_t kVersion = 3;
constexpr uint64_t kAlign = 64;
// Every segment: nobody may shrink it (another process's mapping would fault: SIGBUS),
// grow it, or change its seals.
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

constexpr uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// --- The structs that live in the segment (plain, fixed layout, no pointers) --------
// Written by the creator, checked once by map(): never used to find anything.
struct SegmentHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved;
  uint64_t digest;  // SegmentPlan::digest()
  uint64_t bytes;
};

struct alignas(kAlign) DoorbellSlot {
  std::atomic<uint32_t> seq;
  std::atomic<uint32_t> waiters;
};

struct RingHeader {
  alignas(kAlign) std::atomic<uint64_t> head;  // written by the producer
  alignas(kAlign) std::atomic<uint64_t> tail;  // written by the consumer
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

// Part of the worker ABI (ipc/abi_layout.h): a built worker's SDK walks these.
static_assert(offsetof(RingHeader, head) == 0 && offsetof(RingHeader, tail) == 64 && sizeof(RingHeader) == 128);
static_assert(sizeof(ChunkSlot) == 64 && sizeof(DoorbellSlot) == 64 && offsetof(DoorbellSlot, seq) == 0 &&
              offsetof(DoorbellSlot, waiters) == 4 && sizeof(SegmentHeader) == 32);

static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free to work across processes");

uint64_t ring_bytes(const RingPlan& r) {
  return align_up(sizeof(RingHeader)) + align_up(uint64_t{r.capacity} * r.entry_bytes);
}
uint64_t pool_stride(const PoolPlan& p) { return align_up(sizeof(ChunkSlot)) + align_up(p.chunk_bytes); }

template <typename T>
T* at(void* base, uint64_t offset) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(base) + offset);
}

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

std::atomic<uint32_t>& seq_of(void* word) { return static_cast<DoorbellSlot*>(word)->seq; }
std::atomic<uint32_t>& waiters_of(void* word) { return static_cast<DoorbellSlot*>(word)->waiters; }

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  // A shared (non-private) futex: the word is in memory mapped by several processes.
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

Error io_error(const std::string& what) { return Error{ErrorCode::kIo, what + ": " + std::strerror(errno)}; }

// FNV-1a, 64 bits: enough to tell two plans apart (a skew check, not a defence).
struct Digest {
  uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<const uint8_t*>(p)[i];
      h *= 0x100000001b3ull;
    }
  }
  void u64(uint64_t v) { bytes(&v, sizeof v); }
  void text(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
};

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

Doorbell::WaitAny Doorbell::wait_any(std::span<const Doorbell> bells, std::span<const uint32_t> seen,
                                     Duration timeout, std::vector<size_t>& woke) {
  COEDGE_CHECK(bells.size() == seen.size());
#ifdef __NR_futex_waitv
  static_assert(kMaxWaitAny == FUTEX_WAITV_MAX);
  if (bells.size() > kMaxWaitAny) return WaitAny::kUnsupported;
  if (timeout <= Duration(0)) return WaitAny::kTimedOut;
  // The absolute CLOCK_MONOTONIC deadline futex_waitv takes.
  timespec deadline{};
  ::clock_gettime(CLOCK_MONOTONIC, &deadline);
  const int64_t ns = deadline.tv_nsec + static_cast<int64_t>(timeout.count() % 1000000) * 1000;
  deadline.tv_sec += static_cast<time_t>(timeout.count() / 1000000 + ns / 1000000000);
  deadline.tv_nsec = static_cast<long>(ns % 1000000000);
  futex_waitv waiters[kMaxWaitAny] = {};
  for (size_t i = 0; i < bells.size(); ++i) {
    waiters[i].val = seen[i];
    waiters[i].uaddr = reinterpret_cast<uintptr_t>(&seq_of(bells[i].word_));
    waiters[i].flags = FUTEX_32;  // FUTEX2_SIZE_U32; shared: not FUTEX2_PRIVATE
    waiters_of(bells[i].word_).fetch_add(1, std::memory_order_seq_cst);
  }
  // As in wait(): a ring after `seen` was read but before the count went up is seen here.
  bool moved = false;
  for (size_t i = 0; i < bells.size(); ++i) {
    if (seq_of(bells[i].word_).load(std::memory_order_seq_cst) != seen[i]) {
      woke.push_back(i);
      moved = true;
    }
  }
  WaitAny result = WaitAny::kWoken;
  if (!moved) {
    const long rc = syscall(__NR_futex_waitv, waiters, static_cast<unsigned>(bells.size()), 0, &deadline,
                            CLOCK_MONOTONIC);
    if (rc >= 0 && static_cast<size_t>(rc) < bells.size()) {
      woke.push_back(static_cast<size_t>(rc));
    } else if (rc < 0 && errno == ENOSYS) {
      result = WaitAny::kUnsupported;
    } else if (rc < 0 && errno == ETIMEDOUT) {
      result = WaitAny::kTimedOut;
    } else {  // EAGAIN (a value moved on the way in), EINTR: find which, if any
      for (size_t i = 0; i < bells.size(); ++i) {
        if (seq_of(bells[i].word_).load(std::memory_order_seq_cst) != seen[i]) woke.push_back(i);
      }
    }
  }
  for (size_t i = 0; i < bells.size(); ++i) waiters_of(bells[i].word_).fetch_sub(1, std::memory_order_seq_cst);
  return result;
#else
  (void)bells;
  (void)seen;
  (void)timeout;
  (void)woke;
  return WaitAny::kUnsupported;
#endif
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
  COEDGE_CHECK(writable_);
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
  COEDGE_CHECK(writable_);
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
  COEDGE_CHECK(writable_);
  if (!contains(ref)) return;
  ChunkSlot* c = chunk_slot(chunks_, stride_, ref.index);
  const uint64_t w = c->word.load(std::memory_order_relaxed);
  c->word.store(make_word(generation_of(w), kPublished, holders), std::memory_order_release);
}

void Pool::discard(ChunkRef ref) {
  COEDGE_CHECK(writable_);
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
  COEDGE_CHECK(writable_);
  if (!contains(ref)) return;
  release_word(chunk_slot(chunks_, stride_, ref.index), ref.generation & 0x3fffffffu, false, bit & kHolderMask);
}

void Pool::reclaim_filling() {
  COEDGE_CHECK(writable_);
  for (uint32_t i = 0; i < count_; ++i) {
    ChunkSlot* c = chunk_slot(chunks_, stride_, i);
    uint64_t w = c->word.load(std::memory_order_acquire);
    if (state_of(w) == kFilling) {
      c->word.compare_exchange_strong(w, make_word(generation_of(w), kFree, 0), std::memory_order_acq_rel);
    }
  }
}

void Pool::release_all(uint64_t bit) {
  COEDGE_CHECK(writable_);
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
  for (const RingPlan& r : rings) n += ring_bytes(r);
  for (const PoolPlan& p : pools) n += pool_stride(p) * p.count;
  return n;
}

uint64_t SegmentPlan::digest() const {
  Digest d;
  d.u64(kVersion);
  d.u64(doorbells.size());
  for (const std::string& b : doorbells) d.text(b);
  d.u64(rings.size());
  for (const RingPlan& r : rings) {
    d.text(r.name);
    d.u64(r.capacity);
    d.u64(r.entry_bytes);
    d.text(r.doorbell);
  }
  d.u64(pools.size());
  for (const PoolPlan& p : pools) {
    d.text(p.name);
    d.u64(p.chunk_bytes);
    d.u64(p.count);
  }
  return d.h;
}

Result<Segment::Layout> Segment::lay_out(const SegmentPlan& plan) {
  auto invalid = [](const std::string& why) { return Error{ErrorCode::kInvalidInput, "shared-memory plan: " + why}; };
  // Names are looked up whole: refuse what no lookup could tell apart.
  auto check_names = [&](const std::vector<std::string>& names, const char* kind) -> Status {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty()) return invalid(std::string("a ") + kind + " without a name");
      for (size_t k = 0; k < i; ++k) {
        if (names[k] == names[i]) return invalid(std::string(kind) + " '" + names[i] + "' twice");
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
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  const Error too_large = invalid("the segment would be too large");
  Layout out;
  uint64_t offset = 0;
  if (!grow(offset, align_up(sizeof(SegmentHeader)), limit)) return too_large;
  for (size_t i = 0; i < plan.doorbells.size(); ++i) {
    out.doorbells.push_back({plan.doorbells[i], offset + i * sizeof(DoorbellSlot)});
  }
  if (!grow(offset, align_up(sizeof(DoorbellSlot) * plan.doorbells.size()), limit)) return too_large;
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
    if (l.doorbell == ~uint32_t{0} || r.capacity == 0 || r.entry_bytes == 0) {
      return invalid("ring " + r.name + " needs a capacity, an entry size and a known doorbell");
    }
    if (!grow(offset, ring_bytes(r), limit)) return too_large;  // < 2^64: two 32-bit factors
    out.rings.push_back(std::move(l));
  }
  for (const PoolPlan& p : plan.pools) {
    PoolLayout l;
    l.name = p.name;
    l.chunks_offset = offset;
    if (p.chunk_bytes > limit) return too_large;  // so that the stride cannot wrap
    l.chunk_bytes = p.chunk_bytes;
    l.stride = pool_stride(p);
    l.count = p.count;
    if (p.count > 0 && l.stride > (limit - offset) / p.count) return too_large;
    offset += l.stride * p.count;
    out.pools.push_back(std::move(l));
  }
  out.bytes = offset;
  return out;
}

Result<std::unique_ptr<Segment>> Segment::create_sealed(const std::string& name, const SegmentPlan& plan,
                                                        Sealing sealing) {
  auto layout = lay_out(plan);
  if (!layout.ok()) return layout.error();
  const uint64_t bytes = layout->bytes;
  const std::string what = "shared memory " + name;
  const int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return io_error("cannot create " + what + " (memfd_create)");
  auto fail = [&](const std::string& why) {
    Error e = io_error(why);
    ::close(fd);
    return e;
  };
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    return fail("cannot size " + what + " (" + std::to_string(bytes) + " bytes)");
  }
  // Not populated: a node's segments are sized for every task it may run, and only the
  // chunks that are used take memory (Pool::prefault backs a task's first chunks when it
  // starts, so that its first jobs do not pay the page faults).
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail("cannot map " + what);
  // The header is written for the processes that map it (which check it once); nobody
  // reads a layout from here. A fresh memfd is zeros: the doorbells, ring indices and
  // chunk words start at 0, free, generation 0.
  auto* header = new (base) SegmentHeader{};
  header->magic = kMagic;
  header->version = kVersion;
  header->digest = plan.digest();
  header->bytes = bytes;
  for (const DoorbellLayout& d : layout->doorbells) new (at<DoorbellSlot>(base, d.offset)) DoorbellSlot{};
  for (const RingLayout& r : layout->rings) new (at<RingHeader>(base, r.offset)) RingHeader{};
  // Sealed after this process mapped it writable: a future-write seal leaves that mapping
  // writable and forbids every new one (and write(), and mprotect to writable).
  const int seals = kSeals | (sealing == Sealing::kWriterOnly ? F_SEAL_FUTURE_WRITE : 0);
  if (::fcntl(fd, F_ADD_SEALS, seals) != 0) {
    Error e = io_error("cannot seal " + what);
    ::munmap(base, bytes);
    ::close(fd);
    return e;
  }
  return std::unique_ptr<Segment>(new Segment(fd, base, bytes, false, std::move(*layout)));
}

Result<std::unique_ptr<Segment>> Segment::map(int fd, const SegmentPlan& plan, Access access) {
  const std::string what = "shared memory (descriptor " + std::to_string(fd) + ")";
  auto invalid = [&](const std::string& why) { return Error{ErrorCode::kInvalidInput, what + ": " + why}; };
  auto layout = lay_out(plan);
  if (!layout.ok()) return invalid(layout.error().message);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("cannot use " + what);
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kSeals) != kSeals) {
    return invalid("not a sealed CoEdge segment (seals " + std::to_string(seals) + ", need " +
                   std::to_string(kSeals) + ")");
  }
  if (static_cast<uint64_t>(st.st_size) != layout->bytes) {
    return invalid("has " + std::to_string(st.st_size) + " bytes where this process's plan makes " +
                   std::to_string(layout->bytes) + " (built from another version or plan? rebuild it)");
  }
  const bool read_only = access == Access::kReadOnly;
  // Not populated: this process touches only its own parts (a minor fault per page, once).
  void* base = ::mmap(nullptr, layout->bytes, read_only ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return io_error("cannot map " + what + (read_only ? " read-only" : " read-write"));
  SegmentHeader header;
  std::memcpy(&header, base, sizeof header);  // once, only to compare
  if (header.magic != kMagic || header.version != kVersion || header.digest != plan.digest() ||
      header.bytes != layout->bytes) {
    ::munmap(base, layout->bytes);
    return invalid(header.magic != kMagic ? "not a CoEdge segment"
                   : header.version != kVersion
                       ? "a segment of format " + std::to_string(header.version) + ", this process speaks " +
                             std::to_string(kVersion) + " (rebuild it against this CoEdge)"
                       : "made from another plan (digest " + std::to_string(header.digest) + ", this process's " +
                             std::to_string(plan.digest()) +
                             "): the creator and this process disagree on the node's tasks or sizes");
  }
  return std::unique_ptr<Segment>(new Segment(-1, base, layout->bytes, read_only, std::move(*layout)));
}

Segment::~Segment() {
  ::munmap(base_, bytes_);
  if (fd_ >= 0) ::close(fd_);
}

Result<Doorbell> Segment::doorbell(const std::string& name) const {
  for (const DoorbellLayout& d : layout_.doorbells) {
    if (d.name != name) continue;
    if (read_only_) break;
    return Doorbell(at<DoorbellSlot>(base_, d.offset));
  }
  return Error{ErrorCode::kNotFound, std::string("shared memory has no ") + (read_only_ ? "writable " : "") +
                                         "doorbell '" + name + "'"};
}

Result<Ring> Segment::ring(const std::string& name) const {
  for (const RingLayout& r : layout_.rings) {
    if (r.name != name) continue;
    if (read_only_) break;
    return Ring(at<RingHeader>(base_, r.offset), at<uint8_t>(base_, r.slots_offset), r.capacity, r.entry_bytes,
                Doorbell(at<DoorbellSlot>(base_, layout_.doorbells[r.doorbell].offset)));
  }
  return Error{ErrorCode::kNotFound,
               std::string("shared memory has no ") + (read_only_ ? "writable " : "") + "ring '" + name + "'"};
}

Pool Segment::make_pool(uint32_t index) const {
  const PoolLayout& p = layout_.pools[index];
  return Pool(at<uint8_t>(base_, p.chunks_offset), index, p.chunk_bytes, p.stride, p.count, !read_only_);
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
