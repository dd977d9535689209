#include "node/profile_monitor.h"

#include <filesystem>

namespace coedge::node {

// The command that re-profiles the node's models on this machine into a profile set the
// node can use (every model of the node, under its config name): `coedge profile` names a
// model after its file's stem, or after --name when given one file. When the names are not
// the stems of several files, one command cannot do it: the node measures at start instead.
// `cluster`: a cluster node takes its profiles from its scenario's `profiles:`, not --profiles.
std::string reprofile_command(const config::NodeConfig& config, const std::string& coedge_exe, bool cluster) {
  std::string cmd = coedge_exe.empty() ? "coedge" : coedge_exe;
  cmd += " profile";
  bool stems = true;
  for (size_t m = 0; m < config.models.size(); ++m) {
    stems &= std::filesystem::path(config.model_files[m]).stem().string() == config.models[m].name;
    cmd += " " + config.model_files[m];
  }
  if (!stems && config.models.size() != 1) return "";
  if (!stems) cmd += " --name " + config.models[0].name;
  // Each file is measured on the backend that reads its format (NAME.onnx on opencv,
  // NAME.pt on torch), which is the one that runs it here (config/model_backend.h).
  if (config.backend_threads > 0) cmd += " --threads " + std::to_string(config.backend_threads);
  const std::string out = "results/profiles/" + config.name + ".yaml";
  return cmd + " -o " + out + (cluster ? "; then name it in the scenario's `profiles:`" : "; then run with --profiles " + out);
}

}  // namespace coedge::node
