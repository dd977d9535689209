// The stock worker's post-processing behind the SDK's callbacks (node/stock_worker.h),
// called as the SDK calls it: the task's thresholds and the model's class names from
// coedge_task_info reach the results (name next to class id, confidence, nms_iou), the
// defaults hold when they are not set, and a list too long for the result buffer is cut
// with "truncated":true.
#include "node/stock_worker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace coedge::node
