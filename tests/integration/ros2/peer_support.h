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

#include "support/child_process.h"

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

using Child = ChildProcess;  // tests/support/child_process.h

// The peer's arguments for this test process' domain on loopback.
inline std::vector<std::string> peer_command(const std::string& command, int domain) {
  return {kPeer, command, "--domain", std::to_string(domain), "--interface", "127.0.0.1", "--peer", "127.0.0.1"};
}

// header.stamp of a peer log or out line, in nanoseconds.
inline int64_t stamp_ns_of(const nlohmann::json& stamp) {
  return stamp["sec"].get<int64_t>() * 1000000000 + stamp["nanosec"].get<int64_t>();
}

}  // namespace coedge::test
