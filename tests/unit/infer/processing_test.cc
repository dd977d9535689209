#include <gtest/gtest.h>

#include <cmath>

#include "infer/classification.h"
#include "infer/detection.h"
#include "infer/image.h"
#include "infer_test_util.h"

namespace coedge::infer {
namespace {

TEST(Image, DecodesRealImageFilesAndRejectsCorruptBytes) {
  const cv::Mat picture = testing::test_picture(320, 240);
  for (const char* ext : {".png", ".jpg", ".bmp"}) {
    auto decoded = infer::decode_image(testing::encode(picture, ext));
    ASSERT_TRUE(decoded.ok()) << ext;
    EXPECT_EQ(decoded->size(), picture.size());
    EXPECT_EQ(decoded->channels(), 3);
  }
  std::vector<uint8_t> corrupt = testing::encode(picture, ".png");
  for (size_t i = 0; i < 16; ++i) corrupt[i] = 0x5a;  // the signature is gone
  auto bad = infer::decode_image(corrupt);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("cannot decode"), std::string::npos);
  EXPECT_FALSE(infer::decode_image({}).ok());
}

TEST(Image, ChecksFrameSizeDepthAndChannels) {
  EXPECT_TRUE(infer::check_frame(cv::Mat(4, 4, CV_8UC3)).ok());
  EXPECT_NE(infer::check_frame(cv::Mat()).error().message.find("zero-size"), std::string::npos);
  EXPECT_NE(infer::check_frame(cv::Mat(4, 4, CV_8UC4)).error().message.find("4 channels"), std::string::npos);
  EXPECT_NE(infer::check_frame(cv::Mat(4, 4, CV_8UC1)).error().message.find("1 channels"), std::string::npos);
  EXPECT_NE(infer::check_frame(cv::Mat(4, 4, CV_16UC3)).error().message.find("16-bit"), std::string::npos);
}

TEST(Classification, PreprocessingResizesToRgbChwAndNormalises) {
  cv::Mat red(50, 80, CV_8UC3, cv::Scalar(0, 0, 255));  // BGR
  infer::ClassificationConfig config;
  config.width = 16;
  config.height = 8;
  std::vector<float> out(3 * 16 * 8);
  ASSERT_TRUE(infer::classification_preprocess(red, config, out).ok());
  const float r = (1.0f - 0.485f) / 0.229f, g = (0.0f - 0.456f) / 0.224f, b = (0.0f - 0.406f) / 0.225f;
  for (size_t i = 0; i < 128; ++i) {
    ASSERT_NEAR(out[i], r, 1e-5);        // plane 0 is R
    ASSERT_NEAR(out[128 + i], g, 1e-5);  // plane 1 is G
    ASSERT_NEAR(out[256 + i], b, 1e-5);  // plane 2 is B
  }
  EXPECT_FALSE(infer::classification_preprocess(cv::Mat(), config, out).ok());
}

TEST(Classification, PostprocessingIsSoftmaxTopK) {
  const float logits[] = {1.0f, 3.0f, 2.0f, 3.0f};
  const auto top = infer::classification_postprocess(logits, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].class_id, 1);  // tie with 3: the lower id first
  EXPECT_EQ(top[1].class_id, 3);
  EXPECT_EQ(top[2].class_id, 2);
  const double sum = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(top[0].probability, std::exp(3.0) / sum, 1e-6);
  EXPECT_EQ(infer::classification_postprocess(logits, 10).size(), 4u);
}

TEST(Detection, LetterboxKeepsTheAspectRatioAndPadsWithGrey) {
  cv::Mat white(100, 200, CV_8UC3, cv::Scalar(255, 255, 255));
  std::vector<float> out(3 * 64 * 64);
  auto lb = infer::detection_preprocess(white, 64, 64, out);
  ASSERT_TRUE(lb.ok());
  EXPECT_DOUBLE_EQ(lb->scale, 0.32);  // 200 px -> 64 px
  EXPECT_DOUBLE_EQ(lb->pad_x, 0);
  EXPECT_DOUBLE_EQ(lb->pad_y, 16);    // 100 px -> 32 px, centred in 64
  EXPECT_NEAR(out[0], 114 / 255.0f, 1e-6);             // top padding
  EXPECT_NEAR(out[32 * 64 + 10], 1.0f, 1e-6);          // inside the picture
  EXPECT_NEAR(out[2 * 4096 + 63 * 64], 114 / 255.0f, 1e-6);  // bottom padding, B plane
}

// Rows of (cx, cy, w, h, objectness, class 0, class 1) in model-input pixels.
std::vector<float> rows(std::initializer_list<std::array<float, 7>> list) {
  std::vector<float> out;
  for (const auto& r : list) out.insert(out.end(), r.begin(), r.end());
  return out;
}

TEST(Detection, PostprocessingFiltersSuppressesAndMapsBoxesBack) {
  infer::Letterbox lb;
  lb.scale = 0.32;
  lb.pad_y = 16;
  lb.frame = cv::Size(200, 100);
  const auto data = rows({
      {32, 32, 20, 10, 0.9f, 0.9f, 0.1f},   // kept: score 0.81, class 0
      {33, 32, 20, 10, 0.8f, 0.9f, 0.1f},   // same object, lower score: suppressed
      {33, 32, 20, 10, 0.8f, 0.1f, 0.95f},  // same place, other class: kept
      {10, 40, 6, 6, 0.2f, 0.9f, 0.1f},     // below the confidence threshold
  });
  auto found = infer::detection_postprocess(data, 7, lb, infer::DetectionConfig{});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 2u);
  const infer::Detection& best = (*found)[0];
  EXPECT_EQ(best.class_id, 0);
  EXPECT_NEAR(best.score, 0.81f, 1e-6);
  // x = (32 - 10 - 0) / 0.32, y = (32 - 5 - 16) / 0.32, w = 20 / 0.32, h = 10 / 0.32.
  EXPECT_NEAR(best.box.x, 68.75, 1e-3);
  EXPECT_NEAR(best.box.y, 34.375, 1e-3);
  EXPECT_NEAR(best.box.width, 62.5, 1e-3);
  EXPECT_NEAR(best.box.height, 31.25, 1e-3);
  EXPECT_EQ((*found)[1].class_id, 1);
  EXPECT_NEAR((*found)[1].score, 0.76f, 1e-6);
}

TEST(Detection, BoxesAreClippedToTheFrame) {
  infer::Letterbox lb;
  lb.frame = cv::Size(64, 64);
  const auto data = rows({{60, 60, 20, 20, 0.9f, 0.9f, 0.0f}});
  auto found = infer::detection_postprocess(data, 7, lb, infer::DetectionConfig{});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  // The 20 x 20 box centred at (60, 60) reaches 70 both ways: both edges stop at 64.
  EXPECT_NEAR((*found)[0].box.x, 50.0, 1e-4);
  EXPECT_NEAR((*found)[0].box.y, 50.0, 1e-4);
  EXPECT_NEAR((*found)[0].box.x + (*found)[0].box.width, 64.0, 1e-4);
  EXPECT_NEAR((*found)[0].box.y + (*found)[0].box.height, 64.0, 1e-4);
}

TEST(Detection, AMalformedOutputIsAnError) {
  const std::vector<float> data(10, 0.5f);
  EXPECT_FALSE(infer::detection_postprocess(data, 7, infer::Letterbox{}, infer::DetectionConfig{}).ok());
  EXPECT_FALSE(infer::detection_postprocess(data, 5, infer::Letterbox{}, infer::DetectionConfig{}).ok());
}

}  // namespace
}  // namespace coedge::infer
