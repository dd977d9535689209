// coedge-ros2-peer: a ROS 2 node on rmw_fastrtps_cpp (Humble), as CoEdge sees it on the
// wire, for the end-to-end tests (built with the tests, never installed). It publishes
// camera streams (sensor_msgs/Image in bgr8, rgb8, mono8 or yuv422, or
// sensor_msgs/CompressedImage in jpeg or png) at a driver's own rate, and subscribes to
// CoEdge's results (vision_msgs/Detection2DArray and Classification), logging one JSON
// line per frame published and per message received.
//
// What makes it "rmw_fastrtps": Fast DDS 2.9 (Debian's libfastrtps), topic "rt" + ROS
// topic, ROS 2's DDS type names with hand-written XCDR1 types and no TypeObject
// (ros2_types.h), participant user data "enclave=/;", QoS = ROS 2's default (reliable,
// keep last 10, volatile) or SensorDataQoS (best effort, keep last 5, volatile),
// ASYNCHRONOUS publish mode, PREALLOCATED_WITH_REALLOC history memory, no data sharing.
// The transport is the one docs/DDS.md tells a ROS 2 user to configure (the three
// settings of the Fast DDS spike), set in code so that the tests need no environment:
// UDPv4 only, limited to --interface (interfaceWhiteList), a 4 MiB socket buffer, and
// --peer addresses as initial peers with maxInitialPeersRange 33.
//
//   coedge-ros2-peer publish|subscribe [--domain N] [--interface ADDR] [--peer ADDR]...
//       [--topic T [--encoding bgr8|rgb8|mono8|yuv422|jpeg|png] [--size WxH] [--rate HZ]
//        [--qos default|sensor] [--frame-id ID]]...  [--log FILE]
//       [--detections T]... [--classification T]... [--out FILE]
//       [--duration D] [--wait-match D]
// Each --topic starts a stream; the stream options after it are that stream's. Both
// commands take both kinds of option (one process may publish and subscribe); `publish`
// needs a --topic, `subscribe` a --detections or --classification. Every endpoint is
// matched (up to --wait-match, default 60 s: exit 1 otherwise) before the first frame, so
// that results of every frame reach the subscriptions. Publishing lasts --duration from
// the first frame (0 = until SIGINT/SIGTERM), then waits for the frames' acknowledgements;
// subscribing lasts until SIGINT/SIGTERM, or (without streams) --duration after the
// match. Exit 0; 1 on a DDS failure or no match; 2 on bad arguments.
//
// Log lines (--log, one per frame written): {"topic", "seq", "stamp": {"sec", "nanosec"},
// "stamp_ns", "frame_id", "encoding", "width", "height", "step" (0: compressed), "bytes",
// "fnv1a" (FNV-1a 32 of the data)}. Out lines (--out, one per
// message taken): {"topic", "type", and the message's every field as `ros2 topic echo`
// names them}. The frames are a drawn scene (a gradient, shapes that move with the
// sequence number and the number as text), not a constant image: 32 pictures in turn.
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fastdds/dds/domain/DomainParticipant.hpp>
#include <fastdds/dds/domain/DomainParticipantFactory.hpp>
#include <fastdds/dds/log/Log.hpp>
#include <fastdds/dds/publisher/DataWriter.hpp>
#include <fastdds/dds/publisher/DataWriterListener.hpp>
#include <fastdds/dds/publisher/Publisher.hpp>
#include <fastdds/dds/subscriber/DataReader.hpp>
#include <fastdds/dds/subscriber/DataReaderListener.hpp>
#include <fastdds/dds/subscriber/SampleInfo.hpp>
#include <fastdds/dds/subscriber/Subscriber.hpp>
#include <fastdds/dds/topic/Topic.hpp>
#include <fastdds/dds/topic/TypeSupport.hpp>
#include <fastdds/rtps/transport/UDPv4TransportDescriptor.h>
#include <fastrtps/utils/IPLocator.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "ros2_types.h"

namespace {

namespace fdds = eprosima::fastdds::dds;
using eprosima::fastrtps::rtps::IPLocator;
using eprosima::fastrtps::rtps::Locator_t;
using nlohmann::json;
using namespace coedge::ros2peer;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

// FNV-1a of the frame's data (in the log, so that a receiver can check every byte).
uint32_t fnv1a(const std::vector<uint8_t>& data) {
  uint32_t h = 2166136261u;
  for (uint8_t b : data) h = (h ^ b) * 16777619u;
  return h;
}

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "coedge-ros2-peer: %s\n", what.c_str());
  std::exit(2);
}

// "8s", "500ms", "2.5s", "1min", "0" -> seconds.
double parse_duration(const std::string& text, const char* option) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (...) {
    usage_error(std::string(option) + ": not a duration: '" + text + "'");
  }
  const std::string unit = text.substr(used);
  if (unit == "ms") return v / 1000;
  if (unit == "s" || (unit.empty() && v == 0)) return v;
  if (unit == "min") return v * 60;
  usage_error(std::string(option) + ": '" + text + "' needs a unit (ms, s, min)");
}

struct Stream {
  std::string topic;
  std::string encoding = "bgr8";
  int width = 640, height = 480;
  double rate = 30;
  bool sensor_qos = false;
  std::string frame_id = "camera";
  bool compressed() const { return encoding == "jpeg" || encoding == "png"; }
};

struct Options {
  std::string command;
  uint32_t domain = 0;
  std::string interface_address = "127.0.0.1";
  std::vector<std::string> peers;
  std::vector<Stream> streams;
  std::vector<std::string> detections, classifications;
  std::string log, out;
  double duration = 0;
  double wait_match = 60;
};

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage_error("usage: coedge-ros2-peer publish|subscribe OPTIONS (see ros2_peer.cc)");
  o.command = argv[1];
  if (o.command != "publish" && o.command != "subscribe") usage_error("unknown command '" + o.command + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    auto stream = [&]() -> Stream& {
      if (o.streams.empty()) usage_error(a + " before any --topic");
      return o.streams.back();
    };
    if (a == "--domain") o.domain = static_cast<uint32_t>(std::stoul(value()));
    else if (a == "--interface") o.interface_address = value();
    else if (a == "--peer") o.peers.push_back(value());
    else if (a == "--topic") o.streams.push_back(Stream{.topic = value()});
    else if (a == "--encoding") {
      const std::string e = value();
      if (e != "bgr8" && e != "rgb8" && e != "mono8" && e != "yuv422" && e != "jpeg" && e != "png")
        usage_error("--encoding: '" + e + "' is not bgr8, rgb8, mono8, yuv422, jpeg or png");
      stream().encoding = e;
    } else if (a == "--size") {
      const std::string s = value();
      if (std::sscanf(s.c_str(), "%dx%d", &stream().width, &stream().height) != 2 || stream().width <= 0 ||
          stream().height <= 0 || stream().width % 2 != 0)
        usage_error("--size: '" + s + "' is not WxH with an even W");
    } else if (a == "--rate") {
      stream().rate = std::stod(value());
      if (!(stream().rate > 0)) usage_error("--rate must be more than 0");
    } else if (a == "--qos") {
      const std::string q = value();
      if (q != "default" && q != "sensor") usage_error("--qos: '" + q + "' is not default or sensor");
      stream().sensor_qos = q == "sensor";
    } else if (a == "--frame-id") stream().frame_id = value();
    else if (a == "--log") o.log = value();
    else if (a == "--detections") o.detections.push_back(value());
    else if (a == "--classification") o.classifications.push_back(value());
    else if (a == "--out") o.out = value();
    else if (a == "--duration") o.duration = parse_duration(value(), "--duration");
    else if (a == "--wait-match") o.wait_match = parse_duration(value(), "--wait-match");
    else usage_error("unknown option '" + a + "'");
  }
  if (o.command == "publish" && o.streams.empty()) usage_error("publish needs a --topic");
  if (o.command == "subscribe" && o.detections.empty() && o.classifications.empty())
    usage_error("subscribe needs a --detections or --classification topic");
  if (!o.streams.empty() && o.log.empty()) usage_error("publishing needs --log FILE");
  if ((!o.detections.empty() || !o.classifications.empty()) && o.out.empty())
    usage_error("subscribing needs --out FILE");
  for (const auto& t : o.detections)
    if (t.empty() || t[0] != '/') usage_error("--detections: '" + t + "' is not an absolute ROS topic");
  for (const auto& t : o.classifications)
    if (t.empty() || t[0] != '/') usage_error("--classification: '" + t + "' is not an absolute ROS topic");
  for (const auto& s : o.streams)
    if (s.topic.empty() || s.topic[0] != '/') usage_error("--topic: '" + s.topic + "' is not an absolute ROS topic");
  if (o.peers.empty()) o.peers.push_back(o.interface_address);
  return o;
}

// The participant as docs/DDS.md's Fast DDS profile configures it (see the top).
fdds::DomainParticipant* make_participant(const Options& o) {
  auto* factory = fdds::DomainParticipantFactory::get_instance();
  fdds::DomainParticipantQos pq = factory->get_default_participant_qos();
  pq.name("coedge_ros2_peer");
  const char* user_data = "enclave=/;";  // what rmw_fastrtps (Humble) puts there
  pq.user_data().data_vec(
      std::vector<eprosima::fastrtps::rtps::octet>(user_data, user_data + std::strlen(user_data)));
  auto udp = std::make_shared<eprosima::fastdds::rtps::UDPv4TransportDescriptor>();
  udp->interfaceWhiteList.push_back(o.interface_address);
  udp->maxInitialPeersRange = 33;  // Cyclone's ParticipantIndex auto goes up to 32
  udp->receiveBufferSize = 4 << 20;
  udp->sendBufferSize = 4 << 20;
  pq.transport().use_builtin_transports = false;
  pq.transport().user_transports.clear();
  pq.transport().user_transports.push_back(udp);
  for (const auto& p : o.peers) {
    Locator_t loc;  // port 0: the ports of participant ids 0..maxInitialPeersRange-1
    loc.kind = LOCATOR_KIND_UDPv4;
    IPLocator::setIPv4(loc, p);
    pq.wire_protocol().builtin.initialPeersList.push_back(loc);
  }
  return factory->create_participant(o.domain, pq, nullptr, fdds::StatusMask::none());
}

struct MatchListener : fdds::DataWriterListener {
  std::atomic<int> matched{0};
  void on_publication_matched(fdds::DataWriter*, const fdds::PublicationMatchedStatus& s) override {
    matched = s.current_count;
  }
  void on_offered_incompatible_qos(fdds::DataWriter*, const fdds::OfferedIncompatibleQosStatus& s) override {
    std::fprintf(stderr, "coedge-ros2-peer: a reader with incompatible QoS (policy %u)\n", s.last_policy_id);
  }
};

// A line-per-record file shared by threads.
class JsonLines {
 public:
  explicit JsonLines(const std::string& path) : out_(path, std::ios::trunc) {}
  bool ok() const { return static_cast<bool>(out_); }
  void write(const json& line) {
    std::lock_guard lock(mu_);
    out_ << line.dump() << '\n';
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ofstream out_;
};

json header_json(const Header& h) {
  return {{"stamp", {{"sec", h.sec}, {"nanosec", h.nanosec}}}, {"frame_id", h.frame_id}};
}

json to_json(const Detection2DArray& m) {
  json detections = json::array();
  for (const auto& d : m.detections) {
    json results = json::array();
    for (const auto& r : d.results) {
      results.push_back(
          {{"hypothesis", {{"class_id", r.hypothesis.class_id}, {"score", r.hypothesis.score}}},
           {"pose",
            {{"pose",
              {{"position", {{"x", r.position[0]}, {"y", r.position[1]}, {"z", r.position[2]}}},
               {"orientation",
                {{"x", r.orientation[0]}, {"y", r.orientation[1]}, {"z", r.orientation[2]}, {"w", r.orientation[3]}}}}},
             {"covariance", r.covariance}}}});
    }
    detections.push_back({{"header", header_json(d.header)},
                          {"results", results},
                          {"bbox",
                           {{"center", {{"position", {{"x", d.bbox.center_x}, {"y", d.bbox.center_y}}}, {"theta", d.bbox.theta}}},
                            {"size_x", d.bbox.size_x},
                            {"size_y", d.bbox.size_y}}},
                          {"id", d.id}});
  }
  return {{"header", header_json(m.header)}, {"detections", detections}};
}

json to_json(const Classification& m) {
  json results = json::array();
  for (const auto& r : m.results) results.push_back({{"class_id", r.class_id}, {"score", r.score}});
  return {{"header", header_json(m.header)}, {"results", results}};
}

template <class M>
struct TakeListener : fdds::DataReaderListener {
  TakeListener(std::string topic, std::string type, JsonLines& out) : topic(std::move(topic)), type(std::move(type)), out(out) {}
  std::string topic, type;
  JsonLines& out;
  std::atomic<int> matched{0};
  std::atomic<uint64_t> taken{0};
  void on_subscription_matched(fdds::DataReader*, const fdds::SubscriptionMatchedStatus& s) override {
    matched = s.current_count;
  }
  void on_requested_incompatible_qos(fdds::DataReader*, const fdds::RequestedIncompatibleQosStatus& s) override {
    std::fprintf(stderr, "coedge-ros2-peer: %s: a writer with incompatible QoS (policy %u)\n", topic.c_str(),
                 s.last_policy_id);
  }
  void on_data_available(fdds::DataReader* reader) override {
    M m;
    fdds::SampleInfo info;
    while (reader->take_next_sample(&m, &info) == ReturnCode_t::RETCODE_OK) {
      if (!info.valid_data) continue;
      json line = to_json(m);
      line["topic"] = topic;
      line["type"] = type;
      out.write(line);
      ++taken;
    }
  }
};

// The frame of sequence number `seq`: a gradient, three shapes that move with seq and the
// number as text, in BGR.
cv::Mat draw_frame(int width, int height, uint64_t seq) {
  cv::Mat img(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    auto* row = img.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x)
      row[x] = cv::Vec3b(static_cast<uint8_t>(x * 255 / width), static_cast<uint8_t>(y * 255 / height),
                         static_cast<uint8_t>((x + y + seq * 4) & 0xff));
  }
  const int s = std::max(8, std::min(width, height) / 5);
  const int dx = static_cast<int>((seq * 7) % static_cast<uint64_t>(std::max(1, width - s)));
  cv::rectangle(img, cv::Rect(dx, height / 6, s, s), cv::Scalar(20, 20, 220), cv::FILLED);
  cv::circle(img, cv::Point(width - 1 - dx, height / 2), s / 2, cv::Scalar(220, 40, 20), cv::FILLED);
  cv::rectangle(img, cv::Rect(width / 3, height - s - height / 8, s * 2, s / 2), cv::Scalar(30, 200, 30), cv::FILLED);
  cv::putText(img, std::to_string(seq), cv::Point(width / 20, height - height / 20), cv::FONT_HERSHEY_SIMPLEX,
              std::max(0.4, height / 240.0), cv::Scalar(255, 255, 255), 2);
  return img;
}

// Fills `m` with frame `seq` of `stream` in its encoding.
void fill_image(const Stream& stream, uint64_t seq, Image& m) {
  const cv::Mat bgr = draw_frame(stream.width, stream.height, seq);
  m.width = static_cast<uint32_t>(stream.width);
  m.height = static_cast<uint32_t>(stream.height);
  m.encoding = stream.encoding;
  m.is_bigendian = 0;
  cv::Mat out;
  if (stream.encoding == "bgr8") {
    out = bgr;
  } else if (stream.encoding == "rgb8") {
    cv::cvtColor(bgr, out, cv::COLOR_BGR2RGB);
  } else if (stream.encoding == "mono8") {
    cv::cvtColor(bgr, out, cv::COLOR_BGR2GRAY);
  } else {  // yuv422 (UYVY, 2 bytes a pixel): the luma of the scene, neutral chroma
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    out.create(stream.height, stream.width, CV_8UC2);
    for (int y = 0; y < stream.height; ++y)
      for (int x = 0; x < stream.width; ++x) out.at<cv::Vec2b>(y, x) = cv::Vec2b(128, gray.at<uint8_t>(y, x));
  }
  m.step = static_cast<uint32_t>(out.cols * out.elemSize());
  m.data.resize(static_cast<size_t>(m.step) * m.height);
  for (int y = 0; y < out.rows; ++y) std::memcpy(m.data.data() + static_cast<size_t>(y) * m.step, out.ptr(y), m.step);
}

void fill_compressed(const Stream& stream, uint64_t seq, CompressedImage& m) {
  m.format = stream.encoding;
  cv::imencode(stream.encoding == "jpeg" ? ".jpg" : ".png", draw_frame(stream.width, stream.height, seq), m.data);
}

struct Publication {
  Stream stream;
  fdds::Topic* topic = nullptr;
  fdds::DataWriter* writer = nullptr;
  std::unique_ptr<MatchListener> listener = std::make_unique<MatchListener>();
  uint64_t published = 0, failed = 0;
};

// A stream shows kDistinctFrames different pictures in turn (frame seq is picture seq %
// kDistinctFrames), each drawn, encoded and hashed once: publishing a frame then costs the
// peer a write, not a drawing. Drawing every frame of three 30 fps streams in a Debug+ASan
// build competed with the node under test and with the peer's own result readers for the
// machine's two cores (most likely why a CI rehearsal lost 3 result messages). Frames are
// still told apart by their stamps, which are all different.
constexpr uint64_t kDistinctFrames = 32;

void publish_loop(Publication& p, JsonLines& log, std::chrono::steady_clock::time_point end, bool forever) {
  using clock = std::chrono::steady_clock;
  const auto period = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / p.stream.rate));
  auto next = clock::now();
  std::vector<Image> images(p.stream.compressed() ? 0 : kDistinctFrames);
  std::vector<CompressedImage> compressed(p.stream.compressed() ? kDistinctFrames : 0);
  std::vector<uint32_t> hashes(kDistinctFrames);
  std::vector<bool> drawn(kDistinctFrames, false);
  for (uint64_t seq = 0; !g_stop && (forever || clock::now() < end); ++seq) {
    std::this_thread::sleep_until(next);
    next += period;
    const size_t picture = static_cast<size_t>(seq % kDistinctFrames);
    if (!drawn[picture]) {
      if (p.stream.compressed()) {
        fill_compressed(p.stream, picture, compressed[picture]);
        hashes[picture] = fnv1a(compressed[picture].data);
      } else {
        fill_image(p.stream, picture, images[picture]);
        hashes[picture] = fnv1a(images[picture].data);
      }
      drawn[picture] = true;
    }
    Header header;
    header.frame_id = p.stream.frame_id;
    const int64_t stamp = realtime_ns();  // stamped on capture, as a driver does
    header.sec = static_cast<int32_t>(stamp / 1000000000);
    header.nanosec = static_cast<uint32_t>(stamp % 1000000000);
    const uint32_t hash = hashes[picture];
    size_t bytes = 0;
    uint32_t step = 0;
    bool ok;
    if (p.stream.compressed()) {
      compressed[picture].header = header;
      bytes = compressed[picture].data.size();
      ok = p.writer->write(&compressed[picture]);
    } else {
      images[picture].header = header;
      bytes = images[picture].data.size();
      step = images[picture].step;
      ok = p.writer->write(&images[picture]);
    }
    if (!ok) {
      if (++p.failed <= 3) std::fprintf(stderr, "coedge-ros2-peer: %s: write failed\n", p.stream.topic.c_str());
      continue;
    }
    ++p.published;
    log.write({{"topic", p.stream.topic},
               {"seq", seq},
               {"stamp", {{"sec", header.sec}, {"nanosec", header.nanosec}}},
               {"stamp_ns", stamp},
               {"frame_id", header.frame_id},
               {"encoding", p.stream.encoding},
               {"width", p.stream.width},
               {"height", p.stream.height},
               {"step", step},
               {"bytes", bytes},
               {"fnv1a", hash}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  // Fast DDS warns, among others, about Cyclone's disposes it cannot read (docs/DDS.md).
  fdds::Log::SetVerbosity(fdds::Log::Error);

  fdds::DomainParticipant* part = make_participant(o);
  if (part == nullptr) {
    std::fprintf(stderr, "coedge-ros2-peer: create_participant failed (domain %u, interface %s)\n", o.domain,
                 o.interface_address.c_str());
    return 1;
  }
  fdds::TypeSupport raw_type(coedge::ros2peer::image_type());
  fdds::TypeSupport compressed_type(coedge::ros2peer::compressed_image_type());
  fdds::TypeSupport detections_type(coedge::ros2peer::detection2d_array_type());
  fdds::TypeSupport classification_type(coedge::ros2peer::classification_type());
  for (fdds::TypeSupport* t : {&raw_type, &compressed_type, &detections_type, &classification_type}) {
    if (t->register_type(part) != ReturnCode_t::RETCODE_OK) {
      std::fprintf(stderr, "coedge-ros2-peer: register_type %s failed\n", t->get_type_name().c_str());
      return 1;
    }
  }
  auto qos_of = [](bool sensor, auto qos) {
    qos.reliability().kind = sensor ? fdds::BEST_EFFORT_RELIABILITY_QOS : fdds::RELIABLE_RELIABILITY_QOS;
    qos.history().kind = fdds::KEEP_LAST_HISTORY_QOS;
    qos.history().depth = sensor ? 5 : 10;
    qos.durability().kind = fdds::VOLATILE_DURABILITY_QOS;
    qos.endpoint().history_memory_policy = eprosima::fastrtps::rtps::PREALLOCATED_WITH_REALLOC_MEMORY_MODE;
    qos.data_sharing().off();
    return qos;
  };

  // Subscriptions first, so that they are up before any frame leaves.
  std::unique_ptr<JsonLines> out;
  fdds::Subscriber* sub = nullptr;
  std::vector<std::unique_ptr<fdds::DataReaderListener>> reader_listeners;
  std::vector<std::function<int()>> reader_matched;
  std::vector<std::function<uint64_t()>> reader_taken;
  std::vector<fdds::DataReader*> readers;
  std::vector<fdds::Topic*> topics;
  if (!o.detections.empty() || !o.classifications.empty()) {
    out = std::make_unique<JsonLines>(o.out);
    if (!out->ok()) {
      std::fprintf(stderr, "coedge-ros2-peer: cannot write %s\n", o.out.c_str());
      return 1;
    }
    sub = part->create_subscriber(fdds::SUBSCRIBER_QOS_DEFAULT);
    auto add = [&](const std::string& ros_topic, fdds::TypeSupport& type, auto listener) -> bool {
      fdds::Topic* t = part->create_topic("rt" + ros_topic, type.get_type_name(), fdds::TOPIC_QOS_DEFAULT);
      if (t == nullptr) return false;
      topics.push_back(t);
      auto* l = listener.get();
      fdds::DataReader* r = sub->create_datareader(t, qos_of(false, sub->get_default_datareader_qos()), l,
                                                  fdds::StatusMask::all());
      if (r == nullptr) return false;
      readers.push_back(r);
      reader_matched.push_back([l] { return l->matched.load(); });
      reader_taken.push_back([l] { return l->taken.load(); });
      reader_listeners.push_back(std::move(listener));
      return true;
    };
    for (const auto& t : o.detections) {
      if (!add(t, detections_type, std::make_unique<TakeListener<Detection2DArray>>(t, "vision_msgs/msg/Detection2DArray", *out))) {
        std::fprintf(stderr, "coedge-ros2-peer: cannot subscribe to %s\n", t.c_str());
        return 1;
      }
    }
    for (const auto& t : o.classifications) {
      if (!add(t, classification_type, std::make_unique<TakeListener<Classification>>(t, "vision_msgs/msg/Classification", *out))) {
        std::fprintf(stderr, "coedge-ros2-peer: cannot subscribe to %s\n", t.c_str());
        return 1;
      }
    }
  }

  std::unique_ptr<JsonLines> log;
  fdds::Publisher* pub = nullptr;
  std::vector<Publication> pubs(o.streams.size());
  if (!o.streams.empty()) {
    log = std::make_unique<JsonLines>(o.log);
    if (!log->ok()) {
      std::fprintf(stderr, "coedge-ros2-peer: cannot write %s\n", o.log.c_str());
      return 1;
    }
    pub = part->create_publisher(fdds::PUBLISHER_QOS_DEFAULT);
    for (size_t i = 0; i < o.streams.size(); ++i) {
      Publication& p = pubs[i];
      p.stream = o.streams[i];
      fdds::TypeSupport& type = p.stream.compressed() ? compressed_type : raw_type;
      p.topic = part->create_topic("rt" + p.stream.topic, type.get_type_name(), fdds::TOPIC_QOS_DEFAULT);
      if (p.topic == nullptr) {
        std::fprintf(stderr, "coedge-ros2-peer: create_topic rt%s failed\n", p.stream.topic.c_str());
        return 1;
      }
      auto qos = qos_of(p.stream.sensor_qos, pub->get_default_datawriter_qos());
      qos.publish_mode().kind = fdds::ASYNCHRONOUS_PUBLISH_MODE;
      p.writer = pub->create_datawriter(p.topic, qos, p.listener.get(), fdds::StatusMask::all());
      if (p.writer == nullptr) {
        std::fprintf(stderr, "coedge-ros2-peer: create_datawriter rt%s failed\n", p.stream.topic.c_str());
        return 1;
      }
    }
  }

  // Every endpoint matched before the first frame.
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    bool all = true;
    for (const auto& p : pubs) all = all && p.listener->matched > 0;
    for (const auto& m : reader_matched) all = all && m() > 0;
    if (all) break;
    if (g_stop || std::chrono::steady_clock::now() - t0 > std::chrono::duration<double>(o.wait_match)) {
      if (g_stop)
        std::fprintf(stderr, "coedge-ros2-peer: stopped after %.1f s, before every topic matched:",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      else
        std::fprintf(stderr, "coedge-ros2-peer: not every topic matched within %.1f s:", o.wait_match);
      for (const auto& p : pubs)
        if (p.listener->matched == 0) std::fprintf(stderr, " %s (no reader)", p.stream.topic.c_str());
      for (size_t i = 0; i < reader_matched.size(); ++i)
        if (reader_matched[i]() == 0)
          std::fprintf(stderr, " %s (no writer)",
                       (i < o.detections.size() ? o.detections[i] : o.classifications[i - o.detections.size()]).c_str());
      std::fprintf(stderr, "\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // A moment for the other side's endpoints to match ours too (a volatile reader that has
  // not yet matched the writer misses what it wrote).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::printf("coedge-ros2-peer: matched after %.3f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(o.duration));
  std::vector<std::thread> threads;
  for (auto& p : pubs) threads.emplace_back([&p, &log, end, &o] { publish_loop(p, *log, end, o.duration == 0); });
  for (auto& t : threads) t.join();
  for (auto& p : pubs) {
    // The last frames may need a repair, and Fast DDS' writer heartbeats every 3 s (its
    // default, which rmw_fastrtps keeps): at the end of --duration, wait for them longer
    // than that. Not when stopped by a signal: the readers may be gone already, and Fast
    // DDS would count them matched until their lease ends (docs/DDS.md).
    const int wait_s = g_stop ? 0 : 10;
    if (p.writer->wait_for_acknowledgments(eprosima::fastrtps::Duration_t(wait_s, 0)) != ReturnCode_t::RETCODE_OK &&
        wait_s > 0)
      std::printf("coedge-ros2-peer: %s: not every frame acknowledged within %d s\n", p.stream.topic.c_str(), wait_s);
  }
  if (!pubs.empty() && !g_stop) {
    // And a moment more before the writers go: without it the last frame of a stream went
    // missing at CoEdge's reader in about 1 run of 10, after an acknowledgement wait that
    // said OK (cause not found; a driver that keeps running never sees it).
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  for (auto& p : pubs) {
    std::printf("coedge-ros2-peer: %s: published %llu frames (%s, %dx%d, %.0f Hz, %s)%s\n", p.stream.topic.c_str(),
                static_cast<unsigned long long>(p.published), p.stream.encoding.c_str(), p.stream.width,
                p.stream.height, p.stream.rate, p.stream.sensor_qos ? "sensor" : "default",
                p.failed ? (" " + std::to_string(p.failed) + " writes failed").c_str() : "");
  }
  if (!readers.empty()) {
    // Subscribing only: until stopped or --duration after the start.
    while (!g_stop && (o.duration == 0 || !pubs.empty() || std::chrono::steady_clock::now() < end))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (size_t i = 0; i < readers.size(); ++i)
      std::printf("coedge-ros2-peer: %s: received %llu messages\n", readers[i]->get_topicdescription()->get_name().c_str(),
                  static_cast<unsigned long long>(reader_taken[i]()));
  }
  std::fflush(stdout);
  part->delete_contained_entities();
  fdds::DomainParticipantFactory::get_instance()->delete_participant(part);
  return 0;
}
