// Running ip/tc without a shell: posix_spawn with stdin on a socket pair (written with
// MSG_NOSIGNAL, so a program that exits early cannot SIGPIPE us) and stdout/stderr on pipes,
// drained together with poll() so that neither can fill up and deadlock the child.
#include "cluster/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace coedge::cluster {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
 private:
  int fd_ = -1;
};

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

bool shell_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("-_./:=,+@%", c) != nullptr;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    bool safe = !arg.empty();
    for (char c : arg) safe = safe && shell_safe(c);
    if (safe) {
      line += arg;
    } else {
      line += '\'';
      for (char c : arg) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
      line += '\'';
    }
  }
  return line;
}

Result<std::string> find_program(const std::string& name) {
  if (name.empty()) return Error{ErrorCode::kInvalidInput, "empty program name"};
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name)) return name;
    return Error{ErrorCode::kNotFound, "program '" + name + "' does not exist or is not executable"};
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      dirs.push_back(end == start ? "." : p.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.emplace_back(d);
  std::string searched;
  for (const std::string& dir : dirs) {
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (!searched.empty()) searched += ':';
    searched += dir;
  }
  return Error{ErrorCode::kNotFound,
               "program '" + name + "' not found (searched " + searched + "); install it (ip and tc come with iproute2)"};
}

Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                  const CommandOptions& options) {
  if (argv.empty()) return Error{ErrorCode::kInvalidInput, "run_command: empty argv"};
  Result<std::string> program = find_program(argv[0]);
  if (!program) return program.error();

  int in_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
    return Error{ErrorCode::kIo, "socketpair for `" + command_line(argv) + "`: " + errno_text(errno)};
  Fd in_child(in_pair[0]), in_parent(in_pair[1]);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return Error{ErrorCode::kIo, "pipe for `" + command_line(argv) + "`: " + errno_text(errno)};
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return Error{ErrorCode::kIo, "pipe for `" + command_line(argv) + "`: " + errno_text(errno)};
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_child.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGCHLD);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program->c_str(), &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return Error{ErrorCode::kIo, "cannot start `" + command_line(argv) + "`: " + errno_text(rc)};
  in_child.reset();
  out_write.reset();
  err_write.reset();

  CommandResult result;
  size_t written = 0;
  if (options.input.empty()) {
    in_parent.reset();
  } else {
    ::fcntl(in_parent.get(), F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool timed_out = false;
  char buf[8192];
  while (out_read.get() >= 0 || err_read.get() >= 0) {
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_read.get() >= 0) { out_i = n; fds[n++] = {out_read.get(), POLLIN, 0}; }
    if (err_read.get() >= 0) { err_i = n; fds[n++] = {err_read.get(), POLLIN, 0}; }
    if (in_parent.get() >= 0) { in_i = n; fds[n++] = {in_parent.get(), POLLOUT, 0}; }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int ready = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return Error{ErrorCode::kIo, "poll while running `" + command_line(argv) + "`: " + errno_text(errno)};
    }
    if (in_i >= 0 && fds[in_i].revents != 0) {
      if (fds[in_i].revents & (POLLERR | POLLHUP)) {
        in_parent.reset();  // the program stopped reading; the rest of the input is dropped
      } else {
        ssize_t w = ::send(in_parent.get(), options.input.data() + written,
                           options.input.size() - written, MSG_NOSIGNAL);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == options.input.size())
          in_parent.reset();
      }
    }
    auto drain = [&](int index, Fd& fd, std::string& sink) {
      if (index < 0 || fds[index].revents == 0) return;
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r > 0) sink.append(buf, static_cast<size_t>(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) fd.reset();
    };
    drain(out_i, out_read, result.out);
    drain(err_i, err_read, result.err);
  }
  in_parent.reset();
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Error{ErrorCode::kIo, "waitpid for `" + command_line(argv) + "`: " + errno_text(errno)};
  }
  if (timed_out)
    return Error{ErrorCode::kIo, "`" + command_line(argv) + "` did not finish within " +
                                     format_duration(options.timeout) + " and was killed; stderr: " +
                                     trim(result.err)};
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

Result<std::string> run_checked(const std::vector<std::string>& argv, const CommandOptions& options) {
  Result<CommandResult> r = run_command(argv, options);
  if (!r) return r.error();
  if (r->succeeded()) return std::move(r->out);
  std::string how = r->term_signal != 0 ? "was killed by signal " + std::to_string(r->term_signal)
                                        : "exited with status " + std::to_string(r->exit_code);
  std::string err = trim(r->err);
  return Error{ErrorCode::kIo, "`" + command_line(argv) + "` " + how +
                                   (err.empty() ? std::string(" (no stderr)") : ": " + err)};
}

}  // namespace coedge::cluster

namespace coedge::cluster {

Status require_root() {
  if (::geteuid() == 0) return Ok{};
  return Error{ErrorCode::kUnsupported,
               "coedge cluster needs root to create network namespaces, links and CPU limits; run it "
               "with sudo"};
}

Status validate_name(std::string_view what, const std::string& name) {
  constexpr size_t kMaxName = 40;
  if (name.empty()) return Error{ErrorCode::kInvalidInput, std::string(what) + " is empty"};
  if (name.size() > kMaxName)
    return Error{ErrorCode::kInvalidInput, std::string(what) + " '" + name + "' is " +
                                               std::to_string(name.size()) + " characters long; at most " +
                                               std::to_string(kMaxName) + " are allowed"};
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-';
    if (!ok)
      return Error{ErrorCode::kInvalidInput, std::string(what) + " '" + name +
                                                 "' may contain only letters, digits, '_' and '-'"};
  }
  return Ok{};
}

Status kill_until_gone(const std::function<std::vector<pid_t>()>& list, Duration bound,
                       const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  const pid_t self = ::getpid();
  auto delay = std::chrono::microseconds(200);
  while (true) {
    std::vector<pid_t> pids = list();
    pids.erase(std::remove_if(pids.begin(), pids.end(), [&](pid_t p) { return p <= 0 || p == self; }),
               pids.end());
    if (pids.empty()) return Ok{};
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string left;
      for (pid_t p : pids) left += (left.empty() ? "" : " ") + std::to_string(p);
      return Error{ErrorCode::kIo, "processes still inside " + what + " " + format_duration(bound) +
                                       " after SIGKILL: " + left};
    }
    for (pid_t p : pids) ::kill(p, SIGKILL);
    ::usleep(static_cast<useconds_t>(delay.count()));
    delay = std::min<std::chrono::microseconds>(delay * 2, std::chrono::milliseconds(20));
  }
}

}  // namespace coedge::cluster
