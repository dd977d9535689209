// ProcessSupervisor's decisions on a manual clock, with FakeProcessLauncher: the test says
// when a child exits and how, and checks what the supervisor asked of the OS (starts,
// signals, reaps) and the events it returned. No process is started and nothing sleeps;
// process_supervisor_test.cc checks the same behaviours end to end with real processes.
#include <gtest/gtest.h>

#include <csignal>
#include <random>
#include <string>
#include <vector>

#include "fake_process_launcher.h"
#include "os/process_supervisor.h"

namespace coedge::os {
namespace {

using namespace std::chrono_literals;
using Kind = ChildEvent::Kind;
using testing::FakeProcessLauncher;
using Signal = FakeProcessLauncher::Signal;
using Reap = FakeProcessLauncher::Reap;

const TimePoint t0 = kEpoch + 1000s;

ChildSpec spec(const std::string& name) {
  ChildSpec s;
  s.name = name;
  s.argv = {"/opt/coedge/" + name, "--flag"};
  return s;
}

struct Seen {
  int id;
  Kind kind;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> seen(const std::vector<ChildEvent>& events) {
  std::vector<Seen> out;
  for (const ChildEvent& e : events) out.push_back({e.id, e.kind});
  return out;
}

std::string describe(const std::vector<ChildEvent>& events) {
  std::string out;
  for (const ChildEvent& e : events) {
    out += "[" + std::to_string(e.id) + " " + e.name + " kind " + std::to_string(static_cast<int>(e.kind)) +
           " pid " + std::to_string(e.pid) + "]";
  }
  return out;
}

TEST(SupervisorLogicTest, StartHandsTheSpecToTheLauncher) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("t0/pre");
  s.env = {{"COEDGE_TASK", "0"}};
  s.cwd = "/run/coedge/t0";
  s.log_path = "/run/coedge/logs/t0-pre.log";
  const int id = sup.add(s);
  EXPECT_EQ(id, 0);
  EXPECT_TRUE(os.starts().empty()) << "add() starts nothing";
  EXPECT_FALSE(sup.running(id));

  ASSERT_TRUE(sup.start(id, t0));
  ASSERT_EQ(os.starts().size(), 1u);
  const LaunchSpec& asked = os.starts()[0].spec;
  EXPECT_EQ(asked.name, "t0/pre");
  EXPECT_EQ(asked.argv, s.argv);
  EXPECT_EQ(asked.env, s.env);
  EXPECT_EQ(asked.cwd, s.cwd);
  EXPECT_EQ(asked.log_path, s.log_path);
  EXPECT_EQ(sup.pid(id), os.starts()[0].pid);
  EXPECT_EQ(sup.restarts(id), 0);

  Status again = sup.start(id, t0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message,
            "cannot start 't0/pre': already running as pid " + std::to_string(sup.pid(id)));
  EXPECT_EQ(os.starts().size(), 1u);
  EXPECT_TRUE(sup.poll(t0 + 1h).empty()) << "a running child makes no event";
  EXPECT_EQ(os.misuse(), "");
}

TEST(SupervisorLogicTest, ExitIsReportedAndReaped) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec once = spec("once");
  once.restart = false;
  const int a = sup.add(once);
  const int b = sup.add(once);
  ASSERT_TRUE(sup.start(a, t0));
  ASSERT_TRUE(sup.start(b, t0));
  const pid_t pa = sup.pid(a);
  const pid_t pb = sup.pid(b);
  os.exit(pa, 3);
  os.crash(pb, SIGSEGV);
  const std::vector<ChildEvent> events = sup.poll(t0 + 1s);
  ASSERT_EQ(seen(events), (std::vector<Seen>{{a, Kind::kExited}, {b, Kind::kExited}})) << describe(events);
  EXPECT_EQ(events[0].pid, pa);
  EXPECT_EQ(events[0].name, "once");
  EXPECT_EQ(events[0].exit_code, 3);
  EXPECT_EQ(events[0].signal, 0);
  EXPECT_EQ(events[0].at, t0 + 1s);
  EXPECT_FALSE(events[0].retired);
  EXPECT_EQ(events[1].exit_code, -1);
  EXPECT_EQ(events[1].signal, SIGSEGV);
  EXPECT_TRUE(os.reaped(pa));
  EXPECT_TRUE(os.reaped(pb));
  EXPECT_TRUE(os.signals().empty());
  EXPECT_FALSE(sup.running(a));
  // restart = false: nothing is scheduled, ever.
  EXPECT_TRUE(sup.poll(t0 + 1h).empty());
  EXPECT_EQ(os.starts().size(), 2u);
  EXPECT_EQ(os.misuse(), "");
}

// The delay doubles per consecutive exit from backoff_initial up to backoff_max; the
// restart happens at the first poll() at or after restart_at, never before.
TEST(SupervisorLogicTest, CrashRestartsWithDoublingBackoffUpToTheMax) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("crasher");
  s.backoff_initial = 100ms;
  s.backoff_max = 1s;
  s.stable_after = 10s;
  const int id = sup.add(s);
  ASSERT_TRUE(sup.start(id, t0));

  TimePoint now = t0;
  const std::vector<Duration> expected = {100ms, 200ms, 400ms, 800ms, 1s, 1s, 1s};
  for (size_t i = 0; i < expected.size(); ++i) {
    const pid_t old = sup.pid(id);
    now += 50ms;  // a short run
    os.crash(old, SIGSEGV);
    std::vector<ChildEvent> events = sup.poll(now);
    ASSERT_EQ(seen(events), (std::vector<Seen>{{id, Kind::kExited}, {id, Kind::kRestartScheduled}}))
        << describe(events);
    EXPECT_EQ(events[0].signal, SIGSEGV);
    EXPECT_EQ(events[0].pid, old);
    EXPECT_EQ(events[1].restart_at, now + expected[i]) << "restart " << i;
    EXPECT_EQ(events[1].pid, 0);
    EXPECT_FALSE(sup.running(id));

    EXPECT_TRUE(sup.poll(events[1].restart_at - 1us).empty()) << "not before its time";
    now = events[1].restart_at;
    events = sup.poll(now);
    ASSERT_EQ(seen(events), (std::vector<Seen>{{id, Kind::kStarted}})) << describe(events);
    EXPECT_EQ(events[0].pid, sup.pid(id));
    EXPECT_NE(events[0].pid, old);
    EXPECT_EQ(sup.restarts(id), static_cast<int>(i) + 1);
  }
  EXPECT_EQ(os.starts().size(), expected.size() + 1);
  EXPECT_TRUE(os.signals().empty()) << "a crashed child needs no signal";
  EXPECT_EQ(os.misuse(), "");
}

// A child that ran for stable_after (measured from its start to the poll() that saw it
// exit) starts the backoff again from backoff_initial; one that ran 1 us less does not.
// start() also resets it.
TEST(SupervisorLogicTest, StableRunResetsTheBackoff) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("worker");
  s.backoff_initial = 100ms;
  s.backoff_max = 5s;
  s.stable_after = 10s;
  const int id = sup.add(s);
  ASSERT_TRUE(sup.start(id, t0));

  // Exits after `ran`, is restarted when due; returns the delay it was given.
  TimePoint now = t0;
  auto crash_after = [&](Duration ran) {
    now += ran;
    os.crash(sup.pid(id), SIGKILL);
    std::vector<ChildEvent> events = sup.poll(now);
    EXPECT_EQ(seen(events), (std::vector<Seen>{{id, Kind::kExited}, {id, Kind::kRestartScheduled}}));
    const Duration delay = events.at(1).restart_at - now;
    now = events.at(1).restart_at;
    EXPECT_EQ(seen(sup.poll(now)), (std::vector<Seen>{{id, Kind::kStarted}}));
    return delay;
  };
  EXPECT_EQ(crash_after(1s), 100ms);
  EXPECT_EQ(crash_after(1s), 200ms);
  EXPECT_EQ(crash_after(10s - 1us), 400ms) << "not quite stable";
  EXPECT_EQ(crash_after(10s), 100ms) << "stable: back to the start";
  EXPECT_EQ(crash_after(0s), 200ms);
  EXPECT_EQ(crash_after(1h), 100ms);
  EXPECT_EQ(crash_after(0s), 200ms);

  // start() of a stopped child counts from backoff_initial again.
  sup.stop(id, 1s);
  ASSERT_TRUE(sup.start(id, now));
  EXPECT_EQ(crash_after(0s), 100ms);
  EXPECT_EQ(os.misuse(), "");
}

TEST(SupervisorLogicTest, KillSignalsTheGroupAndTheExitIsRestarted) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("hung");
  s.backoff_initial = 0us;
  const int id = sup.add(s);
  ASSERT_TRUE(sup.start(id, t0));
  const pid_t old = sup.pid(id);
  sup.kill(id);  // SIGKILL by default
  EXPECT_EQ(os.signals(), (std::vector<Signal>{{old, SIGKILL}}));
  // A zero delay: the exit, its restart scheduled for now and the restart, in one poll.
  const std::vector<ChildEvent> events = sup.poll(t0);
  ASSERT_EQ(seen(events), (std::vector<Seen>{{id, Kind::kExited}, {id, Kind::kRestartScheduled},
                                             {id, Kind::kStarted}}))
      << describe(events);
  EXPECT_EQ(events[0].signal, SIGKILL);
  EXPECT_EQ(events[1].restart_at, t0);
  EXPECT_EQ(events[2].pid, sup.pid(id));
  EXPECT_EQ(sup.restarts(id), 1);

  // SIGTERM through kill(): the same path.
  sup.kill(id, SIGTERM);
  EXPECT_EQ(sup.poll(t0).at(0).signal, SIGTERM);
  EXPECT_EQ(os.misuse(), "");
}

TEST(SupervisorLogicTest, KillOfAChildNotRunningIsANoOp) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("w");
  s.backoff_initial = 1s;
  const int idle = sup.add(s);
  const int pending = sup.add(s);
  const int retiring = sup.add(s);
  ChildSpec once = spec("once");
  once.restart = false;
  const int exited = sup.add(once);
  for (int id : {pending, retiring, exited}) ASSERT_TRUE(sup.start(id, t0));
  os.exit(sup.pid(pending), 1);
  os.exit(sup.pid(exited), 0);
  os.ignore(sup.pid(retiring), SIGTERM);
  sup.retire(retiring, t0, 10s);
  ASSERT_EQ(sup.poll(t0).size(), 3u);  // pending: exited + scheduled; exited: exited
  const size_t signals = os.signals().size();

  for (int id : {idle, pending, retiring, exited}) {
    sup.kill(id);
    sup.kill(id, SIGTERM);
  }
  EXPECT_EQ(os.signals().size(), signals) << "no signal sent";
  EXPECT_TRUE(sup.retiring(retiring));
  EXPECT_TRUE(sup.poll(t0 + 1s - 1us).empty());
  EXPECT_EQ(os.misuse(), "");
}

TEST(SupervisorLogicTest, StartFailureNamesTheChild) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  const int id = sup.add(spec("t3/post"));
  os.fail_starts(Error{ErrorCode::kNotFound, "'coedge-worker' not found in PATH '/usr/bin'"});
  Status s = sup.start(id, t0);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s.error().message, "cannot start 't3/post': 'coedge-worker' not found in PATH '/usr/bin'");
  EXPECT_FALSE(sup.running(id));
  EXPECT_EQ(sup.restarts(id), 0);
  EXPECT_TRUE(sup.poll(t0 + 1h).empty()) << "a failed start() schedules nothing";
  EXPECT_EQ(os.starts().size(), 1u);
  EXPECT_EQ(os.misuse(), "");
}

// A restart that fails is reported (with the child's name) and retried, backing off as
// for a crash; once the launcher works again the child is back.
TEST(SupervisorLogicTest, FailedRestartIsReportedAndRetriedWithBackoff) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("server");
  s.backoff_initial = 100ms;
  const int id = sup.add(s);
  ASSERT_TRUE(sup.start(id, t0));
  os.exit(sup.pid(id), 1);
  std::vector<ChildEvent> events = sup.poll(t0);
  ASSERT_EQ(events.at(1).restart_at, t0 + 100ms);

  os.fail_starts(Error{ErrorCode::kIo, "cannot execute '/opt/coedge/server': Text file busy"});
  events = sup.poll(t0 + 100ms);
  ASSERT_EQ(seen(events), (std::vector<Seen>{{id, Kind::kStartFailed}, {id, Kind::kRestartScheduled}}))
      << describe(events);
  EXPECT_EQ(events[0].message, "cannot start 'server': cannot execute '/opt/coedge/server': Text file busy");
  EXPECT_EQ(events[0].name, "server");
  EXPECT_EQ(events[0].pid, 0);
  EXPECT_EQ(events[1].restart_at, t0 + 300ms) << "the second delay: 200 ms";
  EXPECT_FALSE(sup.running(id));
  events = sup.poll(t0 + 300ms);
  ASSERT_EQ(seen(events), (std::vector<Seen>{{id, Kind::kStartFailed}, {id, Kind::kRestartScheduled}}));
  EXPECT_EQ(events[1].restart_at, t0 + 700ms);

  os.fail_starts(std::nullopt);
  EXPECT_TRUE(sup.poll(t0 + 700ms - 1us).empty());
  events = sup.poll(t0 + 700ms);
  ASSERT_EQ(seen(events), (std::vector<Seen>{{id, Kind::kStarted}}));
  EXPECT_TRUE(sup.running(id));
  EXPECT_EQ(sup.restarts(id), 1) << "failed starts are not restarts";
  EXPECT_EQ(os.starts().size(), 4u);
  EXPECT_EQ(os.misuse(), "");
}

// retire(id, now, grace): SIGTERM (and SIGCONT) now; a child that leaves is reaped by the
// next poll() as a retired exit; one that ignores SIGTERM gets SIGKILL from the first
// poll() at now + grace and is reaped by a later one. Never restarted.
TEST(SupervisorLogicTest, RetireTerminatesThenKillsAtTheGraceAndNeverRestarts) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("w");
  s.backoff_initial = 0us;
  const int polite = sup.add(s);
  const int stubborn = sup.add(s);
  ASSERT_TRUE(sup.start(polite, t0));
  ASSERT_TRUE(sup.start(stubborn, t0));
  const pid_t pp = sup.pid(polite);
  const pid_t ps = sup.pid(stubborn);
  os.ignore(ps, SIGTERM);

  sup.retire(polite, t0 + 1s, 2s);
  EXPECT_EQ(os.signals_to(pp), (std::vector<Signal>{{pp, SIGTERM}, {pp, SIGCONT}}));
  EXPECT_TRUE(sup.retiring(polite));
  EXPECT_FALSE(sup.running(polite));
  EXPECT_EQ(sup.pid(polite), 0) << "a retiring child is not running";
  std::vector<ChildEvent> events = sup.poll(t0 + 1s);
  ASSERT_EQ(seen(events), (std::vector<Seen>{{polite, Kind::kExited}})) << describe(events);
  EXPECT_TRUE(events[0].retired);
  EXPECT_EQ(events[0].signal, SIGTERM);
  EXPECT_EQ(events[0].pid, pp);
  EXPECT_FALSE(sup.retiring(polite));
  EXPECT_TRUE(os.reaped(pp));

  sup.retire(stubborn, t0 + 1s, 2s);
  EXPECT_EQ(os.signals_to(ps), (std::vector<Signal>{{ps, SIGTERM}, {ps, SIGCONT}}));
  EXPECT_TRUE(sup.poll(t0 + 3s - 1us).empty()) << "still in its grace";
  EXPECT_EQ(os.signals_to(ps).size(), 2u) << "no SIGKILL before now + grace";
  EXPECT_TRUE(sup.poll(t0 + 3s).empty()) << "killed, reaped by a later poll";
  EXPECT_EQ(os.signals_to(ps).back(), (Signal{ps, SIGKILL}));
  events = sup.poll(t0 + 3s);
  ASSERT_EQ(seen(events), (std::vector<Seen>{{stubborn, Kind::kExited}}));
  EXPECT_TRUE(events[0].retired);
  EXPECT_EQ(events[0].signal, SIGKILL);
  EXPECT_FALSE(sup.retiring(stubborn));

  EXPECT_TRUE(sup.poll(t0 + 1h).empty()) << "no restart, ever";
  EXPECT_EQ(os.starts().size(), 2u);
  EXPECT_EQ(os.misuse(), "");
}

TEST(SupervisorLogicTest, RetireCancelsAPendingRestartAndStartBringsAChildBack) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec s = spec("w");
  s.backoff_initial = 1s;
  const int id = sup.add(s);
  ASSERT_TRUE(sup.start(id, t0));
  os.exit(sup.pid(id), 1);
  ASSERT_EQ(sup.poll(t0).size(), 2u);  // exited, restart scheduled at t0 + 1s
  sup.retire(id, t0, 2s);
  EXPECT_FALSE(sup.retiring(id)) << "nothing to retire";
  EXPECT_TRUE(sup.poll(t0 + 1h).empty()) << "the pending restart is cancelled";

  // Back, retired, and started again while still retiring: the old one is killed and
  // reaped first (no event for it), then a new one starts.
  ASSERT_TRUE(sup.start(id, t0 + 1h));
  const pid_t old = sup.pid(id);
  os.ignore(old, SIGTERM);
  sup.retire(id, t0 + 1h, 2s);
  ASSERT_TRUE(sup.start(id, t0 + 1h));
  EXPECT_TRUE(os.reaped(old));
  EXPECT_EQ(os.reaps().back(), (Reap{old, true}));
  EXPECT_TRUE(sup.running(id));
  EXPECT_NE(sup.pid(id), old);
  EXPECT_FALSE(sup.retiring(id));
  EXPECT_TRUE(sup.poll(t0 + 2h).empty());
  EXPECT_EQ(os.misuse(), "");
}

// stop_all(grace): SIGTERM and SIGCONT to every running or retiring child, checks every
// kStopPollInterval of the launcher's clock, SIGKILL at the grace; every child reaped on
// return, pending restarts cancelled.
TEST(SupervisorLogicTest, StopAllTerminatesThenKillsAtTheGrace) {
  FakeProcessLauncher os(t0);
  ProcessSupervisor sup(os);
  ChildSpec s = spec("w");
  s.backoff_initial = 1s;
  const int polite = sup.add(s);
  const int slow = sup.add(s);
  const int stubborn = sup.add(s);
  const int pending = sup.add(s);
  const int idle = sup.add(s);
  for (int id : {polite, slow, stubborn, pending}) ASSERT_TRUE(sup.start(id, t0));
  const pid_t pp = sup.pid(polite);
  const pid_t pl = sup.pid(slow);
  const pid_t ps = sup.pid(stubborn);
  const pid_t pn = sup.pid(pending);
  os.exit(pn, 1);
  ASSERT_EQ(sup.poll(t0).size(), 2u);
  os.ignore(pl, SIGTERM);
  os.ignore(ps, SIGTERM);
  // `slow` leaves 300 ms into the grace.
  os.on_sleep = [&](TimePoint now) {
    if (now >= t0 + 300ms && os.running(pl)) os.exit(pl, 0);
  };

  sup.stop_all(1s);
  EXPECT_EQ(os.signals(), (std::vector<Signal>{{pp, SIGTERM}, {pp, SIGCONT}, {pl, SIGTERM}, {pl, SIGCONT},
                                               {ps, SIGTERM}, {ps, SIGCONT}}));
  EXPECT_EQ(os.reaps(), (std::vector<Reap>{{pn, false}, {pp, false}, {pl, false}, {ps, true}}));
  EXPECT_EQ(os.slept(), 1s) << "waited the grace on the launcher's clock, not beyond";
  EXPECT_EQ(os.sleeps(), 1s / ProcessSupervisor::kStopPollInterval);
  EXPECT_EQ(os.unreaped(), 0);
  for (int id : {polite, slow, stubborn, pending, idle}) EXPECT_FALSE(sup.running(id));
  EXPECT_TRUE(sup.poll(t0 + 1h).empty()) << "stopped children are not restarted";
  EXPECT_EQ(os.starts().size(), 4u);
  EXPECT_EQ(os.misuse(), "");
}

TEST(SupervisorLogicTest, StopDoesNotWaitWhenChildrenLeaveOnSigterm) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  const int w = sup.add(spec("worker"));
  const int s = sup.add(spec("server"));
  ASSERT_TRUE(sup.start(w, t0));
  ASSERT_TRUE(sup.start(s, t0));
  const pid_t pw = sup.pid(w);
  sup.stop(w, 2s);
  EXPECT_EQ(os.signals(), (std::vector<Signal>{{pw, SIGTERM}, {pw, SIGCONT}}));
  EXPECT_EQ(os.reaps(), (std::vector<Reap>{{pw, false}}));
  EXPECT_EQ(os.sleeps(), 0);
  EXPECT_FALSE(sup.running(w));
  EXPECT_TRUE(sup.running(s)) << "the other child is untouched";
  sup.stop_all(0s);  // a zero grace: SIGTERM, one check, SIGKILL
  EXPECT_EQ(os.unreaped(), 0);
  EXPECT_EQ(os.sleeps(), 0);
  EXPECT_EQ(os.misuse(), "");
}

TEST(SupervisorLogicTest, DestructorStopsChildrenThroughTheLauncher) {
  FakeProcessLauncher os;
  pid_t p = 0;
  {
    ProcessSupervisor sup(os);
    const int id = sup.add(spec("w"));
    ASSERT_TRUE(sup.start(id, t0));
    p = sup.pid(id);
    os.ignore(p, SIGTERM);
  }
  EXPECT_EQ(os.slept(), ProcessSupervisor::kDestructorGrace);
  EXPECT_EQ(os.reaps(), (std::vector<Reap>{{p, true}}));
  EXPECT_EQ(os.misuse(), "");
}

// Within one poll(): exits (with their schedules) in child order first, then the due
// restarts in child order; restarts not yet due stay pending.
TEST(SupervisorLogicTest, PollReturnsEventsInOrder) {
  FakeProcessLauncher os;
  ProcessSupervisor sup(os);
  ChildSpec zero = spec("zero");
  zero.backoff_initial = 0us;
  ChildSpec later = spec("later");
  later.backoff_initial = 1s;
  const int a = sup.add(later);
  const int b = sup.add(zero);
  const int c = sup.add(later);
  const int d = sup.add(zero);
  for (int id : {a, b, c, d}) ASSERT_TRUE(sup.start(id, t0));
  os.exit(sup.pid(c), 2);
  ASSERT_EQ(sup.poll(t0).size(), 2u);  // c: restart at t0 + 1s
  os.exit(sup.pid(d), 0);
  os.crash(sup.pid(b), SIGABRT);
  os.exit(sup.pid(a), 1);
  const std::vector<ChildEvent> events = sup.poll(t0 + 1s);
  EXPECT_EQ(seen(events), (std::vector<Seen>{{a, Kind::kExited},
                                             {a, Kind::kRestartScheduled},
                                             {b, Kind::kExited},
                                             {b, Kind::kRestartScheduled},
                                             {d, Kind::kExited},
                                             {d, Kind::kRestartScheduled},
                                             {b, Kind::kStarted},
                                             {c, Kind::kStarted},
                                             {d, Kind::kStarted}}))
      << describe(events);
  for (const ChildEvent& e : events) EXPECT_EQ(e.at, t0 + 1s);
  EXPECT_EQ(events[1].restart_at, t0 + 2s);
  EXPECT_FALSE(sup.running(a));
  EXPECT_EQ(seen(sup.poll(t0 + 2s)), (std::vector<Seen>{{a, Kind::kStarted}}));
  EXPECT_EQ(os.misuse(), "");
}

// Random sequences of exits, kills, retirements, starts, stops and polls (seeded): the
// supervisor's view always matches the launcher's, every exit is reported once and by the
// pid that ran, no restart comes before its time, and nothing touches a reaped pid.
TEST(SupervisorLogicTest, RandomSequencesKeepTheBooks) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    FakeProcessLauncher os;
    ProcessSupervisor sup(os);
    const int n = 4;
    for (int i = 0; i < n; ++i) {
      ChildSpec s = spec("c" + std::to_string(i));
      s.backoff_initial = std::chrono::milliseconds(rng() % 3 * 50);
      s.backoff_max = 1s;
      s.stable_after = 2s;
      s.restart = rng() % 4 != 0;
      sup.add(s);
    }
    TimePoint now = t0;
    std::vector<TimePoint> due(n, TimePoint::max());
    int exits = 0;
    for (int step = 0; step < 300; ++step) {
      const int id = static_cast<int>(rng() % n);
      const pid_t pid = sup.pid(id);
      switch (rng() % 8) {
        case 0:
          if (pid != 0 && os.running(pid)) os.exit(pid, static_cast<int>(rng() % 3));
          break;
        case 1:
          sup.kill(id, rng() % 2 ? SIGKILL : SIGTERM);
          break;
        case 2:
          if (pid != 0 && rng() % 2) os.ignore(pid, SIGTERM);
          sup.retire(id, now, std::chrono::milliseconds(rng() % 500));
          due[static_cast<size_t>(id)] = TimePoint::max();
          break;
        case 3:
          if (!sup.running(id) && sup.start(id, now)) due[static_cast<size_t>(id)] = TimePoint::max();
          break;
        case 4:
          if (rng() % 10 == 0) {
            sup.stop(id, std::chrono::milliseconds(rng() % 50));
            due[static_cast<size_t>(id)] = TimePoint::max();
          }
          break;
        default:
          now += std::chrono::milliseconds(rng() % 400);
          for (const ChildEvent& e : sup.poll(now)) {
            const size_t i = static_cast<size_t>(e.id);
            if (e.kind == Kind::kExited) {
              ++exits;
              EXPECT_TRUE(os.reaped(e.pid));
            }
            if (e.kind == Kind::kRestartScheduled) {
              EXPECT_GE(e.restart_at, now);
              due[i] = e.restart_at;
            }
            if (e.kind == Kind::kStarted) {
              EXPECT_GE(now, due[i]) << "a restart before its time";
              due[i] = TimePoint::max();
            }
          }
      }
      for (int i = 0; i < n; ++i) {
        const pid_t p = sup.pid(i);
        if (p != 0) {
          EXPECT_FALSE(os.reaped(p)) << "child " << i << " runs as a reaped pid";
        }
      }
      ASSERT_EQ(os.misuse(), "") << "step " << step;
    }
    EXPECT_LE(exits, static_cast<int>(os.reaps().size())) << "an exit reported twice";
    sup.stop_all(100ms);
    EXPECT_EQ(os.unreaped(), 0);
    EXPECT_EQ(os.misuse(), "");
  }
}

}  // namespace
}  // namespace coedge::os
