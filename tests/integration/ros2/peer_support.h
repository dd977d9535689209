// What the Fast DDS peer tests share: a child process in its own group with its output in
// a file (the peer, coedge), JSON-lines files, a DDS domain per test process, and the
// peer's command line. Header-only, test code only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace coedge::test {

namespace fs = std::filesystem;

inline const std::string kPeer = COEDGE_BINARY_DIR "/tests/integration/ros2/coedge-ros2-peer";
inline const std::string kCoedgeBin = COEDGE_BINARY_DIR "/bin/coedge";

inline std::string read_file_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every complete line of a JSON-lines file, parsed (a torn last line is left out).
inline std::vector<nlohmann::json> read_json_lines(const fs::path& file) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) lines.push_back(std::move(j));
  }
  return lines;
}

// A DDS domain of this test process: 60..99, clear of the other integration tests' (master
// unaccounted 100..149, cluster 150..229, Prometheus 180..229), so that test processes
// running at the same time do not discover each other's peers.
inline int test_domain() { return 60 + static_cast<int>(getpid() % 40); }

// A program in its own process group with stdout and stderr into `log`.
class Child {
 public:
  Child(std::vector<std::string> argv, const fs::path& log) {
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
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { signal(SIGKILL); }

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
  // Waits for the exit (the guard kills it); the exit code, -1 if killed by a signal.
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

// The peer's arguments for this test process' domain on loopback.
inline std::vector<std::string> peer_command(const std::string& command, int domain) {
  return {kPeer, command, "--domain", std::to_string(domain), "--interface", "127.0.0.1", "--peer", "127.0.0.1"};
}

// header.stamp of a peer log or out line, in nanoseconds.
inline int64_t stamp_ns_of(const nlohmann::json& stamp) {
  return stamp["sec"].get<int64_t>() * 1000000000 + stamp["nanosec"].get<int64_t>();
}

}  // namespace coedge::test
