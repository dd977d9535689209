// What a model file declares, whichever format it is in: its format, its producer, and the
// names, element types and shapes of its inputs and outputs. CoEdge needs these without
// loading a backend: the node agent sizes shared memory and picks the task kind from them,
// and a Model validates every batch against them before the backend sees it. So they are
// read from the file itself by small readers of our own (ONNX: onnx_info.h; TorchScript:
// torchscript_info.h, the metadata entry the generator and export scripts write), never by
// OpenCV or libtorch. Symbolic dimensions (a dynamic batch) read as -1. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace coedge::infer {

enum class ModelFormat { kOnnx, kTorchScript };
std::string_view to_string(ModelFormat format);

struct TensorInfo {
  std::string name;
  int32_t element_type = 0;    // onnx.TensorProto.DataType numbering: 1 = FLOAT
  std::vector<int64_t> shape;  // -1 for a symbolic or unknown dimension
};

struct ModelInfo {
  ModelFormat format = ModelFormat::kOnnx;
  int64_t ir_version = 0;  // ONNX only
  std::string producer;
  std::vector<TensorInfo> inputs;   // graph inputs that are not initializers
  std::vector<TensorInfo> outputs;
  // TorchScript metadata may name the task kind ("classification", "detection",
  // "segmentation"); empty when the file does not say (ONNX never does).
  std::string kind_hint;
};

// Reads `path` by its content: a zip archive (magic "PK\3\4") is TorchScript, anything
// else is read as ONNX. Errors name the file and what is wrong with it.
Result<ModelInfo> read_model_info(const std::string& path);

// The TorchScript file that goes with an ONNX file: the same path with ".pt" instead of
// ".onnx" (the generator writes both from the same weights). Pure string work.
std::string torchscript_sibling(const std::string& onnx_path);

}  // namespace coedge::infer
