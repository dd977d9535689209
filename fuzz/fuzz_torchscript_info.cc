// libFuzzer target: a TorchScript archive as the agent and the workers read it without
// libtorch (infer/torchscript_info.h: our own zip and zip64 reader, then coedge.json or
// YOLOv5's config.txt).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "infer/torchscript_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)coedge::infer::parse_torchscript_info(bytes, "fuzz.pt");
  return 0;
}
