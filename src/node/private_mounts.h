// A node's private /tmp and /dev/shm. iceoryx puts its daemon's socket at the fixed path
// /tmp/roudi and its shared memory at fixed names in /dev/shm, so two nodes on one
// machine (coedge cluster) would collide, and a crashed run would leave segments behind.
// The agent therefore enters its own mount namespace and mounts fresh tmpfs file systems
// on both, before it starts anything: every process of the node inherits them, and they
// vanish with the last of those processes, whatever way the run ends.
// REQUIRES: called while the process has a single thread. Needs root (CAP_SYS_ADMIN).
#pragma once

#include <cstdint>

#include "core/result.h"

namespace coedge {

// Errors: not root (with what to do instead), or the kernel refused (errno text).
Status enter_private_mounts(uint64_t shm_bytes);

}  // namespace coedge
