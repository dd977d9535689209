// What the long-running subcommands (node, master, camera, cluster, demo) share about
// their process: one stop flag set by SIGINT and SIGTERM, and where this program's sibling
// executables are.
#pragma once

#include <atomic>
#include <string>

namespace coedge::app {

// Installs SIGINT/SIGTERM handlers that set one process-wide flag (idempotent) and ignores
// SIGPIPE; returns the flag.
const std::atomic<bool>* install_stop_signals();

// `name` in this program's folder (/proc/self/exe's); `name` alone if that cannot be read.
std::string sibling_executable(const std::string& name);

}  // namespace coedge::app
