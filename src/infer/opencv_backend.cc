#include "infer/opencv_backend.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include "infer/mapped_file.h"
#include "infer/onnx_info.h"
#include "infer/onnx_normalize.h"

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

cv::dnn::Net import(std::string_view onnx) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx.data(), onnx.size());
  if (net.empty()) CV_Error(cv::Error::StsError, "OpenCV DNN read an empty network");
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

// A batch of `batch` distinct, seeded items of the model's input shape.
cv::Mat probe_batch(const std::vector<int64_t>& shape, int batch) {
  std::vector<int> dims(shape.begin(), shape.end());
  dims[0] = batch;
  cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F);
  cv::RNG rng(13);
  rng.fill(blob, cv::RNG::UNIFORM, -1.0, 1.0);
  return blob;
}

// One item of a batch output, as a flat row.
cv::Mat item(const cv::Mat& out, int i) {
  const size_t per_item = out.total() / static_cast<size_t>(out.size[0]);
  return cv::Mat(1, static_cast<int>(per_item), CV_32F, const_cast<float*>(out.ptr<float>()) + i * per_item);
}

// What OpenCV could not run. Its import errors name the node ("Node [Mul@ai.onnx]:(NAME)
// parse error: ..."); its forward errors name nothing, so the failing layer is searched:
// net.forward(layer) runs every layer up to that one in OpenCV's order, so failure is
// monotone in that order and a bisection finds the first failing layer.
struct Failure {
  std::string op, layer, reason;
};

// OpenCV names a layer "onnx_node!NODE" or, for a node without a name,
// "onnx_node_output_0!OUTPUT": the ONNX name is what the user can find in the file.
std::string onnx_name(std::string layer) {
  if (const auto bang = layer.find('!'); bang != std::string::npos && layer.rfind("onnx_node", 0) == 0)
    layer.erase(0, bang + 1);
  return layer;
}

Failure from_import_error(const cv::Exception& e) {
  Failure f{"", "", e.err};
  const auto node = e.err.find("Node [");
  if (node != std::string::npos) {
    const auto close = e.err.find(']', node);
    const auto paren = e.err.find(":(", node);
    const auto paren_end = paren == std::string::npos ? paren : e.err.find(')', paren);
    if (close != std::string::npos) {
      f.op = e.err.substr(node + 6, close - node - 6);
      if (const auto at = f.op.find('@'); at != std::string::npos) f.op.resize(at);
    }
    if (paren_end != std::string::npos) f.layer = onnx_name(e.err.substr(paren + 2, paren_end - paren - 2));
    const auto parse = e.err.find("parse error: ");
    if (parse != std::string::npos) f.reason = e.err.substr(parse + 13);
  }
  while (!f.reason.empty() && (f.reason.back() == '\n' || f.reason.back() == ' ' || f.reason.back() == '>'))
    f.reason.pop_back();
  return f;
}

Failure first_failing_layer(cv::dnn::Net& net, const cv::Mat& input, std::string_view onnx,
                            const std::string& reason) {
  Failure f{"", "", reason};
  const auto names = net.getLayerNames();
  auto fails = [&](size_t i) {
    try {
      net.setInput(input);
      net.forward(names[i]);
      return false;
    } catch (const cv::Exception& e) {
      f.reason = e.err;
      return true;
    }
  };
  if (names.empty() || !fails(names.size() - 1)) return f;
  size_t lo = 0, hi = names.size() - 1;  // names[hi] fails
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (fails(mid)) hi = mid;
    else lo = mid + 1;
  }
  fails(hi);  // the reason of that layer
  std::string layer = names[hi];
  f.layer = layer = onnx_name(layer);
  f.op = onnx_node_op(onnx, layer);
  const std::string type = net.getLayer(net.getLayerId(names[hi]))->type;
  if (f.op.empty()) f.op = type + " (OpenCV's layer type)";
  else if (type != f.op) f.layer += ", OpenCV layer " + type;
  return f;
}

Error cannot_run(const std::string& path, const Failure& f, int batch) {
  std::string what = f.op.empty() ? "this model" : "operator " + f.op;
  if (!f.layer.empty()) what += " (layer " + f.layer + ")";
  return Error{ErrorCode::kUnsupported,
               path + ": OpenCV DNN 4.6 cannot run " + what + (batch > 0 ? " at batch " + std::to_string(batch) : "") +
                   ": " + f.reason + ". Run " + torchscript_sibling(path) + " on the torch backend (backend: torch)" +
                   (f.op.empty() ? "" : ", or export without " + f.op)};
}

// Each item of `batch` (run as one batch) against the same item run alone in `reference`.
bool same_per_item(cv::dnn::Net& net, cv::dnn::Net& reference, const std::vector<int64_t>& shape, int batch) {
  const cv::Mat input = probe_batch(shape, batch);
  net.setInput(input);
  const cv::Mat out = net.forward().clone();
  if (out.size[0] != batch) return false;
  for (int i = 0; i < batch; ++i) {
    std::vector<int> dims(shape.begin(), shape.end());
    dims[0] = 1;
    const size_t per_item = input.total() / static_cast<size_t>(batch);
    const cv::Mat one(static_cast<int>(dims.size()), dims.data(), CV_32F,
                      const_cast<float*>(input.ptr<float>()) + i * per_item);
    reference.setInput(one);
    const cv::Mat alone = reference.forward().clone();
    const cv::Mat row = item(out, i);
    if (alone.total() != row.total()) return false;
    const cv::Mat flat = alone.reshape(1, 1);
    const double scale = cv::norm(flat, cv::NORM_INF);
    if (cv::norm(flat, row, cv::NORM_INF) > 1e-4 * scale) return false;
  }
  return true;
}

}  // namespace

// Sizes the file left symbolic (-1) beyond the batch axis, from an output measured at
// batch 1; declared sizes stay as they are (Model::run checks outputs against nothing,
// the agent sizes shared memory from these).
static void declare_measured_sizes(std::vector<int64_t>& declared, const cv::Mat& measured) {
  if (measured.dims != static_cast<int>(declared.size())) return;
  for (size_t i = 1; i < declared.size(); ++i)
    if (declared[i] <= 0) declared[i] = measured.size[static_cast<int>(i)];
}

OpencvBackend::OpencvBackend(const BackendOptions& options) : max_batch_(std::max(1, options.max_batch)) {
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
  // The file is untrusted: an item of more than 2^28 floats (1 GiB), or a dimension past
  // what OpenCV's int sizes hold, is refused before OpenCV allocates anything.
  constexpr int64_t kMaxItemElements = int64_t{1} << 28;
  int64_t item_elements = 1;
  for (size_t i = 1; i < input.shape.size(); ++i) {
    if (input.shape[i] <= 0) {
      return Error{ErrorCode::kUnsupported,
                   onnx_path + ": input '" + input.name + "' " + shape_string(input.shape) +
                       " has a dynamic dimension other than the batch; export it with fixed sizes"};
    }
    if (input.shape[i] > kMaxItemElements || item_elements > kMaxItemElements / input.shape[i]) {
      return Error{ErrorCode::kUnsupported, onnx_path + ": input '" + input.name + "' " + shape_string(input.shape) +
                                                " is larger than CoEdge takes (2^28 values per item)"};
    }
    item_elements *= input.shape[i];
  }
  if (input.shape[0] > 1024) {
    return Error{ErrorCode::kUnsupported, onnx_path + ": input '" + input.name + "' fixes the batch size to " +
                                              std::to_string(input.shape[0]) + "; CoEdge runs batches of 1 to 10"};
  }
  // The file, mapped (the normalizer and OpenCV read it from memory; weights are not
  // copied unless the graph is rewritten).
  auto file = MappedFile::open(onnx_path);
  if (!file.ok()) return file.error();
  NormalizeReport report;
  auto normalized = normalize_onnx(file->bytes(), onnx_path, report);
  if (!normalized.ok()) return normalized.error();
  const std::string_view onnx = normalized->has_value() ? std::string_view(**normalized) : file->bytes();
  if (const auto summary = report.summary(); !summary.empty())
    std::fprintf(stderr, "coedge: %s: for OpenCV DNN: %s\n", onnx_path.c_str(), summary.c_str());

  cv::dnn::Net net;
  try {
    net = import(onnx);
  } catch (const cv::Exception& e) {
    return cannot_run(onnx_path, from_import_error(e), 0);
  }
  // Build and run the network now, so that an operator OpenCV cannot run fails at load
  // time and not on the first job: at batch 1 and, when the batch is dynamic, at batch 2
  // too (some layers work at batch 1 only; the scheduler may batch any task).
  const bool dynamic = input.shape[0] <= 0;
  std::vector<int> batches{dynamic ? 1 : static_cast<int>(input.shape[0])};
  if (dynamic) batches.push_back(2);
  for (int batch : batches) {
    cv::Mat probe;
    try {
      probe = probe_batch(input.shape, batch);
      net.setInput(probe);
      const cv::Mat out = net.forward();
      // torch.onnx.export often declares output sizes it could not infer as symbols
      // ([batch, ?, ?] for YOLOv5's Detect, [batch, ?, ?, ?] for DeepLabV3): the pass has
      // just measured them, at batch 1, so the Model declares them.
      if (batch == 1 && !info->outputs.empty()) declare_measured_sizes(info->outputs.front().shape, out);
      continue;
    } catch (const cv::Exception& e) {
      if (probe.empty()) return cannot_run(onnx_path, {"", "", e.err}, batch);
      const Failure failure = first_failing_layer(net, probe, onnx, e.err);
      if (batch == 1 || !dynamic) return cannot_run(onnx_path, failure, batch);
      // Imported with a fixed batch of 2, OpenCV lays out the squeeze-and-excitation Mul
      // so that it runs at every batch size (onnx_normalize.h, pin_onnx_batch). Trusted
      // only if every item of batches of 1, 2 and 3 gives what it gives alone in the dynamic net.
      auto pinned_bytes = pin_onnx_batch(onnx, onnx_path, input.name, 2);
      if (!pinned_bytes.ok()) return cannot_run(onnx_path, failure, batch);
      try {
        cv::dnn::Net pinned = import(*pinned_bytes);
        if (!same_per_item(pinned, net, input.shape, 1) || !same_per_item(pinned, net, input.shape, 2) ||
            !same_per_item(pinned, net, input.shape, 3) ||
            (max_batch_ > 3 && !same_per_item(pinned, net, input.shape, max_batch_)))
          return cannot_run(onnx_path, failure, batch);
        const std::string where = (failure.op.empty() ? std::string("a layer") : failure.op) +
                                  (failure.layer.empty() ? "" : " (layer " + failure.layer + ")");
        std::fprintf(stderr,
                     "coedge: %s: OpenCV DNN fails at batch > 1 on %s when the batch is dynamic; imported with the "
                     "batch fixed at 2 instead, which runs every batch size (checked: each item of batches of 1, 2, 3 "
                     "and %d equals the item alone)\n",
                     onnx_path.c_str(), where.c_str(), std::max(3, max_batch_));
        net = std::move(pinned);
        break;
      } catch (const cv::Exception&) {
        return cannot_run(onnx_path, failure, batch);
      }
    }
  }
  return std::unique_ptr<Model>(std::make_unique<OpencvModel>(onnx_path, std::move(info.value()), std::move(net)));
}

}  // namespace coedge::infer
