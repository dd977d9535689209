// A real `coedge master` refuses hostile samples, counts them in summary.json and its log,
// and its run stays accounted (master/report_checks.h, docs/METRICS.md "Refused samples").
// No real node: this test is node u1 on loopback DDS (its reports, its camera's source
// statistics) and, beside it, a peer sending bad samples: a report with a NaN latency sum,
// a report about a node the scenario does not have, source statistics naming an unknown
// node, and — when src/net writes each node in its own partition (the writers take a name)
// — a report about u1 written as node u2. When the master asks the nodes to stop, u1 sends
// its final report and the master ends.
//
// Deterministic in what it asserts: that each kind of bad sample was refused at least once
// (each is sent again and again, apart from u1's own reports so that no KEEP_LAST 1 reader
// overwrites it), never how many or when; and that u1's accounting is exactly what it
// reported.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "net/dds.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace net = coedge::net;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Whether src/net's writers of a node's topics take the node's name (its partition: then a
// reader learns the sender). Both APIs are served, so this test runs either way.
template <typename D>
constexpr bool kNamedWriters = requires(D& d) { net::ReportWriter::create(d, std::string()); };

template <typename D>
auto report_writer(D& domain, const std::string& node) {
  if constexpr (kNamedWriters<D>) return net::ReportWriter::create(domain, node);
  else return net::ReportWriter::create(domain);
}
template <typename D>
auto stats_writer(D& domain, const std::string& camera) {
  if constexpr (requires { net::SourceStatsWriter::create(domain, camera); })
    return net::SourceStatsWriter::create(domain, camera);
  else return net::SourceStatsWriter::create(domain);
}

class MasterRefusesSamples : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-refuses-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    domain_ = 150 + getpid() % 50;  // clear of the other tests' 100-149
  }
  void TearDown() override {
    if (master_ > 0) {
      kill(master_, SIGKILL);
      waitpid(master_, nullptr, 0);
    }
    if (HasFailure()) std::fprintf(stderr, "---- master.log\n%s\n", read_text(dir_ / "master.log").c_str());
    fs::remove_all(dir_);
  }

  fs::path dir_;
  int domain_ = 0;
  pid_t master_ = -1;
};

TEST_F(MasterRefusesSamples, BadSamplesAreRefusedCountedAndTheRunStaysAccounted) {
  std::ofstream(dir_ / "s.yaml") << "name: refuses\n"
                                    "profiles: " COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml\n"
                                    "run: {duration: 5s, window: 1s, seed: 1}\n"
                                    "nodes:\n  - {name: u1, cpu_cores: 1}\n  - {name: u2, cpu_cores: 1}\n"
                                    "tasks:\n  - {name: cam, source: u1, model: yolov5s-160, period: 250ms}\n";
  std::vector<std::string> master = {kCoedge, "master", "--scenario", (dir_ / "s.yaml").string(),
                                     "--duration", "2s", "--window", "1s", "--wait-for-nodes", "60s",
                                     "--out", (dir_ / "master").string(), "--domain", std::to_string(domain_),
                                     "--dds-interface", "127.0.0.1", "--dds-peer", "127.0.0.1"};
  net::DdsOptions options;
  options.domain = static_cast<uint32_t>(domain_);
  options.interface_address = "127.0.0.1";
  options.peers = {"127.0.0.1"};
  auto domain = net::DdsDomain::create(options);
  ASSERT_TRUE(domain.ok()) << domain.error().message;
  net::DdsDomain& d = **domain;
  auto u1 = report_writer(d, "u1");
  auto u2 = report_writer(d, "u2");
  auto rogue = report_writer(d, "stranger");
  auto camera = stats_writer(d, "u1");
  auto commands = net::CommandReader::create(d);
  ASSERT_TRUE(u1.ok() && u2.ok() && rogue.ok() && camera.ok() && commands.ok());

  master_ = spawn(master, dir_ / "master.log");
  ASSERT_GT(master_, 0);

  // u1's own counters: 4 frames, all met.
  const net::TaskReport mine{"cam", 4, 4, 0, 0, 40.0, 20.0, 0};
  uint64_t seq = 0;
  auto own = [&](bool final_report) {
    net::NodeReport r;
    r.node = "u1";
    r.seq = ++seq;
    r.stamp_ns = coedge::realtime_ns();
    r.tasks = {mine};
    r.final_report = final_report;
    return r;
  };
  bool stopped = false;
  int status = 0;
  while (master_ > 0) {
    if (stopped) {  // the final reports are sent: nothing more (a later report would be a restart)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (waitpid(master_, &status, WNOHANG) == master_) master_ = -1;
      continue;
    }
    ASSERT_TRUE(u1.value()->write(own(false)).ok());
    // u2 reports for itself too (the master waits for every node), with nothing run.
    net::NodeReport u2_own;
    u2_own.node = "u2";
    u2_own.seq = seq;
    u2_own.stamp_ns = coedge::realtime_ns();
    (void)u2.value()->write(u2_own);
    (void)camera.value()->write({"cam", "u1", 4, coedge::realtime_ns(), ""});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!stopped) {
      net::NodeReport nan = own(false);
      nan.tasks[0].latency_sum_ms = std::nan("");
      (void)u1.value()->write(nan);
      // Samples of one node (instance) apart in time: a reader keeps the last of each.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      net::NodeReport stranger = own(false);
      stranger.node = "stranger";
      (void)rogue.value()->write(stranger);
      (void)camera.value()->write({"cam", "zz", 900, coedge::realtime_ns(), ""});
      if constexpr (kNamedWriters<net::DdsDomain>) {
        net::NodeReport forged = own(false);  // u2 writing as u1, with other counters
        forged.tasks[0] = {"cam", 400, 0, 0, 400, 0.0, 0.0, 0};
        forged.final_report = true;
        (void)u2.value()->write(forged);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (const net::Command& c : commands.value()->take()) {
      if (c.command == "stop" && !stopped) {
        stopped = true;
        ASSERT_TRUE(u1.value()->write(own(true)).ok());
        net::NodeReport u2_final;
        u2_final.node = "u2";
        u2_final.seq = ++seq;
        u2_final.stamp_ns = coedge::realtime_ns();
        u2_final.final_report = true;
        ASSERT_TRUE(u2.value()->write(u2_final).ok());
      }
    }
    if (waitpid(master_, &status, WNOHANG) == master_) master_ = -1;
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  const json summary = json::parse(read_text(dir_ / "master/summary.json"));
  const json& refused = summary["rejected_samples"];
  std::printf("refused: %s (writers named by partition: %s)\n", refused.dump().c_str(),
              kNamedWriters<net::DdsDomain> ? "yes" : "no");
  EXPECT_GE(refused["node_report"]["bad_number"].get<uint64_t>(), 1u) << refused.dump();
  EXPECT_GE(refused["node_report"]["unknown_node"].get<uint64_t>(), 1u) << refused.dump();
  EXPECT_GE(refused["source_stats"]["unknown_node"].get<uint64_t>(), 1u) << refused.dump();
  if constexpr (kNamedWriters<net::DdsDomain>) {
    EXPECT_GE(refused["node_report"]["sender_mismatch"].get<uint64_t>(), 1u) << refused.dump();
  }
  EXPECT_GE(summary["rejected_samples_total"].get<uint64_t>(), 3u);
  // What u1 reported, exactly: none of the refused samples counted.
  const json& task = summary["tasks"][0];
  EXPECT_EQ(task["released"].get<uint64_t>(), 4u) << task.dump();
  EXPECT_EQ(task["met"].get<uint64_t>(), 4u) << task.dump();
  EXPECT_EQ(task["dropped"].get<uint64_t>(), 0u) << task.dump();
  EXPECT_TRUE(summary["totals"]["accounted"].get<bool>());
  EXPECT_TRUE(summary["nodes"]["u1"]["final_report"].get<bool>());
  const std::string log = read_text(dir_ / "master.log");
  EXPECT_NE(log.find("refused a node_report sample (bad_number): task 'cam': latency_sum_ms nan"), std::string::npos)
      << log;
  EXPECT_NE(log.find("refused a node_report sample (unknown_node): node 'stranger' is not in the scenario"),
            std::string::npos);
  EXPECT_NE(log.find("samples refused: node_report/"), std::string::npos);
}

}  // namespace
