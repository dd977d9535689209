// The inference backend interface. A Backend loads ONNX models; a Model runs one forward
// pass over a batch of N inputs. Callers see only this interface, so a GPU backend
// (TensorRT, ONNX Runtime) slots in behind make_backend() (infer/make_backend.h) without
// touching them. This header and onnx_info.h are the interface alone (coedge_infer_api, no
// OpenCV): code that only runs a Model it is given, like the node's inference engine,
// links that; coedge_infer holds the backends themselves.
//
// Tensors are dense float32, row-major (NCHW for images). A Model validates every batch
// against the shape its ONNX file declares before the backend sees it, so a wrong input
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
#include "infer/onnx_info.h"

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

class Model {
 public:
  virtual ~Model() = default;
  const std::string& path() const { return path_; }
  const OnnxInfo& info() const { return info_; }
  // The shape of one input item, without the batch axis: e.g. {3, 360, 360}.
  std::vector<int64_t> item_shape() const;
  // The batch size the file fixes, or -1 when the batch axis is dynamic.
  int64_t fixed_batch() const;

  // Runs the batch `input` ([N, item_shape...]) in one forward pass.
  Result<Tensor> run(const Tensor& input);

 protected:
  Model(std::string path, OnnxInfo info) : path_(std::move(path)), info_(std::move(info)) {}
  virtual Result<Tensor> forward(const Tensor& input) = 0;  // input already validated

 private:
  std::string path_;
  OnnxInfo info_;
};

struct BackendOptions {
  int threads = 0;  // CPU threads for inference; 0 = the backend's default (all cores)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Errors: missing file, not ONNX, more than one input, an operator the backend lacks.
  virtual Result<std::unique_ptr<Model>> load(const std::string& onnx_path) = 0;
};

}  // namespace coedge::infer
