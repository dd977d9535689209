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

bool is_backend_request(const std::string& name) { return name == "opencv" || name == "torch" || name == "auto"; }

Result<std::vector<std::string>> resolve_model_backends(NodeConfig& config) {
  std::vector<std::string> notices;
  config.model_backend_requests.resize(config.models.size());
  config.model_backends.assign(config.models.size(), std::string());
  for (size_t m = 0; m < config.models.size(); ++m) {
    const ModelProfile& model = config.models[m];
    std::string& file = config.model_files[m];
    const std::string& own = config.model_backend_requests[m];
    const std::string request = own.empty() ? config.backend : own;
    const std::string where = "model " + model.name + " of node " + config.name;
    if (!is_backend_request(request)) {
      return Error{ErrorCode::kInvalidInput,
                   where + ": unknown backend '" + request + "' (choices: opencv, torch, auto)"};
    }
    const bool given_torchscript = is_torchscript(file);
    const std::string onnx = given_torchscript ? sibling(file, "onnx") : file;
    const std::string torchscript = given_torchscript ? file : sibling(file, "pt");
    std::string backend = request;
    if (request == "auto") {
      // Chosen from the profile: said in the docs, not on every start of every node.
      if (!model.backend.empty()) {
        backend = model.backend;
      } else if (!config.profiles.empty()) {
        backend = "opencv";
      } else {
        backend = fs::exists(torchscript) ? "torch" : "opencv";
        notices.push_back(where + ": backend auto chose " + backend + " (unmeasured: " +
                          (backend == "torch" ? "it has a TorchScript file, " + torchscript
                                              : "no TorchScript file " + torchscript) +
                          "); the agent measures it on that backend");
      }
    } else if (!model.backend.empty() && model.backend != backend) {
      notices.push_back(where + " runs on " + backend + " but its profile (" + model.profile_source +
                        ") was measured on " + model.backend +
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
    file = needed;
    config.model_backends[m] = backend;
  }
  return notices;
}

}  // namespace coedge::config
