#include "ipc/job_table.h"

#include <cstdint>

#include "core/result.h"

namespace coedge::ipc {

JobTable::JobTable(void* memory) : slots_(static_cast<JobSlot*>(memory)) {
  COEDGE_CHECK(memory != nullptr && reinterpret_cast<uintptr_t>(memory) % 64 == 0);
}

void JobTable::write(uint32_t slot, const JobEntry& entry) {
  COEDGE_CHECK(slot < kJobSlots);
  JobSlot& s = slots_[slot];
  const uint32_t begin = written_[slot] + 1;  // odd: readers refuse the slot meanwhile
  // No fences (ThreadSanitizer cannot see them): the fields are stored with release, so a
  // reader whose acquire load sees any new field also sees the odd sequence stored before
  // it, and refuses what it read (Boehm, "Can seqlocks get along with programming language
  // memory models?", 2012).
  s.seq.store(begin, std::memory_order_relaxed);
  s.task.store(entry.task, std::memory_order_release);
  s.job.store(entry.job, std::memory_order_release);
  s.release_us.store(entry.release_us, std::memory_order_release);
  s.deadline_us.store(entry.deadline_us, std::memory_order_release);
  written_[slot] = begin + 1;
  s.seq.store(begin + 1, std::memory_order_release);
}

std::optional<JobEntry> JobTable::read(uint32_t slot) const {
  if (slot >= kJobSlots) return std::nullopt;
  const JobSlot& s = slots_[slot];
  for (int attempt = 0; attempt < kReadTries; ++attempt) {
    const uint32_t before = s.seq.load(std::memory_order_acquire);
    if (before == 0) return std::nullopt;  // never written
    if (before % 2 != 0) continue;          // being written
    JobEntry e;
    e.task = s.task.load(std::memory_order_acquire);
    e.job = s.job.load(std::memory_order_acquire);
    e.release_us = s.release_us.load(std::memory_order_acquire);
    e.deadline_us = s.deadline_us.load(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) == before) return e;
  }
  return std::nullopt;
}

}  // namespace coedge::ipc
