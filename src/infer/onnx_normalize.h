// Rewrites what torch.onnx.export writes and OpenCV DNN 4.6 cannot read, before the file
// reaches OpenCV. Pure (bytes in, bytes out), no libprotobuf: it works on the wire format
// (onnx_wire.h), copying the ModelProto verbatim except its graph.
//
// Today's one rewrite: Identity nodes on initializers. The exporter (torch 1.13, opset 12)
// puts an Identity on every initializer that several parameters share; OpenCV 4.6 rejects
// an Identity whose input is a constant ("Node [Identity@ai.onnx] parse error ...
// inputs.size()"). An Identity (domain "" or "ai.onnx") whose input is an initializer, or
// the output of an Identity already folded (chains), is folded by renaming: its output
// name maps to the source initializer, the node is dropped, and later nodes' inputs (and
// value_info entries naming the folded outputs) follow the map. An Identity on an
// initializer whose output is a graph output is replaced by a copy of the initializer under
// the output's name (the name must stay; keeping the node fails in OpenCV like the others).
//
// A graph with subgraphs (an attribute of type GRAPH or GRAPHS, e.g. If, Loop, Scan) is
// not rewritten: names in a subgraph may refer to the outer graph, and following them
// would need a rewrite per scope. The report says so.
//
// The file is untrusted: every length is checked (onnx_wire::Reader), nothing recurses,
// malformed input is an Error naming the file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace coedge::infer {

struct NormalizeReport {
  int identities_folded = 0;   // Identity nodes dropped (their outputs renamed)
  int identities_copied = 0;   // ... whose output is a graph output: replaced by a renamed copy
  std::string not_rewritten;   // why the graph was left as it was (empty when it was not refused)
  // One line for a log, e.g. "folded 16 Identity nodes on initializers"; empty if nothing.
  std::string summary() const;
};

// nullopt when nothing needs changing (the caller then uses the file as it is).
Result<std::optional<std::string>> normalize_onnx(std::string_view bytes, const std::string& name,
                                                  NormalizeReport& report);

// The same file with the batch axis (dim 0) of graph input `input` fixed at `batch` instead
// of symbolic. For OpenCV 4.6 only: its importer infers shapes once, with a symbolic batch
// taken as 1, and a Mul of [N,C,H,W] by [N,C,1,1] (the squeeze-and-excitation block of
// MobileNetV3 and EfficientNet) becomes a Scale layer over axis 1, which fails for N > 1
// ("shape_utils.hpp:170 total"). Imported with a batch of 2, the same layer scales over
// axes 0-1 and runs at every batch size. The caller checks the imported net's outputs per
// item before trusting it (a graph could bake the import batch into a constant).
Result<std::string> pin_onnx_batch(std::string_view bytes, const std::string& name, const std::string& input,
                                   int64_t batch);

// The op_type of the top-level node named `node` (or, for a node without a name, whose first
// output is `node`: OpenCV names its layers that way), or "" if none or malformed.
std::string onnx_node_op(std::string_view bytes, std::string_view node);

}  // namespace coedge::infer
