#include "os/errno_text.h"

#include <cstring>

namespace coedge::os {

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r: returns a pointer to the text (in buf or a static string).
  return ::strerror_r(err, buf, sizeof buf);
}

}  // namespace coedge::os
