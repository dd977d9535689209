// The three replayed frame sources (the live one is node/stream_source.cc). OpenCV throws cv::Exception on some bad inputs; every call into
// it that reads user data is wrapped here and turned into an Error naming the file. Image
// files and video are read through the media plugin (media/codecs.h), so a node whose
// sensors are synthetic or topics never loads OpenCV's imgcodecs and videoio.
#include "node/frame_source.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>  // IMREAD_* flags
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>  // CAP_* constants
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "media/codecs_plugin.h"
#include "media/image_format.h"
#include "node/stream_source.h"

namespace coedge::node {
namespace {

namespace fs = std::filesystem;

constexpr int kMinSide = 16;
constexpr int kMaxSide = 8192;
constexpr size_t kCacheBudgetBytes = size_t{256} << 20;

std::string sensor_prefix(const config::SensorConfig& config) {
  return "sensor '" + config.name + "': ";
}

// A replayed source's frame or error, as next() gives it (always a frame).
Result<NextFrame> lift(Result<cv::Mat> frame) {
  if (!frame.ok()) return frame.error();
  return NextFrame(std::move(*frame));
}

}  // namespace

cv::Mat to_bgr8(cv::Mat image) {
  if (image.empty()) return image;
  if (image.depth() != CV_8U) {
    double scale = 1.0;
    if (image.depth() == CV_16U) scale = 1.0 / 256.0;
    if (image.depth() == CV_32F || image.depth() == CV_64F) scale = 255.0;
    cv::Mat converted;
    image.convertTo(converted, CV_MAKETYPE(CV_8U, image.channels()), scale);
    image = converted;
  }
  cv::Mat bgr;
  switch (image.channels()) {
    case 3: return image;
    case 1: cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR); return bgr;
    case 4: cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR); return bgr;
    default: return cv::Mat();
  }
}

namespace {

// ---------------------------------------------------------------------------------------
// Synthetic: a fixed, seeded base picture (gradients plus random boxes) rolled sideways a
// few pixels per frame, with a frame-counter patch whose colour changes every frame. The
// base is computed once; a frame is two block copies and a couple of small fills, so a
// 1280x720 frame costs about one memcpy of 2.7 MB. The same config always gives the same
// sequence (the seed is fixed), which keeps runs reproducible.
class SyntheticSource final : public FrameSource {
 public:
  SyntheticSource(int width, int height) : base_(height, width, CV_8UC3) {
    for (int y = 0; y < height; ++y) {
      auto* row = base_.ptr<cv::Vec3b>(y);
      for (int x = 0; x < width; ++x) {
        row[x] = cv::Vec3b(static_cast<uint8_t>(x * 255 / (width - 1)),
                           static_cast<uint8_t>(y * 255 / (height - 1)),
                           static_cast<uint8_t>(((x + y) * 2) & 0xff));
      }
    }
    cv::RNG rng(0xC0ED6E);
    for (int i = 0; i < 24; ++i) {
      const int w = rng.uniform(width / 16 + 1, width / 4 + 2);
      const int h = rng.uniform(height / 16 + 1, height / 4 + 2);
      const int x = rng.uniform(0, width - 1);
      const int y = rng.uniform(0, height - 1);
      cv::rectangle(base_, cv::Rect(x, y, w, h),
                    cv::Scalar(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256)),
                    cv::FILLED);
    }
    step_ = std::max(1, width / 160);  // 8 px per frame at 1280
  }

  Result<NextFrame> next() override { return lift(read_next()); }

  Result<cv::Mat> read_next() {
    const int w = base_.cols;
    const int shift = static_cast<int>((frame_ * static_cast<uint64_t>(step_)) % w);
    cv::Mat frame(base_.rows, w, CV_8UC3);
    base_.colRange(shift, w).copyTo(frame.colRange(0, w - shift));
    if (shift > 0) base_.colRange(0, shift).copyTo(frame.colRange(w - shift, w));

    // The counter patch: its colour differs between any two consecutive frames (the
    // multipliers are odd), so frames differ even when the roll repeats. At most a quarter
    // of the side, so tiny frames are not a solid colour.
    const auto k = static_cast<uint32_t>(frame_);
    const int side = std::min({16, frame.cols / 4, frame.rows / 4});
    frame(cv::Rect(0, 0, side, side))
        .setTo(cv::Scalar((k * 37) & 0xff, (k * 91) & 0xff, (k * 53) & 0xff));
    if (frame.rows >= 48 && frame.cols >= 160) {  // a readable counter when there is room
      cv::rectangle(frame, cv::Rect(side, 0, 140, 28), cv::Scalar(0, 0, 0), cv::FILLED);
      cv::putText(frame, std::to_string(frame_), cv::Point(side + 4, 21),
                  cv::FONT_HERSHEY_SIMPLEX, 0.7, cv::Scalar(255, 255, 255), 2);
    }
    last_ = static_cast<int64_t>(frame_);
    ++frame_;
    return frame;
  }

  FrameOrigin origin() const override { return {"", last_}; }

  std::string describe() const override {
    return "synthetic " + std::to_string(base_.cols) + "x" + std::to_string(base_.rows);
  }

 private:
  cv::Mat base_;
  int step_ = 1;
  uint64_t frame_ = 0;
  int64_t last_ = -1;  // the counter of the frame last returned
};

// ---------------------------------------------------------------------------------------
// Folder: the images of one directory in file-name order, decoded as they are reached
// and cached within a budget (see the header).
class FolderSource final : public FrameSource {
 public:
  FolderSource(std::string dir, std::vector<std::string> files, bool loop)
      : dir_(std::move(dir)), files_(std::move(files)), cache_(files_.size()), loop_(loop) {}

  Result<NextFrame> next() override { return lift(read_next()); }

  Result<cv::Mat> read_next() {
    if (next_ == files_.size()) {
      if (!loop_) return Error{ErrorCode::kNotFound, "end of " + describe()};
      next_ = 0;
    }
    const size_t i = next_++;
    last_ = i;
    if (!cache_[i].empty()) return cache_[i].clone();  // the caller may write to its frame

    const std::string& path = files_[i];
    auto codecs = media::codecs();
    if (!codecs.ok()) return Error{ErrorCode::kNotFound, "cannot read image " + path + ": " + codecs.error().message};
    // Read here and checked against the format allow-list (media/image_format.h), then
    // decoded from memory: imread would hand any format OpenCV knows to its decoder.
    auto file = media::read_image_file(path);
    if (!file.ok()) return Error{file.error().code, "cannot read " + file.error().message};
    cv::Mat image;
    try {
      const cv::Mat encoded(1, static_cast<int>(file->size()), CV_8U, file->data());
      image = to_bgr8((*codecs)->imdecode(encoded, cv::IMREAD_UNCHANGED));
    } catch (const std::exception& e) {
      return Error{ErrorCode::kInvalidInput, "cannot decode image " + path + ": " + e.what()};
    }
    if (image.empty()) {
      return Error{ErrorCode::kInvalidInput,
                   "cannot decode image " + path + " (unreadable, corrupt or not an image)"};
    }
    const size_t bytes = image.total() * image.elemSize();
    if (cached_bytes_ + bytes <= kCacheBudgetBytes) {
      cached_bytes_ += bytes;
      cache_[i] = image.clone();  // keep our own copy; `image` goes to the caller
    }
    return image;
  }

  FrameOrigin origin() const override {
    if (last_ == kNone) return {};
    return {std::filesystem::path(files_[last_]).filename().string(), -1};
  }

  std::string describe() const override {
    return "folder " + dir_ + " (" + std::to_string(files_.size()) +
           (files_.size() == 1 ? " image)" : " images)");
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;  // full paths, sorted by file name
  std::vector<cv::Mat> cache_;      // decoded frames; empty where not (yet) cached
  size_t cached_bytes_ = 0;
  size_t next_ = 0;
  static constexpr size_t kNone = static_cast<size_t>(-1);
  size_t last_ = kNone;  // the index of the file next() last reached
  bool loop_;
};

// ---------------------------------------------------------------------------------------
// Video: one OpenCV VideoCapture. The first frame is read at open, so a file that opens
// but cannot be decoded fails there instead of at the first capture. At the end it seeks
// back to frame 0 (reopening if the backend cannot seek) when looping.
class VideoSource final : public FrameSource {
 public:
  VideoSource(std::string path, bool loop) : path_(std::move(path)), loop_(loop) {}

  // Opens the file and reads the first frame; the error names the file.
  Status open() {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec)) {
      return Error{ErrorCode::kNotFound, "video " + path_ + " does not exist or is not a file"};
    }
    auto codecs = media::codecs();
    if (!codecs.ok()) return Error{ErrorCode::kNotFound, "cannot read video " + path_ + ": " + codecs.error().message};
    capture_ = (*codecs)->video_capture();
    try {
      // FFmpeg only: it reads files directly. OpenCV's fallback, GStreamer, spams
      // warnings for files it cannot handle and leaks in its plugin loading (libusb, found
      // by LeakSanitizer); a file FFmpeg cannot read is reported as unreadable.
      if (capture_->open(path_, cv::CAP_FFMPEG) && capture_->is_opened()) api_ = cv::CAP_FFMPEG;
      if (!capture_->is_opened()) {
        return Error{ErrorCode::kInvalidInput,
                     "cannot open video " + path_ + " (not a video, or a format OpenCV's FFmpeg backend cannot read)"};
      }
      width_ = static_cast<int>(capture_->get(cv::CAP_PROP_FRAME_WIDTH));
      height_ = static_cast<int>(capture_->get(cv::CAP_PROP_FRAME_HEIGHT));
      fps_ = capture_->get(cv::CAP_PROP_FPS);
      cv::Mat first;
      if (!capture_->read(first) || (pending_ = to_bgr8(first)).empty()) {
        return Error{ErrorCode::kInvalidInput, "cannot decode any frame of video " + path_};
      }
    } catch (const std::exception& e) {
      return Error{ErrorCode::kInvalidInput, "cannot open video " + path_ + ": " + e.what()};
    }
    return Ok{};
  }

  Result<NextFrame> next() override { return lift(read_next()); }

  Result<cv::Mat> read_next() {
    if (!pending_.empty()) {
      last_ = 0;
      next_index_ = 1;
      return std::exchange(pending_, cv::Mat());
    }
    if (ended_) return end_error();
    try {
      cv::Mat frame;
      if (capture_->read(frame)) {
        last_ = next_index_++;
        return checked(frame);
      }
      // VideoCapture cannot tell the end from a decode error; both mean "no more frames".
      if (!loop_) {
        ended_ = true;
        return end_error();
      }
      // Counted from 0 again: the index is the frame's place in the file.
      last_ = 0;
      next_index_ = 1;
      capture_->set(cv::CAP_PROP_POS_FRAMES, 0);
      if (capture_->read(frame)) return checked(frame);
      capture_->release();  // the backend could not seek: start over from the file
      if (capture_->open(path_, api_) && capture_->read(frame)) return checked(frame);
    } catch (const std::exception& e) {
      return Error{ErrorCode::kInvalidInput, "cannot read video " + path_ + ": " + e.what()};
    }
    ended_ = true;  // it played once but now cannot be read from the start: give up on it
    return Error{ErrorCode::kNotFound, "end of " + describe() + ": cannot restart it"};
  }

  FrameOrigin origin() const override { return {"", last_}; }

  std::string describe() const override {
    char fps[32];
    std::snprintf(fps, sizeof fps, "%g", fps_);
    return "video " + path_ + " (" + std::to_string(width_) + "x" + std::to_string(height_) +
           ", " + fps + " fps)";
  }

 private:
  Error end_error() const { return Error{ErrorCode::kNotFound, "end of " + describe()}; }

  Result<cv::Mat> checked(const cv::Mat& frame) const {
    cv::Mat bgr = to_bgr8(frame);
    if (bgr.empty()) {
      return Error{ErrorCode::kInvalidInput, "video " + path_ + ": a frame has " +
                                                 std::to_string(frame.channels()) +
                                                 " channels; expected 1, 3 or 4"};
    }
    return bgr;
  }

  std::string path_;
  bool loop_;
  std::unique_ptr<media::VideoCapture> capture_;  // set by open()
  int api_ = cv::CAP_ANY;  // the backend that opened the file, for reopening it
  cv::Mat pending_;  // the frame read by open(), returned by the first next()
  int width_ = 0, height_ = 0;
  double fps_ = 0;
  bool ended_ = false;
  int64_t last_ = -1;       // the index in the file of the frame next() last returned
  int64_t next_index_ = 0;  // the index of the frame the next read() gives
};

bool is_image_name(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".ppm" ||
         ext == ".pgm";
}

Result<std::unique_ptr<FrameSource>> open_folder(const config::SensorConfig& config) {
  const std::string prefix = sensor_prefix(config);
  std::error_code ec;
  if (!fs::is_directory(config.path, ec)) {
    return Error{ErrorCode::kNotFound,
                 prefix + "image folder " + config.path + " does not exist or is not a folder"};
  }
  std::vector<std::pair<std::string, std::string>> named;  // (file name, full path)
  for (fs::directory_iterator it(config.path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && is_image_name(it->path())) {
      named.emplace_back(it->path().filename().string(), it->path().string());
    }
  }
  if (ec) {
    return Error{ErrorCode::kIo, prefix + "cannot list folder " + config.path + ": " + ec.message()};
  }
  if (named.empty()) {
    return Error{ErrorCode::kNotFound,
                 prefix + "folder " + config.path +
                     " holds no images (expected .jpg, .jpeg, .png, .bmp, .ppm or .pgm files)"};
  }
  std::sort(named.begin(), named.end());
  std::vector<std::string> files;
  files.reserve(named.size());
  for (auto& [name, path] : named) files.push_back(std::move(path));
  return std::unique_ptr<FrameSource>(
      std::make_unique<FolderSource>(config.path, std::move(files), config.loop));
}

}  // namespace

Result<std::unique_ptr<FrameSource>> open_frame_source(const config::SensorConfig& config) {
  switch (config.kind) {
    case config::SensorKind::kSynthetic:
      if (config.width < kMinSide || config.width > kMaxSide || config.height < kMinSide ||
          config.height > kMaxSide) {
        return Error{ErrorCode::kInvalidInput,
                     sensor_prefix(config) + "synthetic frame size " +
                         std::to_string(config.width) + "x" + std::to_string(config.height) +
                         " is out of range: width and height must be 16..8192"};
      }
      return std::unique_ptr<FrameSource>(
          std::make_unique<SyntheticSource>(config.width, config.height));
    case config::SensorKind::kFolder:
      // Images are decoded as they are reached: say now if nothing could decode them.
      if (auto codecs = media::codecs(); !codecs.ok()) {
        return Error{codecs.error().code, sensor_prefix(config) + codecs.error().message};
      }
      return open_folder(config);
    case config::SensorKind::kVideo: {
      auto source = std::make_unique<VideoSource>(config.path, config.loop);
      if (Status opened = source->open(); !opened) {
        return Error{opened.error().code, sensor_prefix(config) + opened.error().message};
      }
      return std::unique_ptr<FrameSource>(std::move(source));
    }
    case config::SensorKind::kStream:
      return open_stream_source(config);
    case config::SensorKind::kTopic:
      break;  // fed by DDS (node/cluster/cluster_feed.h), not opened here
  }
  return Error{ErrorCode::kUnsupported, sensor_prefix(config) + "this sensor kind is not a frame source"};
}

}  // namespace coedge::node
