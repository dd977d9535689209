// Paths of the generated models (tools/gen_models.py, built by the `models` target) and
// small helpers for the inference tests.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace coedge::testing {

inline std::string model_path(const std::string& name) {
  return std::string(COEDGE_BINARY_DIR) + "/models/" + name + ".onnx";
}
inline std::string fixture_path(const std::string& name) {
  return std::string(COEDGE_BINARY_DIR) + "/models/fixtures/" + name + ".onnx";
}

// A street-like test picture: sky, road, a car-coloured box. Deterministic.
inline cv::Mat test_picture(int width = 640, int height = 480) {
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(200, 160, 120));
  cv::rectangle(img, cv::Rect(0, height / 2, width, height / 2), cv::Scalar(80, 80, 80), cv::FILLED);
  cv::rectangle(img, cv::Rect(width / 3, height / 2 - height / 8, width / 4, height / 6),
                cv::Scalar(30, 30, 200), cv::FILLED);
  cv::circle(img, cv::Point(width / 3 + width / 16, height / 2 + height / 24), height / 20,
             cv::Scalar(10, 10, 10), cv::FILLED);
  return img;
}

inline std::vector<uint8_t> encode(const cv::Mat& img, const std::string& ext) {
  std::vector<uint8_t> bytes;
  cv::imencode(ext, img, bytes);
  return bytes;
}

}  // namespace coedge::testing
