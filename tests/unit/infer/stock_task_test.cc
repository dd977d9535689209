// Real image files through pre-processing, a real forward pass of the generated models,
// and post-processing, for each stock task kind; and bad frames among good ones.
#include "infer/stock_task.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "infer/make_backend.h"
#include "infer/profiler.h"
#include "infer_test_util.h"

namespace coedge::infer {
namespace {

std::unique_ptr<infer::Model> load(const std::string& path) {
  auto backend = infer::make_backend("opencv", infer::BackendOptions{});
  auto model = backend.value()->load(path);
  EXPECT_TRUE(model.ok()) << (model.ok() ? "" : model.error().message);
  return std::move(model.value());
}

// Writes a picture to a real file and reads the file's bytes back, as a sensor replay would.
// The file's name gets the process id, so that two builds' tests can run at once.
std::vector<uint8_t> image_file_bytes(const std::string& name, const cv::Mat& picture) {
  const std::filesystem::path given(name);
  const auto path =
      std::filesystem::temp_directory_path() /
      (given.stem().string() + "-" + std::to_string(::getpid()) + given.extension().string());
  EXPECT_TRUE(cv::imwrite(path.string(), picture));
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return bytes;
}

TEST(StockTask, KindFollowsTheOutputLayout) {
  EXPECT_EQ(infer::infer_task_kind(*load(testing::model_path("resnet18-360"))).value(),
            infer::TaskKind::kClassification);
  EXPECT_EQ(infer::infer_task_kind(*load(testing::model_path("yolov5s-160"))).value(), infer::TaskKind::kDetection);
}

TEST(StockTask, ClassifiesARealImageWithResnet18) {
  auto model = load(testing::model_path("resnet18-360"));
  infer::StockTask task(*model, infer::TaskKind::kClassification);
  const auto jpeg = image_file_bytes("coedge-street.jpg", testing::test_picture(1280, 720));
  const std::vector<infer::Frame> frames{std::span<const uint8_t>(jpeg)};
  const auto results = task.run(frames);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0].status.ok()) << results[0].status.error().message;
  ASSERT_EQ(results[0].classes.size(), 5u);
  float sum = 0;
  for (const infer::ClassScore& c : results[0].classes) {
    EXPECT_GE(c.class_id, 0);
    EXPECT_LT(c.class_id, 10);
    sum += c.probability;
  }
  EXPECT_GT(sum, 0.0f);
  EXPECT_LE(sum, 1.0001f);
  EXPECT_GE(results[0].classes[0].probability, results[0].classes[1].probability);
}

TEST(StockTask, DetectsOnARealImageWithYolov5s) {
  auto model = load(testing::model_path("yolov5s-160"));
  infer::StockTask task(*model, infer::TaskKind::kDetection);
  task.detection.confidence = 0.0f;  // random weights: keep whatever the head produces
  const cv::Mat picture = testing::test_picture(640, 480);
  const auto png = image_file_bytes("coedge-street.png", picture);
  const std::vector<infer::Frame> frames{std::span<const uint8_t>(png), picture};
  const auto results = task.run(frames);
  ASSERT_EQ(results.size(), 2u);
  for (const infer::FrameResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error().message;
    ASSERT_FALSE(r.detections.empty());
    for (const infer::Detection& d : r.detections) {  // mapped back into the 640x480 frame
      EXPECT_GE(d.box.x, 0);
      EXPECT_GE(d.box.y, 0);
      EXPECT_LE(d.box.x + d.box.width, 640.01f);
      EXPECT_LE(d.box.y + d.box.height, 480.01f);
    }
  }
  // The same picture, decoded from a PNG or given raw, gives the same detections.
  ASSERT_EQ(results[0].detections.size(), results[1].detections.size());
  EXPECT_NEAR(results[0].detections[0].score, results[1].detections[0].score, 1e-5);
}

TEST(StockTask, BadFramesGetTheirOwnErrorsAndTheRestStillRun) {
  auto model = load(testing::fixture_path("tiny-classifier"));
  infer::StockTask task(*model, infer::TaskKind::kClassification);
  const auto good = testing::encode(testing::test_picture(64, 48), ".png");
  std::vector<uint8_t> corrupt = good;
  corrupt.resize(corrupt.size() / 3);
  for (size_t i = 0; i < 8; ++i) corrupt[i] = 0;
  const std::vector<uint8_t> empty;
  const std::vector<infer::Frame> frames{
      std::span<const uint8_t>(good),   std::span<const uint8_t>(corrupt),
      std::span<const uint8_t>(empty),  cv::Mat(),
      cv::Mat(10, 10, CV_8UC4),         cv::Mat(10, 10, CV_8UC1),
      std::span<const uint8_t>(good)};
  const auto results = task.run(frames, 4);
  ASSERT_EQ(results.size(), frames.size());
  int failed = 0;
  for (const infer::FrameResult& r : results) failed += !r.status.ok();
  EXPECT_EQ(failed, 5);
  EXPECT_TRUE(results[0].status.ok());
  EXPECT_TRUE(results[6].status.ok());
  EXPECT_NE(results[1].status.error().message.find("cannot decode"), std::string::npos);
  EXPECT_NE(results[3].status.error().message.find("zero-size"), std::string::npos);
  EXPECT_NE(results[4].status.error().message.find("4 channels"), std::string::npos);
  EXPECT_EQ(results[0].classes.size(), 4u);  // the tiny model has four classes
}

TEST(StockTask, TinyDetectorRunsThroughTheDetectionPath) {
  auto model = load(testing::fixture_path("tiny-detector"));
  ASSERT_EQ(infer::infer_task_kind(*model).value(), infer::TaskKind::kDetection);
  infer::StockTask task(*model, infer::TaskKind::kDetection);
  task.detection.confidence = 0.0f;
  const std::vector<infer::Frame> frames{testing::test_picture(100, 50)};
  const auto results = task.run(frames);
  ASSERT_TRUE(results[0].status.ok()) << results[0].status.error().message;
}

TEST(Profiler, MeasuresEveryBatchSizeAndMakesAValidProfile) {
  auto model = load(testing::fixture_path("tiny-classifier"));
  infer::ProfileOptions options;
  options.runs = 3;
  options.warmup = 1;
  int calls = 0;
  options.progress = [&calls](int, int, const std::string&) { ++calls; };
  auto m = infer::profile_model(*model, "tiny", options);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->batches.size(), 10u);
  for (const infer::BatchTiming& t : m->batches) {
    EXPECT_GT(t.median_ms, 0.0);
    EXPECT_GE(t.p95_ms, t.median_ms);
  }
  EXPECT_EQ(calls, 10 * 4 + 2 * 4);
  EXPECT_GT(m->pre_ms, 0.0);
  std::string notes;
  const ModelProfile p = infer::to_model_profile(m.value(), notes);
  EXPECT_EQ(p.input_bytes, 3 * 32 * 32);
  for (int b = 2; b <= kMaxBatch; ++b) EXPECT_GE(p.exe(b), p.exe(b - 1));
}

TEST(Profiler, AFixedBatchModelCannotBeProfiledOverARange) {
  auto model = load(testing::fixture_path("tiny-fixed-batch"));
  auto m = infer::profile_model(*model, "fixed", infer::ProfileOptions{});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("fixes the batch size to 2"), std::string::npos);
}

}  // namespace
}  // namespace coedge::infer
