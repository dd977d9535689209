// Shared pieces of the config tests: a small valid scenario whose line numbers the error
// tests rely on, a way to change one of its lines, and a field-by-field comparison of
// scenarios (the core structs have no operator==).
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "config/scenario_loader.h"
#include "core/scenario.h"

namespace coedge::testing {

inline const std::string kDataDir = COEDGE_SOURCE_DIR "/tests/data/config";

// Line numbers matter: the error tests replace a numbered line of this text.
inline const std::string kBase =
    "name: t\n"                                                 //  1
    "models:\n"                                                 //  2
    "  - name: m1\n"                                            //  3
    "    input_shape: [3, 32, 32]\n"                            //  4
    "    exe_ms: [10, 18, 25, 31, 36, 40, 44, 48, 52, 56]\n"    //  5
    "  - name: m2\n"                                            //  6
    "    input_shape: [3, 64, 64]\n"                            //  7
    "    exe_ms: [20, 30, 40, 50, 60, 70, 80, 90, 100, 110]\n"  //  8
    "nodes:\n"                                                  //  9
    "  - name: n1\n"                                            // 10
    "  - name: n2\n"                                            // 11
    "    cpu_cores: 2\n"                                        // 12
    "network:\n"                                                // 13
    "  default_mbps: 50\n"                                      // 14
    "  links:\n"                                                // 15
    "    - between: [n1, n2]\n"                                 // 16
    "      mbps: 100\n"                                         // 17
    "tasks:\n"                                                  // 18
    "  - name: a\n"                                             // 19
    "    source: n1\n"                                          // 20
    "    model: m1\n"                                           // 21
    "    period: 100ms\n"                                       // 22
    "  - name: b\n"                                             // 23
    "    source: n2\n"                                          // 24
    "    model: m2\n"                                           // 25
    "    period: 200ms\n"                                       // 26
    "    deadline: 150ms\n"                                     // 27
    "events:\n"                                                 // 28
    "  - at: 10s\n"                                             // 29
    "    link: [n1, n2]\n"                                      // 30
    "    mbps: 10\n";                                           // 31

// `text` with lines first..last (1-based, inclusive) replaced by `replacement` (which may
// hold several lines, or none when empty).
inline std::string replace_lines(const std::string& text, int first, int last,
                                 const std::string& replacement) {
  std::istringstream in(text);
  std::string line, out;
  for (int n = 1; std::getline(in, line); ++n) {
    if (n == first && !replacement.empty()) out += replacement + "\n";
    if (n < first || n > last) out += line + "\n";
  }
  return out;
}
inline std::string replace_line(int line, const std::string& replacement) {
  return replace_lines(kBase, line, line, replacement);
}

// Parses `text` as "x.yaml" and checks that it fails with a message that starts with
// "x.yaml:LINE: PATH: " and contains `reason`.
// Whether `error` is bad input reported as "x.yaml:LINE: PATH: ..." containing `reason`.
inline ::testing::AssertionResult error_matches(const Error& error, int line,
                                                const std::string& path,
                                                const std::string& reason) {
  const std::string& msg = error.message;
  const std::string prefix =
      "x.yaml:" + std::to_string(line) + ": " + (path.empty() ? "" : path + ": ");
  if (msg.rfind(prefix, 0) != 0)
    return ::testing::AssertionFailure() << "message '" << msg << "' does not start with '"
                                         << prefix << "'";
  if (msg.find(reason) == std::string::npos)
    return ::testing::AssertionFailure() << "message '" << msg << "' lacks '" << reason << "'";
  if (error.code != ErrorCode::kInvalidInput)
    return ::testing::AssertionFailure() << "wrong error code for '" << msg << "'";
  return ::testing::AssertionSuccess() << msg;
}

inline ::testing::AssertionResult fails_with(const std::string& text, int line,
                                             const std::string& path,
                                             const std::string& reason) {
  Result<Scenario> r = config::parse_scenario(text, "x.yaml", kDataDir);
  if (r.ok()) return ::testing::AssertionFailure() << "parsed without error:\n" << text;
  return error_matches(r.error(), line, path, reason);
}

inline void expect_same_model(const ModelProfile& a, const ModelProfile& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.input_shape, b.input_shape) << a.name;
  EXPECT_EQ(a.input_bytes, b.input_bytes) << a.name;
  EXPECT_EQ(a.exe_time, b.exe_time) << a.name;
  EXPECT_EQ(a.pre_time, b.pre_time) << a.name;
  EXPECT_EQ(a.post_time, b.post_time) << a.name;
  EXPECT_EQ(a.profile_source, b.profile_source) << a.name;
}

// Everything but source_file, which names where each copy was read from.
inline void expect_same_scenario(const Scenario& a, const Scenario& b) {
  EXPECT_EQ(a.name, b.name);
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].name, b.nodes[i].name);
    EXPECT_EQ(a.nodes[i].cpu_cores, b.nodes[i].cpu_cores);
  }
  EXPECT_EQ(a.network.default_mbps, b.network.default_mbps);
  EXPECT_EQ(a.network.default_latency, b.network.default_latency);
  ASSERT_EQ(a.network.adjacency.size(), b.network.adjacency.size());
  for (size_t i = 0; i < a.network.adjacency.size(); ++i) {
    ASSERT_EQ(a.network.adjacency[i].size(), b.network.adjacency[i].size()) << "node " << i;
    for (size_t j = 0; j < a.network.adjacency[i].size(); ++j) {
      const Link& x = a.network.adjacency[i][j];
      const Link& y = b.network.adjacency[i][j];
      EXPECT_EQ(x.peer, y.peer);
      EXPECT_EQ(x.mbps, y.mbps);
      EXPECT_EQ(x.latency, y.latency);
    }
  }
  ASSERT_EQ(a.models.size(), b.models.size());
  for (size_t i = 0; i < a.models.size(); ++i) expect_same_model(a.models[i], b.models[i]);
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (size_t i = 0; i < a.tasks.size(); ++i) {
    const TaskSpec& x = a.tasks[i];
    const TaskSpec& y = b.tasks[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.source, y.source) << x.name;
    EXPECT_EQ(x.model, y.model) << x.name;
    EXPECT_EQ(x.period, y.period) << x.name;
    EXPECT_EQ(x.deadline, y.deadline) << x.name;
    EXPECT_EQ(x.priority, y.priority) << x.name;
    EXPECT_EQ(x.epsilon, y.epsilon) << x.name;
  }
  ASSERT_EQ(a.link_changes.size(), b.link_changes.size());
  for (size_t i = 0; i < a.link_changes.size(); ++i) {
    EXPECT_EQ(a.link_changes[i].at, b.link_changes[i].at);
    EXPECT_EQ(a.link_changes[i].a, b.link_changes[i].a);
    EXPECT_EQ(a.link_changes[i].b, b.link_changes[i].b);
    EXPECT_EQ(a.link_changes[i].mbps, b.link_changes[i].mbps);
  }
  EXPECT_EQ(a.run.duration, b.run.duration);
  EXPECT_EQ(a.run.window, b.run.window);
  EXPECT_EQ(a.run.seed, b.run.seed);
  EXPECT_EQ(a.run.release_jitter, b.run.release_jitter);
  EXPECT_EQ(a.run.random_phase, b.run.random_phase);
  EXPECT_EQ(a.run.exec_jitter, b.run.exec_jitter);
}

}  // namespace coedge::testing
