// Which image formats CoEdge decodes: an allow-list checked on the bytes themselves (their
// magic number, never the file name) before any encoded image reaches OpenCV's imgcodecs.
//
// Why: OpenCV 4.6 as Debian builds it links a decoder for every format it knows (TIFF,
// JPEG 2000, OpenEXR, Radiance HDR, Sun raster, PAM/PFM, WebP, GDAL's...) and picks one by
// the content's magic, whatever the name says. Each of those decoders has had memory-safety
// CVEs; CoEdge needs JPEG and PNG (cameras, ROS CompressedImage, the cluster's network
// frames), plus PPM/PGM and BMP that the examples and tests use. Images come from folders
// an operator names, from the network (a cluster camera's frames) and from ROS topics, so a
// crafted file or frame would otherwise reach every decoder. Refusing the rest shrinks that
// surface to four decoders; it does not make those four safe (see docs/SECURITY.md).
//
// The signatures are OpenCV's own (its decoders' checkSignature), so that an accepted image
// is decoded by the decoder of the format accepted, not by another one matching first.
// Pure, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace coedge::media {

enum class ImageFormat {
  kUnknown,  // no format we know the magic of (text, truncated, empty)
  // Allowed:
  kJpeg, kPng, kPnm /* PGM and PPM, ASCII or binary: P2, P3, P5, P6 */, kBmp,
  // Recognised so that a refusal can name them; never decoded:
  kPbm /* P1, P4 */, kPam, kPfm, kTiff, kJpeg2000, kWebp, kOpenExr, kHdr, kSunRaster, kGif,
};

// The format the first bytes of an image say it is ("JPEG", "TIFF", "an unknown format").
// 16 bytes are enough for every signature here.
inline constexpr size_t kImageMagicBytes = 16;
ImageFormat sniff_image_format(std::span<const uint8_t> head);
std::string_view to_string(ImageFormat format);

// JPEG, PNG, PPM/PGM and BMP.
bool is_allowed(ImageFormat format);
// "JPEG, PNG, PPM/PGM or BMP": for messages.
std::string_view allowed_image_formats();

// Ok if `bytes` start like an allowed format. Otherwise an Error (kUnsupported for a known
// format that is not allowed, kInvalidInput for an unknown one):
// "WHAT: a TIFF image; only JPEG, PNG, PPM/PGM or BMP images are decoded (docs/SECURITY.md)".
Status check_image_format(std::span<const uint8_t> bytes, const std::string& what);

// The bytes of the image file `path`, for imdecode, after check_image_format. Reads at most
// `max_bytes` (a larger file is an error), regular files only (not a FIFO or a device).
// Errors name the file.
inline constexpr size_t kMaxImageFileBytes = size_t{256} << 20;
Result<std::vector<uint8_t>> read_image_file(const std::string& path, size_t max_bytes = kMaxImageFileBytes);

}  // namespace coedge::media
