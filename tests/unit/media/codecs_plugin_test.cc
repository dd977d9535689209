// The media plugin's loader (media/codecs_plugin.h): where it looks, what it says when the
// plugin is absent, not a library or of another version, and that the plugin it finds
// decodes, encodes and reads files as OpenCV does.
#include "media/codecs_plugin.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

namespace coedge::media {
namespace {

const std::string kBuiltPlugin = COEDGE_BINARY_DIR "/lib/coedge/coedge_media_opencv.so";

TEST(MediaPlugin, LooksBesideTheProgramThenInTheBuildTree) {
  const std::vector<std::string> places = plugin_places();
  ASSERT_FALSE(places.empty());
  EXPECT_NE(places.front().find("/lib/coedge/coedge_media_opencv.so"), std::string::npos) << places.front();
  EXPECT_EQ(places.back(), kBuiltPlugin);
}

TEST(MediaPlugin, ANamedPathIsTheOnlyPlace) {
  set_plugin_path("/elsewhere/plugin.so");
  const std::vector<std::string> places = plugin_places();
  set_plugin_path("");
  EXPECT_EQ(places, std::vector<std::string>{"/elsewhere/plugin.so"});
}

TEST(MediaPlugin, AnAbsentPluginIsAnErrorNamingEveryPlaceTried) {
  auto codecs = load_codecs({"/nonexistent/a.so", "/nonexistent/b.so"});
  ASSERT_FALSE(codecs.ok());
  EXPECT_EQ(codecs.error().code, ErrorCode::kNotFound);
  EXPECT_NE(codecs.error().message.find("/nonexistent/a.so"), std::string::npos) << codecs.error().message;
  EXPECT_NE(codecs.error().message.find("/nonexistent/b.so"), std::string::npos) << codecs.error().message;
  EXPECT_NE(codecs.error().message.find("COEDGE_MEDIA_PLUGIN"), std::string::npos) << codecs.error().message;
}

TEST(MediaPlugin, AFileThatIsNotALibraryIsAnError) {
  const auto path = std::filesystem::temp_directory_path() / ("coedge-not-a-plugin-" + std::to_string(::getpid()) + ".so");
  std::ofstream(path) << "not an ELF file\n";
  auto codecs = load_codecs({path.string()});
  std::filesystem::remove(path);
  ASSERT_FALSE(codecs.ok());
  EXPECT_NE(codecs.error().message.find("cannot load the image and video plugin " + path.string()), std::string::npos)
      << codecs.error().message;
}

TEST(MediaPlugin, ALibraryWithoutTheEntryPointIsAnError) {
  auto codecs = load_codecs({"/lib/x86_64-linux-gnu/libm.so.6"});
  ASSERT_FALSE(codecs.ok());
  EXPECT_NE(codecs.error().message.find(kPluginEntry), std::string::npos) << codecs.error().message;
}

TEST(MediaPlugin, TheBuiltPluginDoesWhatOpenCvDoes) {
  auto codecs = load_codecs({kBuiltPlugin});
  ASSERT_TRUE(codecs.ok()) << codecs.error().message;
  cv::Mat picture(24, 32, CV_8UC3, cv::Scalar(10, 200, 30));
  std::vector<uint8_t> png;
  ASSERT_TRUE((*codecs)->imencode(".png", picture, png));
  const cv::Mat decoded = (*codecs)->imdecode(cv::Mat(png), cv::IMREAD_COLOR);
  ASSERT_EQ(decoded.size(), picture.size());
  EXPECT_EQ(cv::norm(decoded, picture, cv::NORM_INF), 0.0);  // PNG is lossless

  const auto path = std::filesystem::temp_directory_path() / ("coedge-plugin-" + std::to_string(::getpid()) + ".png");
  ASSERT_TRUE(cv::imwrite(path.string(), picture));
  const cv::Mat read = (*codecs)->imread(path.string(), cv::IMREAD_COLOR);
  std::filesystem::remove(path);
  ASSERT_EQ(read.size(), picture.size());
  EXPECT_TRUE((*codecs)->imread("/nonexistent.png", cv::IMREAD_COLOR).empty());

  auto video = (*codecs)->video_capture();
  ASSERT_NE(video, nullptr);
  EXPECT_FALSE(video->open("/nonexistent.mp4", cv::CAP_FFMPEG));
  EXPECT_FALSE(video->is_opened());
  // The cached loader finds the same plugin (the build tree's, for a test program).
  auto cached = media::codecs();
  ASSERT_TRUE(cached.ok()) << cached.error().message;
}

}  // namespace
}  // namespace coedge::media
