// The places of CoEdge's shipped data (see data_paths.h). The build compiles in, for this
// file only (apps/coedge/CMakeLists.txt): its source and build folders, to recognise a
// program run from its own build tree, and the installed data folder relative to the
// installed bin folder (from GNUInstallDirs).
#include "data_paths.h"

#include <filesystem>
#include <system_error>

#ifndef COEDGE_SOURCE_DIR
#error "COEDGE_SOURCE_DIR must be defined by the build"
#endif
#ifndef COEDGE_BINARY_DIR
#error "COEDGE_BINARY_DIR must be defined by the build"
#endif
#ifndef COEDGE_DATA_FROM_BIN
#error "COEDGE_DATA_FROM_BIN must be defined by the build"
#endif

namespace coedge::app {
namespace {

namespace fs = std::filesystem;

// The folder of this program, symbolic links resolved; empty when /proc is not mounted.
fs::path program_dir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self.parent_path();
}

// True when this program is BUILD/bin/coedge of the build that compiled it. Compared as
// files (same device and inode), not as strings, so a symbolic link in either path does
// not matter; a build tree that was moved or deleted is no longer recognised, and the
// program then looks where an installed one would.
bool in_build_tree(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::equivalent(dir, fs::path(COEDGE_BINARY_DIR) / "bin", ec) && !ec;
}

// The installed share folder of CoEdge (PREFIX/share/coedge), relative to the program.
fs::path installed_data(const fs::path& dir) { return (dir / COEDGE_DATA_FROM_BIN).lexically_normal(); }

DataFile look(std::vector<fs::path> places) {
  DataFile file;
  for (const fs::path& p : places) {
    file.tried.push_back(p.lexically_normal().string());
    std::error_code ec;
    if (!file.found && fs::exists(p, ec)) {
      file.path = file.tried.back();
      file.found = true;
    }
  }
  if (!file.found && !file.tried.empty()) file.path = file.tried.front();
  return file;
}

}  // namespace

DataFile example_file(const std::string& relative) {
  const fs::path dir = program_dir();
  if (in_build_tree(dir)) return look({fs::path(COEDGE_SOURCE_DIR) / "examples" / relative});
  if (dir.empty()) return look({});
  return look({installed_data(dir) / "examples" / relative});
}

DataFile default_models_dir() {
  const fs::path dir = program_dir();
  if (in_build_tree(dir)) return look({fs::path(COEDGE_BINARY_DIR) / "models"});
  if (dir.empty()) return look({});
  return look({installed_data(dir) / "models"});
}

Status fill_default(std::string& value, const DataFile& file, const std::string& option) {
  if (!value.empty()) return Ok{};
  if (file.found) {
    value = file.path;
    return Ok{};
  }
  std::string tried;
  for (const std::string& p : file.tried) tried += (tried.empty() ? "" : ", ") + p;
  if (tried.empty()) tried = "nowhere: this program's own folder is unknown (is /proc mounted?)";
  return Error{ErrorCode::kNotFound,
               option + ": its default is missing (looked at " + tried + "); give " + option +
                   " explicitly, or build or install CoEdge (`make build`, `make install`)"};
}

}  // namespace coedge::app
