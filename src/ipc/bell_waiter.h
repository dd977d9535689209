// How the agent and the server sleep: on their own doorbell (in the control segment,
// which no worker maps) and on one doorbell per task (in that task's segment, which the
// task's workers can write), all at once (Doorbell::wait_any: futex_waitv).
//
// A worker can only harm its own task's wake-ups this way: it can suppress them (write
// its bell's waiter count to 0) or make them spurious. A bell that a worker changes in a
// loop would make every wait return at once, and the agent or the server would spin,
// starving the honest tasks of CPU. BellFloodGuard, a passive core, tells such a bell:
// more than `max_empty_wakes` wakes without work within `window`. It is then left out of
// the wait set for `demotion` (its task's rings are still looked at on every turn of the
// caller's loop, and every wait is capped at kDemotedCap while a bell is demoted), and
// reported once per demotion, so that the caller can count a flood against the task.
// Wakes with work never clear the count (a worker cannot hide a flood behind a few real
// messages). Without futex_waitv (Linux before 5.16) or with more bells than one call
// takes, BellWaiter sleeps on its own bell only, at most kFallbackPoll at a time, and
// says so once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"
#include "ipc/shm_segment.h"

namespace coedge::ipc {

class BellFloodGuard {
 public:
  struct Options {
    uint32_t max_empty_wakes = 200;
    Duration window = std::chrono::milliseconds(100);
    Duration demotion = std::chrono::milliseconds(100);
  };
  BellFloodGuard(size_t bells, Options options);
  // Bell `bell` woke its waiter at `now`; `found_work`: the rings behind it had something.
  // True when this wake demotes the bell (a flood begins: report it).
  bool on_wake(size_t bell, bool found_work, TimePoint now);
  bool demoted(size_t bell, TimePoint now) const;
  uint64_t floods(size_t bell) const { return bells_[bell].floods; }  // demotions so far

 private:
  struct Bell {
    TimePoint window_start{};
    uint32_t empty = 0;
    TimePoint demoted_until{};
    uint64_t floods = 0;
  };
  Options options_;
  std::vector<Bell> bells_;
};

class BellWaiter {
 public:
  static constexpr Duration kDemotedCap = std::chrono::milliseconds(10);
  static constexpr Duration kFallbackPoll = std::chrono::milliseconds(1);
  // `who` names the process in the one message about the fallback.
  BellWaiter(Doorbell own, std::vector<Doorbell> task_bells, std::string who,
             BellFloodGuard::Options options = {});
  // Reads every bell. Call it before looking at the rings behind them, then wait(): a
  // ring after arm() ends the wait at once.
  void arm();
  // Sleeps until a bell rings after arm() or `timeout` passes. Then woken() lists the
  // tasks whose bell woke it (in the fallback, none).
  void wait(Duration timeout, TimePoint now);
  const std::vector<uint32_t>& woken() const { return woken_; }
  // After the caller looked at task `task`'s rings, following a wait that it woke:
  // whether they had work. True when this makes the task's bell a flood (report it).
  bool settle(uint32_t task, bool found_work, TimePoint now) { return guard_.on_wake(task, found_work, now); }
  uint64_t floods(uint32_t task) const { return guard_.floods(task); }
  bool fallback() const { return fallback_; }

 private:
  Doorbell own_;
  std::vector<Doorbell> tasks_;
  std::string who_;
  BellFloodGuard guard_;
  uint32_t own_seen_ = 0;
  std::vector<uint32_t> task_seen_;
  std::vector<uint32_t> woken_;
  bool fallback_ = false;
  // Reused by every wait: the bells in this wait's set, their seen values, their tasks.
  std::vector<Doorbell> set_;
  std::vector<uint32_t> set_seen_;
  std::vector<uint32_t> set_task_;
  std::vector<size_t> woke_;
};

}  // namespace coedge::ipc
