#include "infer/opencv_backend.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include "infer/onnx_info.h"

namespace coedge::infer {
namespace {

class OpencvModel final : public Model {
 public:
  OpencvModel(std::string path, ModelInfo info, cv::dnn::Net net)
      : Model(std::move(path), std::move(info)), net_(std::move(net)) {}

 protected:
  Result<Tensor> forward(const Tensor& input) override {
    try {
      std::vector<int> dims(input.shape.begin(), input.shape.end());
      // OpenCV reads the buffer in place: no copy of the batch.
      const cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F,
                         const_cast<float*>(input.data.data()));
      net_.setInput(blob);
      const cv::Mat out = net_.forward();
      Tensor result;
      for (int i = 0; i < out.dims; ++i) result.shape.push_back(out.size[i]);
      const cv::Mat dense = out.isContinuous() ? out : out.clone();
      const auto* begin = dense.ptr<float>();
      result.data.assign(begin, begin + dense.total());
      return result;
    } catch (const cv::Exception& e) {
      return Error{ErrorCode::kUnsupported,
                   path() + ": inference failed in OpenCV DNN: " + e.what()};
    }
  }

 private:
  cv::dnn::Net net_;
};

}  // namespace

OpencvBackend::OpencvBackend(const BackendOptions& options) {
  // OpenCV logs to stderr on its own; our callers report errors themselves.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  if (options.threads > 0) cv::setNumThreads(options.threads);
}

Result<std::unique_ptr<Model>> OpencvBackend::load(const std::string& onnx_path) {
  auto info = read_onnx_info(onnx_path);
  if (!info.ok()) return info.error();
  if (info->inputs.size() != 1) {
    return Error{ErrorCode::kUnsupported, onnx_path + ": the model has " +
                                              std::to_string(info->inputs.size()) +
                                              " inputs; CoEdge runs models with one input"};
  }
  const auto& input = info->inputs.front();
  if (input.element_type != 1 || input.shape.size() < 2) {
    return Error{ErrorCode::kUnsupported,
                 onnx_path + ": input '" + input.name + "' must be a float tensor with a batch "
                 "axis, got type " + std::to_string(input.element_type) + " shape " +
                 shape_string(input.shape)};
  }
  for (size_t i = 1; i < input.shape.size(); ++i) {
    if (input.shape[i] <= 0) {
      return Error{ErrorCode::kUnsupported,
                   onnx_path + ": input '" + input.name + "' " + shape_string(input.shape) +
                       " has a dynamic dimension other than the batch; export it with fixed sizes"};
    }
  }
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx_path);
    if (net.empty()) return Error{ErrorCode::kUnsupported, onnx_path + ": OpenCV DNN read an empty network"};
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    // Build the network now, with a batch of one, so that an operator OpenCV cannot run
    // fails at load time and not on the first job.
    std::vector<int> dims(input.shape.begin(), input.shape.end());
    dims[0] = input.shape[0] > 0 ? static_cast<int>(input.shape[0]) : 1;
    cv::Mat probe(static_cast<int>(dims.size()), dims.data(), CV_32F, cv::Scalar(0));
    net.setInput(probe);
    net.forward();
    return std::unique_ptr<Model>(std::make_unique<OpencvModel>(onnx_path, std::move(info.value()),
                                                                 std::move(net)));
  } catch (const cv::Exception& e) {
    return Error{ErrorCode::kUnsupported,
                 onnx_path + ": OpenCV DNN cannot load this model: " + e.err};
  }
}

}  // namespace coedge::infer
