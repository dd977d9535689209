// The frames a node replays for one sensor: the images of a folder, the frames of a video
// file, or synthetic frames of a given size. Every frame is 8-bit BGR (CV_8UC3) whatever
// the source, so pre-processing sees one format. Sources are pull-based (the agent's
// capture loop calls next() at the sensor's period); they never sleep.
//
// Thread-safety: a FrameSource is not thread-safe; use one per sensor from one thread.
// Frames returned by next() are owned by the caller (never shared with a cache or with
// another frame), so they may be modified or handed to another thread.
#pragma once

#include <memory>
#include <string>

#include <opencv2/core/mat.hpp>

#include "config/node_config.h"
#include "core/result.h"

namespace coedge::node {

// Which frame next() last returned (or failed to decode), as the source names it: the
// agent records it as the job's frame identity (node/core/job_record.h).
struct FrameOrigin {
  std::string file;    // folder: the image's file name, without its directory
  int64_t index = -1;  // video: the frame's index in the file from 0 (again from 0 after a
                       // loop); synthetic: the frame counter; -1 for a folder
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // The next frame. At the end, starts again if the sensor loops; otherwise returns an
  // Error with code kNotFound ("end of <what>"), and keeps returning it. A frame that
  // cannot be decoded is an Error with code kInvalidInput naming the file; the source has
  // moved past it, so the caller counts that frame's jobs as dropped and calls again.
  virtual Result<cv::Mat> next() = 0;
  // For logs: "folder /x (12 images)", "video /x.mp4 (640x480, 25 fps)",
  // "synthetic 1280x720".
  virtual std::string describe() const = 0;
  // The origin of the frame (or decode error) next() last returned; {} before the first.
  virtual FrameOrigin origin() const = 0;
};

// True if `error` (from next()) means the source has no more frames, as opposed to one
// bad frame.
inline bool is_end_of_frames(const Error& error) { return error.code == ErrorCode::kNotFound; }

// Errors (naming the sensor): a folder that is missing or holds no images (extensions jpg,
// jpeg, png, bmp, ppm, pgm, any case; replayed sorted by file name), a video that OpenCV
// cannot open, a synthetic size outside 16..8192.
//
// Folder images are decoded when first reached. While their total decoded size stays
// under 256 MB they are kept, so later loops copy instead of decoding again (a small
// folder then replays at memcpy speed); beyond that they are decoded on every pass.
Result<std::unique_ptr<FrameSource>> open_frame_source(const config::SensorConfig& config);

}  // namespace coedge::node
