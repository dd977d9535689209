// Running ip/tc without a shell: os::spawn with stdin on a socket pair (written with
// MSG_NOSIGNAL, so a program that exits early cannot SIGPIPE us) and stdout/stderr on pipes,
// drained together with poll() so that neither can fill up and deadlock the child.
#include "os/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "os/errno_text.h"
#include "os/fd.h"
#include "os/spawn.h"

namespace coedge::os {
namespace {

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
  if (const char* path = std::getenv("PATH")) {  // NOLINT(concurrency-mt-unsafe)
    for (std::string& dir : split_search_path(path)) dirs.push_back(dir.empty() ? "." : std::move(dir));
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
  Result<Pipe> out_pipe = make_pipe();
  if (!out_pipe) return Error{ErrorCode::kIo, out_pipe.error().message + " for `" + command_line(argv) + "`"};
  Fd out_read = std::move(out_pipe->read), out_write = std::move(out_pipe->write);
  Result<Pipe> err_pipe = make_pipe();
  if (!err_pipe) return Error{ErrorCode::kIo, err_pipe.error().message + " for `" + command_line(argv) + "`"};
  Fd err_read = std::move(err_pipe->read), err_write = std::move(err_pipe->write);

  SpawnOptions spawn_options;
  spawn_options.stdin_fd = in_child.get();
  spawn_options.stdout_fd = out_write.get();
  spawn_options.stderr_fd = err_write.get();
  std::vector<std::string> resolved = argv;
  resolved[0] = *program;
  Result<pid_t> spawned = spawn(resolved, spawn_options);
  if (!spawned)
    return Error{spawned.error().code, "cannot start `" + command_line(argv) + "`: " + spawned.error().message};
  const pid_t pid = *spawned;
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
      const int err = errno;
      ::kill(pid, SIGKILL);
      (void)wait_for_exit(pid);
      return Error{ErrorCode::kIo, "poll while running `" + command_line(argv) + "`: " + errno_text(err)};
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
  const int status = wait_for_exit(pid);
  if (status < 0) return Error{ErrorCode::kIo, "waitpid for `" + command_line(argv) + "`: " + errno_text(ECHILD)};
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

}  // namespace coedge::os
