// A program a test runs in the background: in its own process group (so that a signal
// reaches its children too), stdin from /dev/null, stdout and stderr into a log file. The
// destructor SIGKILLs and reaps the group, so a failed assertion leaves nothing running.
// Header-only, test code only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace coedge::test {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log) {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      const int null = open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, STDIN_FILENO);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { signal(SIGKILL); }

  bool started() const { return pid_ > 0; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }
  // Sends `sig` to the group; SIGKILL also reaps it.
  void signal(int sig) {
    if (pid_ <= 0) return;
    ::kill(-pid_, sig);
    if (sig == SIGKILL) {
      waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
  }
  // Waits for the exit (past `guard` it is killed); the exit code, -1 if killed by a signal.
  int wait(std::chrono::seconds guard) {
    const auto until = std::chrono::steady_clock::now() + guard;
    while (running()) {
      if (std::chrono::steady_clock::now() > until) {
        signal(SIGKILL);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

}  // namespace coedge::test
