// fork+exec rather than posix_spawn because a child needs PR_SET_PDEATHSIG, which
// posix_spawn cannot set. The agent has other threads, so between fork and exec the child
// only makes async-signal-safe calls: everything that allocates (argv, envp, the
// executable's path) or can fail in an interesting way (opening the log) is prepared
// by the parent. Exits are detected with waitid(WNOWAIT) so that the exited leader, still
// a zombie, keeps its process-group id reserved while we kill the rest of its group;
// only then is it reaped. That way a kill(-pgid) can never hit a reused id.
#include "node/process_supervisor.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;  // NOLINT: POSIX

namespace coedge::node {
namespace {

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// What the child reports through the pipe when it cannot exec.
struct ChildFailure {
  int stage;  // an index into kStageNames
  int error;  // errno
};
constexpr const char* kStageNames[] = {"cannot redirect stdio", "cannot enter working directory",
                                       "cannot execute"};
enum Stage { kStageDup = 0, kStageChdir = 1, kStageExec = 2 };

// Owns a file descriptor so that every error path of spawn() closes what it opened.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string errno_text(int err) { return std::strerror(err); }  // NOLINT(concurrency-mt-unsafe)

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Where execve finds `name`: as given when it has a slash, else the first match in
// `search_path` (the child's PATH). Empty when not found.
std::string resolve_executable(const std::string& name, const std::string& search_path) {
  if (name.find('/') != std::string::npos) return name;
  size_t begin = 0;
  while (begin <= search_path.size()) {
    size_t end = search_path.find(':', begin);
    if (end == std::string::npos) end = search_path.size();
    std::string dir = search_path.substr(begin, end - begin);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    begin = end + 1;
  }
  return {};
}

// The agent's environment with `extra` added (replacing variables of the same name).
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
// child execs with 0-2 only however many descriptors the agent has open.
void close_inherited_fds(int max_fd) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
  for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

[[noreturn]] void fail_in_child(int pipe_fd, Stage stage) {
  const ChildFailure failure{stage, errno};
  ssize_t n;
  do {
    n = ::write(pipe_fd, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::_exit(127);
}

}  // namespace

ProcessSupervisor::~ProcessSupervisor() { stop_all(kDestructorGrace); }

ProcessSupervisor::Child& ProcessSupervisor::child(int id) {
  COEDGE_CHECK(id >= 0 && static_cast<size_t>(id) < children_.size());
  return children_[static_cast<size_t>(id)];
}

const ProcessSupervisor::Child& ProcessSupervisor::child(int id) const {
  COEDGE_CHECK(id >= 0 && static_cast<size_t>(id) < children_.size());
  return children_[static_cast<size_t>(id)];
}

int ProcessSupervisor::add(ChildSpec spec) {
  COEDGE_CHECK(!spec.argv.empty());
  children_.push_back(Child{std::move(spec)});
  return static_cast<int>(children_.size()) - 1;
}

pid_t ProcessSupervisor::pid(int id) const {
  const Child& c = child(id);
  return c.state == State::kRunning ? c.pid : 0;
}

int ProcessSupervisor::restarts(int id) const { return std::max(0, child(id).starts - 1); }

Status ProcessSupervisor::start(int id, TimePoint now) {
  Child& c = child(id);
  if (c.state == State::kRunning) {
    return Error{
        ErrorCode::kInvalidInput,
        "cannot start '" + c.spec.name + "': already running as pid " + std::to_string(c.pid)};
  }
  c.consecutive_exits = 0;
  return spawn(c, now);
}

Duration ProcessSupervisor::next_delay(Child& c) {
  Duration delay = std::min(c.spec.backoff_initial, c.spec.backoff_max);
  for (int k = 0; k < c.consecutive_exits && delay < c.spec.backoff_max; ++k) {
    delay = std::min(delay * 2, c.spec.backoff_max);
  }
  ++c.consecutive_exits;
  return delay;
}

Status ProcessSupervisor::spawn(Child& c, TimePoint now) {
  const ChildSpec& spec = c.spec;
  const std::string who = "cannot start '" + spec.name + "'";

  std::string search_path;
  if (const char* p = std::getenv("PATH")) search_path = p;  // NOLINT(concurrency-mt-unsafe)
  for (const auto& [name, value] : spec.env) {
    if (name == "PATH") search_path = value;
  }
  std::string exe = resolve_executable(spec.argv.front(), search_path);
  if (exe.empty()) {
    return Error{ErrorCode::kNotFound,
                 who + ": '" + spec.argv.front() + "' not found in PATH '" + search_path + "'"};
  }

  Fd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (dev_null.get() < 0) {
    return Error{ErrorCode::kIo, who + ": cannot open /dev/null: " + errno_text(errno)};
  }
  Fd log;
  if (!spec.log_path.empty()) {
    log.reset(::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (log.get() < 0) {
      return Error{ErrorCode::kIo,
                   who + ": cannot open log file '" + spec.log_path + "': " + errno_text(errno)};
    }
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error{ErrorCode::kIo, who + ": pipe: " + errno_text(errno)};
  }
  Fd pipe_read(pipe_fds[0]);
  Fd pipe_write(pipe_fds[1]);

  std::vector<std::string> argv_strings = spec.argv;
  std::vector<char*> argv = c_strings(argv_strings);
  std::vector<std::string> env_strings = child_environment(spec.env);
  std::vector<char*> envp = c_strings(env_strings);
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  struct rlimit fd_limit {};
  const int max_fd =
      ::getrlimit(RLIMIT_NOFILE, &fd_limit) == 0 && fd_limit.rlim_cur != RLIM_INFINITY
          ? static_cast<int>(std::min<rlim_t>(fd_limit.rlim_cur, 1 << 20))
          : 65536;
  const pid_t parent = ::getpid();

  // Signals stay blocked across fork so that none of the agent's handlers runs in the
  // child before it has reset them to the default.
  sigset_t all;
  sigset_t old_mask;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the agent died before prctl took effect
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    if (!redirect(dev_null.get(), STDIN_FILENO)) fail_in_child(pipe_write.get(), kStageDup);
    if (log.get() >= 0 &&
        (!redirect(log.get(), STDOUT_FILENO) || !redirect(log.get(), STDERR_FILENO))) {
      fail_in_child(pipe_write.get(), kStageDup);
    }
    if (cwd != nullptr && ::chdir(cwd) != 0) fail_in_child(pipe_write.get(), kStageChdir);
    close_inherited_fds(max_fd);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(exe.c_str(), argv.data(), envp.data());
    fail_in_child(pipe_write.get(), kStageExec);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid < 0) return Error{ErrorCode::kIo, who + ": fork: " + errno_text(fork_errno)};

  // Also here, so that a kill(-pid) right after start() reaches the group even if the
  // child has not run yet; EACCES once it has exec'd is fine.
  ::setpgid(pid, pid);
  pipe_write.reset();
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(pipe_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure) && failure.stage >= kStageDup &&
      failure.stage <= kStageExec) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string what = kStageNames[failure.stage];
    if (failure.stage == kStageExec) what += " '" + exe + "'";
    if (failure.stage == kStageChdir) what += " '" + spec.cwd + "'";
    return Error{failure.error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 who + ": " + what + ": " + errno_text(failure.error)};
  }

  c.state = State::kRunning;
  c.pid = pid;
  c.started_at = now;
  ++c.starts;
  return Ok{};
}

namespace {

ChildEvent make_event(int id, const std::string& name, pid_t pid, ChildEvent::Kind kind,
                      TimePoint now) {
  ChildEvent e;
  e.id = id;
  e.name = name;
  e.pid = pid;
  e.kind = kind;
  e.at = now;
  return e;
}

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

// Kills what is left of the exited leader's group, then reaps the leader. Returns its
// wait status, or -1 when it was not ours to reap.
int reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, 0) == pid) return status;
    if (errno != EINTR) return -1;
  }
}

}  // namespace

std::vector<ChildEvent> ProcessSupervisor::poll(TimePoint now) {
  std::vector<ChildEvent> events;
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    const int id = static_cast<int>(i);
    if (c.state != State::kRunning || !has_exited(c.pid)) continue;
    const int status = reap(c.pid);
    ChildEvent exited = make_event(id, c.spec.name, c.pid, ChildEvent::Kind::kExited, now);
    if (status >= 0 && WIFEXITED(status)) exited.exit_code = WEXITSTATUS(status);
    if (status >= 0 && WIFSIGNALED(status)) exited.signal = WTERMSIG(status);
    events.push_back(std::move(exited));
    c.pid = 0;
    if (!c.spec.restart) {
      c.state = State::kIdle;
      continue;
    }
    if (now - c.started_at >= c.spec.stable_after) c.consecutive_exits = 0;
    c.state = State::kRestartPending;
    c.restart_at = now + next_delay(c);
    ChildEvent scheduled = make_event(id, c.spec.name, 0, ChildEvent::Kind::kRestartScheduled, now);
    scheduled.restart_at = c.restart_at;
    events.push_back(std::move(scheduled));
  }

  for (size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    const int id = static_cast<int>(i);
    if (c.state != State::kRestartPending || now < c.restart_at) continue;
    Status s = spawn(c, now);
    if (s) {
      ChildEvent started = make_event(id, c.spec.name, c.pid, ChildEvent::Kind::kStarted, now);
      events.push_back(std::move(started));
      continue;
    }
    ChildEvent failed = make_event(id, c.spec.name, 0, ChildEvent::Kind::kStartFailed, now);
    failed.message = s.error().message;
    events.push_back(std::move(failed));
    // A failed start backs off like a crash: the binary may be being replaced.
    c.restart_at = now + next_delay(c);
    ChildEvent scheduled = make_event(id, c.spec.name, 0, ChildEvent::Kind::kRestartScheduled, now);
    scheduled.restart_at = c.restart_at;
    events.push_back(std::move(scheduled));
  }
  return events;
}

void ProcessSupervisor::kill(int id, int sig) {
  const Child& c = child(id);
  if (c.state == State::kRunning) ::kill(-c.pid, sig);
}

void ProcessSupervisor::stop(int id, Duration grace) { terminate({id}, grace); }

void ProcessSupervisor::stop_all(Duration grace) {
  std::vector<int> ids(children_.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
  terminate(ids, grace);
}

void ProcessSupervisor::terminate(const std::vector<int>& ids, Duration grace) {
  std::vector<Child*> running;
  for (int id : ids) {
    Child& c = child(id);
    if (c.state == State::kRunning) {
      ::kill(-c.pid, SIGTERM);
      ::kill(-c.pid, SIGCONT);  // a stopped child would not see SIGTERM until continued
      running.push_back(&c);
    } else {
      c.state = State::kIdle;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    std::erase_if(running, [](Child* c) {
      if (!has_exited(c->pid)) return false;
      reap(c->pid);
      c->pid = 0;
      c->state = State::kIdle;
      return true;
    });
    if (running.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (Child* c : running) {
    reap(c->pid);  // SIGKILLs the whole group first
    c->pid = 0;
    c->state = State::kIdle;
  }
}

}  // namespace coedge::node
