// What this build of CoEdge is: its version (the CMake project's) and the git revision it
// was built from. `coedge --version` prints both, and the metrics export them as
// `coedge_build_info` (docs/METRICS.md), so a scraped fleet shows which build each node
// runs. The revision is "unknown" when the build did not come from a git checkout (e.g. a
// source tarball).
#pragma once

#include <string_view>

namespace coedge {

struct BuildInfo {
  std::string_view version;   // "0.1.0"
  std::string_view revision;  // "cad576c" (git describe --always --dirty), or "unknown"
};

BuildInfo build_info();

}  // namespace coedge
