// Supervises the node agent's child processes (task workers, the inference server):
// starts them, restarts a child that exits with a delay that doubles per consecutive
// crash, retires one without restart, and stops them all without leaving any behind. The
// OS is reached through a ProcessLauncher (os/process_launcher.h; by default the system's:
// os::spawn, each child in its own process group so signals reach its descendants, dying
// with the agent through PR_SET_PDEATHSIG, inheriting no file descriptor but 0-2 and the
// spec's pass_fds (again at every restart), stdin /dev/null unless the spec names one).
// Time is injected: poll(), start() and retire() take `now`; stop() and stop_all() wait
// through the launcher (real time with the system's, a test's clock with a fake), so
// every decision can be tested on a manual clock.
//
// Not thread-safe: one thread (the agent's supervision loop) owns it. With the system
// launcher that thread must live as long as the children: PR_SET_PDEATHSIG fires when the
// *thread* that forked a child exits, not only the process. The agent must not set SIGCHLD
// to SIG_IGN (children would be reaped by the kernel and their exit status lost), and
// nothing else in the process may waitpid(-1).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "os/process_launcher.h"

namespace coedge::os {

// What to start (name, argv, env, cwd, log_path, pass_fds: LaunchSpec) and how to
// restart it. The supervisor does not own the descriptors a spec names (stdin_fd,
// pass_fds): the caller keeps them open as long as the child may be (re)started.
struct ChildSpec : LaunchSpec {
  // The restart delay: backoff_initial after the first exit, doubled per consecutive
  // exit up to backoff_max; a child that ran for stable_after starts again from
  // backoff_initial.
  Duration backoff_initial = std::chrono::milliseconds(100);
  Duration backoff_max = std::chrono::seconds(5);
  Duration stable_after = std::chrono::seconds(10);
  bool restart = true;  // false: an exited child stays down
};

struct ChildEvent {
  enum class Kind {
    kStarted,           // pid is the new process
    kExited,            // exit_code or signal says how; pid is the old process
    kRestartScheduled,  // restart_at says when
    kStartFailed,       // a restart could not exec; message says why (another is scheduled)
  };
  int id = -1;
  std::string name;
  pid_t pid = 0;
  Kind kind = Kind::kStarted;
  int exit_code = -1;      // kExited by exit(): its status; otherwise -1
  int signal = 0;          // kExited by a signal: its number; otherwise 0
  TimePoint at{};          // the `now` of the call that saw it
  TimePoint restart_at{};  // kRestartScheduled only
  std::string message;     // kStartFailed only
  bool retired = false;    // kExited after retire(): not restarted
};

class ProcessSupervisor {
 public:
  // Starts children with the system launcher.
  ProcessSupervisor() : ProcessSupervisor(system_launcher()) {}
  // REQUIRES: `launcher` outlives the supervisor (its destructor stops the children).
  explicit ProcessSupervisor(ProcessLauncher& launcher) : launcher_(&launcher) {}
  ProcessSupervisor(const ProcessSupervisor&) = delete;
  ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;
  ~ProcessSupervisor();  // stop_all(kDestructorGrace)

  static constexpr Duration kDestructorGrace = std::chrono::seconds(1);
  // stop()'s pause between two checks for exited children.
  static constexpr Duration kStopPollInterval = std::chrono::milliseconds(5);

  // Registers a child without starting it; ids are 0, 1, 2... REQUIRES !spec.argv.empty().
  int add(ChildSpec spec);

  // Starts a child that is not running (also one that was stopped, or is waiting for a
  // restart). Errors name the child and the path: executable not found, cwd or log file
  // unusable, exec failure (its errno comes back through a close-on-exec pipe).
  Status start(int id, TimePoint now);

  // Reaps the children that exited (killing what is left of their process group),
  // schedules their restarts and starts the restarts that are due at `now`. Returns
  // what happened, in order. Called periodically by the agent's loop.
  std::vector<ChildEvent> poll(TimePoint now);

  // Sends `sig` to the child's process group (e.g. a hung worker). The exit shows up in
  // the next poll(), which restarts it as for any exit. No-op when not running.
  void kill(int id, int sig = SIGKILL);

  // Stops one child without restart and without waiting (a node's task leaving it):
  // SIGTERM to its group now; poll() reaps it (a kExited event with `retired` set, no
  // restart) and SIGKILLs the group if it still runs at now + grace. start() may bring it
  // back later (a retiring child still running is killed first).
  void retire(int id, TimePoint now, Duration grace);

  // Stops one child without restart, for an ordered shutdown (workers, then the server):
  // SIGTERM (and SIGCONT) to its group, up to `grace` of the launcher's time, then
  // SIGKILL; reaped on return. A pending restart is cancelled.
  void stop(int id, Duration grace);

  // stop() for all children at once (one shared grace period). No child process, zombie
  // or member of a child's process group remains afterwards.
  void stop_all(Duration grace);

  pid_t pid(int id) const;     // 0 when not running (a retiring child is not running)
  bool retiring(int id) const;  // retire()d and not yet reaped
  int restarts(int id) const;  // starts after the first (by poll() or start())
  bool running(int id) const { return pid(id) != 0; }
  size_t size() const { return children_.size(); }

 private:
  enum class State { kIdle, kRunning, kRestartPending, kRetiring };
  struct Child {
    ChildSpec spec;
    State state = State::kIdle;
    pid_t pid = 0;
    TimePoint started_at{};
    TimePoint restart_at{};
    TimePoint kill_at{};  // kRetiring: SIGKILL from then on
    int starts = 0;
    int consecutive_exits = 0;
  };

  Child& child(int id);
  const Child& child(int id) const;
  Status spawn(Child& c, TimePoint now);
  // The delay before the next restart; counts the exit.
  static Duration next_delay(Child& c);
  // Sends SIGTERM, waits up to `grace`, SIGKILLs and reaps the children in `ids`.
  void terminate(const std::vector<int>& ids, Duration grace);

  ProcessLauncher* launcher_;
  std::vector<Child> children_;
};

}  // namespace coedge::os
