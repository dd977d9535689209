#include "cluster/host.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace coedge::cluster {

Status require_root() {
  if (::geteuid() == 0) return Ok{};
  return Error{ErrorCode::kUnsupported,
               "coedge cluster needs root to create network namespaces, links and CPU limits; run it "
               "with sudo"};
}

Status validate_name(std::string_view what, const std::string& name) {
  constexpr size_t kMaxName = 40;
  if (name.empty()) return Error{ErrorCode::kInvalidInput, std::string(what) + " is empty"};
  if (name.size() > kMaxName)
    return Error{ErrorCode::kInvalidInput, std::string(what) + " '" + name + "' is " +
                                               std::to_string(name.size()) + " characters long; at most " +
                                               std::to_string(kMaxName) + " are allowed"};
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-';
    if (!ok)
      return Error{ErrorCode::kInvalidInput, std::string(what) + " '" + name +
                                                 "' may contain only letters, digits, '_' and '-'"};
  }
  return Ok{};
}

Status kill_until_gone(const std::function<std::vector<pid_t>()>& list, Duration bound,
                       const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  const pid_t self = ::getpid();
  auto delay = std::chrono::microseconds(200);
  while (true) {
    std::vector<pid_t> pids = list();
    pids.erase(std::remove_if(pids.begin(), pids.end(), [&](pid_t p) { return p <= 0 || p == self; }),
               pids.end());
    if (pids.empty()) return Ok{};
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string left;
      for (pid_t p : pids) left += (left.empty() ? "" : " ") + std::to_string(p);
      return Error{ErrorCode::kIo, "processes still inside " + what + " " + format_duration(bound) +
                                       " after SIGKILL: " + left};
    }
    for (pid_t p : pids) ::kill(p, SIGKILL);
    ::usleep(static_cast<useconds_t>(delay.count()));
    delay = std::min<std::chrono::microseconds>(delay * 2, std::chrono::milliseconds(20));
  }
}

}  // namespace coedge::cluster
