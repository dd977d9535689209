// `coedge cluster` as a user runs it: a three-node cluster on this machine (network
// namespaces, shaped links, CPU quotas, the master, node agents and cameras over DDS),
// with a node agent killed mid-run, and its errors. Assertions are on what the run
// accounts for, what the master decided and what it leaves behind, never on timing.
// Needs root (namespaces, tc, cgroups); skips itself otherwise.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command line, returns its exit code; output goes to `log`.
int run(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " > '" + log.string() + "' 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool can_make_namespaces() {
  if (geteuid() != 0) return false;
  const std::string name = "cct-probe-" + std::to_string(getpid());
  if (std::system(("ip netns add " + name + " 2>/dev/null").c_str()) != 0) return false;
  return std::system(("ip netns del " + name).c_str()) == 0;
}

class ClusterRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!can_make_namespaces()) GTEST_SKIP() << "needs root and network namespaces";
    dir_ = fs::path("/var/tmp") / ("coedge-cluster-test-" + std::to_string(getpid()) + "-" +
                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    prefix_ = "cct" + std::to_string(getpid() % 100000);
    domain_ = 150 + getpid() % 80;
    // Three nodes; yolov5s-160 at a 1 s period is light for half a core.
    std::ofstream(dir_ / "s.yaml") << "name: cluster-test\n"
                                      "profiles: " COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml\n"
                                      "run: {duration: 30s, window: 5s, seed: 3}\n"
                                      "nodes:\n  - {name: n1}\n  - {name: n2}\n  - {name: n3}\n"
                                      "network:\n  default_mbps: 50\n"
                                      "  links:\n    - {between: [n1, n2], mbps: 20}\n"
                                      "tasks:\n"
                                      "  - {name: A, source: n1, model: yolov5s-160, period: 1s, priority: 2}\n"
                                      "  - {name: B, source: n2, model: yolov5s-160, period: 1s, priority: 1}\n"
                                      "  - {name: C, source: n2, model: yolov5s-160, period: 1s, priority: 1}\n";
  }
  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
      for (const char* log : {"out.log", "out/logs/master.log"}) {
        std::fprintf(stderr, "---- %s\n%s\n", log, read_text(dir_ / log).c_str());
      }
    } else if (!dir_.empty()) {
      fs::remove_all(dir_);
    }
  }
  std::string cluster_command(const std::string& extra) const {
    return kCoedge + " cluster " + (dir_ / "s.yaml").string() + " -o " + (dir_ / "out").string() +
           " --prefix " + prefix_ + " --domain " + std::to_string(domain_) +
           " --isolation process --node-cores 0.5 --duration 20s --window 5s --models-dir " COEDGE_BINARY_DIR
           "/models " + extra;
  }
  void expect_nothing_left() const {
    const fs::path log = dir_ / "netns.txt";
    run("ip netns list", log);
    EXPECT_EQ(read_text(log).find(prefix_ + "-"), std::string::npos) << read_text(log);
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/cpu/" + prefix_ + "/n1"));
  }

  fs::path dir_;
  std::string prefix_;
  int domain_ = 0;
};

TEST_F(ClusterRun, RunsEveryTaskAccountsForEveryJobAndLeavesNothingBehind) {
  ASSERT_EQ(run(cluster_command(""), dir_ / "out.log"), 0);
  const json summary = json::parse(read_text(dir_ / "out/master/summary.json"));
  EXPECT_TRUE(summary["totals"]["accounted"].get<bool>());
  EXPECT_GT(summary["totals"]["met"].get<uint64_t>(), 20u);
  for (const json& task : summary["tasks"]) {
    EXPECT_GT(task["released"].get<uint64_t>(), 10u) << task.dump();
    EXPECT_EQ(task["met"].get<uint64_t>() + task["overdue"].get<uint64_t>() + task["dropped"].get<uint64_t>(),
              task["released"].get<uint64_t>());
  }
  // Every node reported bandwidth to the master, which saw shaped links.
  EXPECT_NE(read_text(dir_ / "out/master/windows.jsonl").find("\"mbps\""), std::string::npos);
  expect_nothing_left();
}

TEST_F(ClusterRun, AKilledNodeAgentsTasksAreMovedAndTheAccountingStaysComplete) {
  ASSERT_EQ(run(cluster_command("--kill n2@6s"), dir_ / "out.log"), 0);
  const std::string master_log = read_text(dir_ / "out/logs/master.log");
  EXPECT_NE(master_log.find("node n2 is lost"), std::string::npos);
  // The last plan gives n2 nothing, and places every task.
  std::string last;
  std::ifstream plans(dir_ / "out/master/plans.jsonl");
  for (std::string line; std::getline(plans, line);) last = line;
  const json plan = json::parse(last);
  for (const auto& [task, node] : plan["assignments"].items()) {
    EXPECT_NE(node.get<std::string>(), "n2") << last;
    EXPECT_NE(node.get<std::string>(), "") << last;
  }
  const json summary = json::parse(read_text(dir_ / "out/master/summary.json"));
  EXPECT_TRUE(summary["totals"]["accounted"].get<bool>());
  // B and C kept running after the kill: their cameras on n2 still publish.
  for (const json& task : summary["tasks"]) EXPECT_GT(task["met"].get<uint64_t>(), 10u) << task.dump();
  expect_nothing_left();
}

TEST_F(ClusterRun, BadInputIsNamedWithExitCode2) {
  EXPECT_EQ(run(cluster_command("--kill n9@5s"), dir_ / "out.log"), 2);
  EXPECT_NE(read_text(dir_ / "out.log").find("--kill n9: no such node"), std::string::npos) << read_text(dir_ / "out.log");
  EXPECT_EQ(run(cluster_command("--kill n2"), dir_ / "out.log"), 2);
  EXPECT_NE(read_text(dir_ / "out.log").find("expected NODE@TIME"), std::string::npos);
  EXPECT_EQ(run("setpriv --reuid=65534 --regid=65534 --clear-groups " + cluster_command(""), dir_ / "out.log"), 2);
  EXPECT_NE(read_text(dir_ / "out.log").find("needs root"), std::string::npos) << read_text(dir_ / "out.log");
}

}  // namespace
