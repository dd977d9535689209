// decode_ros_frame: ROS 2 images of every accepted encoding, real JPEG/PNG files, and what
// a peer may send wrong.
#include "node/cluster/ros_frame.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace coedge::node {
namespace {

// A 64x48 BGR test card: every pixel differs from its neighbours.
cv::Mat card(int w = 64, int h = 48) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 4, y * 5, (x + y) * 2);
  return m;
}

net::Image raw(const cv::Mat& m, const std::string& encoding, uint32_t pad = 0) {
  net::Image image;
  image.encoding = encoding;
  image.width = m.cols;
  image.height = m.rows;
  image.step = m.cols * m.channels() + pad;
  for (int y = 0; y < m.rows; ++y) {
    image.data.insert(image.data.end(), m.ptr<uint8_t>(y), m.ptr<uint8_t>(y) + m.cols * m.channels());
    image.data.insert(image.data.end(), pad, 0);
  }
  return image;
}

net::Image encoded(const cv::Mat& m, const std::string& ext, const std::string& format) {
  net::Image image;
  image.compressed = true;
  image.encoding = format;
  cv::imencode(ext, m, image.data);
  return image;
}

double max_diff(const cv::Mat& a, const cv::Mat& b) {
  double d = 0;
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  cv::minMaxLoc(diff.reshape(1), nullptr, &d);
  return d;
}

TEST(RosFrameTest, Bgr8IsTheFrameAsItIs) {
  const cv::Mat m = card();
  const net::Image image = raw(m, "bgr8", 16);  // a padded step
  const RosFrame f = decode_ros_frame(image, 1280, 720);
  ASSERT_TRUE(f.ok()) << f.why;
  EXPECT_EQ(f.bgr.type(), CV_8UC3);
  EXPECT_EQ(max_diff(f.bgr, m), 0);
}

TEST(RosFrameTest, Rgb8IsSwappedToBgr) {
  const cv::Mat m = card();
  cv::Mat rgb;
  cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
  const RosFrame f = decode_ros_frame(raw(rgb, "rgb8"), 1280, 720);
  ASSERT_TRUE(f.ok()) << f.why;
  EXPECT_EQ(max_diff(f.bgr, m), 0);
}

TEST(RosFrameTest, Mono8BecomesThreeEqualChannels) {
  cv::Mat gray;
  cv::cvtColor(card(), gray, cv::COLOR_BGR2GRAY);
  const RosFrame f = decode_ros_frame(raw(gray, "mono8", 3), 1280, 720);
  ASSERT_TRUE(f.ok()) << f.why;
  ASSERT_EQ(f.bgr.type(), CV_8UC3);
  cv::Mat back;
  cv::cvtColor(gray, back, cv::COLOR_GRAY2BGR);
  EXPECT_EQ(max_diff(f.bgr, back), 0);
}

TEST(RosFrameTest, JpegAndPngDecode) {
  const cv::Mat m = card();
  for (const auto& [ext, format] : {std::pair{".jpg", "jpeg"}, {".jpg", "bgr8; jpeg compressed bgr8"},
                                    {".png", "png"}, {".png", "rgb8; png compressed bgr8"}}) {
    const RosFrame f = decode_ros_frame(encoded(m, ext, format), 1280, 720);
    ASSERT_TRUE(f.ok()) << format << ": " << f.why;
    EXPECT_EQ(f.bgr.type(), CV_8UC3);
    EXPECT_EQ(f.bgr.cols, 64);
    EXPECT_EQ(f.bgr.rows, 48);
    if (std::string(ext) == ".png") EXPECT_EQ(max_diff(f.bgr, m), 0);   // lossless
    else EXPECT_LT(max_diff(f.bgr, m), 64);                               // close
  }
  // A grayscale PNG is read as BGR too.
  cv::Mat gray;
  cv::cvtColor(m, gray, cv::COLOR_BGR2GRAY);
  const RosFrame g = decode_ros_frame(encoded(gray, ".png", "png"), 1280, 720);
  ASSERT_TRUE(g.ok()) << g.why;
  EXPECT_EQ(g.bgr.type(), CV_8UC3);
}

TEST(RosFrameTest, UnknownEncodingsAreRejectedByName) {
  const cv::Mat m = card();
  for (const char* encoding : {"yuv422", "16UC1", "bayer_rggb8", "rgba8", ""}) {
    const RosFrame f = decode_ros_frame(raw(m, encoding), 1280, 720);
    EXPECT_EQ(f.rejected, FrameRejection::kEncoding) << encoding;
    EXPECT_NE(f.why.find(std::string("'") + encoding + "'"), std::string::npos) << f.why;
  }
  for (const char* format : {"tiff", "16UC1; compressedDepth png", "webp"}) {
    const RosFrame f = decode_ros_frame(encoded(m, ".png", format), 1280, 720);
    EXPECT_EQ(f.rejected, FrameRejection::kEncoding) << format;
    EXPECT_NE(f.why.find(format), std::string::npos) << f.why;
  }
  EXPECT_STREQ(frame_rejection_name(FrameRejection::kEncoding), "encoding");
  EXPECT_STREQ(frame_rejection_name(FrameRejection::kTooLarge), "too_large");
}

TEST(RosFrameTest, InconsistentRawSizesAreRejected) {
  const cv::Mat m = card();
  net::Image step = raw(m, "bgr8");
  step.step = 64 * 3 - 1;  // shorter than a row
  RosFrame f = decode_ros_frame(step, 1280, 720);
  EXPECT_EQ(f.rejected, FrameRejection::kSize);
  EXPECT_NE(f.why.find("step 191"), std::string::npos) << f.why;
  net::Image mono_step = raw(m, "mono8");  // 3 bytes a pixel sent as mono8 is fine (step > w)
  EXPECT_TRUE(decode_ros_frame(mono_step, 1280, 720).ok());
  net::Image shortdata = raw(m, "bgr8");
  shortdata.data.resize(shortdata.data.size() - 1);
  EXPECT_EQ(decode_ros_frame(shortdata, 1280, 720).rejected, FrameRejection::kSize);
  net::Image longdata = raw(m, "bgr8");  // sensor_msgs/Image: data is step x height bytes
  longdata.data.push_back(0);
  RosFrame lf = decode_ros_frame(longdata, 1280, 720);
  EXPECT_EQ(lf.rejected, FrameRejection::kSize);
  EXPECT_NE(lf.why.find("not step x height"), std::string::npos) << lf.why;
  // A padded row far beyond the sensor's widest (memory the peer would make us hold).
  net::Image wide_step = raw(m, "bgr8");
  wide_step.step = 4 * 1280 + 4096 + 1;
  wide_step.data.assign(static_cast<size_t>(wide_step.step) * m.rows, 0);
  EXPECT_EQ(decode_ros_frame(wide_step, 1280, 720).rejected, FrameRejection::kTooLarge);
  net::Image padded = raw(m, "bgr8", 4096);  // padding within the bound
  EXPECT_TRUE(decode_ros_frame(padded, 1280, 720).ok());
  net::Image zero = raw(m, "rgb8");
  zero.width = 0;
  EXPECT_EQ(decode_ros_frame(zero, 1280, 720).rejected, FrameRejection::kSize);
  // Declared sizes far beyond the data (a lying header) never index past it.
  net::Image huge = raw(m, "bgr8");
  huge.width = 4'000'000'000u;
  huge.height = 4'000'000'000u;
  EXPECT_EQ(decode_ros_frame(huge, 1280, 720).rejected, FrameRejection::kTooLarge);
  EXPECT_EQ(decode_ros_frame(huge, 2'000'000'000, 2'000'000'000).rejected, FrameRejection::kTooLarge);
}

TEST(RosFrameTest, FramesLargerThanTheSensorsLargestAreRejected) {
  const cv::Mat m = card();
  const RosFrame r = decode_ros_frame(raw(m, "bgr8"), 63, 720);
  EXPECT_EQ(r.rejected, FrameRejection::kTooLarge);
  EXPECT_NE(r.why.find("64x48"), std::string::npos) << r.why;
  EXPECT_EQ(decode_ros_frame(encoded(m, ".jpg", "jpeg"), 64, 47).rejected, FrameRejection::kTooLarge);
  EXPECT_EQ(decode_ros_frame(encoded(m, ".png", "png"), 64, 47).rejected, FrameRejection::kTooLarge);
  EXPECT_TRUE(decode_ros_frame(encoded(m, ".png", "png"), 64, 48).ok());
}

// image_transport's 16-bit images (depth, mono16) would decode to a black 8-bit frame: refused
// by their format and by the PNG's own bit depth; its 8-bit formats are taken.
TEST(RosFrameTest, SixteenBitCompressedImagesAreRejectedAsEncoding) {
  cv::Mat deep(48, 64, CV_16UC1, cv::Scalar(1234));
  const RosFrame by_format = decode_ros_frame(encoded(deep, ".png", "16UC1; png compressed mono16"), 640, 480);
  EXPECT_EQ(by_format.rejected, FrameRejection::kEncoding) << by_format.why;
  const RosFrame by_depth = decode_ros_frame(encoded(deep, ".png", "png"), 640, 480);
  EXPECT_EQ(by_depth.rejected, FrameRejection::kEncoding) << by_depth.why;
  EXPECT_NE(by_depth.why.find("16-bit"), std::string::npos) << by_depth.why;
  EXPECT_TRUE(decode_ros_frame(encoded(card(), ".jpg", "bgr8; jpeg compressed bgr8"), 640, 480).ok());
  EXPECT_TRUE(decode_ros_frame(encoded(card(), ".png", "rgb8; png compressed bgr8"), 640, 480).ok());
}

// A compressed frame larger than its largest frame uncompressed is refused before anything
// reads it (cv::Mat takes an int length: a 2 GiB sample must not reach it).
TEST(RosFrameTest, ACompressedFileLargerThanItsFrameIsTooLarge) {
  net::Image image = encoded(card(), ".jpg", "jpeg");
  image.data.resize(64 * 48 * 4 + 65536 + 1, 0);
  const RosFrame r = decode_ros_frame(image, 64, 48);
  EXPECT_EQ(r.rejected, FrameRejection::kTooLarge) << r.why;
  image.data.resize(64 * 48 * 4 + 65536);  // within the bound: the JPEG still decodes
  EXPECT_TRUE(decode_ros_frame(image, 64, 48).ok());
}

TEST(RosFrameTest, AHugeDeclaredSizeIsRejectedBeforeDecoding) {
  // A small PNG/JPEG whose header claims 60000x60000 (a decompression bomb): too_large
  // from the header alone.
  net::Image png = encoded(card(), ".png", "png");
  png.data[16] = 0; png.data[17] = 0; png.data[18] = 0xEA; png.data[19] = 0x60;   // width 60000
  png.data[20] = 0; png.data[21] = 0; png.data[22] = 0xEA; png.data[23] = 0x60;   // height
  RosFrame f = decode_ros_frame(png, 1920, 1080);
  EXPECT_EQ(f.rejected, FrameRejection::kTooLarge);
  EXPECT_NE(f.why.find("60000x60000"), std::string::npos) << f.why;
  net::Image jpg = encoded(card(), ".jpg", "jpeg");
  bool patched = false;
  for (size_t i = 2; i + 8 < jpg.data.size(); ++i) {
    if (jpg.data[i] == 0xFF && jpg.data[i + 1] == 0xC0) {
      jpg.data[i + 5] = 0xEA; jpg.data[i + 6] = 0x60;   // height
      jpg.data[i + 7] = 0xEA; jpg.data[i + 8] = 0x60;   // width
      patched = true;
      break;
    }
  }
  ASSERT_TRUE(patched);
  f = decode_ros_frame(jpg, 1920, 1080);
  EXPECT_EQ(f.rejected, FrameRejection::kTooLarge);
  EXPECT_NE(f.why.find("60000x60000"), std::string::npos) << f.why;
}

TEST(RosFrameTest, GarbageAndTruncatedFilesAreCorrupt) {
  const cv::Mat m = card();
  // Not the format's magic: a PNG sent as jpeg, and random bytes.
  EXPECT_EQ(decode_ros_frame(encoded(m, ".png", "jpeg"), 1280, 720).rejected, FrameRejection::kCorrupt);
  EXPECT_EQ(decode_ros_frame(encoded(m, ".jpg", "png"), 1280, 720).rejected, FrameRejection::kCorrupt);
  net::Image garbage;
  garbage.compressed = true;
  garbage.encoding = "jpeg";
  garbage.data.assign(1000, 0x5A);
  EXPECT_EQ(decode_ros_frame(garbage, 1280, 720).rejected, FrameRejection::kCorrupt);
  garbage.data.clear();
  EXPECT_EQ(decode_ros_frame(garbage, 1280, 720).rejected, FrameRejection::kCorrupt);
  // Cut inside the header.
  net::Image jpg = encoded(m, ".jpg", "jpeg");
  jpg.data.resize(12);
  EXPECT_EQ(decode_ros_frame(jpg, 1280, 720).rejected, FrameRejection::kCorrupt);
  net::Image png = encoded(m, ".png", "png");
  png.data.resize(20);
  EXPECT_EQ(decode_ros_frame(png, 1280, 720).rejected, FrameRejection::kCorrupt);
  // A PNG cut after its header: its header is fine, its pixel data does not decode.
  net::Image cut = encoded(m, ".png", "png");
  cut.data.resize(cut.data.size() / 2);
  const RosFrame f = decode_ros_frame(cut, 1280, 720);
  EXPECT_EQ(f.rejected, FrameRejection::kCorrupt);
  EXPECT_NE(f.why.find("64x48"), std::string::npos) << f.why;
  // A PNG header edited after encoding (its CRC no longer matches) is not trusted.
  net::Image lying = encoded(m, ".png", "png");
  lying.data[19] = 63;  // IHDR width 63
  EXPECT_NE(decode_ros_frame(lying, 1280, 720).rejected, FrameRejection::kNone);
}

}  // namespace
}  // namespace coedge::node
