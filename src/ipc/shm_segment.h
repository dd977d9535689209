// The node's shared-memory transport: segments (sealed in-memory files, memfds, handed
// to other processes as descriptors, never as paths) holding
//  - pools of fixed-size chunks, each pool written by exactly one producer process;
//  - single-producer single-consumer rings of fixed-size entries (a chunk reference,
//    or a small message such as a job event);
//  - doorbells: one futex word per consumer process, rung by its producers.
// A frame or tensor is written once into a chunk; only 8-byte references move through
// the rings. Nothing here takes a lock, so a process that dies at any instruction can
// block no other (iceoryx 2.0 can: docs/ARCHITECTURE.md, "Why not iceoryx"). What a dead
// process held is reclaimed by idempotent operations: a chunk carries a bit mask of the
// consumers that still hold it; a consumer releases its bit only after it is done and
// before it commits the ring entry, so re-releasing every entry a dead consumer had not
// committed is always correct; a restarted producer frees the chunks its predecessor
// was still filling.
//
// Each chunk's state (free, filling, published), its holder bits and its generation share
// one 64-bit word that changes only by single atomic operations, so no process can die
// half-way through a change. One narrow gap remains: a producer killed between
// publishing a chunk and pushing its reference leaks that chunk until a consumer-side
// release_all() (the restarted server does that for tensors).
//
// Data lives in plain structs in the segment (shm_layout in the .cc); the classes here
// are thin views. Thread-safety: a Ring has one producer thread and one consumer thread
// (any processes); a Pool's alloc() is called by one producer thread; release() by any.
//
// Trust: workers are untrusted (DESIGN.md, "Trust boundaries"), and a process that maps
// a segment read-write can write all of it. So the node has several segments (which
// process maps which: ipc/node_topology.h), and no layout is ever read from shared
// memory: every process computes where each doorbell, ring and pool lies — a ring's
// capacity and entry size, a pool's chunk size, stride and count — from the plan it
// knows (Segment::lay_out), the creator and every process that maps it alike. map()
// checks, once, that the descriptor is what that plan makes: its size, its seals, and a
// header {magic, version, plan digest} that turns a version or plan skew into a clear
// error (the digest is compared, never used to find anything). Ring and Pool views carry
// their copy of the layout. The seals (create_sealed) forbid shrinking or growing the
// file, so no process can make another's mapping fault (SIGBUS); a kWriterOnly segment
// is also sealed against every new writable mapping, write() and mprotect(PROT_WRITE)
// once its creator has mapped it, so a process given it can only read it, even one that
// reopens /proc/self/fd/N for writing. What stays shared is only what changes: a ring's
// head and tail, each chunk's state word, the doorbells. Each value read from there is
// checked against the copied layout before use:
//  - a chunk reference is used only if it names this pool and a chunk below its count
//    (data() returns nullptr otherwise; publish/discard/release do nothing);
//  - a ring whose indices disagree (head - tail > capacity: one side wrote nonsense) is
//    CORRUPT: it reads as empty to its consumer and as full to its producer, so no slot
//    outside it is touched and no loop runs away; corrupt() says so and corruptions()
//    counts the episodes this view saw. Nothing here repairs it (neither side may write
//    the other's index): it stays refused while the indices disagree, and what was in
//    it is lost like the work of a dead worker — the agent closes those jobs at their
//    deadlines, counted, never a crash;
//  - a slot's position is taken modulo the copied capacity, so any index in range
//    addresses a slot of this ring; drain() visits at most what was there when it began.
// Entry and chunk CONTENTS are the callers' to check (node_topology.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge::ipc {

// A chunk, as one publication of it: `generation` changes every time the producer takes
// the chunk again, so a stale reference (an entry a dead consumer left in its ring,
// re-released after the chunk was reused) releases nothing.
struct ChunkRef {
  uint32_t pool = 0;
  uint32_t index = 0;
  uint32_t generation = 0;
  uint32_t reserved = 0;
};

// Holder masks have one bit per consumer of a chunk: at most this many.
inline constexpr int kMaxHolders = 32;

struct RingPlan {
  std::string name;
  uint32_t capacity = 64;  // entries
  uint32_t entry_bytes = sizeof(ChunkRef);
  std::string doorbell;    // the consumer's doorbell, rung on every push
};

struct PoolPlan {
  std::string name;
  uint64_t chunk_bytes = 0;  // payload bytes per chunk
  uint32_t count = 0;
};

struct SegmentPlan {
  std::vector<std::string> doorbells;
  std::vector<RingPlan> rings;
  std::vector<PoolPlan> pools;
  uint64_t bytes() const;  // the segment's size
  // Of everything above and the segment format's version: two processes with the same
  // digest lay the segment out the same way.
  uint64_t digest() const;
};

// How a process maps a segment.
enum class Access : uint8_t { kReadWrite, kReadOnly };
// Who may write a segment once it exists: every process given it (kShared), or only its
// creator (kWriterOnly: sealed F_SEAL_FUTURE_WRITE after the creator mapped it).
enum class Sealing : uint8_t { kShared, kWriterOnly };

class Segment;

class Doorbell {
 public:
  uint32_t value() const;  // read this, check for work, then wait(seen)
  // Sleeps until rung after `seen` was read, or `timeout` passes. Spurious wake-ups
  // are possible: callers re-check their rings.
  void wait(uint32_t seen, Duration timeout);
  void ring();

  // Sleeps until one of `bells` is rung after its `seen` value was read, or `timeout`
  // passes (futex_waitv, Linux 5.16+). Appends to `woke` the index of each bell that
  // woke it or whose value no longer is its `seen`. kUnsupported (nothing waited): more
  // than kMaxWaitAny bells, or a kernel without futex_waitv. REQUIRES: bells.size() ==
  // seen.size().
  enum class WaitAny : uint8_t { kWoken, kTimedOut, kUnsupported };
  static constexpr size_t kMaxWaitAny = 128;
  static WaitAny wait_any(std::span<const Doorbell> bells, std::span<const uint32_t> seen, Duration timeout,
                          std::vector<size_t>& woke);

 private:
  friend class Segment;
  explicit Doorbell(void* word) : word_(word) {}
  void* word_;
};

class Ring {
 public:
  // False when the ring is full (the consumer is behind) or corrupt.
  bool push(const void* entry);
  // The oldest entry, or nullptr when empty (or corrupt). It stays until commit(). The
  // pointer is to entry_bytes() bytes of shared memory: copy it before checking it.
  const void* peek() const;
  // Consumes the oldest entry; nothing when the ring is empty or corrupt.
  void commit();
  size_t size() const;  // 0 when corrupt
  uint32_t entry_bytes() const { return entry_bytes_; }
  uint32_t capacity() const { return capacity_; }
  // True when the indices in shared memory are inconsistent (see the contract above).
  bool corrupt() const;
  // How many times this view found the ring corrupt after finding it sound (an episode
  // counts once). Not shared: each process counts what it saw.
  uint64_t corruptions() const { return corruptions_; }
  // Consumer side, for reclaiming after the consumer died: calls `f` on every entry not
  // committed when it starts (never more than the capacity, however fast a producer
  // pushes), then commits them. REQUIRES: the consumer is not running.
  template <typename F>
  void drain(F f) {
    for (size_t n = size(); n > 0; --n) {
      const void* e = peek();
      if (e == nullptr) break;
      f(e);
      commit();
    }
  }

 private:
  friend class Segment;
  Ring(void* header, uint8_t* slots, uint32_t capacity, uint32_t entry_bytes, Doorbell doorbell)
      : h_(header), slots_(slots), capacity_(capacity), entry_bytes_(entry_bytes), doorbell_(doorbell) {}
  // Entries in the ring per its indices, or nullopt-like ~0 when they are inconsistent
  // (then counts the episode).
  uint64_t used(uint64_t head, uint64_t tail) const;
  void* h_;          // the shared indices
  uint8_t* slots_;   // the first slot; layout below is the Segment's copy
  uint32_t capacity_;
  uint32_t entry_bytes_;
  Doorbell doorbell_;
  mutable bool corrupt_ = false;
  mutable uint64_t corruptions_ = 0;
};

class Pool {
 public:
  // A free chunk for the producer to fill, or nullopt-like {false} when all are in use.
  bool alloc(ChunkRef& out);
  // True when `ref` names a chunk of this pool (its pool index, a chunk below count()).
  bool contains(ChunkRef ref) const { return ref.pool == index_ && ref.index < count_; }
  // The chunk's payload (chunk_bytes() bytes), or nullptr when !contains(ref).
  void* data(ChunkRef ref) const;
  // For a consumer of untrusted references: the payload only when `ref` names a chunk of
  // this pool that is published, in ref's generation (the publication the producer
  // pushed); nullptr otherwise. The state is read once, here: the caller copies what it
  // reads and checks the copy (the producer may still write the chunk).
  const void* published(ChunkRef ref) const;
  uint64_t chunk_bytes() const { return chunk_bytes_; }
  uint32_t count() const { return count_; }
  uint32_t pool_index() const { return index_; }
  // Hands the chunk to consumers: each bit of `holders` is one consumer that must
  // release it. REQUIRES holders != 0 and fits in kMaxHolders bits. Like discard() and
  // release(), does nothing when !contains(ref).
  void publish(ChunkRef ref, uint64_t holders);
  // Gives back a chunk being filled, without publishing it (the producer's own).
  void discard(ChunkRef ref);
  // Consumer `bit` is done with this publication; the last one frees the chunk.
  // Idempotent, and a no-op for a reference to an earlier publication.
  void release(ChunkRef ref, uint64_t bit);
  // For a restarted producer: frees every chunk its predecessor was still filling.
  void reclaim_filling();
  // For a dead consumer that held chunks outside any ring (the server's queue): releases
  // `bit` on every published chunk.
  void release_all(uint64_t bit);
  uint32_t in_use() const;  // chunks not free (filling or published)
  // Backs the first `chunks` chunks with memory now (the segment is mapped without it, so
  // that a node holds memory only for the chunks its tasks use; alloc() takes the lowest
  // free chunk, so a task in steady state cycles through the first few). Without it the
  // first write to each page costs a fault, in the middle of a job. Best effort: a kernel
  // without MADV_POPULATE_WRITE (before 5.14) faults lazily.
  void prefault(uint32_t chunks);

 private:
  friend class Segment;
  Pool(uint8_t* chunks, uint32_t index, uint64_t chunk_bytes, uint64_t stride, uint32_t count, bool writable)
      : chunks_(chunks), index_(index), chunk_bytes_(chunk_bytes), stride_(stride), count_(count),
        writable_(writable) {}
  uint8_t* chunks_;  // the first chunk's slot; the rest is the Segment's copy of the layout
  uint32_t index_;
  uint64_t chunk_bytes_;
  uint64_t stride_;  // slot header + payload
  uint32_t count_;
  bool writable_;  // false in a read-only mapping: the changing calls are bugs there
};

class Segment {
 public:
  // Creates an in-memory file (memfd `name`, close-on-exec), sizes and lays it out from
  // `plan`, maps it read-write and seals it (no shrink, no grow, no further seals; and,
  // kWriterOnly, no new writable mapping). Errors: a plan with an empty or duplicate
  // name, a ring without capacity, entry size or known doorbell, a segment too large;
  // or the system call that failed, with its errno text.
  static Result<std::unique_ptr<Segment>> create_sealed(const std::string& name, const SegmentPlan& plan,
                                                        Sealing sealing = Sealing::kShared);
  // Maps the segment another process created from `plan` and handed over as `fd` (not
  // taken: the caller keeps or closes it). The layout is this process's, from `plan`;
  // nothing is read from the segment but its header, once, to check it. Errors (naming
  // the descriptor): not a sealed memfd, a size other than plan.bytes(), or a header of
  // another version or plan (version skew: rebuild the worker).
  static Result<std::unique_ptr<Segment>> map(int fd, const SegmentPlan& plan, Access access);
  ~Segment();  // unmaps; the creator also closes its descriptor
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // The creator's descriptor, to hand to other processes; -1 in a process that map()ped.
  int fd() const { return fd_; }
  bool read_only() const { return read_only_; }

  // By name; errors name what is missing (a plan mismatch between processes). From the
  // layout of this process's plan, never from shared memory. A read-only segment has no
  // ring or doorbell to give (both are written by every user).
  Result<Ring> ring(const std::string& name) const;
  Result<Pool> pool(const std::string& name) const;
  Result<Pool> pool(uint32_t index) const;
  Result<Doorbell> doorbell(const std::string& name) const;
  uint32_t pool_count() const { return static_cast<uint32_t>(layout_.pools.size()); }

 private:
  // The layout, this process's own copy (offsets from the segment's start).
  struct RingLayout {
    std::string name;
    uint64_t offset = 0;  // its header; the slots follow
    uint64_t slots_offset = 0;
    uint32_t capacity = 0;
    uint32_t entry_bytes = 0;
    uint32_t doorbell = 0;  // index into doorbells
  };
  struct PoolLayout {
    std::string name;
    uint64_t chunks_offset = 0;  // the first chunk's slot
    uint64_t chunk_bytes = 0;
    uint64_t stride = 0;
    uint32_t count = 0;
  };
  struct DoorbellLayout {
    std::string name;
    uint64_t offset = 0;
  };
  struct Layout {
    uint64_t bytes = 0;  // the whole segment
    std::vector<DoorbellLayout> doorbells;
    std::vector<RingLayout> rings;
    std::vector<PoolLayout> pools;
  };
  // Where everything of a segment made from `plan` lies (the one place that decides it,
  // for the creator and every process that maps it). An error for a plan that cannot
  // be laid out (see create_sealed).
  static Result<Layout> lay_out(const SegmentPlan& plan);
  Segment(int fd, void* base, uint64_t bytes, bool read_only, Layout layout)
      : fd_(fd), base_(base), bytes_(bytes), read_only_(read_only), layout_(std::move(layout)) {}
  Pool make_pool(uint32_t index) const;
  int fd_;  // owned: the creator's; -1 otherwise
  void* base_;
  uint64_t bytes_;
  bool read_only_;
  Layout layout_;
};

}  // namespace coedge::ipc
