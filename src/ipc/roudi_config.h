// The shared-memory pools of one node's iceoryx RouDi daemon. iceoryx hands out chunks
// from fixed pools configured when RouDi starts, so the node agent sizes them from what
// will flow: its sensors' frames, its models' input items and output items, and events.
// Pure functions; the agent writes the text to a file and passes it to `iox-roudi -c`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace coedge::ipc {

struct MemPool {
  uint64_t chunk_bytes = 0;  // payload bytes (headers included)
  uint32_t count = 0;
};

// Rounds chunk sizes up to multiples of 4 KiB, merges equal sizes (adding their counts)
// and sorts by size, as RouDi requires.
std::vector<MemPool> normalise_pools(std::vector<MemPool> pools);

// The TOML text `iox-roudi -c` reads.
std::string roudi_config_toml(const std::vector<MemPool>& pools);

}  // namespace coedge::ipc
