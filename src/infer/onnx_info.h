// Reads the graph inputs and outputs (names, element types, shapes) of an ONNX file
// without a protobuf library: the ONNX format is protobuf, and these few fields are all
// CoEdge needs to validate batches before they reach a backend, whichever backend it is.
// Symbolic dimensions (a dynamic batch "N") read as -1. Thread-safe (pure).
// The result is a ModelInfo (model_info.h) with format kOnnx.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "infer/model_info.h"

namespace coedge::infer {

// Errors name the file and what is wrong with it (not ONNX, truncated, no input).
Result<ModelInfo> read_onnx_info(const std::string& path);
Result<ModelInfo> parse_onnx_info(std::string_view bytes, const std::string& name_for_errors);

}  // namespace coedge::infer
