// The job table: where the server learns a job's release time and deadline. Per task, a
// fixed array of kJobSlots seqlock slots {seq, task, job, release_us, deadline_us}, written
// by the agent (the task's sensor thread, in publish_frame, before it pushes the job's
// FrameTicket) and read by the server, which finds a tensor's job at the slot the
// TensorHeader names (copied from the ticket). The slot of a job is its task's own count
// of delivered jobs mod kJobSlots, so a slot is rewritten only kJobSlots deliveries later,
// long after its job left the pipeline (the assert below).
//
// Why a table: a TensorHeader is written by the task's untrusted pre worker, so the
// server must not take deadlines from it (a task could give itself earlier ones). The
// table lives in memory workers never map (the node's control region); the ledger stays
// the truth for accounting.
//
// Concurrency: one writer per table (its task's sensor thread), any number of readers.
// The writer keeps its own sequence numbers (it never reads seq back from shared memory),
// so a scribbled word cannot make it loop. A reader copies a slot, re-checks seq and
// retries at most kReadTries times in all, then refuses (nullopt): it never loops. Memory:
// JobTable::kBytes at a 64-byte aligned address, zero-filled at creation (all slots empty).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

namespace coedge::ipc {

inline constexpr uint32_t kJobSlots = 256;

// A job as the table holds it (a copy, out of shared memory).
struct JobEntry {
  uint32_t task = 0;
  uint64_t job = 0;
  int64_t release_us = 0;
  int64_t deadline_us = 0;
  bool operator==(const JobEntry&) const = default;
};

// The slot as it lies in shared memory (32 bytes). Every field is an atomic so that a
// reader racing the writer reads some values (then refused by seq), never undefined ones.
struct JobSlot {
  std::atomic<uint32_t> seq;  // odd while being written
  std::atomic<uint32_t> task;
  std::atomic<uint64_t> job;
  std::atomic<int64_t> release_us;
  std::atomic<int64_t> deadline_us;
};
static_assert(sizeof(JobSlot) == 32);
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<int64_t>::is_always_lock_free);

class JobTable {
 public:
  static constexpr uint64_t kBytes = sizeof(JobSlot) * kJobSlots;
  static constexpr int kReadTries = 3;  // the first read and at most 2 retries

  // A view of the table at `memory` (kBytes, 64-byte aligned). REQUIRES: memory outlives it.
  explicit JobTable(void* memory);

  // Writer (one thread): stores `entry` into `slot` (< kJobSlots; COEDGE_CHECKed).
  void write(uint32_t slot, const JobEntry& entry);
  // Reader: a consistent copy of `slot`, or nullopt when the slot is out of range, empty
  // (never written), or was being written on every try (torn).
  std::optional<JobEntry> read(uint32_t slot) const;

 private:
  JobSlot* slots_;
  std::array<uint32_t, kJobSlots> written_{};  // the writer's own seq per slot (even)
};

// The slot of a task's n-th delivered job (n counts from 0).
constexpr uint32_t job_slot(uint64_t delivered) { return static_cast<uint32_t>(delivered % kJobSlots); }

}  // namespace coedge::ipc
