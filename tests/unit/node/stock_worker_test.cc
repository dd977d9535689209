// The stock worker's post-processing behind the SDK's callbacks (node/stock_worker.h),
// called as the SDK calls it: the task's thresholds and the model's class names from
// coedge_task_info reach the results (name next to class id, confidence, nms_iou), the
// defaults hold when they are not set, and a list too long for the result buffer is cut
// with "truncated":true. A segmentation task: its pre-processing records the frame's
// size, its post-processing lists named class areas from the server's class ids (bytes),
// writes the mask as an 8-bit PNG under TASK_DIR/masks with `masks: png` (and only then),
// and refuses a float32 output.
#include "node/stock_worker.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "stock_worker_harness.h"

namespace coedge::node {
namespace {

using nlohmann::json;

struct Worker : testing::StockWorker {
  using StockWorker::StockWorker;
  json post(const std::vector<float>& data, std::vector<int64_t> shape, size_t result_size = 64 * 1024) {
    return json::parse(post_text(data, std::move(shape), result_size));
  }
};

// Rows [cx, cy, w, h, objectness, p(class 0), p(class 1)].
std::vector<float> two_overlapping_boxes_of_class_1() {
  return {50, 50, 40, 40, 0.9f, 0.0f, 0.9f,   // score 0.81
          52, 50, 40, 40, 0.8f, 0.0f, 0.5f,   // score 0.40, IoU with the first ~0.9
          20, 20, 10, 10, 0.3f, 0.9f, 0.0f};  // score 0.27, class 0
}

TEST(StockWorkerPost, DetectionsCarryClassNamesAndFrameBoxes) {
  Worker w("detection", 2, -1, -1, true);
  const json r = w.post(two_overlapping_boxes_of_class_1(), {3, 7});
  ASSERT_EQ(r["detections"].size(), 2u) << r.dump() << ": the default NMS (0.45) drops the overlapping box";
  EXPECT_EQ(r["detections"][0]["class"], 1);
  EXPECT_EQ(r["detections"][0]["name"], "class \"1\"");
  EXPECT_EQ(r["detections"][0]["box"], json::parse("[30.0, 30.0, 40.0, 40.0]")) << "x, y, w, h in frame pixels";
  EXPECT_EQ(r["detections"][1]["name"], "class \"0\"");
  EXPECT_FALSE(r.contains("truncated"));
}

TEST(StockWorkerPost, TheTasksThresholdsApply) {
  Worker keep_all("detection", 2, 0.3, 1.0, false);  // nothing suppressed; 0.27 is below 0.3
  const json a = keep_all.post(two_overlapping_boxes_of_class_1(), {3, 7});
  ASSERT_EQ(a["detections"].size(), 2u) << a.dump();
  EXPECT_EQ(a["detections"][0]["class"], 1);
  EXPECT_EQ(a["detections"][1]["class"], 1);
  EXPECT_TRUE(a["detections"][0]["name"].is_null()) << "no labels: null";
  Worker strict("detection", 2, 0.5, 0.45, false);
  EXPECT_EQ(strict.post(two_overlapping_boxes_of_class_1(), {3, 7})["detections"].size(), 1u);
}

TEST(StockWorkerPost, ClassificationNamesAndConfidence) {
  const std::vector<float> logits{0, 5, 1, 0, 3, 0};
  Worker all("classification", 6, -1, -1, true);
  const json a = all.post(logits, {6});
  ASSERT_EQ(a["top"].size(), 5u) << a.dump();
  EXPECT_EQ(a["top"][0]["class"], 1);
  EXPECT_EQ(a["top"][0]["name"], "class \"1\"");
  Worker confident("classification", 6, 0.1, -1, true);
  const json c = confident.post(logits, {6});
  ASSERT_EQ(c["top"].size(), 2u) << c.dump() << ": only p >= 0.1";
  EXPECT_EQ(c["top"][1]["class"], 4);
}

TEST(StockWorkerPost, AListTooLongForTheResultIsCutAndSaysSo) {
  // 50 separate boxes of one class, a result buffer for about ten.
  std::vector<float> rows;
  for (int i = 0; i < 50; ++i) {
    const float x = static_cast<float>(5 + (i % 10) * 10), y = static_cast<float>(5 + (i / 10) * 10);
    rows.insert(rows.end(), {x, y, 4, 4, 0.9f, 0.0f, 0.9f - 0.001f * static_cast<float>(i)});
  }
  Worker w("detection", 2, -1, -1, true);
  const json full = w.post(rows, {50, 7});
  EXPECT_EQ(full["detections"].size(), 50u);
  const json cut = w.post(rows, {50, 7}, 800);
  EXPECT_EQ(cut["truncated"], true);
  EXPECT_GT(cut["detections"].size(), 0u);
  EXPECT_LT(cut["detections"].size(), 50u);
  EXPECT_EQ(cut["detections"][0], full["detections"][0]) << "the highest scores are kept";
}

// The stock worker on a segmentation task: output {4, 5} class ids, 3 classes named.
class StockSegmentationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("coedge-stock-seg-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void* init(const char* masks, const char* role = "post") {
    coedge_task_info info{};
    info.node = "n";
    info.task = "seg";
    info.model = "m";
    info.kind = "segmentation";
    task_dir_ = dir_.string();
    info.task_dir = task_dir_.c_str();
    info.role = role;
    info.input_rank = 3;
    info.input_shape[0] = 3;
    info.input_shape[1] = 4;
    info.input_shape[2] = 5;
    info.output_rank = 2;
    info.output_shape[0] = 4;
    info.output_shape[1] = 5;
    info.confidence = -1;
    info.nms_iou = -1;
    info.label_count = 3;
    info.labels = names_;
    info.masks = masks;
    char error[512] = {0};
    void* state = cb_->init(&info, error, sizeof error);
    EXPECT_NE(state, nullptr) << error;
    return state;
  }

  // 20 pixels: class 2 on 12, class 0 on 7, class 1 on 1 (5%).
  std::vector<uint8_t> labels_ = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1};

  coedge_output output(uint64_t job) const {
    coedge_output out{};
    out.dtype = COEDGE_DTYPE_U8;
    out.labels = labels_.data();
    out.elements = labels_.size();
    out.rank = 2;
    out.shape[0] = 4;
    out.shape[1] = 5;
    out.aux[3] = 640;  // the frame's size, from pre-processing
    out.aux[4] = 480;
    out.job = job;
    return out;
  }

  const coedge_worker_callbacks* cb_ = stock_worker_callbacks();
  const char* names_[3] = {"sky", "road", "car"};
  std::filesystem::path dir_;
  std::string task_dir_;
};

TEST_F(StockSegmentationTest, PreRecordsTheFrameSizeAndFillsTheClassifiersInput) {
  void* state = init("", "pre");
  ASSERT_NE(state, nullptr);
  std::vector<uint8_t> pixels(8 * 6 * 3, 128);
  coedge_frame frame{};
  frame.pixels = pixels.data();
  frame.width = 8;
  frame.height = 6;
  frame.channels = 3;
  frame.stride = 24;
  std::vector<float> input(3 * 4 * 5, -99);
  coedge_tensor tensor{};
  tensor.data = input.data();
  tensor.elements = input.size();
  char error[256] = {0};
  ASSERT_EQ(cb_->pre(state, &frame, &tensor, error, sizeof error), 0) << error;
  EXPECT_EQ(tensor.aux[3], 8);
  EXPECT_EQ(tensor.aux[4], 6);
  // Grey 128 after ImageNet normalisation: (128/255 - 0.485) / 0.229 in the red plane.
  EXPECT_NEAR(input[0], (128 / 255.0 - 0.485) / 0.229, 1e-4);
  cb_->fini(state);
}

TEST_F(StockSegmentationTest, PostListsNamedClassAreasAndWritesThePngMask) {
  void* state = init("png");
  ASSERT_NE(state, nullptr);
  const coedge_output out = output(17);
  std::vector<char> result(64 * 1024);
  char error[256] = {0};
  ASSERT_EQ(cb_->post(state, &out, result.data(), result.size(), error, sizeof error), 0) << error;
  const json r = json::parse(result.data());
  const std::string mask = (dir_ / "masks" / "17.png").string();
  EXPECT_EQ(r, json::parse(R"({"classes":[{"class":2,"name":"car","area":0.6},{"class":0,"name":"sky","area":0.35},)"
                           R"({"class":1,"name":"road","area":0.05}],"frame":[640,480],"mask":")" +
                           mask + "\"}"))
      << result.data();
  const cv::Mat png = cv::imread(mask, cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(png.empty()) << mask;
  EXPECT_EQ(png.type(), CV_8UC1);
  ASSERT_EQ(png.rows, 4);
  ASSERT_EQ(png.cols, 5);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(png.at<uint8_t>(y, x), labels_[static_cast<size_t>(y * 5 + x)]) << y << "," << x;
  EXPECT_FALSE(std::filesystem::exists(mask + ".tmp"));
  cb_->fini(state);
}

TEST_F(StockSegmentationTest, WithoutMasksNoFileAndAFloatOutputIsRefused) {
  void* state = init("");
  ASSERT_NE(state, nullptr);
  coedge_output out = output(3);
  std::vector<char> result(64 * 1024);
  char error[256] = {0};
  ASSERT_EQ(cb_->post(state, &out, result.data(), result.size(), error, sizeof error), 0) << error;
  EXPECT_FALSE(json::parse(result.data()).contains("mask")) << result.data();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "masks"));
  // A float32 item where class ids belong (a server that did not take the argmax).
  const std::vector<float> logits(20, 0.5f);
  out.dtype = COEDGE_DTYPE_F32;
  out.labels = nullptr;
  out.data = logits.data();
  EXPECT_NE(cb_->post(state, &out, result.data(), result.size(), error, sizeof error), 0);
  EXPECT_NE(std::string(error).find("[H, W] class ids"), std::string::npos) << error;
  cb_->fini(state);
}

}  // namespace
}  // namespace coedge::node
