// spawn() (see spawn.h). Signals stay blocked across fork so that none of the parent's
// handlers runs in the child before it has reset them to the default.
#include "os/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>

extern char** environ;  // NOLINT: POSIX

namespace coedge::os {
namespace {

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// What the child reports through the pipe when it cannot exec.
struct ChildFailure {
  int stage;  // a Stage
  int error;  // errno
};
enum Stage { kStageDup = 0, kStageChdir = 1, kStageBeforeExec = 2, kStageExec = 3 };

// This process's environment with `extra` added (replacing variables of the same name).
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    const bool replaced =
        std::any_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == name; });
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Async-signal-safe from here to the end of the namespace: these run in the child.

// dup2 that also clears close-on-exec when `fd` already is `target`.
bool redirect(int fd, int target) {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  while (::dup2(fd, target) < 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

// Marks every descriptor above 2 close-on-exec (the error pipe already is), so the
// child execs with 0-2 only however many descriptors the parent has open.
void close_inherited_fds(int max_fd) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
  for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

[[noreturn]] void fail_in_child(int pipe_fd, Stage stage, int error) {
  const ChildFailure failure{stage, error};
  ssize_t n;
  do {
    n = ::write(pipe_fd, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::_exit(127);
}

}  // namespace

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::vector<std::string> split_search_path(const std::string& search_path) {
  std::vector<std::string> dirs;
  size_t begin = 0;
  while (begin <= search_path.size()) {
    size_t end = search_path.find(':', begin);
    if (end == std::string::npos) end = search_path.size();
    dirs.push_back(search_path.substr(begin, end - begin));
    begin = end + 1;
  }
  return dirs;
}

std::string find_in_path(const std::string& name, const std::string& search_path) {
  if (name.find('/') != std::string::npos) return name;
  for (const std::string& dir : split_search_path(search_path)) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return {};
}

Result<pid_t> spawn(const std::vector<std::string>& argv_in, const SpawnOptions& options) {
  COEDGE_CHECK(!argv_in.empty());
  std::string search_path;
  if (const char* p = std::getenv("PATH")) search_path = p;  // NOLINT(concurrency-mt-unsafe)
  for (const auto& [name, value] : options.env) {
    if (name == "PATH") search_path = value;
  }
  const std::string exe = find_in_path(argv_in.front(), search_path);
  if (exe.empty()) {
    return Error{ErrorCode::kNotFound,
                 "'" + argv_in.front() + "' not found in PATH '" + search_path + "'"};
  }

  COEDGE_CHECK(options.fd3 < 0 || options.pass_fds.empty());
  std::vector<int> pass = options.pass_fds;
  if (options.fd3 >= 0) pass.push_back(options.fd3);
  for (int fd : pass) COEDGE_CHECK(fd > 2);
  const int first_free = 3 + static_cast<int>(pass.size());  // above every target
  Result<Pipe> pipe = make_pipe();
  if (!pipe.ok()) return pipe.error();
  if (!pass.empty() && pipe->write.get() < first_free) {  // a target would overwrite it
    const int moved = ::fcntl(pipe->write.get(), F_DUPFD_CLOEXEC, first_free);
    if (moved < 0) return Error{ErrorCode::kIo, "pipe: " + errno_text(errno)};
    pipe->write = Fd(moved);
  }
  const int report_fd = pipe->write.get();
  // The child's copies of `pass`, above every target (filled in by the child: allocated
  // here, since the child may not allocate).
  std::vector<int> staged(pass.size(), -1);

  std::vector<std::string> argv_strings = argv_in;
  std::vector<char*> argv = c_strings(argv_strings);
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  char** child_env = environ;
  if (!options.env.empty()) {
    env_strings = child_environment(options.env);
    envp = c_strings(env_strings);
    child_env = envp.data();
  }
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  struct rlimit fd_limit {};
  const int max_fd =
      ::getrlimit(RLIMIT_NOFILE, &fd_limit) == 0 && fd_limit.rlim_cur != RLIM_INFINITY
          ? static_cast<int>(std::min<rlim_t>(fd_limit.rlim_cur, 1 << 20))
          : 65536;
  const pid_t parent = ::getpid();
  const int redirects[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};

  sigset_t all;
  sigset_t old_mask;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (options.own_process_group) ::setpgid(0, 0);
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    for (int target = 0; target < 3; ++target) {
      if (redirects[target] >= 0 && !redirect(redirects[target], target)) {
        fail_in_child(report_fd, kStageDup, errno);
      }
    }
    if (cwd != nullptr && ::chdir(cwd) != 0) fail_in_child(report_fd, kStageChdir, errno);
    if (options.before_exec) {
      const int err = options.before_exec();
      if (err != 0) fail_in_child(report_fd, kStageBeforeExec, err);
    }
    // Two steps, so that a source that is some other entry's target is not overwritten
    // before it is copied: first every source above the targets, then into place.
    for (size_t i = 0; i < pass.size(); ++i) {
      staged[i] = ::fcntl(pass[i], F_DUPFD_CLOEXEC, first_free);
      if (staged[i] < 0) fail_in_child(report_fd, kStageDup, errno);
    }
    close_inherited_fds(max_fd);
    for (size_t i = 0; i < staged.size(); ++i) {
      if (!redirect(staged[i], 3 + static_cast<int>(i))) fail_in_child(report_fd, kStageDup, errno);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(exe.c_str(), argv.data(), child_env);
    fail_in_child(report_fd, kStageExec, errno);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid < 0) return Error{ErrorCode::kIo, "fork: " + errno_text(fork_errno)};

  // EACCES once the child has exec'd is fine.
  if (options.own_process_group) ::setpgid(pid, pid);
  pipe->write.reset();
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(pipe->read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure) && failure.stage >= kStageDup &&
      failure.stage <= kStageExec) {
    (void)wait_for_exit(pid);
    std::string what;
    switch (failure.stage) {
      case kStageDup: what = "cannot redirect stdio or pass descriptors"; break;
      case kStageChdir: what = "cannot enter working directory '" + options.cwd + "'"; break;
      case kStageBeforeExec: what = options.before_exec_what; break;
      default: what = "cannot execute '" + exe + "'"; break;
    }
    return Error{failure.error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 what + ": " + errno_text(failure.error)};
  }
  return pid;
}

std::string sibling_executable(const std::string& name) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? name : (self.parent_path() / name).string();
}

int wait_for_exit(pid_t pid) {
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, 0) == pid) return status;
    if (errno != EINTR) return -1;
  }
}

std::optional<int> reap_if_exited(pid_t pid) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r == 0) return std::nullopt;
    if (errno != EINTR) return -1;
  }
}

}  // namespace coedge::os
