// Parity of the two backends on the same weights: each tiny torch fixture
// (tools/gen_torch_fixtures.py) as TorchScript on torch and as ONNX, exported from the very
// same seeded module, on OpenCV DNN; one seeded batch of 3 through both.
//  - every element: |a - b| <= 1e-3 * max|a| + 1e-4, a = torch (the tolerance; the
//    fixtures' outputs are of order 1, so the relative term is what binds);
//  - classification: the same top-1 class for every item;
//  - detection: the same boxes after detection_postprocess (count, class, IoU >= 0.99);
//  - segmentation: the same class for every pixel (torch: argmax in its graph; OpenCV:
//    argmax_channels over its logits).
// A failure prints the worst element: its index and both values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include "infer/detection.h"
#include "infer/make_backend.h"
#include "infer/parity.h"

namespace coedge::infer {
namespace {

std::string fixture(const std::string& name, const std::string& ext) {
  return std::string(COEDGE_BINARY_DIR) + "/models/fixtures/torch/" + name + ext;
}

Tensor seeded_batch(int64_t n) {
  Tensor t = Tensor::zeros({n, 3, 32, 32});
  std::mt19937 rng(20240613);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& v : t.data) v = u(rng);
  return t;
}

struct Pair {
  std::unique_ptr<Model> torch, opencv;
};

Pair load_both(const std::string& name) {
  BackendOptions options;
  options.threads = 2;
  options.max_batch = 3;
  Pair p;
  for (const auto& [backend_name, ext, slot] :
       {std::tuple{"torch", ".pt", &p.torch}, std::tuple{"opencv", ".onnx", &p.opencv}}) {
    auto backend = make_backend(backend_name, options);
    EXPECT_TRUE(backend.ok()) << backend.error().message;
    if (!backend.ok()) continue;
    auto model = (*backend)->load(fixture(name, ext));
    EXPECT_TRUE(model.ok()) << model.error().message;
    if (model.ok()) *slot = std::move(model.value());
  }
  return p;
}

// The elementwise tolerance (infer/parity.h; a non-finite value fails); reports
// the worst element.
void expect_close(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape, b.shape) << what;
  const ParityReport r = compare_outputs(a.data, b.data);
  std::cout << what << ": max|a-b| = " << r.max_diff << ", tolerance = " << r.tolerance << ", max|a| = " << r.max_abs
            << '\n';
  EXPECT_TRUE(r.pass()) << what << ": " << r.over << " elements beyond the tolerance; worst element " << r.worst
                        << " of " << shape_string(a.shape) << ": torch " << a.data[r.worst] << ", opencv "
                        << b.data[r.worst] << " (|a-b| " << r.max_diff << " > 1e-3*max|a| + 1e-4 = " << r.tolerance
                        << ")";
  EXPECT_GT(r.max_abs, 0.1) << what << ": outputs near 0 make the tolerance meaningless";
}

TEST(BackendParity, Classifier) {
  Pair p = load_both("tiny-classifier");
  ASSERT_TRUE(p.torch && p.opencv);
  const Tensor batch = seeded_batch(3);
  auto a = p.torch->run(batch);
  auto b = p.opencv->run(batch);
  ASSERT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.error().message : a.error().message);
  expect_close(*a, *b, "tiny-classifier");
  for (int64_t i = 0; i < 3; ++i) {
    const auto ia = a->item(i), ib = b->item(i);
    EXPECT_EQ(std::max_element(ia.begin(), ia.end()) - ia.begin(), std::max_element(ib.begin(), ib.end()) - ib.begin())
        << "top-1 of item " << i;
  }
}

TEST(BackendParity, DetectorBoxesAfterNms) {
  Pair p = load_both("tiny-detector");
  ASSERT_TRUE(p.torch && p.opencv);
  const Tensor batch = seeded_batch(3);
  auto a = p.torch->run(batch);
  auto b = p.opencv->run(batch);
  ASSERT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.error().message : a.error().message);
  expect_close(*a, *b, "tiny-detector");
  Letterbox identity;
  identity.frame = cv::Size(32, 32);
  size_t total = 0;
  for (int64_t i = 0; i < 3; ++i) {
    auto da = detection_postprocess(a->item(i), 6, identity, DetectionConfig{});
    auto db = detection_postprocess(b->item(i), 6, identity, DetectionConfig{});
    ASSERT_TRUE(da.ok() && db.ok());
    ASSERT_EQ(da->size(), db->size()) << "detections of item " << i;
    total += da->size();
    for (size_t k = 0; k < da->size(); ++k) {
      const auto& x = (*da)[k];
      const auto& y = (*db)[k];
      EXPECT_EQ(x.class_id, y.class_id) << "item " << i << " box " << k;
      const float inter = (x.box & y.box).area();
      const float iou = inter / (x.box.area() + y.box.area() - inter);
      EXPECT_GE(iou, 0.99f) << "item " << i << " box " << k;
    }
  }
  std::cout << "tiny-detector: " << total << " boxes after NMS, the same on both\n";
  EXPECT_GT(total, 0u);  // boxes to compare, not two empty lists
}

TEST(BackendParity, SegmenterLabels) {
  Pair p = load_both("tiny-segmenter");
  ASSERT_TRUE(p.torch && p.opencv);
  const Tensor batch = seeded_batch(3);
  auto a = p.torch->run(batch);
  auto b = p.opencv->run(batch);
  ASSERT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.error().message : a.error().message);
  expect_close(*a, *b, "tiny-segmenter");
  auto la = p.torch->run_argmax(batch);    // torch: argmax in the graph
  auto lb = p.opencv->run_argmax(batch);   // OpenCV: argmax_channels over its logits
  ASSERT_TRUE(la.ok() && lb.ok());
  ASSERT_EQ(la->shape, lb->shape);
  size_t differ = 0, first = 0;
  for (size_t i = la->data.size(); i-- > 0;)
    if (la->data[i] != lb->data[i]) ++differ, first = i;
  EXPECT_EQ(differ, 0u) << "pixels with different classes; first at " << first << ": torch "
                        << int(la->data[first]) << ", opencv " << int(lb->data[first]);
}

}  // namespace
}  // namespace coedge::infer
