// Not a fuzz target: writes the seeds of fuzz_dds_control and fuzz_dds_image (run by the
// fuzz build, fuzz/CMakeLists.txt; no binary seed is kept in the repository):
//   write_dds_seeds OUT_DIR   -> OUT_DIR/fuzz_dds_control/*, OUT_DIR/fuzz_dds_image/*
// Each seed is a valid sample as a peer would send it, serialized by Cyclone's own writer
// code (dds_stream_write_sample, and its big-endian twin for the byte-swap case) in XCDR1
// and XCDR2, after the target's selector byte: node reports with tasks, links and profiles,
// plans, source statistics, task acks, commands (names of examples/lamppost.yaml, the
// scenario fuzz_dds_control checks them against, and valid there); raw bgr8/rgb8/mono8 images and JPEG/PNG
// compressed ones (encoded here by OpenCV). Every seed is read back through the targets'
// receive path (dds_receive.h) and must be accepted: the build fails if the mirror of
// Cyclone's receive path refuses what Cyclone writes.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "coedge.h"
#include "dds_receive.h"
#include "ros_image.h"

namespace {

namespace fs = std::filesystem;
using coedge::fuzz::ReceivedType;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "write_dds_seeds: %s\n", what.c_str());
  std::exit(1);
}

// Header + CDR of `sample` in XCDR `version` (1, 2), little- or big-endian; padded to a
// multiple of 4 with the padding in the options' low bits, as Cyclone's writer does.
std::vector<uint8_t> serialize(const ReceivedType& type, const void* sample, uint32_t version, bool big_endian) {
  std::vector<uint8_t> out(4, 0);
  const unsigned char* buf = nullptr;
  uint32_t len = 0;
  dds_ostream_t os;
  dds_ostreamBE_t os_be;
  if (big_endian) {
    dds_ostreamBE_init(&os_be, 0, version);
    if (!dds_stream_write_sampleBE(&os_be, sample, type.sertype())) die("dds_stream_write_sampleBE failed");
    buf = os_be.x.m_buffer;
    len = os_be.x.m_index;
    out[1] = version == 1 ? coedge::fuzz::kXcdr1Be : coedge::fuzz::kXcdr2Be;
  } else {
    dds_ostream_init(&os, 0, version);
    if (!dds_stream_write_sample(&os, sample, type.sertype())) die("dds_stream_write_sample failed");
    buf = os.m_buffer;
    len = os.m_index;
    out[1] = version == 1 ? coedge::fuzz::kXcdr1Le : coedge::fuzz::kXcdr2Le;
  }
  out.insert(out.end(), buf, buf + len);
  const uint32_t pad = (4 - len % 4) % 4;
  out.insert(out.end(), pad, 0);
  out[3] = static_cast<uint8_t>(pad);
  if (big_endian) dds_ostreamBE_fini(&os_be);
  else dds_ostream_fini(&os);
  return out;
}

// Writes `name`-{x1le,x1be,x2le,x2be} into dir, each after `selector`, and checks that the
// receive path accepts each.
template <typename T>
void write_all(const fs::path& dir, const std::string& name, uint8_t selector, const ReceivedType& type,
               const T& sample) {
  struct Variant {
    const char* suffix;
    uint32_t version;
    bool big_endian;
  };
  for (const Variant v : {Variant{"x1le", 1, false}, Variant{"x1be", 1, true}, Variant{"x2le", 2, false},
                          Variant{"x2be", 2, true}}) {
    const std::vector<uint8_t> payload = serialize(type, &sample, v.version, v.big_endian);
    coedge::fuzz::Sample<T> back(type);
    if (!back.read(payload.data(), payload.size()))
      die(name + " (" + v.suffix + "): the receive path refuses what Cyclone wrote");
    std::ofstream f(dir / (name + "-" + v.suffix), std::ios::binary);
    f.put(static_cast<char>(selector));
    f.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
    if (!f) die("cannot write " + (dir / name).string());
  }
}

// Regression inputs of the finding in Cyclone DDS 0.10.2 (fuzz/README.md): the sample in
// XCDR2, both byte orders, with its last 4 bytes cut off, so that its last member (an
// 8-byte integer) has only 4 bytes left. Cyclone's normalize accepts it (its XCDR2 bound
// check of an 8-byte value asks for 4 bytes) and then reads, and in the byte-swapped case
// swaps, 4 bytes past the data. Every run replays them: what our harness does with them
// must stay within the buffer laid out as Cyclone's (dds_receive.h).
template <typename T>
void write_short_last_int64(const fs::path& dir, const std::string& name, uint8_t selector,
                            const ReceivedType& type, const T& sample) {
  for (const bool big_endian : {false, true}) {
    std::vector<uint8_t> payload = serialize(type, &sample, 2, big_endian);
    if (payload[3] != 0) die(name + ": expected an unpadded XCDR2 serialization");
    payload.resize(payload.size() - 4);
    coedge::fuzz::Sample<T> back(type);
    const bool accepted = back.read(payload.data(), payload.size());
    std::printf("write_dds_seeds: %s (XCDR2 %s, last int64 cut to 4 bytes): Cyclone %s\n", name.c_str(),
                big_endian ? "big-endian" : "little-endian",
                accepted ? "accepts it (the 0.10.2 finding)" : "refuses it (fixed)");
    std::ofstream f(dir / ("regress-" + name + (big_endian ? "-x2be" : "-x2le")), std::ios::binary);
    f.put(static_cast<char>(selector));
    f.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
    if (!f) die("cannot write " + (dir / name).string());
  }
}

// The element types of ProfileReport's sequences, whatever idl/coedge.idl makes them
// (8-byte values are what the finding needs; a 4-byte type avoids it).
using ExeMs = std::remove_pointer_t<decltype(coedge_msg_ProfileReport{}.exe_ms._buffer)>;
using Batches = std::remove_pointer_t<decltype(coedge_msg_ProfileReport{}.batches._buffer)>;

// The other regression input of that finding: a node report in XCDR2, big-endian, whose
// last profile's `batches` (found by its first value, `marker`) claims as many elements
// as fit in 4 bytes each up to the end of the data. With 8-byte elements, Cyclone's
// normalize accepts the count and byte-swaps 8 bytes per element: past the end of the
// serdata's allocation; our harness refuses it (dds_receive.h: the canary). With 4-byte
// elements the count is simply wrong, and refused.
void write_long_batches(const fs::path& dir, const ReceivedType& type, const coedge_msg_NodeReport& r, Batches marker) {
  std::vector<uint8_t> payload = serialize(type, &r, 2, true);
  constexpr int w = sizeof(Batches);
  uint8_t be[w];
  for (int i = 0; i < w; ++i) be[i] = static_cast<uint8_t>(static_cast<uint64_t>(marker) >> (8 * (w - 1 - i)));
  auto at = std::search(payload.begin(), payload.end(), be, be + w);
  if (at == payload.end() || at - payload.begin() < 8) die("node report: the batches marker is not in the payload");
  const size_t first = static_cast<size_t>(at - payload.begin());
  const uint32_t n = static_cast<uint32_t>((payload.size() - first) / 4 - 1);
  for (int i = 0; i < 4; ++i) payload[first - 4 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  coedge::fuzz::Sample<coedge_msg_NodeReport> back(type);
  const uint64_t before = type.cyclone_overruns();
  const bool accepted = back.read(payload.data(), payload.size());
  std::printf("write_dds_seeds: report-long-batches (XCDR2 big-endian, %u batches of %d bytes in %zu bytes): %s\n",
              n, w, payload.size() - first,
              type.cyclone_overruns() > before ? "Cyclone swaps past its buffer (the 0.10.2 finding)"
              : accepted                        ? "Cyclone accepts it"
                                                : "Cyclone refuses it");
  std::ofstream f(dir / "regress-report-long-batches-x2be", std::ios::binary);
  f.put(0);
  f.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
  if (!f) die("cannot write regress-report-long-batches-x2be");
}

char* s(const char* text) { return const_cast<char*>(text); }

template <typename Seq, typename T>
void seq(Seq& q, std::vector<T>& items) {
  q._maximum = q._length = static_cast<uint32_t>(items.size());
  q._buffer = items.empty() ? nullptr : items.data();
  q._release = false;
}

void control_seeds(const fs::path& dir) {
  const ReceivedType report(&coedge_msg_NodeReport_desc), plan(&coedge_msg_Plan_desc),
      stats(&coedge_msg_SourceStats_desc), ack(&coedge_msg_TaskAck_desc), command(&coedge_msg_Command_desc);

  // Node reports: an empty one (a node that just started), a busy one, a final one.
  coedge_msg_NodeReport r{};
  r.node = s("n1");
  r.seq = 1;
  r.stamp_ns = 1764748800000000000;
  write_all(dir, "report-empty", 0, report, r);
  std::vector<coedge_msg_TaskReport> tasks = {
      {s("Y1"), 120, 110, 5, 2, 5230.5, 4100.25, 3},
      {s("V1"), 40, 40, 0, 0, 1900.0, 1500.0, 0},
  };
  std::vector<coedge_msg_LinkReport> links = {{s("n2"), 94.5, s("probe")}, {s("n3"), 12.25, s("passive")}};
  std::vector<ExeMs> exe = {12.5, 20.25, 27.0, 33.75};
  std::vector<Batches> batches = {40, 12, 5, 0};
  std::vector<ExeMs> exe2 = {55.0};
  std::vector<Batches> batches2 = {0};
  std::vector<coedge_msg_ProfileReport> profiles(2);
  profiles[0].model = s("yolov5s-640");
  seq(profiles[0].exe_ms, exe);
  seq(profiles[0].batches, batches);
  profiles[0].pre_ms = 1.5;
  profiles[0].post_ms = 0.75;
  profiles[1].model = s("vgg19-160");
  seq(profiles[1].exe_ms, exe2);
  seq(profiles[1].batches, batches2);
  r.seq = 57;
  r.plan_epoch = 1764748790000000000;
  r.plan_version = 3;
  seq(r.tasks, tasks);
  seq(r.links, links);
  seq(r.profiles, profiles);
  write_all(dir, "report-busy", 0, report, r);
  r.final_report = true;
  write_all(dir, "report-final", 0, report, r);
  const Batches marker = static_cast<Batches>(sizeof(Batches) == 8 ? 0x0123456789abcdefULL : 0x01234567ULL);
  std::vector<Batches> marked = {marker, 3, 1};
  seq(profiles[1].batches, marked);
  std::vector<ExeMs> exe3 = {55.0, 70.0, 90.0};
  seq(profiles[1].exe_ms, exe3);
  write_long_batches(dir, report, r, marker);

  coedge_msg_Plan p{};
  p.version = 4;
  p.effective_ns = 1764748801000000000;
  p.epoch = 1764748790000000000;
  std::vector<coedge_msg_Assignment> as = {{s("Y1"), s("n1")}, {s("V1"), s("n2")}, {s("R1"), s("")}};
  seq(p.assignments, as);
  write_all(dir, "plan", 1, plan, p);
  write_short_last_int64(dir, "plan-short-epoch", 1, plan, p);
  coedge_msg_Plan empty_plan{};
  empty_plan.version = 1;
  empty_plan.epoch = p.epoch;
  empty_plan.effective_ns = p.effective_ns;
  write_all(dir, "plan-empty", 1, plan, empty_plan);

  coedge_msg_SourceStats st{s("Y1"), s("n1"), 300, 1764748805000000000};
  write_all(dir, "source-stats", 2, stats, st);
  write_short_last_int64(dir, "source-stats-short-stamp", 2, stats, st);

  coedge_msg_TaskAck a{s("V1"), s("n2"), 1764748790000000000, 4, 1764748801500000000};
  write_all(dir, "task-ack", 3, ack, a);
  write_short_last_int64(dir, "task-ack-short-from", 3, ack, a);

  coedge_msg_Command stop_all{s("stop"), s("")};
  write_all(dir, "command-stop", 4, command, stop_all);
  coedge_msg_Command stop_one{s("stop"), s("n3")};
  write_all(dir, "command-stop-n3", 4, command, stop_one);
  coedge_msg_Command stop_sources{s("stop-sources"), s("")};
  write_all(dir, "command-stop-sources", 4, command, stop_sources);
}

void image_seeds(const fs::path& dir) {
  const ReceivedType raw(&sensor_msgs_msg_dds__Image__desc), comp(&sensor_msgs_msg_dds__CompressedImage__desc);
  // A small gradient, so that the compressed files are not trivial.
  const int w = 16, h = 12;
  cv::Mat bgr(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x * 16), uint8_t(y * 20), uint8_t(x * y));

  struct Raw {
    const char* encoding;
    int channels;
    uint32_t pad;  // bytes of row padding (step > width x channels)
  };
  for (const Raw e : {Raw{"bgr8", 3, 0}, Raw{"rgb8", 3, 0}, Raw{"mono8", 1, 0}, Raw{"bgr8", 3, 4}}) {
    const uint32_t step = static_cast<uint32_t>(w * e.channels) + e.pad;
    std::vector<uint8_t> data(static_cast<size_t>(step) * h);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
    sensor_msgs_msg_dds__Image_ m{};
    m.header.stamp.sec = 1764748805;
    m.header.stamp.nanosec = 250000000;
    m.header.frame_id = s("camera_n1_Y1");
    m.height = h;
    m.width = w;
    m.encoding = s(e.encoding);
    m.step = step;
    seq(m.data, data);
    // Selector 2: the 640x480 largest frame (fuzz_dds_image.cc).
    write_all(dir, std::string("image-") + e.encoding + (e.pad ? "-padded" : ""), 2, raw, m);
  }

  struct Compressed {
    const char* name;
    const char* ext;
    const char* format;
  };
  for (const Compressed c : {Compressed{"jpeg", ".jpg", "jpeg"}, Compressed{"png", ".png", "png"},
                             Compressed{"jpeg-transport", ".jpg", "bgr8; jpeg compressed bgr8"}}) {
    std::vector<uint8_t> file;
    if (!cv::imencode(c.ext, bgr, file)) die(std::string("cv::imencode ") + c.ext + " failed");
    sensor_msgs_msg_dds__CompressedImage_ m{};
    m.header.stamp.sec = 1764748805;
    m.header.frame_id = s("camera_n1_Y1");
    m.format = s(c.format);
    seq(m.data, file);
    write_all(dir, std::string("compressed-") + c.name, 3, comp, m);  // selector 3: compressed, 640x480
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) die("usage: write_dds_seeds OUT_DIR");
  const fs::path out = argv[1];
  fs::create_directories(out / "fuzz_dds_control");
  fs::create_directories(out / "fuzz_dds_image");
  control_seeds(out / "fuzz_dds_control");
  image_seeds(out / "fuzz_dds_image");
  return 0;
}
