// Seeds for fuzz_node_config_wire: each node config given is loaded as `coedge node` loads
// it and written as the agent hands it to its server (config/node_config_wire.h), to
// OUT_DIR/<config name>.json. Run by fuzz/make_seeds.py; not a fuzz target.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/node_config_loader.h"
#include "config/node_config_wire.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR NODE.yaml...\n", argv[0]);
    return 2;
  }
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    auto config = coedge::config::load_node_config(argv[i]);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", config.error().message.c_str());
      ++failed;
      continue;
    }
    const std::string out =
        std::string(argv[1]) + "/" + std::filesystem::path(argv[i]).stem().string() + ".json";
    std::ofstream(out, std::ios::binary) << coedge::config::write_node_config_wire(*config);
    std::printf("wrote %s\n", out.c_str());
  }
  return failed == 0 ? 0 : 1;
}
