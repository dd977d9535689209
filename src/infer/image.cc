#include "infer/image.h"

#include <opencv2/imgcodecs.hpp>

namespace coedge::infer {

Result<cv::Mat> decode_image(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Error{ErrorCode::kInvalidInput, "empty frame: no image bytes"};
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<uint8_t*>(bytes.data()));
    cv::Mat image = cv::imdecode(encoded, cv::IMREAD_COLOR);
    if (image.empty()) {
      return Error{ErrorCode::kInvalidInput, "cannot decode frame: " + std::to_string(bytes.size()) +
                                                 " bytes are not an image in a known format (corrupt?)"};
    }
    return image;
  } catch (const cv::Exception& e) {
    return Error{ErrorCode::kInvalidInput, std::string("cannot decode frame: ") + e.err};
  }
}

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
