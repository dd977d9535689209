#include "infer/model_info.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "infer/onnx_info.h"
#include "infer/torchscript_info.h"

namespace coedge::infer {

std::string_view to_string(ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx: return "onnx";
    case ModelFormat::kTorchScript: return "torchscript";
  }
  return "unknown";
}

std::string torchscript_sibling(const std::string& onnx_path) {
  constexpr std::string_view kOnnx = ".onnx";
  if (onnx_path.size() > kOnnx.size() &&
      onnx_path.compare(onnx_path.size() - kOnnx.size(), kOnnx.size(), kOnnx) == 0)
    return onnx_path.substr(0, onnx_path.size() - kOnnx.size()) + ".pt";
  return onnx_path + ".pt";
}

Result<ModelInfo> read_model_info(const std::string& path) {
  // The first bytes decide: every TorchScript file is a zip archive, and no ONNX file
  // starts with a zip's local-header magic (its first byte is a protobuf field key).
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  if (in && in.read(magic, sizeof magic) && std::memcmp(magic, "PK\3\4", 4) == 0)
    return read_torchscript_info(path);
  return read_onnx_info(path);
}

}  // namespace coedge::infer
