// The small host helpers shared by the emulation: the root check, name validation, and
// killing a set of processes until it is empty. Running ip/tc is os/command.h.
// Thread-safe: no state.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge::cluster {

// kUnsupported "coedge cluster needs root to create network namespaces, links and CPU limits;
// run it with sudo" unless geteuid() == 0.
Status require_root();

// Names of emulated things (prefixes, nodes, cgroups): 1..40 characters of [A-Za-z0-9_-].
// `what` says what is named, for the message ("node name", "prefix").
Status validate_name(std::string_view what, const std::string& name);

// Sends SIGKILL to every pid `list` returns (never to ourselves) until it returns none, or
// `bound` passed. kIo names `what` and the pids left when the bound passed.
Status kill_until_gone(const std::function<std::vector<pid_t>()>& list, Duration bound,
                       const std::string& what);

}  // namespace coedge::cluster
