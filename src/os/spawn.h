// Starting processes: the one fork/exec of the project. spawn() runs a program from an
// argv (never through a shell) with chosen descriptors as 0-2, an extended environment,
// a working directory, optionally in its own process group, dying with its parent, and
// with a caller's async-signal-safe step before exec (joining a network namespace or a
// cgroup), and chosen descriptors as 3, 4, 5... (a pipe for its answer, shared memory,
// a seccomp program). The wait helpers reap children without losing EINTR races.
//
// fork+exec rather than posix_spawn because a child may need PR_SET_PDEATHSIG, which
// posix_spawn cannot set. Between fork and exec the child makes async-signal-safe calls
// only: everything that allocates (argv, envp, the executable's path) is prepared by the
// parent, so spawn() is safe in a multi-threaded process. The child starts with every
// signal at its default disposition and none blocked, and inherits no descriptor but 0-2
// and SpawnOptions::pass_fds / fd3 (everything else is made close-on-exec). A failure
// between fork and exec (redirection,
// chdir, before_exec, exec itself) comes back to the parent through a close-on-exec pipe,
// so spawn() either returns a running process or says why not.
//
// Thread-safe: no state of its own. Caveats: PR_SET_PDEATHSIG fires when the *thread*
// that forked exits, and something else in the process that reaps every child
// (waitpid(-1), SIGCHLD set to SIG_IGN) steals the exit status.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "os/errno_text.h"
#include "os/fd.h"

namespace coedge::os {

struct SpawnOptions {
  // Added to this process's environment (replacing variables of the same name). A PATH
  // here is also where argv[0] is searched.
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;  // the child's working directory; empty: ours
  // Descriptors the child gets as stdin, stdout and stderr; -1: inherited from us.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // setpgid(0, 0): signals to -pid reach the child and its descendants, and a terminal's
  // Ctrl-C does not. Also done by the parent, so a kill(-pid) right after spawn() works.
  bool own_process_group = false;
  // PR_SET_PDEATHSIG(SIGKILL): the child dies with the thread that spawned it.
  bool die_with_parent = false;
  // A descriptor the child gets as descriptor 3 (e.g. the write end of a pipe on which it
  // answers); -1: none. Must be above 2. Shorthand for pass_fds = {fd3}: not both.
  int fd3 = -1;
  // Descriptors the child gets as 3, 4, 5...: pass_fds[i] becomes 3+i, whatever its
  // number here (a source that is itself in 3..3+n-1 is moved out of the way first),
  // without close-on-exec. The same descriptor may be listed twice. Each must be open
  // and above 2; the child shares its open file description (offset, flags) with us.
  std::vector<int> pass_fds;
  // Runs in the child after the redirections, before exec: async-signal-safe calls only.
  // Returns 0 or an errno, which fails the spawn with before_exec_what and that errno.
  std::function<int()> before_exec;
  std::string before_exec_what = "cannot prepare the child";
};

// Starts argv[0] — a path when it contains a '/', else searched in PATH (options.env's,
// else ours) — with argv. Returns the child's pid; the caller reaps it. Errors (no prefix:
// callers say who was started): kNotFound "'x' not found in PATH '...'" or an ENOENT from
// exec/chdir; kIo "cannot redirect stdio or pass descriptors: …", "cannot enter working directory '…': …",
// "<before_exec_what>: …", "cannot execute '/path': …", "fork: …", "pipe: …".
// REQUIRES !argv.empty().
Result<pid_t> spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// The first executable file `name` in the colon-separated `search_path` (an empty entry
// is "."), or `name` itself when it contains a '/'. Empty when not found.
std::string find_in_path(const std::string& name, const std::string& search_path);

// The entries of a colon-separated search path, in order (an empty one means ".").
std::vector<std::string> split_search_path(const std::string& search_path);

// Whether `path` is a regular file we may execute.
bool is_executable_file(const std::string& path);

// `name` in this program's folder (/proc/self/exe's); `name` alone if that cannot be read.
std::string sibling_executable(const std::string& name);

// Blocks until `pid` exits and reaps it. Returns its wait status, or -1 when it is not
// our child (already reaped).
int wait_for_exit(pid_t pid);

// Reaps `pid` if it has exited: its wait status, -1 when it is not our child (already
// reaped), nullopt while it runs.
std::optional<int> reap_if_exited(pid_t pid);

}  // namespace coedge::os
