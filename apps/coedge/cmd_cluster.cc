// `coedge cluster S.yaml`: the scenario's whole cluster on this machine, for real
// (src/cluster/cluster_run.h), and the table of what it measured.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "cluster/cluster_run.h"
#include "cluster_report.h"
#include "commands.h"
#include "config/scenario_loader.h"
#include "policy/dispatcher.h"
#include "policy/local_scheduler.h"
#include "process_support.h"

namespace coedge::app {
namespace {

// "NODE@TIME" items of --kill.
Result<std::vector<cluster::KillEvent>> parse_kills(const std::vector<std::string>& items) {
  std::vector<cluster::KillEvent> out;
  for (const std::string& item : items) {
    const auto at = item.find('@');
    if (at == std::string::npos || at == 0) {
      return Error{ErrorCode::kInvalidInput, "--kill '" + item + "': expected NODE@TIME, e.g. n3@60s"};
    }
    auto t = parse_duration(item.substr(at + 1));
    if (!t.ok()) return Error{ErrorCode::kInvalidInput, "--kill '" + item + "': " + t.error().message};
    out.push_back({item.substr(0, at), *t});
  }
  return out;
}

}  // namespace

std::function<int()> add_cluster_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "cluster",
      "Run the scenario's cluster for real on this machine: each node in its own network "
      "namespace with its CPU quota, the scenario's link bandwidths enforced with tc, the "
      "master, node agents and cameras as separate programs over DDS. Plays the scenario's "
      "link changes and --kill events, prints the per-task accounting. Needs root; tears "
      "everything down on exit or Ctrl-C (and cleans up after a crashed run).");
  struct Flags {
    std::string scenario, out = "results/cluster", dispatcher = "coedge", scheduler = "coedge",
                isolation = "sandbox", duration, window, models_dir = "build/models", prefix = "coedge";
    double cores = 0.25;
    uint32_t domain = 42;
    std::vector<std::string> kills;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("scenario", f->scenario, "the scenario file (its models need <name>.onnx in --models-dir)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", f->out, "results folder (master/, nodes/, logs/)")->capture_default_str();
  cmd->add_option("--dispatcher", f->dispatcher, "the master's dispatcher (coedge, coedge+, coedge++, local, naive, spread)")
      ->capture_default_str();
  cmd->add_option("--scheduler", f->scheduler, "every node's local scheduler (coedge, edf, fixed, ...)")
      ->capture_default_str();
  cmd->add_option("--isolation", f->isolation, "the node agents' isolation: sandbox, process or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"sandbox", "process", "none"}));
  cmd->add_option("--duration", f->duration, "run length from the first plan (default: the scenario's run.duration)");
  cmd->add_option("--window", f->window, "stage-2 period (default: the scenario's run.window)");
  cmd->add_option("--node-cores", f->cores, "each node's CPU quota, in cores (cgroup cpu.cfs_quota_us)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 64.0));
  cmd->add_option("--models-dir", f->models_dir, "folder holding <model>.onnx")->capture_default_str();
  cmd->add_option("--kill", f->kills, "NODE@TIME: SIGKILL that node's agent at TIME after the first plan (repeat)");
  cmd->add_option("--domain", f->domain, "DDS domain id")->capture_default_str()->check(CLI::Range(0, 232));
  cmd->add_option("--prefix", f->prefix,
                  "names of the namespaces and cgroups it creates (one run per prefix at a time)")
      ->capture_default_str();
  return [f] {
    if (geteuid() != 0) {
      std::fprintf(stderr,
                   "coedge cluster: needs root, to create network namespaces, shaped links and CPU "
                   "quotas; run it with sudo\n");
      return kExitBadInput;
    }
    auto scenario = load_scenario(f->scenario);
    if (!scenario.ok()) {
      std::fprintf(stderr, "coedge cluster: %s\n", scenario.error().message.c_str());
      return kExitBadInput;
    }
    cluster::ClusterRunOptions options;
    if (auto probe = make_dispatcher(f->dispatcher, *scenario); !probe.ok()) {
      std::fprintf(stderr, "coedge cluster: --dispatcher: %s\n", probe.error().message.c_str());
      return kExitBadInput;
    }
    if (auto probe = make_local_scheduler(f->scheduler, *scenario); !probe.ok()) {
      std::fprintf(stderr, "coedge cluster: --scheduler: %s\n", probe.error().message.c_str());
      return kExitBadInput;
    }
    for (auto [text, target, name] : {std::tuple{&f->duration, &options.duration, "--duration"},
                                      std::tuple{&f->window, &options.window, "--window"}}) {
      if (text->empty()) continue;
      auto d = parse_duration(*text);
      if (!d.ok() || d->count() <= 0) {
        std::fprintf(stderr, "coedge cluster: %s: %s\n", name, d.ok() ? "must be positive" : d.error().message.c_str());
        return kExitBadInput;
      }
      *target = *d;
    }
    auto kills = parse_kills(f->kills);
    if (!kills.ok()) {
      std::fprintf(stderr, "coedge cluster: %s\n", kills.error().message.c_str());
      return kExitBadInput;
    }
    for (const cluster::KillEvent& k : *kills) {
      if (scenario->find_node(k.node) == kNone) {
        std::fprintf(stderr, "coedge cluster: --kill %s: no such node in %s\n", k.node.c_str(), f->scenario.c_str());
        return kExitBadInput;
      }
    }
    if (!std::filesystem::is_directory(f->models_dir)) {
      std::fprintf(stderr, "coedge cluster: --models-dir %s is not a folder (build the models with 'make build')\n",
                   f->models_dir.c_str());
      return kExitBadInput;
    }
    options.scenario_file = std::filesystem::absolute(f->scenario).string();
    options.coedge_exe = sibling_executable("coedge");
    options.models_dir = std::filesystem::absolute(f->models_dir).string();
    options.out_dir = std::filesystem::absolute(f->out).string();
    options.dispatcher = f->dispatcher;
    options.scheduler = f->scheduler;
    options.isolation = f->isolation;
    options.node_cores = f->cores;
    options.domain = f->domain;
    options.prefix = f->prefix;
    options.kills = *kills;
    options.stop = install_stop_signals();
    auto run = cluster::run_cluster(*scenario, options);
    if (!run.ok()) {
      std::fprintf(stderr, "coedge cluster: %s\n", run.error().message.c_str());
      return kExitFailure;
    }
    auto summary = read_cluster_summary(run->summary_json);
    if (!summary.ok()) {
      std::fprintf(stderr, "coedge cluster: %s\n", summary.error().message.c_str());
      return kExitFailure;
    }
    std::printf("%s", format_cluster_summary(*scenario, *summary).c_str());
    for (const std::string& note : run->notes) std::printf("During the run: %s\n", note.c_str());
    std::printf("\nResults in %s (master/summary.json, master/windows.jsonl, master/plans.jsonl, logs/)\n",
                options.out_dir.c_str());
    return summary->accounted ? kExitOk : kExitFailure;
  };
}

}  // namespace coedge::app
