// The node agent's main loop as a passive core (DESIGN: control loops as passive cores):
// it takes the time, the stop requests and the number of open jobs, and says what to do
// now: sweep the ledger, print a progress line, inject a crash, stop the sources, finish.
// No threads, no I/O, no clock reads, no output of its own; run_node_agent
// (node/node_agent.h) is its driver over the pipeline, the sensors, the feed and the
// monotonic clock, and the unit tests drive it on a manual clock.
//
// Phases:
//  - kRunning, from construction. The run starts at `start` (the sensors' first frame),
//    which may lie ahead of the first tick; nothing is due before it. Cadences:
//      sweep     at the first tick at or after `start`, then `sweep_every` after the
//                tick that swept (the sweep follows the ticks, it does not keep a grid);
//      progress  a line at start + k * progress_every (k = 1, 2, ...);
//      crashes   one at start + k * crash_every, while before start + crash_for (0: the
//                whole run).
//    Progress lines and crashes keep their grid: a late tick does one of each that is due
//    and moves that cadence on by one period, so one that fell behind catches up one per
//    tick (wake_at at or before now until it has), none skipped but the crashes still owed
//    when the crash window closes. Each tick first does what is due at `now`, then checks the stop:
//    a stop requested before the tick, or `duration` reached (now >= start + duration),
//    begins the drain; so the run's last moment still gets its due actions (the progress
//    line at the duration itself). A stop already due at the first tick (requested before
//    it, or the duration over) begins the drain with nothing else done: the run never ran.
//  - kDraining: the tick that enters it says stop_sources and asks to be called again at
//    once; the driver stops the sources (sensors, the feed's frames) before that next
//    tick. The drain is timed from that next tick (drain_started_at()): it
//    ends at the first tick that sees no open job, or at drain_started_at +
//    longest_deadline + 1 s with jobs still open (they are the driver's to close).
//  - kDone: the tick that ended the drain said finish (once); later ticks do nothing.
//
// Usage: request_stop() as a stop source fires, then tick(now, open jobs); carry out the
// actions in the order of AgentActions' fields; call tick() again by wake_at at the
// latest (earlier is harmless). Not thread-safe: one driver thread.
#pragma once

#include <chrono>
#include <cstddef>

#include "core/time.h"

namespace coedge::node {

struct AgentLoopConfig {
  Duration duration{};                                  // from start; 0: until stopped
  Duration progress_every = std::chrono::seconds(10);   // 0: no progress lines
  Duration sweep_every = std::chrono::seconds(1);       // REQUIRES > 0
  Duration crash_every{};                               // 0: no crashes injected
  Duration crash_for{};                                 // crashes only this long from start; 0: whole run
  Duration longest_deadline{};                          // of the node's tasks (relative deadlines)
};

enum class AgentPhase { kRunning, kDraining, kDone };

// What the driver does at this tick. Several may be set at once.
struct AgentActions {
  // Close as lost the jobs open longer than expiry_grace() past their deadline, and
  // refresh the gauges.
  bool sweep = false;
  bool inject_crash = false;   // kill the next worker (or the server)
  bool progress_line = false;  // print the totals, stamped now - start()
  // The drain begins: stop the sensors and stop accepting the feed's frames, then tick
  // again (wake_at is now).
  bool stop_sources = false;
  // The drain is over (no open job, or its deadline): stop the pipeline and close the
  // jobs still open. Set by exactly one tick.
  bool finish = false;
  TimePoint wake_at = TimePoint::max();  // call tick() again by then; at or before now: at once
};

class AgentLoop {
 public:
  // `start`: the run's start (the sensors' first frame), from which the cadences and
  // `duration` count. REQUIRES: config.sweep_every > 0; durations >= 0.
  AgentLoop(const AgentLoopConfig& config, TimePoint start);

  // A stop source fired (a signal, the master): the drain begins at the next tick, after
  // what is due then. Idempotent; ignored once draining.
  void request_stop() { stop_requested_ = true; }

  // `open_jobs`: the ledger's open jobs now (only the drain reads it).
  // REQUIRES: now does not go backwards between calls.
  AgentActions tick(TimePoint now, size_t open_jobs);

  AgentPhase phase() const { return phase_; }
  TimePoint start() const { return start_; }
  // The first tick of the drain, after the sources were told to stop. (The driver ends the
  // run's duration earlier, at the tick that said stop_sources: stopping a stream can take
  // an open timeout.) REQUIRES: the drain began (a tick after the one that said stop_sources).
  TimePoint drain_started_at() const;
  // How long past its deadline a job may stay open before a sweep closes it as lost:
  // twice the longest deadline, at least 2 s.
  Duration expiry_grace() const { return expiry_grace_; }

  // After stop_sources, the drain waits at most this long plus the longest deadline.
  static constexpr Duration kDrainSlack = std::chrono::seconds(1);

 private:
  void tick_running(TimePoint now, AgentActions& out);
  void tick_draining(TimePoint now, size_t open_jobs, AgentActions& out);
  bool stop_due(TimePoint now) const;
  void begin_drain(TimePoint now, AgentActions& out);
  bool crashes_left(TimePoint now) const;  // a crash may still be injected
  TimePoint running_wake_at(TimePoint now) const;

  AgentLoopConfig config_;
  TimePoint start_;
  Duration expiry_grace_;
  AgentPhase phase_ = AgentPhase::kRunning;
  bool stop_requested_ = false;
  bool ticked_ = false;         // a tick has happened (a stop before the first does nothing else)
  TimePoint next_sweep_, next_progress_, next_crash_;
  bool drain_timed_ = false;    // the first tick after stop_sources has happened
  TimePoint drain_started_at_{}, drain_until_{};
};

}  // namespace coedge::node
