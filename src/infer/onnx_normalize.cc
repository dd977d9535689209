#include "infer/onnx_normalize.h"

#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "infer/onnx_wire.h"

namespace coedge::infer {
namespace {

using onnx_wire::Field;
using onnx_wire::Reader;
using onnx_wire::Writer;

// Field numbers from onnx.proto3.
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphNode = 1, kGraphInitializer = 5, kGraphOutput = 12, kGraphValueInfo = 13;
constexpr uint32_t kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4, kNodeAttribute = 5,
                   kNodeDomain = 7;
constexpr uint32_t kAttrGraph = 6, kAttrGraphs = 11, kAttrType = 20;
constexpr uint64_t kAttrTypeGraph = 5, kAttrTypeGraphs = 10;
constexpr uint32_t kTensorName = 8, kValueInfoName = 1;

struct Node {
  std::string_view body;  // the NodeProto's bytes
  std::string_view op_type, domain, name;
  std::vector<std::string_view> inputs, outputs;
  bool has_subgraph = false;
  bool dropped = false;
  bool renames_input = false;
};

bool parse_node(std::string_view body, Node& n) {
  n.body = body;
  Reader r(body);
  Field f;
  while (r.next(f)) {
    if (f.wire != onnx_wire::kLength) continue;
    switch (f.number) {
      case kNodeInput: n.inputs.push_back(f.bytes); break;
      case kNodeOutput: n.outputs.push_back(f.bytes); break;
      case kNodeName: n.name = f.bytes; break;
      case kNodeOpType: n.op_type = f.bytes; break;
      case kNodeDomain: n.domain = f.bytes; break;
      case kNodeAttribute: {
        Reader a(f.bytes);
        Field af;
        while (a.next(af)) {
          if ((af.number == kAttrGraph || af.number == kAttrGraphs) && af.wire == onnx_wire::kLength)
            n.has_subgraph = true;
          if (af.number == kAttrType && af.wire == onnx_wire::kVarint &&
              (af.varint == kAttrTypeGraph || af.varint == kAttrTypeGraphs))
            n.has_subgraph = true;
        }
        if (!a.ok()) return false;
        break;
      }
      default: break;
    }
  }
  return r.ok();
}

// The `name` field (number `field`) of a message, or empty.
std::string_view name_of(std::string_view message, uint32_t field, bool& ok) {
  Reader r(message);
  Field f;
  std::string_view name;
  while (r.next(f))
    if (f.number == field && f.wire == onnx_wire::kLength) name = f.bytes;
  ok = r.ok();
  return name;
}

// `message` with its fields copied, except the first length-delimited field `number` for
// which `keep(bytes)` is true: that one is written as `rewrite(bytes)`. False if malformed.
template <typename Keep, typename Rewrite>
bool rewrite_first(std::string_view message, uint32_t number, Keep keep, Rewrite rewrite, std::string& out) {
  Writer w(out);
  Reader r(message);
  Field f;
  bool done = false;
  while (r.next(f)) {
    if (!done && f.number == number && f.wire == onnx_wire::kLength && keep(f.bytes)) {
      std::string inner;
      if (!rewrite(f.bytes, inner)) return false;
      w.bytes(number, inner);
      done = true;
    } else {
      w.raw(f.raw);
    }
  }
  return r.ok() && done;
}

}  // namespace

Result<std::string> pin_onnx_batch(std::string_view bytes, const std::string& name, const std::string& input,
                                   int64_t batch) {
  constexpr uint32_t kGraphInput = 11, kValueInfoType = 2, kTypeTensor = 1, kTensorShape = 2, kShapeDim = 1,
                     kDimValue = 1;
  auto any = [](std::string_view) { return true; };
  auto dimension = [&](std::string_view, std::string& out) {
    Writer w(out);
    w.key(kDimValue, onnx_wire::kVarint);
    w.varint(static_cast<uint64_t>(batch));
    return true;
  };
  auto shape = [&](std::string_view b, std::string& out) { return rewrite_first(b, kShapeDim, any, dimension, out); };
  auto tensor = [&](std::string_view b, std::string& out) { return rewrite_first(b, kTensorShape, any, shape, out); };
  auto type = [&](std::string_view b, std::string& out) { return rewrite_first(b, kTypeTensor, any, tensor, out); };
  auto value_info = [&](std::string_view b, std::string& out) {
    return rewrite_first(b, kValueInfoType, any, type, out);
  };
  auto is_input = [&](std::string_view b) {
    bool ok = true;
    return name_of(b, kValueInfoName, ok) == input && ok;
  };
  auto graph = [&](std::string_view b, std::string& out) {
    return rewrite_first(b, kGraphInput, is_input, value_info, out);
  };
  std::string out;
  out.reserve(bytes.size() + 16);
  if (!rewrite_first(bytes, kModelGraph, any, graph, out))
    return Error{ErrorCode::kInvalidInput, name + ": cannot fix the batch of input '" + input +
                                               "': the model or its input's shape is malformed"};
  return out;
}

std::string onnx_node_op(std::string_view bytes, std::string_view node) {
  Reader model(bytes);
  Field f;
  while (model.next(f)) {
    if (f.number != kModelGraph || f.wire != onnx_wire::kLength) continue;
    Reader g(f.bytes);
    Field gf;
    while (g.next(gf)) {
      if (gf.number != kGraphNode || gf.wire != onnx_wire::kLength) continue;
      Node n;
      if (!parse_node(gf.bytes, n)) return "";
      if (n.name == node || (n.name.empty() && !n.outputs.empty() && n.outputs[0] == node))
        return std::string(n.op_type);
    }
  }
  return "";
}

std::string NormalizeReport::summary() const {
  std::string s;
  if (identities_folded > 0)
    s = "folded " + std::to_string(identities_folded) + " Identity node(s) on initializers into renamed inputs";
  if (identities_copied > 0)
    s += std::string(s.empty() ? "" : "; ") + "replaced " + std::to_string(identities_copied) +
         " Identity node(s) whose output is a graph output by a copy of the initializer";
  if (!not_rewritten.empty()) s += std::string(s.empty() ? "" : "; ") + not_rewritten;
  return s;
}

Result<std::optional<std::string>> normalize_onnx(std::string_view bytes, const std::string& name,
                                                  NormalizeReport& report) {
  report = NormalizeReport{};
  auto bad = [&](const std::string& why) {
    return Error{ErrorCode::kInvalidInput, name + ": not a usable ONNX model: " + why};
  };

  std::string_view graph;
  int graphs = 0;
  {
    Reader model(bytes);
    Field f;
    while (model.next(f)) {
      if (f.number == kModelGraph && f.wire == onnx_wire::kLength) {
        graph = f.bytes;
        ++graphs;
      }
    }
    if (!model.ok()) return bad("the file is not an ONNX protobuf (or is truncated)");
  }
  if (graphs == 0) return bad("the model has no graph");
  if (graphs > 1) {
    // Protobuf would merge them; a rewrite of one would not be the graph OpenCV reads.
    report.not_rewritten = "not rewritten: the model has " + std::to_string(graphs) + " graph fields";
    return std::optional<std::string>();
  }

  // What the graph holds: initializer and output names, and the nodes in order (ONNX
  // requires a topological order, so one pass folds chains).
  std::unordered_set<std::string_view> initializers, graph_outputs;
  std::vector<Node> nodes;
  {
    Reader g(graph);
    Field f;
    while (g.next(f)) {
      if (f.wire != onnx_wire::kLength) continue;
      bool ok = true;
      if (f.number == kGraphNode) {
        Node n;
        if (!parse_node(f.bytes, n)) return bad("node " + std::to_string(nodes.size()) + " is malformed");
        nodes.push_back(std::move(n));
      } else if (f.number == kGraphInitializer) {
        initializers.insert(name_of(f.bytes, kTensorName, ok));
      } else if (f.number == kGraphOutput) {
        graph_outputs.insert(name_of(f.bytes, kValueInfoName, ok));
      }
      if (!ok) return bad("the graph is malformed (truncated file?)");
    }
    if (!g.ok()) return bad("the graph is malformed (truncated file?)");
  }
  initializers.erase(std::string_view());

  std::unordered_map<std::string_view, std::string_view> renamed;  // folded output -> initializer
  std::unordered_map<std::string_view, std::vector<std::string_view>> copies;  // initializer -> graph outputs
  auto resolve = [&](std::string_view n) {
    auto it = renamed.find(n);
    return it == renamed.end() ? n : it->second;
  };
  const Node* subgraph_node = nullptr;
  for (auto& n : nodes) {
    if (n.has_subgraph && !subgraph_node) subgraph_node = &n;
    for (auto in : n.inputs)
      if (renamed.count(in)) n.renames_input = true;
    const bool identity = n.op_type == "Identity" && (n.domain.empty() || n.domain == "ai.onnx");
    if (!identity || n.inputs.size() != 1 || n.outputs.size() != 1 || n.outputs[0].empty()) continue;
    const auto source = resolve(n.inputs[0]);
    if (!initializers.count(source)) continue;
    if (renamed.count(n.outputs[0]) || initializers.count(n.outputs[0])) continue;  // duplicate name: left to OpenCV
    n.dropped = true;
    if (graph_outputs.count(n.outputs[0])) {
      // The graph's output name must stay: the initializer is copied under that name.
      // (Keeping the node fails in OpenCV 4.6 exactly as the other Identities do; a constant
      // graph output is one OpenCV reads and leaves unconnected.)
      copies[source].push_back(n.outputs[0]);
      ++report.identities_copied;
      continue;
    }
    renamed.emplace(n.outputs[0], source);
    ++report.identities_folded;
  }
  if (renamed.empty() && copies.empty()) return std::optional<std::string>();
  if (subgraph_node) {
    report.not_rewritten = "not rewritten: node " + std::string(subgraph_node->op_type) + " '" +
                           std::string(subgraph_node->name) +
                           "' has a subgraph, whose names may refer to the outer graph (" +
                           std::to_string(report.identities_folded + report.identities_copied) +
                           " Identity node(s) left as they are)";
    report.identities_folded = 0;
    report.identities_copied = 0;
    return std::optional<std::string>();
  }

  // The new graph: every field in its place, folded nodes and their value_info dropped,
  // inputs renamed.
  std::string new_graph;
  new_graph.reserve(graph.size());
  {
    Writer w(new_graph);
    Reader g(graph);
    Field f;
    size_t node_index = 0;
    std::string body;
    while (g.next(f)) {
      if (f.number == kGraphNode && f.wire == onnx_wire::kLength) {
        const Node& n = nodes[node_index++];
        if (n.dropped) continue;
        if (!n.renames_input) {
          w.raw(f.raw);
          continue;
        }
        body.clear();
        Writer nw(body);
        Reader nr(n.body);
        Field nf;
        while (nr.next(nf)) {
          auto it = renamed.end();
          if (nf.number == kNodeInput && nf.wire == onnx_wire::kLength) it = renamed.find(nf.bytes);
          if (it != renamed.end()) nw.bytes(kNodeInput, it->second);
          else nw.raw(nf.raw);
        }
        w.bytes(kGraphNode, body);
      } else if (f.number == kGraphInitializer && f.wire == onnx_wire::kLength) {
        w.raw(f.raw);
        bool ok = true;
        auto it = copies.find(name_of(f.bytes, kTensorName, ok));
        if (it == copies.end()) continue;
        for (auto output : it->second) {
          body.clear();
          Writer tw(body);
          Reader tr(f.bytes);
          Field tf;
          while (tr.next(tf)) {
            if (tf.number == kTensorName && tf.wire == onnx_wire::kLength) tw.bytes(kTensorName, output);
            else tw.raw(tf.raw);
          }
          w.bytes(kGraphInitializer, body);
        }
        copies.erase(it);  // a duplicate initializer name gets one copy
      } else if (f.number == kGraphValueInfo && f.wire == onnx_wire::kLength) {
        bool ok = true;
        if (!renamed.count(name_of(f.bytes, kValueInfoName, ok))) w.raw(f.raw);
      } else {
        w.raw(f.raw);
      }
    }
  }

  std::string out;
  out.reserve(bytes.size());
  Writer w(out);
  Reader model(bytes);
  Field f;
  while (model.next(f)) {
    if (f.number == kModelGraph && f.wire == onnx_wire::kLength) w.bytes(kModelGraph, new_graph);
    else w.raw(f.raw);
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace coedge::infer
