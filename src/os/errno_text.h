// The text of an errno value, for error messages ("cannot open x: " + errno_text(errno)).
// The one place the project turns an errno into words. Thread-safe (strerror_r).
#pragma once

#include <string>

namespace coedge::os {

// strerror's text for `err` (e.g. "No such file or directory").
std::string errno_text(int err);

}  // namespace coedge::os
