#include "infer/torchscript_info.h"

namespace coedge::infer {

// Declared on main for the helpers of issue 13; the reader lands with the torch backend.
Result<ModelInfo> parse_torchscript_info(std::string_view, const std::string& name) {
  return Error{ErrorCode::kUnsupported, name + ": TorchScript files are not read yet"};
}

Result<ModelInfo> read_torchscript_info(const std::string& path) {
  return parse_torchscript_info({}, path);
}

}  // namespace coedge::infer
