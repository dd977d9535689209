// `coedge cluster` as a user runs it: a three-node cluster on this machine (network
// namespaces, shaped links, CPU quotas, the master, node agents and cameras over DDS with
// DDS Security, the default),
// with a node agent killed mid-run, and its errors. Assertions are on what the run
// accounts for, what the master decided and what it leaves behind, never on timing.
// Needs root (namespaces, tc, cgroups); skips itself otherwise.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
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

// A scenario and a run folder; the runs themselves need root (ClusterRun below), the
// checks of the command line do not (ClusterRunInput).
class ClusterRunFixture : public ::testing::Test {
 protected:
  void SetUp() override {
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
  // No namespace, cgroup or process of the run is left.
  void expect_nothing_left() const {
    const fs::path log = dir_ / "netns.txt";
    run("ip netns list", log);
    EXPECT_EQ(read_text(log).find(prefix_ + "-"), std::string::npos) << read_text(log);
    for (const char* controller : {"cpu", "cpuacct"})
      EXPECT_FALSE(fs::exists(fs::path("/sys/fs/cgroup") / controller / prefix_)) << controller;
    // Every process of the run has the run folder on its command line (scenario, out).
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string pid = entry.path().filename();
      if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(getpid()))
        continue;
      std::string cmdline = read_text(entry.path() / "cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      EXPECT_EQ(cmdline.find(dir_.string()), std::string::npos) << "left running: " << pid << " " << cmdline;
    }
  }
  // Released = met + overdue + dropped for every task of the master's summary.
  static void expect_every_task_accounted(const json& summary) {
    EXPECT_TRUE(summary["totals"]["accounted"].get<bool>());
    for (const json& task : summary["tasks"])
      EXPECT_EQ(task["met"].get<uint64_t>() + task["overdue"].get<uint64_t>() + task["dropped"].get<uint64_t>(),
                task["released"].get<uint64_t>())
          << task.dump();
  }

  fs::path dir_;
  std::string prefix_;
  int domain_ = 0;
};

class ClusterRun : public ClusterRunFixture {
 protected:
  void SetUp() override {
    if (!can_make_namespaces()) GTEST_SKIP() << "needs root and network namespaces";
    ClusterRunFixture::SetUp();
  }
};

class ClusterRunInput : public ClusterRunFixture {};

TEST_F(ClusterRun, RunsEveryTaskAccountsForEveryJobAndLeavesNothingBehind) {
  ASSERT_EQ(run(cluster_command(""), dir_ / "out.log"), 0);
  // DDS Security is the default: a fresh keystore, images encrypted, every program in it.
  const std::string out = read_text(dir_ / "out.log");
  EXPECT_NE(out.find("DDS Security: on (secure, images encrypted; keystore " + (dir_ / "out/keystore").string()),
            std::string::npos) << out;
  EXPECT_NE(out.find("Unauthenticated writers: "), std::string::npos) << out;  // its sentry ran
  const json summary = json::parse(read_text(dir_ / "out/master/summary.json"));
  expect_every_task_accounted(summary);
  // Every task ran: at least one job met each, which any machine reaches (no rate is
  // asserted: the nodes run under a 0.5-core quota on a shared machine).
  ASSERT_EQ(summary["tasks"].size(), 3u);
  for (const json& task : summary["tasks"]) EXPECT_GE(task["met"].get<uint64_t>(), 1u) << task.dump();
  // Every node reported bandwidth to the master, which saw shaped links.
  EXPECT_NE(read_text(dir_ / "out/master/windows.jsonl").find("\"mbps\""), std::string::npos);
  // Lean nodes: a node runs the workers of the tasks a plan gave it, no others, and loads
  // a model only for them (its server starts with none).
  std::map<std::string, std::set<std::string>> planned;  // node -> tasks any plan gave it
  std::ifstream plans(dir_ / "out/master/plans.jsonl");
  for (std::string line; std::getline(plans, line);) {
    const json plan = json::parse(line);  // named: items() of a temporary would dangle
    for (const auto& [task, node] : plan.at("assignments").items()) {
      if (!node.get<std::string>().empty()) planned[node.get<std::string>()].insert(task);
    }
  }
  size_t nodes_with_workers = 0;
  for (const char* node : {"n1", "n2", "n3"}) {
    const fs::path logs = dir_ / "out/nodes" / node / "logs";
    std::set<std::string> ran;
    for (const auto& entry : fs::directory_iterator(logs)) {
      const std::string name = entry.path().filename();
      if (name.size() > 8 && name.ends_with(".pre.log")) ran.insert(name.substr(0, name.size() - 8));
    }
    for (const std::string& task : ran) EXPECT_EQ(planned[node].count(task), 1u) << node << " ran " << task;
    const std::string server = read_text(logs / "server.log");
    EXPECT_EQ(server.find(" loaded in ") != std::string::npos, !planned[node].empty()) << node << ":\n" << server;
    nodes_with_workers += ran.empty() ? 0 : 1;
  }
  EXPECT_GE(nodes_with_workers, 1u);
  // Every node writes its job lines, and `coedge explain` finds a task's stage times there.
  size_t met_lines = 0;
  for (const char* node : {"n1", "n2", "n3"}) {
    std::ifstream jobs(dir_ / "out/nodes" / node / "jobs.jsonl");
    for (std::string line; std::getline(jobs, line);) {
      const json j = json::parse(line);
      EXPECT_EQ(j.at("node"), node) << line;
      met_lines += j.at("outcome") == "met" ? 1 : 0;
    }
  }
  EXPECT_GE(met_lines, 3u);  // each task met at least one job (above)
  ASSERT_EQ(run(kCoedge + " explain " + (dir_ / "out").string() + " A", dir_ / "explain.log"), 0)
      << read_text(dir_ / "explain.log");
  EXPECT_NE(read_text(dir_ / "explain.log").find("inference (its batch)"), std::string::npos)
      << read_text(dir_ / "explain.log");
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
  expect_every_task_accounted(summary);
  // Every task met jobs after the move: a window that ends after the plan that took the
  // last task off n2 counts a met job (finished - missed) for each of A, B and C (B and
  // C's cameras on n2 still publish; only the agent was killed).
  double moved_at = -1;
  std::ifstream plan_lines(dir_ / "out/master/plans.jsonl");
  for (std::string line; std::getline(plan_lines, line);) {
    const json p = json::parse(line);
    bool uses_n2 = false;
    for (const auto& [task, node] : p["assignments"].items()) uses_n2 = uses_n2 || node.get<std::string>() == "n2";
    if (uses_n2) moved_at = -1;
    else if (moved_at < 0) moved_at = p["t"].get<double>();
  }
  ASSERT_GE(moved_at, 0) << "no plan without n2";
  std::map<std::string, uint64_t> met_after;
  std::ifstream window_lines(dir_ / "out/master/windows.jsonl");
  for (std::string line; std::getline(window_lines, line);) {
    const json w = json::parse(line);
    if (w["t"].get<double>() <= moved_at) continue;
    for (const auto& [task, stats] : w["tasks"].items())
      met_after[task] += stats["finished"].get<uint64_t>() - stats["missed"].get<uint64_t>();
  }
  for (const char* task : {"A", "B", "C"}) EXPECT_GE(met_after[task], 1u) << task << " after t=" << moved_at;
  expect_nothing_left();
}

// Checked before anything starts, and without root: input mistakes are named whoever runs
// it; only then does `coedge cluster` ask for root.
TEST_F(ClusterRunInput, BadInputIsNamedWithExitCode2) {
  EXPECT_EQ(run(cluster_command("--kill n9@5s"), dir_ / "out.log"), 2);
  EXPECT_NE(read_text(dir_ / "out.log").find("--kill n9: no such node"), std::string::npos) << read_text(dir_ / "out.log");
  EXPECT_EQ(run(cluster_command("--kill n2"), dir_ / "out.log"), 2);
  EXPECT_NE(read_text(dir_ / "out.log").find("expected NODE@TIME"), std::string::npos);
  EXPECT_EQ(run(cluster_command("--scheduler edff"), dir_ / "out.log"), 2);
  EXPECT_NE(read_text(dir_ / "out.log").find("--scheduler: unknown scheduler 'edff'"), std::string::npos)
      << read_text(dir_ / "out.log");
  // As an unprivileged user, valid input is refused for want of root.
  const std::string as_nobody = geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  fs::permissions(dir_, fs::perms::all, fs::perm_options::add);  // its -o folder is checked before root
  EXPECT_EQ(run(as_nobody + cluster_command(""), dir_ / "out.log"), 2);
  EXPECT_NE(read_text(dir_ / "out.log").find("needs root"), std::string::npos) << read_text(dir_ / "out.log");
}

}  // namespace
