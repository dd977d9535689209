#include "core/time.h"

#include <cstdio>

namespace coedge {

std::string format_duration(Duration d) {
  char buf[64];
  const int64_t us = d.count();
  if (us % 1000000 == 0) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(us / 1000000));
  } else if (us % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(us / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%lldus", static_cast<long long>(us));
  }
  return buf;
}

}  // namespace coedge
