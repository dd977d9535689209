// codecs(): finds and opens the media plugin once (see codecs_plugin.h).
#include "media/codecs_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

namespace coedge::media {

namespace {
std::string& plugin_path_set() {
  static std::string path;
  return path;
}
}  // namespace

void set_plugin_path(std::string path) { plugin_path_set() = std::move(path); }

std::vector<std::string> plugin_places() {
  std::vector<std::string> places;
  if (!plugin_path_set().empty()) {
    places.push_back(plugin_path_set());
    return places;  // named explicitly: nothing else is tried
  }
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) places.push_back((self.parent_path() / ".." / "lib" / "coedge" / kPluginFile).lexically_normal().string());
#ifdef COEDGE_MEDIA_PLUGIN_BUILD_PATH
  // The build's own plugin, for the build tree's programs outside bin/ (tests, benchmarks)
  // only: an installed program whose plugin is missing says so, rather than quietly
  // loading a build tree's (BUILD/lib/coedge/PLUGIN: the build is three levels up).
  const std::filesystem::path build_root =
      std::filesystem::path(COEDGE_MEDIA_PLUGIN_BUILD_PATH).parent_path().parent_path().parent_path();
  const std::string from_build = self.lexically_normal().lexically_relative(build_root).string();
  const bool in_build_tree = ec || (!from_build.empty() && from_build.rfind("..", 0) != 0);
  if (in_build_tree && (places.empty() || places.back() != COEDGE_MEDIA_PLUGIN_BUILD_PATH))
    places.emplace_back(COEDGE_MEDIA_PLUGIN_BUILD_PATH);
#endif
  return places;
}

Result<const Codecs*> load_codecs(const std::vector<std::string>& places) {
  std::string tried;
  for (const std::string& path : places) {
    if (::access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path + " (absent)";
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      return Error{ErrorCode::kNotFound, "cannot load the image and video plugin " + path + ": " +
                                             (why != nullptr ? why : "unknown loader error")};
    }
    auto entry = reinterpret_cast<PluginEntry>(::dlsym(handle, kPluginEntry));  // NOLINT: dlsym's contract
    if (entry == nullptr) {
      ::dlclose(handle);
      return Error{ErrorCode::kNotFound, "the image and video plugin " + path + " has no " + kPluginEntry +
                                             " (a plugin of another CoEdge version?)"};
    }
    return entry();  // never dlclose'd: its codecs live as long as the process
  }
  return Error{ErrorCode::kNotFound, "cannot find the image and video plugin " + std::string(kPluginFile) +
                                         " (looked at " + tried +
                                         "; it is built and installed with coedge, or name it in the "
                                         "COEDGE_MEDIA_PLUGIN variable)"};
}

Result<const Codecs*> codecs() {
  static std::once_flag once;
  static Result<const Codecs*> loaded = Error{ErrorCode::kNotFound, "not loaded"};
  std::call_once(once, [] { loaded = load_codecs(plugin_places()); });
  return loaded;
}

}  // namespace coedge::media
