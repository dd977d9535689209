// A segmentation task on a real node, as a user runs it: `coedge node --config` with a
// tiny-segmenter task (stock worker, `masks: png`, the model's class names from a labels
// file) beside a tiny-classifier task, in isolation none and, as root, process and
// sandbox (bubblewrap). Checks: every job is accounted, the segmentation results carry
// class areas (named, at least 0.5% each, largest first, summing to at most 1) and the
// frame's size, each result's mask PNG decodes as an 8-bit single-channel image at the
// model's resolution with every value a class id (< C), and the areas the result states
// are the ones its PNG holds (the PNG is that job's mask), every line is valid against
// docs/schema/segmentation-result.schema.json; the classifier beside it still
// writes its stock results. And `masks: png` on a classification task, or a labels file
// that does not name each of the segmenter's classes, is refused before anything runs.
// Never asserts a duration.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "support/child_process.h"
#include "support/node_test_inputs.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";
const std::string kSegmenter = COEDGE_BINARY_DIR "/models/fixtures/tiny-segmenter.onnx";  // [N,3,32,32] -> [N,4,32,32]
const std::string kClassifier = COEDGE_BINARY_DIR "/models/fixtures/tiny-classifier.onnx";
const std::array<std::string, 4> kNames{"sky", "road", "car", "person"};

using coedge::test::read_lines;
using coedge::test::read_text;

class SegmentationNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not /tmp: the agent gives its workers a private /tmp.
    dir_ = fs::path("/var/tmp") / ("coedge-seg-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    coedge::test::write_test_frames(dir_ / "frames");
    std::ofstream labels(dir_ / "seg-labels.txt");
    for (const std::string& name : kNames) labels << name << "\n";
    // Profiles of the two tiny models (a few ms at most on any machine): the node plans
    // with them instead of measuring at start.
    std::ofstream(dir_ / "profiles.yaml")
        << "profile_set: machine\ndescription: tiny fixtures\nmodels:\n"
        << "  - {name: seg, input_shape: [3, 32, 32], input_bytes: 3072,\n"
        << "     exe_ms: [3, 4, 5, 6, 7, 8, 9, 10, 11, 12], pre: 1ms, post: 1ms}\n"
        << "  - {name: cls, input_shape: [3, 32, 32], input_bytes: 3072,\n"
        << "     exe_ms: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], pre: 1ms, post: 1ms}\n";
  }
  void TearDown() override {
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::printf("kept %s for inspection\n", dir_.c_str());
    }
  }

  fs::path run_dir() const { return dir_ / "run"; }

  fs::path write_config(const std::string& isolation, const std::string& cls_extra = "") {
    std::ostringstream y;
    y << "node: seg-node\n"
      << "isolation: " << isolation << "\n"
      << "run_dir: " << run_dir().string() << "\n"
      << "profiles: " << (dir_ / "profiles.yaml").string() << "\n"
      << "models:\n"
      << "  - {name: seg, file: " << kSegmenter << ", labels: " << (dir_ / "seg-labels.txt").string() << "}\n"
      << "  - {name: cls, file: " << kClassifier << "}\n"
      << "sensors:\n"
      << "  - {name: cam0, kind: folder, path: " << (dir_ / "frames").string() << ", loop: true}\n"
      << "tasks:\n"
      << "  - {name: seg, model: seg, sensor: cam0, period: 100ms, masks: png}\n"
      << "  - {name: cls, model: cls, sensor: cam0, period: 100ms" << cls_extra << "}\n";
    const fs::path file = dir_ / ("node-" + isolation + ".yaml");
    std::ofstream(file) << y.str();
    return file;
  }

  // Runs the node for `duration`; the exit code, with its output in `output`.
  int run_node(const fs::path& config, const std::string& duration, std::string& output) {
    const fs::path log = dir_ / "output.txt";
    coedge::test::ChildProcess child({kCoedge, "node", "--config", config.string(), "--summary",
                                      (dir_ / "summary.json").string(), "--jobs", (dir_ / "jobs.jsonl").string(),
                                      "--duration", duration},
                                     log);
    const int code = child.wait(std::chrono::seconds(120));  // a hang guard, not a timing
    output = read_text(log);
    return code;
  }

  fs::path dir_;
};

// One segmentation result line: its areas, frame, and the PNG it names, checked against
// each other. Returns the number of failures it added (to stop after a few).
int check_segmentation_line(const std::string& line) {
  const int before = ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  [&] {
    ASSERT_TRUE(j.is_object() && j.contains("result") && j["result"].is_object()) << line;
    const json& r = j["result"];
    ASSERT_TRUE(r.contains("classes") && r["classes"].is_array()) << line;
    ASSERT_EQ(r.value("frame", json()), json::array({320, 240})) << line;
    ASSERT_TRUE(r.contains("mask") && r["mask"].is_string()) << line;
    double sum = 0, previous = 2;
    std::array<double, 4> stated{};
    for (const json& c : r["classes"]) {
      const int id = c.at("class").get<int>();
      ASSERT_GE(id, 0) << line;
      ASSERT_LT(id, 4) << line;
      EXPECT_EQ(c.at("name"), kNames[static_cast<size_t>(id)]) << line;
      const double area = c.at("area").get<double>();
      EXPECT_GE(area, 0.005 - 1e-4) << line;
      EXPECT_LE(area, previous) << "areas are listed largest first: " << line;
      previous = area;
      stated[static_cast<size_t>(id)] = area;
      sum += area;
    }
    EXPECT_FALSE(r["classes"].empty()) << line;
    EXPECT_LE(sum, 1.0 + 1e-3) << line;
    const std::string path = r["mask"].get<std::string>();
    const cv::Mat mask = cv::imread(path, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(mask.empty()) << "the mask " << path << " does not decode: " << line;
    EXPECT_EQ(mask.type(), CV_8UC1) << path;
    ASSERT_EQ(mask.cols, 32) << path;  // the model's resolution, not the frame's
    ASSERT_EQ(mask.rows, 32) << path;
    std::array<int, 256> counts{};
    for (int y = 0; y < mask.rows; ++y)
      for (int x = 0; x < mask.cols; ++x) ++counts[mask.at<uint8_t>(y, x)];
    for (int v = 4; v < 256; ++v) ASSERT_EQ(counts[static_cast<size_t>(v)], 0) << path << ": value " << v << " is no class";
    for (size_t id = 0; id < 4; ++id) {
      const double fraction = counts[id] / 1024.0;
      if (fraction >= 0.005) EXPECT_NEAR(stated[id], fraction, 1e-4) << "class " << id << " of " << path << ": " << line;
      else EXPECT_EQ(stated[id], 0) << "class " << id << " of " << path << ": " << line;
    }
  }();
  return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count() - before;
}

TEST_F(SegmentationNodeTest, ResultsCarryClassAreasAndTheirMasksDecode) {
  std::vector<std::string> modes{"none"};
  if (geteuid() == 0) {
    modes.push_back("process");
    if (coedge::test::bwrap_available()) modes.push_back("sandbox");
  }
  for (const std::string& mode : modes) {
    SCOPED_TRACE("isolation " + mode);
    fs::remove_all(run_dir());
    fs::remove(dir_ / "jobs.jsonl");  // appended to by each run
    std::string output;
    const int code = run_node(write_config(mode), "3s", output);
    ASSERT_EQ(code, 0) << output;
    const json s = json::parse(read_text(dir_ / "summary.json"), nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(s.is_object()) << output;
    const json& t = s["totals"];
    EXPECT_TRUE(t["accounted"].get<bool>()) << output;
    const auto released = t["released"].get<uint64_t>();
    EXPECT_EQ(released, t["met"].get<uint64_t>() + t["overdue"].get<uint64_t>() + t["dropped"].get<uint64_t>());
    EXPECT_EQ(read_lines(dir_ / "jobs.jsonl").size(), released) << "one job line per released job";
    ASSERT_EQ(s["tasks"].size(), 2u);
    for (const json& task : s["tasks"]) {
      EXPECT_GT(task["met"].get<uint64_t>(), 0u) << task["task"] << "\n" << output;
      EXPECT_EQ(task["results"]["refused"].get<uint64_t>(), 0u) << task["task"] << "\n" << output;
    }

    const auto seg = read_lines(run_dir() / "results" / "seg.jsonl");
    ASSERT_FALSE(seg.empty()) << output;
    // Every line in the documented format (docs/schema), strictly.
    const std::string validate = "/usr/bin/python3 " COEDGE_SOURCE_DIR "/tests/integration/validate_lines.py --result " COEDGE_SOURCE_DIR
                                 "/docs/schema/segmentation-result.schema.json " COEDGE_SOURCE_DIR
                                 "/docs/schema/result-line.schema.json '" +
                                 (run_dir() / "results" / "seg.jsonl").string() + "' > '" +
                                 (dir_ / "validate.txt").string() + "' 2>&1";
    EXPECT_EQ(std::system(validate.c_str()), 0) << read_text(dir_ / "validate.txt");
    int failures = 0;
    for (const std::string& line : seg) {
      failures += check_segmentation_line(line);
      if (failures > 5) break;
    }
    // One PNG per job the worker post-processed (a result may have been lost to a full
    // ring, never a mask to a result).
    size_t pngs = 0;
    for (const auto& e : fs::directory_iterator(run_dir() / "tasks" / "seg" / "masks")) {
      pngs += e.path().extension() == ".png" ? 1 : 0;
    }
    EXPECT_GE(pngs, seg.size());

    const auto cls = read_lines(run_dir() / "results" / "cls.jsonl");
    ASSERT_FALSE(cls.empty()) << output;
    const json first = json::parse(cls.front(), nullptr, false);
    ASSERT_TRUE(first.is_object());
    EXPECT_TRUE(first["result"].contains("top")) << cls.front();
    EXPECT_FALSE(fs::exists(run_dir() / "tasks" / "cls" / "masks")) << "a classification task writes no masks";
  }
}

TEST_F(SegmentationNodeTest, MasksOnAClassifierAndTooFewClassNamesAreRefusedBeforeAnythingRuns) {
  std::string output;
  const int code = run_node(write_config("none", ", masks: png"), "1s", output);
  EXPECT_NE(code, 0) << output;  // the start failure of nms_iou on a classifier, too
  EXPECT_NE(output.find("task cls: masks: png is for segmentation models"), std::string::npos) << output;
  EXPECT_NE(output.find("model cls is classification"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(run_dir() / "results")) << "a refused config must run nothing";

  // A labels file must name each of the segmentation model's C classes (here 3 of 4).
  std::ofstream(dir_ / "seg-labels.txt") << "sky\nroad\ncar\n";
  const int short_code = run_node(write_config("none"), "1s", output);
  EXPECT_NE(short_code, 0) << output;
  EXPECT_NE(output.find("names 3 classes, but " + kSegmenter + " has 4"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(run_dir() / "results")) << "a refused config must run nothing";
}

}  // namespace
