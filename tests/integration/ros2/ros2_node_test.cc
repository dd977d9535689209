// CoEdge against a ROS 2 node on Fast DDS (coedge-ros2-peer, rmw_fastrtps_cpp as seen on
// the wire), end to end on loopback with unicast discovery, one DDS domain per test
// process (issue 16's acceptance; docs/DDS.md, "A ROS 2 peer on Fast DDS"):
//
// - StandaloneNodeTakesDriverStreamsAndPublishesResults: `coedge node --config` with topic
//   sensors (docs/NODE_CONFIG.md). The peer publishes 30 fps streams: /front/image_raw
//   (bgr8 640x480, ROS 2 default QoS: reliable) read by two tasks (a detector and a
//   classifier, one subscription, no relay) through a reliable sensor,
//   /gate/image_raw/compressed (jpeg, SensorDataQoS: best effort) and /yuv/image_raw
//   (yuv422, which CoEdge does not take). Checked: exit 0, every released job accounted
//   (summary and one job line each); reliable: each task's jobs are exactly the frames the
//   design's period rule (the sampler, re-implemented here) picks from what the peer
//   published between the task's first and last job, with their stamps and frame_id;
//   every sensor: each frame received taken or skipped by each task on it (summary.json);
//   best effort: frames received <= published, each job a published frame;
//   yuv422: every job dropped `bad_frame` and the rejection counted as `encoding`.
//   Outbound: the peer's vision_msgs Detection2DArray / Classification messages equal the
//   tasks' results.jsonl for the same jobs (by stamp and frame_id; boxes, classes, scores
//   as docs/DDS.md converts them).
// - ClusterNodeTakesDriverTopics: `coedge master` and one `coedge node --scenario` whose
//   tasks name the peer's topics (`topic:`), two of them on one topic; the master exits 0
//   with every job accounted and no surplus, the node's jobs carry the frames' stamps and
//   frame_id and are, on the reliable topic, exactly what the period rule picks, and the
//   peer receives the node's results, equal to its results.jsonl.
//
// No count, rate or duration is asserted beyond what the rules imply; the figures are
// printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "peer_support.h"
#include "support/loopback.h"

namespace {

using namespace coedge::test;
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kYolo = COEDGE_BINARY_DIR "/models/yolov5s-160.onnx";
const std::string kResnet = COEDGE_BINARY_DIR "/models/resnet18-360.onnx";
const std::string kProfiles = COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml";

// The design's period rule (docs/NODE_CONFIG.md, "Topic sensors"), written again here from
// its text: the stamps a task of period `period_ns` takes from `stamps` (in arrival order).
std::vector<int64_t> sample(const std::vector<int64_t>& stamps, int64_t period_ns) {
  std::vector<int64_t> taken;
  bool started = false;
  int64_t due = 0, last = 0;
  const int64_t early = period_ns / 4;
  for (int64_t s : stamps) {
    if (started && s >= last - 2 * period_ns && (s <= last || s < due - early)) continue;  // skipped
    started = true;
    taken.push_back(s);
    last = s;
    // The next release: the first multiple of the period whose early edge lies after s
    // (stamps here are positive).
    due = ((s + early) / period_ns + 1) * period_ns;
  }
  return taken;
}

int64_t job_stamp(const json& line) { return line["frame"]["stamp_ns"].get<int64_t>(); }

// The published stamps of `topic`, in order.
std::vector<int64_t> published_stamps(const std::vector<json>& log, const std::string& topic) {
  std::vector<int64_t> out;
  for (const json& l : log)
    if (l["topic"] == topic) out.push_back(l["stamp_ns"].get<int64_t>());
  return out;
}

// docs/DDS.md, "Results on the bus": a stock result line's `result` as the message the
// peer received. Detections: box [x, y, w, h] -> center (x + w/2, y + h/2), size (w, h), one
// hypothesis (class name, else its number as text; score). Classification: one hypothesis
// per top class (p).
void expect_message_equals_result(const json& message, const json& result_line, const std::string& kind) {
  SCOPED_TRACE("job " + std::to_string(result_line["job"].get<int64_t>()));
  EXPECT_EQ(stamp_ns_of(message["header"]["stamp"]), job_stamp(result_line));
  EXPECT_EQ(message["header"]["frame_id"], result_line["frame"]["frame_id"]);
  auto class_id = [](const json& item) {
    return item["name"].is_string() ? item["name"].get<std::string>() : std::to_string(item["class"].get<int64_t>());
  };
  if (kind == "detections") {
    const json& want = result_line["result"]["detections"];
    const json& got = message["detections"];
    ASSERT_EQ(got.size(), want.size()) << message.dump() << "\n" << result_line.dump();
    for (size_t i = 0; i < want.size(); ++i) {
      const json& box = want[i]["box"];
      const double x = box[0], y = box[1], w = box[2], h = box[3];
      const json& d = got[i];
      EXPECT_NEAR(d["bbox"]["center"]["position"]["x"].get<double>(), x + w / 2, 1e-6);
      EXPECT_NEAR(d["bbox"]["center"]["position"]["y"].get<double>(), y + h / 2, 1e-6);
      EXPECT_EQ(d["bbox"]["center"]["theta"].get<double>(), 0.0);
      EXPECT_NEAR(d["bbox"]["size_x"].get<double>(), w, 1e-6);
      EXPECT_NEAR(d["bbox"]["size_y"].get<double>(), h, 1e-6);
      EXPECT_EQ(d["header"], message["header"]);
      EXPECT_EQ(d["id"], "");
      ASSERT_EQ(d["results"].size(), 1u);
      EXPECT_EQ(d["results"][0]["hypothesis"]["class_id"], class_id(want[i]));
      EXPECT_NEAR(d["results"][0]["hypothesis"]["score"].get<double>(), want[i]["score"].get<double>(), 5e-4);
    }
  } else {
    const json& want = result_line["result"]["top"];
    const json& got = message["results"];
    ASSERT_EQ(got.size(), want.size()) << message.dump() << "\n" << result_line.dump();
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i]["class_id"], class_id(want[i]));
      EXPECT_NEAR(got[i]["score"].get<double>(), want[i]["p"].get<double>(), 5e-5);
    }
  }
}

// Every result line of `task` has exactly one message on /coedge/<task>/<kind> with its
// stamp and frame_id, equal to it; and no message is left over.
void expect_results_on_the_bus(const std::vector<json>& out, const fs::path& results_file, const std::string& task,
                               const std::string& kind) {
  SCOPED_TRACE(task);
  const std::string topic = "/coedge/" + task + "/" + kind;
  std::multimap<std::pair<int64_t, std::string>, json> messages;
  for (const json& m : out)
    if (m["topic"] == topic)
      messages.emplace(std::make_pair(stamp_ns_of(m["header"]["stamp"]), m["header"]["frame_id"].get<std::string>()), m);
  const std::vector<json> results = read_json_lines(results_file);
  size_t items = 0;  // detections or classes compared
  for (const json& r : results) items += r["result"].value(kind == "detections" ? "detections" : "top", json::array()).size();
  std::printf("%s: %zu result lines (%zu %s), %zu messages on %s\n", task.c_str(), results.size(), items,
              kind == "detections" ? "detections" : "classes", messages.size(), topic.c_str());
  EXPECT_EQ(messages.size(), results.size());
  for (const json& r : results) {
    const auto key = std::make_pair(job_stamp(r), r["frame"]["frame_id"].get<std::string>());
    ASSERT_EQ(messages.count(key), 1u) << "job " << r["job"] << " stamp " << key.first << " frame_id '" << key.second
                                       << "': not (once) on " << topic;
    expect_message_equals_result(messages.find(key)->second, r, kind);
  }
}

std::map<std::string, std::vector<json>> jobs_by_task(const fs::path& jobs_file) {
  std::map<std::string, std::vector<json>> jobs;
  for (const json& j : read_json_lines(jobs_file)) jobs[j["task"].get<std::string>()].push_back(j);
  for (auto& [task, list] : jobs)
    std::sort(list.begin(), list.end(), [](const json& a, const json& b) { return job_stamp(a) < job_stamp(b); });
  return jobs;
}

// Reliable delivery: `task`'s jobs are exactly the frames the period rule picks from
// `published` (one topic's stamps, in order) between the task's first and last job, each
// with `frame_id`.
void expect_taken_by_the_rule(const std::vector<json>& jobs, const std::vector<int64_t>& published,
                              int64_t period_ms, const std::string& task, const std::string& frame_id) {
  SCOPED_TRACE(task);
  ASSERT_GE(jobs.size(), 2u) << "the task took fewer than two frames";
  std::vector<int64_t> window;
  for (int64_t s : published)
    if (s >= job_stamp(jobs.front()) && s <= job_stamp(jobs.back())) window.push_back(s);
  std::vector<int64_t> got;
  for (const json& j : jobs) {
    got.push_back(job_stamp(j));
    EXPECT_EQ(j["frame"]["frame_id"], frame_id);
  }
  const std::vector<int64_t> want = sample(window, period_ms * 1000000);
  std::printf("%s: %zu frames published in its window, %zu taken (the rule: %zu)\n", task.c_str(), window.size(),
              got.size(), want.size());
  EXPECT_EQ(got, want);
}

class Ros2Node : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/var/tmp") / ("coedge-ros2-node-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    domain_ = test_domain();
  }
  void TearDown() override {
    if (HasFailure()) {
      for (const char* log : {"peer.txt", "node.txt", "master.txt"})
        if (fs::exists(dir_ / log))
          std::fprintf(stderr, "---- %s\n%s\n", log, read_file_text(dir_ / log).c_str());
      std::printf("kept %s for inspection\n", dir_.c_str());
    } else {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  std::vector<std::string> dds_args() const {
    return {"--domain", std::to_string(domain_), "--dds-interface", "127.0.0.1", "--dds-peer", "127.0.0.1"};
  }

  fs::path dir_;
  int domain_ = 0;
};

TEST_F(Ros2Node, StandaloneNodeTakesDriverStreamsAndPublishesResults) {
  ASSERT_TRUE(fs::exists(kYolo) && fs::exists(kResnet)) << "built by the `models` target";
  // The generated models carry random weights: a very low confidence gives the detectors
  // boxes to compare (docs/MODELS.md). The detector's classes have names here (class_id =
  // the name); the classifier's have none (class_id = the number as text).
  {
    std::ofstream names(dir_ / "names.txt");
    for (int c = 0; c < 80; ++c) names << "class " << c << "\n";
  }
  const fs::path config = dir_ / "ros2.yaml";
  std::ofstream(config) << "node: ros2-node\n"
                        << "isolation: none\n"
                        << "run_dir: " << (dir_ / "run").string() << "\n"
                        << "profiles: " << kProfiles << "\n"
                        << "duration: 8s\n"
                        << "models:\n"
                        << "  - {name: yolov5s-160, file: " << kYolo << ", labels: " << (dir_ / "names.txt").string()
                        << "}\n"
                        << "  - {name: resnet18-360, file: " << kResnet << "}\n"
                        << "sensors:\n"
                        << "  - {name: front, kind: topic, topic: /front/image_raw, reliability: reliable}\n"
                        << "  - {name: gate, kind: topic, topic: /gate/image_raw/compressed}\n"
                        << "  - {name: yuv, kind: topic, topic: /yuv/image_raw}\n"
                        << "tasks:\n"
                        << "  - {name: det, model: yolov5s-160, sensor: front, period: 200ms, confidence: 0.0001}\n"
                        << "  - {name: cls, model: resnet18-360, sensor: front, period: 500ms}\n"
                        << "  - {name: gdet, model: yolov5s-160, sensor: gate, period: 250ms, confidence: 0.0001}\n"
                        << "  - {name: ydet, model: yolov5s-160, sensor: yuv, period: 500ms}\n";

  // The peer first: its subscriptions wait for the node's result writers, and its first
  // frame for every topic to match.
  std::vector<std::string> peer_args = peer_command("publish", domain_);
  for (const std::string& a : std::vector<std::string>{
           "--topic", "/front/image_raw", "--encoding", "bgr8", "--size", "640x480", "--rate", "30", "--qos",
           "default", "--frame-id", "front_cam",                                                               //
           "--topic", "/gate/image_raw/compressed", "--encoding", "jpeg", "--size", "640x480", "--rate", "30",
           "--qos", "sensor", "--frame-id", "gate_cam",                                                        //
           "--topic", "/yuv/image_raw", "--encoding", "yuv422", "--size", "320x240", "--rate", "10", "--frame-id",
           "yuv_cam",                                                                                          //
           "--detections", "/coedge/det/detections", "--classification", "/coedge/cls/classification",
           "--detections", "/coedge/gdet/detections", "--detections", "/coedge/ydet/detections",             //
           "--log", (dir_ / "published.jsonl").string(), "--out", (dir_ / "received.jsonl").string(),
           "--wait-match", "90s"})
    peer_args.push_back(a);
  Child peer(peer_args, dir_ / "peer.txt");

  std::vector<std::string> node_args = {kCoedgeBin, "node", "--config", config.string(), "--summary",
                                        (dir_ / "summary.json").string(), "--jobs", (dir_ / "jobs.jsonl").string()};
  for (const std::string& a : dds_args()) node_args.push_back(a);
  Child node(node_args, dir_ / "node.txt");
  ASSERT_EQ(node.wait(120s), 0) << read_file_text(dir_ / "node.txt");
  // The results of the last jobs are on their way (reliable): a moment, then stop the peer.
  std::this_thread::sleep_for(2s);
  peer.signal(SIGTERM);
  ASSERT_EQ(peer.wait(20s), 0) << read_file_text(dir_ / "peer.txt");

  // Every released job accounted.
  const json summary = json::parse(read_file_text(dir_ / "summary.json"), nullptr, false);
  ASSERT_FALSE(summary.is_discarded());
  const json& totals = summary["totals"];
  EXPECT_TRUE(totals["accounted"].get<bool>()) << totals.dump();
  const uint64_t released = totals["released"].get<uint64_t>();
  EXPECT_EQ(released, totals["met"].get<uint64_t>() + totals["overdue"].get<uint64_t>() +
                          totals["dropped"].get<uint64_t>());
  auto jobs = jobs_by_task(dir_ / "jobs.jsonl");
  size_t job_lines = 0;
  for (const auto& [task, list] : jobs) job_lines += list.size();
  EXPECT_EQ(job_lines, released);

  const std::vector<json> published = read_json_lines(dir_ / "published.jsonl");
  const std::vector<int64_t> front = published_stamps(published, "/front/image_raw");
  const std::vector<int64_t> gate = published_stamps(published, "/gate/image_raw/compressed");
  const std::vector<int64_t> yuv = published_stamps(published, "/yuv/image_raw");
  std::printf("published: front %zu, gate %zu, yuv %zu frames; released %llu jobs\n", front.size(), gate.size(),
              yuv.size(), static_cast<unsigned long long>(released));

  // Reliable: each task on /front takes exactly the frames the rule picks from what was
  // published between its first and last job.
  expect_taken_by_the_rule(jobs["det"], front, 200, "det", "front_cam");
  expect_taken_by_the_rule(jobs["cls"], front, 500, "cls", "front_cam");
  for (const std::string task : {"det", "cls"})
    for (const json& j : jobs[task]) EXPECT_EQ(j["frame"]["sensor"], "front");

  // Every frame a topic sensor received is accounted, for each task on it: taken (a job,
  // whatever became of it) or skipped by the period rule.
  auto entry = [](const json& list, const char* key, const std::string& name) -> const json* {
    for (const json& e : list)
      if (e[key] == name) return &e;
    return nullptr;
  };
  for (const auto& [sensor, tasks] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"front", {"det", "cls"}}, {"gate", {"gdet"}}, {"yuv", {"ydet"}}}) {
    SCOPED_TRACE(sensor);
    const json* counts = entry(summary["sensors"], "sensor", sensor);
    ASSERT_NE(counts, nullptr) << summary["sensors"].dump();
    const uint64_t received = counts->at("frames_received").get<uint64_t>();
    for (const std::string& task : tasks) {
      const json* t = entry(summary["tasks"], "task", task);
      ASSERT_NE(t, nullptr) << summary["tasks"].dump();
      const uint64_t skipped = t->at("frames_skipped").get<uint64_t>();
      std::printf("%s: %llu frames received; task %s: %zu taken, %llu skipped\n", sensor.c_str(),
                  static_cast<unsigned long long>(received), task.c_str(), jobs[task].size(),
                  static_cast<unsigned long long>(skipped));
      EXPECT_EQ(received, jobs[task].size() + skipped) << counts->dump() << "\n" << t->dump();
    }
  }

  // Best effort (/gate, jpeg): received <= published; each job is a published frame.
  {
    const std::set<int64_t> gate_set(gate.begin(), gate.end());
    ASSERT_FALSE(jobs["gdet"].empty());
    for (const json& j : jobs["gdet"]) {
      EXPECT_TRUE(gate_set.count(job_stamp(j))) << "a job for a frame not published: " << j.dump();
      EXPECT_EQ(j["frame"]["frame_id"], "gate_cam");
    }
    const json* counts = entry(summary["sensors"], "sensor", "gate");
    ASSERT_NE(counts, nullptr);
    EXPECT_LE(counts->at("frames_received").get<uint64_t>(), gate.size());
  }

  // yuv422: taken frames rejected, their jobs dropped bad_frame, counted as `encoding`.
  {
    const auto& list = jobs["ydet"];
    ASSERT_FALSE(list.empty()) << "no yuv422 frame was taken";
    for (const json& j : list) {
      EXPECT_EQ(j["outcome"], "dropped");
      EXPECT_EQ(j["reason"], "bad_frame");
    }
    EXPECT_GE(summary["dropped_by_cause"].value("bad_frame", uint64_t{0}), list.size());
    const json* yuv_sensor = entry(summary["sensors"], "sensor", "yuv");
    ASSERT_NE(yuv_sensor, nullptr) << summary["sensors"].dump();
    EXPECT_EQ(yuv_sensor->at("rejected_by_reason").value("encoding", uint64_t{0}), list.size()) << yuv_sensor->dump();
    EXPECT_NE(read_file_text(dir_ / "node.txt").find("yuv422"), std::string::npos) << "the log names the encoding";
  }

  // Outbound: the peer received every result, equal to results.jsonl.
  const std::vector<json> out = read_json_lines(dir_ / "received.jsonl");
  const fs::path results = dir_ / "run" / "results";
  expect_results_on_the_bus(out, results / "det.jsonl", "det", "detections");
  expect_results_on_the_bus(out, results / "cls.jsonl", "cls", "classification");
  expect_results_on_the_bus(out, results / "gdet.jsonl", "gdet", "detections");
  expect_results_on_the_bus(out, results / "ydet.jsonl", "ydet", "detections");  // none: every job dropped
}

TEST_F(Ros2Node, ClusterNodeTakesDriverTopics) {
  ASSERT_TRUE(fs::exists(kYolo) && fs::exists(kResnet)) << "built by the `models` target";
  std::ofstream(dir_ / "s.yaml") << "name: ros2-cluster\n"
                                    "profiles: " << kProfiles << "\n"
                                    "run: {duration: 8s, window: 2s, seed: 1}\n"
                                    "nodes:\n  - {name: r1, cpu_cores: 1}\n"
                                    "tasks:\n"
                                    "  - {name: det, source: r1, model: yolov5s-160, period: 250ms, topic: /front/image_raw}\n"
                                    "  - {name: cls, source: r1, model: resnet18-360, period: 500ms, topic: /front/image_raw}\n"
                                    "  - {name: gate, source: r1, model: yolov5s-160, period: 500ms, topic: /gate/image_raw/compressed}\n";
  std::vector<std::string> peer_args = peer_command("publish", domain_);
  for (const std::string& a : std::vector<std::string>{
           "--topic", "/front/image_raw", "--encoding", "rgb8", "--size", "640x480", "--rate", "30", "--frame-id",
           "front_cam",                                                                                      //
           "--topic", "/gate/image_raw/compressed", "--encoding", "png", "--size", "320x240", "--rate", "30",
           "--frame-id", "gate_cam",                                                                         //
           "--detections", "/coedge/det/detections", "--classification", "/coedge/cls/classification",       //
           "--log", (dir_ / "published.jsonl").string(), "--out", (dir_ / "received.jsonl").string(),
           "--wait-match", "120s"})
    peer_args.push_back(a);
  Child peer(peer_args, dir_ / "peer.txt");

  std::vector<std::string> master_args = {kCoedgeBin, "master", "--scenario", (dir_ / "s.yaml").string(),
                                          "--duration", "8s", "--window", "2s", "--wait-for-nodes", "120s",
                                          "--out", (dir_ / "master").string()};
  std::vector<std::string> node_args = {kCoedgeBin, "node", "--scenario", (dir_ / "s.yaml").string(), "--name", "r1",
                                        "--models-dir", COEDGE_BINARY_DIR "/models", "--run-dir",
                                        (dir_ / "r1").string(), "--isolation", "none", "--probe-port",
                                        std::to_string(free_port()), "--jobs", (dir_ / "jobs.jsonl").string()};
  for (const std::string& a : dds_args()) {
    master_args.push_back(a);
    node_args.push_back(a);
  }
  Child master(master_args, dir_ / "master.txt");
  Child node(node_args, dir_ / "node.txt");
  const int master_code = master.wait(180s);
  const int node_code = node.wait(60s);
  std::this_thread::sleep_for(2s);
  peer.signal(SIGTERM);
  EXPECT_EQ(peer.wait(20s), 0);
  EXPECT_EQ(master_code, 0) << read_file_text(dir_ / "master.txt");
  EXPECT_EQ(node_code, 0);

  const json summary = json::parse(read_file_text(dir_ / "master/summary.json"), nullptr, false);
  ASSERT_FALSE(summary.is_discarded());
  const json& totals = summary["totals"];
  EXPECT_TRUE(totals["accounted"].get<bool>()) << totals.dump();
  EXPECT_EQ(totals.value("surplus", uint64_t{0}), 0u) << totals.dump();
  const json node_summary = json::parse(read_file_text(dir_ / "r1/summary.json"), nullptr, false);
  ASSERT_FALSE(node_summary.is_discarded());
  const uint64_t node_released = node_summary["totals"]["released"].get<uint64_t>();
  EXPECT_GT(node_released, 0u);
  EXPECT_EQ(totals["released"].get<uint64_t>(), node_released) << totals.dump();

  // The node's jobs carry the frames' stamps and frame_id (the cluster path keeps them),
  // and each is a frame the peer published.
  const std::vector<json> published = read_json_lines(dir_ / "published.jsonl");
  std::map<int64_t, std::string> frame_id_of;
  for (const json& l : published) frame_id_of[l["stamp_ns"].get<int64_t>()] = l["frame_id"].get<std::string>();
  auto jobs = jobs_by_task(dir_ / "jobs.jsonl");
  size_t job_lines = 0;
  for (const auto& [task, list] : jobs) {
    job_lines += list.size();
    for (const json& j : list) {
      ASSERT_TRUE(j["frame"]["stamp_ns"].is_number()) << j.dump();
      const auto f = frame_id_of.find(job_stamp(j));
      ASSERT_NE(f, frame_id_of.end()) << "a job for a frame not published: " << j.dump();
      EXPECT_EQ(j["frame"]["frame_id"], f->second);
    }
  }
  EXPECT_EQ(job_lines, node_released);
  std::printf("cluster: %zu frames published, node released %llu (det %zu, cls %zu, gate %zu)\n", published.size(),
              static_cast<unsigned long long>(node_released), jobs["det"].size(), jobs["cls"].size(),
              jobs["gate"].size());
  // Reliable (the peer's default QoS, the cluster node's default reliable subscription):
  // the two tasks on /front took exactly what the period rule picks.
  const std::vector<int64_t> front = published_stamps(published, "/front/image_raw");
  expect_taken_by_the_rule(jobs["det"], front, 250, "det", "front_cam");
  expect_taken_by_the_rule(jobs["cls"], front, 500, "cls", "front_cam");
  EXPECT_FALSE(jobs["gate"].empty());

  const std::vector<json> out = read_json_lines(dir_ / "received.jsonl");
  expect_results_on_the_bus(out, dir_ / "r1" / "results" / "det.jsonl", "det", "detections");
  expect_results_on_the_bus(out, dir_ / "r1" / "results" / "cls.jsonl", "cls", "classification");
}

}  // namespace
