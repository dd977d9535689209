#include "config/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace coedge::config {

Status check_listen_address(std::string_view address) {
  const std::string text(address);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return Ok{};
  // "[::1]" or "::1": IPv6, which the HTTP server cannot bind (listen_address.h).
  const std::string bare = text.size() >= 2 && text.front() == '[' && text.back() == ']'
                               ? text.substr(1, text.size() - 2) : text;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, bare.c_str(), &v6) == 1) {
    return Error{ErrorCode::kUnsupported,
                 "'" + text + "' is an IPv6 address; the metrics endpoint binds IPv4 only (its HTTP server, "
                 "civetweb as Debian builds it, has no IPv6): give 127.0.0.1 (loopback only, the default), "
                 "0.0.0.0 (every interface) or one interface's IPv4 address"};
  }
  return Error{ErrorCode::kInvalidInput,
               "'" + text + "' is not an IP address to bind to; give 127.0.0.1 (loopback only, the default), "
               "0.0.0.0 (every interface) or one interface's IPv4 address"};
}

std::string listen_spec(std::string_view address, int port) {
  return std::string(address) + ":" + std::to_string(port);
}

}  // namespace coedge::config
