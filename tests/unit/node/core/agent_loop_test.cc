// The node agent's loop core on a manual clock: the sweep (first at the start, then a
// sweep period after each sweep; the expiry grace), progress lines on a grid from the
// start (a late tick catches up one line per tick), crashes every crash_every and none
// from start + crash_for on (crash_for 0: the whole run), the stop (the duration, a
// requested stop, idempotent, and one before the first tick), the drain (timed from the
// tick after stop_sources; ends at the first tick with no open job, or at its deadline
// with jobs open), finish reported once, and wake_at never later than the next due action
// (a randomized run that never ticks past wake_at sees every action exactly on time), and
// a loop that fell behind is asked to tick at once only while something is still due (a
// randomized run with stalls). Nothing sleeps or reads a real clock.
#include "node/core/agent_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "core/clock.h"

namespace coedge::node {
namespace {

using namespace std::chrono_literals;

// The run starts 100 ms after the clock's origin, as the agent's does after its loop's.
constexpr Duration kLead = 100ms;

// A config where only what a test sets is due: no progress lines, no crashes, no duration.
AgentLoopConfig quiet() {
  AgentLoopConfig c;
  c.progress_every = 0s;
  c.longest_deadline = 500ms;
  return c;
}

// A core, the manual clock that drives it, and the open-job count the driver would pass.
class Loop {
 public:
  explicit Loop(AgentLoopConfig config) : start_(clock_.now() + kLead), core_(config, start_) {}

  AgentLoop& core() { return core_; }
  TimePoint start() const { return start_; }
  TimePoint now() const { return clock_.now(); }
  // Ticks at `start + t`.
  AgentActions at(Duration t, size_t open = 0) {
    clock_.set(start_ + t);
    return core_.tick(clock_.now(), open);
  }

 private:
  ManualClock clock_;
  TimePoint start_;
  AgentLoop core_;
};

bool any(const AgentActions& a) {
  return a.sweep || a.inject_crash || a.progress_line || a.stop_sources || a.finish;
}

// ---- the sweep ----

TEST(AgentLoop, NothingIsDueBeforeTheStartAndItWakesAtTheStart) {
  AgentLoopConfig c = quiet();
  c.progress_every = 10s;
  c.crash_every = 1s;
  c.duration = 60s;
  Loop loop(c);
  const AgentActions a = loop.at(-kLead);
  EXPECT_FALSE(any(a));
  EXPECT_EQ(a.wake_at, loop.start());
  EXPECT_FALSE(any(loop.at(-1us)));
  EXPECT_EQ(loop.core().phase(), AgentPhase::kRunning);
}

TEST(AgentLoop, SweepsAtTheStartThenASweepPeriodAfterEachSweep) {
  Loop loop(quiet());
  EXPECT_FALSE(loop.at(-50ms).sweep);
  AgentActions a = loop.at(0s);
  EXPECT_TRUE(a.sweep);
  EXPECT_EQ(a.wake_at, loop.start() + 1s);
  EXPECT_FALSE(loop.at(999ms).sweep);
  // A late sweep moves the next one: the cadence follows the sweeps, not a grid.
  a = loop.at(1300ms);
  EXPECT_TRUE(a.sweep);
  EXPECT_EQ(a.wake_at, loop.start() + 2300ms);
  EXPECT_FALSE(loop.at(2299ms).sweep);
  EXPECT_TRUE(loop.at(2300ms).sweep);
}

TEST(AgentLoop, SweepPeriodIsConfigurable) {
  AgentLoopConfig c = quiet();
  c.sweep_every = 250ms;
  Loop loop(c);
  EXPECT_TRUE(loop.at(0s).sweep);
  EXPECT_FALSE(loop.at(249ms).sweep);
  EXPECT_TRUE(loop.at(250ms).sweep);
}

TEST(AgentLoop, ExpiryGraceIsTwiceTheLongestDeadlineAtLeastTwoSeconds) {
  AgentLoopConfig c = quiet();
  c.longest_deadline = 300ms;
  EXPECT_EQ(Loop(c).core().expiry_grace(), Duration(2s));
  c.longest_deadline = 1s;
  EXPECT_EQ(Loop(c).core().expiry_grace(), Duration(2s));
  c.longest_deadline = 1500ms;
  EXPECT_EQ(Loop(c).core().expiry_grace(), Duration(3s));
}

// ---- progress lines ----

TEST(AgentLoop, ProgressLinesEveryPeriodFromTheStart) {
  AgentLoopConfig c = quiet();
  c.progress_every = 10s;
  Loop loop(c);
  EXPECT_FALSE(loop.at(0s).progress_line);
  EXPECT_FALSE(loop.at(9999ms).progress_line);
  AgentActions a = loop.at(10s);
  EXPECT_TRUE(a.progress_line);
  // A late line does not move the grid: the next is still at 20 s.
  a = loop.at(10700ms);
  EXPECT_FALSE(a.progress_line);
  EXPECT_TRUE(loop.at(20400ms).progress_line);
  EXPECT_FALSE(loop.at(29999ms).progress_line);
  EXPECT_TRUE(loop.at(30s).progress_line);
}

TEST(AgentLoop, ALateTickCatchesUpOneProgressLinePerTick) {
  AgentLoopConfig c = quiet();
  c.progress_every = 10s;
  Loop loop(c);
  (void)loop.at(0s);
  // The loop stalled past three lines (10, 20, 30 s): one line per tick, and until the
  // last of them is out the core wants to be called again at once.
  AgentActions a = loop.at(35s);
  EXPECT_TRUE(a.progress_line);
  EXPECT_LE(a.wake_at, loop.now());
  a = loop.at(35s);
  EXPECT_TRUE(a.progress_line);
  EXPECT_LE(a.wake_at, loop.now());
  a = loop.at(35s);
  EXPECT_TRUE(a.progress_line);
  EXPECT_GT(a.wake_at, loop.now());
  EXPECT_FALSE(loop.at(35s).progress_line);
  EXPECT_FALSE(loop.at(39999ms).progress_line);
  EXPECT_TRUE(loop.at(40s).progress_line);
}

TEST(AgentLoop, NoProgressLinesWhenTheirPeriodIsZero) {
  Loop loop(quiet());
  for (Duration t = 0s; t <= 100s; t += 500ms) ASSERT_FALSE(loop.at(t).progress_line) << to_s(t);
}

// ---- crash injection ----

TEST(AgentLoop, CrashesEveryCrashEveryAndNoneAfterCrashFor) {
  AgentLoopConfig c = quiet();
  c.crash_every = 300ms;
  c.crash_for = 1s;
  Loop loop(c);
  std::vector<Duration> crashes;
  for (Duration t = -kLead; t <= 5s; t += 10ms) {
    if (loop.at(t).inject_crash) crashes.push_back(t);
  }
  // 300, 600 and 900 ms; 1200 ms is past crash_for.
  EXPECT_EQ(crashes, (std::vector<Duration>{300ms, 600ms, 900ms}));
}

TEST(AgentLoop, CrashForEndsCrashesThatAreStillOwed) {
  AgentLoopConfig c = quiet();
  c.crash_every = 300ms;
  c.crash_for = 1s;
  Loop loop(c);
  // A stall until 950 ms owes three crashes; only the one at 950 ms is inside the window.
  EXPECT_TRUE(loop.at(950ms).inject_crash);
  EXPECT_FALSE(loop.at(1s).inject_crash);
  EXPECT_FALSE(loop.at(1001ms).inject_crash);
  // And the core does not keep waking for crashes it will never inject.
  AgentActions a = loop.at(1002ms);
  EXPECT_GT(a.wake_at, loop.now());
}

TEST(AgentLoop, CrashForZeroCrashesForTheWholeRun) {
  AgentLoopConfig c = quiet();
  c.crash_every = 2s;
  c.crash_for = 0s;
  c.duration = 30s;
  Loop loop(c);
  int crashes = 0;
  for (Duration t = 0s; t < 30s; t += 100ms) crashes += loop.at(t).inject_crash ? 1 : 0;
  EXPECT_EQ(crashes, 14);  // 2, 4, ..., 28 s
  EXPECT_TRUE(loop.at(30s).inject_crash);  // the last moment too
}

TEST(AgentLoop, NoCrashesWhenCrashEveryIsZero) {
  AgentLoopConfig c = quiet();
  c.crash_for = 10s;
  Loop loop(c);
  for (Duration t = 0s; t <= 20s; t += 100ms) ASSERT_FALSE(loop.at(t).inject_crash) << to_s(t);
}

// ---- the stop ----

TEST(AgentLoop, StopsWhenTheDurationIsReachedAfterWhatIsDueThen) {
  AgentLoopConfig c = quiet();
  c.duration = 60s;
  c.progress_every = 10s;
  Loop loop(c);
  for (Duration t = 0s; t < 60s; t += 100ms) ASSERT_FALSE(loop.at(t).stop_sources) << to_s(t);
  EXPECT_EQ(loop.core().phase(), AgentPhase::kRunning);
  const AgentActions a = loop.at(60s);
  EXPECT_TRUE(a.progress_line);  // the line at the duration itself
  EXPECT_TRUE(a.stop_sources);
  EXPECT_FALSE(a.finish);  // the open jobs are counted only once the sources stopped
  EXPECT_LE(a.wake_at, loop.now());
  EXPECT_EQ(loop.core().phase(), AgentPhase::kDraining);
}

TEST(AgentLoop, ARequestedStopBeginsTheDrainAtTheNextTickAndIsIdempotent) {
  AgentLoopConfig c = quiet();
  c.progress_every = 10s;
  Loop loop(c);
  (void)loop.at(0s);
  EXPECT_FALSE(loop.at(5s).stop_sources);
  loop.core().request_stop();
  loop.core().request_stop();
  AgentActions a = loop.at(10s, 3);
  EXPECT_TRUE(a.progress_line);  // what was due at that tick is still done
  EXPECT_TRUE(a.stop_sources);
  EXPECT_EQ(loop.core().phase(), AgentPhase::kDraining);
  loop.core().request_stop();  // ignored once draining
  int stop_sources = 0;
  for (Duration t = 10s; t <= 12s; t += 100ms) stop_sources += loop.at(t, 3).stop_sources ? 1 : 0;
  EXPECT_EQ(stop_sources, 0);
}

TEST(AgentLoop, AStopBeforeTheFirstTickDoesNothingElse) {
  AgentLoopConfig c = quiet();
  c.progress_every = 1s;
  c.crash_every = 1s;
  Loop loop(c);
  loop.core().request_stop();
  // Even at a first tick when a sweep, a crash and a line would be due.
  const AgentActions a = loop.at(1s);
  EXPECT_TRUE(a.stop_sources);
  EXPECT_FALSE(a.sweep);
  EXPECT_FALSE(a.inject_crash);
  EXPECT_FALSE(a.progress_line);
  EXPECT_FALSE(a.finish);
  EXPECT_TRUE(loop.at(1s).finish);  // nothing open: the drain ends at once
}

TEST(AgentLoop, ADurationOverAtTheFirstTickDoesNothingElse) {
  AgentLoopConfig c = quiet();
  c.duration = 1s;
  Loop loop(c);
  const AgentActions a = loop.at(2s);
  EXPECT_TRUE(a.stop_sources);
  EXPECT_FALSE(a.sweep);
}

// ---- the drain ----

TEST(AgentLoop, TheDrainEndsAtTheFirstTickWithNoOpenJob) {
  AgentLoopConfig c = quiet();
  c.duration = 10s;
  c.longest_deadline = 2s;
  Loop loop(c);
  ASSERT_TRUE(loop.at(10s, 5).stop_sources);
  AgentActions a = loop.at(10010ms, 5);  // the sources took 10 ms to stop
  EXPECT_FALSE(a.finish);
  EXPECT_EQ(loop.core().drain_started_at(), loop.start() + 10010ms);
  EXPECT_EQ(a.wake_at, loop.start() + 13010ms);  // + longest deadline + 1 s
  EXPECT_FALSE(loop.at(10500ms, 1).finish);
  a = loop.at(10600ms, 0);
  EXPECT_TRUE(a.finish);
  EXPECT_EQ(loop.core().phase(), AgentPhase::kDone);
}

TEST(AgentLoop, TheDrainEndsAtOnceWhenNothingIsOpenAfterTheSourcesStopped) {
  AgentLoopConfig c = quiet();
  c.duration = 10s;
  Loop loop(c);
  ASSERT_TRUE(loop.at(10s, 0).stop_sources);
  EXPECT_TRUE(loop.at(10s, 0).finish);
  EXPECT_EQ(loop.core().drain_started_at(), loop.start() + 10s);
}

TEST(AgentLoop, TheDrainEndsAtItsDeadlineWithJobsStillOpen) {
  AgentLoopConfig c = quiet();
  c.duration = 10s;
  c.longest_deadline = 700ms;
  Loop loop(c);
  ASSERT_TRUE(loop.at(10s, 4).stop_sources);
  ASSERT_FALSE(loop.at(10s, 4).finish);
  // Deadline: 10 s + 700 ms + 1 s.
  for (Duration t = 10s; t < 11700ms; t += 50ms) ASSERT_FALSE(loop.at(t, 4).finish) << to_s(t);
  EXPECT_FALSE(loop.at(11700ms - 1us, 4).finish);
  EXPECT_TRUE(loop.at(11700ms, 4).finish);
}

TEST(AgentLoop, TheDrainDoesNothingButDrain) {
  AgentLoopConfig c = quiet();
  c.progress_every = 1s;
  c.crash_every = 1s;
  c.duration = 5s;
  c.longest_deadline = 5s;
  Loop loop(c);
  ASSERT_TRUE(loop.at(5s, 1).stop_sources);
  for (Duration t = 5s; t < 11s; t += 100ms) {
    const AgentActions a = loop.at(t, 1);
    ASSERT_FALSE(a.sweep || a.progress_line || a.inject_crash || a.stop_sources) << to_s(t);
  }
}

TEST(AgentLoop, FinishIsReportedExactlyOnce) {
  AgentLoopConfig c = quiet();
  c.duration = 2s;
  c.progress_every = 1s;
  Loop loop(c);
  int finishes = 0, stop_sources = 0;
  for (Duration t = 0s; t <= 20s; t += 100ms) {
    const size_t open = t < 2500ms ? 2 : 0;
    const AgentActions a = loop.at(t, open);
    finishes += a.finish ? 1 : 0;
    stop_sources += a.stop_sources ? 1 : 0;
    if (loop.core().phase() == AgentPhase::kDone && !a.finish) {
      ASSERT_FALSE(any(a)) << to_s(t);
      ASSERT_EQ(a.wake_at, TimePoint::max());
    }
  }
  EXPECT_EQ(finishes, 1);
  EXPECT_EQ(stop_sources, 1);
  loop.core().request_stop();
  EXPECT_FALSE(any(loop.at(21s)));
}

// ---- wake_at ----

// Ticking only at wake_at, every action lands exactly on its due time.
TEST(AgentLoop, TickingAtWakeAtAloneMeetsEveryDueTimeExactly) {
  AgentLoopConfig c;
  c.duration = 7s;
  c.progress_every = 2s;
  c.sweep_every = 1s;
  c.crash_every = 700ms;
  c.crash_for = 3s;
  c.longest_deadline = 400ms;
  ManualClock clock;
  const TimePoint start = clock.now() + kLead;
  AgentLoop loop(c, start);
  std::vector<Duration> sweeps, lines, crashes, stops;
  int ticks = 0;
  for (AgentActions a; !a.finish; ++ticks) {
    ASSERT_LT(ticks, 1000) << "the core keeps asking to be woken";
    a = loop.tick(clock.now(), 1);  // a job stays open: the drain runs to its deadline
    const Duration t = clock.now() - start;
    if (a.sweep) sweeps.push_back(t);
    if (a.progress_line) lines.push_back(t);
    if (a.inject_crash) crashes.push_back(t);
    if (a.stop_sources) stops.push_back(t);
    if (!a.finish) {
      ASSERT_NE(a.wake_at, TimePoint::max());
      if (a.wake_at > clock.now()) clock.set(a.wake_at);
    }
  }
  EXPECT_EQ(sweeps, (std::vector<Duration>{0s, 1s, 2s, 3s, 4s, 5s, 6s, 7s}));
  EXPECT_EQ(lines, (std::vector<Duration>{2s, 4s, 6s}));
  EXPECT_EQ(crashes, (std::vector<Duration>{700ms, 1400ms, 2100ms, 2800ms}));
  EXPECT_EQ(stops, (std::vector<Duration>{7s}));
  // The drain began at 7 s (the tick right after stop_sources) and ended at its deadline,
  // 7 s + 400 ms + 1 s.
  EXPECT_EQ(loop.drain_started_at() - start, Duration(7s));
  EXPECT_EQ(clock.now() - start, Duration(8400ms));
}

// Randomized: configs and tick times drawn at random, each tick no later than the last
// wake_at (often earlier, sometimes exactly at it). Since a tick never skips past wake_at,
// no action may ever be late: each lands exactly on its due time, computed here from the
// contract alone.
TEST(AgentLoop, WakeAtIsNeverLaterThanTheNextDueAction) {
  std::mt19937_64 rng(20240612);
  for (int run = 0; run < 200; ++run) {
    auto ms = [&](int lo, int hi) { return Duration(std::uniform_int_distribution<int>(lo, hi)(rng) * 1000); };
    AgentLoopConfig c;
    c.duration = ms(1000, 20000);
    c.progress_every = rng() % 4 == 0 ? Duration(0) : ms(100, 5000);
    c.sweep_every = ms(50, 2000);
    c.crash_every = rng() % 3 == 0 ? Duration(0) : ms(50, 3000);
    c.crash_for = rng() % 2 == 0 ? Duration(0) : ms(100, 15000);
    c.longest_deadline = ms(0, 3000);
    ManualClock clock;
    const TimePoint start = clock.now() + kLead;
    AgentLoop loop(c, start);
    const Duration close_at = c.duration + ms(0, 5000);  // when the last job closes
    TimePoint next_sweep = start, next_line = start + c.progress_every, next_crash = start + c.crash_every;
    bool stopped = false;
    std::optional<TimePoint> drain_until;
    for (int ticks = 0;; ++ticks) {
      ASSERT_LT(ticks, 100000) << "run " << run;
      const TimePoint now = clock.now();
      const AgentActions a = loop.tick(now, now - start < close_at ? 1 : 0);
      SCOPED_TRACE(::testing::Message() << "run " << run << " at " << to_s(now - start) << " s");
      if (!stopped) {
        ASSERT_EQ(a.sweep, now >= start && now == next_sweep);
        if (a.sweep) next_sweep = now + c.sweep_every;
        const bool crash_due = c.crash_every.count() > 0 &&
                               (c.crash_for.count() == 0 || next_crash < start + c.crash_for);
        ASSERT_EQ(a.inject_crash, crash_due && now == next_crash);
        if (a.inject_crash) next_crash += c.crash_every;
        ASSERT_EQ(a.progress_line, c.progress_every.count() > 0 && now == next_line);
        if (a.progress_line) next_line += c.progress_every;
        ASSERT_EQ(a.stop_sources, now == start + c.duration);
        stopped = a.stop_sources;
      } else {
        ASSERT_FALSE(a.sweep || a.inject_crash || a.progress_line || a.stop_sources);
        if (!drain_until) drain_until = now + c.longest_deadline + 1s;  // timed from its first tick
        ASSERT_EQ(a.finish, now - start >= close_at || now >= *drain_until);
      }
      if (a.finish) break;
      ASSERT_GE(a.wake_at, now) << "a wake_at in the past only when catching up, never here";
      // Somewhere in (now, wake_at]: half of the time exactly at wake_at.
      const Duration gap = a.wake_at - now;
      Duration step = gap;
      if (gap > Duration(1) && rng() % 2 == 0) {
        step = Duration(1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(gap.count())));
      }
      clock.advance(step);
    }
    EXPECT_EQ(loop.phase(), AgentPhase::kDone);
  }
}

// Randomized, with stalls: ticks often land well past wake_at. The core may then ask to be
// called again at once (wake_at <= now) to catch up, but only while that next tick has
// something to do: it never makes its driver spin on nothing.
TEST(AgentLoop, ALoopThatFellBehindNeverSpins) {
  std::mt19937_64 rng(7);
  for (int run = 0; run < 200; ++run) {
    auto ms = [&](int lo, int hi) { return Duration(std::uniform_int_distribution<int>(lo, hi)(rng) * 1000); };
    AgentLoopConfig c;
    c.duration = ms(1000, 20000);
    c.progress_every = rng() % 4 == 0 ? Duration(0) : ms(100, 3000);
    c.sweep_every = ms(50, 2000);
    c.crash_every = rng() % 3 == 0 ? Duration(0) : ms(50, 1000);
    c.crash_for = rng() % 2 == 0 ? Duration(0) : ms(100, 15000);
    c.longest_deadline = ms(0, 3000);
    ManualClock clock;
    AgentLoop loop(c, clock.now() + kLead);
    bool owed = false;  // the last tick asked for another at once
    for (int ticks = 0;; ++ticks) {
      ASSERT_LT(ticks, 100000) << "run " << run;
      const AgentActions a = loop.tick(clock.now(), rng() % 8 == 0 ? 0 : 1);
      SCOPED_TRACE(::testing::Message() << "run " << run << " at " << to_s(clock.now() - loop.start()) << " s");
      if (owed) {
        ASSERT_TRUE(any(a)) << "asked to tick at once for nothing";
      }
      if (a.finish) break;
      // (After stop_sources the next tick is at once by design: it times the drain.)
      owed = a.wake_at <= clock.now() && !a.stop_sources;
      if (a.wake_at <= clock.now()) continue;  // tick again at once, at the same time
      // Usually a little past wake_at; one tick in five, a stall of up to 5 s.
      const Duration late = rng() % 5 == 0 ? ms(0, 5000) : ms(0, 30);
      clock.set(a.wake_at + late);
    }
    EXPECT_EQ(loop.phase(), AgentPhase::kDone);
  }
}

}  // namespace
}  // namespace coedge::node
