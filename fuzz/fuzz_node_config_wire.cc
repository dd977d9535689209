// libFuzzer target: the node config as the inference server reads it from the agent
// (config/node_config_wire.h). Besides "no crash": whatever reads must write back to a
// document that reads again and writes the same bytes (the header's round-trip promise),
// which is what the server's digest check relies on.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/node_config_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coedge::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = read_node_config_wire(text, "fuzz");
  if (!config.ok()) return 0;
  const std::string written = write_node_config_wire(*config);
  auto again = read_node_config_wire(written, "fuzz (written back)", wire_digest(written));
  if (!again.ok()) {
    std::fprintf(stderr, "a config read from the input does not read back: %s\n", again.error().message.c_str());
    std::abort();
  }
  if (write_node_config_wire(*again) != written) {
    std::fprintf(stderr, "a config read from the input writes back differently the second time\n");
    std::abort();
  }
  return 0;
}
