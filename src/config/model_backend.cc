#include "config/model_backend.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace coedge::config {
namespace {

namespace fs = std::filesystem;

// TorchScript files are zip archives; ONNX files are protobuf, which never starts so.
bool is_torchscript(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  if (in && in.read(magic, sizeof magic)) return std::memcmp(magic, "PK\3\4", 4) == 0;
  return fs::path(file).extension() != ".onnx";  // not there (yet): by its name
}

// The file of `format` ("onnx" or "pt") for a model given as `file`.
std::string sibling(const std::string& file, const char* format) {
  return fs::path(file).replace_extension(std::string(".") + format).string();
}

}  // namespace

std::string backend_of(const NodeConfig& config, size_t m) {
  return m < config.model_backends.size() && !config.model_backends[m].empty() ? config.model_backends[m] : "opencv";
}

bool is_backend_request(const std::string& name) { return name == "opencv" || name == "torch" || name == "auto"; }

Result<std::vector<std::string>> resolve_model_backends(NodeConfig& config) {
  std::vector<std::string> notices;
  config.model_backend_requests.resize(config.models.size());
  // The files as given are what the backends' files are found beside, each time.
  if (config.model_sources.size() != config.models.size()) config.model_sources = config.model_files;
  config.model_where.resize(config.models.size());
  std::vector<std::string> backends(config.models.size()), files(config.models.size());
  for (size_t m = 0; m < config.models.size(); ++m) {
    const ModelProfile& model = config.models[m];
    const std::string& given = config.model_sources[m];
    const std::string& own = config.model_backend_requests[m];
    const std::string request = own.empty() ? config.backend : own;
    const std::string where = (config.model_where[m].empty() ? "" : config.model_where[m] + ": ") + "model " +
                              model.name + " of node " + config.name;
    // A profile that records no backend was measured on opencv (module comment).
    const std::string measured_on = !model.backend.empty() ? model.backend
                                    : !config.profiles.empty() ? "opencv"
                                                               : "";
    if (!is_backend_request(request)) {
      return Error{ErrorCode::kInvalidInput,
                   where + ": unknown backend '" + request + "' (choices: opencv, torch, auto)"};
    }
    const bool given_torchscript = is_torchscript(given);
    const std::string onnx = given_torchscript ? sibling(given, "onnx") : given;
    const std::string torchscript = given_torchscript ? given : sibling(given, "pt");
    std::string backend = request;
    if (request == "auto") {
      // Chosen from the profile: said in the docs, not on every start of every node.
      if (!measured_on.empty()) {
        backend = measured_on;
      } else {
        backend = fs::exists(torchscript) ? "torch" : "opencv";
        notices.push_back(where + ": backend auto chose " + backend + " (unmeasured: " +
                          (backend == "torch" ? "it has a TorchScript file, " + torchscript
                                              : "no TorchScript file " + torchscript) +
                          "); the agent measures it on that backend");
      }
    } else if (!measured_on.empty() && measured_on != backend) {
      notices.push_back(where + " runs on " + backend + " but its profile (" + model.profile_source +
                        ") was measured on " + measured_on +
                        ": the scheduler plans with the wrong timings; `coedge profile --backend " + backend +
                        "` measures it there");
    }
    const std::string& needed = backend == "torch" ? torchscript : onnx;
    if (!fs::exists(needed)) {
      return Error{ErrorCode::kNotFound,
                   where + ": backend " + backend + " loads " + needed + ", which does not exist (" +
                       (backend == "torch" ? "the generated models come in both formats; export yours with "
                                             "tools/export_models.py, or use backend: opencv"
                                           : "OpenCV DNN reads ONNX; use backend: torch for a TorchScript file") +
                       ")"};
    }
    files[m] = needed;
    backends[m] = backend;
  }
  // All or nothing: a failed resolution leaves the config as it was.
  config.model_files = std::move(files);
  config.model_backends = std::move(backends);
  return notices;
}

}  // namespace coedge::config
