// The image format allow-list; see image_format.h for the contract.
#include "media/image_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace coedge::media {
namespace {

bool starts_with(std::span<const uint8_t> head, std::string_view magic) {
  return head.size() >= magic.size() && std::equal(magic.begin(), magic.end(), head.begin(),
                                                   [](char m, uint8_t b) { return static_cast<uint8_t>(m) == b; });
}

}  // namespace

ImageFormat sniff_image_format(std::span<const uint8_t> head) {
  using namespace std::string_view_literals;
  // JPEG: SOI then any marker (OpenCV: "\xFF\xD8\xFF").
  if (starts_with(head, "\xFF\xD8\xFF"sv)) return ImageFormat::kJpeg;
  if (starts_with(head, "\x89PNG\r\n\x1A\n"sv)) return ImageFormat::kPng;
  if (starts_with(head, "BM"sv)) return ImageFormat::kBmp;
  // Netpbm: 'P', a digit, whitespace (OpenCV's PxM decoder reads P1-P6; PAM is P7).
  if (head.size() >= 3 && head[0] == 'P' && std::isspace(head[2])) {
    switch (head[1]) {
      case '2': case '3': case '5': case '6': return ImageFormat::kPnm;
      case '1': case '4': return ImageFormat::kPbm;
      case '7': return ImageFormat::kPam;
      default: break;
    }
  }
  if (starts_with(head, "PF"sv) || starts_with(head, "Pf"sv)) return ImageFormat::kPfm;
  if (starts_with(head, "II*\0"sv) || starts_with(head, "MM\0*"sv) || starts_with(head, "II+\0"sv) ||
      starts_with(head, "MM\0+"sv))
    return ImageFormat::kTiff;
  if (starts_with(head, "\0\0\0\x0CjP  \r\n\x87\n"sv) || starts_with(head, "\xFF\x4F\xFF\x51"sv))
    return ImageFormat::kJpeg2000;
  if (starts_with(head, "RIFF"sv) && head.size() >= 12 && starts_with(head.subspan(8), "WEBP"sv))
    return ImageFormat::kWebp;
  if (starts_with(head, "\x76\x2F\x31\x01"sv)) return ImageFormat::kOpenExr;
  if (starts_with(head, "#?RADIANCE"sv) || starts_with(head, "#?RGBE"sv)) return ImageFormat::kHdr;
  if (starts_with(head, "\x59\xA6\x6A\x95"sv)) return ImageFormat::kSunRaster;
  if (starts_with(head, "GIF87a"sv) || starts_with(head, "GIF89a"sv)) return ImageFormat::kGif;
  return ImageFormat::kUnknown;
}

std::string_view to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kPnm: return "PPM/PGM";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kPbm: return "PBM";
    case ImageFormat::kPam: return "PAM";
    case ImageFormat::kPfm: return "PFM";
    case ImageFormat::kTiff: return "TIFF";
    case ImageFormat::kJpeg2000: return "JPEG 2000";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kOpenExr: return "OpenEXR";
    case ImageFormat::kHdr: return "Radiance HDR";
    case ImageFormat::kSunRaster: return "Sun raster";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kUnknown: break;
  }
  return "an unknown format";
}

bool is_allowed(ImageFormat format) {
  return format == ImageFormat::kJpeg || format == ImageFormat::kPng || format == ImageFormat::kPnm ||
         format == ImageFormat::kBmp;
}

std::string_view allowed_image_formats() { return "JPEG, PNG, PPM/PGM or BMP"; }

Status check_image_format(std::span<const uint8_t> bytes, const std::string& what) {
  const ImageFormat format = sniff_image_format(bytes.first(std::min(bytes.size(), kImageMagicBytes)));
  if (is_allowed(format)) return Ok{};
  const std::string only =
      "; only " + std::string(allowed_image_formats()) + " images are decoded (docs/SECURITY.md)";
  if (format == ImageFormat::kUnknown) {
    return Error{ErrorCode::kInvalidInput,
                 what + ": " + (bytes.empty() ? std::string("empty, not an image") : "not an image in a known format") + only};
  }
  return Error{ErrorCode::kUnsupported, what + ": a " + std::string(to_string(format)) + " image" + only};
}

Result<std::vector<uint8_t>> read_image_file(const std::string& path, size_t max_bytes) {
  auto fail = [&](ErrorCode code, const std::string& why) { return Error{code, "image " + path + ": " + why}; };
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, std::strerror(errno));
  const std::unique_ptr<const int, void (*)(const int*)> closer(&fd, [](const int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(ErrorCode::kIo, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::kInvalidInput, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return fail(ErrorCode::kInvalidInput, std::to_string(st.st_size) + " bytes; an image file has at most " +
                                              std::to_string(max_bytes));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ErrorCode::kIo, std::strerror(errno));
    if (n == 0) break;  // the file shrank meanwhile: what is there is what gets checked
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  if (Status ok = check_image_format(bytes, "image " + path); !ok.ok()) return ok.error();
  return bytes;
}

}  // namespace coedge::media
