// Stock classification pre- and post-processing.
//  pre:  BGR frame -> resize to the model's input -> RGB -> scale to [0, 1] -> normalise
//        with per-channel mean and std (ImageNet's by default) -> CHW float32.
//  post: logits -> softmax -> the top-k classes by probability (ties: lower class id).
#pragma once

#include <array>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "core/result.h"

namespace coedge::infer {

struct ClassificationConfig {
  int width = 224;
  int height = 224;
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};  // RGB
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
  int top_k = 5;
};

// Writes 3 * height * width floats to `out`. Errors come from check_frame.
Status classification_preprocess(const cv::Mat& frame, const ClassificationConfig& config,
                                  std::span<float> out);

struct ClassScore {
  int class_id = 0;
  float probability = 0;
};

std::vector<ClassScore> classification_postprocess(std::span<const float> logits, int top_k);

}  // namespace coedge::infer
