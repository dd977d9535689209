// Exit code 3 ("a run that completed with unaccounted jobs", README "Exit status") from a
// real `coedge master` run: a master and one cluster node on loopback DDS (no root), and in
// place of `coedge camera` this test publishing the task's frames as a ROS 2 camera driver
// would (sensor_msgs/Image on the task's topic through net::ImageWriter), with no
// rt/coedge/source_stats. The node takes the frames, runs them and reports the jobs; the
// master never heard of them being released, so they are surplus (docs/CLUSTER.md, "The
// accounting of every job"; docs/DDS.md): the run completes and the master exits 3, saying
// why. The node's own accounting holds, so it exits 0.
//
// Deterministic: the outcome needs only that the node closes one job of the frames
// published throughout its run; no count or duration is asserted, only that the master's
// surplus is exactly what the node released.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/loopback.h"

#include "core/clock.h"
#include "net/dds.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using coedge::test::free_port;
using nlohmann::json;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


// A child process with stdout and stderr in `log`.
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

// The exit code of `pid` once it has exited; -1 when it was killed by a signal.
int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

class MasterUnaccounted : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-unaccounted-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // 100-149: clear of prometheus_test.py's and cluster_run_test's domains, should they
    // run at the same time.
    domain_ = 100 + getpid() % 50;
  }
  void TearDown() override {
    for (pid_t pid : {master_, node_}) {
      if (pid > 0) {  // still running: the test failed before it ended
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
    if (HasFailure()) {
      for (const char* log : {"master.log", "node.log"})
        std::fprintf(stderr, "---- %s\n%s\n", log, read_text(dir_ / log).c_str());
    }
    fs::remove_all(dir_);
  }

  fs::path dir_;
  int domain_ = 0;
  pid_t master_ = -1, node_ = -1;
};

TEST_F(MasterUnaccounted, FramesWithoutSourceStatsEndTheRunWithExitCode3) {
  // yolov5s-160 every 250 ms: light for one core.
  std::ofstream(dir_ / "s.yaml") << "name: unaccounted\n"
                                    "profiles: " COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml\n"
                                    "run: {duration: 5s, window: 2s, seed: 1}\n"
                                    "nodes:\n  - {name: u1, cpu_cores: 1}\n"
                                    "tasks:\n  - {name: cam, source: u1, model: yolov5s-160, period: 250ms}\n";
  const std::vector<std::string> dds = {"--domain", std::to_string(domain_), "--dds-interface", "127.0.0.1",
                                        "--dds-peer", "127.0.0.1"};
  std::vector<std::string> master = {kCoedge, "master", "--scenario", (dir_ / "s.yaml").string(),
                                     "--duration", "5s", "--window", "2s", "--wait-for-nodes", "120s",
                                     "--out", (dir_ / "master").string()};
  master.insert(master.end(), dds.begin(), dds.end());
  std::vector<std::string> node = {kCoedge, "node", "--scenario", (dir_ / "s.yaml").string(), "--name", "u1",
                                   "--models-dir", COEDGE_BINARY_DIR "/models", "--run-dir", (dir_ / "u1").string(),
                                   "--isolation", "none", "--probe-port", std::to_string(free_port())};
  node.insert(node.end(), dds.begin(), dds.end());

  // The "driver": this process, on the same domain, publishing bgr8 160x160 frames stamped
  // on capture (CLOCK_REALTIME) every period, and no source_stats.
  coedge::net::DdsOptions options;
  options.domain = static_cast<uint32_t>(domain_);
  options.interface_address = "127.0.0.1";
  options.peers = {"127.0.0.1"};
  auto domain = coedge::net::DdsDomain::create(options);
  ASSERT_TRUE(domain.ok()) << domain.error().message;
  auto writer = coedge::net::ImageWriter::create(**domain, "/coedge/u1/cam/image_raw", coedge::net::Reliability::kReliable);
  ASSERT_TRUE(writer.ok()) << writer.error().message;

  master_ = spawn(master, dir_ / "master.log");
  node_ = spawn(node, dir_ / "node.log");
  ASSERT_GT(master_, 0);
  ASSERT_GT(node_, 0);

  coedge::net::Image image;
  image.frame_id = "cam";
  image.height = image.width = 160;
  image.encoding = "bgr8";
  image.step = 160 * 3;
  image.data.assign(static_cast<size_t>(image.step) * image.height, 0);
  uint64_t published = 0;
  int master_status = 0, node_status = 0;
  // Until both have exited (the master's own --wait-for-nodes bounds the start; the
  // test's TIMEOUT, anything else).
  while (master_ > 0 || node_ > 0) {
    image.stamp_ns = coedge::realtime_ns();
    image.data[published % image.data.size()] = static_cast<uint8_t>(published);  // not all equal frames
    if (writer.value()->write(image).ok()) ++published;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (master_ > 0 && waitpid(master_, &master_status, WNOHANG) == master_) master_ = -1;
    if (node_ > 0 && waitpid(node_, &node_status, WNOHANG) == node_) node_ = -1;
  }
  std::printf("published %llu frames\n", static_cast<unsigned long long>(published));

  // The node closed every job it released: its run is accounted, exit 0.
  EXPECT_EQ(exit_code(node_status), 0);
  const json node_summary = json::parse(read_text(dir_ / "u1/summary.json"));
  const uint64_t node_released = node_summary["totals"]["released"].get<uint64_t>();
  ASSERT_GT(node_released, 0u) << "the node took none of the frames: " << node_summary["totals"].dump();

  // The master: the run completed (summary written), nothing was released as far as the
  // cameras said, every job the node closed is surplus; exit 3, and the log says why.
  EXPECT_EQ(exit_code(master_status), 3);
  const json summary = json::parse(read_text(dir_ / "master/summary.json"));
  const json& totals = summary["totals"];
  EXPECT_FALSE(totals["accounted"].get<bool>()) << totals.dump();
  EXPECT_EQ(totals["released"].get<uint64_t>(), 0u) << totals.dump();
  EXPECT_EQ(totals["surplus"].get<uint64_t>(), node_released) << totals.dump();
  EXPECT_EQ(summary["tasks"][0]["accepted"].get<uint64_t>(), node_released) << summary["tasks"].dump();
  const std::string log = read_text(dir_ / "master.log");
  EXPECT_NE(log.find("accounting error: nodes closed " + std::to_string(node_released) +
                     " jobs more than the cameras released"),
            std::string::npos)
      << log;
  // The table does not read as a clean run: it says which task's jobs are outside its rows.
  EXPECT_NE(log.find("task cam: the nodes closed " + std::to_string(node_released) + " jobs more than its camera"),
            std::string::npos)
      << log;
}

}  // namespace
