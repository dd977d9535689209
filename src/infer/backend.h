// The inference backend interface. A Backend loads model files (ONNX for OpenCV DNN,
// TorchScript for libtorch); a Model runs one forward pass over a batch of N inputs. Callers see only this interface, so a GPU backend
// (TensorRT, ONNX Runtime) slots in behind make_backend() (infer/make_backend.h) without
// touching them. This header and model_info.h are the interface alone (coedge_infer_api, no
// OpenCV): code that only runs a Model it is given, like the node's inference engine,
// links that; coedge_infer holds the backends themselves.
//
// Tensors are dense float32, row-major (NCHW for images). A Model validates every batch
// against the shape its file declares (model_info.h) before the backend sees it, so a wrong input
// is an Error naming the file and the shapes, never a crash inside a library.
// Thread-safety: a Model is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "infer/model_info.h"

namespace coedge::infer {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  static Tensor zeros(std::vector<int64_t> shape);
  size_t elements() const;
  // The i-th item along the first axis. REQUIRES: i < shape[0].
  std::span<const float> item(int64_t i) const;
  std::span<float> item(int64_t i);
};

std::string shape_string(std::span<const int64_t> shape);

// Per-pixel class ids of a segmentation output: shape [N, H, W], one byte per pixel, so
// that a 21-class mask crosses shared memory as H*W bytes rather than 21*H*W floats.
struct LabelMap {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
  size_t elements() const;
  // The i-th item along the first axis. REQUIRES: i < shape[0].
  std::span<const uint8_t> item(int64_t i) const;
};

// The class of every pixel of `logits` ([N, C, H, W]): the channel with the highest value,
// ties to the lower class id. Errors: not 4-D, or C outside 1..256 (a byte holds the id).
Result<LabelMap> argmax_channels(const Tensor& logits);

class Model {
 public:
  virtual ~Model() = default;
  const std::string& path() const { return path_; }
  const ModelInfo& info() const { return info_; }
  // The shape of one input item, without the batch axis: e.g. {3, 360, 360}.
  std::vector<int64_t> item_shape() const;
  // The batch size the file fixes, or -1 when the batch axis is dynamic.
  int64_t fixed_batch() const;

  // Runs the batch `input` ([N, item_shape...]) in one forward pass.
  Result<Tensor> run(const Tensor& input);
  // The same pass for a segmentation model, reduced to per-pixel class ids: what the
  // inference server runs for such a task (a backend may take the argmax in its graph).
  Result<LabelMap> run_argmax(const Tensor& input);

 protected:
  Model(std::string path, ModelInfo info) : path_(std::move(path)), info_(std::move(info)) {}
  virtual Result<Tensor> forward(const Tensor& input) = 0;  // input already validated
  // Default: forward() then argmax_channels(). Input already validated.
  virtual Result<LabelMap> forward_argmax(const Tensor& input);

 private:
  Status validate(const Tensor& input) const;

  std::string path_;
  ModelInfo info_;
};

struct BackendOptions {
  int threads = 0;  // CPU threads for inference; 0 = the backend's default (all cores)
  int max_batch = 10;  // the largest batch it will run: a backend may warm up every size to it
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Errors: missing file, a format the backend does not read, more than one input, an
  // operator the backend lacks. Each names the file and what to do.
  virtual Result<std::unique_ptr<Model>> load(const std::string& model_path) = 0;
};

}  // namespace coedge::infer
