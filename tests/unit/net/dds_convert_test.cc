// Tests of the conversion of received DDS samples (net/dds_convert.h): the caps of dds.h,
// checked before anything is copied. Samples are built by hand with the generated C types,
// as Cyclone's deserializer would hand them over; over-cap sequences point at tiny buffers
// with a huge _length, so a converter that copied before checking would read far out of
// bounds (and fail under ASan) instead of returning the error.
#include "net/dds_convert.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coedge::net::internal {
namespace {

coedge_msg_TaskReport task(char* name) { return coedge_msg_TaskReport{name, 1, 1, 0, 0, 2.0, 1.0, 0}; }

template <typename Seq, typename T>
void point(Seq& seq, T* items, size_t length) {
  seq._length = seq._maximum = static_cast<uint32_t>(length);
  seq._buffer = items;
  seq._release = false;
}

void expect_cap_error(const Error& e, const std::string& field, size_t cap) {
  EXPECT_EQ(e.code, ErrorCode::kInvalidInput);
  EXPECT_NE(e.message.find(field), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(std::to_string(cap)), std::string::npos) << e.message;
}

TEST(DdsConvert, ReportAtTheCapsConvertsAndOverTheCapsIsRefused) {
  std::string name = "Y1";
  std::vector<coedge_msg_TaskReport> tasks(kMaxSampleTasks, task(name.data()));
  std::string node = "n1";
  coedge_msg_NodeReport m{};
  m.node = node.data();
  m.seq = 3;
  point(m.tasks, tasks.data(), tasks.size());
  auto r = from_msg(m);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->tasks.size(), kMaxSampleTasks);
  EXPECT_EQ(r->node, "n1");
  EXPECT_EQ(r->sender, "");  // set by the reader, not here

  point(m.tasks, tasks.data(), size_t{1} << 30);  // a lie: the buffer holds 4096
  r = from_msg(m);
  ASSERT_FALSE(r);
  expect_cap_error(r.error(), "tasks", kMaxSampleTasks);

  point(m.tasks, tasks.data(), 1);
  coedge_msg_LinkReport link{name.data(), 1.0, name.data()};
  point(m.links, &link, kMaxSampleLinks + 1);
  r = from_msg(m);
  ASSERT_FALSE(r);
  expect_cap_error(r.error(), "links", kMaxSampleLinks);

  point(m.links, &link, 1);
  float exe[1] = {30};
  coedge_msg_ProfileReport profile{};
  profile.model = name.data();
  point(profile.exe_ms, exe, kMaxSampleBatchSizes + 1);
  point(m.profiles, &profile, 1);
  r = from_msg(m);
  ASSERT_FALSE(r);
  expect_cap_error(r.error(), "profiles[].exe_ms", kMaxSampleBatchSizes);
  point(m.profiles, &profile, kMaxSampleProfiles + 1);
  r = from_msg(m);
  ASSERT_FALSE(r);
  expect_cap_error(r.error(), "profiles", kMaxSampleProfiles);

  point(m.profiles, &profile, 0);
  point(m.tasks, static_cast<coedge_msg_TaskReport*>(nullptr), 5);  // length without data
  r = from_msg(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no data"), std::string::npos) << r.error().message;
}

TEST(DdsConvert, NamesLongerThanTheCapAreRefused) {
  std::string at_cap(kMaxSampleName, 'n');
  std::string over(kMaxSampleName + 1, 'n');
  coedge_msg_NodeReport m{};
  m.node = at_cap.data();
  auto r = from_msg(m);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->node, at_cap);
  m.node = over.data();
  r = from_msg(m);
  ASSERT_FALSE(r);
  expect_cap_error(r.error(), "node", kMaxSampleName);

  std::string ok = "Y1";
  coedge_msg_TaskReport t = task(over.data());
  m.node = ok.data();
  point(m.tasks, &t, 1);
  r = from_msg(m);
  ASSERT_FALSE(r);
  expect_cap_error(r.error(), "tasks[].task", kMaxSampleName);

  coedge_msg_Assignment a{ok.data(), over.data()};
  coedge_msg_Plan p{};
  point(p.assignments, &a, 1);
  auto plan = from_msg(p);
  ASSERT_FALSE(plan);
  expect_cap_error(plan.error(), "assignments[].node", kMaxSampleName);
  point(p.assignments, &a, kMaxSampleAssignments + 1);
  plan = from_msg(p);
  ASSERT_FALSE(plan);
  expect_cap_error(plan.error(), "assignments", kMaxSampleAssignments);
  a.node = ok.data();
  point(p.assignments, &a, 1);
  p.version = 4;
  plan = from_msg(p);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->version, 4u);
  ASSERT_EQ(plan->assignments.size(), 1u);

  coedge_msg_SourceStats s{over.data(), ok.data(), 1, 2};
  auto stats = from_msg(s);
  ASSERT_FALSE(stats);
  expect_cap_error(stats.error(), "task", kMaxSampleName);
  s.task = ok.data();
  ASSERT_TRUE(from_msg(s));

  coedge_msg_TaskAck ack{ok.data(), over.data(), 1, 1, 0};
  auto acked = from_msg(ack);
  ASSERT_FALSE(acked);
  expect_cap_error(acked.error(), "node", kMaxSampleName);

  coedge_msg_Command c{over.data(), ok.data()};
  ASSERT_FALSE(from_msg(c));
  c.command = ok.data();
  c.node = nullptr;  // a null string reads as ""
  auto cmd = from_msg(c);
  ASSERT_TRUE(cmd);
  EXPECT_EQ(cmd->node, "");
}

TEST(DdsConvert, ImagesOverTheByteCapAreRefusedBeforeCopying) {
  uint8_t pixels[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::string frame = "cam", enc = "bgr8";
  sensor_msgs_msg_dds__Image_ m{};
  m.header.frame_id = frame.data();
  m.encoding = enc.data();
  m.height = 2;
  m.width = 2;
  m.step = 6;
  point(m.data, pixels, sizeof pixels);
  auto img = from_ros(m);
  ASSERT_TRUE(img) << img.error().message;
  EXPECT_EQ(img->data.size(), 12u);
  EXPECT_EQ(img->data[11], 12);

  point(m.data, pixels, kMaxImageBytes + 1);  // 12 real bytes: copying would overrun
  img = from_ros(m);
  ASSERT_FALSE(img);
  expect_cap_error(img.error(), "data", kMaxImageBytes);

  std::string long_text(kMaxSampleText + 1, 'x');
  point(m.data, pixels, sizeof pixels);
  m.encoding = long_text.data();
  img = from_ros(m);
  ASSERT_FALSE(img);
  expect_cap_error(img.error(), "encoding", kMaxSampleText);

  sensor_msgs_msg_dds__CompressedImage_ c{};
  c.header.frame_id = long_text.data();
  c.format = enc.data();
  point(c.data, pixels, sizeof pixels);
  img = from_ros(c);
  ASSERT_FALSE(img);
  expect_cap_error(img.error(), "frame_id", kMaxSampleText);
  c.header.frame_id = frame.data();
  point(c.data, pixels, kMaxImageBytes + 1);
  img = from_ros(c);
  ASSERT_FALSE(img);
  expect_cap_error(img.error(), "data", kMaxImageBytes);
  point(c.data, pixels, sizeof pixels);
  img = from_ros(c);
  ASSERT_TRUE(img);
  EXPECT_TRUE(img->compressed);
}

}  // namespace
}  // namespace coedge::net::internal
