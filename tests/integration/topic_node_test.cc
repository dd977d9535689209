// `coedge node --config` with topic sensors, end to end on loopback DDS: this test is the
// camera driver (CoEdge's own Cyclone writer, net::ImageWriter, like a ROS 2 driver
// publishing sensor_msgs/Image at its own 30 fps, stamped on capture), the node (isolation
// process: frames through shared memory; the stock worker, YOLOv5s-160) runs two tasks at their own periods on one topic,
// and a third task on a topic whose encoding it does not read (yuv422). Checked: exit 0,
// every released job accounted (summary, one job line each), per task on the shared
// topic: taken + skipped = frames received, and the number taken one per period of the
// stamps it spans (the sampler's rule, node/core/topic_sampler.h); each job's frame is one
// the driver published, with its stamp and frame_id; the bad topic's taken frames all
// dropped bad_frame and counted rejected (encoding), in summary.json and metrics.prom.
// A second test does the same with a CompressedImage (JPEG) topic, isolation none. No
// timing is asserted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/clock.h"
#include "net/dds.h"
#include "support/child_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";
const std::string kModel = COEDGE_BINARY_DIR "/models/yolov5s-160.onnx";
const std::string kProfiles = COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using coedge::test::ChildProcess;

// One publisher of the driver: a topic, and the image it sends (its data varies per frame).
struct Stream {
  std::unique_ptr<coedge::net::ImageWriter> writer;
  coedge::net::Image image;
  std::vector<coedge::net::Image> variants;  // compressed: pre-encoded frames, in turn
  std::set<int64_t> stamps;                  // every stamp written
};

class TopicNode : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/var/tmp") / ("coedge-topic-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // 150-199: clear of the other DDS tests' domains (master_unaccounted_test: 100-149).
    domain_ = 150 + getpid() % 50;
  }
  void TearDown() override {
    node_.reset();  // a node still running is killed
    if (HasFailure()) {
      std::fprintf(stderr, "---- node.log\n%s\n", read_text(dir_ / "node.log").c_str());
      std::printf("kept %s for inspection\n", dir_.c_str());
    } else {
      fs::remove_all(dir_);
    }
  }

  // Runs the node on `config_body` while publishing every stream at 30 fps; returns the
  // node's exit code.
  int run(const std::string& isolation, const std::string& config_body, std::vector<Stream*> streams) {
    const fs::path config = dir_ / "topic.yaml";
    std::ofstream(config) << "node: topic-node\n"
                          << "isolation: " << isolation << "\n"
                          << "duration: 6s\n"
                          << "run_dir: " << (dir_ / "run").string() << "\n"
                          << "profiles: " << kProfiles << "\n"
                          << "models:\n  - {name: yolov5s-160, file: " << kModel << "}\n"
                          << config_body;
    const std::vector<std::string> node = {kCoedge, "node", "--config", config.string(),
                                           "--summary", (dir_ / "summary.json").string(),
                                           "--jobs", (dir_ / "jobs.jsonl").string(),
                                           "--domain", std::to_string(domain_),
                                           "--dds-interface", "127.0.0.1", "--dds-peer", "127.0.0.1"};
    node_ = std::make_unique<ChildProcess>(node, dir_ / "node.log");
    if (!node_->started()) return -1;
    uint64_t n = 0;
    auto next = std::chrono::steady_clock::now();
    // Until the node exits (its duration; the test's TIMEOUT bounds a hang).
    while (node_->running()) {
      const int64_t stamp = coedge::realtime_ns();
      for (Stream* s : streams) {
        coedge::net::Image& image = s->variants.empty() ? s->image : s->variants[n % s->variants.size()];
        image.stamp_ns = stamp;
        if (!image.compressed) image.data[n % image.data.size()] = static_cast<uint8_t>(n);  // frames differ
        if (s->writer->write(image).ok()) s->stamps.insert(stamp);
      }
      ++n;
      next += std::chrono::microseconds(33'333);  // 30 fps, the driver's own rate
      std::this_thread::sleep_until(next);
    }
    return node_->wait(std::chrono::seconds(0));  // exited: its code
  }

  Stream raw_stream(coedge::net::DdsDomain& domain, const std::string& topic, const std::string& encoding,
                    const std::string& frame_id) {
    Stream s;
    auto writer = coedge::net::ImageWriter::create(domain, topic, coedge::net::Reliability::kReliable);
    EXPECT_TRUE(writer.ok()) << writer.error().message;
    if (writer.ok()) s.writer = std::move(*writer);
    s.image.frame_id = frame_id;
    s.image.width = 320;
    s.image.height = 240;
    s.image.encoding = encoding;
    s.image.step = encoding == "yuv422" ? 320 * 2 : 320 * 3;
    s.image.data.assign(static_cast<size_t>(s.image.step) * s.image.height, 90);
    return s;
  }

  std::unique_ptr<coedge::net::DdsDomain> join() {
    coedge::net::DdsOptions options;
    options.domain = static_cast<uint32_t>(domain_);
    options.interface_address = "127.0.0.1";
    options.peers = {"127.0.0.1"};
    auto domain = coedge::net::DdsDomain::create(options);
    EXPECT_TRUE(domain.ok()) << domain.error().message;
    return domain.ok() ? std::move(*domain) : nullptr;
  }

  json summary() const { return json::parse(read_text(dir_ / "summary.json"), nullptr, false); }

  std::vector<json> jobs() const {
    std::vector<json> out;
    std::ifstream in(dir_ / "jobs.jsonl");
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
    }
    return out;
  }

  static const json& entry(const json& list, const char* key, const std::string& name) {
    for (const json& e : list) {
      if (e.value(key, "") == name) return e;
    }
    static const json none;
    return none;
  }

  // The checks every topic task gets: released + skipped = received; the frames taken are
  // ones the driver published, with its frame_id, at most one per release time, and (on a
  // reliable topic) one for every release time the driver published a frame for.
  void check_task(const json& s, const std::vector<json>& all_jobs, const std::string& task, const std::string& sensor,
                  double period_s, const Stream& stream, const std::string& frame_id, bool reliable) {
    SCOPED_TRACE("task " + task);
    const json& t = entry(s["tasks"], "task", task);
    const json& sen = entry(s["sensors"], "sensor", sensor);
    ASSERT_TRUE(t.is_object() && sen.is_object()) << s.dump(2);
    const auto released = t["released"].get<uint64_t>();
    ASSERT_TRUE(t.contains("frames_skipped")) << t.dump(2);
    EXPECT_EQ(released + t["frames_skipped"].get<uint64_t>(), sen["frames_received"].get<uint64_t>())
        << "every frame received is taken or skipped by each task on the topic: " << s.dump(2);
    EXPECT_LE(sen["frames_received"].get<uint64_t>(), stream.stamps.size());
    std::vector<int64_t> stamps;
    for (const json& j : all_jobs) {
      if (j["task"] != task) continue;
      const json& f = j["frame"];
      EXPECT_EQ(f["frame_id"], frame_id) << j.dump();
      stamps.push_back(f["stamp_ns"].get<int64_t>());
      EXPECT_TRUE(stream.stamps.count(stamps.back())) << "not a frame the driver published: " << j.dump();
    }
    ASSERT_EQ(stamps.size(), released);
    ASSERT_GE(released, 3u) << "the task took too few frames to check its rate";
    std::sort(stamps.begin(), stamps.end());
    EXPECT_EQ(std::set<int64_t>(stamps.begin(), stamps.end()).size(), stamps.size()) << "a frame taken twice";
    // One per period (docs/NODE_CONFIG.md, "Topic sensors"): the release times are the
    // multiples of P; a frame belongs to the slot whose release it is at most P/4 early
    // for. Each task takes at most one frame per slot (the first it received); with
    // reliable delivery it takes one in every slot the driver published a frame in.
    const auto period_ns = static_cast<int64_t>(std::llround(period_s * 1e9));
    auto slot = [&](int64_t stamp) { return (stamp + period_ns / 4) / period_ns; };
    std::set<int64_t> slots_taken;
    for (int64_t stamp : stamps) {
      EXPECT_TRUE(slots_taken.insert(slot(stamp)).second || stamp == stamps.front())
          << "two frames taken for one release time, " << stamp;
    }
    std::set<int64_t> slots_published;
    for (int64_t stamp : stream.stamps) {
      if (stamp > stamps.front() && stamp <= stamps.back()) slots_published.insert(slot(stamp));
    }
    slots_published.erase(slot(stamps.front()));  // the first take may be anywhere in its slot
    size_t covered = 0;
    for (int64_t k : slots_published) covered += slots_taken.count(k);
    std::printf("task %s: received %llu, released %llu, skipped %llu; %zu of the %zu release times the driver "
                "published a frame for were taken\n",
                task.c_str(), static_cast<unsigned long long>(sen["frames_received"].get<uint64_t>()),
                static_cast<unsigned long long>(released),
                static_cast<unsigned long long>(t["frames_skipped"].get<uint64_t>()), covered,
                slots_published.size());
    if (reliable) {
      EXPECT_EQ(covered, slots_published.size()) << "a reliable topic's release time without a job";
    }
  }

  fs::path dir_;
  int domain_ = 0;
  std::unique_ptr<ChildProcess> node_;
};

TEST_F(TopicNode, TwoTasksShareARawTopicAndABadEncodingIsRejectedAndAccounted) {
  ASSERT_TRUE(fs::exists(kModel)) << kModel << " (built by the `models` target)";
  auto domain = join();
  ASSERT_TRUE(domain);
  Stream front = raw_stream(*domain, "/test/front/image_raw", "bgr8", "front_cam");
  Stream odd = raw_stream(*domain, "/test/odd/image_raw", "yuv422", "odd_cam");
  ASSERT_TRUE(front.writer && odd.writer);
  const int code = run(
      "process",
      "sensors:\n"
      "  - {name: front, kind: topic, topic: /test/front/image_raw, reliability: reliable}\n"
      "  - {name: odd, kind: topic, topic: /test/odd/image_raw}\n"
      "  - {name: silent, kind: topic, topic: /test/silent/image_raw}\n"
      "tasks:\n"
      "  - {name: a, model: yolov5s-160, sensor: front, period: 200ms}\n"
      "  - {name: b, model: yolov5s-160, sensor: front, period: 500ms}\n"
      "  - {name: c, model: yolov5s-160, sensor: odd, period: 500ms}\n"
      "  - {name: d, model: yolov5s-160, sensor: silent, period: 500ms}\n",
      {&front, &odd});
  ASSERT_EQ(code, 0);
  const std::string log = read_text(dir_ / "node.log");
  // A topic nobody publishes on (a wrong name, domain or QoS) is told while the node runs
  // (the run lasts 6 s), and again in its final line; the others are not.
  EXPECT_NE(log.find("sensor silent: no frame on /test/silent/image_raw for 5 s: is a driver publishing "
                     "sensor_msgs/Image there, on DDS domain"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("sensor front: no frame"), std::string::npos) << log;
  EXPECT_NE(log.find("sensor front: subscribed to /test/front/image_raw (sensor_msgs/Image, reliable"),
            std::string::npos);
  EXPECT_NE(log.find("frame rejected (encoding): encoding 'yuv422' is not supported"), std::string::npos);

  const json s = summary();
  ASSERT_TRUE(s.is_object());
  const json& totals = s["totals"];
  EXPECT_TRUE(totals["accounted"].get<bool>()) << totals.dump();
  const auto released = totals["released"].get<uint64_t>();
  EXPECT_EQ(released, totals["met"].get<uint64_t>() + totals["overdue"].get<uint64_t>() +
                          totals["dropped"].get<uint64_t>());
  const std::vector<json> all_jobs = jobs();
  ASSERT_EQ(all_jobs.size(), released) << "one job line per released job";
  check_task(s, all_jobs, "a", "front", 0.2, front, "front_cam", /*reliable=*/true);
  check_task(s, all_jobs, "b", "front", 0.5, front, "front_cam", /*reliable=*/true);
  check_task(s, all_jobs, "c", "odd", 0.5, odd, "odd_cam", /*reliable=*/false);

  // The bad topic: each frame task c took is a job dropped bad_frame, its reason counted.
  const json& c = entry(s["tasks"], "task", "c");
  const auto c_released = c["released"].get<uint64_t>();
  EXPECT_EQ(c["dropped"].get<uint64_t>(), c_released) << c.dump(2);
  EXPECT_EQ(s["dropped_by_cause"].value("bad_frame", uint64_t{0}), c_released) << s["dropped_by_cause"].dump();
  const json& odd_sensor = entry(s["sensors"], "sensor", "odd");
  EXPECT_EQ(odd_sensor["topic"], "/test/odd/image_raw");
  EXPECT_EQ(odd_sensor["rejected_by_reason"]["encoding"].get<uint64_t>(), c_released) << odd_sensor.dump(2);
  EXPECT_EQ(odd_sensor["frames_rejected"].get<uint64_t>(), c_released);
  const json& front_sensor = entry(s["sensors"], "sensor", "front");
  EXPECT_EQ(front_sensor["frames_rejected"].get<uint64_t>(), 0u) << front_sensor.dump(2);
  // Task a and b's frames: met or overdue, none rejected.
  for (const char* task : {"a", "b"}) {
    const json& t = entry(s["tasks"], "task", task);
    EXPECT_GT(t["met"].get<uint64_t>() + t["overdue"].get<uint64_t>(), 0u) << t.dump(2);
  }

  // The same counts in the metrics file.
  const std::string prom = read_text(dir_ / "run/metrics.prom");
  auto value = [&](const std::string& name, const std::vector<std::string>& labels) -> double {
    std::istringstream in(prom);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(name + "{", 0) != 0) continue;
      bool all = true;
      for (const auto& l : labels) all &= line.find(l) != std::string::npos;
      if (all) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return -1;
  };
  EXPECT_EQ(value("coedge_sensor_frames_rejected_total", {"sensor=\"odd\"", "reason=\"encoding\""}),
            static_cast<double>(c_released))
      << prom;
  EXPECT_EQ(value("coedge_sensor_frames_total", {"sensor=\"front\""}),
            static_cast<double>(front_sensor["frames_received"].get<uint64_t>()));
  EXPECT_EQ(value("coedge_task_frames_skipped_total", {"task=\"a\""}),
            static_cast<double>(entry(s["tasks"], "task", "a")["frames_skipped"].get<uint64_t>()));
}

TEST_F(TopicNode, TwoTasksShareACompressedTopic) {
  ASSERT_TRUE(fs::exists(kModel)) << kModel << " (built by the `models` target)";
  auto domain = join();
  ASSERT_TRUE(domain);
  Stream gate;
  auto writer = coedge::net::ImageWriter::create(*domain, "/test/gate/image_raw/compressed",
                                                 coedge::net::Reliability::kBestEffort, /*compressed=*/true);
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  gate.writer = std::move(*writer);
  // A few real JPEG frames, sent in turn.
  for (int k = 0; k < 4; ++k) {
    cv::Mat m(240, 320, CV_8UC3, cv::Scalar(40 * k, 100, 200 - 40 * k));
    coedge::net::Image image;
    image.compressed = true;
    image.encoding = "bgr8; jpeg compressed bgr8";
    image.frame_id = "gate_cam";
    cv::imencode(".jpg", m, image.data);
    gate.variants.push_back(std::move(image));
  }
  const int code = run(
      "none",
      "sensors:\n"
      "  - {name: gate, kind: topic, topic: /test/gate/image_raw/compressed}\n"
      "tasks:\n"
      "  - {name: a, model: yolov5s-160, sensor: gate, period: 200ms}\n"
      "  - {name: b, model: yolov5s-160, sensor: gate, period: 300ms}\n",
      {&gate});
  ASSERT_EQ(code, 0);
  EXPECT_NE(read_text(dir_ / "node.log").find("subscribed to /test/gate/image_raw/compressed (sensor_msgs/CompressedImage, best effort"),
            std::string::npos);
  const json s = summary();
  ASSERT_TRUE(s.is_object());
  EXPECT_TRUE(s["totals"]["accounted"].get<bool>()) << s["totals"].dump();
  const std::vector<json> all_jobs = jobs();
  ASSERT_EQ(all_jobs.size(), s["totals"]["released"].get<uint64_t>());
  check_task(s, all_jobs, "a", "gate", 0.2, gate, "gate_cam", /*reliable=*/false);
  check_task(s, all_jobs, "b", "gate", 0.3, gate, "gate_cam", /*reliable=*/false);
  EXPECT_EQ(entry(s["sensors"], "sensor", "gate")["frames_rejected"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["dropped_by_cause"].value("bad_frame", uint64_t{0}), 0u);
}

}  // namespace
