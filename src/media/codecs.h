// Image files and video through OpenCV's imgcodecs and videoio, loaded only when first
// used. Those two modules bring some 220 shared libraries with them (GDAL, Poppler,
// FFmpeg, GStreamer, codecs): linked into a program, they cost every process of it about
// 14 MB of private and 40 MB of shared-library memory at start, whether it ever reads a
// file or not. A node runs many such processes (agent, inference server, cameras), most of
// which never do; so they live in a plugin, coedge_media_opencv.so (opencv_codecs.cc),
// that media::codecs() (codecs_plugin.h) opens on the first call, and a process that
// reads no image or video file never loads them.
//
// The interface mirrors the few OpenCV calls CoEdge makes (same arguments, same results,
// and the same cv::Exception on bad input), so callers keep their OpenCV error handling.
//
// This header is the interface the plugin implements; media/codecs_plugin.h loads it.
//
// Thread-safety: a Codecs is stateless; a VideoCapture is used by one thread at a time,
// like cv::VideoCapture.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace coedge::media {

// cv::VideoCapture's calls, as CoEdge uses them; `api` and `property` are cv::CAP_* values.
class VideoCapture {
 public:
  virtual ~VideoCapture() = default;
  virtual bool open(const std::string& path, int api) = 0;
  // cv::VideoCapture::open(path, api, params): `params` are (cv::CAP_PROP_*, value) pairs
  // applied at open, e.g. FFmpeg's CAP_PROP_OPEN_TIMEOUT_MSEC and CAP_PROP_READ_TIMEOUT_MSEC
  // (network streams, node/stream_source.h).
  virtual bool open(const std::string& path, int api, const std::vector<int>& params) = 0;
  virtual bool is_opened() const = 0;
  virtual double get(int property) const = 0;
  virtual bool set(int property, double value) = 0;
  virtual bool read(cv::Mat& frame) = 0;
  virtual void release() = 0;
};

class Codecs {
 public:
  virtual ~Codecs() = default;
  virtual cv::Mat imread(const std::string& path, int flags) const = 0;
  virtual cv::Mat imdecode(const cv::Mat& encoded, int flags) const = 0;
  virtual bool imencode(const std::string& extension, const cv::Mat& image,
                        std::vector<uint8_t>& bytes) const = 0;
  virtual std::unique_ptr<VideoCapture> video_capture() const = 0;
};

// The plugin's entry point: the symbol it exports, the version of this interface (2:
// VideoCapture::open with params). A plugin of another version lacks the symbol, so the
// loader refuses it instead of calling through a different vtable.
inline constexpr const char* kPluginFile = "coedge_media_opencv.so";
inline constexpr const char* kPluginEntry = "coedge_media_codecs_v2";
using PluginEntry = const Codecs* (*)();

}  // namespace coedge::media
