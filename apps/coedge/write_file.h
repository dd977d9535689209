// Writing a command's output file: creates the parent folders, and says which file could
// not be written and why.
#pragma once

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/result.h"
#include "os/errno_text.h"

namespace coedge::app {

inline Status write_file(const std::string& path, const std::string& text) {
  std::error_code ec;
  if (auto parent = std::filesystem::path(path).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, ec);
  std::ofstream file(path, std::ios::binary);
  file << text;
  file.close();
  if (!file) return Error{ErrorCode::kIo, "cannot write " + path + ": " + os::errno_text(errno)};
  return Ok{};
}

}  // namespace coedge::app
