#include "node/core/agent_loop.h"

#include <algorithm>

#include "core/result.h"

namespace coedge::node {

AgentLoop::AgentLoop(const AgentLoopConfig& config, TimePoint start)
    : config_(config),
      start_(start),
      // A job still open this long after its deadline was lost somewhere (a message that
      // never came): the sweep closes it, so that nothing stays open for ever.
      expiry_grace_(std::max<Duration>(std::chrono::seconds(2), 2 * config.longest_deadline)),
      next_sweep_(start),
      next_progress_(start + config.progress_every),
      next_crash_(start + config.crash_every) {
  COEDGE_CHECK(config.sweep_every.count() > 0);
  COEDGE_CHECK(config.duration.count() >= 0 && config.progress_every.count() >= 0 &&
               config.crash_every.count() >= 0 && config.crash_for.count() >= 0 &&
               config.longest_deadline.count() >= 0);
}

TimePoint AgentLoop::drain_started_at() const {
  COEDGE_CHECK(drain_timed_);
  return drain_started_at_;
}

AgentActions AgentLoop::tick(TimePoint now, size_t open_jobs) {
  AgentActions out;
  const bool first = !ticked_;
  ticked_ = true;
  switch (phase_) {
    case AgentPhase::kRunning:
      // The stop is checked before the first tick's actions as after every later tick's
      // (a run stopped before its loop began does nothing but stop).
      if (first && stop_due(now)) {
        begin_drain(now, out);
      } else {
        tick_running(now, out);
      }
      break;
    case AgentPhase::kDraining: tick_draining(now, open_jobs, out); break;
    case AgentPhase::kDone: break;
  }
  return out;
}

bool AgentLoop::stop_due(TimePoint now) const {
  return stop_requested_ || (config_.duration.count() > 0 && now >= start_ + config_.duration);
}

void AgentLoop::tick_running(TimePoint now, AgentActions& out) {
  if (now >= next_sweep_) {
    out.sweep = true;
    next_sweep_ = now + config_.sweep_every;
  }
  // One crash and one progress line per tick at most, each cadence moved on by one
  // period: a late tick catches up over the following ticks, as a grid from the start.
  if (config_.crash_every.count() > 0 && now >= next_crash_ &&
      (config_.crash_for.count() == 0 || now < start_ + config_.crash_for)) {
    out.inject_crash = true;
    next_crash_ += config_.crash_every;
  }
  if (config_.progress_every.count() > 0 && now >= next_progress_) {
    out.progress_line = true;
    next_progress_ += config_.progress_every;
  }
  if (stop_due(now)) return begin_drain(now, out);
  out.wake_at = running_wake_at(now);
}

void AgentLoop::begin_drain(TimePoint now, AgentActions& out) {
  phase_ = AgentPhase::kDraining;
  out.stop_sources = true;
  // The drain is timed, and the open jobs counted, only once the sources have stopped:
  // a sensor may still release a job while it is being stopped.
  out.wake_at = now;
}

void AgentLoop::tick_draining(TimePoint now, size_t open_jobs, AgentActions& out) {
  if (!drain_timed_) {
    drain_timed_ = true;
    drain_started_at_ = now;
    // The last job released has its deadline within longest_deadline; a second more for
    // its news to arrive.
    drain_until_ = now + config_.longest_deadline + kDrainSlack;
  }
  if (open_jobs == 0 || now >= drain_until_) {
    phase_ = AgentPhase::kDone;
    out.finish = true;
    return;
  }
  out.wake_at = drain_until_;
}

bool AgentLoop::crashes_left(TimePoint now) const {
  if (config_.crash_every.count() == 0) return false;
  if (config_.crash_for.count() == 0) return true;
  // Crashes still owed when the window closes are never injected: not waking for them
  // keeps a loop that fell behind from spinning on a past wake_at.
  const TimePoint end = start_ + config_.crash_for;
  return now < end && next_crash_ < end;
}

TimePoint AgentLoop::running_wake_at(TimePoint now) const {
  TimePoint at = next_sweep_;
  if (config_.progress_every.count() > 0) at = std::min(at, next_progress_);
  if (crashes_left(now)) at = std::min(at, next_crash_);
  if (config_.duration.count() > 0) at = std::min(at, start_ + config_.duration);
  return at;
}

}  // namespace coedge::node
