// Frames as the stock pre-processing accepts them: 8-bit, 3-channel BGR images (OpenCV's
// convention), either decoded from encoded bytes (JPEG, PNG, ...) or given raw. Anything
// else is a per-job Error saying what was wrong, never an exception or a crash.
#pragma once

#include <cstdint>
#include <span>

#include <opencv2/core.hpp>

#include "core/result.h"

namespace coedge::infer {

// Decodes an encoded image. Errors: empty input, bytes that no codec recognises.
Result<cv::Mat> decode_image(std::span<const uint8_t> bytes);

// Checks a raw frame: non-empty, 8 bits per channel, 3 channels.
Status check_frame(const cv::Mat& frame);

}  // namespace coedge::infer
