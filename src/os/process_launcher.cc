// Exits are detected with waitid(WNOWAIT) so that the exited leader, still a zombie,
// keeps its process-group id reserved while we kill the rest of its group; only then is
// it reaped. That way a kill(-pgid) can never hit a reused id.
#include "os/process_launcher.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "os/cgroup_limits.h"
#include "os/errno_text.h"
#include "os/fd.h"
#include "os/spawn.h"

namespace coedge::os {

namespace {

// Whether `pid` has exited, without reaping it. A pid that is no longer our child
// (ECHILD) counts as exited.
bool has_exited(pid_t pid) {
  siginfo_t info{};
  for (;;) {
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
      return info.si_pid == pid;
    }
    if (errno != EINTR) return true;
  }
}

ExitStatus decode(int status) {
  ExitStatus s;
  if (status >= 0 && WIFEXITED(status)) s.exit_code = WEXITSTATUS(status);
  if (status >= 0 && WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  return s;
}

}  // namespace

Result<pid_t> SystemLauncher::start(const LaunchSpec& spec) {
  Fd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) {
    return Error{ErrorCode::kIo, "cannot open /dev/null: " + errno_text(errno)};
  }
  Fd log;
  if (!spec.log_path.empty()) {
    log.reset(::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log.valid()) {
      return Error{ErrorCode::kIo,
                   "cannot open log file '" + spec.log_path + "': " + errno_text(errno)};
    }
  }
  std::vector<Fd> reopened;  // closed once the child has its copies
  SpawnOptions options;
  for (const PassFd& pass : spec.pass_fds) {
    if (!pass.reopen) {
      options.pass_fds.push_back(pass.fd);
      continue;
    }
    const std::string path = "/proc/self/fd/" + std::to_string(pass.fd);
    Fd fresh(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fresh.valid()) {
      return Error{ErrorCode::kIo,
                   "cannot reopen descriptor " + std::to_string(pass.fd) + ": " + errno_text(errno)};
    }
    options.pass_fds.push_back(fresh.get());
    reopened.push_back(std::move(fresh));
  }
  std::vector<Fd> cgroup_files;
  std::vector<int> cgroup_fds;
  std::string joined;
  for (const std::string& file : spec.join_cgroups) {
    Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return Error{ErrorCode::kIo, "cannot open cgroup file '" + file + "': " + errno_text(errno)};
    }
    cgroup_fds.push_back(fd.get());
    cgroup_files.push_back(std::move(fd));
    joined += (joined.empty() ? "" : "', '") + file;
  }
  if (!cgroup_fds.empty()) {
    const int* fds = cgroup_fds.data();
    const size_t n = cgroup_fds.size();
    options.before_exec = [fds, n] { return join_cgroups_in_child(fds, n); };
    options.before_exec_what = "cannot join cgroups '" + joined + "'";
  }
  options.env = spec.env;
  options.cwd = spec.cwd;
  options.stdin_fd = spec.stdin_fd >= 0 ? spec.stdin_fd : dev_null.get();
  options.stdout_fd = log.get();
  options.stderr_fd = log.get();
  options.own_process_group = true;
  options.die_with_parent = true;
  return os::spawn(spec.argv, options);
}

void SystemLauncher::signal_group(pid_t pid, int sig) { ::kill(-pid, sig); }

std::optional<ExitStatus> SystemLauncher::try_reap(pid_t pid) {
  if (!has_exited(pid)) return std::nullopt;
  return kill_and_reap(pid);
}

ExitStatus SystemLauncher::kill_and_reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  return decode(wait_for_exit(pid));
}

TimePoint SystemLauncher::now() { return MonotonicClock().now(); }

void SystemLauncher::sleep_for(Duration d) { std::this_thread::sleep_for(d); }

ProcessLauncher& system_launcher() {
  static SystemLauncher launcher;
  return launcher;
}

}  // namespace coedge::os
