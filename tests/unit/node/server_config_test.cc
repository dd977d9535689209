// The agent → inference server hand-over (server_process.h): the agent's config, written
// into a sealed in-memory file that becomes the server's stdin, is read back whole — as
// often as the server is restarted — and anything else (nothing, garbage, bytes that do
// not match the digest the agent sent) is refused with a message naming what was wrong.
#include "node/server_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "config/node_config_wire.h"
#include "os/fd.h"

namespace coedge::node {
namespace {

using namespace std::chrono_literals;

config::NodeConfig small_config() {
  config::NodeConfig c;
  c.name = "n1";
  c.run_dir = "/var/tmp/coedge-n1";
  ModelProfile m;
  m.name = "resnet";
  m.input_shape = {3, 32, 32};
  m.exe_time.fill(4ms);
  c.models = {m};
  c.model_files = {"/models/resnet.onnx"};
  config::SensorConfig s;
  s.name = "cam";
  c.sensors = {s};
  TaskSpec t;
  t.name = "t0";
  t.source = 0;
  t.model = 0;
  t.period = 100ms;
  t.deadline = 100ms;
  c.tasks = {t};
  c.task_runtime = {config::TaskRuntime{}};
  return c;
}

os::Fd memory_file(const std::string& bytes) {
  auto fd = os::sealed_memory_file("test-config", bytes);
  EXPECT_TRUE(fd.ok()) << fd.error().message;
  return fd.ok() ? std::move(*fd) : os::Fd();
}

TEST(ServerConfig, ReadsTheAgentsConfigEveryTime) {
  const config::NodeConfig c = small_config();
  const std::string wire = config::write_node_config_wire(c);
  const std::string digest = config::wire_digest(wire);
  os::Fd fd = memory_file(wire);
  // Its offset is at the end, where writing left it (and where a reader sharing it would
  // leave it): every read starts from the beginning regardless.
  ASSERT_EQ(::lseek(fd.get(), 0, SEEK_CUR), static_cast<off_t>(wire.size()));
  for (int start = 0; start < 2; ++start) {  // a restarted server reads the same bytes
    auto got = receive_server_config(fd.get(), digest);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(got->tasks, c.tasks);
    EXPECT_EQ(got->models, c.models);
    EXPECT_EQ(got->model_files, c.model_files);
  }
  // The file cannot be changed once handed over.
  EXPECT_LT(::pwrite(fd.get(), "x", 1, 0), 0);
}

TEST(ServerConfig, BadInputIsAClearError) {
  const std::string wire = config::write_node_config_wire(small_config());
  const std::string digest = config::wire_digest(wire);
  auto message = [&](const std::string& bytes, const std::string& d) {
    os::Fd fd = memory_file(bytes);
    auto got = receive_server_config(fd.get(), d);
    return got.ok() ? std::string("(no error)") : got.error().message;
  };
  const std::string origin = "the node config from the agent (descriptor ";
  std::string m = message("", digest);
  EXPECT_EQ(m.rfind(origin, 0), 0u) << m;
  EXPECT_NE(m.find("): empty (`coedge node` starts the server"), std::string::npos) << m;
  m = message("garbage\n", config::wire_digest("garbage\n"));
  EXPECT_NE(m.find("): not a JSON document"), std::string::npos) << m;
  m = message(wire.substr(0, wire.size() - 1), digest);
  EXPECT_NE(m.find("its digest is "), std::string::npos) << m;
  EXPECT_NE(m.find("the document changed on the way"), std::string::npos) << m;
  m = message(wire, "");
  EXPECT_NE(m.find("no --config-digest given"), std::string::npos) << m;
  auto closed = receive_server_config(-1, digest);
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.error().message.find("(descriptor -1): read: "), std::string::npos) << closed.error().message;
}

}  // namespace
}  // namespace coedge::node
