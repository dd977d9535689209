#include "infer/onnx_info.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "infer_test_util.h"

namespace coedge::infer {
namespace {

TEST(OnnxInfo, ReadsInputAndOutputShapesWithADynamicBatch) {
  auto info = infer::read_onnx_info(testing::fixture_path("tiny-classifier"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  ASSERT_EQ(info->inputs.size(), 1u);  // the weights are initializers, not inputs
  EXPECT_EQ(info->inputs[0].name, "images");
  EXPECT_EQ(info->inputs[0].element_type, 1);
  EXPECT_EQ(info->inputs[0].shape, (std::vector<int64_t>{-1, 3, 32, 32}));
  ASSERT_EQ(info->outputs.size(), 1u);
  EXPECT_EQ(info->outputs[0].shape, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(info->producer, "coedge-gen-models");
}

TEST(OnnxInfo, ReadsAFixedBatchAndTheRealModels) {
  auto fixed = infer::read_onnx_info(testing::fixture_path("tiny-fixed-batch"));
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->inputs[0].shape[0], 2);
  auto yolo = infer::read_onnx_info(testing::model_path("yolov5s-640"));
  ASSERT_TRUE(yolo.ok());
  EXPECT_EQ(yolo->inputs[0].shape, (std::vector<int64_t>{-1, 3, 640, 640}));
  EXPECT_EQ(yolo->outputs[0].shape, (std::vector<int64_t>{-1, 25200, 85}));  // YOLOv5's layout
}

TEST(OnnxInfo, RejectsWhatIsNotOnnx) {
  auto text = infer::parse_onnx_info("name: this is yaml, not onnx\n", "x.onnx");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("x.onnx"), std::string::npos);
  EXPECT_NE(text.error().message.find("not an ONNX"), std::string::npos);
  EXPECT_FALSE(infer::parse_onnx_info("", "empty.onnx").ok());
  auto missing = infer::read_onnx_info("/no/such/model.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/no/such/model.onnx"), std::string::npos);
  // Files are mapped: what cannot be (a folder, an empty file) is still a clear error.
  auto folder = infer::read_onnx_info("/tmp");
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.error().message.find("/tmp: not a regular file"), std::string::npos) << folder.error().message;
  const std::string empty = ::testing::TempDir() + "/coedge-empty.onnx";
  std::ofstream(empty).close();
  auto nothing = infer::read_onnx_info(empty);
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().message.find("not an ONNX"), std::string::npos) << nothing.error().message;
}

TEST(OnnxInfo, RejectsATruncatedFile) {
  std::ifstream in(testing::fixture_path("tiny-classifier"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_FALSE(infer::parse_onnx_info(bytes.substr(0, bytes.size() / 2), "cut.onnx").ok());
}

}  // namespace
}  // namespace coedge::infer
