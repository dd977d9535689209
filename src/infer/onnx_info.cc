#include "infer/onnx_info.h"

#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>

#include "infer/mapped_file.h"
#include "infer/onnx_wire.h"

namespace coedge::infer {
namespace {

using onnx_wire::Field;
using onnx_wire::Reader;

// Field numbers from onnx.proto3.
constexpr uint32_t kModelIrVersion = 1, kModelProducer = 2, kModelGraph = 7, kModelMetadataProps = 14;
constexpr uint32_t kEntryKey = 1, kEntryValue = 2;  // StringStringEntryProto
constexpr uint32_t kGraphInitializer = 5, kGraphInput = 11, kGraphOutput = 12;
constexpr uint32_t kTensorProtoName = 8;
constexpr uint32_t kValueInfoName = 1, kValueInfoType = 2;
constexpr uint32_t kTypeTensor = 1, kTensorElemType = 1, kTensorShape = 2;
constexpr uint32_t kShapeDim = 1, kDimValue = 1;

bool parse_value_info(std::string_view bytes, TensorInfo& out) {
  Reader r(bytes);
  Field f;
  while (r.next(f)) {
    if (f.number == kValueInfoName && f.wire == 2) out.name = std::string(f.bytes);
    if (f.number != kValueInfoType || f.wire != 2) continue;
    Reader type(f.bytes);
    Field t;
    while (type.next(t)) {
      if (t.number != kTypeTensor || t.wire != 2) continue;
      Reader tensor(t.bytes);
      Field tf;
      while (tensor.next(tf)) {
        if (tf.number == kTensorElemType && tf.wire == 0) out.element_type = static_cast<int32_t>(tf.varint);
        if (tf.number != kTensorShape || tf.wire != 2) continue;
        Reader shape(tf.bytes);
        Field d;
        while (shape.next(d)) {
          if (d.number != kShapeDim || d.wire != 2) continue;
          int64_t value = -1;  // dim_param (symbolic) or absent
          Reader dim(d.bytes);
          Field df;
          while (dim.next(df))
            if (df.number == kDimValue && df.wire == 0) value = static_cast<int64_t>(df.varint);
          if (!dim.ok()) return false;
          out.shape.push_back(value);
        }
        if (!shape.ok()) return false;
      }
      if (!tensor.ok()) return false;
    }
    if (!type.ok()) return false;
  }
  return r.ok();
}

}  // namespace

Result<ModelInfo> parse_onnx_info(std::string_view bytes, const std::string& name) {
  auto bad = [&](const std::string& why) {
    return Error{ErrorCode::kInvalidInput, name + ": not a usable ONNX model: " + why};
  };
  ModelInfo info;
  std::string_view graph;
  Reader model(bytes);
  Field f;
  while (model.next(f)) {
    if (f.number == kModelIrVersion && f.wire == 0) info.ir_version = static_cast<int64_t>(f.varint);
    if (f.number == kModelProducer && f.wire == 2) info.producer = std::string(f.bytes);
    if (f.number == kModelGraph && f.wire == 2) graph = f.bytes;
    if (f.number == kModelMetadataProps && f.wire == 2) {
      // metadata_props {key: "coedge.kind", value: "segmentation"}: how an ONNX file
      // declares its task kind (docs/MODELS.md, "Segmentation").
      Reader entry(f.bytes);
      Field ef;
      std::string_view key, value;
      while (entry.next(ef)) {
        if (ef.number == kEntryKey && ef.wire == 2) key = ef.bytes;
        if (ef.number == kEntryValue && ef.wire == 2) value = ef.bytes;
      }
      if (entry.ok() && key == "coedge.kind") info.kind_hint = std::string(value);
    }
  }
  if (!model.ok() || info.ir_version <= 0) return bad("the file is not an ONNX protobuf (or is truncated)");
  if (graph.empty()) return bad("the model has no graph");

  std::set<std::string> initializers;
  std::vector<TensorInfo> inputs;
  Reader g(graph);
  while (g.next(f)) {
    if (f.wire != 2) continue;
    if (f.number == kGraphInitializer) {
      Reader t(f.bytes);
      Field tf;
      while (t.next(tf))
        if (tf.number == kTensorProtoName && tf.wire == 2) initializers.insert(std::string(tf.bytes));
    } else if (f.number == kGraphInput || f.number == kGraphOutput) {
      TensorInfo v;
      if (!parse_value_info(f.bytes, v)) return bad("a graph input or output is malformed");
      (f.number == kGraphInput ? inputs : info.outputs).push_back(std::move(v));
    }
  }
  if (!g.ok()) return bad("the graph is malformed (truncated file?)");
  // Old exporters (IR < 4) list weights among the inputs as well.
  for (auto& v : inputs)
    if (!initializers.count(v.name)) info.inputs.push_back(std::move(v));
  if (info.inputs.empty()) return bad("the graph has no input");
  if (info.outputs.empty()) return bad("the graph has no output");
  return info;
}

Result<ModelInfo> read_onnx_info(const std::string& path) {
  // Mapped (mapped_file.h): the parser steps over the weights (length-delimited fields it
  // only skips), so only the pages of the graph's description are touched.
  auto file = MappedFile::open(path);
  if (!file.ok()) return file.error();
  return parse_onnx_info(file->bytes(), path);
}

}  // namespace coedge::infer
