#include "infer/detection.h"

#include <algorithm>
#include <map>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "infer/image.h"

namespace coedge::infer {

namespace {

// Greedy non-maximum suppression, the rule of OpenCV's cv::dnn::NMSBoxes (eta 1, no
// top-k): candidates scoring above `threshold`, best first (ties in input order), each
// kept unless it overlaps a kept box by more than `max_iou` (intersection over union).
// Written here so that a worker links OpenCV's core and imgproc only, not its DNN module
// and the libraries that come with it (a worker is one of many small processes).
std::vector<size_t> suppress_overlaps(const std::vector<cv::Rect2d>& boxes, const std::vector<float>& scores,
                                      float threshold, float max_iou) {
  std::vector<std::pair<float, size_t>> order;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] > threshold) order.emplace_back(scores[i], i);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<size_t> kept;
  for (const auto& [score, i] : order) {
    const bool keep = std::all_of(kept.begin(), kept.end(), [&](size_t k) {
      return 1.f - static_cast<float>(cv::jaccardDistance(boxes[i], boxes[k])) <= max_iou;
    });
    if (keep) kept.push_back(i);
  }
  return kept;
}

}  // namespace

Result<Letterbox> detection_preprocess(const cv::Mat& frame, int width, int height,
                                       std::span<float> out) {
  if (Status st = check_frame(frame); !st.ok()) return st.error();
  const size_t plane = static_cast<size_t>(width) * static_cast<size_t>(height);
  COEDGE_CHECK(out.size() == 3 * plane);
  Letterbox lb;
  lb.frame = frame.size();
  lb.scale = std::min(static_cast<double>(width) / frame.cols, static_cast<double>(height) / frame.rows);
  const int w = std::max(1, static_cast<int>(std::lround(frame.cols * lb.scale)));
  const int h = std::max(1, static_cast<int>(std::lround(frame.rows * lb.scale)));
  lb.pad_x = (width - w) / 2;
  lb.pad_y = (height - h) / 2;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(114, 114, 114));
  cv::Mat resized;
  cv::resize(frame, resized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  resized.copyTo(canvas(cv::Rect(static_cast<int>(lb.pad_x), static_cast<int>(lb.pad_y), w, h)));
  for (int y = 0; y < height; ++y) {
    const auto* row = canvas.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      const size_t at = static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x);
      for (int c = 0; c < 3; ++c) out[static_cast<size_t>(c) * plane + at] = row[x][2 - c] / 255.0f;
    }
  }
  return lb;
}

Result<std::vector<Detection>> detection_postprocess(std::span<const float> rows, int row_size,
                                                     const Letterbox& lb,
                                                     const DetectionConfig& config) {
  if (row_size < 6 || rows.size() % static_cast<size_t>(row_size) != 0) {
    return Error{ErrorCode::kInvalidInput,
                 "detection output of " + std::to_string(rows.size()) + " values is not rows of " +
                     std::to_string(row_size) + " (cx, cy, w, h, objectness, classes...)"};
  }
  // Candidates per class, so that NMS never suppresses a box of another class.
  std::map<int, std::vector<cv::Rect2d>> boxes;
  std::map<int, std::vector<float>> scores;
  const size_t count = rows.size() / static_cast<size_t>(row_size);
  for (size_t r = 0; r < count; ++r) {
    const float* row = rows.data() + r * static_cast<size_t>(row_size);
    const float objectness = row[4];
    if (objectness < config.confidence) continue;  // cannot pass whatever its class
    const float* best = std::max_element(row + 5, row + row_size);
    const float score = objectness * *best;
    if (score < config.confidence) continue;
    const int cls = static_cast<int>(best - (row + 5));
    // Centre/size in input pixels -> corner/size in frame pixels.
    const double x = (row[0] - row[2] / 2 - lb.pad_x) / lb.scale;
    const double y = (row[1] - row[3] / 2 - lb.pad_y) / lb.scale;
    boxes[cls].emplace_back(x, y, row[2] / lb.scale, row[3] / lb.scale);
    scores[cls].push_back(score);
  }
  std::vector<Detection> out;
  const cv::Rect2d frame(0, 0, lb.frame.width, lb.frame.height);
  for (const auto& [cls, class_boxes] : boxes) {
    for (size_t i : suppress_overlaps(class_boxes, scores[cls], config.confidence, config.nms_iou)) {
      const cv::Rect2d clipped = class_boxes[i] & frame;
      if (clipped.area() <= 0) continue;
      out.push_back({cv::Rect2f(clipped), cls, scores[cls][i]});
    }
  }
  std::sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.class_id != b.class_id) return a.class_id < b.class_id;
    if (a.box.x != b.box.x) return a.box.x < b.box.x;
    return a.box.y < b.box.y;
  });
  if (out.size() > static_cast<size_t>(config.max_detections))
    out.resize(static_cast<size_t>(config.max_detections));
  return out;
}

}  // namespace coedge::infer
