// `coedge cluster S.yaml`: the scenario's whole cluster on this machine, for real
// (src/cluster/cluster_run.h), and the table of what it measured.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/cluster_run.h"
#include "cluster_report.h"
#include "cli.h"
#include "commands.h"
#include "data_paths.h"
#include "config/scenario_loader.h"
#include "policy_options.h"
#include "process_support.h"
#include "run_keystore.h"
#include "security/keystore.h"
#include "terminal.h"

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
    auto t = config::parse_duration(item.substr(at + 1));
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
      "master, node agents and cameras as separate programs over DDS, with DDS Security (a "
      "fresh keystore) unless --plain. Plays the scenario's link changes and --kill events, "
      "prints the per-task accounting. Needs root; tears everything down on exit or Ctrl-C "
      "(and cleans up after a crashed run).");
  struct Flags {
    std::string scenario, out = "results/cluster", dispatcher = "coedge", scheduler = "coedge",
                isolation = "sandbox", duration, window, models_dir /* empty: the shipped models */, prefix = "coedge";
    double cores = 0.25;
    uint32_t domain = 42;
    std::vector<std::string> kills;
    ProgressFlags progress;
    int metrics_port = 0;
    bool secure = false, plain = false;  // secure is the default; --secure only says so
    std::string images, keystore;
  };
  auto f = std::make_shared<Flags>();
  cli::input_path(cmd->add_option("scenario", f->scenario, "the scenario file (its models need <name>.onnx in --models-dir)")
                      ->required(),
                  f->scenario);
  cmd->add_option("-o,--out", f->out, "results folder (master/, nodes/, logs/)")->capture_default_str();
  cmd->add_option("--dispatcher", f->dispatcher, "the master's dispatcher: " + dispatcher_help())
      ->capture_default_str();
  cmd->add_option("--scheduler", f->scheduler, "every node's local scheduler: " + scheduler_help())
      ->capture_default_str();
  cmd->add_option("--isolation", f->isolation, "the node agents' isolation: sandbox, process or none")
      ->capture_default_str()
      ->check(cli::one_of({"sandbox", "process", "none"}));
  cmd->add_option("--duration", f->duration, "run length from the first plan (default: the scenario's run.duration)");
  cmd->add_option("--window", f->window, "stage-2 period (default: the scenario's run.window)");
  cmd->add_option("--node-cores", f->cores, "each node's CPU quota, in cores (cgroup cpu.cfs_quota_us)")
      ->capture_default_str()
      ->check(cli::number(0.01, 64.0));
  cmd->add_option("--models-dir", f->models_dir, "folder holding <model>.onnx")->default_str(default_models_dir().path);
  cmd->add_option("--kill", f->kills, "NODE@TIME: SIGKILL that node's agent at TIME after the first plan (repeat)");
  cmd->add_option("--domain", f->domain, "DDS domain id (0-232)")->capture_default_str()->check(cli::whole_number(0, 232));
  cmd->add_option("--metrics-port", f->metrics_port,
                  "the master and every node serve /metrics on this port, each on its namespace's address "
                  "(reachable from inside the namespaces: docs/METRICS.md); 0: off")
      ->capture_default_str()
      ->check(cli::port(true));
  cmd->add_option("--prefix", f->prefix,
                  "names of the namespaces and cgroups it creates (one run per prefix at a time)")
      ->capture_default_str();
  auto* secure = cmd->add_flag("--secure", f->secure,
                               "the default: DDS Security for every program, authenticated participants, "
                               "per-identity permissions, encrypted control topics, with a fresh keystore "
                               "in OUT/keystore unless --keystore (docs/SECURITY.md)");
  cmd->add_flag("--plain", f->plain,
                "no DDS Security: an open domain, on which any participant can steer the run (a network "
                "nobody else reaches)")
      ->excludes(secure);
  cmd->add_option("--images", f->images,
                  "protection of the image and result topics of a secure run: encrypt (confidential and "
                  "authenticated) or sign (authenticated, in the clear); default encrypt")
      ->check(cli::one_of({"sign", "encrypt"}));
  cmd->add_option("--keystore", f->keystore,
                  "a secure run's keystore (`coedge keys`) instead of a fresh one; it must hold the "
                  "master's identity and every node's and camera's");
  cli::input_path(cmd->get_option("--keystore"), f->keystore, cli::PathKind::kInputDir);
  add_progress_flags(cmd, f->progress);
  cli::output_path(cmd->get_option("--out"), f->out);
  cli::input_path(cmd->get_option("--models-dir"), f->models_dir, cli::PathKind::kInputDir);
  return [f] {
    // Input is checked first, so that a mistake is named whoever runs it; then root.
    auto scenario = config::load_scenario(f->scenario);
    if (!scenario.ok()) {
      std::fprintf(stderr, "coedge cluster: %s\n", scenario.error().message.c_str());
      return kExitBadInput;
    }
    cluster::ClusterRunOptions options;
    options.metrics_port = f->metrics_port;
    auto dispatcher = dispatcher_option("--dispatcher", f->dispatcher);
    auto scheduler = scheduler_option("--scheduler", f->scheduler);
    for (const Error* e : {dispatcher.ok() ? nullptr : &dispatcher.error(),
                           scheduler.ok() ? nullptr : &scheduler.error()}) {
      if (!e) continue;
      std::fprintf(stderr, "coedge cluster: %s\n", e->message.c_str());
      return kExitBadInput;
    }
    for (auto [text, target, name] : {std::tuple{&f->duration, &options.duration, "--duration"},
                                      std::tuple{&f->window, &options.window, "--window"}}) {
      if (text->empty()) continue;
      auto d = config::parse_duration(*text);
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
    if (Status st = fill_default(f->models_dir, default_models_dir(), "--models-dir"); !st.ok()) {
      std::fprintf(stderr, "coedge cluster: %s\n", st.error().message.c_str());
      return kExitFailure;
    }
    if (!std::filesystem::is_directory(f->models_dir)) {
      std::fprintf(stderr, "coedge cluster: --models-dir %s is not a folder (build the models with 'make build')\n",
                   f->models_dir.c_str());
      return kExitBadInput;
    }
    const bool secure = !f->plain;
    if (!secure && (!f->images.empty() || !f->keystore.empty())) {
      std::fprintf(stderr, "coedge cluster: --images and --keystore are for a secure run, not with --plain\n");
      return kExitBadInput;
    }
    if (secure && f->domain > kMaxSecureDomain) {
      std::fprintf(stderr, "coedge cluster: %s; --plain runs without it\n", secure_domain_error(f->domain).message.c_str());
      return kExitBadInput;
    }
    if (!f->keystore.empty() && !f->images.empty()) {
      std::fprintf(stderr, "coedge cluster: --images: a given --keystore's governance already decides how images "
                           "are protected (`coedge keys create --images`); give one or the other\n");
      return kExitBadInput;
    }
    if (!f->keystore.empty()) {  // every identity the run needs, checked before anything starts
      const std::string dir = std::filesystem::absolute(f->keystore).string();
      std::vector<std::pair<security::Role, std::string>> needed = {{security::Role::kMaster, ""}};
      for (const NodeSpec& n : scenario->nodes) {
        needed.emplace_back(security::Role::kNode, n.name);
        needed.emplace_back(security::Role::kCamera, n.name);
      }
      for (const auto& [role, name] : needed) {
        if (auto files = security::identity_files(dir, role, name); !files.ok()) {
          std::fprintf(stderr, "coedge cluster: --keystore: %s\n", files.error().message.c_str());
          return cli::exit_code_of(files.error());
        }
      }
    }
    if (geteuid() != 0) {
      std::fprintf(stderr,
                   "coedge cluster: needs root, to create network namespaces, shaped links and CPU "
                   "quotas; run it with sudo\n");
      return kExitBadInput;
    }
    options.scenario_file = std::filesystem::absolute(f->scenario).string();
    options.coedge_exe = sibling_executable("coedge");
    options.models_dir = std::filesystem::absolute(f->models_dir).string();
    options.out_dir = std::filesystem::absolute(f->out).string();
    options.dispatcher = dispatcher->text();  // canonical specs, for the master's and nodes' argv
    options.scheduler = scheduler->text();
    options.isolation = f->isolation;
    options.node_cores = f->cores;
    options.domain = f->domain;
    options.prefix = f->prefix;
    options.kills = *kills;
    options.progress = Progress(f->progress).enabled();
    if (secure) {
      const auto images = images_protection(f->images);
      if (f->keystore.empty()) {
        auto made = make_run_keystore(options.out_dir, *scenario, images);
        if (!made.ok()) {
          std::fprintf(stderr, "coedge cluster: creating the run's keystore: %s\n", made.error().message.c_str());
          return kExitFailure;
        }
        options.keystore = *made;
        options.security_label = secure_label(images);
      } else {
        options.keystore = std::filesystem::absolute(f->keystore).string();
        options.security_label = "secure";
      }
    }
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
    std::printf("DDS Security: %s\n",
                options.keystore.empty()
                    ? ("off (--plain: any participant on domain " + std::to_string(options.domain) +
                       " could steer this run)").c_str()
                    : ("on (" + options.security_label + "; keystore " + options.keystore + ")").c_str());
    if (!options.keystore.empty()) {  // what the sentry saw (cluster_run.h)
      std::ifstream in(options.out_dir + "/sentry.json");
      const auto sentry = nlohmann::json::parse(in, nullptr, false);
      if (sentry.is_discarded() || !sentry.contains("unauthenticated_writers")) {
        std::printf("Unauthenticated writers: unknown (the sentry wrote no %s/sentry.json)\n", options.out_dir.c_str());
      } else if (sentry["unauthenticated_writers"].empty()) {
        std::printf("Unauthenticated writers: none seen\n");
      } else {
        std::string seen;
        for (const auto& [topic, n] : sentry["unauthenticated_writers"].items())
          seen += (seen.empty() ? "" : ", ") + topic + " " + std::to_string(n.get<uint64_t>());
        std::printf("Unauthenticated writers: %s (attempts refused; %s/sentry.json)\n", seen.c_str(),
                    options.out_dir.c_str());
      }
    }
    std::printf("\nResults in %s (master/summary.json, master/windows.jsonl, master/plans.jsonl, logs/)\n",
                options.out_dir.c_str());
    return summary->accounted ? kExitOk : kExitUnaccounted;
  };
}

}  // namespace coedge::app
