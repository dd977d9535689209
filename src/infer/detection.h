// Stock detection pre- and post-processing for YOLOv5-style detectors.
//  pre:  BGR frame -> letterbox (resize keeping the aspect ratio, pad with grey 114 to the
//        model's input, centred) -> RGB -> scale to [0, 1] -> CHW float32.
//  post: the model's rows [cx, cy, w, h, objectness, class scores...] in input pixels ->
//        score = objectness * best class score -> confidence filter -> per-class NMS
//        (the rule of cv::dnn::NMSBoxes) -> boxes mapped back to the original frame and clipped to it.
#pragma once

#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "core/result.h"

namespace coedge::infer {

// How a frame was placed in the model's input, to undo it on the boxes.
struct Letterbox {
  double scale = 1;  // input pixels per frame pixel
  double pad_x = 0;  // left padding, input pixels
  double pad_y = 0;  // top padding
  cv::Size frame;    // the original frame's size
};

// Writes 3 * height * width floats to `out`.
Result<Letterbox> detection_preprocess(const cv::Mat& frame, int width, int height,
                                       std::span<float> out);

struct DetectionConfig {
  float confidence = 0.25f;  // keep rows with objectness * class score >= this
  float nms_iou = 0.45f;     // suppress same-class boxes overlapping more than this
  int max_detections = 300;
};

struct Detection {
  cv::Rect2f box;  // in original frame pixels
  int class_id = 0;
  float score = 0;
};

// `rows` holds `row_count` rows of `row_size` = 5 + classes floats, for one image.
// Detections come sorted by score (ties: class, then position), at most max_detections.
// Errors: a row size below 6, or rows that do not fill the span.
Result<std::vector<Detection>> detection_postprocess(std::span<const float> rows, int row_size,
                                                     const Letterbox& letterbox,
                                                     const DetectionConfig& config);

}  // namespace coedge::infer
