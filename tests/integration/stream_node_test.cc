// `coedge node` with a stream sensor, end to end: an H.264 clip generated with ffmpeg at
// test time is served over loopback HTTP (`ffmpeg -re ... -listen 1`); the node (isolation
// none, the stock worker, YOLOv5s-160) takes frames from it; the test kills the server,
// waits for the node to report the stall, starts the server again on the same port, waits
// for the reconnection, lets frames flow and stops the node with SIGTERM. Checked: every
// released job accounted (summary and one job line each), the stream's counters in
// summary.json (two connections, a drop, one stall, captures without a frame), each job's
// frame stamped on arrival and used once per task, no job for a frame that arrived during
// the outage, and the log lines. No timing is asserted: the waits are for log lines, with
// hang guards.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/child_process.h"

#include "support/loopback.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using coedge::test::free_port;
using coedge::test::SilentListener;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";
const std::string kModel = COEDGE_BINARY_DIR "/models/yolov5s-160.onnx";
const std::string kProfiles = COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}


using Process = coedge::test::ChildProcess;

class StreamNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not /tmp: isolation none does not need it, but keep the node tests' habit.
    dir_ = fs::path("/var/tmp") / ("coedge-stream-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::printf("kept %s for inspection\n", dir_.c_str());
    }
  }
  std::unique_ptr<Process> serve(const fs::path& clip, int port, int n) {
    return std::make_unique<Process>(
        std::vector<std::string>{"ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", clip.string(), "-c",
                                 "copy", "-f", "mpegts", "-listen", "1",
                                 "http://127.0.0.1:" + std::to_string(port) + "/stream.ts"},
        dir_ / ("server" + std::to_string(n) + ".txt"));
  }
  // Waits until the node's output holds `needle` `times` times (or the node exits, or the
  // guard passes). Returns whether it did.
  bool wait_for(Process& node, const std::string& needle, size_t times = 1, std::chrono::seconds guard = 60s) {
    const auto until = std::chrono::steady_clock::now() + guard;
    while (std::chrono::steady_clock::now() < until) {
      if (occurrences(read_text(dir_ / "node.txt"), needle) >= times) return true;
      if (!node.running()) return false;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  // Waits until the jobs file has at least `n` lines (jobs closed), as wait_for.
  bool wait_for_jobs(Process& node, size_t n, std::chrono::seconds guard = 60s) {
    const auto until = std::chrono::steady_clock::now() + guard;
    while (std::chrono::steady_clock::now() < until) {
      if (occurrences(read_text(dir_ / "jobs.jsonl"), "\n") >= n) return true;
      if (!node.running()) return false;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  size_t job_lines() const { return occurrences(read_text(dir_ / "jobs.jsonl"), "\n"); }
  std::string output() const { return "\n--- node output ---\n" + read_text(dir_ / "node.txt") + "--- end ---"; }

  fs::path dir_;
};

TEST_F(StreamNodeTest, StallsReleasesNothingReconnectsAndAccountsEveryJob) {
  if (std::system("ffmpeg -hide_banner -loglevel quiet -version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "ffmpeg is not installed (Makefile PACKAGES)";
  }
  ASSERT_TRUE(fs::exists(kModel)) << kModel << " (built by the `models` target)";
  const fs::path clip = dir_ / "clip.ts";
  const std::string encode = "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25 -t 30 "
                             "-c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -f mpegts '" + clip.string() + "'";
  ASSERT_EQ(std::system(encode.c_str()), 0) << encode;
  const int port = free_port();
  ASSERT_GT(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/stream.ts";

  const fs::path config = dir_ / "stream.yaml";
  std::ofstream(config) << "node: stream-node\n"
                        << "isolation: none\n"
                        << "run_dir: " << (dir_ / "run").string() << "\n"
                        << "profiles: " << kProfiles << "\n"
                        << "models:\n  - {name: yolov5s-160, file: " << kModel << "}\n"
                        << "sensors:\n"
                        << "  - {name: street, kind: stream, url: '" << url << "', period: 100ms,\n"
                        << "     stall_timeout: 1s, reconnect_min: 200ms, reconnect_max: 1s}\n"
                        << "tasks:\n"
                        << "  - {name: a, model: yolov5s-160, sensor: street, period: 100ms}\n"
                        << "  - {name: b, model: yolov5s-160, sensor: street, period: 300ms}\n";
  const fs::path summary_file = dir_ / "summary.json", jobs_file = dir_ / "jobs.jsonl";

  auto server = serve(clip, port, 1);
  ASSERT_TRUE(server->started());
  Process node({kCoedge, "node", "--config", config.string(), "--summary", summary_file.string(), "--jobs",
                jobs_file.string()},
               dir_ / "node.txt");
  ASSERT_TRUE(node.started());

  // Frames flow: the connection, then jobs.
  ASSERT_TRUE(wait_for(node, "sensor street: connected to " + url)) << output();
  ASSERT_TRUE(wait_for_jobs(node, 20)) << output();
  // The camera dies; the node reports the lost connection and the stall.
  server->signal(SIGKILL);
  ASSERT_TRUE(wait_for(node, "sensor street: connection lost")) << output();
  ASSERT_TRUE(wait_for(node, "sensor street: stalled: no frame for")) << output();
  const int64_t outage_from_ns = realtime_ns();  // no frame for stall_timeout by now
  // The outage goes on until the node has tried to reconnect and failed.
  ASSERT_TRUE(wait_for(node, "sensor street: cannot open " + url)) << output();
  // It comes back on the same port.
  const int64_t outage_to_ns = realtime_ns();  // no frame can arrive before the server runs
  server = serve(clip, port, 2);
  ASSERT_TRUE(server->started());
  ASSERT_TRUE(wait_for(node, "sensor street: reconnected to " + url)) << output();
  ASSERT_TRUE(wait_for(node, "sensor street: frames again after")) << output();
  ASSERT_TRUE(wait_for_jobs(node, job_lines() + 20)) << output();
  node.signal(SIGTERM);
  ASSERT_EQ(node.wait(120s), 0) << output();
  server->signal(SIGKILL);

  const std::string log = read_text(dir_ / "node.txt");
  EXPECT_EQ(occurrences(log, "sensor street: stalled: no frame for"), 1u) << "one stall, told once" << output();
  EXPECT_EQ(occurrences(log, "sensor street: reconnected to"), 1u) << output();

  const json s = json::parse(read_text(summary_file), nullptr, false);
  ASSERT_TRUE(s.is_object()) << output();
  const json& totals = s["totals"];
  EXPECT_TRUE(totals["accounted"].get<bool>()) << output();
  const auto released = totals["released"].get<uint64_t>();
  EXPECT_EQ(released, totals["met"].get<uint64_t>() + totals["overdue"].get<uint64_t>() +
                          totals["dropped"].get<uint64_t>());
  EXPECT_GT(released, 0u);
  EXPECT_EQ(s["dropped_by_cause"].value("bad_frame", 0u), 0u) << "an outage drops no job: it releases none";

  ASSERT_EQ(s["sensors"].size(), 1u) << s.dump(2);
  const json& sensor = s["sensors"][0];
  EXPECT_EQ(sensor["sensor"], "street");
  EXPECT_GT(sensor["ticks_without_frame"].get<uint64_t>(), 0u) << sensor.dump(2);
  const json& stream = sensor["stream"];
  EXPECT_EQ(stream["url"], url);
  EXPECT_EQ(stream["connects"].get<uint64_t>(), 2u) << stream.dump(2);
  EXPECT_EQ(stream["drops"].get<uint64_t>(), 1u) << stream.dump(2);
  EXPECT_EQ(stream["stalls"].get<uint64_t>(), 1u) << stream.dump(2);
  EXPECT_GE(stream["failed_opens"].get<uint64_t>(), 1u) << "it was told one, above" << stream.dump(2);
  EXPECT_GE(stream["frames"].get<uint64_t>(), stream["handed_out"].get<uint64_t>());
  EXPECT_GT(stream["handed_out"].get<uint64_t>(), 0u);
  EXPECT_GE(stream["longest_gap_s"].get<double>(), 1.0) << "the reported stall lasted stall_timeout at least";
  EXPECT_TRUE(stream["age_ms"].contains("mean") && stream["age_ms"].contains("max")) << stream.dump(2);

  // One job line per released job; each job's frame stamped on arrival; a frame taken by
  // a task once; no job for a frame that arrived in the outage.
  std::vector<json> jobs;
  {
    std::ifstream in(jobs_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) jobs.push_back(json::parse(line, nullptr, false));
    }
  }
  ASSERT_EQ(jobs.size(), released);
  std::map<std::string, std::set<int64_t>> frames_by_task;
  size_t before = 0, after = 0;
  for (const json& j : jobs) {
    ASSERT_TRUE(j.is_object());
    const json& f = j["frame"];
    ASSERT_TRUE(f["stamp_ns"].is_number_integer()) << j.dump();
    ASSERT_TRUE(f["index"].is_number_integer()) << j.dump();
    ASSERT_TRUE(f["capture_utc"].is_string()) << j.dump();
    EXPECT_EQ(f["file"], nullptr);
    const int64_t stamp = f["stamp_ns"].get<int64_t>();
    EXPECT_TRUE(frames_by_task[j["task"].get<std::string>()].insert(f["index"].get<int64_t>()).second)
        << "a frame taken twice by one task: " << j.dump();
    EXPECT_FALSE(stamp >= outage_from_ns && stamp < outage_to_ns) << "a job for a frame of the outage: " << j.dump();
    (stamp < outage_from_ns ? before : after) += 1;
  }
  EXPECT_GT(before, 0u) << "jobs before the outage";
  EXPECT_GT(after, 0u) << "jobs after the reconnection";
  // The lines follow their schemas (a stream's frame fills index, stamp_ns, capture_utc).
  const std::string validate = "/usr/bin/python3 " COEDGE_SOURCE_DIR "/tests/integration/validate_lines.py " COEDGE_SOURCE_DIR
                               "/docs/schema/job-line.schema.json '" + jobs_file.string() + "' >'" +
                               (dir_ / "validate.txt").string() + "' 2>&1";
  EXPECT_EQ(std::system(validate.c_str()), 0) << read_text(dir_ / "validate.txt");
  const std::string validate_results = "/usr/bin/python3 " COEDGE_SOURCE_DIR "/tests/integration/validate_lines.py "
                                       COEDGE_SOURCE_DIR "/docs/schema/result-line.schema.json '" +
                                       (dir_ / "run/results/a.jsonl").string() + "' >'" +
                                       (dir_ / "validate.txt").string() + "' 2>&1";
  EXPECT_EQ(std::system(validate_results.c_str()), 0) << read_text(dir_ / "validate.txt");

  // Within a task, later releases have later frames (the newest, handed out once). Job
  // lines are written as jobs close: sorted by release here.
  std::sort(jobs.begin(), jobs.end(),
            [](const json& x, const json& y) { return x["release_s"].get<double>() < y["release_s"].get<double>(); });
  for (const char* task : {"a", "b"}) {
    int64_t last_index = -1, last_stamp = -1;
    double last_release = -1;
    for (const json& j : jobs) {
      if (j["task"] != task) continue;
      EXPECT_GT(j["release_s"].get<double>(), last_release);
      EXPECT_GT(j["frame"]["index"].get<int64_t>(), last_index) << j.dump();
      EXPECT_GT(j["frame"]["stamp_ns"].get<int64_t>(), last_stamp) << j.dump();
      last_release = j["release_s"].get<double>();
      last_index = j["frame"]["index"].get<int64_t>();
      last_stamp = j["frame"]["stamp_ns"].get<int64_t>();
    }
  }
}


// The value of the metrics.prom sample that starts with `series` (name and labels as the
// exposition writes them), or -1.
double prom_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// Two streams at a camera that accepts and never answers, for a run shorter than their
// open_timeout. The sensors' stop has two halves: the readers are asked to stop when the
// drain begins, and waited for only after the agent's loop, before the summary; the run's
// duration ends where the drain began. Checked by the order of the log lines (the wait is
// after the stop, before the summary), the summary's counters, and the sensor metrics in
// the final metrics.prom (one stall each, no frame, not connected, the captures without a
// frame as in the summary). duration_s and the wall time are printed, not checked.
TEST_F(StreamNodeTest, DeadCamerasStopAfterTheLoopAndTheirOutageIsInTheMetrics) {
  if (std::system("ffmpeg -hide_banner -loglevel quiet -version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "ffmpeg is not installed (Makefile PACKAGES)";
  }
  ASSERT_TRUE(fs::exists(kModel)) << kModel << " (built by the `models` target)";
  SilentListener camera;
  ASSERT_GT(camera.port(), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(camera.port());
  const fs::path config = dir_ / "dead.yaml";
  std::ofstream(config) << "node: dead-cams\n"
                        << "isolation: none\n"
                        << "duration: 2s\n"
                        << "run_dir: " << (dir_ / "run").string() << "\n"
                        << "profiles: " << kProfiles << "\n"
                        << "models:\n  - {name: yolov5s-160, file: " << kModel << "}\n"
                        << "sensors:\n"
                        << "  - {name: gate, kind: stream, url: '" << url << "/gate.ts', period: 100ms,\n"
                        << "     open_timeout: 4s, stall_timeout: 500ms}\n"
                        << "  - {name: yard, kind: stream, url: '" << url << "/yard.ts', period: 100ms,\n"
                        << "     open_timeout: 4s, stall_timeout: 500ms}\n"
                        << "tasks:\n"
                        << "  - {name: a, model: yolov5s-160, sensor: gate, period: 100ms}\n"
                        << "  - {name: b, model: yolov5s-160, sensor: yard, period: 100ms}\n";
  const fs::path summary_file = dir_ / "summary.json";
  const auto from = std::chrono::steady_clock::now();
  Process node({kCoedge, "node", "--config", config.string(), "--summary", summary_file.string()}, dir_ / "node.txt");
  ASSERT_TRUE(node.started());
  ASSERT_EQ(node.wait(120s), 0) << output();
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();

  const std::string log = read_text(dir_ / "node.txt");
  const size_t stopping = log.find("stopping: no new frames");
  const size_t waiting = log.find("waiting for 2 stream reader(s) to stop");
  const size_t stopped = log.find("stream readers stopped");
  const size_t summary_at = log.find("summary written to");
  ASSERT_NE(stopping, std::string::npos) << output();
  ASSERT_NE(waiting, std::string::npos) << "the readers are waited for after the loop" << output();
  ASSERT_NE(stopped, std::string::npos) << output();
  EXPECT_LT(stopping, waiting) << output();
  EXPECT_LT(waiting, stopped) << output();
  EXPECT_LT(stopped, summary_at) << output();

  const json s = json::parse(read_text(summary_file), nullptr, false);
  ASSERT_TRUE(s.is_object()) << output();
  std::printf("two dead cameras, open_timeout 4 s, duration 2 s: duration_s %.3f, node's wall time %.2f s "
              "(information, not checked)\n",
              s["duration_s"].get<double>(), wall_s);
  EXPECT_TRUE(s["totals"]["accounted"].get<bool>());
  EXPECT_EQ(s["totals"]["released"].get<uint64_t>(), 0u) << "no frame, no job";
  ASSERT_EQ(s["sensors"].size(), 2u) << s.dump(2);

  const std::string prom = read_text(dir_ / "run" / "metrics.prom");
  for (const json& sensor : s["sensors"]) {
    const std::string name = sensor["sensor"].get<std::string>();
    const json& stream = sensor["stream"];
    EXPECT_EQ(stream["connects"].get<uint64_t>(), 0u) << stream.dump(2);
    EXPECT_EQ(stream["stalls"].get<uint64_t>(), 1u) << stream.dump(2);
    const std::string labels = "{node=\"dead-cams\",sensor=\"" + name + "\"}";
    EXPECT_EQ(prom_value(prom, "coedge_sensor_stalls_total" + labels), 1) << prom;
    EXPECT_EQ(prom_value(prom, "coedge_sensor_frames_total" + labels), 0) << prom;
    EXPECT_EQ(prom_value(prom, "coedge_sensor_reconnects_total" + labels), 0) << prom;
    EXPECT_EQ(prom_value(prom, "coedge_sensor_connected" + labels), 0) << prom;
    EXPECT_EQ(prom_value(prom, "coedge_sensor_ticks_without_frame_total" + labels),
              sensor["ticks_without_frame"].get<double>())
        << prom;
    EXPECT_GT(sensor["ticks_without_frame"].get<uint64_t>(), 0u);
  }
  // The exposition with the stream series follows Prometheus's rules (Debian prometheus).
  if (std::system("promtool --version >/dev/null 2>&1") == 0) {
    const std::string check = "promtool check metrics < '" + (dir_ / "run" / "metrics.prom").string() + "' >'" +
                              (dir_ / "promtool.txt").string() + "' 2>&1";
    EXPECT_EQ(std::system(check.c_str()), 0) << read_text(dir_ / "promtool.txt");
  }
}

}  // namespace
