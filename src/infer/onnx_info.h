// Reads the graph inputs and outputs (names, element types, shapes) of an ONNX file
// without a protobuf library: the ONNX format is protobuf, and these few fields are all
// CoEdge needs to validate batches before they reach a backend, whichever backend it is.
// Symbolic dimensions (a dynamic batch "N") read as -1. Thread-safe (pure).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace coedge::infer {

struct OnnxTensorInfo {
  std::string name;
  int32_t element_type = 0;    // onnx.TensorProto.DataType: 1 = FLOAT
  std::vector<int64_t> shape;  // -1 for a symbolic or unknown dimension
};

struct OnnxInfo {
  int64_t ir_version = 0;
  std::string producer;
  std::vector<OnnxTensorInfo> inputs;   // graph inputs that are not initializers
  std::vector<OnnxTensorInfo> outputs;
};

// Errors name the file and what is wrong with it (not ONNX, truncated, no input).
Result<OnnxInfo> read_onnx_info(const std::string& path);
Result<OnnxInfo> parse_onnx_info(std::string_view bytes, const std::string& name_for_errors);

}  // namespace coedge::infer
