// FrameSource: synthetic frames (size, type, change per frame, determinism), folders
// (name order, loop or end, a corrupt file skipped with an error naming it, grayscale and
// BGRA converted, empty and missing folders), video (written with cv::VideoWriter, read
// back with and without loop) and the open errors.
#include "node/frame_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

namespace coedge::node {
namespace {

namespace fs = std::filesystem;

// A replayed source's next() as a frame or its error: replayed sources always have a
// frame (only live streams have none), which this checks.
Result<cv::Mat> take(FrameSource& source) {
  Result<NextFrame> frame = source.next();
  if (!frame.ok()) return frame.error();
  EXPECT_TRUE(frame->has_value()) << "a replayed source returned no frame";
  if (!frame->has_value()) return Error{ErrorCode::kIo, "no frame"};
  return std::move(**frame);
}

// Byte equality. Not cv::norm: its first call initializes OpenCL, which costs a second.
bool same(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  for (int y = 0; y < a.rows; ++y) {
    if (std::memcmp(a.ptr(y), b.ptr(y), a.cols * a.elemSize()) != 0) return false;
  }
  return true;
}

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("coedge-frames-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

config::SensorConfig synthetic(int width, int height) {
  config::SensorConfig c;
  c.name = "cam";
  c.kind = config::SensorKind::kSynthetic;
  c.width = width;
  c.height = height;
  return c;
}

config::SensorConfig folder(const fs::path& dir, bool loop) {
  config::SensorConfig c;
  c.name = "cam";
  c.kind = config::SensorKind::kFolder;
  c.path = dir.string();
  c.loop = loop;
  return c;
}

// A solid image whose blue value identifies it.
cv::Mat tagged(int tag, int width = 32, int height = 24) {
  return cv::Mat(height, width, CV_8UC3, cv::Scalar(tag, 100, 200));
}

int tag_of(const cv::Mat& frame) { return frame.at<cv::Vec3b>(0, 0)[0]; }

TEST(FrameSourceTest, SyntheticFramesHaveTheSizeChangeEachFrameAndAreDeterministic) {
  auto a = node::open_frame_source(synthetic(1280, 720));
  auto b = node::open_frame_source(synthetic(1280, 720));
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*a)->describe(), "synthetic 1280x720");
  cv::Mat previous;
  for (int i = 0; i < 60; ++i) {
    auto fa = take(**a);
    auto fb = take(**b);
    ASSERT_TRUE(fa.ok() && fb.ok());
    EXPECT_EQ(fa->cols, 1280);
    EXPECT_EQ(fa->rows, 720);
    EXPECT_EQ(fa->type(), CV_8UC3);
    EXPECT_TRUE(same(*fa, *fb)) << "frame " << i << " differs between two sources";
    EXPECT_EQ((*a)->origin().index, i) << "a synthetic frame's identity is its counter";
    if (i > 0) {
      EXPECT_FALSE(same(*fa, previous)) << "frame " << i << " repeats";
    }
    previous = *fa;
  }
}

TEST(FrameSourceTest, TinySyntheticFramesStillChange) {
  auto source = node::open_frame_source(synthetic(16, 16));
  ASSERT_TRUE(source.ok()) << source.error().message;
  cv::Mat first = take(**source)->clone();
  for (int i = 0; i < 600; ++i) {  // past a full roll of the base picture
    auto frame = take(**source);
    ASSERT_TRUE(frame.ok());
    EXPECT_EQ(frame->size(), cv::Size(16, 16));
    EXPECT_FALSE(same(*frame, first)) << i;
    first = frame->clone();
  }
}

TEST(FrameSourceTest, SyntheticSizeOutOfRangeIsAnError) {
  for (auto [w, h] : {std::pair{15, 100}, std::pair{100, 8193}, std::pair{0, 0}}) {
    auto source = node::open_frame_source(synthetic(w, h));
    ASSERT_FALSE(source.ok()) << w << "x" << h;
    EXPECT_NE(source.error().message.find("16..8192"), std::string::npos);
    EXPECT_NE(source.error().message.find("'cam'"), std::string::npos);
  }
  EXPECT_TRUE(node::open_frame_source(synthetic(16, 8192)).ok());
}

TEST(FrameSourceTest, FolderReplaysImagesInNameOrderAndLoops) {
  TempDir dir("loop");
  // Written out of order, mixed formats and extension case; non-images are ignored.
  ASSERT_TRUE(cv::imwrite((dir.path() / "b.png").string(), tagged(20)));
  ASSERT_TRUE(cv::imwrite((dir.path() / "a.PNG").string(), tagged(10)));
  ASSERT_TRUE(cv::imwrite((dir.path() / "c.bmp").string(), tagged(30)));
  std::ofstream(dir.path() / "notes.txt") << "not an image";
  fs::create_directories(dir.path() / "sub.png");  // a folder, not an image

  auto source = node::open_frame_source(folder(dir.path(), true));
  ASSERT_TRUE(source.ok()) << source.error().message;
  EXPECT_EQ((*source)->describe(), "folder " + dir.path().string() + " (3 images)");
  EXPECT_EQ((*source)->origin().file, "") << "no frame yet";
  const std::vector<std::string> names{"a.PNG", "b.png", "c.bmp"};
  size_t n = 0;
  for (int expected : {10, 20, 30, 10, 20, 30, 10}) {  // second pass comes from the cache
    auto frame = take(**source);
    ASSERT_TRUE(frame.ok()) << frame.error().message;
    // The frame's identity: its file name, without the folder.
    EXPECT_EQ((*source)->origin().file, names[n++ % 3]);
    EXPECT_EQ((*source)->origin().index, -1);
    EXPECT_EQ(frame->type(), CV_8UC3);
    EXPECT_EQ(frame->size(), cv::Size(32, 24));
    EXPECT_EQ(tag_of(*frame), expected);
    frame->setTo(cv::Scalar(0, 0, 0));  // must not reach the cached copy
  }
}

TEST(FrameSourceTest, FolderWithoutLoopEnds) {
  TempDir dir("noloop");
  ASSERT_TRUE(cv::imwrite((dir.path() / "1.jpg").string(), tagged(50)));
  ASSERT_TRUE(cv::imwrite((dir.path() / "2.jpeg").string(), tagged(150)));
  auto source = node::open_frame_source(folder(dir.path(), false));
  ASSERT_TRUE(source.ok()) << source.error().message;
  auto first = take(**source);
  auto second = take(**source);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NEAR(tag_of(*first), 50, 3);  // JPEG is lossy
  EXPECT_NEAR(tag_of(*second), 150, 3);
  for (int i = 0; i < 2; ++i) {
    auto end = take(**source);
    ASSERT_FALSE(end.ok());
    EXPECT_TRUE(node::is_end_of_frames(end.error()));
    EXPECT_EQ(end.error().message.rfind("end of folder " + dir.path().string(), 0), 0u)
        << end.error().message;
  }
}

TEST(FrameSourceTest, CorruptImageIsAnErrorNamingItAndTheNextCallContinues) {
  TempDir dir("corrupt");
  ASSERT_TRUE(cv::imwrite((dir.path() / "a.png").string(), tagged(10)));
  {
    std::ofstream bad(dir.path() / "b.jpg", std::ios::binary);
    cv::RNG rng(7);
    for (int i = 0; i < 4096; ++i) bad.put(static_cast<char>(rng.uniform(0, 256)));
  }
  ASSERT_TRUE(cv::imwrite((dir.path() / "c.png").string(), tagged(30)));

  auto source = node::open_frame_source(folder(dir.path(), true));
  ASSERT_TRUE(source.ok()) << source.error().message;
  for (int pass = 0; pass < 2; ++pass) {
    auto a = take(**source);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(tag_of(*a), 10);
    auto b = take(**source);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ((*source)->origin().file, "b.jpg") << "the frame that failed is named too";
    EXPECT_FALSE(node::is_end_of_frames(b.error()));
    EXPECT_NE(b.error().message.find((dir.path() / "b.jpg").string()), std::string::npos)
        << b.error().message;
    auto c = take(**source);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(tag_of(*c), 30);
  }
}

TEST(FrameSourceTest, GrayscaleAndBgraImagesBecomeBgr) {
  TempDir dir("channels");
  ASSERT_TRUE(cv::imwrite((dir.path() / "a.png").string(), cv::Mat(8, 40, CV_8UC1, cv::Scalar(77))));
  ASSERT_TRUE(cv::imwrite((dir.path() / "b.png").string(),
                          cv::Mat(20, 20, CV_8UC4, cv::Scalar(1, 2, 3, 128))));
  ASSERT_TRUE(cv::imwrite((dir.path() / "c.pgm").string(), cv::Mat(16, 16, CV_8UC1, cv::Scalar(5))));
  auto source = node::open_frame_source(folder(dir.path(), false));
  ASSERT_TRUE(source.ok()) << source.error().message;
  auto gray = take(**source);
  ASSERT_TRUE(gray.ok());
  EXPECT_EQ(gray->type(), CV_8UC3);
  EXPECT_EQ(gray->size(), cv::Size(40, 8));
  EXPECT_EQ(gray->at<cv::Vec3b>(0, 0), cv::Vec3b(77, 77, 77));
  auto bgra = take(**source);
  ASSERT_TRUE(bgra.ok());
  EXPECT_EQ(bgra->type(), CV_8UC3);
  EXPECT_EQ(bgra->at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));
  auto pgm = take(**source);
  ASSERT_TRUE(pgm.ok());
  EXPECT_EQ(pgm->type(), CV_8UC3);
}

// An image in a format outside the allow-list (media/image_format.h) is refused with an
// error naming the file and the format, whatever its name: OpenCV would decode this TIFF.
TEST(FrameSourceTest, ImageInARefusedFormatIsAnErrorNamingFileAndFormat) {
  TempDir dir("refused");
  std::vector<uint8_t> tiff;
  ASSERT_TRUE(cv::imencode(".tiff", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), tiff));
  std::ofstream(dir.path() / "a.png", std::ios::binary).write(reinterpret_cast<const char*>(tiff.data()), tiff.size());
  ASSERT_TRUE(cv::imwrite((dir.path() / "b.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(4, 5, 6))));
  auto source = node::open_frame_source(folder(dir.path(), false));
  ASSERT_TRUE(source.ok()) << source.error().message;
  auto a = take(**source);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(a.error().message.find((dir.path() / "a.png").string() + ": a TIFF image; only JPEG, PNG, PPM/PGM or BMP"),
            std::string::npos)
      << a.error().message;
  auto b = take(**source);  // the next file still reads
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->at<cv::Vec3b>(0, 0), cv::Vec3b(4, 5, 6));
}

TEST(FrameSourceTest, EmptyOrMissingFolderIsAnError) {
  TempDir dir("empty");
  std::ofstream(dir.path() / "readme.txt") << "no images here";
  auto empty = node::open_frame_source(folder(dir.path(), true));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("no images"), std::string::npos) << empty.error().message;
  EXPECT_NE(empty.error().message.find(dir.path().string()), std::string::npos);

  auto missing = node::open_frame_source(folder(dir.path() / "nope", true));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos)
      << missing.error().message;
  EXPECT_NE(missing.error().message.find("'cam'"), std::string::npos);
}

config::SensorConfig video(const fs::path& file, bool loop) {
  config::SensorConfig c;
  c.name = "cam";
  c.kind = config::SensorKind::kVideo;
  c.path = file.string();
  c.loop = loop;
  return c;
}

// Writes `frames` frames of 64x48 whose blue value is 40*i; false if no MJPG writer.
bool write_video(const fs::path& file, int frames) {
  cv::VideoWriter writer;
  try {
    if (!writer.open(file.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10,
                     cv::Size(64, 48))) {
      return false;
    }
  } catch (const cv::Exception&) {
    return false;
  }
  for (int i = 0; i < frames; ++i) writer.write(tagged(40 * i + 20, 64, 48));
  writer.release();
  return true;
}

TEST(FrameSourceTest, VideoIsReadBackAndLoops) {
  TempDir dir("video");
  const fs::path file = dir.path() / "clip.avi";
  if (!write_video(file, 4)) GTEST_SKIP() << "OpenCV has no MJPG/AVI VideoWriter here";

  auto source = node::open_frame_source(video(file, true));
  ASSERT_TRUE(source.ok()) << source.error().message;
  EXPECT_EQ((*source)->describe(), "video " + file.string() + " (64x48, 10 fps)");
  for (int i = 0; i < 10; ++i) {  // two and a half passes
    auto frame = take(**source);
    ASSERT_TRUE(frame.ok()) << i << ": " << frame.error().message;
    EXPECT_EQ(frame->type(), CV_8UC3);
    EXPECT_EQ(frame->size(), cv::Size(64, 48));
    EXPECT_NEAR(tag_of(*frame), 40 * (i % 4) + 20, 6) << "frame " << i;
    EXPECT_EQ((*source)->origin().index, i % 4) << "the frame's index in the file, again from 0 after a loop";
    EXPECT_EQ((*source)->origin().file, "");
  }
}

TEST(FrameSourceTest, VideoWithoutLoopEnds) {
  TempDir dir("video-once");
  const fs::path file = dir.path() / "clip.avi";
  if (!write_video(file, 3)) GTEST_SKIP() << "OpenCV has no MJPG/AVI VideoWriter here";
  auto source = node::open_frame_source(video(file, false));
  ASSERT_TRUE(source.ok()) << source.error().message;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(take(**source).ok()) << i;
  for (int i = 0; i < 2; ++i) {
    auto end = take(**source);
    ASSERT_FALSE(end.ok());
    EXPECT_TRUE(node::is_end_of_frames(end.error()));
    EXPECT_EQ(end.error().message.rfind("end of video " + file.string(), 0), 0u)
        << end.error().message;
  }
}

TEST(FrameSourceTest, UnreadableVideoIsAnErrorNamingIt) {
  TempDir dir("video-bad");
  const fs::path missing = dir.path() / "missing.mp4";
  auto a = node::open_frame_source(video(missing, true));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find(missing.string()), std::string::npos) << a.error().message;

  const fs::path junk = dir.path() / "junk.mp4";
  std::ofstream(junk) << "this is not a video";
  auto b = node::open_frame_source(video(junk, true));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find(junk.string()), std::string::npos) << b.error().message;
}

}  // namespace
}  // namespace coedge::node
