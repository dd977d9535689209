// libFuzzer target: an ONNX file as the agent, the workers and the server read it before
// any backend does: the header reader (infer/onnx_info.h) and the normalizer's rewrites
// and lookups (infer/onnx_normalize.h), all on onnx_wire.h's protobuf reader.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "infer/onnx_info.h"
#include "infer/onnx_normalize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coedge::infer;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto info = parse_onnx_info(bytes, "fuzz.onnx");
  NormalizeReport report;
  auto normalized = normalize_onnx(bytes, "fuzz.onnx", report);
  if (normalized.ok()) (void)report.summary();
  const std::string input = info.ok() && !info->inputs.empty() ? info->inputs[0].name : "input";
  (void)pin_onnx_batch(bytes, "fuzz.onnx", input, 2);
  (void)onnx_node_op(bytes, input);
  return 0;
}
