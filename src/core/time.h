// Time in CoEdge: one integer microsecond clock shared by the policies, the simulator and
// (later) the runtime. `Duration` is a span, `TimePoint` an instant on whatever clock the
// driver uses (simulated or real); policies never read a clock, they are given `now`.
// Microseconds are exact enough for inference (ms scale) and keep arithmetic integer, so
// simulations are deterministic across machines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace coedge {

using Duration = std::chrono::microseconds;

// Tag clock for instants: the simulator's epoch is the start of the run, the runtime's is
// its own start. It is never "now()"-ed inside the policies.
struct ScenarioClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<ScenarioClock, Duration>;
  static constexpr bool is_steady = true;
};
using TimePoint = ScenarioClock::time_point;

inline constexpr TimePoint kEpoch{};

// Wall-clock instants: CLOCK_REALTIME, nanoseconds since the Unix epoch. The clock of ROS
// image stamps, of plans' effective times and of nodes' claims, which hosts share through
// PTP or NTP: the one time that crosses hosts. A type of its own, so that a wall-clock
// instant cannot be mixed with a TimePoint (simulated, or one host's monotonic clock)
// without a named conversion; plain int64 nanoseconds (wall_ns, from_wall_ns) only where it
// goes on the wire or into the hand-over table's integer timeline.
struct WallClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<WallClock, duration>;
  static constexpr bool is_steady = false;
};
using WallTime = WallClock::time_point;
constexpr WallTime from_wall_ns(int64_t ns) { return WallTime(std::chrono::nanoseconds(ns)); }
constexpr int64_t wall_ns(WallTime t) { return t.time_since_epoch().count(); }
inline constexpr Duration kNever = Duration::max();

constexpr Duration from_ms(double ms) {
  return Duration(static_cast<int64_t>(ms * 1000.0 + (ms >= 0 ? 0.5 : -0.5)));
}
constexpr double to_ms(Duration d) { return static_cast<double>(d.count()) / 1000.0; }
constexpr double to_s(Duration d) { return static_cast<double>(d.count()) / 1e6; }
constexpr double to_s(TimePoint t) { return to_s(t.time_since_epoch()); }

// "1.3s", "700ms", "250us": for messages and files.
std::string format_duration(Duration d);

}  // namespace coedge
