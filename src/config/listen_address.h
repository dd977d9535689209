// The address a metrics endpoint binds to (`coedge node --metrics-address`, the node
// config's `metrics: {address}`, `coedge master --metrics-address`): an IP literal, checked
// once at the edge, before anything starts. The default is loopback (127.0.0.1): a node's
// and the master's metrics name its tasks, models and nodes, and /metrics has no
// authentication, so exposing them to the network is the operator's explicit choice
// (0.0.0.0, or one interface's address) (docs/METRICS.md, "Serving and files"). IPv4 only:
// the HTTP server under prometheus-cpp (Debian's civetweb) is built without IPv6, and
// would fail to bind "[::1]:port" with no useful reason; refused here with one.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace coedge::config {

inline constexpr std::string_view kDefaultMetricsAddress = "127.0.0.1";

// Ok for an IPv4 literal ("127.0.0.1", "0.0.0.0"); otherwise an error saying what is
// accepted (host names are not: the endpoint binds to one interface, and a name may
// resolve to several or change; an IPv6 literal is named as such, see above).
Status check_listen_address(std::string_view address);

// The "host:port" the HTTP server (civetweb) listens on: "127.0.0.1:9464".
// REQUIRES: check_listen_address(address) is Ok.
std::string listen_spec(std::string_view address, int port);

}  // namespace coedge::config
