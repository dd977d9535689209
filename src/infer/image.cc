#include "infer/image.h"

namespace coedge::infer {

Status check_frame(const cv::Mat& frame) {
  if (frame.empty() || frame.cols <= 0 || frame.rows <= 0)
    return Error{ErrorCode::kInvalidInput, "zero-size frame"};
  if (frame.depth() != CV_8U) {
    return Error{ErrorCode::kInvalidInput,
                 "frame has " + std::to_string(8 * static_cast<int>(frame.elemSize1())) +
                     "-bit channels; expected 8-bit"};
  }
  if (frame.channels() != 3) {
    return Error{ErrorCode::kInvalidInput, "frame has " + std::to_string(frame.channels()) +
                                               " channels; expected 3 (BGR)"};
  }
  return Ok{};
}

}  // namespace coedge::infer
