#include "infer/backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <opencv2/dnn.hpp>

#include "infer/make_backend.h"
#include "infer_test_util.h"

namespace coedge::infer {
namespace {

std::unique_ptr<infer::Backend> opencv() {
  auto b = infer::make_backend("opencv", infer::BackendOptions{});
  EXPECT_TRUE(b.ok());
  return std::move(b.value());
}

infer::Tensor ramp(std::vector<int64_t> shape, float scale) {
  infer::Tensor t = infer::Tensor::zeros(std::move(shape));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = scale * static_cast<float>(i % 97) / 97.0f;
  return t;
}

// A model that counts its forward passes and remembers the batch each one got.
class CountingModel final : public infer::Model {
 public:
  CountingModel() : Model("counting.onnx", declared()) {}
  int forwards = 0;
  std::vector<int64_t> last_shape;

 protected:
  Result<infer::Tensor> forward(const infer::Tensor& input) override {
    ++forwards;
    last_shape = input.shape;
    return infer::Tensor::zeros({input.shape[0], 4});
  }

 private:
  static infer::ModelInfo declared() {
    infer::ModelInfo info;
    info.inputs.push_back({"x", 1, {-1, 3, 32, 32}});
    return info;
  }
};

TEST(Model, RunsAWholeBatchInOneForwardPass) {
  CountingModel model;
  for (int64_t n : {1, 3, 10}) {
    SCOPED_TRACE(n);
    const int before = model.forwards;
    auto out = model.run(ramp({n, 3, 32, 32}, 1.0f));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(model.forwards, before + 1);
    EXPECT_EQ(model.last_shape, (std::vector<int64_t>{n, 3, 32, 32}));
    EXPECT_EQ(out->shape, (std::vector<int64_t>{n, 4}));
  }
  // A batch that does not match the declared input never reaches the backend.
  EXPECT_FALSE(model.run(infer::Tensor::zeros({2, 3, 64, 64})).ok());
  EXPECT_EQ(model.forwards, 3);
}

TEST(OpencvBackend, RunsAnyBatchSizeGivingOneOutputRowPerItem) {
  auto model = opencv()->load(testing::fixture_path("tiny-classifier"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model.value()->item_shape(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(model.value()->fixed_batch(), -1);
  for (int64_t n : {1, 3, 10}) {
    auto out = model.value()->run(ramp({n, 3, 32, 32}, 1.0f));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(out->shape, (std::vector<int64_t>{n, 4}));
  }
}

TEST(OpencvBackend, AnItemGivesTheSameOutputAloneOrInABatch) {
  auto model = opencv()->load(testing::fixture_path("tiny-classifier"));
  ASSERT_TRUE(model.ok());
  infer::Tensor batch = ramp({3, 3, 32, 32}, 1.0f);
  for (float& v : batch.item(1)) v *= -0.5f;  // make the items differ
  infer::Tensor alone = infer::Tensor::zeros({1, 3, 32, 32});
  std::copy(batch.item(1).begin(), batch.item(1).end(), alone.data.begin());
  auto a = model.value()->run(batch);
  auto b = model.value()->run(alone);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(a->item(1)[i], b->item(0)[i], 1e-4);
  EXPECT_NE(a->item(0)[0], a->item(1)[0]);
}

TEST(OpencvBackend, AWrongInputShapeIsAnErrorNamingTheModelAndTheShapes) {
  auto model = opencv()->load(testing::fixture_path("tiny-classifier"));
  ASSERT_TRUE(model.ok());
  auto out = model.value()->run(infer::Tensor::zeros({2, 3, 64, 64}));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("tiny-classifier.onnx"), std::string::npos);
  EXPECT_NE(out.error().message.find("[2, 3, 64, 64]"), std::string::npos);
  EXPECT_NE(out.error().message.find("[N, 3, 32, 32]"), std::string::npos);
  infer::Tensor short_data = infer::Tensor::zeros({1, 3, 32, 32});
  short_data.data.resize(10);
  EXPECT_FALSE(model.value()->run(short_data).ok());
}

TEST(OpencvBackend, AFixedBatchIsEnforced) {
  auto model = opencv()->load(testing::fixture_path("tiny-fixed-batch"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model.value()->fixed_batch(), 2);
  EXPECT_TRUE(model.value()->run(infer::Tensor::zeros({2, 3, 32, 32})).ok());
  EXPECT_FALSE(model.value()->run(infer::Tensor::zeros({3, 3, 32, 32})).ok());
}

// Each item of a batch through `model` against the same item alone through raw OpenCV at
// batch 1 (which runs these fixtures): the largest difference over the items.
double worst_item_difference(infer::Model& model, cv::dnn::Net& reference, int64_t batch) {
  infer::Tensor input = ramp({batch, 3, 32, 32}, 1.0f);
  for (int64_t i = 0; i < batch; ++i)
    for (float& v : input.item(i)) v *= 1.0f - 0.4f * static_cast<float>(i);  // items differ
  auto out = model.run(input);
  EXPECT_TRUE(out.ok()) << out.error().message;
  if (!out.ok()) return 1e30;
  double worst = 0;
  for (int64_t i = 0; i < batch; ++i) {
    int dims[] = {1, 3, 32, 32};
    cv::Mat one(4, dims, CV_32F, input.item(i).data());
    reference.setInput(one);
    const cv::Mat alone = reference.forward();
    for (size_t j = 0; j < out->item(i).size(); ++j)
      worst = std::max(worst, static_cast<double>(std::abs(alone.ptr<float>()[j] - out->item(i)[j])));
  }
  return worst;
}

TEST(OpencvBackend, LoadsWhatTorchOnnxExportWritesIdentityNodesOnInitializers) {
  auto model = opencv()->load(testing::fixture_path("tiny-identity"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  // tiny-identity is tiny-classifier with its weights behind Identity nodes.
  cv::dnn::Net reference = cv::dnn::readNetFromONNX(testing::fixture_path("tiny-classifier"));
  for (int64_t batch : {1, 2, 4}) EXPECT_EQ(worst_item_difference(*model.value(), reference, batch), 0.0) << batch;
}

TEST(OpencvBackend, ASqueezeAndExcitationBlockRunsAtEveryBatchSize) {
  // The reason for the load-time fallback: OpenCV 4.6 imports this block with a dynamic
  // batch as a Scale layer that fails at batch 2.
  cv::dnn::Net raw = cv::dnn::readNetFromONNX(testing::fixture_path("tiny-se"));
  int dims[] = {2, 3, 32, 32};
  raw.setInput(cv::Mat(4, dims, CV_32F, cv::Scalar(0.5)));
  EXPECT_THROW(raw.forward(), cv::Exception);

  auto model = opencv()->load(testing::fixture_path("tiny-se"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model.value()->fixed_batch(), -1);
  cv::dnn::Net reference = cv::dnn::readNetFromONNX(testing::fixture_path("tiny-se"));
  int one[] = {1, 3, 32, 32};
  reference.setInput(cv::Mat(4, one, CV_32F, cv::Scalar(0.5)));
  ASSERT_GT(cv::norm(reference.forward(), cv::NORM_INF), 1e-3);  // outputs that can differ
  for (int64_t batch : {1, 2, 3, 4, 7}) {
    SCOPED_TRACE(batch);
    EXPECT_LE(worst_item_difference(*model.value(), reference, batch), 1e-5);
  }
}

TEST(OpencvBackend, ALayerThatFailsInItsForwardPassIsNamedAtLoad) {
  auto model = opencv()->load(testing::fixture_path("tiny-bad-gemm"));
  ASSERT_FALSE(model.ok());
  const auto& m = model.error().message;
  EXPECT_NE(m.find("tiny-bad-gemm.onnx: OpenCV DNN 4.6 cannot run operator Gemm (layer logits"), std::string::npos) << m;
  EXPECT_NE(m.find("at batch 1: "), std::string::npos) << m;
  EXPECT_NE(m.find("tiny-bad-gemm.pt on the torch backend (backend: torch), or export without Gemm"), std::string::npos)
      << m;
}

TEST(OpencvBackend, AnUnsupportedOperatorFailsAtLoadWithTheFileAndTheReason) {
  auto model = opencv()->load(testing::fixture_path("tiny-unsupported"));
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("tiny-unsupported.onnx"), std::string::npos);
  EXPECT_NE(model.error().message.find("cannot run operator NoSuchOperator (layer "), std::string::npos)
      << model.error().message;
  EXPECT_NE(model.error().message.find("tiny-unsupported.pt on the torch backend"), std::string::npos)
      << model.error().message;
}

TEST(OpencvBackend, MissingAndNonOnnxFilesAreErrors) {
  auto missing = opencv()->load("/no/such.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/no/such.onnx"), std::string::npos);
  const auto path = std::filesystem::temp_directory_path() /
                    ("coedge-not-a-model-" + std::to_string(::getpid()) + ".onnx");
  std::ofstream(path) << "definitely not protobuf";
  auto garbage = opencv()->load(path.string());
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("not an ONNX"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(ArgmaxChannels, PicksTheHighestChannelPerPixelWithTiesToTheLowerId) {
  Tensor logits = Tensor::zeros({2, 3, 1, 2});
  // item 0: pixel 0 -> class 2, pixel 1 -> tie of 0 and 1 (all zero) -> 0.
  logits.data[2 * 2 + 0] = 5.0f;
  // item 1: pixel 0 -> class 1, pixel 1 -> class 1 and 2 tie at 3 -> 1.
  logits.data[6 + 1 * 2 + 0] = 1.0f;
  logits.data[6 + 1 * 2 + 1] = 3.0f;
  logits.data[6 + 2 * 2 + 1] = 3.0f;
  auto labels = argmax_channels(logits);
  ASSERT_TRUE(labels.ok()) << labels.error().message;
  EXPECT_EQ(labels->shape, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(labels->data, (std::vector<uint8_t>{2, 0, 1, 1}));
  EXPECT_EQ(labels->item(1)[0], 1);
}

TEST(ArgmaxChannels, RefusesWhatIsNotAClassMap) {
  EXPECT_FALSE(argmax_channels(Tensor::zeros({2, 10})).ok());
  auto too_many = argmax_channels(Tensor::zeros({1, 257, 1, 1}));
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("[1, 257, 1, 1]"), std::string::npos) << too_many.error().message;
}

TEST(Backend, UnknownNameIsAnError) {
  auto b = infer::make_backend("tensorrt", infer::BackendOptions{});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("tensorrt"), std::string::npos);
}

}  // namespace
}  // namespace coedge::infer
