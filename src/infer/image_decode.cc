// decode_image (infer/image.h), through the media plugin (media/codecs.h), which loads
// OpenCV's imgcodecs on first use.
#include <opencv2/imgcodecs.hpp>  // the IMREAD_* flags only

#include "infer/image.h"
#include "media/codecs_plugin.h"
#include "media/image_format.h"

namespace coedge::infer {

Result<cv::Mat> decode_image(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Error{ErrorCode::kInvalidInput, "empty frame: no image bytes"};
  // Only the allowed formats reach OpenCV's decoders (media/image_format.h): frames come
  // from the network and from other processes.
  if (Status format = media::check_image_format(bytes, "cannot decode frame"); !format.ok()) return format.error();
  auto codecs = media::codecs();
  if (!codecs.ok()) return Error{codecs.error().code, "cannot decode frame: " + codecs.error().message};
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<uint8_t*>(bytes.data()));
    cv::Mat image = (*codecs)->imdecode(encoded, cv::IMREAD_COLOR);
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
