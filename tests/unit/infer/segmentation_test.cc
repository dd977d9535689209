// The segmentation task type: which outputs are segmentation (and the errors for those
// that are almost), the class areas of a label map, and the tiny-segmenter fixture
// ([N, 3, 32, 32] -> [N, 4, 32, 32]) through the OpenCV backend: run_argmax is the argmax
// of run's logits, the stock task reports class areas of a real picture, and the
// profiler times and post-processes it as the server runs it.
#include "infer/segmentation.h"

#include <gtest/gtest.h>

#include <numeric>

#include "infer/make_backend.h"
#include "infer/profiler.h"
#include "infer/stock_task.h"
#include "infer_test_util.h"

namespace coedge::infer {
namespace {

ModelInfo info_with_output(std::vector<int64_t> shape, std::string hint = "") {
  ModelInfo info;
  info.inputs.push_back({"images", 1, {-1, 3, 32, 32}});
  info.outputs.push_back({"out", 1, std::move(shape)});
  info.kind_hint = std::move(hint);
  return info;
}

TEST(Segmentation, AnOutputOfTwoTo255ClassesPerPixelIsSegmentation) {
  EXPECT_EQ(segmentation_classes(std::vector<int64_t>{-1, 21, 520, 520}), 21);
  EXPECT_EQ(segmentation_classes(std::vector<int64_t>{4, 2, 8, 8}), 2);
  EXPECT_EQ(segmentation_classes(std::vector<int64_t>{-1, 255, 8, 8}), 255);
  EXPECT_EQ(segmentation_classes(std::vector<int64_t>{-1, 1, 8, 8}), 0);    // one class says nothing
  EXPECT_EQ(segmentation_classes(std::vector<int64_t>{-1, 256, 8, 8}), 0);  // a byte holds the id
  EXPECT_EQ(segmentation_classes(std::vector<int64_t>{-1, 21, -1, -1}), 0);  // H, W must be fixed
  EXPECT_EQ(segmentation_classes(std::vector<int64_t>{-1, 1000}), 0);
  // Declared, not guessed: the same output without the declaration is not segmentation
  // (a heatmap or feature map that a worker of its own reads as floats).
  EXPECT_TRUE(is_segmentation(info_with_output({-1, 21, 64, 64}, "segmentation")));
  EXPECT_FALSE(is_segmentation(info_with_output({-1, 21, 64, 64})));
  EXPECT_FALSE(is_segmentation(info_with_output({-1, 1000}, "segmentation")));
}

TEST(Segmentation, TaskKindByOutputAndHint) {
  EXPECT_EQ(infer_task_kind("m.onnx", info_with_output({-1, 21, 64, 64}, "segmentation")).value(),
            TaskKind::kSegmentation);
  EXPECT_EQ(infer_task_kind("m.pt", info_with_output({-1, 21, 64, 64}, "segmentation")).value(),
            TaskKind::kSegmentation);
  // Undeclared, a 4-D output is no stock kind (a worker of its own may still serve it).
  auto undeclared = infer_task_kind("m.onnx", info_with_output({-1, 21, 64, 64}));
  ASSERT_FALSE(undeclared.ok());
  EXPECT_NE(undeclared.error().message.find("coedge.kind = segmentation"), std::string::npos)
      << undeclared.error().message;
  EXPECT_EQ(infer_task_kind("m.onnx", info_with_output({-1, 1000})).value(), TaskKind::kClassification);
  EXPECT_EQ(infer_task_kind("m.onnx", info_with_output({-1, 300, 85})).value(), TaskKind::kDetection);
  EXPECT_EQ(to_string(TaskKind::kSegmentation), "segmentation");

  auto too_many = infer_task_kind("m.onnx", info_with_output({-1, 300, 64, 64}, "segmentation"));
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("m.onnx: its metadata says segmentation, but output [N, 300, 64, 64]"),
            std::string::npos)
      << too_many.error().message;
  EXPECT_NE(too_many.error().message.find("2 to 255 classes"), std::string::npos) << too_many.error().message;

  // Metadata that says segmentation over an output that is not: the file is wrong.
  auto lying = infer_task_kind("m.pt", info_with_output({-1, 1000}, "segmentation"));
  ASSERT_FALSE(lying.ok());
  EXPECT_NE(lying.error().message.find("m.pt: its metadata says segmentation, but output [N, 1000]"),
            std::string::npos)
      << lying.error().message;

  auto neither = infer_task_kind("m.onnx", info_with_output({-1, 2, 2, 2, 2}));
  ASSERT_FALSE(neither.ok());
  EXPECT_NE(neither.error().message.find("[N, C, H, W] (segmentation)"), std::string::npos)
      << neither.error().message;
}

TEST(Segmentation, ClassAreasAreFractionsLargestFirstAboveTheThreshold) {
  // 1000 pixels: class 3 on 600, class 0 on 300, class 7 on 95, class 9 on 4 (0.4%),
  // class 200 on 1 (0.1%).
  std::vector<uint8_t> labels;
  labels.insert(labels.end(), 300, 0);
  labels.insert(labels.end(), 95, 7);
  labels.insert(labels.end(), 600, 3);
  labels.insert(labels.end(), 4, 9);
  labels.insert(labels.end(), 1, 200);
  const auto areas = class_areas(labels);
  ASSERT_EQ(areas.size(), 3u);
  EXPECT_EQ(areas[0].class_id, 3);
  EXPECT_EQ(areas[0].pixels, 600u);
  EXPECT_DOUBLE_EQ(areas[0].fraction, 0.6);
  EXPECT_EQ(areas[1].class_id, 0);
  EXPECT_DOUBLE_EQ(areas[1].fraction, 0.3);
  EXPECT_EQ(areas[2].class_id, 7);
  EXPECT_DOUBLE_EQ(areas[2].fraction, 0.095);

  // Without a threshold every class is there; 0.5% exactly is kept.
  EXPECT_EQ(class_areas(labels, 0).size(), 5u);
  const std::vector<uint8_t> edge = [] {
    std::vector<uint8_t> v(200, 1);
    v[0] = 2;  // 1 of 200 = 0.5%
    return v;
  }();
  ASSERT_EQ(class_areas(edge).size(), 2u);
  EXPECT_EQ(class_areas(edge)[1].class_id, 2);

  // Equal areas: the lower class id first.
  const std::vector<uint8_t> tie{5, 5, 1, 1};
  ASSERT_EQ(class_areas(tie).size(), 2u);
  EXPECT_EQ(class_areas(tie)[0].class_id, 1);
  EXPECT_TRUE(class_areas({}).empty());
}

std::unique_ptr<Model> load_segmenter() {
  auto backend = make_backend("opencv", BackendOptions{});
  EXPECT_TRUE(backend.ok());
  auto model = (*backend)->load(testing::fixture_path("tiny-segmenter"));
  EXPECT_TRUE(model.ok()) << (model.ok() ? "" : model.error().message);
  return model.ok() ? std::move(*model) : nullptr;
}

TEST(Segmentation, TheServersArgmaxIsTheArgmaxOfTheLogits) {
  auto model = load_segmenter();
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(infer_task_kind(*model).value(), TaskKind::kSegmentation);
  Tensor input = Tensor::zeros({3, 3, 32, 32});
  for (size_t i = 0; i < input.data.size(); ++i) input.data[i] = static_cast<float>((i * 7919) % 255) / 64.0f - 2;
  auto logits = model->run(input);
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  ASSERT_EQ(logits->shape, (std::vector<int64_t>{3, 4, 32, 32}));
  auto labels = model->run_argmax(input);
  ASSERT_TRUE(labels.ok()) << labels.error().message;
  ASSERT_EQ(labels->shape, (std::vector<int64_t>{3, 32, 32}));
  std::vector<int> seen(4, 0);
  const size_t plane = 32 * 32;
  for (int64_t n = 0; n < 3; ++n) {
    const auto item = logits->item(n);
    for (size_t p = 0; p < plane; ++p) {
      int best = 0;
      for (int c = 1; c < 4; ++c)
        if (item[c * plane + p] > item[best * plane + p]) best = c;
      ASSERT_EQ(labels->item(n)[p], best) << "item " << n << " pixel " << p;
      ++seen[static_cast<size_t>(best)];
    }
  }
  // The fixture's logits are of order 1: more than one class wins somewhere.
  EXPECT_GE(std::count_if(seen.begin(), seen.end(), [](int n) { return n > 0; }), 2);
}

TEST(Segmentation, TheStockTaskReportsClassAreasOfAPicture) {
  auto model = load_segmenter();
  ASSERT_NE(model, nullptr);
  StockTask task(*model, TaskKind::kSegmentation);
  const cv::Mat picture = testing::test_picture(320, 240);
  const std::vector<Frame> frames{picture, cv::Mat(), picture};  // the middle one is bad
  const auto results = task.run(frames);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].status.ok()) << results[0].status.error().message;
  EXPECT_FALSE(results[1].status.ok());
  ASSERT_TRUE(results[2].status.ok());
  ASSERT_FALSE(results[0].areas.empty());
  double sum = 0;
  for (size_t i = 0; i < results[0].areas.size(); ++i) {
    const ClassArea& a = results[0].areas[i];
    EXPECT_GE(a.class_id, 0);
    EXPECT_LT(a.class_id, 4);
    EXPECT_GE(a.fraction, kMinAreaFraction);
    EXPECT_DOUBLE_EQ(a.fraction, static_cast<double>(a.pixels) / (32 * 32));
    if (i > 0) {
      EXPECT_LE(a.pixels, results[0].areas[i - 1].pixels);
    }
    sum += a.fraction;
  }
  EXPECT_LE(sum, 1.0 + 1e-9);
  EXPECT_GT(sum, 0.95);  // at most 4 classes below 0.5% each are left out
  // The same picture gives the same areas, whatever its place in the batch.
  ASSERT_EQ(results[2].areas.size(), results[0].areas.size());
  for (size_t i = 0; i < results[0].areas.size(); ++i) EXPECT_EQ(results[2].areas[i].pixels, results[0].areas[i].pixels);
}

// The loaded segmenter, counting which of its passes the profiler runs.
class CountingSegmenter final : public Model {
 public:
  explicit CountingSegmenter(Model& inner) : Model(inner.path(), inner.info()), inner_(inner) {}
  int forwards = 0, argmax_passes = 0;

 protected:
  Result<Tensor> forward(const Tensor& input) override {
    ++forwards;
    return inner_.run(input);
  }
  Result<LabelMap> forward_argmax(const Tensor& input) override {
    ++argmax_passes;
    return inner_.run_argmax(input);
  }

 private:
  Model& inner_;
};

TEST(Segmentation, TheProfilerTimesTheArgmaxPassAndClassAreas) {
  auto loaded = load_segmenter();
  ASSERT_NE(loaded, nullptr);
  CountingSegmenter model(*loaded);
  ProfileOptions options;
  options.min_batch = 1;
  options.max_batch = 2;
  options.runs = 1;
  options.warmup = 0;
  auto m = profile_model(model, "tiny-segmenter", options);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, TaskKind::kSegmentation);
  ASSERT_EQ(m->batches.size(), 2u);
  EXPECT_EQ(m->batches[0].batch, 1);
  EXPECT_EQ(m->batches[1].batch, 2);
  // What the server runs: one argmax pass per timed batch, and one more for the output
  // whose class areas are timed; never the float pass.
  EXPECT_EQ(model.argmax_passes, 3);
  EXPECT_EQ(model.forwards, 0);
}

}  // namespace
}  // namespace coedge::infer
