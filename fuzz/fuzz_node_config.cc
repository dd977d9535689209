// libFuzzer target: a node config (config/node_config_loader.h), as `coedge node --config`
// reads one; and, for what it accepts, the labels files' parser on the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/node_config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Relative paths resolve against examples/node, where the seeds' files exist.
  (void)coedge::config::parse_node_config(text, "fuzz.yaml", COEDGE_FUZZ_BASE_DIR);
  (void)coedge::config::parse_labels(text, "fuzz.names");
  return 0;
}
