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
