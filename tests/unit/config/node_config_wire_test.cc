// One task schema: a node file and a scenario file describing the same task load into the
// same TaskSpec and ModelProfile; `--profiles` applies a profile set to a node config; and
// the agent → server hand-over document (node_config_wire.h) reads back exactly what was
// written, or fails with one clear message naming the origin, the field and the reason.
#include "config/node_config_wire.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/node_config_loader.h"
#include "config/scenario_loader.h"

namespace coedge::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class NodeSchemaTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("coedge-node-wire-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "m.onnx") << "stand-in";
    std::ofstream(dir_ / "set.yaml") << "profile_set: here\n"
                                        "models:\n"
                                        "  - name: det\n"
                                        "    input_shape: [3, 64, 64]\n"
                                        "    exe_ms: [5, 8, 11, 14, 17, 20, 23, 26, 29, 32]\n"
                                        "    pre: 2ms\n"
                                        "    post: 500us\n"
                                        "  - name: cls\n"
                                        "    input_shape: [3, 32, 32]\n"
                                        "    exe_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n";
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

 protected:
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static inline fs::path dir_;
};

// The same task, once in a scenario file and once in a node file, is the same struct.
TEST_F(NodeSchemaTest, NodeFileAndScenarioYieldTheSameTask) {
  auto scenario = parse_scenario(
      "name: s\n"
      "profiles: set.yaml\n"
      "nodes: [{name: n1}]\n"
      "tasks:\n"
      "  - {name: watch, source: n1, model: det, period: 250ms, deadline: 200ms, priority: 2, epsilon: 0.05}\n",
      "s.yaml", dir_.string());
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  auto node = parse_node_config(
      "profiles: set.yaml\n"
      "models: [{name: det, file: m.onnx}]\n"
      "sensors: [{name: cam, kind: synthetic}]\n"
      "tasks:\n"
      "  - {name: watch, model: det, sensor: cam, period: 250ms, deadline: 200ms, priority: 2, epsilon: 0.05}\n",
      "n1.yaml", dir_.string());
  ASSERT_TRUE(node.ok()) << node.error().message;
  ASSERT_EQ(scenario->tasks.size(), 1u);
  ASSERT_EQ(node->tasks.size(), 1u);
  const TaskSpec& from_scenario = scenario->tasks[0];
  const TaskSpec& from_node = node->tasks[0];
  EXPECT_EQ(from_node, from_scenario);  // name, source (node 0), period, deadline, priority, epsilon
  const ModelProfile& scenario_model = scenario->models[from_scenario.model];
  const ModelProfile& node_model = node->models[from_node.model];
  EXPECT_EQ(node_model.name, "det");
  EXPECT_EQ(node_model.exe_time, scenario_model.exe_time);
  EXPECT_EQ(node_model.pre_time, scenario_model.pre_time);
  EXPECT_EQ(node_model.post_time, scenario_model.post_time);
  EXPECT_EQ(node_model.input_shape, scenario_model.input_shape);
  EXPECT_EQ(node_model.input_bytes, scenario_model.input_bytes);
  EXPECT_TRUE(fs::equivalent(node_model.profile_source, scenario_model.profile_source));
  EXPECT_EQ(node_model.exe(2), 8ms);

  // A deadline left out is the period in both.
  auto s2 = parse_scenario("name: s\nprofiles: set.yaml\nnodes: [{name: n1}]\n"
                           "tasks: [{name: w, source: n1, model: det, period: 1s}]\n",
                           "s.yaml", dir_.string());
  auto n2 = parse_node_config("profiles: set.yaml\nmodels: [{name: det, file: m.onnx}]\n"
                              "sensors: [{name: c, kind: synthetic}]\n"
                              "tasks: [{name: w, model: det, sensor: c, period: 1s}]\n",
                              "n.yaml", dir_.string());
  ASSERT_TRUE(s2.ok() && n2.ok());
  EXPECT_EQ(n2->tasks[0], s2->tasks[0]);
}

TEST_F(NodeSchemaTest, ApplyProfileSet) {
  auto node = parse_node_config("models: [{name: det, file: m.onnx}, {name: cls, file: m.onnx}]\n"
                                "sensors: [{name: c, kind: synthetic}]\n"
                                "tasks: [{name: w, model: cls, sensor: c, period: 1s}]\n",
                                "n.yaml", dir_.string());
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(node->profiles, "");
  auto set = load_profile_set(path("set.yaml"));
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_TRUE(apply_profile_set(*node, *set, path("set.yaml")).ok());
  EXPECT_EQ(node->profiles, path("set.yaml"));
  EXPECT_EQ(node->models[0].name, "det");
  EXPECT_EQ(node->models[0].exe(1), 5ms);
  EXPECT_EQ(node->models[1].exe(10), 10ms);

  // A set without one of the node's models changes nothing and says what it has.
  NodeConfig before = *node;
  std::vector<ModelProfile> partial = {(*set)[1]};
  Status st = apply_profile_set(*node, partial, "p.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "p.yaml: has no profile for model 'det' of node n (it has: cls); profile it with `coedge profile`");
  EXPECT_EQ(node->models, before.models);
}

// A config with every field away from its default, topic sensors and env included.
NodeConfig full_config() {
  NodeConfig c;
  c.name = "lamp-7";
  c.source_file = "/etc/coedge/lamp-7.yaml";
  c.scheduler = policy::SchedulerSpec::parse("triton:preferred=2,4,timeout=none").value();
  c.isolation = Isolation::kProcess;
  c.run_dir = "/var/tmp/coedge-lamp-7";
  c.backend = "libtorch";
  c.backend_threads = 3;
  c.profiles = "";
  c.window = 7500ms;
  c.duration = 90s;
  c.hang_timeout = 2500ms;
  c.metrics_port = 9464;
  c.metrics_address = "0.0.0.0";
  c.metrics_linger = 4s;
  c.jobs_jsonl = "/tmp/jobs.jsonl";
  ModelProfile m;
  m.name = "yolo";
  m.input_shape = {3, 160, 160};
  m.input_bytes = 76800;
  for (int b = 1; b <= kMaxBatch; ++b) m.exe_time[static_cast<size_t>(b - 1)] = Duration(1234 * b + 7);
  m.pre_time = 2345us;
  m.post_time = 17us;
  m.profile_source = "measured";
  c.models = {m, m};
  c.models[1].name = "cls";
  c.models[1].exe_time[9] = 999999us;
  c.model_files = {"/models/yolo.onnx", "/models/cls \"odd\".onnx"};
  SensorConfig topic;
  topic.name = "t0";
  topic.kind = SensorKind::kTopic;
  topic.path = "coedge/camera/n1/t0";
  topic.width = 160;
  topic.height = 120;
  topic.loop = false;
  topic.period = 333333us;
  topic.phase = 12ms;
  topic.compressed = true;
  topic.reliability = TopicReliability::kReliable;
  SensorConfig folder;
  folder.name = "frames";
  folder.kind = SensorKind::kFolder;
  folder.path = "/data/frames";
  SensorConfig stream;
  stream.name = "street";
  stream.kind = SensorKind::kStream;
  stream.stream.url = "rtsp://cam.local:8554/live";
  stream.stream.open_timeout = 7s;
  stream.stream.stall_timeout = 1500ms;
  stream.stream.reconnect_min = 250ms;
  stream.stream.reconnect_max = 20s;
  c.sensors = {topic, folder, stream};
  TaskSpec t;
  t.name = "t0";
  t.source = 0;
  t.model = 1;
  t.period = 333333us;
  t.deadline = 300ms;
  t.priority = -5;
  t.epsilon = 0.1 + 0.2;  // not a short decimal: doubles must read back exactly
  c.tasks = {t, t};
  c.tasks[1].name = "t1";
  c.tasks[1].model = 0;
  TaskRuntime r;
  r.sensor = 1;
  r.worker = "/bin/my-worker";
  r.rootfs = "/srv/rootfs";
  r.env = {{"OMP_NUM_THREADS", "1"}, {"MODE", "fast, \"quoted\"\n"}};
  r.limits = {0.1 + 0.2, 0, 4096};  // not a short decimal; no memory limit
  c.task_runtime = {TaskRuntime{}, r};
  c.sandbox.seccomp = false;
  c.sandbox.private_paths = {"/srv/keys", "/etc/odd \"name\""};
  c.worker_limits = {2.5, 3ull << 30, 0};
  c.violations = {7, 90s};
  c.notices = {"not sent"};
  return c;
}

TEST(NodeConfigWire, ReadsBackExactly) {
  const NodeConfig c = full_config();
  const std::string wire = write_node_config_wire(c);
  const std::string digest = wire_digest(wire);
  EXPECT_EQ(digest.size(), 16u);
  auto back = read_node_config_wire(wire, "test", digest);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->name, c.name);
  EXPECT_EQ(back->source_file, c.source_file);
  EXPECT_EQ(back->scheduler.text(), c.scheduler.text());
  EXPECT_EQ(back->isolation, c.isolation);
  EXPECT_EQ(back->run_dir, c.run_dir);
  EXPECT_EQ(back->backend, c.backend);
  EXPECT_EQ(back->backend_threads, c.backend_threads);
  EXPECT_EQ(back->profiles, c.profiles);
  EXPECT_EQ(back->window, c.window);
  EXPECT_EQ(back->duration, c.duration);
  EXPECT_EQ(back->hang_timeout, c.hang_timeout);
  EXPECT_EQ(back->metrics_port, c.metrics_port);
  EXPECT_EQ(back->metrics_address, c.metrics_address);
  EXPECT_EQ(back->metrics_linger, c.metrics_linger);
  EXPECT_EQ(back->jobs_jsonl, c.jobs_jsonl);
  EXPECT_EQ(back->sandbox, c.sandbox);
  EXPECT_EQ(back->worker_limits, c.worker_limits);
  EXPECT_EQ(back->violations, c.violations);
  EXPECT_EQ(back->task_runtime[1].limits.cpus, 0.1 + 0.2);  // exactly
  EXPECT_EQ(back->models, c.models);
  EXPECT_EQ(back->model_files, c.model_files);
  EXPECT_EQ(back->sensors, c.sensors);
  EXPECT_EQ(back->tasks, c.tasks);
  EXPECT_EQ(back->task_runtime, c.task_runtime);
  EXPECT_TRUE(back->notices.empty());
  EXPECT_EQ(write_node_config_wire(*back), wire);  // byte for byte
  EXPECT_EQ(wire_digest(""), "cbf29ce484222325");  // FNV-1a 64 of nothing: its offset basis
}

// Reading `wire` (from "agent") fails with a message that starts with "agent: " and
// contains `expected`.
::testing::AssertionResult fails_with(const std::string& wire, const std::string& expected) {
  auto r = read_node_config_wire(wire, "agent");
  if (r.ok()) return ::testing::AssertionFailure() << "read without error: " << wire.substr(0, 200);
  const std::string& m = r.error().message;
  if (m.rfind("agent: ", 0) != 0 || m.find(expected) == std::string::npos) {
    return ::testing::AssertionFailure() << "message: " << m << "\nexpected to contain: " << expected;
  }
  return ::testing::AssertionSuccess();
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(NodeConfigWire, GarbledInputIsAClearError) {
  const std::string wire = write_node_config_wire(full_config());
  EXPECT_TRUE(fails_with("", "not a JSON document"));
  EXPECT_TRUE(fails_with(wire.substr(0, wire.size() / 2), "not a JSON document"));
  EXPECT_TRUE(fails_with("\x01\x02 binary", "not a JSON document"));
  EXPECT_TRUE(fails_with("[1, 2]", "expected a JSON object, got array"));
  EXPECT_TRUE(fails_with("{}", "format: not a node config (expected \"coedge-node-config\", got none)"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"coedge-node-config\"", "\"coedge-scenario\""),
                         "format: not a node config"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"version\":5", "\"version\":4"),
                         "version: this coedge reads version 5, got number 4 (are the agent and the server the "
                         "same coedge build?)"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"backend\":\"libtorch\",", ""), "backend: missing field"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"stall_timeout_us\":1500000", "\"stall_timeout_us\":0"),
                         "sensors[2].stream.stall_timeout_us: must be between 1 and"));
  EXPECT_TRUE(fails_with(replaced(wire, ",\"url\":\"rtsp://cam.local:8554/live\"", ""),
                         "sensors[2].stream.url: missing field"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"backend\":", "\"extra\":1,\"backend\":"), "extra: unknown field"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"backend_threads\":3", "\"backend_threads\":\"3\""),
                         "backend_threads: expected a whole number, got string \"3\""));
  EXPECT_TRUE(fails_with(replaced(wire, "\"metrics_port\":9464", "\"metrics_port\":70000"),
                         "metrics_port: must be between 0 and 65535, got 70000"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"isolation\":\"process\"", "\"isolation\":\"docker\""),
                         "isolation: unknown isolation mode 'docker'"));
  EXPECT_TRUE(fails_with(replaced(wire, "triton:preferred=2,4,timeout=none", "fifo"),
                         "scheduler: unknown scheduler 'fifo'"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"model\":1", "\"model\":7"),
                         "tasks[0].model: 7 is not a model index (2 models)"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"sensor\":1", "\"sensor\":-1"),
                         "tasks[1].sensor: -1 is not a sensor index (3 sensors)"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"period_us\":333333,\"priority\"", "\"period_us\":0,\"priority\""),
                         "tasks[0].period_us: must be between 1 and"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"epsilon\":0.30000000000000004", "\"epsilon\":1.5"),
                         "tasks[0].epsilon: must be in [0, 1], got 1.5"));
  EXPECT_TRUE(fails_with(replaced(wire, "[1241,", "[1241,1,"), "models[0].exe_us: must list 10 times"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"kind\":\"topic\"", "\"kind\":\"webcam\""),
                         "sensors[0].kind: unknown sensor kind 'webcam'"));
  EXPECT_TRUE(fails_with(replaced(wire, "[\"OMP_NUM_THREADS\",\"1\"]", "[\"OMP_NUM_THREADS\"]"),
                         "tasks[1].env[0]: expected [NAME, VALUE] (two texts)"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"source\":0", "\"source\":3"), "tasks[0].source: must be between 0 and 0"));
  // The sandbox, the limits and the violation policy, with the loader's ranges.
  EXPECT_TRUE(fails_with(replaced(wire, "\"seccomp\":false", "\"seccomp\":0"),
                         "sandbox.seccomp: expected true or false, got number 0"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"/srv/keys\"", "\"srv/keys\""),
                         "sandbox.private_paths[0]: expected an absolute path other than /"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"/srv/keys\"", "\"/\""), "sandbox.private_paths[0]: expected an absolute path"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"cpus\":2.5", "\"cpus\":2000"),
                         "worker_limits.cpus: expected 0 or a number from 0.01 to 1024, got number 2000"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"memory_bytes\":3221225472", "\"memory_bytes\":4096"),
                         "worker_limits.memory_bytes: expected 0 or at least 16 MiB, got 4096"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"pids\":4096", "\"pids\":3"), "tasks[1].limits.pids: expected 0 or at least 8"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"pids\":4096", "\"pids\":-1"), "tasks[1].limits.pids: must be between 0 and"));
  EXPECT_TRUE(fails_with(replaced(wire, ",\"limits\":{\"cpus\":0.30000000000000004,\"memory_bytes\":0,\"pids\":4096}", ""),
                         "tasks[1].limits: missing field"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"window_us\":90000000", "\"window_us\":0"),
                         "violations.window_us: must be between 1 and"));
  EXPECT_TRUE(fails_with(replaced(wire, "\"limit\":7", "\"limit\":-7"), "violations.limit: must be between 0 and 1000000"));
}

TEST(NodeConfigWire, DigestMismatchIsAnError) {
  const std::string wire = write_node_config_wire(full_config());
  const std::string digest = wire_digest(wire);
  // The bytes changed on the way (here: still a valid document, another backend).
  auto changed = read_node_config_wire(replaced(wire, "libtorch", "opencv"), "agent", digest);
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.error().message.find("agent: its digest is "), std::string::npos) << changed.error().message;
  EXPECT_NE(changed.error().message.find("not the " + digest + " it was sent with"), std::string::npos);
  // The same config written differently (spacing, key order) is read, but the server
  // would not be provably on the agent's bytes: its write-back is checked too.
  std::string spaced = replaced(wire, "{\"backend\"", "{ \"backend\"");
  auto respaced = read_node_config_wire(spaced, "agent", wire_digest(spaced));
  ASSERT_FALSE(respaced.ok());
  EXPECT_NE(respaced.error().message.find("the config read writes back with digest " + digest),
            std::string::npos)
      << respaced.error().message;
  // Without a digest, only the document is checked.
  EXPECT_TRUE(read_node_config_wire(spaced, "agent").ok());
}

}  // namespace
}  // namespace coedge::config
