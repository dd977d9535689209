// The frames a node takes from one sensor: the images of a folder, the frames of a video
// file, synthetic frames of a given size, or a live network stream (node/stream_source.h).
// Every frame is 8-bit BGR (CV_8UC3) whatever the source, so pre-processing sees one
// format. Sources are pull-based (the agent's capture loop calls next() at the sensor's
// period); they never sleep. A stream is drained by a reader thread of its own, so that
// its next() does not block either; between two arrivals, or while the stream is stalled
// or reconnecting, it has no new frame to give, and says so.
//
// Thread-safety: a FrameSource is not thread-safe; use one per sensor from one thread
// (a stream's reader thread is internal to it). Frames returned by next() are owned by the
// caller (never shared with a cache or with another frame), so they may be modified or
// handed to another thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "config/node_config.h"
#include "core/result.h"
#include "core/time.h"

namespace coedge::node {

// Which frame next() last returned (or failed to decode), as the source names it: the
// agent records it as the job's frame identity (node/core/job_record.h).
struct FrameOrigin {
  std::string file;    // folder: the image's file name, without its directory
  int64_t index = -1;  // video: the frame's index in the file from 0 (again from 0 after a
                       // loop); synthetic: the frame counter; stream: the frame's arrival
                       // number from 0 (across reconnections); -1 for a folder
  // Stream: when the frame arrived (decoded by the reader thread), on the wall clock
  // (unix ns) and on the monotonic clock; -1 and {} for replayed sources.
  int64_t arrival_unix_ns = -1;
  TimePoint arrival{};
};

// A live source's counters since it was opened, for the summary and the logs.
struct StreamStats {
  uint64_t frames = 0;        // decoded frames that arrived
  uint64_t handed_out = 0;    // of those, the ones next() returned (the rest were overtaken
                              // by a newer frame before the capture loop came round)
  uint64_t connects = 0;      // successful opens: the first and every reconnection
  uint64_t failed_opens = 0;  // connection attempts that failed
  uint64_t drops = 0;         // connections lost (end of stream, closed, read timeout)
  uint64_t stalls = 0;        // outages: stall_timeout without a frame, one per outage
  double longest_gap_s = 0;   // the longest time without a frame, start included
  bool connected = false;     // now (at the end of a run: when it was stopped)
};

// next()'s frame, or none: a live source with no frame newer than the last one it handed
// out (between arrivals, stalled, reconnecting). Replayed sources always have one.
using NextFrame = std::optional<cv::Mat>;

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // The next frame. At the end, starts again if the sensor loops; otherwise returns an
  // Error with code kNotFound ("end of <what>"), and keeps returning it. A frame that
  // cannot be decoded is an Error with code kInvalidInput naming the file; the source has
  // moved past it, so the caller counts that frame's jobs as dropped and calls again.
  // A live stream returns the newest frame that arrived since the last call, or no frame
  // (std::nullopt) when none did: there is no frame, so the caller releases no job (not
  // a dropped one) and calls again at its next period. A stream never ends: it reconnects.
  virtual Result<NextFrame> next() = 0;
  // For logs: "folder /x (12 images)", "video /x.mp4 (640x480, 25 fps)",
  // "synthetic 1280x720".
  virtual std::string describe() const = 0;
  // The origin of the frame (or decode error) next() last returned; {} before the first.
  virtual FrameOrigin origin() const = 0;

  // Live sources: what happened since the last call (connected, stalled, connection lost,
  // reconnected), oldest first, one log line each (without the sensor's name). The caller
  // logs them: a source does not log.
  virtual std::vector<std::string> take_events() { return {}; }
  // Live sources: their counters; nullopt for replayed sources.
  virtual std::optional<StreamStats> stream_stats() const { return std::nullopt; }
  // Live sources: starts the reader (a stream starts connecting). Called once, when the
  // sensor starts capturing, not when the source is opened: a stream opened early (to
  // check the config) then decodes nothing while the models are profiled, and its stall
  // clock starts with the run. Replayed sources have nothing to start.
  virtual void start() {}
  // Live sources: asks the reader to stop, and returns at once (the first half of stop()):
  // the agent asks every sensor first, then waits for them all (stop()), so that the
  // readers' waits overlap instead of adding up, and happen after its loop. next() gives
  // no new frame after it. Idempotent; a no-op for replayed sources.
  virtual void request_stop() {}
  // Stops a live source's reader and waits for it: request_stop(), then the join, which
  // takes up to its open or stall timeout if it is blocked in the network (see
  // node/stream_source.h for why it can be longer). Idempotent; replayed sources have none.
  virtual void stop() {}
};

// Any decoded image as 8-bit BGR: grayscale and BGRA are expanded or flattened, 16-bit
// and float images scaled to 8 bits. Returns an empty Mat for a layout it cannot map.
cv::Mat to_bgr8(cv::Mat image);

// True if `error` (from next()) means the source has no more frames, as opposed to one
// bad frame.
inline bool is_end_of_frames(const Error& error) { return error.code == ErrorCode::kNotFound; }

// Errors (naming the sensor): a folder that is missing or holds no images (extensions jpg,
// jpeg, png, bmp, ppm, pgm, any case; replayed sorted by file name), a video that OpenCV
// cannot open, a synthetic size outside 16..8192, a stream without a URL or without the
// media plugin. A stream is not connected here: its reader thread starts connecting at
// start() (and retries until stopped), so a camera that is not up yet is not an error.
//
// Folder images are decoded when first reached. While their total decoded size stays
// under 256 MB they are kept, so later loops copy instead of decoding again (a small
// folder then replays at memcpy speed); beyond that they are decoded on every pass.
Result<std::unique_ptr<FrameSource>> open_frame_source(const config::SensorConfig& config);

}  // namespace coedge::node
