// libFuzzer target: every image a node receives over DDS, as a peer on the domain (a
// camera, a ROS 2 camera driver, or anyone else) sends it. The first byte picks:
//   bit 0        the type: 0 sensor_msgs/Image, 1 sensor_msgs/CompressedImage;
//   (byte/2) % 3 the sensor's largest frame the node decodes against: 64x48, 640x480 or
//                1920x1080 (config::SensorConfig's width/height).
// The rest is the serialized payload, encapsulation header included (XCDR1 or XCDR2, either
// byte order). It goes through Cyclone's own receive path (dds_receive.h), our conversion
// (net::internal::from_ros, net/dds_convert.h: caps on lengths), then what the node does
// with every frame
// before anything else sees it: node::decode_ros_frame (node/cluster/ros_frame.h: raw
// bgr8/rgb8/mono8 checked against step, height and the largest frame; JPEG and PNG sized
// from their headers before OpenCV decodes them). The sample is freed as a returned loan is.
// Oracles: the conversion refuses exactly the samples over a cap and copies the others
// faithfully; an accepted frame is a non-empty
// 8-bit BGR image no larger than the largest frame (a raw one of the image's own size);
// a rejected one says why. The codecs' own warnings are silenced (QuietCodecs, below).
// FUZZ_DDS_VERBOSE=1 in the environment prints what became of
// each input (to see what a reproducer or a seed does: build-fuzz/bin/fuzz_dds_image FILE).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <unistd.h>

#include <opencv2/core.hpp>

#include "dds_receive.h"
#include "net/dds_convert.h"
#include "node/cluster/ros_frame.h"

namespace {

using coedge::fuzz::ReceivedType;
using coedge::fuzz::Sample;
namespace net = coedge::net;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_dds_image: broken promise: %s\n", what);
  std::abort();
}

void expect(bool ok, const char* what) {
  if (!ok) fail(what);
}

const bool kVerbose = std::getenv("FUZZ_DDS_VERBOSE") != nullptr;

bool same(const std::string& s, const char* c) { return c == nullptr ? s.empty() : s == c; }

template <typename Seq>
bool same_data(const std::vector<uint8_t>& v, const Seq& seq) {
  if (seq._buffer == nullptr || seq._length == 0) return v.empty();
  return v.size() == seq._length && std::memcmp(v.data(), seq._buffer, v.size()) == 0;
}

// The conversion's caps on strings (the data's, 64 MiB, is beyond any input here).
bool over(const char* s) { return s != nullptr && std::strlen(s) > net::kMaxSampleText; }

void conversion_refused(const coedge::Result<net::Image>& r) {
  expect(!r.error().message.empty(), "a refused conversion says why");
  if (kVerbose) std::fprintf(stderr, "fuzz_dds_image: conversion refused: %s\n", r.error().message.c_str());
}

constexpr int kMax[3][2] = {{64, 48}, {640, 480}, {1920, 1080}};

// libjpeg and libpng print a warning to stderr for every corrupt file ("Corrupt JPEG
// data: ..."): millions of lines in a long run. stderr goes to /dev/null while a frame is
// decoded (not when verbose); sanitizer reports go to the real stderr all along
// (LLVMFuzzerInitialize).
int g_stderr = -1, g_null = -1;
struct QuietCodecs {
  QuietCodecs() {
    if (g_null >= 0) dup2(g_null, STDERR_FILENO);
  }
  ~QuietCodecs() {
    if (g_null >= 0) dup2(g_stderr, STDERR_FILENO);
  }
};

void check_frame(const net::Image& img, int max_w, int max_h) {
  const coedge::node::RosFrame f = [&] {
    QuietCodecs quiet;
    return coedge::node::decode_ros_frame(img, max_w, max_h);
  }();
  if (kVerbose) {
    std::fprintf(stderr, "fuzz_dds_image: %s '%s' %ux%u step %u, %zu bytes, largest %dx%d: %s %s\n",
                 img.compressed ? "CompressedImage" : "Image", img.encoding.c_str(), img.width, img.height, img.step,
                 img.data.size(), max_w, max_h, f.ok() ? "accepted" : "rejected", f.why.c_str());
  }
  if (!f.ok()) {
    expect(!f.why.empty(), "a rejected frame says why");
    expect(std::strlen(coedge::node::frame_rejection_name(f.rejected)) > 0, "a rejection has a name");
    return;
  }
  expect(!f.bgr.empty() && f.bgr.type() == CV_8UC3, "an accepted frame is 8-bit BGR");
  expect(f.bgr.cols <= max_w && f.bgr.rows <= max_h, "an accepted frame fits the largest frame");
  if (!img.compressed) {
    expect(static_cast<uint32_t>(f.bgr.cols) == img.width && static_cast<uint32_t>(f.bgr.rows) == img.height,
           "a raw frame keeps the image's size");
  }
  // Touch every pixel: a frame that views the image's data must lie within it (ASan).
  volatile uint64_t sum = 0;
  for (int y = 0; y < f.bgr.rows; ++y) {
    const uint8_t* row = f.bgr.ptr<uint8_t>(y);
    for (int x = 0; x < f.bgr.cols * 3; ++x) sum = sum + row[x];
  }
}

void raw(const ReceivedType& type, const uint8_t* data, size_t size, int max_w, int max_h) {
  Sample<sensor_msgs_msg_dds__Image_> s(type);
  if (!s.read(data, size)) {
    if (kVerbose) std::fprintf(stderr, "fuzz_dds_image: Image refused (by Cyclone, or: it steps past its buffer, %llu so far)\n",
                               static_cast<unsigned long long>(type.cyclone_overruns()));
    return;
  }
  const sensor_msgs_msg_dds__Image_& m = s.get();
  auto converted = net::internal::from_ros(m);
  expect(converted.ok() != (over(m.header.frame_id) || over(m.encoding)), "Image: refused exactly when over a cap");
  if (!converted.ok()) return conversion_refused(converted);
  const net::Image& img = *converted;
  expect(!img.compressed && img.width == m.width && img.height == m.height && img.step == m.step &&
             same(img.encoding, m.encoding) && same(img.frame_id, m.header.frame_id) && same_data(img.data, m.data),
         "Image fields");
  check_frame(img, max_w, max_h);
}

void compressed(const ReceivedType& type, const uint8_t* data, size_t size, int max_w, int max_h) {
  Sample<sensor_msgs_msg_dds__CompressedImage_> s(type);
  if (!s.read(data, size)) {
    if (kVerbose) std::fprintf(stderr, "fuzz_dds_image: CompressedImage refused (by Cyclone, or: it steps past its buffer, %llu so far)\n",
                               static_cast<unsigned long long>(type.cyclone_overruns()));
    return;
  }
  const sensor_msgs_msg_dds__CompressedImage_& m = s.get();
  auto converted = net::internal::from_ros(m);
  expect(converted.ok() != (over(m.header.frame_id) || over(m.format)), "CompressedImage: refused exactly when over a cap");
  if (!converted.ok()) return conversion_refused(converted);
  const net::Image& img = *converted;
  expect(img.compressed && same(img.encoding, m.format) && same(img.frame_id, m.header.frame_id) &&
             same_data(img.data, m.data),
         "CompressedImage fields");
  check_frame(img, max_w, max_h);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cv::setNumThreads(0);  // decode on the fuzzer's thread: no pool threads, reproducible runs
  if (!kVerbose) {
    g_stderr = dup(STDERR_FILENO);
    g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (g_stderr >= 0) __sanitizer_set_report_fd(reinterpret_cast<void*>(static_cast<intptr_t>(g_stderr)));
    else g_null = -1;
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ReceivedType kImage(&sensor_msgs_msg_dds__Image__desc);
  static const ReceivedType kCompressed(&sensor_msgs_msg_dds__CompressedImage__desc);
  if (size < 1) return 0;
  const int* max = kMax[(data[0] / 2) % 3];
  if (data[0] & 1) compressed(kCompressed, data + 1, size - 1, max[0], max[1]);
  else raw(kImage, data + 1, size - 1, max[0], max[1]);
  return 0;
}
