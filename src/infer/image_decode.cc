// decode_image (infer/image.h), apart from the rest of image.cc so that a program that only
// checks raw frames (a worker) does not pull in OpenCV's imgcodecs and the ~130 libraries
// it loads (GDAL, Poppler, codecs): each one costs every process resident memory.
#include <opencv2/imgcodecs.hpp>

#include "infer/image.h"

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

}  // namespace coedge::infer
