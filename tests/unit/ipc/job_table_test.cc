// The job table (ipc/job_table.h): what the agent writes the server reads back whole; a
// slot overwritten kJobSlots jobs later no longer holds the old job; a slot mid-write
// (odd seq) is refused after a bounded number of tries; out-of-range and empty slots are
// refused.
#include "ipc/job_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>

namespace coedge::ipc {
namespace {

struct Memory {
  alignas(64) uint8_t bytes[JobTable::kBytes] = {};
};

TEST(JobTable, WhatIsWrittenIsReadBack) {
  auto memory = std::make_unique<Memory>();
  JobTable writer(memory->bytes);
  const JobTable reader(memory->bytes);  // another view of the same memory (the server's)
  const JobEntry e{2, 41, 1'000'000, 1'100'000};
  writer.write(7, e);
  EXPECT_EQ(reader.read(7), e);
  // Rewritten: the new entry, never a mix.
  const JobEntry f{2, 42, 1'200'000, 1'300'000};
  writer.write(7, f);
  EXPECT_EQ(reader.read(7), f);
}

TEST(JobTable, AnEmptyOrOutOfRangeSlotIsRefused) {
  auto memory = std::make_unique<Memory>();
  const JobTable table(memory->bytes);
  EXPECT_FALSE(table.read(0).has_value());               // never written
  EXPECT_FALSE(table.read(kJobSlots).has_value());       // one past the end
  EXPECT_FALSE(table.read(0xffffffffu).has_value());
}

TEST(JobTable, ASlotOverwrittenAWholeTableLaterNoLongerHoldsTheOldJob) {
  auto memory = std::make_unique<Memory>();
  JobTable table(memory->bytes);
  // The task's delivered jobs 0 .. kJobSlots: the last one reuses slot 0.
  for (uint64_t n = 0; n <= kJobSlots; ++n) table.write(job_slot(n), {1, 100 + n, 0, 0});
  const auto slot0 = table.read(job_slot(0));
  ASSERT_TRUE(slot0.has_value());
  EXPECT_EQ(slot0->job, 100u + kJobSlots);  // the old job 100 is gone: a tensor naming it is stale
  EXPECT_EQ(table.read(job_slot(1))->job, 101u);
}

TEST(JobTable, ASlotBeingWrittenIsRefusedNotWaitedFor) {
  auto memory = std::make_unique<Memory>();
  JobTable table(memory->bytes);
  table.write(3, {0, 9, 10, 20});
  auto* slots = reinterpret_cast<JobSlot*>(memory->bytes);
  // A writer stopped mid-write (or a scribbler) leaves seq odd: the reader gives up after
  // its bounded tries, it does not spin.
  slots[3].seq.store(slots[3].seq.load() + 1);
  EXPECT_FALSE(table.read(3).has_value());
  // The next write by the writer repairs the slot (the writer keeps its own seq).
  table.write(3, {0, 10, 11, 21});
  ASSERT_TRUE(table.read(3).has_value());
  EXPECT_EQ(table.read(3)->job, 10u);
}

// A forged or stale job id against the table: worker_checks_test.cc (check_tensor).

}  // namespace
}  // namespace coedge::ipc
