// CoEdge's DDS adapter (src/net, Cyclone DDS 0.10) against the Fast DDS peer
// (coedge-ros2-peer, rmw_fastrtps_cpp as seen on the wire), type by type, on loopback with
// unicast discovery:
// - sensor_msgs/Image in bgr8, rgb8 and mono8, reliable (ROS 2 default QoS) and best
//   effort (SensorDataQoS), into net::ImageReaderSet: every reliable frame the peer wrote
//   from the first one received on arrives, every frame that arrives is one the peer
//   wrote, byte for byte (its FNV-1a, as the peer logged it), with its header stamp,
//   frame_id, size, step and encoding;
// - sensor_msgs/CompressedImage (jpeg, png) the same way (ImageReaderSet::add(compressed));
// - vision_msgs/Detection2DArray and Classification from net's writers into the peer's
//   subscriptions: every field as written (the peer's types are written from the same
//   .msg files, independently of src/net/idl).
// No count of frames is asserted beyond "at least one" for best effort.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "net/dds.h"
#include "peer_support.h"

namespace {

using namespace coedge::test;
using namespace std::chrono_literals;
using nlohmann::json;

uint32_t fnv1a(const std::vector<uint8_t>& data) {
  uint32_t h = 2166136261u;
  for (uint8_t b : data) h = (h ^ b) * 16777619u;
  return h;
}

class Ros2Wire : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-ros2-wire-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    domain_ = test_domain();
    coedge::net::DdsOptions options;
    options.domain = static_cast<uint32_t>(domain_);
    options.interface_address = "127.0.0.1";
    options.peers = {"127.0.0.1"};
    auto d = coedge::net::DdsDomain::create(options);
    ASSERT_TRUE(d.ok()) << d.error().message;
    dds_ = std::move(d.value());
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "---- peer.txt\n%s\n", read_file_text(dir_ / "peer.txt").c_str());
    fs::remove_all(dir_);
  }

  struct Received {
    coedge::net::Image image;
    uint32_t fnv = 0;
  };

  // Runs the peer with `streams` (its stream options) for `seconds` while `readers` takes
  // what arrives; returns what arrived by topic.
  std::map<std::string, std::vector<Received>> receive(coedge::net::ImageReaderSet& readers,
                                                       const std::map<uint32_t, std::string>& topic_of,
                                                       const std::vector<std::string>& streams) {
    std::vector<std::string> args = peer_command("publish", domain_);
    args.insert(args.end(), streams.begin(), streams.end());
    for (const std::string& a : std::vector<std::string>{"--duration", "2s", "--log", (dir_ / "published.jsonl").string()}) args.push_back(a);
    Child peer(args, dir_ / "peer.txt");
    std::map<std::string, std::vector<Received>> got;
    const auto guard = std::chrono::steady_clock::now() + 60s;
    while (peer.running() && std::chrono::steady_clock::now() < guard) {
      // Only kept here: a reader of KEEP_LAST depth replaces what the test has not taken
      // yet, so the callback stays cheap (the hashes are computed after the run).
      readers.wait(std::chrono::milliseconds(50), [&](uint32_t id, coedge::net::Image&& image, int64_t) {
        got[topic_of.at(id)].push_back({std::move(image), 0});
      });
    }
    // What is still in flight after the peer's exit: until nothing came for a second.
    size_t late = 0;
    while (std::chrono::steady_clock::now() < guard &&
           readers.wait(std::chrono::seconds(1), [&](uint32_t id, coedge::net::Image&& image, int64_t) {
             got[topic_of.at(id)].push_back({std::move(image), 0});
             ++late;
           }) > 0) {
    }
    for (auto& [topic, frames] : got)
      for (Received& r : frames) r.fnv = fnv1a(r.image.data);
    std::printf("%zu frames taken after the peer's exit\n", late);
    EXPECT_EQ(peer.wait(10s), 0);
    return got;
  }

  // Checks `got` against the peer's log: each received frame is a logged one, intact; for
  // `reliable` topics every logged frame was received.
  void check(const std::map<std::string, std::vector<Received>>& got, const std::set<std::string>& reliable) {
    std::map<std::string, std::map<int64_t, json>> logged;
    for (const json& line : read_json_lines(dir_ / "published.jsonl"))
      logged[line["topic"].get<std::string>()][stamp_ns_of(line["stamp"])] = line;
    ASSERT_FALSE(logged.empty()) << "the peer published nothing";
    for (const auto& [topic, frames] : logged) {
      SCOPED_TRACE(topic);
      const auto it = got.find(topic);
      ASSERT_NE(it, got.end()) << "nothing received of " << frames.size() << " frames published";
      std::set<int64_t> seen;
      for (const Received& r : it->second) {
        const auto f = frames.find(r.image.stamp_ns);
        ASSERT_NE(f, frames.end()) << "a frame the peer did not log: stamp " << r.image.stamp_ns;
        const json& line = f->second;
        EXPECT_TRUE(seen.insert(r.image.stamp_ns).second) << "received twice: " << r.image.stamp_ns;
        EXPECT_EQ(r.image.frame_id, line["frame_id"].get<std::string>());
        EXPECT_EQ(r.image.encoding, line["encoding"].get<std::string>());
        EXPECT_EQ(r.image.data.size(), line["bytes"].get<size_t>());
        EXPECT_EQ(r.fnv, line["fnv1a"].get<uint32_t>()) << "data differ, stamp " << r.image.stamp_ns;
        const bool compressed = line["step"].get<uint32_t>() == 0;
        EXPECT_EQ(r.image.compressed, compressed);
        if (!compressed) {
          EXPECT_EQ(r.image.width, line["width"].get<uint32_t>());
          EXPECT_EQ(r.image.height, line["height"].get<uint32_t>());
          EXPECT_EQ(r.image.step, line["step"].get<uint32_t>());
        }
      }
      std::printf("%s: %zu of %zu frames received\n", topic.c_str(), seen.size(), frames.size());
      ASSERT_FALSE(seen.empty());
      // Reliable: every frame from the first one received on. The first frames may go before
      // Cyclone's reader has matched the peer's writer (discovery is not symmetric in time:
      // the peer starts once its writers have matched, docs/DDS.md), and the topic is
      // volatile; after that, none may be missing.
      std::string missing;  // by the peer's sequence number, for the failure message
      size_t expected = 0;
      for (const auto& [stamp, line] : frames) {
        if (stamp < *seen.begin()) continue;
        ++expected;
        if (!seen.count(stamp)) missing += " " + line["seq"].dump();
      }
      if (reliable.count(topic)) {
        EXPECT_EQ(seen.size(), expected) << "reliable: every frame from the first received; missing:" << missing;
      }
    }
  }

  fs::path dir_;
  int domain_ = 0;
  std::unique_ptr<coedge::net::DdsDomain> dds_;
};

TEST_F(Ros2Wire, RawImagesFromFastDdsArriveIntact) {
  auto readers = coedge::net::ImageReaderSet::create(*dds_);
  ASSERT_TRUE(readers.ok()) << readers.error().message;
  std::map<uint32_t, std::string> topic_of;
  for (const auto& [topic, rel] : std::vector<std::pair<std::string, coedge::net::Reliability>>{
           {"/wire/bgr", coedge::net::Reliability::kReliable},
           {"/wire/rgb", coedge::net::Reliability::kBestEffort},  // matches the reliable writer too
           {"/wire/mono", coedge::net::Reliability::kBestEffort}}) {
    auto id = readers.value()->add(topic, rel);
    ASSERT_TRUE(id.ok()) << id.error().message;
    topic_of[id.value()] = topic;
  }
  const auto got = receive(*readers.value(), topic_of,
                           {"--topic", "/wire/bgr", "--encoding", "bgr8", "--size", "640x480", "--rate", "30",
                            "--frame-id", "cam_bgr",                                                  //
                            "--topic", "/wire/rgb", "--encoding", "rgb8", "--size", "320x240", "--rate", "30",
                            "--frame-id", "cam_rgb",                                                  //
                            "--topic", "/wire/mono", "--encoding", "mono8", "--size", "322x240", "--rate", "15",
                            "--qos", "sensor", "--frame-id", "cam_mono"});
  check(got, {"/wire/bgr", "/wire/rgb"});
}

TEST_F(Ros2Wire, CompressedImagesFromFastDdsArriveIntact) {
  auto readers = coedge::net::ImageReaderSet::create(*dds_);
  ASSERT_TRUE(readers.ok()) << readers.error().message;
  std::map<uint32_t, std::string> topic_of;
  for (const std::string topic : {"/wire/image_raw/compressed", "/wire/png/compressed"}) {
    auto id = readers.value()->add(topic, coedge::net::Reliability::kBestEffort, true);
    ASSERT_TRUE(id.ok()) << id.error().message;
    topic_of[id.value()] = topic;
  }
  const auto got = receive(*readers.value(), topic_of,
                           {"--topic", "/wire/image_raw/compressed", "--encoding", "jpeg", "--size", "640x480",
                            "--rate", "30", "--frame-id", "cam_jpeg",  //
                            "--topic", "/wire/png/compressed", "--encoding", "png", "--size", "320x240", "--rate",
                            "10", "--frame-id", "cam_png"});
  check(got, {"/wire/image_raw/compressed", "/wire/png/compressed"});
}

#ifndef PEER_LOCAL_ONLY
TEST_F(Ros2Wire, VisionResultsReachFastDdsFieldByField) {
  auto det_writer = coedge::net::Detection2DArrayWriter::create(*dds_, "/coedge/wire/detections");
  ASSERT_TRUE(det_writer.ok()) << det_writer.error().message;
  auto cls_writer = coedge::net::ClassificationWriter::create(*dds_, "/coedge/wire/classification");
  ASSERT_TRUE(cls_writer.ok()) << cls_writer.error().message;

  std::vector<std::string> args = peer_command("subscribe", domain_);
  for (const std::string& a : std::vector<std::string>{"--detections", "/coedge/wire/detections", "--classification",
                              "/coedge/wire/classification", "--out", (dir_ / "out.jsonl").string()})
    args.push_back(a);
  Child peer(args, dir_ / "peer.txt");
  // The peer says when its readers matched; then both writers have matched it too.
  const auto guard = std::chrono::steady_clock::now() + 30s;
  while ((det_writer.value()->matched_readers() == 0 || cls_writer.value()->matched_readers() == 0 ||
          read_file_text(dir_ / "peer.txt").find("matched after") == std::string::npos) &&
         std::chrono::steady_clock::now() < guard && peer.running())
    std::this_thread::sleep_for(20ms);
  ASSERT_NE(read_file_text(dir_ / "peer.txt").find("matched after"), std::string::npos);

  coedge::net::Detection2DArray det;
  det.stamp_ns = 1764700000123456789;
  det.frame_id = "front_cam";
  det.detections.push_back({{{"person", 0.875}, {"17", 0.25}}, {110.5, 64.25, 41.0, 88.5}, ""});
  det.detections.push_back({{{"car", 0.5}}, {1.0, 2.0, 3.0, 4.0}, ""});
  coedge::net::Detection2DArray empty;
  empty.stamp_ns = 1764700000200000000;
  empty.frame_id = "";
  coedge::net::Classification cls;
  cls.stamp_ns = 1764700000300000001;
  cls.frame_id = "gate";
  cls.results = {{"tabby cat", 0.625}, {"281", 0.125}};
  ASSERT_TRUE(det_writer.value()->write(det).ok());
  ASSERT_TRUE(det_writer.value()->write(empty).ok());
  ASSERT_TRUE(cls_writer.value()->write(cls).ok());

  std::vector<json> out;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while ((out = read_json_lines(dir_ / "out.jsonl")).size() < 3 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  peer.signal(SIGTERM);
  EXPECT_EQ(peer.wait(10s), 0);
  ASSERT_EQ(out.size(), 3u) << read_file_text(dir_ / "out.jsonl");

  std::vector<json> dets, clss;
  for (const json& m : out) (m["topic"] == "/coedge/wire/detections" ? dets : clss).push_back(m);
  ASSERT_EQ(dets.size(), 2u);
  ASSERT_EQ(clss.size(), 1u);
  EXPECT_EQ(dets[0]["type"], "vision_msgs/msg/Detection2DArray");
  EXPECT_EQ(stamp_ns_of(dets[0]["header"]["stamp"]), det.stamp_ns);
  EXPECT_EQ(dets[0]["header"]["frame_id"], "front_cam");
  const json& d = dets[0]["detections"];
  ASSERT_EQ(d.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const auto& want = det.detections[i];
    EXPECT_EQ(d[i]["header"], dets[0]["header"]) << "a detection's header is its array's";
    EXPECT_EQ(d[i]["id"], "");
    EXPECT_EQ(d[i]["bbox"]["center"]["position"]["x"].get<double>(), want.bbox.center_x);
    EXPECT_EQ(d[i]["bbox"]["center"]["position"]["y"].get<double>(), want.bbox.center_y);
    EXPECT_EQ(d[i]["bbox"]["center"]["theta"].get<double>(), 0.0);
    EXPECT_EQ(d[i]["bbox"]["size_x"].get<double>(), want.bbox.size_x);
    EXPECT_EQ(d[i]["bbox"]["size_y"].get<double>(), want.bbox.size_y);
    ASSERT_EQ(d[i]["results"].size(), want.results.size());
    for (size_t k = 0; k < want.results.size(); ++k) {
      const json& r = d[i]["results"][k];
      EXPECT_EQ(r["hypothesis"]["class_id"], want.results[k].class_id);
      EXPECT_EQ(r["hypothesis"]["score"].get<double>(), want.results[k].score);
      // The identity pose (docs/DDS.md, Types): position 0, orientation w = 1 (the .msg default).
      for (const char* axis : {"x", "y", "z"}) {
        EXPECT_EQ(r["pose"]["pose"]["position"][axis].get<double>(), 0.0);
        EXPECT_EQ(r["pose"]["pose"]["orientation"][axis].get<double>(), 0.0);
      }
      EXPECT_EQ(r["pose"]["pose"]["orientation"]["w"].get<double>(), 1.0);
      for (double c : r["pose"]["covariance"]) EXPECT_EQ(c, 0.0);
      EXPECT_EQ(r["pose"]["covariance"].size(), 36u);
    }
  }
  EXPECT_EQ(stamp_ns_of(dets[1]["header"]["stamp"]), empty.stamp_ns);
  EXPECT_EQ(dets[1]["header"]["frame_id"], "");
  EXPECT_TRUE(dets[1]["detections"].empty());

  EXPECT_EQ(clss[0]["type"], "vision_msgs/msg/Classification");
  EXPECT_EQ(stamp_ns_of(clss[0]["header"]["stamp"]), cls.stamp_ns);
  EXPECT_EQ(clss[0]["header"]["frame_id"], "gate");
  ASSERT_EQ(clss[0]["results"].size(), 2u);
  EXPECT_EQ(clss[0]["results"][0]["class_id"], "tabby cat");
  EXPECT_EQ(clss[0]["results"][0]["score"].get<double>(), 0.625);
  EXPECT_EQ(clss[0]["results"][1]["class_id"], "281");
  EXPECT_EQ(clss[0]["results"][1]["score"].get<double>(), 0.125);
}

#endif

}  // namespace
