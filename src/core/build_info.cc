// build_info(): the version comes from a compile definition set in the top-level
// CMakeLists.txt, the revision from coedge_revision.h, which the build generates
// (tools/write_revision.cmake) and rewrites only when the revision changes, so that only
// this file depends on them and a commit recompiles nothing else.
#include "core/build_info.h"

#if __has_include("coedge_revision.h")
#include "coedge_revision.h"
#endif

#ifndef COEDGE_VERSION
#error "COEDGE_VERSION must be defined by the build"
#endif
#ifndef COEDGE_REVISION
#define COEDGE_REVISION "unknown"
#endif

namespace coedge {

BuildInfo build_info() { return {COEDGE_VERSION, COEDGE_REVISION}; }

}  // namespace coedge
