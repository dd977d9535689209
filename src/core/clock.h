// The clock the runtime reads, injected so tests can drive time by hand (DESIGN: "inject
// the environment"). MonotonicClock reads CLOCK_MONOTONIC, which every process of a
// machine shares, so times written by one process mean the same in another. Policies
// never hold a Clock: they are given `now`. Both clocks are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/time.h"

namespace coedge {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class MonotonicClock final : public Clock {
 public:
  TimePoint now() const override { return from_monotonic_us(monotonic_us()); }
  static int64_t monotonic_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static TimePoint from_monotonic_us(int64_t us) { return TimePoint(Duration(us)); }
  static int64_t to_monotonic_us(TimePoint t) { return t.time_since_epoch().count(); }
};

// Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch: the clock of ROS
// image stamps and of the cluster's plans, which hosts share through PTP or NTP. Not for
// measuring durations (it may jump).
inline int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline WallTime wall_now() { return from_wall_ns(realtime_ns()); }

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint(std::chrono::seconds(1))) : us_(to_us(start)) {}
  TimePoint now() const override { return TimePoint(Duration(us_.load())); }
  void set(TimePoint t) { us_.store(to_us(t)); }
  void advance(Duration d) { us_.fetch_add(d.count()); }

 private:
  static int64_t to_us(TimePoint t) { return t.time_since_epoch().count(); }
  std::atomic<int64_t> us_;
};

}  // namespace coedge
