// The image format allow-list (media/image_format.h): every format OpenCV writes here is
// recognised from the bytes OpenCV itself wrote (so the signatures are OpenCV's); JPEG,
// PNG, PPM/PGM and BMP pass, the others are refused naming the format, even though
// OpenCV would decode them (which is the point); file reading names the file and refuses
// what is not a regular file or too large.
#include "media/image_format.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace coedge::media {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<uint8_t> encode(const std::string& ext, const cv::Mat& image) {
  std::vector<uint8_t> bytes;
  try {
    if (!cv::imencode(ext, image, bytes)) bytes.clear();
  } catch (const cv::Exception&) {
    bytes.clear();  // this OpenCV has no writer for it
  }
  return bytes;
}

const cv::Mat kPicture(48, 64, CV_8UC3, cv::Scalar(10, 120, 230));

TEST(ImageFormat, AllowedFormatsAsOpenCvWritesThem) {
  const std::vector<std::pair<std::string, ImageFormat>> allowed{
      {".jpg", ImageFormat::kJpeg}, {".png", ImageFormat::kPng}, {".ppm", ImageFormat::kPnm},
      {".pgm", ImageFormat::kPnm},  {".bmp", ImageFormat::kBmp}};
  for (const auto& [ext, format] : allowed) {
    const cv::Mat image = ext == ".pgm" ? cv::Mat(48, 64, CV_8UC1, cv::Scalar(7)) : kPicture;
    const std::vector<uint8_t> bytes = encode(ext, image);
    ASSERT_FALSE(bytes.empty()) << ext;
    EXPECT_EQ(sniff_image_format(bytes), format) << ext;
    EXPECT_TRUE(is_allowed(format)) << ext;
    EXPECT_TRUE(check_image_format(bytes, "x").ok()) << ext;
  }
  // The ASCII variants OpenCV writes with IMWRITE_PXM_BINARY = 0 (P3, P2).
  std::vector<uint8_t> ascii;
  ASSERT_TRUE(cv::imencode(".ppm", kPicture, ascii, {cv::IMWRITE_PXM_BINARY, 0}));
  EXPECT_EQ(ascii[1], '3');
  EXPECT_TRUE(check_image_format(ascii, "x").ok());
}

TEST(ImageFormat, OtherFormatsAreRefusedByNameThoughOpenCvWouldDecodeThem) {
  const cv::Mat gray(48, 64, CV_8UC1, cv::Scalar(0));
  const std::vector<std::tuple<std::string, cv::Mat, ImageFormat, std::string>> refused{
      {".tiff", kPicture, ImageFormat::kTiff, "TIFF"},
      {".webp", kPicture, ImageFormat::kWebp, "WebP"},
      {".jp2", kPicture, ImageFormat::kJpeg2000, "JPEG 2000"},
      {".hdr", [] { cv::Mat f; kPicture.convertTo(f, CV_32FC3, 1 / 255.0); return f; }(), ImageFormat::kHdr,
       "Radiance HDR"},
      {".ras", kPicture, ImageFormat::kSunRaster, "Sun raster"},
      {".pbm", gray, ImageFormat::kPbm, "PBM"},
      {".pam", kPicture, ImageFormat::kPam, "PAM"},
      {".pfm", [] { cv::Mat f; kPicture.convertTo(f, CV_32FC3, 1 / 255.0); return f; }(), ImageFormat::kPfm, "PFM"},
      {".exr", [] { cv::Mat f; kPicture.convertTo(f, CV_32FC3, 1 / 255.0); return f; }(), ImageFormat::kOpenExr,
       "OpenEXR"},
  };
  int checked = 0;
  for (const auto& [ext, image, format, name] : refused) {
    const std::vector<uint8_t> bytes = encode(ext, image);
    if (bytes.empty()) continue;  // not written by this OpenCV build (OpenEXR is often off)
    ++checked;
    EXPECT_EQ(sniff_image_format(bytes), format) << ext;
    EXPECT_FALSE(is_allowed(format)) << ext;
    Status s = check_image_format(bytes, "frame.png");
    ASSERT_FALSE(s.ok()) << ext;
    EXPECT_EQ(s.error().code, ErrorCode::kUnsupported);
    EXPECT_EQ(s.error().message, "frame.png: a " + name +
                                     " image; only JPEG, PNG, PPM/PGM or BMP images are decoded (docs/SECURITY.md)");
  }
  EXPECT_GE(checked, 8);  // all of them but OpenEXR, which some OpenCV builds lack
  // What the allow-list is for: OpenCV decodes a TIFF named anything.
  const std::vector<uint8_t> tiff = encode(".tiff", kPicture);
  ASSERT_FALSE(tiff.empty());
  EXPECT_FALSE(cv::imdecode(tiff, cv::IMREAD_COLOR).empty());
}

TEST(ImageFormat, HandMadeSignatures) {
  auto bytes = [](std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  using namespace std::string_view_literals;
  EXPECT_EQ(sniff_image_format(bytes("GIF89a....")), ImageFormat::kGif);
  EXPECT_EQ(sniff_image_format(bytes("\x76\x2F\x31\x01rest"sv)), ImageFormat::kOpenExr);
  EXPECT_EQ(sniff_image_format(bytes("MM\0*...."sv)), ImageFormat::kTiff);
  EXPECT_EQ(sniff_image_format(bytes("P6\n1 1\n255\n")), ImageFormat::kPnm);
  EXPECT_EQ(sniff_image_format(bytes("P5 1 1 255 ")), ImageFormat::kPnm);
  EXPECT_EQ(sniff_image_format(bytes("P6x")), ImageFormat::kUnknown);  // OpenCV wants whitespace too
  EXPECT_EQ(sniff_image_format(bytes("\xFF\xD8")), ImageFormat::kUnknown);  // truncated JPEG
  EXPECT_EQ(sniff_image_format(bytes("")), ImageFormat::kUnknown);
  Status text = check_image_format(bytes("hello, world"), "notes.png");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(text.error().message,
            "notes.png: not an image in a known format; only JPEG, PNG, PPM/PGM or BMP images are decoded "
            "(docs/SECURITY.md)");
  Status empty = check_image_format({}, "x");
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(contains(empty.error().message, "x: empty, not an image")) << empty.error().message;
}

class ImageFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-image-format-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return p.string();
  }
  fs::path dir_;
};

TEST_F(ImageFileTest, ReadsAnAllowedImageAndRefusesTheRestNamingTheFile) {
  const std::vector<uint8_t> png = encode(".png", kPicture);
  auto ok = read_image_file(write("a.png", png));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, png);

  const std::string tiff_path = write("b.png", encode(".tiff", kPicture));  // a TIFF named .png
  auto tiff = read_image_file(tiff_path);
  ASSERT_FALSE(tiff.ok());
  EXPECT_EQ(tiff.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(tiff.error().message, "image " + tiff_path +
                                      ": a TIFF image; only JPEG, PNG, PPM/PGM or BMP images are decoded (docs/SECURITY.md)");

  auto missing = read_image_file((dir_ / "none.png").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(missing.error().message, (dir_ / "none.png").string())) << missing.error().message;

  auto big = read_image_file(write("c.png", png), png.size() - 1);
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(contains(big.error().message, "an image file has at most")) << big.error().message;

  auto folder = read_image_file(dir_.string());
  ASSERT_FALSE(folder.ok());
  EXPECT_TRUE(contains(folder.error().message, "not a regular file")) << folder.error().message;
  const std::string fifo = (dir_ / "fifo.png").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto pipe = read_image_file(fifo);  // refused, not waited on for a writer
  ASSERT_FALSE(pipe.ok());
  EXPECT_TRUE(contains(pipe.error().message, "not a regular file")) << pipe.error().message;
}

}  // namespace
}  // namespace coedge::media
