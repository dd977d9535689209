#include "infer/make_backend.h"

#include <string>

#include "infer/opencv_backend.h"
#include "infer/torch_backend.h"

namespace coedge::infer {

Result<std::unique_ptr<Backend>> make_backend(std::string_view name, const BackendOptions& options) {
  if (name == "opencv") return std::unique_ptr<Backend>(std::make_unique<OpencvBackend>(options));
  // torch is always a name: without its plugin (COEDGE_TORCH=OFF) loading a model says so.
  if (name == "torch") return std::unique_ptr<Backend>(std::make_unique<TorchBackend>(options));
  return Error{ErrorCode::kInvalidInput,
               "unknown inference backend '" + std::string(name) + "' (available: opencv, torch)"};
}

}  // namespace coedge::infer
