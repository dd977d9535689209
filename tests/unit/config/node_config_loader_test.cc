// Node config files: a full file read field by field, defaults, replicas, path
// resolution, one check per kind of mistake (file, line, field path and reason of the
// single message), and every example under examples/node. Input paths must exist, so the
// tests build a small folder of stand-in files (models, frames, a video, a worker, a
// rootfs, a profile set) in a per-process temporary directory.
#include "config/node_config_loader.h"
#include "config_test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace coedge::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Line numbers matter: the error tests replace numbered lines of this text.
const std::string kBase =
    "node: lamp-1\n"                                                              //  1
    "scheduler: edf\n"                                                            //  2
    "isolation: sandbox\n"                                                        //  3
    "run_dir: /tmp/coedge-test-run\n"                                             //  4
    "backend: {name: opencv, threads: 2}\n"                                       //  5
    "profiles: profiles.yaml\n"                                                   //  6
    "window: 5s\n"                                                                //  7
    "duration: 60s\n"                                                             //  8
    "hang_timeout: 2s\n"                                                          //  9
    "metrics: {port: 9464, address: 0.0.0.0, linger: 3s, jobs: /tmp/jobs.jsonl}\n" // 10
    "models:\n"                                                                   // 11
    "  - {name: m1, file: m1.onnx}\n"                                             // 12
    "  - {name: m2, file: sub/../sub/m2.onnx}\n"                                  // 13
    "sensors:\n"                                                                  // 14
    "  - {name: cam0, kind: synthetic, width: 640, height: 480}\n"                // 15
    "  - {name: cam1, kind: folder, path: frames/, loop: false, period: 100ms}\n"  // 16
    "  - {name: cam2, kind: video, path: clip.avi}\n"                             // 17
    "tasks:\n"                                                                    // 18
    "  - name: t0\n"                                                              // 19
    "    model: m1\n"                                                             // 20
    "    sensor: cam0\n"                                                          // 21
    "    period: 400ms\n"                                                         // 22
    "    deadline: 300ms\n"                                                       // 23
    "    priority: 3\n"                                                           // 24
    "    epsilon: 0.2\n"                                                          // 25
    "    worker: worker.sh\n"                                                     // 26
    "    rootfs: rootfs\n"                                                        // 27
    "    env: {OMP_NUM_THREADS: \"1\", MODE: fast}\n"                             // 28
    "  - {name: r, model: m2, sensor: cam1, period: 200ms, replicas: 3}\n"        // 29
    "  - {name: v, model: m1, sensor: cam2, period: 1s}\n";                       // 30

const std::string kMinimal =
    "models: [{name: m, file: m1.onnx}]\n"
    "sensors: [{name: c, kind: synthetic}]\n"
    "tasks: [{name: t, model: m, sensor: c, period: 100ms}]\n";

using coedge::testing::error_matches;
using coedge::testing::replace_lines;

std::string replace_line(int line, const std::string& replacement) {
  return replace_lines(kBase, line, line, replacement);
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class NodeConfigTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("coedge-node-config-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    write_file(dir_ / "m1.onnx", "stand-in");
    write_file(dir_ / "sub/m2.onnx", "stand-in");
    write_file(dir_ / "frames/a.ppm", "P3\n1 1\n255\n0 0 0\n");
    write_file(dir_ / "clip.avi", "stand-in");
    write_file(dir_ / "worker.sh", "#!/bin/sh\n");
    fs::permissions(dir_ / "worker.sh", fs::perms::owner_all);
    write_file(dir_ / "plain.sh", "#!/bin/sh\n");
    fs::permissions(dir_ / "plain.sh", fs::perms::owner_read | fs::perms::owner_write);
    fs::create_directories(dir_ / "rootfs");
    fs::create_directories(dir_ / "models");
    write_file(dir_ / "profiles.yaml",
               "profile_set: here\n"
               "models:\n"
               "  - name: m1\n"
               "    input_shape: [3, 32, 32]\n"
               "    exe_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
               "  - name: m2\n"
               "    input_shape: [3, 64, 64]\n"
               "    exe_ms: [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]\n"
               "    pre: 1500us\n");
    write_file(dir_ / "bad-profiles.yaml", "profile_set: bad\nmodels: []\n");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

 protected:
  static std::string path(const std::string& relative) { return (dir_ / relative).string(); }

  static Result<config::NodeConfig> parse(const std::string& text, const std::string& file = "x.yaml") {
    return config::parse_node_config(text, file, dir_.string());
  }

  // Parses `text` as "x.yaml" and checks that it fails with a message that starts with
  // "x.yaml:LINE: PATH: " and contains `reason`.
  static ::testing::AssertionResult fails_with(const std::string& text, int line,
                                               const std::string& field,
                                               const std::string& reason) {
    Result<config::NodeConfig> r = parse(text);
    if (r.ok()) return ::testing::AssertionFailure() << "parsed without error:\n" << text;
    return error_matches(r.error(), line, field, reason);
  }

  static inline fs::path dir_;
};

TEST_F(NodeConfigTest, FullFileReadsEveryField) {
  Result<config::NodeConfig> r = parse(kBase, "conf/x.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const config::NodeConfig& c = *r;
  EXPECT_EQ(c.name, "lamp-1");
  EXPECT_EQ(c.source_file, "conf/x.yaml");
  EXPECT_EQ(c.scheduler.text(), "edf");
  EXPECT_EQ(c.isolation, config::Isolation::kSandbox);
  EXPECT_EQ(c.run_dir, "/tmp/coedge-test-run");
  EXPECT_EQ(c.backend, "opencv");
  EXPECT_EQ(c.backend_threads, 2);
  EXPECT_EQ(c.profiles, path("profiles.yaml"));
  EXPECT_EQ(c.window, 5s);
  EXPECT_EQ(c.duration, 60s);
  EXPECT_EQ(c.hang_timeout, 2s);
  EXPECT_EQ(c.metrics_port, 9464);
  EXPECT_EQ(c.metrics_address, "0.0.0.0");
  EXPECT_EQ(c.metrics_linger, 3s);
  EXPECT_EQ(c.jobs_jsonl, "/tmp/jobs.jsonl");

  // Models are ModelProfiles, their profiles taken from the profile set at load.
  ASSERT_EQ(c.models.size(), 2u);
  ASSERT_EQ(c.model_files.size(), 2u);
  EXPECT_EQ(c.models[0].name, "m1");
  EXPECT_EQ(c.model_files[0], path("m1.onnx"));
  EXPECT_EQ(c.models[0].exe(1), 1ms);
  EXPECT_EQ(c.models[0].exe(10), 10ms);
  EXPECT_EQ(c.models[0].input_shape, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(c.models[0].profile_source, path("profiles.yaml"));
  EXPECT_EQ(c.models[1].name, "m2");
  EXPECT_EQ(c.model_files[1], path("sub/m2.onnx"));  // normalised
  EXPECT_EQ(c.models[1].exe(3), 6ms);
  EXPECT_EQ(c.models[1].pre_time, 1500us);

  ASSERT_EQ(c.sensors.size(), 3u);
  EXPECT_EQ(c.sensors[0].name, "cam0");
  EXPECT_EQ(c.sensors[0].kind, config::SensorKind::kSynthetic);
  EXPECT_EQ(c.sensors[0].path, "");
  EXPECT_EQ(c.sensors[0].width, 640);
  EXPECT_EQ(c.sensors[0].height, 480);
  EXPECT_EQ(c.sensors[0].period, 0us);
  EXPECT_EQ(c.sensors[1].name, "cam1");
  EXPECT_EQ(c.sensors[1].kind, config::SensorKind::kFolder);
  EXPECT_EQ(c.sensors[1].path, path("frames/"));
  EXPECT_FALSE(c.sensors[1].loop);
  EXPECT_EQ(c.sensors[1].period, 100ms);
  EXPECT_EQ(c.sensors[2].kind, config::SensorKind::kVideo);
  EXPECT_EQ(c.sensors[2].path, path("clip.avi"));
  EXPECT_TRUE(c.sensors[2].loop);

  // Tasks are TaskSpecs (model by index, source 0: this node), their node-only part
  // alongside.
  ASSERT_EQ(c.tasks.size(), 5u);
  ASSERT_EQ(c.task_runtime.size(), 5u);
  const TaskSpec& t = c.tasks[0];
  const config::TaskRuntime& tr = c.task_runtime[0];
  EXPECT_EQ(t.name, "t0");
  EXPECT_EQ(t.model, 0u);
  EXPECT_EQ(t.source, 0u);
  EXPECT_EQ(tr.sensor, 0u);
  EXPECT_EQ(t.period, 400ms);
  EXPECT_EQ(t.deadline, 300ms);
  EXPECT_EQ(t.priority, 3);
  EXPECT_DOUBLE_EQ(t.epsilon, 0.2);
  EXPECT_EQ(tr.worker, path("worker.sh"));
  EXPECT_EQ(tr.rootfs, path("rootfs"));
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(tr.env, (Env{{"OMP_NUM_THREADS", "1"}, {"MODE", "fast"}}));  // file order

  // replicas: 3 expands in place into r.1, r.2, r.3, identical otherwise.
  for (int i = 1; i <= 3; ++i) {
    const TaskSpec& rep = c.tasks[static_cast<size_t>(i)];
    EXPECT_EQ(rep.name, "r." + std::to_string(i));
    EXPECT_EQ(rep.model, 1u);
    EXPECT_EQ(c.task_runtime[static_cast<size_t>(i)].sensor, 1u);
    EXPECT_EQ(rep.period, 200ms);
    EXPECT_EQ(rep.deadline, 200ms);
    EXPECT_EQ(c.task_runtime[static_cast<size_t>(i)].worker, "stock");
  }
  EXPECT_EQ(c.tasks[4].name, "v");
  EXPECT_EQ(c.tasks[4].deadline, 1s);
}

TEST_F(NodeConfigTest, StreamSensorReadsItsSettingsWithDefaults) {
  const std::string text =
      "models: [{name: m, file: m1.onnx}]\n"
      "sensors:\n"
      "  - {name: street, kind: stream, url: 'http://127.0.0.1:8090/stream.ts', period: 40ms}\n"
      "  - {name: gate, kind: stream, url: 'rtsp://cam.local:8554/live', open_timeout: 3s, stall_timeout: 500ms,\n"
      "     reconnect_min: 100ms, reconnect_max: 4s}\n"
      "tasks: [{name: t, model: m, sensor: street, period: 100ms}, {name: u, model: m, sensor: gate, period: 1s}]\n";
  Result<config::NodeConfig> r = parse(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->sensors.size(), 2u);
  const config::SensorConfig& street = r->sensors[0];
  EXPECT_EQ(street.kind, config::SensorKind::kStream);
  EXPECT_EQ(to_string(street.kind), "stream");
  EXPECT_EQ(street.stream.url, "http://127.0.0.1:8090/stream.ts");
  EXPECT_EQ(street.path, "") << "a URL is not resolved against the config's folder";
  EXPECT_EQ(street.period, 40ms);
  EXPECT_EQ(street.stream.open_timeout, 5s);
  EXPECT_EQ(street.stream.stall_timeout, 2s);
  EXPECT_EQ(street.stream.reconnect_min, 500ms);
  EXPECT_EQ(street.stream.reconnect_max, 10s);
  const config::SensorConfig& gate = r->sensors[1];
  EXPECT_EQ(gate.stream.url, "rtsp://cam.local:8554/live");
  EXPECT_EQ(gate.stream.open_timeout, 3s);
  EXPECT_EQ(gate.stream.stall_timeout, 500ms);
  EXPECT_EQ(gate.stream.reconnect_min, 100ms);
  EXPECT_EQ(gate.stream.reconnect_max, 4s);
}

// One subscription per topic: a second sensor on a topic is refused at its line (a task
// shares the first sensor instead).
TEST_F(NodeConfigTest, TwoSensorsOnOneTopicAreRefused) {
  const std::string text =
      "models: [{name: m, file: m1.onnx}]\n"
      "sensors:\n"
      "  - {name: front, kind: topic, topic: /front/image_raw}\n"
      "  - {name: again, kind: topic, topic: /front/image_raw}\n"
      "tasks:\n"
      "  - {name: det, model: m, sensor: front, period: 100ms}\n";
  Result<config::NodeConfig> r = parse(text);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(":4"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("topic /front/image_raw is already sensor 'front''s"), std::string::npos)
      << r.error().message;
}

TEST_F(NodeConfigTest, TopicSensorsReadTheirTopicWithDefaults) {
  const std::string text =
      "models: [{name: m, file: m1.onnx}]\n"
      "publish_results: false\n"
      "sensors:\n"
      "  - {name: front, kind: topic, topic: /front/image_raw}\n"
      "  - {name: gate, kind: topic, topic: /gate/image_raw/compressed, reliability: reliable,\n"
      "     width: 1920, height: 1080}\n"
      "  - {name: odd, kind: topic, topic: /odd/jpeg_stream, compressed: true}\n"
      "  - {name: raw, kind: topic, topic: /raw/compressed, compressed: false}\n"
      "tasks:\n"
      "  - {name: det, model: m, sensor: front, period: 100ms}\n"
      "  - {name: cls, model: m, sensor: front, period: 200ms}\n"
      "  - {name: g, model: m, sensor: gate, period: 1s}\n";
  Result<config::NodeConfig> r = parse(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->publish_results);
  ASSERT_EQ(r->sensors.size(), 4u);
  const config::SensorConfig& front = r->sensors[0];
  EXPECT_EQ(front.kind, config::SensorKind::kTopic);
  EXPECT_EQ(to_string(front.kind), "topic");
  EXPECT_EQ(front.path, "/front/image_raw") << "a topic is not resolved against the config's folder";
  EXPECT_FALSE(front.compressed);
  EXPECT_EQ(front.reliability, config::TopicReliability::kBestEffort);
  EXPECT_EQ(front.width, 1280);
  EXPECT_EQ(front.height, 720);
  EXPECT_EQ(front.period, 0ms);
  const config::SensorConfig& gate = r->sensors[1];
  EXPECT_TRUE(gate.compressed) << "image_transport's /compressed suffix";
  EXPECT_EQ(gate.reliability, config::TopicReliability::kReliable);
  EXPECT_EQ(gate.width, 1920);
  EXPECT_EQ(gate.height, 1080);
  EXPECT_TRUE(r->sensors[2].compressed);
  EXPECT_FALSE(r->sensors[3].compressed);
  EXPECT_EQ(r->task_runtime[0].sensor, 0u);
  EXPECT_EQ(r->task_runtime[1].sensor, 0u);
  EXPECT_TRUE(parse(kMinimal)->publish_results);
}

TEST_F(NodeConfigTest, Defaults) {
  Result<config::NodeConfig> r = parse(kMinimal, "some/dir/lamp-2.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const config::NodeConfig& c = *r;
  EXPECT_EQ(c.name, "lamp-2");  // the file name without folder and extension
  EXPECT_EQ(c.scheduler.text(), "coedge");
  EXPECT_EQ(c.isolation, config::Isolation::kSandbox);
  EXPECT_EQ(c.run_dir, "/var/tmp/coedge-lamp-2");
  EXPECT_EQ(c.backend, "opencv");
  EXPECT_EQ(c.backend_threads, 0);
  EXPECT_EQ(c.profiles, "");
  EXPECT_EQ(c.window, 10s);
  EXPECT_EQ(c.duration, 0us);
  EXPECT_EQ(c.hang_timeout, 3s);
  EXPECT_EQ(c.metrics_port, 0);
  EXPECT_EQ(c.metrics_address, "127.0.0.1");  // loopback unless opened
  EXPECT_EQ(c.metrics_linger, 0us);
  EXPECT_EQ(c.jobs_jsonl, "");
  ASSERT_EQ(c.sensors.size(), 1u);
  EXPECT_EQ(c.sensors[0].width, 1280);
  EXPECT_EQ(c.sensors[0].height, 720);
  EXPECT_TRUE(c.sensors[0].loop);
  EXPECT_EQ(c.sensors[0].period, 0us);
  ASSERT_EQ(c.tasks.size(), 1u);
  const TaskSpec& t = c.tasks[0];
  EXPECT_EQ(t.deadline, 100ms);
  EXPECT_EQ(t.priority, 0);
  EXPECT_DOUBLE_EQ(t.epsilon, 0.10);
  EXPECT_EQ(c.task_runtime[0].worker, "stock");
  EXPECT_EQ(c.task_runtime[0].rootfs, "");
  EXPECT_TRUE(c.task_runtime[0].env.empty());
  // No profile set: the models wait to be measured at start.
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_EQ(c.models[0].exe(1), 0us);
  EXPECT_EQ(c.models[0].profile_source, "");

  // A file name that is not a usable node name leaves the default "node".
  Result<config::NodeConfig> odd = parse(kMinimal, "my node.yaml");
  ASSERT_TRUE(odd.ok()) << odd.error().message;
  EXPECT_EQ(odd->name, "node");
  EXPECT_EQ(odd->run_dir, "/var/tmp/coedge-node");
}

TEST_F(NodeConfigTest, OtherSpellings) {
  // `backend:` as a plain name, `stock` worker, empty env and metrics, stock everything.
  Result<config::NodeConfig> r = parse("backend: auto\nmetrics:\n" +
                               replace_lines(kMinimal, 3, 3,
                                             "tasks: [{name: t, model: m, sensor: c, period: "
                                             "100ms, worker: stock, env: }]"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->backend, "auto");
  EXPECT_EQ(r->task_runtime[0].worker, "stock");
  EXPECT_TRUE(r->task_runtime[0].env.empty());
  // A worker and env are fine under isolation: process; a sensor period equal to the
  // fastest task's period is fine.
  Result<config::NodeConfig> p = parse(replace_lines(replace_line(3, "isolation: process"), 27, 27, ""));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->isolation, config::Isolation::kProcess);
  Result<config::NodeConfig> q = parse(replace_line(16, "  - {name: cam1, kind: folder, path: frames, period: 200ms}"));
  ASSERT_TRUE(q.ok()) << q.error().message;
}

// The scheduler is a policy spec, options included (triton's knobs), parsed once at load;
// an old name still reads, with a note naming the file and line.
TEST_F(NodeConfigTest, SchedulerSpecs) {
  Result<config::NodeConfig> r = parse(replace_line(2, "scheduler: \"triton: timeout=none, preferred=2,4\""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->scheduler.text(), "triton:preferred=2,4,timeout=none");
  EXPECT_EQ(r->scheduler.batch_sizes("preferred"), (std::vector<int>{2, 4}));
  EXPECT_TRUE(r->notices.empty());
  Result<config::NodeConfig> old = parse(replace_line(2, "scheduler: coedge-wait"));
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->scheduler.text(), "coedge:wait-for-batch");
  ASSERT_EQ(old->notices.size(), 1u);
  EXPECT_EQ(old->notices[0].rfind("x.yaml:2: ", 0), 0u) << old->notices[0];
  EXPECT_NE(old->notices[0].find("deprecated"), std::string::npos) << old->notices[0];
}

TEST_F(NodeConfigTest, RelativePaths) {
  // Inputs against the file's folder (here given relative to the current directory),
  // outputs against the current directory; everything comes back absolute.
  const fs::path cwd = fs::current_path();
  const std::string rel_dir = fs::relative(dir_, cwd).string();
  ASSERT_FALSE(fs::path(rel_dir).is_absolute());
  const std::string text = replace_lines(replace_line(4, "run_dir: run/here"), 10, 10,
                                         "metrics: {jobs: out/jobs.jsonl}");
  Result<config::NodeConfig> r = config::parse_node_config(text, "x.yaml", rel_dir);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(fs::path(r->model_files[0]).is_absolute());
  EXPECT_TRUE(fs::equivalent(r->model_files[0], dir_ / "m1.onnx"));
  EXPECT_TRUE(fs::equivalent(r->profiles, dir_ / "profiles.yaml"));
  EXPECT_TRUE(fs::path(r->sensors[1].path).is_absolute());
  EXPECT_TRUE(fs::equivalent(r->sensors[1].path, dir_ / "frames"));
  EXPECT_TRUE(fs::equivalent(r->task_runtime[0].worker, dir_ / "worker.sh"));
  EXPECT_TRUE(fs::equivalent(r->task_runtime[0].rootfs, dir_ / "rootfs"));
  EXPECT_EQ(r->run_dir, (cwd / "run/here").string());
  EXPECT_EQ(r->jobs_jsonl, (cwd / "out/jobs.jsonl").string());
  EXPECT_EQ(r->metrics_port, 0);
}

TEST_F(NodeConfigTest, LoadFromFile) {
  write_file(dir_ / "conf/lamp-9.yaml",
             "models: [{name: m, file: ../m1.onnx}]\n"
             "sensors: [{name: c, kind: folder, path: ../frames}]\n"
             "tasks: [{name: t, model: m, sensor: c, period: 100ms}]\n");
  Result<config::NodeConfig> r = config::load_node_config(path("conf/lamp-9.yaml"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "lamp-9");
  EXPECT_EQ(r->source_file, path("conf/lamp-9.yaml"));
  EXPECT_EQ(r->model_files[0], path("m1.onnx"));
  EXPECT_EQ(r->sensors[0].path, path("frames"));

  Result<config::NodeConfig> missing = config::load_node_config(path("nope.yaml"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, path("nope.yaml") + ": cannot read: No such file or directory");
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
}

TEST(NodeConfigIsolation, ParseAndName) {
  for (config::Isolation i : {config::Isolation::kSandbox, config::Isolation::kProcess, config::Isolation::kNone}) {
    Result<config::Isolation> back = config::parse_isolation(to_string(i));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, i);
  }
  EXPECT_EQ(to_string(config::Isolation::kNone), "none");
  Result<config::Isolation> bad = config::parse_isolation("docker");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "unknown isolation mode 'docker' (choices: sandbox, process, none)");
  EXPECT_EQ(to_string(config::SensorKind::kFolder), "folder");
  EXPECT_EQ(to_string(config::SensorKind::kVideo), "video");
  EXPECT_EQ(to_string(config::SensorKind::kSynthetic), "synthetic");
}

TEST_F(NodeConfigTest, BaseIsValid) {
  Result<config::NodeConfig> r = parse(kBase);
  EXPECT_TRUE(r.ok()) << r.error().message;
}

struct ErrorCase {
  int first, last;          // lines of kBase to replace
  std::string replacement;  // may be several lines or none
  int line;                 // expected
  std::string field;
  std::string reason;
};

TEST_F(NodeConfigTest, Errors) {
  const std::string d = dir_.string();
  const std::vector<ErrorCase> cases = {
      // Syntax and structure.
      {16, 16, "  - {name: cam1, kind: folder", 19, "", "YAML syntax error"},
      {1, 30, "- a\n- b", 1, "", "the top level must be a map"},
      {1, 30, "# empty", 1, "", "the file is empty"},
      // Unknown and repeated fields.
      {3, 3, "isolaton: sandbox", 3, "isolaton", "unknown field; did you mean 'isolation'?"},
      {22, 22, "    peroid: 400ms", 22, "tasks[0].peroid", "did you mean 'period'?"},
      {15, 15, "  - {name: cam0, kind: synthetic, widht: 640}", 15, "sensors[0].widht",
       "did you mean 'width'?"},
      {10, 10, "metrics: {prot: 1}", 10, "metrics.prot", "did you mean 'port'?"},
      {5, 5, "backend: {name: opencv, thread: 2}", 5, "backend.thread", "did you mean 'threads'?"},
      {22, 22, "    period: 400ms\n    period: 1s", 23, "tasks[0].period",
       "given twice (first at line 22)"},
      // Missing fields and sections.
      {22, 22, "", 19, "tasks[0].period", "missing required field"},
      {21, 21, "", 19, "tasks[0].sensor", "missing required field"},
      {12, 12, "  - {name: m1}", 12, "models[0].file", "missing required field"},
      {15, 15, "  - {name: cam0}", 15, "sensors[0].kind", "missing required field"},
      {18, 30, "", 1, "tasks", "missing required field"},
      {11, 13, "", 1, "models", "missing required field"},
      {18, 30, "tasks: []", 18, "tasks", "must list at least one task"},
      {11, 13, "models: []", 11, "models", "must list at least one model"},
      {14, 17, "sensors: []", 14, "sensors", "must list at least one sensor"},
      // Names.
      {13, 13, "  - {name: m1, file: m1.onnx}", 13, "models[1].name",
       "duplicate model name 'm1' (first at line 12)"},
      {17, 17, "  - {name: cam0, kind: video, path: clip.avi}", 17, "sensors[2].name",
       "duplicate sensor name 'cam0' (first at line 15)"},
      {30, 30, "  - {name: t0, model: m1, sensor: cam2, period: 1s}", 30, "tasks[2].name",
       "duplicate task name 't0' (first at line 19)"},
      {30, 30, "  - {name: r.2, model: m1, sensor: cam2, period: 1s}", 30, "tasks[2].name",
       "duplicate task name 'r.2' (first at line 29)"},
      {1, 1, "node: a/b", 1, "node", "'a/b' is not a usable name"},
      {19, 19, "  - name: \"t 0\"", 19, "tasks[0].name", "is not a usable name"},
      {19, 19, "  - name: \"\"", 19, "tasks[0].name", "must not be empty"},
      // References.
      {20, 20, "    model: m3", 20, "tasks[0].model", "unknown model 'm3' (known: m1, m2)"},
      {21, 21, "    sensor: cma0", 21, "tasks[0].sensor",
       "unknown sensor 'cma0'; did you mean 'cam0'? (known: cam0, cam1, cam2)"},
      // Task values.
      {22, 22, "    period: 0ms", 22, "tasks[0].period", "must be positive, got '0ms'"},
      {22, 22, "    period: 400", 22, "tasks[0].period", "needs a unit, e.g. '400ms'"},
      {23, 23, "    deadline: -1s", 23, "tasks[0].deadline", "must be positive, got '-1s'"},
      {24, 24, "    priority: 2000000", 24, "tasks[0].priority",
       "must be between -1000000 and 1000000"},
      {24, 24, "    priority: high", 24, "tasks[0].priority", "expected a whole number"},
      {25, 25, "    epsilon: 1.5", 25, "tasks[0].epsilon", "must be a miss-rate fraction in [0, 1]"},
      {29, 29, "  - {name: r, model: m2, sensor: cam1, period: 200ms, replicas: 0}", 29,
       "tasks[1].replicas", "must be at least 1 (and at most 1000)"},
      {26, 26, "    worker: nope", 26, "tasks[0].worker",
       "worker '" + d + "/nope' does not exist (give 'stock'"},
      {26, 26, "    worker: plain.sh", 26, "tasks[0].worker",
       "worker '" + d + "/plain.sh' is not an executable file"},
      {26, 26, "    worker: rootfs", 26, "tasks[0].worker", "is not an executable file"},
      {27, 27, "    rootfs: nope", 27, "tasks[0].rootfs",
       "root filesystem '" + d + "/nope' does not exist"},
      {27, 27, "    rootfs: clip.avi", 27, "tasks[0].rootfs", "is not a folder"},
      {28, 28, "    env: {1X: a}", 28, "tasks[0].env", "environment variable names"},
      {28, 28, "    env: [A]", 28, "tasks[0].env", "expected a map"},
      {28, 28, "    env: {A: [1, 2]}", 28, "tasks[0].env.A", "expected text"},
      // Isolation and what depends on it.
      {3, 3, "isolation: container", 3, "isolation",
       "unknown isolation mode 'container' (choices: sandbox, process, none)"},
      {3, 3, "isolation: process", 27, "tasks[0].rootfs",
       "rootfs needs isolation: sandbox (isolation is process)"},
      {3, 3, "isolation: none", 26, "tasks[0].worker",
       "a worker executable needs isolation: process or sandbox (isolation is none)"},
      // Sensors.
      {15, 15, "  - {name: cam0, kind: syntetic}", 15, "sensors[0].kind",
       "unknown sensor kind 'syntetic'; did you mean 'synthetic'? (choices: folder, video, synthetic, stream, topic)"},
      {16, 16, "  - {name: cam1, kind: folder}", 16, "sensors[1].path",
       "missing required field: a folder sensor"},
      {17, 17, "  - {name: cam2, kind: video}", 17, "sensors[2].path",
       "missing required field: a video sensor"},
      {16, 16, "  - {name: cam1, kind: folder, path: nope}", 16, "sensors[1].path",
       "folder '" + d + "/nope' does not exist"},
      {16, 16, "  - {name: cam1, kind: folder, path: clip.avi}", 16, "sensors[1].path",
       "is not a folder"},
      {17, 17, "  - {name: cam2, kind: video, path: gone.avi}", 17, "sensors[2].path",
       "video file '" + d + "/gone.avi' does not exist"},
      {17, 17, "  - {name: cam2, kind: video, path: frames}", 17, "sensors[2].path",
       "is not a file"},
      {15, 15, "  - {name: cam0, kind: synthetic, width: 8}", 15, "sensors[0].width",
       "must be between 16 and 8192 pixels, got '8'"},
      {15, 15, "  - {name: cam0, kind: synthetic, height: 9000}", 15, "sensors[0].height",
       "must be between 16 and 8192"},
      {15, 15, "  - {name: cam0, kind: synthetic, path: frames}", 15, "sensors[0].path",
       "only folder and video sensors have this field (this one is kind: synthetic)"},
      {17, 17, "  - {name: cam2, kind: video, path: clip.avi, width: 64}", 17,
       "sensors[2].width", "only synthetic and topic sensors have this field (this one is kind: video)"},
      {15, 15, "  - {name: cam0, kind: synthetic, loop: true}", 15, "sensors[0].loop",
       "only folder and video sensors"},
      {16, 16, "  - {name: cam1, kind: folder, path: frames, loop: yes}", 16, "sensors[1].loop",
       "expected true or false"},
      // Stream sensors.
      {17, 17, "  - {name: cam2, kind: stream}", 17, "sensors[2].url",
       "missing required field: a stream sensor reads a network URL"},
      {17, 17, "  - {name: cam2, kind: stream, url: clip.avi}", 17, "sensors[2].url",
       "'clip.avi' is not a stream URL: expected SCHEME://HOST[:PORT][/PATH] with a scheme of http, https, tcp, "
       "udp, rtp, rtsp, rtsps, rtmp, srt (a local file is a sensor of kind: video)"},
      {17, 17, "  - {name: cam2, kind: stream, url: 'file:///x.ts'}", 17, "sensors[2].url", "is not a stream URL"},
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://'}", 17, "sensors[2].url", "is not a stream URL"},
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://c/live', path: clip.avi}", 17, "sensors[2].path",
       "only folder and video sensors have this field (this one is kind: stream)"},
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://c/live', width: 64}", 17, "sensors[2].width",
       "only synthetic and topic sensors have this field (this one is kind: stream)"},
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://c/live', loop: true}", 17, "sensors[2].loop",
       "only folder and video sensors"},
      {17, 17, "  - {name: cam2, kind: video, path: clip.avi, url: 'rtsp://c/live'}", 17, "sensors[2].url",
       "only stream sensors have this field (this one is kind: video)"},
      {17, 17, "  - {name: cam2, kind: video, path: clip.avi, stall_timeout: 1s}", 17, "sensors[2].stall_timeout",
       "only stream sensors have this field"},
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://c/live', stall_timeout: 0s}", 17,
       "sensors[2].stall_timeout", "must be positive"},
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://c/live', open_timeout: soon}", 17,
       "sensors[2].open_timeout", ""},
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://c/live', reconnect_min: 2s, reconnect_max: 1s}", 17,
       "sensors[2].reconnect_max",
       "reconnect_max 1s is shorter than reconnect_min 2s (the retry delay doubles from reconnect_min up to "
       "reconnect_max; give both)"},
      // Against the default reconnect_max (10s): not capped silently.
      {17, 17, "  - {name: cam2, kind: stream, url: 'rtsp://c/live', reconnect_min: 30s}", 17,
       "sensors[2].reconnect_min", "reconnect_max 10s is shorter than reconnect_min 30s"},
      // Topic sensors.
      {17, 17, "  - {name: cam2, kind: topic}", 17, "sensors[2].topic",
       "missing required field: a topic sensor subscribes to a ROS 2 image topic, e.g. /camera/image_raw"},
      {17, 17, "  - {name: cam2, kind: topic, topic: camera/image_raw}", 17, "sensors[2].topic",
       "must be an absolute ROS 2 topic, starting with '/', got 'camera/image_raw'"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /camera//image_raw}", 17, "sensors[2].topic", "must not contain '//'"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /camera/image_raw/}", 17, "sensors[2].topic", "must not end with '/'"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /camera/image-raw}", 17, "sensors[2].topic",
       "may hold only letters, digits, '_' and '/', not '-'"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /3d/image_raw}", 17, "sensors[2].topic",
       "a name between '/' must not start with a digit"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, period: 100ms}", 17, "sensors[2].period",
       "only folder, video, synthetic and stream sensors have this field (this one is kind: topic)"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, phase: 10ms}", 17, "sensors[2].phase",
       "only folder, video, synthetic and stream sensors have this field (this one is kind: topic)"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, path: clip.avi}", 17, "sensors[2].path",
       "only folder and video sensors have this field (this one is kind: topic)"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, loop: true}", 17, "sensors[2].loop",
       "only folder and video sensors have this field (this one is kind: topic)"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, url: 'rtsp://c/live'}", 17, "sensors[2].url",
       "only stream sensors have this field (this one is kind: topic)"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, reliability: lossless}", 17,
       "sensors[2].reliability", "unknown reliability 'lossless' (choices: best_effort"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, compressed: jpeg}", 17,
       "sensors[2].compressed", "expected true or false"},
      {17, 17, "  - {name: cam2, kind: topic, topic: /c/image_raw, width: 8}", 17, "sensors[2].width",
       "must be between 16 and 8192 pixels"},
      {17, 17, "  - {name: cam2, kind: video, path: clip.avi, topic: /c/image_raw}", 17, "sensors[2].topic",
       "only topic sensors have this field (this one is kind: video)"},
      {17, 17, "  - {name: cam2, kind: synthetic, reliability: reliable}", 17, "sensors[2].reliability",
       "only topic sensors have this field (this one is kind: synthetic)"},
      {17, 17, "  - {name: cam2, kind: synthetic, compressed: true}", 17, "sensors[2].compressed",
       "only topic sensors have this field (this one is kind: synthetic)"},
      {1, 1, "node: lamp-1\npublish_results: maybe", 2, "publish_results", "expected true or false"},
      {16, 16, "  - {name: cam1, kind: folder, path: frames, period: -1ms}", 16,
       "sensors[1].period", "must not be negative"},
      {16, 16, "  - {name: cam1, kind: folder, path: frames, period: 300ms}", 16,
       "sensors[1].period",
       "is 300ms, longer than the period 200ms of task 'r.1' (line 29), which would see frames "
       "twice"},
      // Models.
      {12, 12, "  - {name: m1, file: gone.onnx}", 12, "models[0].file",
       "model file '" + d + "/gone.onnx' does not exist"},
      {12, 12, "  - {name: m1, file: models/gone.onnx}", 12, "models[0].file",
       "does not exist (the generated ONNX models are made by the build, in build/models, and "
       "installed in share/coedge/models: run `make build`, or `make install`)"},
      {12, 12, "  - {name: m1, file: sub}", 12, "models[0].file", "is not a file"},
      {13, 13, "  - {name: m3, file: sub/m2.onnx}", 13, "models[1].name",
       "model 'm3' has no profile in the profile set " + d +
           "/profiles.yaml (it has: m1, m2); profile it with `coedge profile` or leave "
           "`profiles:` out to measure at start"},
      // Top-level values.
      {2, 2, "scheduler: \"\"", 2, "scheduler", "must not be empty"},
      {2, 2, "scheduler: fifo", 2, "scheduler", "unknown scheduler 'fifo'"},
      {2, 2, "scheduler: triton:preferred=12", 2, "scheduler", "batch sizes within 1-10"},
      {2, 2, "scheduler: coedge:batch-aware", 2, "scheduler",
       "unknown option 'batch-aware' of coedge"},
      {4, 4, "run_dir: [a]", 4, "run_dir", "expected a name"},
      {5, 5, "backend: {threads: -1}", 5, "backend.threads", "must be between 0"},
      {5, 5, "backend: [opencv]", 5, "backend", "expected a backend name or a map"},
      {6, 6, "profiles: nope.yaml", 6, "profiles",
       "cannot use profile set: " + d + "/nope.yaml: cannot read"},
      {6, 6, "profiles: bad-profiles.yaml", 6, "profiles",
       "cannot use profile set: " + d + "/bad-profiles.yaml:2: models: must list at least one"},
      {7, 7, "window: 500us", 7, "window", "must be at least 1ms, got '500us'"},
      {7, 7, "window: 0s", 7, "window", "must be positive"},
      {8, 8, "duration: -1s", 8, "duration", "must not be negative"},
      {9, 9, "hang_timeout: 0s", 9, "hang_timeout", "must be positive"},
      {10, 10, "metrics: {port: 70000}", 10, "metrics.port",
       "must be a TCP port from 0 (off) to 65535, got '70000'"},
      {10, 10, "metrics: {port: -1}", 10, "metrics.port", "must be a TCP port"},
      {10, 10, "metrics: 9464", 10, "metrics", "expected a map"},
      {10, 10, "metrics: {port: 9464, address: localhost}", 10, "metrics.address",
       "'localhost' is not an IP address to bind to; give 127.0.0.1"},
      {10, 10, "metrics: {port: 9464, address: 10.0.0.256}", 10, "metrics.address",
       "is not an IP address"},
      {10, 10, "metrics: {port: 9464, address: '::'}", 10, "metrics.address",
       "'::' is an IPv6 address; the metrics endpoint binds IPv4 only"},
      {10, 10, "metrics: {linger: -1s}", 10, "metrics.linger", "must not be negative"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE("lines " + std::to_string(c.first) + "-" + std::to_string(c.last) + " -> " +
                 c.replacement);
    EXPECT_TRUE(fails_with(replace_lines(kBase, c.first, c.last, c.replacement), c.line,
                           c.field, c.reason));
  }
}

TEST_F(NodeConfigTest, EnvNeedsWorkerProcesses) {
  // Without worker and rootfs, isolation: none still rejects env.
  const std::string text = replace_lines(replace_line(3, "isolation: none"), 26, 27, "");
  EXPECT_TRUE(fails_with(text, 26, "tasks[0].env",
                         "env needs isolation: process or sandbox (isolation is none)"));
  // Only the first problem is reported: a broken isolation value does not also blame
  // the tasks that depend on it.
  EXPECT_TRUE(fails_with(replace_line(3, "isolation: 7"), 3, "isolation", "unknown isolation"));
}

TEST_F(NodeConfigTest, BrokenEntriesStillDefineTheirNames) {
  // The model's file is missing; the task naming it is not blamed as well, so the model
  // line is the one reported even when the task comes first in the file.
  const std::string text =
      "tasks: [{name: t, model: m, sensor: c, period: 100ms}]\n"
      "models: [{name: m, file: gone.onnx}]\n"
      "sensors: [{name: c, kind: synthetic}]\n";
  EXPECT_TRUE(fails_with(text, 2, "models[0].file", "does not exist"));
}

// An example under examples/node, loaded as `coedge node --config` would, except that the
// build outputs it names (../../build/models, ../../build/bin: the default preset's build
// folder) are taken from this test's own build folder, so that every preset tests the
// models and workers it built itself.
Result<config::NodeConfig> load_example(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const std::string from = "../../build/", to = std::string(COEDGE_BINARY_DIR) + "/";
  for (size_t at = yaml.find(from); at != std::string::npos; at = yaml.find(from, at + to.size()))
    yaml.replace(at, from.size(), to);
  return config::parse_node_config(yaml, file.string(), file.parent_path().string());
}

TEST(NodeConfigExamples, EveryExampleLoads) {
  const fs::path examples = fs::path(COEDGE_SOURCE_DIR) / "examples/node";
  if (!fs::exists(fs::path(COEDGE_BINARY_DIR) / "models/resnet18-360.onnx") ||
      !fs::exists(fs::path(COEDGE_BINARY_DIR) / "bin/brightness-worker"))
    GTEST_SKIP() << "the examples name the generated models and the example worker; build the "
                    "`models` and `brightness-worker` targets of this preset first";
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(examples))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  ASSERT_GE(files.size(), 3u);
  for (const fs::path& file : files) {
    Result<config::NodeConfig> r = load_example(file);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->tasks.empty()) << file;
    EXPECT_EQ(r->name, file.stem().string()) << "name examples after their node";
  }
  Result<config::NodeConfig> resnet = load_example(examples / "resnet-3.yaml");
  ASSERT_TRUE(resnet.ok());
  EXPECT_EQ(resnet->tasks.size(), 3u);
  EXPECT_EQ(resnet->model_files[0],
            (fs::path(COEDGE_BINARY_DIR) / "models/resnet18-360.onnx").lexically_normal().string());
  Result<config::NodeConfig> mixed = load_example(examples / "mixed.yaml");
  ASSERT_TRUE(mixed.ok());
  ASSERT_EQ(mixed->tasks.size(), 2u);
  EXPECT_EQ(mixed->task_runtime[0].sensor, mixed->task_runtime[1].sensor);
  // mixed.yaml names a profile set: its models carry their ExeTime from the load on.
  EXPECT_GT(mixed->models[0].exe(1).count(), 0);
  EXPECT_NE(mixed->tasks[0].model, mixed->tasks[1].model);
  // mixed.yaml also shows the sandbox, the limits and a task's own limits.
  EXPECT_TRUE(mixed->sandbox.seccomp);
  EXPECT_EQ(mixed->sandbox.private_paths, std::vector<std::string>{"/root"});
  EXPECT_EQ(mixed->task_runtime[0].limits, config::WorkerLimits{});
  EXPECT_EQ(mixed->task_runtime[1].limits, (config::WorkerLimits{1.0, 768ull << 20, 64}));
  Result<config::NodeConfig> folder = load_example(examples / "detect-folder.yaml");
  ASSERT_TRUE(folder.ok());
  ASSERT_EQ(folder->tasks.size(), 2u);
  EXPECT_EQ(folder->tasks[1].name, "detect.2");
  EXPECT_EQ(folder->sensors[0].kind, config::SensorKind::kFolder);
  Result<config::NodeConfig> stream = load_example(examples / "stream-camera.yaml");
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(stream->sensors[0].kind, config::SensorKind::kStream);
  EXPECT_EQ(stream->sensors[0].stream.url, "http://127.0.0.1:8090/stream.ts");
}

}  // namespace
TEST_F(NodeConfigTest, SensorPhase) {
  Result<config::NodeConfig> r = parse(
      "models: [{name: m, file: m1.onnx}]\n"
      "sensors: [{name: c, kind: synthetic, phase: 40ms}, {name: d, kind: synthetic}]\n"
      "tasks: [{name: t, model: m, sensor: c, period: 100ms}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sensors[0].phase, 40ms);
  EXPECT_EQ(r->sensors[1].phase, 0ms);
  EXPECT_TRUE(fails_with(
      "models: [{name: m, file: m1.onnx}]\n"
      "sensors: [{name: c, kind: synthetic, phase: -1ms}]\n"
      "tasks: [{name: t, model: m, sensor: c, period: 100ms}]\n",
      2, "sensors[0].phase", ""));
}

}  // namespace coedge::config

namespace coedge::config {
namespace {

using ::coedge::testing::error_matches;

// `sandbox`, `worker_limits`, a task's `limits` and `violations`: lines 1-3 are kMinimal's.
const std::string kHardenedTail =
    "sandbox: {seccomp: false, private_paths: [/srv/keys/, /etc/../root]}\n"  // 4
    "worker_limits: {cpus: 0.5, memory: 1.5GiB, pids: 100}\n"                 // 5
    "violations: {limit: 5, window: 2min}\n";                                  // 6

Result<NodeConfig> parse_in(const std::string& text, const std::string& dir) {
  return parse_node_config(text, "x.yaml", dir);
}

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-node-hardening-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "m1.onnx") << "stand-in";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Result<NodeConfig> parse(const std::string& text) { return parse_in(text, dir_.string()); }
  ::testing::AssertionResult fails_with(const std::string& text, int line, const std::string& field,
                                        const std::string& reason) {
    Result<NodeConfig> r = parse(text);
    if (r.ok()) return ::testing::AssertionFailure() << "parsed without error:\n" << text;
    return error_matches(r.error(), line, field, reason);
  }
  fs::path dir_;
};

TEST_F(HardeningTest, DefaultsWhenNotGiven) {
  Result<NodeConfig> r = parse(kMinimal);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->sandbox.seccomp);
  EXPECT_TRUE(r->sandbox.private_paths.empty());
  EXPECT_EQ(r->worker_limits.cpus, 1.0);
  EXPECT_EQ(r->worker_limits.memory_bytes, 512ull << 20);
  EXPECT_EQ(r->worker_limits.pids, 64u);
  EXPECT_EQ(r->task_runtime[0].limits, r->worker_limits);
  EXPECT_EQ(r->violations.limit, 3u);
  EXPECT_EQ(r->violations.window, std::chrono::seconds(60));
  // A config built in code (a cluster node's) has the same defaults.
  EXPECT_EQ(TaskRuntime{}.limits, NodeConfig{}.worker_limits);
  EXPECT_EQ(NodeConfig{}.violations, r->violations);
}

TEST_F(HardeningTest, ReadsEveryFieldAndTaskOverridesFieldByField) {
  const std::string text =
      "models: [{name: m, file: m1.onnx}]\n"
      "sensors: [{name: c, kind: synthetic}]\n"
      "tasks:\n"
      "  - {name: a, model: m, sensor: c, period: 100ms}\n"
      "  - {name: b, model: m, sensor: c, period: 100ms, limits: {cpus: none, memory: 64 MiB}}\n"
      "  - {name: r, model: m, sensor: c, period: 100ms, replicas: 2, limits: {pids: 0, memory: 0}}\n" +
      kHardenedTail;
  Result<NodeConfig> r = parse(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->sandbox.seccomp);
  // Normalised, without a trailing '/'.
  EXPECT_EQ(r->sandbox.private_paths, (std::vector<std::string>{"/srv/keys", "/root"}));
  const WorkerLimits node{0.5, 3ull << 29, 100};
  EXPECT_EQ(r->worker_limits, node);
  ASSERT_EQ(r->task_runtime.size(), 4u);
  EXPECT_EQ(r->task_runtime[0].limits, node);
  EXPECT_EQ(r->task_runtime[1].limits, (WorkerLimits{0, 64ull << 20, 100}));  // none and 0: no limit
  EXPECT_EQ(r->task_runtime[2].limits, (WorkerLimits{0.5, 0, 0}));
  EXPECT_EQ(r->task_runtime[3].limits, r->task_runtime[2].limits);  // every replica
  EXPECT_EQ(r->violations.limit, 5u);
  EXPECT_EQ(r->violations.window, std::chrono::minutes(2));
  EXPECT_TRUE(parse(kMinimal + "violations: {limit: none}\n")->violations.limit == 0);
  EXPECT_EQ(parse(kMinimal + "worker_limits: {memory: 65536KiB}\n")->worker_limits.memory_bytes, 64ull << 20);
  EXPECT_EQ(parse(kMinimal + "worker_limits: {cpus: 1024}\n")->worker_limits.cpus, 1024.0);
  EXPECT_EQ(parse(kMinimal + "worker_limits: {memory: 1TiB}\n")->worker_limits.memory_bytes, 1ull << 40);
}

TEST_F(HardeningTest, AMissingPrivatePathIsANotice) {
  const std::string gone = (dir_ / "not-here").string();
  Result<NodeConfig> r = parse(kMinimal + "sandbox: {private_paths: [" + gone + ", " + dir_.string() + "]}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sandbox.private_paths, (std::vector<std::string>{gone, dir_.string()}));
  ASSERT_EQ(r->notices.size(), 1u);
  EXPECT_EQ(r->notices[0], "x.yaml:4: sandbox.private_paths[0]: " + gone +
                               " does not exist (yet); it is hidden from the workers of tasks started after it exists (a task's workers keep the view they started with, across restarts)");
}

TEST_F(HardeningTest, Errors) {
  const std::string m = kMinimal;
  auto top = [&](const std::string& line) { return m + line + "\n"; };
  auto task_limits = [&](const std::string& limits) {
    return replace_lines(m, 3, 3, "tasks: [{name: t, model: m, sensor: c, period: 100ms, limits: " + limits + "}]");
  };
  // sandbox
  EXPECT_TRUE(fails_with(top("sandbox: {private_paths: [keys]}"), 4, "sandbox.private_paths[0]",
                         "'keys' is not an absolute path"));
  EXPECT_TRUE(fails_with(top("sandbox: {private_paths: [/srv, /..]}"), 4, "sandbox.private_paths[1]",
                         "'/..' is the root folder"));
  EXPECT_TRUE(fails_with(top("sandbox: {private_paths: /srv}"), 4, "sandbox.private_paths", "expected a list"));
  EXPECT_TRUE(fails_with(top("sandbox: {seccomp: off}"), 4, "sandbox.seccomp", "expected true or false"));
  EXPECT_TRUE(fails_with(top("sandbox: {seccom: true}"), 4, "sandbox.seccom", "did you mean 'seccomp'"));
  EXPECT_TRUE(fails_with(top("isolation: process\nsandbox: {seccomp: true}"), 5, "sandbox",
                         "sandbox needs isolation: sandbox (isolation is process)"));
  // worker_limits and a task's limits: file:line, field, value and why.
  EXPECT_TRUE(fails_with(top("worker_limits: {cpus: -1}"), 4, "worker_limits.cpus",
                         "must be from 0.01 to 1024 CPUs (a share of CPU time; the kernel refuses less than "
                         "0.01), or none for no limit, got '-1'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {cpus: 1025}"), 4, "worker_limits.cpus", "got '1025'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {cpus: 0.001}"), 4, "worker_limits.cpus", "got '0.001'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {cpus: lots}"), 4, "worker_limits.cpus", "expected a number"));
  EXPECT_TRUE(fails_with(top("worker_limits: {memory: 512}"), 4, "worker_limits.memory",
                         "expected a size with a unit, such as 512MiB or 1.5GiB (KiB, MiB, GiB, TiB), or none "
                         "for no limit, got '512'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {memory: 15MiB}"), 4, "worker_limits.memory",
                         "must be at least 16MiB (a worker cannot start in less), or none for no limit, got '15MiB'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {memory: -1GiB}"), 4, "worker_limits.memory", "expected a size"));
  EXPECT_TRUE(fails_with(top("worker_limits: {memory: 1e3MiB}"), 4, "worker_limits.memory", "expected a size"));
  EXPECT_TRUE(fails_with(top("worker_limits: {memory: 512MB}"), 4, "worker_limits.memory", "expected a size"));
  EXPECT_TRUE(fails_with(top("worker_limits: {memory: 99999999999TiB}"), 4, "worker_limits.memory", "expected a size"));
  EXPECT_TRUE(fails_with(top("worker_limits: {memory: [1]}"), 4, "worker_limits.memory", "expected a size"));
  EXPECT_TRUE(fails_with(top("worker_limits: {pids: 7}"), 4, "worker_limits.pids",
                         "must be from 8 to 4194304 processes and threads (a worker and its sandbox need a "
                         "few), or none for no limit, got '7'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {pids: -8}"), 4, "worker_limits.pids", "got '-8'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {pids: 4194305}"), 4, "worker_limits.pids", "got '4194305'"));
  EXPECT_TRUE(fails_with(top("worker_limits: {pids: 1.5}"), 4, "worker_limits.pids", "expected a whole number"));
  EXPECT_TRUE(fails_with(top("worker_limits: {cpu: 1}"), 4, "worker_limits.cpu", "unknown field (known: cpus, memory, pids)"));
  EXPECT_TRUE(fails_with(top("worker_limits: 1"), 4, "worker_limits", "expected a map"));
  EXPECT_TRUE(fails_with(top("isolation: none\nworker_limits: {cpus: 1}"), 5, "worker_limits",
                         "worker_limits needs isolation: process or sandbox (isolation is none)"));
  EXPECT_TRUE(fails_with(task_limits("{memory: 8MiB}"), 3, "tasks[0].limits.memory", "must be at least 16MiB"));
  EXPECT_TRUE(fails_with(task_limits("{gpus: 1}"), 3, "tasks[0].limits.gpus", "unknown field"));
  EXPECT_TRUE(fails_with("isolation: none\n" + task_limits("{cpus: 1}"), 4, "tasks[0].limits",
                         "limits needs isolation: process or sandbox"));
  // violations
  EXPECT_TRUE(fails_with(top("violations: {limit: -1}"), 4, "violations.limit",
                         "must be from 1 to 1000000 kills of a task's workers, or none (0) to never quarantine, got '-1'"));
  EXPECT_TRUE(fails_with(top("violations: {window: 0s}"), 4, "violations.window", "must be positive"));
  EXPECT_TRUE(fails_with(top("violations: {window: 60}"), 4, "violations.window", ""));
}

}  // namespace
}  // namespace coedge::config
