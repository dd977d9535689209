// The node's shared-memory transport: one segment (a file in the node's private
// /dev/shm, mapped by the agent, the inference server and every worker) holding
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
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
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
};

class Segment;

class Doorbell {
 public:
  uint32_t value() const;  // read this, check for work, then wait(seen)
  // Sleeps until rung after `seen` was read, or `timeout` passes. Spurious wake-ups
  // are possible: callers re-check their rings.
  void wait(uint32_t seen, Duration timeout);
  void ring();

 private:
  friend class Segment;
  explicit Doorbell(void* word) : word_(word) {}
  void* word_;
};

class Ring {
 public:
  // False when the ring is full (the consumer is behind).
  bool push(const void* entry);
  // The oldest entry, or nullptr when empty. It stays until commit().
  const void* peek() const;
  void commit();
  size_t size() const;
  uint32_t entry_bytes() const;
  // Consumer side, for reclaiming after the consumer died: calls `f` on every entry not
  // committed, then commits them all. REQUIRES: the consumer is not running.
  template <typename F>
  void drain(F f) {
    while (const void* e = peek()) {
      f(e);
      commit();
    }
  }

 private:
  friend class Segment;
  Ring(void* header, Doorbell doorbell) : h_(header), doorbell_(doorbell) {}
  void* h_;
  Doorbell doorbell_;
};

class Pool {
 public:
  // A free chunk for the producer to fill, or nullopt-like {false} when all are in use.
  bool alloc(ChunkRef& out);
  void* data(ChunkRef ref) const;  // the chunk's payload
  uint64_t chunk_bytes() const;
  uint32_t count() const;
  uint32_t pool_index() const { return index_; }
  // Hands the chunk to consumers: each bit of `holders` is one consumer that must
  // release it. REQUIRES holders != 0 and fits in kMaxHolders bits.
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
  Pool(void* header, uint32_t index) : h_(header), index_(index) {}
  void* h_;
  uint32_t index_;
};

class Segment {
 public:
  // Creates the segment file (replacing a stale one) and lays it out. Errors name the
  // path and errno text, or a name that is empty, too long (63 bytes at most) or twice
  // in the plan.
  static Result<std::unique_ptr<Segment>> create(const std::string& path, const SegmentPlan& plan);
  // Maps an existing segment. Errors: missing, not a CoEdge segment, other version.
  static Result<std::unique_ptr<Segment>> open(const std::string& path);
  ~Segment();  // unmaps; the creator also removes the file
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // By name; errors name what is missing (a plan mismatch between processes).
  Result<Ring> ring(const std::string& name) const;
  Result<Pool> pool(const std::string& name) const;
  Result<Pool> pool(uint32_t index) const;
  Result<Doorbell> doorbell(const std::string& name) const;

 private:
  Segment(std::string path, void* base, uint64_t bytes, bool owner)
      : path_(std::move(path)), base_(base), bytes_(bytes), owner_(owner) {}
  std::string path_;
  void* base_;
  uint64_t bytes_;
  bool owner_;
};

}  // namespace coedge::ipc
