// Tests of ipc/bell_waiter.h: BellFloodGuard on a manual clock (which bell floods, for how
// long it is left out, that work never hides a flood), and BellWaiter over real doorbells:
// a ring wakes it and names its task, its own bell wakes it and names none, a bell a
// "worker" keeps changing is demoted after the flood limit and the wait no longer returns
// at once for it, while another task's ring still wakes it.
#include "ipc/bell_waiter.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace coedge::ipc {
namespace {

using namespace std::chrono_literals;

TimePoint at_ms(int64_t ms) { return TimePoint{} + std::chrono::milliseconds(ms + 1000); }

TEST(BellFloodGuard, ManyEmptyWakesWithinTheWindowDemoteTheBellForAWhile) {
  BellFloodGuard guard(2, {});  // 200 empty wakes per 100 ms, 100 ms out
  for (int i = 0; i < 200; ++i) EXPECT_FALSE(guard.on_wake(0, false, at_ms(i / 4))) << i;
  EXPECT_FALSE(guard.demoted(0, at_ms(50)));
  EXPECT_TRUE(guard.on_wake(0, false, at_ms(50))) << "the 201st empty wake within 100 ms";
  EXPECT_EQ(guard.floods(0), 1u);
  EXPECT_TRUE(guard.demoted(0, at_ms(50)));
  EXPECT_TRUE(guard.demoted(0, at_ms(149)));
  EXPECT_FALSE(guard.demoted(0, at_ms(150)));
  EXPECT_FALSE(guard.demoted(1, at_ms(50))) << "another bell is not touched";
  EXPECT_EQ(guard.floods(1), 0u);
  // Still flooding after the demotion: demoted again, counted again.
  bool again = false;
  for (int i = 0; i < 201 && !again; ++i) again = guard.on_wake(0, false, at_ms(151));
  EXPECT_TRUE(again);
  EXPECT_EQ(guard.floods(0), 2u);
}

TEST(BellFloodGuard, EmptyWakesSpreadOverTimeAreNoFlood) {
  BellFloodGuard guard(1, {});
  // 150 empty wakes every 100 ms (1500/s: far above an honest task's races), for 10 s.
  for (int ms = 0; ms < 10000; ++ms) {
    for (int k = 0; k < (ms % 2 == 0 ? 2 : 1); ++k) EXPECT_FALSE(guard.on_wake(0, false, at_ms(ms))) << ms;
  }
  EXPECT_EQ(guard.floods(0), 0u);
}

TEST(BellFloodGuard, WakesWithWorkNeitherCountNorHideAFlood) {
  BellFloodGuard guard(1, {});
  for (int i = 0; i < 10000; ++i) EXPECT_FALSE(guard.on_wake(0, true, at_ms(0)));  // a busy, honest task
  int demoted_at = -1;
  for (int i = 0; i < 400 && demoted_at < 0; ++i) {
    guard.on_wake(0, true, at_ms(10));  // one real message between each empty wake
    if (guard.on_wake(0, false, at_ms(10))) demoted_at = i;
  }
  EXPECT_EQ(demoted_at, 200);
}

TEST(BellFloodGuard, OptionsAreHonoured) {
  BellFloodGuard guard(1, {3, std::chrono::milliseconds(10), std::chrono::milliseconds(5)});
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(guard.on_wake(0, false, at_ms(0)));
  EXPECT_TRUE(guard.on_wake(0, false, at_ms(0)));
  EXPECT_TRUE(guard.demoted(0, at_ms(4)));
  EXPECT_FALSE(guard.demoted(0, at_ms(5)));
  // A new window: the count starts again.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(guard.on_wake(0, false, at_ms(20)));
}

class BellWaiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SegmentPlan plan;
    plan.doorbells = {"own", "t0", "t1"};
    auto s = Segment::create_sealed("coedge-test-bells", plan);
    ASSERT_TRUE(s.ok()) << s.error().message;
    segment_ = std::move(*s);
  }
  Doorbell bell(const char* name) { return *segment_->doorbell(name); }
  std::unique_ptr<Segment> segment_;
};

TEST_F(BellWaiterTest, ARingAfterArmEndsTheWaitAndNamesItsTask) {
  BellWaiter waiter(bell("own"), {bell("t0"), bell("t1")}, "test");
  waiter.arm();
  bell("t1").ring();
  waiter.wait(std::chrono::hours(1), at_ms(0));
  ASSERT_FALSE(waiter.fallback()) << "this kernel has futex_waitv (Linux 5.16+)";
  EXPECT_EQ(waiter.woken(), std::vector<uint32_t>{1});
  waiter.arm();
  bell("own").ring();
  waiter.wait(std::chrono::hours(1), at_ms(0));
  EXPECT_TRUE(waiter.woken().empty()) << "the own bell is not a task's";
  waiter.arm();
  waiter.wait(std::chrono::milliseconds(5), at_ms(0));
  EXPECT_TRUE(waiter.woken().empty()) << "a timeout";
}

TEST_F(BellWaiterTest, ARingFromAnotherThreadWakesASleepingWaiter) {
  BellWaiter waiter(bell("own"), {bell("t0"), bell("t1")}, "test");
  waiter.arm();
  auto done = std::async(std::launch::async, [&] { waiter.wait(std::chrono::seconds(60), at_ms(0)); });
  std::this_thread::sleep_for(20ms);  // likely asleep by now (not required)
  bell("t0").ring();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(waiter.woken(), std::vector<uint32_t>{0});
}

// A FUTEX_WAKE on a task's bell word without changing it (what a hostile worker can do
// through its own mapping) is attributed to that task, too.
TEST_F(BellWaiterTest, ABareFutexWakeIsAttributedToItsBell) {
  BellWaiter waiter(bell("own"), {bell("t0"), bell("t1")}, "test");
  // "t1"'s word: after the 64-byte header and two 64-byte doorbells (shm_segment.cc).
  void* raw = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, segment_->fd(), 0);
  ASSERT_NE(raw, MAP_FAILED);
  auto* word = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(raw) + 64 + 2 * 64);
  const uint32_t before = bell("t1").value();
  bell("t1").ring();
  ASSERT_EQ(*word, before + 1) << "the offset of t1's word";
  waiter.arm();
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop.load()) {
      syscall(SYS_futex, word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
      std::this_thread::sleep_for(1ms);
    }
  });
  waiter.wait(std::chrono::seconds(60), at_ms(0));
  stop = true;
  worker.join();
  EXPECT_EQ(waiter.woken(), std::vector<uint32_t>{1});
  ::munmap(raw, 4096);
}

// A task bell changed in a loop: every wait returns at once and finds no work, until the
// guard demotes the bell; then the waits sleep (up to the cap) and only the other task's
// ring or the timeout ends them.
TEST_F(BellWaiterTest, AFloodingBellIsLeftOutOfTheWaitOnceDemoted) {
  BellWaiter waiter(bell("own"), {bell("t0"), bell("t1")}, "test");
  std::atomic<bool> stop{false};
  std::thread flood([&, b = bell("t0")]() mutable {
    while (!stop.load()) b.ring();
  });
  int flood_wakes = 0;
  bool demoted = false;
  for (int i = 0; i < 100000 && !demoted; ++i) {
    waiter.arm();
    waiter.wait(std::chrono::seconds(60), at_ms(0));
    for (uint32_t t : waiter.woken()) {
      if (t == 0) ++flood_wakes;
      if (waiter.settle(t, false, at_ms(0))) demoted = t == 0;
    }
  }
  ASSERT_TRUE(demoted);
  EXPECT_EQ(flood_wakes, 201);
  EXPECT_EQ(waiter.floods(0), 1u);
  EXPECT_EQ(waiter.floods(1), 0u);
  // Demoted (at the guard's time 0, for 100 ms): the flood no longer ends a wait.
  waiter.arm();
  waiter.wait(std::chrono::seconds(60), at_ms(1));
  EXPECT_TRUE(waiter.woken().empty()) << "returned by the 10 ms cap, not by the flooding bell";
  waiter.arm();
  bell("t1").ring();
  waiter.wait(std::chrono::seconds(60), at_ms(2));
  EXPECT_EQ(waiter.woken(), std::vector<uint32_t>{1});
  // After the demotion the bell is in the set again.
  waiter.arm();
  waiter.wait(std::chrono::seconds(60), at_ms(200));
  EXPECT_EQ(waiter.woken(), std::vector<uint32_t>{0});
  stop = true;
  flood.join();
}

}  // namespace
}  // namespace coedge::ipc
