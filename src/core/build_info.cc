// build_info(): the values come from compile definitions set in the top-level
// CMakeLists.txt, so that only this file depends on them.
#include "core/build_info.h"

#ifndef COEDGE_VERSION
#error "COEDGE_VERSION must be defined by the build"
#endif
#ifndef COEDGE_REVISION
#define COEDGE_REVISION "unknown"
#endif

namespace coedge {

BuildInfo build_info() { return {COEDGE_VERSION, COEDGE_REVISION}; }

}  // namespace coedge
