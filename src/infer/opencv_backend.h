// The OpenCV DNN backend (Debian libopencv-dev 4.6, CPU target). OpenCV's exceptions are
// caught here and become Errors that name the model file and OpenCV's reason.
//
// load() reads ONNX files as torch.onnx.export writes them: the file goes through
// normalize_onnx (Identity nodes on initializers folded; OpenCV then reads the rewritten
// bytes from memory, no temporary file) and the load logs once, on stderr, what was
// rewritten. It then runs the network at batch 1 and, for a dynamic batch, at batch 2, so
// that what OpenCV cannot run fails at load and not on the first job. A model that fails
// only at batch > 1 is imported again with its batch fixed at 2 (pin_onnx_batch: how OpenCV
// 4.6 runs a squeeze-and-excitation block at every batch size), kept only if each item of
// batches of 1, 2 and 3 equals the item run alone, and logged. Otherwise the error names
// the operator and layer ("FILE: OpenCV DNN 4.6 cannot run operator OP (layer NAME) at
// batch B: REASON. Run FILE.pt on the torch backend ..."): import errors carry the node,
// forward errors are bisected over the layers with net.forward(layer).
#pragma once

#include "infer/backend.h"

namespace coedge::infer {

class OpencvBackend final : public Backend {
 public:
  explicit OpencvBackend(const BackendOptions& options);
  std::string_view name() const override { return "opencv"; }
  Result<std::unique_ptr<Model>> load(const std::string& onnx_path) override;

 private:
  int max_batch_;
};

}  // namespace coedge::infer
