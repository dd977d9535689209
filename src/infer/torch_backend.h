// The libtorch backend: TorchScript files (torch.jit.save, with extra/coedge.json) run by
// Debian's libtorch (CPU) through the plugin coedge_infer_torch.so (torch_plugin.h), which
// this adapter opens on first load, so that nothing linking coedge_infer links libtorch.
//
// load(): the metadata is read first, without libtorch (torchscript_info.h): a missing
// file, a file that is not TorchScript (an ONNX file: use `backend: opencv`) or one without
// metadata is reported before the plugin is even opened. Then the plugin loads, freezes and
// optimizes the module for inference and warms it up at every batch size 1..max_batch
// (BackendOptions), so that no job pays for a first pass.
// threads: BackendOptions.threads intra-op threads in every forward (set on the thread that
// runs it); 0 means all the machine's cores (libtorch alone would use one).
// Errors name the file: "FILE: the torch backend cannot load it: ..." and
// "FILE: inference failed in libtorch: ..." carry libtorch's one-line reason.
#pragma once

#include "infer/backend.h"

namespace coedge::infer {

class TorchBackend final : public Backend {
 public:
  explicit TorchBackend(const BackendOptions& options);
  std::string_view name() const override { return "torch"; }
  Result<std::unique_ptr<Model>> load(const std::string& model_path) override;

 private:
  BackendOptions options_;
};

// The intra-op thread count libtorch reported in `model`'s last forward pass, or -1 when
// `model` is not a torch model (a test hook: threads are set on the forward's thread).
int torch_threads_in_last_forward(const Model& model);

}  // namespace coedge::infer
