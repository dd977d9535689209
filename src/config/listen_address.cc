#include "config/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace coedge::config {
namespace {

// "[::1]" -> "::1"; anything else as it is.
std::string unbracketed(std::string_view address) {
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    return std::string(address.substr(1, address.size() - 2));
  }
  return std::string(address);
}

bool is_ipv6(const std::string& address) {
  in6_addr v6{};
  return ::inet_pton(AF_INET6, address.c_str(), &v6) == 1;
}

}  // namespace

Status check_listen_address(std::string_view address) {
  const std::string bare = unbracketed(address);
  in_addr v4{};
  if (!bare.empty() && (::inet_pton(AF_INET, bare.c_str(), &v4) == 1 || is_ipv6(bare))) return Ok{};
  return Error{ErrorCode::kInvalidInput,
               "'" + std::string(address) +
                   "' is not an IP address to bind to; give 127.0.0.1 (loopback only, the default), "
                   "0.0.0.0 (every IPv4 interface), :: (every interface) or one interface's address"};
}

std::string listen_spec(std::string_view address, int port) {
  const std::string bare = unbracketed(address);
  const std::string host = is_ipv6(bare) ? "[" + bare + "]" : bare;
  return host + ":" + std::to_string(port);
}

}  // namespace coedge::config
