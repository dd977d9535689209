#include "ipc/roudi_config.h"

#include <algorithm>
#include <sstream>

namespace coedge::ipc {

std::vector<MemPool> normalise_pools(std::vector<MemPool> pools) {
  constexpr uint64_t kPage = 4096;
  // RouDi adds its chunk header (~40 bytes) and our 64-byte alignment may add up to 64.
  constexpr uint64_t kOverhead = 128;
  for (MemPool& p : pools) p.chunk_bytes = (p.chunk_bytes + kOverhead + kPage - 1) / kPage * kPage;
  std::sort(pools.begin(), pools.end(),
            [](const MemPool& a, const MemPool& b) { return a.chunk_bytes < b.chunk_bytes; });
  std::vector<MemPool> merged;
  for (const MemPool& p : pools) {
    if (p.count == 0) continue;
    if (!merged.empty() && merged.back().chunk_bytes == p.chunk_bytes) {
      merged.back().count += p.count;
    } else {
      merged.push_back(p);
    }
  }
  return merged;
}

std::string roudi_config_toml(const std::vector<MemPool>& pools) {
  std::ostringstream out;
  out << "# written by the coedge node agent\n[general]\nversion = 1\n\n[[segment]]\n";
  for (const MemPool& p : pools) {
    out << "\n[[segment.mempool]]\nsize = " << p.chunk_bytes << "\ncount = " << p.count << "\n";
  }
  return out.str();
}

}  // namespace coedge::ipc
