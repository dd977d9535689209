// A node's private /dev/shm. The node's shared-memory segment is a file at a fixed path
// there (ipc/node_topology.h), so two nodes on one machine (coedge cluster) would
// collide, and a run that crashed would leave its segment behind. The agent therefore
// enters its own mount namespace and mounts a fresh tmpfs on /dev/shm before it starts
// anything: every process of the node inherits it, and it vanishes with the last of
// those processes, whatever way the run ends.
// REQUIRES: called while the process has a single thread. Needs root (CAP_SYS_ADMIN).
#pragma once

#include <cstdint>

#include "core/result.h"

namespace coedge::os {

// Errors: not root (with what to do instead), or the kernel refused (errno text).
Status enter_private_mounts(uint64_t shm_bytes);

}  // namespace coedge::os
