// A received ROS 2 image, decoded and checked (docs/NODE_CONFIG.md, "Topic sensors"): a
// sensor_msgs/Image in `bgr8`, `rgb8` or `mono8`, or a sensor_msgs/CompressedImage whose
// format names `jpeg`/`jpg` or `png` (e.g. image_transport's "bgr8; jpeg compressed bgr8"),
// becomes an 8-bit BGR frame (CV_8UC3), as every worker takes it. Anything else is
// rejected with a reason and a message naming the encoding or the size:
//   kEncoding  an encoding or format this does not read (yuv422, 16UC1, bayer_*, ...);
//   kSize      zero or inconsistent dimensions (step < width·channels, data other than
//              step·height bytes — sensor_msgs/Image's rule —, a decoded size other than
//              the file's header says);
//   kTooLarge  larger than the sensor's largest frame (its width/height; a raw row's step
//              beyond 4 bytes a pixel of its width plus 4 KiB of padding; a compressed
//              file beyond the largest frame's size uncompressed plus 64 KiB);
//   kCorrupt   a compressed file whose magic bytes are not its format's, whose header is
//              unreadable, or which does not decode.
// A compressed image's size is read from its header (PNG IHDR, JPEG SOFn) and checked
// against the largest frame BEFORE it is decoded: a peer's small file cannot make the node
// allocate a huge image. The image is a peer's untrusted bytes: nothing here trusts its
// sizes. Pure (no I/O, no logging); thread-safe.
#pragma once

#include <string>

#include <opencv2/core.hpp>

#include "net/dds.h"

namespace coedge::node {

enum class FrameRejection { kNone, kEncoding, kSize, kTooLarge, kCorrupt };
inline constexpr int kFrameRejectionCount = 5;

// "encoding", "size", "too_large", "corrupt" (metric labels and summary keys); "" for kNone.
const char* frame_rejection_name(FrameRejection reason);

struct RosFrame {
  // When accepted: the frame in BGR, CV_8UC3. It may share the image's data (a bgr8 image
  // is not copied): keep the image alive while using it.
  cv::Mat bgr;
  FrameRejection rejected = FrameRejection::kNone;
  std::string why;  // when rejected: what and why, naming the encoding or the size
  bool ok() const { return rejected == FrameRejection::kNone; }
};

// REQUIRES: max_width, max_height > 0.
RosFrame decode_ros_frame(const net::Image& image, int max_width, int max_height);

}  // namespace coedge::node
