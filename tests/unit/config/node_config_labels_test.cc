// A model's labels file (`labels:`, load_labels_file / parse_labels) and a task's
// detection thresholds (`confidence:`, `nms_iou:`) and its masks (`masks:`): what they read, each mistake's
// FILE:LINE message, and that both survive the node config's wire format (the agent hands
// the config to its server as that document).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/node_config_loader.h"
#include "config/node_config_wire.h"
#include "config_test_util.h"

namespace coedge::config {
namespace {

namespace fs = std::filesystem;

using Names = std::vector<std::string>;

::testing::AssertionResult labels_fail(const std::string& text, const std::string& where, const std::string& why) {
  auto r = parse_labels(text, "l.txt");
  if (r.ok()) return ::testing::AssertionFailure() << "read without error: " << ::testing::PrintToString(*r);
  const std::string& msg = r.error().message;
  if (msg.find("labels file l.txt" + where + ": ") == std::string::npos || msg.find(why) == std::string::npos) {
    return ::testing::AssertionFailure() << "message '" << msg << "' lacks 'l.txt" << where << ": ' or '" << why
                                         << "'";
  }
  return ::testing::AssertionSuccess();
}

TEST(LabelsFile, OneNamePerLineClassIdsFromZero) {
  EXPECT_EQ(*parse_labels("person\nbicycle\ncar\n", "l.txt"), (Names{"person", "bicycle", "car"}));
  // No final newline; CRLF; spaces around names; blank lines at the end.
  EXPECT_EQ(*parse_labels("a\r\n  traffic light \t\r\nc", "l.txt"), (Names{"a", "traffic light", "c"}));
  EXPECT_EQ(*parse_labels("a\nb\n\n  \n", "l.txt"), (Names{"a", "b"}));
  // UTF-8 names, duplicates (ImageNet has two "crane"s), quotes and backslashes.
  EXPECT_EQ(*parse_labels("Fußgänger\ncrane\ncrane\na \"b\" \\c\n", "l.txt"),
            (Names{"Fußgänger", "crane", "crane", "a \"b\" \\c"}));
}

TEST(LabelsFile, EachMistakeNamesItsLine) {
  EXPECT_TRUE(labels_fail("a\n\nb\n", ":2", "empty class name"));
  EXPECT_TRUE(labels_fail("a\n \nb\n", ":2", "empty class name"));
  EXPECT_TRUE(labels_fail("a\nb\tc\n", ":2", "control character 0x09"));
  EXPECT_TRUE(labels_fail("a\nb\x01\n", ":2", "control character 0x01"));
  EXPECT_TRUE(labels_fail("a\nb\nbad \xff\n", ":3", "not UTF-8"));
  EXPECT_TRUE(labels_fail("a\n" + std::string(kMaxLabelBytes + 1, 'x') + "\n", ":2", "bytes; at most"));
  EXPECT_TRUE(labels_fail("", "", "no class names"));
  EXPECT_TRUE(labels_fail("\n\n", "", "no class names"));
  std::string many;
  for (size_t i = 0; i < kMaxLabelsBytes / 4; ++i) many += "abcdefg\n";
  EXPECT_TRUE(labels_fail(many, ":12501", "travel to the task's workers"));
}

class LabelsConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("coedge-labels-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "m.onnx") << "stand-in";
    std::ofstream(dir_ / "names.txt") << "cat\ndog\n";
    std::ofstream(dir_ / "gap.txt") << "cat\n\ndog\n";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string config(const std::string& model_extra, const std::string& task_extra) {
    return "isolation: process\n"                                                          // 1
           "models: [{name: m, file: m.onnx" + model_extra + "}]\n"                        // 2
           "sensors: [{name: c, kind: synthetic}]\n"                                       // 3
           "tasks: [{name: t, model: m, sensor: c, period: 100ms" + task_extra + "}]\n";  // 4
  }
  static Result<NodeConfig> parse(const std::string& text) { return parse_node_config(text, "x.yaml", dir_.string()); }

  static inline fs::path dir_;
};

TEST_F(LabelsConfigTest, LabelsAndThresholdsAreRead) {
  auto c = parse(config(", labels: names.txt", ", confidence: 0.4, nms_iou: 0.6"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->model_labels.size(), 1u);
  EXPECT_EQ(c->model_labels[0], (Names{"cat", "dog"}));
  EXPECT_EQ(c->model_labels_files[0], (dir_ / "names.txt").string());
  EXPECT_EQ(c->task_runtime[0].confidence, 0.4);
  EXPECT_EQ(c->task_runtime[0].nms_iou, 0.6);

  // Unset: no names, and the worker's defaults.
  auto plain = parse(config("", ""));
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  ASSERT_EQ(plain->model_labels.size(), 1u);
  EXPECT_TRUE(plain->model_labels[0].empty());
  EXPECT_FALSE(plain->task_runtime[0].confidence.has_value());
  EXPECT_FALSE(plain->task_runtime[0].nms_iou.has_value());
  // The ends of the range.
  auto ends = parse(config("", ", confidence: 0, nms_iou: 1"));
  ASSERT_TRUE(ends.ok()) << ends.error().message;
  EXPECT_EQ(ends->task_runtime[0].confidence, 0.0);
}

TEST_F(LabelsConfigTest, MistakesNameTheFieldAndTheLabelsLine) {
  using coedge::testing::error_matches;
  auto missing = parse(config(", labels: nope.txt", ""));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(error_matches(missing.error(), 2, "models[0].labels", "nope.txt' does not exist"));
  auto gap = parse(config(", labels: gap.txt", ""));
  ASSERT_FALSE(gap.ok());
  EXPECT_TRUE(error_matches(gap.error(), 2, "models[0].labels", (dir_ / "gap.txt").string() + ":2: empty class name"));
  for (const char* bad : {", confidence: 1.5", ", confidence: -0.1", ", confidence: high"}) {
    auto r = parse(config("", std::string(bad)));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(error_matches(r.error(), 4, "tasks[0].confidence", std::string(bad).find("high") == std::string::npos ? "must be in [0, 1]" : "")) << bad;
  }
  auto nms = parse(config("", ", nms_iou: 2"));
  ASSERT_FALSE(nms.ok());
  EXPECT_TRUE(error_matches(nms.error(), 4, "tasks[0].nms_iou", "intersection-over-union threshold must be in [0, 1], got"));
  auto typo = parse(config("", ", confidance: 0.3"));
  ASSERT_FALSE(typo.ok());
  EXPECT_TRUE(error_matches(typo.error(), 4, "tasks[0].confidance", "did you mean 'confidence'?"));
}

TEST_F(LabelsConfigTest, TheWireCarriesLabelsAndThresholds) {
  auto c = parse(config(", labels: names.txt", ", confidence: 0.125"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  const std::string wire = write_node_config_wire(*c);
  auto back = read_node_config_wire(wire, "wire", wire_digest(wire));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->model_labels, c->model_labels);
  EXPECT_EQ(back->model_labels_files, c->model_labels_files);
  EXPECT_EQ(back->task_runtime, c->task_runtime);
  EXPECT_FALSE(back->task_runtime[0].nms_iou.has_value());
}

// A segmentation task's `masks:` (png or none; default none). Whether the task's model
// is segmentation is the agent's check (it reads the model file); the loader checks the value.
TEST_F(LabelsConfigTest, MasksAreNoneByDefaultPngOrNone) {
  auto plain = parse(config("", ""));
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->task_runtime[0].masks, MaskOutput::kNone);
  auto png = parse(config("", ", masks: png"));
  ASSERT_TRUE(png.ok()) << png.error().message;
  EXPECT_EQ(png->task_runtime[0].masks, MaskOutput::kPng);
  auto none = parse(config("", ", masks: none"));
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->task_runtime[0].masks, MaskOutput::kNone);

  using coedge::testing::error_matches;
  for (const char* bad : {", masks: jpg", ", masks: PNG", ", masks: [png]"}) {
    auto r = parse(config("", std::string(bad)));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(error_matches(r.error(), 4, "tasks[0].masks", std::string(bad).find('[') == std::string::npos
                                                                 ? "written as 'png' or not at all ('none'), got"
                                                                 : ""))
        << bad << ": " << r.error().message;
  }
  auto typo = parse(config("", ", mask: png"));
  ASSERT_FALSE(typo.ok());
  EXPECT_TRUE(error_matches(typo.error(), 4, "tasks[0].mask", "did you mean 'masks'?")) << typo.error().message;
}

}  // namespace
}  // namespace coedge::config
