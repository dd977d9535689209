#include "node/cluster/ros_frame.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace coedge::node {
namespace {

// A raw row's step is at most this many bytes a pixel of the sensor's width, plus padding.
constexpr uint64_t kMaxBytesPerPixel = 4;
constexpr uint64_t kMaxRowPadding = 4096;

// A peer's text, shown in a message: printable and short.
std::string shown(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  if (text.size() > 40) out += "...";
  return out;
}

RosFrame reject(FrameRejection reason, std::string why) {
  RosFrame f;
  f.rejected = reason;
  f.why = std::move(why);
  return f;
}

std::string dims(uint64_t w, uint64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

struct Size2 {
  uint64_t width = 0, height = 0;
};

uint32_t be16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }

// PNG: the signature, then the IHDR chunk first (width, height big-endian, bit depth).
std::optional<Size2> png_size(const std::vector<uint8_t>& d) {
  if (d.size() < 25 || d[12] != 'I' || d[13] != 'H' || d[14] != 'D' || d[15] != 'R') return std::nullopt;
  return Size2{be32(&d[16]), be32(&d[20])};
}

// JPEG: the segments after SOI up to the first start-of-frame marker (SOF0..SOF15 but DHT
// C4, JPG C8 and DAC CC), whose payload is precision, height, width.
std::optional<Size2> jpeg_size(const std::vector<uint8_t>& d) {
  size_t i = 2;
  while (i + 1 < d.size()) {
    if (d[i] != 0xFF) return std::nullopt;
    while (i < d.size() && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= d.size()) return std::nullopt;
    const uint8_t marker = d[i++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no payload
    if (marker == 0xD9 || marker == 0xDA) return std::nullopt;  // end, or scan before a frame
    if (i + 2 > d.size()) return std::nullopt;
    const uint32_t length = be16(&d[i]);
    if (length < 2) return std::nullopt;
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (length < 7 || i + 7 > d.size()) return std::nullopt;
      return Size2{be16(&d[i + 5]), be16(&d[i + 3])};
    }
    i += length;
  }
  return std::nullopt;
}

RosFrame decode_compressed(const net::Image& image, int max_width, int max_height) {
  std::string format = image.encoding;
  std::transform(format.begin(), format.end(), format.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto& d = image.data;
  // image_transport writes "<raw encoding>; <codec> compressed <decoded encoding>": only an
  // 8-bit colour or mono raw encoding decodes to what a model takes (a 16-bit depth or
  // mono16 PNG would be cut to a black 8-bit frame).
  if (const size_t semicolon = format.find(';'); semicolon != std::string::npos) {
    const std::string raw_encoding = format.substr(0, semicolon);
    if (raw_encoding != "bgr8" && raw_encoding != "rgb8" && raw_encoding != "mono8" && raw_encoding != "bgra8" &&
        raw_encoding != "rgba8") {
      return reject(FrameRejection::kEncoding, "compressed format '" + shown(image.encoding) +
                                                   "' is not of an 8-bit image (accepted: bgr8, rgb8, mono8)");
    }
  }
  // A file larger than its largest frame uncompressed (and some header room) is no frame of
  // this sensor's, and cv::Mat takes an int length.
  const uint64_t most = static_cast<uint64_t>(max_width) * static_cast<uint64_t>(max_height) * 4 + 65536;
  if (d.size() > most) {
    return reject(FrameRejection::kTooLarge, "compressed frame of " + std::to_string(d.size()) +
                                                 " bytes is larger than the sensor's largest frame uncompressed");
  }
  bool png = false;
  if (format.find("compresseddepth") != std::string::npos) {
    return reject(FrameRejection::kEncoding, "compressed depth image '" + shown(image.encoding) +
                                                 "' is not supported (accepted: jpeg, png)");
  } else if (format.find("jpeg") != std::string::npos || format.find("jpg") != std::string::npos) {
    if (d.size() < 3 || d[0] != 0xFF || d[1] != 0xD8 || d[2] != 0xFF)
      return reject(FrameRejection::kCorrupt, "format '" + shown(image.encoding) + "' but the data is not a JPEG file");
  } else if (format.find("png") != std::string::npos) {
    static const uint8_t kMagic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (d.size() < 8 || !std::equal(kMagic, kMagic + 8, d.begin()))
      return reject(FrameRejection::kCorrupt, "format '" + shown(image.encoding) + "' but the data is not a PNG file");
    png = true;
  } else {
    return reject(FrameRejection::kEncoding, "compressed format '" + shown(image.encoding) +
                                                 "' is not supported (accepted: jpeg, png)");
  }
  const auto size = png ? png_size(d) : jpeg_size(d);
  const char* kind = png ? "PNG" : "JPEG";
  if (!size) return reject(FrameRejection::kCorrupt, std::string(kind) + " header unreadable (truncated or corrupt)");
  if (png && d[24] != 8) {  // the IHDR's bit depth (png_size read up to it)
    return reject(FrameRejection::kEncoding, "PNG of " + std::to_string(d[24]) + "-bit samples (accepted: 8-bit)");
  }
  if (size->width == 0 || size->height == 0)
    return reject(FrameRejection::kSize, std::string(kind) + " header says " + dims(size->width, size->height));
  if (size->width > static_cast<uint64_t>(max_width) || size->height > static_cast<uint64_t>(max_height))
    return reject(FrameRejection::kTooLarge, std::string(kind) + " of " + dims(size->width, size->height) +
                                                 " is larger than the sensor's largest frame " +
                                                 dims(max_width, max_height));
  RosFrame f;
  try {
    const cv::Mat raw(1, static_cast<int>(d.size()), CV_8UC1, const_cast<uint8_t*>(d.data()));
    // As compressed_image_transport decodes: the pixels as stored, no EXIF rotation (which
    // would also make the decoded size disagree with the header's).
    f.bgr = cv::imdecode(raw, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception&) {
    f.bgr.release();
  }
  if (f.bgr.empty() || f.bgr.type() != CV_8UC3)
    return reject(FrameRejection::kCorrupt, std::string(kind) + " of " + dims(size->width, size->height) + " does not decode");
  if (static_cast<uint64_t>(f.bgr.cols) != size->width || static_cast<uint64_t>(f.bgr.rows) != size->height)
    return reject(FrameRejection::kSize, std::string(kind) + " decoded to " + dims(f.bgr.cols, f.bgr.rows) +
                                             ", its header says " + dims(size->width, size->height));
  return f;
}

}  // namespace

const char* frame_rejection_name(FrameRejection reason) {
  switch (reason) {
    case FrameRejection::kNone: return "";
    case FrameRejection::kEncoding: return "encoding";
    case FrameRejection::kSize: return "size";
    case FrameRejection::kTooLarge: return "too_large";
    case FrameRejection::kCorrupt: return "corrupt";
  }
  return "";
}

RosFrame decode_ros_frame(const net::Image& image, int max_width, int max_height) {
  if (image.compressed) return decode_compressed(image, max_width, max_height);
  int channels = 0;
  if (image.encoding == "bgr8" || image.encoding == "rgb8") channels = 3;
  else if (image.encoding == "mono8") channels = 1;
  else
    return reject(FrameRejection::kEncoding, "encoding '" + shown(image.encoding) +
                                                 "' is not supported (accepted: bgr8, rgb8, mono8; "
                                                 "or a CompressedImage in jpeg or png)");
  const uint64_t w = image.width, h = image.height;
  if (w == 0 || h == 0) return reject(FrameRejection::kSize, image.encoding + " image of " + dims(w, h));
  if (w > static_cast<uint64_t>(max_width) || h > static_cast<uint64_t>(max_height))
    return reject(FrameRejection::kTooLarge, image.encoding + " image of " + dims(w, h) +
                                                 " is larger than the sensor's largest frame " +
                                                 dims(max_width, max_height));
  if (image.step < w * channels)
    return reject(FrameRejection::kSize, image.encoding + " image of " + dims(w, h) + ": step " +
                                             std::to_string(image.step) + " < width x " + std::to_string(channels));
  // A row may be padded, but not beyond 4 bytes a pixel of the sensor's widest row (and
  // some alignment). This bounds no allocation: the data is already in memory, under the
  // DDS reader's cap (net/dds.h kMaxImageBytes), and the view below copies nothing (a
  // conversion allocates w x h x 3 bytes, bounded by the sensor's largest frame). It
  // refuses rows a camera never sends; the exact step x height check after it is what
  // keeps the view inside the data.
  if (image.step > kMaxBytesPerPixel * static_cast<uint64_t>(max_width) + kMaxRowPadding)
    return reject(FrameRejection::kTooLarge, image.encoding + " image of " + dims(w, h) + ": step " +
                                                 std::to_string(image.step) + " beyond the sensor's largest row (" +
                                                 std::to_string(max_width) + " pixels)");
  if (image.data.size() != static_cast<uint64_t>(image.step) * h)
    return reject(FrameRejection::kSize, image.encoding + " image of " + dims(w, h) + ", step " +
                                             std::to_string(image.step) + ": " + std::to_string(image.data.size()) +
                                             " bytes of data, not step x height = " +
                                             std::to_string(static_cast<uint64_t>(image.step) * h));
  cv::Mat view(static_cast<int>(h), static_cast<int>(w), channels == 3 ? CV_8UC3 : CV_8UC1,
               const_cast<uint8_t*>(image.data.data()), image.step);
  RosFrame f;
  if (image.encoding == "bgr8") f.bgr = view;
  else cv::cvtColor(view, f.bgr, image.encoding == "rgb8" ? cv::COLOR_RGB2BGR : cv::COLOR_GRAY2BGR);
  return f;
}

}  // namespace coedge::node
