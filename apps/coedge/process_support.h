// What the long-running subcommands (node, master, camera, cluster, demo) share about
// their process: one stop flag set by SIGINT and SIGTERM, and where this program's sibling
// executables are.
#pragma once

#include <atomic>
#include <string>

#include "os/spawn.h"

namespace coedge::app {

// Installs SIGINT/SIGTERM handlers that set one process-wide flag (idempotent) and ignores
// SIGPIPE; returns the flag.
const std::atomic<bool>* install_stop_signals();

using os::sibling_executable;  // os/spawn.h

}  // namespace coedge::app
