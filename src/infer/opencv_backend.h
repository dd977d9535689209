// The OpenCV DNN backend (Debian libopencv-dev 4.6, CPU target). OpenCV's exceptions are
// caught here and become Errors that name the model file and OpenCV's reason.
#pragma once

#include "infer/backend.h"

namespace coedge::infer {

class OpencvBackend final : public Backend {
 public:
  explicit OpencvBackend(const BackendOptions& options);
  std::string_view name() const override { return "opencv"; }
  Result<std::unique_ptr<Model>> load(const std::string& onnx_path) override;
};

}  // namespace coedge::infer
