// The metrics endpoint's options as a user meets them (docs/METRICS.md, "Serving and
// files"): a bad --metrics-address, port or config field is exit 2 before anything starts;
// a port in use is a clear error naming the address, before the node creates its run
// folder or profiles anything, and before the master joins DDS; the default binds loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/run_command.h"

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

CliRun coedge(const std::string& args) {
  const std::string command = "cd " COEDGE_SOURCE_DIR " && " COEDGE_BINARY_DIR "/bin/coedge " + args + " 2>&1";
  CliRun run;
  const coedge::test::CommandRun done = coedge::test::run_command(command);
  run.output = done.out;
  run.code = done.code;
  return run;
}

// A loopback port held open for the test (so that the node or master finds it in use).
class HeldPort {
 public:
  HeldPort() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~HeldPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

class MetricsOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-metrics-options-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // No `profiles:`: a node that got past its metrics port would profile its model first
    // (and create its run folder); the port must fail before either.
    std::ofstream(dir_ / "node.yaml") << "node: opts\nisolation: none\nduration: 2s\n"
                                      << "run_dir: " << run_dir().string() << "\n"
                                      << "models:\n  - {name: resnet18-360, file: " COEDGE_BINARY_DIR
                                         "/models/resnet18-360.onnx}\n"
                                      << "sensors:\n  - {name: cam0, kind: synthetic, width: 64, height: 64}\n"
                                      << "tasks:\n  - {name: t, model: resnet18-360, sensor: cam0, period: 500ms}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path run_dir() const { return dir_ / "run"; }
  std::string node(const std::string& args) const { return "node --config " + (dir_ / "node.yaml").string() + " " + args; }

  fs::path dir_;
};

TEST_F(MetricsOptionsTest, ABadAddressOrPortIsBadInputBeforeAnythingStarts) {
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : {Case{"--metrics-port 9464 --metrics-address localhost",
                             "--metrics-address: 'localhost' is not an IP address to bind to; give 127.0.0.1"},
                        Case{"--metrics-port 9464 --metrics-address ::1",
                             "--metrics-address: '::1' is an IPv6 address; the metrics endpoint binds IPv4 only"},
                        Case{"--metrics-port 99999", "--metrics-port: expected a TCP port from 0 (off) to 65535, got '99999'"},
                        Case{"--metrics-linger soon", "--metrics-linger: "}}) {
    SCOPED_TRACE(c.args);
    const CliRun r = coedge(node(c.args));
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(run_dir()));
  }
  // The same in the config file: file:line, the field, the value.
  std::ofstream(dir_ / "bad.yaml") << "node: opts\nisolation: none\nmetrics: {port: 9464, address: 10.0.0.300}\n"
                                   << "models:\n  - {name: m, file: " COEDGE_BINARY_DIR "/models/resnet18-360.onnx}\n"
                                   << "sensors:\n  - {name: cam0, kind: synthetic}\n"
                                   << "tasks:\n  - {name: t, model: m, sensor: cam0, period: 500ms}\n";
  const CliRun r = coedge("node --config " + (dir_ / "bad.yaml").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.yaml:3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("metrics.address"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'10.0.0.300' is not an IP address"), std::string::npos) << r.output;

  for (const Case& c : {Case{"--metrics-port 9465 --metrics-address 1.2.3",
                             "--metrics-address: '1.2.3' is not an IP address to bind to"},
                        Case{"--metrics-port 70000", "--metrics-port: expected a TCP port from 0 (off) to 65535, got '70000'"},
                        Case{"--metrics-port 9465 --metrics-linger soon", "--metrics-linger: "}}) {
    SCOPED_TRACE(c.args);
    const CliRun m = coedge("master --scenario examples/batching-resnet-3.yaml " + c.args);
    EXPECT_EQ(m.code, 2) << m.output;
    EXPECT_NE(m.output.find(c.expect), std::string::npos) << m.output;
    EXPECT_EQ(m.output.find("waiting for"), std::string::npos) << "the master started: " << m.output;
  }
}

TEST_F(MetricsOptionsTest, APortInUseIsNamedBeforeTheNodeOrMasterStarts) {
  HeldPort held;
  ASSERT_GT(held.port(), 0);
  const std::string address = "127.0.0.1:" + std::to_string(held.port());
  const CliRun r = coedge(node("--metrics-port " + std::to_string(held.port())));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot serve /metrics on '" + address + "'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("in use"), std::string::npos) << r.output;
  // Before the run folder or the profiling (the config has no profiles).
  EXPECT_FALSE(fs::exists(run_dir()));
  EXPECT_EQ(r.output.find("measuring the models"), std::string::npos) << r.output;

  const CliRun m = coedge("master --scenario examples/batching-resnet-3.yaml --metrics-port " + std::to_string(held.port()));
  EXPECT_EQ(m.code, 1) << m.output;
  EXPECT_NE(m.output.find("cannot serve /metrics on '" + address + "'"), std::string::npos) << m.output;
  EXPECT_EQ(m.output.find("waiting for"), std::string::npos) << "the master started: " << m.output;
}

}  // namespace
