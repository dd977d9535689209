// Tests of the vision_msgs results over DDS (src/net/dds.h, dds_vision.cc): Detection2DArray
// and Classification round trips through the plain writers and readers (every field,
// several detections, empty arrays, stamps with nanoseconds and before 1970), and the wire
// sample itself, read with Cyclone's C API and the generated types, for what the plain
// structs leave out (each Detection2D's header, the pose, theta) and the ROS 2 type names.
// One process, its own domain id (from its pid) on the loopback interface, pid-named topics.
// Waiting is always a poll against a deadline; only the deadlines are asserted.
#include <dds/dds.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "net/dds.h"
#include "vision_msgs.h"  // generated from src/net/idl/vision_msgs.idl

namespace coedge::net {
namespace {

using namespace std::chrono_literals;

uint32_t test_domain() { return 1 + static_cast<uint32_t>(getpid()) % 200; }

DdsOptions loopback() {
  DdsOptions o;
  o.domain = test_domain();
  o.interface_address = "127.0.0.1";
  o.peers = {"127.0.0.1"};
  return o;
}

template <typename F>
bool poll_until(F done, std::chrono::steady_clock::duration cap = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + cap;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

std::string topic(const std::string& leaf) {
  return "/coedge/test" + std::to_string(getpid()) + "/" + leaf;
}

// Reads up to `n` messages from `reader` (deadline-bounded).
template <typename Reader>
auto take_n(Reader& reader, size_t n) {
  decltype(reader.take()) got;
  poll_until([&] {
    for (auto& m : reader.take()) got.push_back(std::move(m));
    return got.size() >= n;
  });
  return got;
}

Detection2DArray three_detections() {
  Detection2DArray a;
  a.stamp_ns = 1'700'000'000'123'456'789;
  a.frame_id = "front_camera_optical";
  Detection2D car;
  car.results = {{"car", 0.875}, {"truck", 0.0625}};
  car.bbox = {320.5, 240.25, 64.0, 48.5};
  car.id = "track-7";
  Detection2D nothing;  // a detection with no hypothesis and a zero box
  Detection2D person;
  person.results = {{"0", 0.5}};  // a class without a name: its number as text
  person.bbox = {10.0, 20.0, 3.0, 1e-3};
  a.detections = {car, nothing, person};
  return a;
}

void expect_same(const Detection2DArray& got, const Detection2DArray& sent) {
  EXPECT_EQ(got.stamp_ns, sent.stamp_ns);
  EXPECT_EQ(got.frame_id, sent.frame_id);
  ASSERT_EQ(got.detections.size(), sent.detections.size());
  for (size_t i = 0; i < sent.detections.size(); ++i) {
    SCOPED_TRACE("detection " + std::to_string(i));
    const Detection2D& g = got.detections[i];
    const Detection2D& s = sent.detections[i];
    ASSERT_EQ(g.results.size(), s.results.size());
    for (size_t k = 0; k < s.results.size(); ++k) {
      EXPECT_EQ(g.results[k].class_id, s.results[k].class_id);
      EXPECT_EQ(g.results[k].score, s.results[k].score);  // doubles travel bit-exact
    }
    EXPECT_EQ(g.bbox.center_x, s.bbox.center_x);
    EXPECT_EQ(g.bbox.center_y, s.bbox.center_y);
    EXPECT_EQ(g.bbox.size_x, s.bbox.size_x);
    EXPECT_EQ(g.bbox.size_y, s.bbox.size_y);
    EXPECT_EQ(g.id, s.id);
  }
}

TEST(dds_vision, Detection2DArrayRoundTrip) {
  auto dds = DdsDomain::create(loopback());
  ASSERT_TRUE(dds) << dds.error().message;
  const std::string t = topic("det/detections");
  auto reader = Detection2DArrayReader::create(**dds, t);
  auto writer = Detection2DArrayWriter::create(**dds, t);
  ASSERT_TRUE(reader) << reader.error().message;
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_TRUE(poll_until([&] { return (*writer)->matched_readers() == 1; }));

  const Detection2DArray first = three_detections();
  Detection2DArray empty;  // a frame with no detection still gets its (empty) message
  empty.stamp_ns = 1'700'000'000'000'000'001;
  Detection2DArray before_epoch = three_detections();  // negative stamps keep nanosec >= 0
  before_epoch.stamp_ns = -1'500'000'001;
  before_epoch.frame_id.clear();
  ASSERT_TRUE((*writer)->write(first));
  ASSERT_TRUE((*writer)->write(empty));
  ASSERT_TRUE((*writer)->write(before_epoch));

  auto got = take_n(**reader, 3);
  ASSERT_EQ(got.size(), 3u);
  expect_same(got[0], first);
  expect_same(got[1], empty);
  expect_same(got[2], before_epoch);
  EXPECT_TRUE((*reader)->take().empty());  // each message is taken once
}

TEST(dds_vision, ClassificationRoundTrip) {
  auto dds = DdsDomain::create(loopback());
  ASSERT_TRUE(dds) << dds.error().message;
  const std::string t = topic("cls/classification");
  auto reader = ClassificationReader::create(**dds, t);
  auto writer = ClassificationWriter::create(**dds, t);
  ASSERT_TRUE(reader && writer);
  ASSERT_TRUE(poll_until([&] { return (*writer)->matched_readers() == 1; }));

  Classification top3;
  top3.stamp_ns = 1'700'000'123'000'000'999;
  top3.frame_id = "gate";
  top3.results = {{"tabby cat", 0.71}, {"281", 0.2}, {"", 0.09}};
  Classification none;
  none.stamp_ns = 5;
  ASSERT_TRUE((*writer)->write(top3));
  ASSERT_TRUE((*writer)->write(none));

  auto got = take_n(**reader, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].stamp_ns, top3.stamp_ns);
  EXPECT_EQ(got[0].frame_id, "gate");
  ASSERT_EQ(got[0].results.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(got[0].results[k].class_id, top3.results[k].class_id);
    EXPECT_EQ(got[0].results[k].score, top3.results[k].score);
  }
  EXPECT_EQ(got[1].stamp_ns, 5);
  EXPECT_EQ(got[1].frame_id, "");
  EXPECT_TRUE(got[1].results.empty());
}

// What a ROS 2 subscriber sees: the ROS 2 type names, the stamp as sec + nanosec, every
// Detection2D's header a copy of the array's, the pose the identity with zero covariance,
// theta 0.
TEST(dds_vision, WireSampleHasRos2NamesHeadersAndDefaults) {
  auto dds = DdsDomain::create(loopback());
  ASSERT_TRUE(dds) << dds.error().message;
  const std::string t = topic("wire/detections");
  auto writer = Detection2DArrayWriter::create(**dds, t);
  ASSERT_TRUE(writer);
  auto classification = ClassificationWriter::create(**dds, topic("wire/classification"));
  ASSERT_TRUE(classification);

  const dds_entity_t pp = (*dds)->participant_handle();
  const dds_entity_t tp =
      dds_create_topic(pp, &vision_msgs_msg_dds__Detection2DArray__desc, ("rt" + t).c_str(), nullptr, nullptr);
  ASSERT_GT(tp, 0);
  char type_name[128] = {};
  ASSERT_GT(dds_get_type_name(tp, type_name, sizeof type_name), 0);
  EXPECT_STREQ(type_name, "vision_msgs::msg::dds_::Detection2DArray_");
  EXPECT_STREQ(vision_msgs_msg_dds__Classification__desc.m_typename,
               "vision_msgs::msg::dds_::Classification_");
  dds_qos_t* qos = dds_create_qos();
  dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
  dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, 10);
  const dds_entity_t rd = dds_create_reader(pp, tp, qos, nullptr);
  dds_delete_qos(qos);
  ASSERT_GT(rd, 0);
  ASSERT_TRUE(poll_until([&] { return (*writer)->matched_readers() == 1; }));

  const Detection2DArray sent = three_detections();
  ASSERT_TRUE((*writer)->write(sent));
  void* samples[1] = {nullptr};
  dds_sample_info_t info;
  dds_return_t n = 0;
  ASSERT_TRUE(poll_until([&] { return (n = dds_take(rd, samples, &info, 1, 1)) != 0; }));
  ASSERT_EQ(n, 1);
  ASSERT_TRUE(info.valid_data);
  const auto& m = *static_cast<const vision_msgs_msg_dds__Detection2DArray_*>(samples[0]);
  EXPECT_EQ(m.header.stamp.sec, 1'700'000'000);
  EXPECT_EQ(m.header.stamp.nanosec, 123'456'789u);
  EXPECT_STREQ(m.header.frame_id, "front_camera_optical");
  ASSERT_EQ(m.detections._length, 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("detection " + std::to_string(i));
    const auto& d = m.detections._buffer[i];
    EXPECT_EQ(d.header.stamp.sec, m.header.stamp.sec);
    EXPECT_EQ(d.header.stamp.nanosec, m.header.stamp.nanosec);
    EXPECT_STREQ(d.header.frame_id, "front_camera_optical");
    EXPECT_EQ(d.bbox.center.theta, 0.0);
    EXPECT_EQ(d.results._length, sent.detections[i].results.size());
    for (uint32_t k = 0; k < d.results._length; ++k) {
      const auto& pose = d.results._buffer[k].pose;
      EXPECT_EQ(pose.pose.position.x, 0.0);
      EXPECT_EQ(pose.pose.position.y, 0.0);
      EXPECT_EQ(pose.pose.position.z, 0.0);
      EXPECT_EQ(pose.pose.orientation.x, 0.0);
      EXPECT_EQ(pose.pose.orientation.y, 0.0);
      EXPECT_EQ(pose.pose.orientation.z, 0.0);
      EXPECT_EQ(pose.pose.orientation.w, 1.0);
      for (double c : pose.covariance) EXPECT_EQ(c, 0.0);
    }
  }
  EXPECT_EQ(m.detections._buffer[0].bbox.center.position.x, 320.5);
  EXPECT_STREQ(m.detections._buffer[0].results._buffer[1].hypothesis.class_id, "truck");
  EXPECT_STREQ(m.detections._buffer[1].id, "");
  (void)dds_return_loan(rd, samples, n);
  (void)dds_delete(rd);
  (void)dds_delete(tp);
}

// A peer's sample as Cyclone hands it over, with fields our writer never sets (a pose,
// per-detection headers that differ from the array's): the reader takes what the plain
// struct has and ignores the rest.
TEST(dds_vision, ReaderTakesWhatAForeignWriterSent) {
  auto dds = DdsDomain::create(loopback());
  ASSERT_TRUE(dds) << dds.error().message;
  const std::string t = topic("foreign/detections");
  auto reader = Detection2DArrayReader::create(**dds, t);
  ASSERT_TRUE(reader);
  const dds_entity_t pp = (*dds)->participant_handle();
  const dds_entity_t tp = dds_create_topic(pp, &vision_msgs_msg_dds__Detection2DArray__desc,
                                           ("rt" + t).c_str(), nullptr, nullptr);
  ASSERT_GT(tp, 0);
  const dds_entity_t wr = dds_create_writer(pp, tp, nullptr, nullptr);
  ASSERT_GT(wr, 0);
  dds_publication_matched_status_t st{};
  ASSERT_TRUE(poll_until([&] {
    return dds_get_publication_matched_status(wr, &st) == 0 && st.current_count == 1;
  }));

  vision_msgs_msg_dds__ObjectHypothesisWithPose_ h{};
  h.hypothesis.class_id = const_cast<char*>("dog");
  h.hypothesis.score = 0.25;
  h.pose.pose.position.x = 3;
  h.pose.covariance[35] = 9;
  vision_msgs_msg_dds__Detection2D_ d{};
  d.header.stamp.sec = 7;
  d.header.frame_id = const_cast<char*>("elsewhere");
  d.results._length = d.results._maximum = 1;
  d.results._buffer = &h;
  d.bbox.center.position.x = 1.5;
  d.bbox.center.position.y = 2.5;
  d.bbox.center.theta = 0.3;
  d.bbox.size_x = 4;
  d.bbox.size_y = 5;
  d.id = const_cast<char*>("x1");
  vision_msgs_msg_dds__Detection2DArray_ m{};
  m.header.stamp.sec = 42;
  m.header.stamp.nanosec = 999'999'999;
  m.header.frame_id = const_cast<char*>("cam");
  m.detections._length = m.detections._maximum = 1;
  m.detections._buffer = &d;
  ASSERT_EQ(dds_write(wr, &m), 0);

  auto got = take_n(**reader, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].stamp_ns, 42'999'999'999);
  EXPECT_EQ(got[0].frame_id, "cam");
  ASSERT_EQ(got[0].detections.size(), 1u);
  EXPECT_EQ(got[0].detections[0].bbox.center_x, 1.5);
  EXPECT_EQ(got[0].detections[0].bbox.size_y, 5.0);
  EXPECT_EQ(got[0].detections[0].id, "x1");
  ASSERT_EQ(got[0].detections[0].results.size(), 1u);
  EXPECT_EQ(got[0].detections[0].results[0].class_id, "dog");
  EXPECT_EQ(got[0].detections[0].results[0].score, 0.25);
  (void)dds_delete(wr);
  (void)dds_delete(tp);
}

TEST(dds_vision, BadTopicsAndTypeClashesAreErrors) {
  auto dds = DdsDomain::create(loopback());
  ASSERT_TRUE(dds) << dds.error().message;
  auto w = Detection2DArrayWriter::create(**dds, "coedge/det/detections");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(w.error().message.find("coedge/det/detections"), std::string::npos);

  const std::string t = topic("clash/results");
  auto d = Detection2DArrayWriter::create(**dds, t);
  ASSERT_TRUE(d) << d.error().message;
  auto c = ClassificationReader::create(**dds, t);  // another type on the same name
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(c.error().message.find("vision_msgs::msg::dds_::Classification_"), std::string::npos)
      << c.error().message;
}

}  // namespace
}  // namespace coedge::net
