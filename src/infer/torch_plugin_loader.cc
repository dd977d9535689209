// torch_runtime(): finds and opens the libtorch plugin (see torch_plugin_loader.h).
#include "infer/torch_plugin_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>

namespace coedge::infer {

namespace {
std::mutex& loader_mutex() {
  static std::mutex mu;
  return mu;
}
std::string& plugin_path_set() {
  static std::string path;
  return path;
}
}  // namespace

void set_torch_plugin_path(std::string path) {
  std::lock_guard lock(loader_mutex());
  plugin_path_set() = std::move(path);
}

std::vector<std::string> torch_plugin_places() {
  std::string named;
  {
    std::lock_guard lock(loader_mutex());
    named = plugin_path_set();
  }
  if (!named.empty()) return {named};  // named explicitly: nothing else is tried
  std::vector<std::string> places;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec)
    places.push_back((self.parent_path() / ".." / "lib" / "coedge" / kTorchPluginFile).lexically_normal().string());
#ifdef COEDGE_TORCH_PLUGIN_BUILD_PATH
  // The build's own plugin, for the build tree's programs outside bin/ only: an installed
  // program whose plugin is missing says so rather than load a build tree's
  // (BUILD/lib/coedge/PLUGIN: the build is three levels up).
  const std::filesystem::path build_root =
      std::filesystem::path(COEDGE_TORCH_PLUGIN_BUILD_PATH).parent_path().parent_path().parent_path();
  const std::string from_build = self.lexically_normal().lexically_relative(build_root).string();
  const bool in_build_tree = ec || (!from_build.empty() && from_build.rfind("..", 0) != 0);
  if (in_build_tree && (places.empty() || places.back() != COEDGE_TORCH_PLUGIN_BUILD_PATH))
    places.emplace_back(COEDGE_TORCH_PLUGIN_BUILD_PATH);
#endif
  return places;
}

Result<TorchRuntime*> torch_runtime() {
  const std::vector<std::string> places = torch_plugin_places();
  std::lock_guard lock(loader_mutex());
  static std::map<std::string, TorchRuntime*> loaded;  // by path; never unloaded
  std::string tried;
  for (const std::string& path : places) {
    if (auto it = loaded.find(path); it != loaded.end()) return it->second;
    if (::access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      return Error{ErrorCode::kNotFound, "cannot load the torch backend's plugin " + path + ": " +
                                             (why != nullptr ? why : "unknown loader error")};
    }
    auto entry = reinterpret_cast<TorchPluginEntry>(::dlsym(handle, kTorchPluginEntry));  // NOLINT: dlsym's contract
    if (entry == nullptr) {
      ::dlclose(handle);
      return Error{ErrorCode::kNotFound, "the torch backend's plugin " + path + " has no " + kTorchPluginEntry +
                                             " (a plugin of another CoEdge version?)"};
    }
    TorchRuntime* runtime = entry();  // never dlclose'd: its modules live as long as the process
    loaded.emplace(path, runtime);
    return runtime;
  }
  return Error{ErrorCode::kNotFound,
               "the torch backend is not available: this coedge was built without the torch backend "
               "(COEDGE_TORCH=OFF) or lib/coedge/" + std::string(kTorchPluginFile) + " is missing (looked at " +
                   (tried.empty() ? std::string("nothing") : tried) + "); use `backend: opencv` with the ONNX file"};
}

}  // namespace coedge::infer
