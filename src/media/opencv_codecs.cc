// The media plugin (coedge_media_opencv.so): codecs.h's interface over OpenCV's imgcodecs
// and videoio, one call each. Loaded by media::codecs(); the only code that links those
// two modules.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "media/codecs.h"

namespace coedge::media {
namespace {

class OpenCvVideoCapture final : public VideoCapture {
 public:
  bool open(const std::string& path, int api) override { return capture_.open(path, api); }
  bool open(const std::string& path, int api, const std::vector<int>& params) override {
    return capture_.open(path, api, params);
  }
  bool is_opened() const override { return capture_.isOpened(); }
  double get(int property) const override { return capture_.get(property); }
  bool set(int property, double value) override { return capture_.set(property, value); }
  bool read(cv::Mat& frame) override { return capture_.read(frame); }
  void release() override { capture_.release(); }

 private:
  cv::VideoCapture capture_;
};

class OpenCvCodecs final : public Codecs {
 public:
  cv::Mat imread(const std::string& path, int flags) const override { return cv::imread(path, flags); }
  cv::Mat imdecode(const cv::Mat& encoded, int flags) const override { return cv::imdecode(encoded, flags); }
  bool imencode(const std::string& extension, const cv::Mat& image, std::vector<uint8_t>& bytes) const override {
    return cv::imencode(extension, image, bytes);
  }
  std::unique_ptr<VideoCapture> video_capture() const override { return std::make_unique<OpenCvVideoCapture>(); }
};

}  // namespace
}  // namespace coedge::media

extern "C" __attribute__((visibility("default"))) const coedge::media::Codecs* coedge_media_codecs_v2() {
  static const coedge::media::OpenCvCodecs codecs;
  return &codecs;
}
