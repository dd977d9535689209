// A real `coedge node` of a cluster refuses a plan naming a task the scenario does not have,
// a command it does not know and a task claim for an unknown task: none is applied (the
// node keeps running until a valid stop), each is counted in its summary.json's
// "rejected_samples" and logged (node/cluster/sample_checks.h). This test plays the master
// and sends each bad sample until the node's log says it refused one: no timing assumed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
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

// src/net's task claim writer, with or without the node's name (its partition).
template <typename D>
auto ack_writer(D& domain, const std::string& node) {
  if constexpr (requires { net::TaskAckWriter::create(domain, node); }) return net::TaskAckWriter::create(domain, node);
  else return net::TaskAckWriter::create(domain);
}

TEST(NodeRefusesSamples, ABadPlanCommandAndClaimAreNotAppliedAndAreCounted) {
  const fs::path dir = fs::temp_directory_path() / ("coedge-node-refuses-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int domain_id = 150 + (getpid() + 25) % 50;
  std::ofstream(dir / "s.yaml") << "name: refuses\n"
                                   "profiles: " COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml\n"
                                   "run: {duration: 5s, window: 1s, seed: 1}\n"
                                   "nodes:\n  - {name: u1, cpu_cores: 1}\n"
                                   "tasks:\n  - {name: cam, source: u1, model: yolov5s-160, period: 250ms}\n";
  std::vector<std::string> node = {kCoedge, "node", "--scenario", (dir / "s.yaml").string(), "--name", "u1",
                                   "--models-dir", COEDGE_BINARY_DIR "/models", "--run-dir", (dir / "u1").string(),
                                   "--isolation", "none", "--probe-port", std::to_string(coedge::test::free_port()),
                                   "--domain", std::to_string(domain_id), "--dds-interface", "127.0.0.1",
                                   "--dds-peer", "127.0.0.1"};
  net::DdsOptions options;
  options.domain = static_cast<uint32_t>(domain_id);
  options.interface_address = "127.0.0.1";
  options.peers = {"127.0.0.1"};
  auto domain = net::DdsDomain::create(options);
  ASSERT_TRUE(domain.ok()) << domain.error().message;
  auto plans = net::PlanWriter::create(**domain);
  auto commands = net::CommandWriter::create(**domain);
  auto acks = ack_writer(**domain, "u1");
  ASSERT_TRUE(plans.ok() && commands.ok() && acks.ok());

  pid_t pid = spawn(node, dir / "node.log");
  ASSERT_GT(pid, 0);
  int status = 0;
  bool exited = false;
  const std::string log_path = (dir / "node.log").string();
  // Sends `send()` every 200 ms until the node's log has `line` (or it exited; 90 s at most).
  auto until_logged = [&](const std::string& line, const std::function<void()>& send) {
    for (int i = 0; i < 450 && !exited; ++i) {
      if (read_text(log_path).find(line) != std::string::npos) return true;
      send();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (waitpid(pid, &status, WNOHANG) == pid) exited = true;
    }
    return read_text(log_path).find(line) != std::string::npos;  // the last words of a node that exited
  };
  const uint64_t epoch = static_cast<uint64_t>(coedge::realtime_ns());
  uint64_t version = 0;
  auto plan = [&](std::vector<net::Assignment> assignments) {
    net::Plan p;
    p.version = ++version;
    p.epoch = epoch;
    p.effective_ns = coedge::realtime_ns() + 500'000'000;
    p.assignments = std::move(assignments);
    return p;
  };
  EXPECT_TRUE(until_logged("refused a plan sample (unknown_task)",
                           [&] { (void)plans.value()->write(plan({{"cam", "u1"}, {"T9", "u1"}})); }));
  EXPECT_TRUE(until_logged("refused a command sample (unknown_command)",
                           [&] { (void)commands.value()->write({"reboot", ""}); }));
  EXPECT_TRUE(until_logged("refused a task_ack sample (unknown_task)", [&] {
    (void)acks.value()->write({"T9", "u1", epoch, version, coedge::realtime_ns(), ""});
  }));
  EXPECT_FALSE(exited) << "a refused sample stopped the node";
  // A valid plan is applied; then a valid stop ends the node.
  const net::Plan good = plan({{"cam", "u1"}});
  EXPECT_TRUE(until_logged("[node u1] plan " + std::to_string(good.version), [&] { (void)plans.value()->write(good); }));
  EXPECT_TRUE(until_logged("the master asked this node to stop", [&] { (void)commands.value()->write({"stop", ""}); }));
  for (int i = 0; i < 600 && !exited; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  ASSERT_TRUE(exited);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(log_path);
  const json summary = json::parse(read_text(dir / "u1/summary.json"));
  const json& refused = summary["rejected_samples"];
  std::printf("refused: %s\n", refused.dump().c_str());
  EXPECT_GE(refused["plan"]["unknown_task"].get<uint64_t>(), 1u) << refused.dump();
  EXPECT_GE(refused["command"]["unknown_command"].get<uint64_t>(), 1u) << refused.dump();
  EXPECT_GE(refused["task_ack"]["unknown_task"].get<uint64_t>(), 1u) << refused.dump();
  EXPECT_GE(summary["rejected_samples_total"].get<uint64_t>(), 3u);
  EXPECT_TRUE(summary["totals"]["accounted"].get<bool>());
  if (HasFailure()) std::fprintf(stderr, "---- node.log\n%s\n", read_text(log_path).c_str());
  fs::remove_all(dir);
}

}  // namespace
