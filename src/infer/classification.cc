#include "infer/classification.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "infer/image.h"

namespace coedge::infer {

Status classification_preprocess(const cv::Mat& frame, const ClassificationConfig& config,
                                 std::span<float> out) {
  if (Status st = check_frame(frame); !st.ok()) return st;
  const size_t plane = static_cast<size_t>(config.width) * static_cast<size_t>(config.height);
  COEDGE_CHECK(out.size() == 3 * plane);
  cv::Mat resized;
  cv::resize(frame, resized, cv::Size(config.width, config.height), 0, 0, cv::INTER_LINEAR);
  for (int y = 0; y < config.height; ++y) {
    const auto* row = resized.ptr<cv::Vec3b>(y);
    for (int x = 0; x < config.width; ++x) {
      const size_t at = static_cast<size_t>(y) * static_cast<size_t>(config.width) + static_cast<size_t>(x);
      for (int c = 0; c < 3; ++c) {  // output channel c is RGB; the frame is BGR
        const float v = row[x][2 - c] / 255.0f;
        out[static_cast<size_t>(c) * plane + at] = (v - config.mean[static_cast<size_t>(c)]) /
                                                   config.std[static_cast<size_t>(c)];
      }
    }
  }
  return Ok{};
}

std::vector<ClassScore> classification_postprocess(std::span<const float> logits, int top_k) {
  std::vector<ClassScore> scores;
  if (logits.empty()) return scores;
  const float top = *std::max_element(logits.begin(), logits.end());  // for a stable softmax
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - top));
  for (size_t i = 0; i < logits.size(); ++i)
    scores.push_back({static_cast<int>(i),
                      static_cast<float>(std::exp(static_cast<double>(logits[i] - top)) / sum)});
  const auto k = static_cast<size_t>(std::clamp<int>(top_k, 0, static_cast<int>(scores.size())));
  std::partial_sort(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(k), scores.end(),
                    [](const ClassScore& a, const ClassScore& b) {
                      return a.probability != b.probability ? a.probability > b.probability
                                                            : a.class_id < b.class_id;
                    });
  scores.resize(k);
  return scores;
}

}  // namespace coedge::infer
