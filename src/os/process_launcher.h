// What ProcessSupervisor asks of the operating system, behind an interface so that its
// logic (restarts, backoff, retirement, shutdown) can be tested on a manual clock with a
// fake that decides when a child exits (DESIGN: "inject the environment"). A launcher
// starts a child from a LaunchSpec, signals its process group, reaps it, and supplies the
// time and the short sleeps of a bounded wait (ProcessSupervisor::stop()), so the
// supervisor itself never reads a clock or sleeps.
//
// SystemLauncher is the real one: os::spawn (the child leads its own process group, dies
// with the thread that started it, stdin /dev/null or LaunchSpec::stdin_fd, no descriptor
// but 0-2 and LaunchSpec::pass_fds, in the LaunchSpec's cgroups, stdout and stderr
// appended to the log file), ::kill
// on the group, waitid/waitpid, the monotonic
// clock. It holds no state: one instance (system_launcher()) serves every supervisor, from
// any thread. A fake for tests lives in tests/unit/os/fake_process_launcher.h.
//
// A child is named by its pid, which is also its process-group id. The supervisor keeps
// that id reserved until it is done with the group: try_reap() and kill_and_reap() SIGKILL
// what is left of the group *before* reaping the leader, and after a child is reaped the
// supervisor sends its pid no more signals.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge::os {

// A descriptor handed to a child (LaunchSpec::pass_fds).
struct PassFd {
  int fd = -1;  // ours; the caller keeps it open while the child may be (re)started
  // false: the child shares our open file description (its offset and status flags).
  // true: every start gets a new one, opened read-only from /proc/self/fd/<fd> just
  // before the fork, so a reader that read() it to its end (bwrap's --seccomp) finds it
  // at offset 0 again after a restart. Only for what can be reopened that way (a
  // memfd or a regular file; not a pipe's write end, not a socket).
  bool reopen = false;
};

// How to start a child process (ProcessSupervisor's ChildSpec adds its restart policy).
struct LaunchSpec {
  std::string name;               // for logs and events, e.g. "t0/pre"
  std::vector<std::string> argv;  // argv[0]: an absolute path, or a name searched in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to the agent's environment
  std::string cwd;       // working directory; empty: the agent's
  std::string log_path;  // stdout and stderr appended here; empty: inherited
  // The child's stdin: a descriptor the caller keeps open while the child may be
  // (re)started, e.g. a sealed_memory_file (os/fd.h), which every start reads from its
  // beginning; -1: /dev/null.
  int stdin_fd = -1;
  // Descriptors the child gets as 3, 4, 5... (pass_fds[i] as 3+i), at every start. Not
  // owned: the caller keeps them open as long as the child may be (re)started.
  std::vector<PassFd> pass_fds;
  // cgroup.procs files (TaskCgroup::join_files()) the child joins before it executes
  // argv, so that it and everything it starts run inside. Opened by the parent, written
  // by the child.
  std::vector<std::string> join_cgroups;
};

// How a reaped child ended.
struct ExitStatus {
  int exit_code = -1;  // by exit(): its status; otherwise -1
  int signal = 0;      // by a signal: its number; otherwise 0 (both unset: not ours to reap)
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;

  // Starts a child as described, leading a process group of its own (pid == pgid), dying
  // with the thread that started it. Returns its pid once it runs the program. Errors
  // have no prefix (the caller names the child): "cannot open /dev/null: …", "cannot open
  // log file '…': …", "cannot reopen descriptor N: …", "cannot open cgroup file '…': …",
  // "cannot join cgroups '…': …", or os::spawn's (executable not found, cwd, exec failure).
  // REQUIRES !spec.argv.empty().
  virtual Result<pid_t> start(const LaunchSpec& spec) = 0;

  // Sends `sig` to the process group `pid` leads. REQUIRES: `pid` was started here and
  // not yet reaped.
  virtual void signal_group(pid_t pid, int sig) = 0;

  // Whether the child has exited; if so, SIGKILLs what is left of its group, reaps it and
  // says how it ended (a pid that is not our child counts as exited, with an unset
  // ExitStatus). nullopt while it runs. Does not block.
  virtual std::optional<ExitStatus> try_reap(pid_t pid) = 0;

  // SIGKILLs the child's whole group, then blocks until the child exits and reaps it.
  virtual ExitStatus kill_and_reap(pid_t pid) = 0;

  // The time of a bounded wait (stop()'s grace), and a short pause between checks. Only
  // used while waiting for children to exit; `now` given to the supervisor's other calls
  // is the caller's.
  virtual TimePoint now() = 0;
  virtual void sleep_for(Duration d) = 0;
};

// The real launcher: the operating system and the monotonic clock (see the top).
class SystemLauncher final : public ProcessLauncher {
 public:
  Result<pid_t> start(const LaunchSpec& spec) override;
  void signal_group(pid_t pid, int sig) override;
  std::optional<ExitStatus> try_reap(pid_t pid) override;
  ExitStatus kill_and_reap(pid_t pid) override;
  TimePoint now() override;
  void sleep_for(Duration d) override;
};

// The process's one SystemLauncher (stateless; lives as long as the program).
ProcessLauncher& system_launcher();

}  // namespace coedge::os
