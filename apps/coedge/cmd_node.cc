// `coedge node`: run one edge node for real (the node agent), and `coedge node-server`,
// the node's shared inference server process, which the agent starts itself.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli.h"
#include "commands.h"
#include "data_paths.h"
#include "process_support.h"
#include "config/listen_address.h"
#include "config/model_backend.h"
#include "config/node_config_loader.h"
#include "config/scenario_loader.h"
#include "node/cluster/cluster_config.h"
#include "node/cluster/topic_feed.h"
#include "node/node_agent.h"
#include "node/server_process.h"
#include "policy_options.h"
#include "run_keystore.h"
#include "security/keystore.h"

namespace coedge::app {
namespace {

struct NodeFlags {
  std::string config, isolation, scheduler, duration, profiles, jobs, summary, run_dir, worker;
  // A cluster node: its scenario and name, where its models are, how it reaches the others.
  std::string scenario, name, models_dir /* empty: the shipped models */, dds_interface;
  std::string keystore;  // with --scenario: DDS Security as node --name of this keystore
  std::vector<std::string> dds_peers, peers;
  uint32_t domain = 0;
  int probe_port = 5201;
  std::string probe_every = "3s";
  bool best_effort_frames = false;
  std::string crash_every, crash_for, crash_target = "worker", backoff_max;
  int metrics_port = -1;
  std::string metrics_address, metrics_linger;  // empty: the config's (default 127.0.0.1, 0)
  int backend_threads = -1;
  std::string backend;  // empty: the config's (a node config's `backend:`, a cluster node's auto)
  bool json = false;  // the summary's JSON on stdout instead of the table
};

// --metrics-address and --metrics-linger over the config (either kind of node).
Status apply_metrics_flags(const NodeFlags& f, config::NodeConfig& c) {
  if (!f.metrics_address.empty()) {
    if (Status st = config::check_listen_address(f.metrics_address); !st.ok()) {
      return Error{st.error().code, "--metrics-address: " + st.error().message};
    }
    c.metrics_address = f.metrics_address;
  }
  if (!f.metrics_linger.empty()) {
    auto d = config::parse_duration(f.metrics_linger);
    if (!d.ok()) return Error{d.error().code, "--metrics-linger: " + d.error().message};
    c.metrics_linger = *d;
  }
  return Ok{};
}

// Applies the command line over the file, with the loader's rules for what isolation
// allows (a worker executable, a rootfs or env need worker processes).
Result<config::NodeConfig> load_with_overrides(const NodeFlags& f) {
  auto config = config::load_node_config(f.config);
  if (!config.ok()) return config.error();
  config::NodeConfig& c = *config;
  for (const std::string& notice : c.notices) std::fprintf(stderr, "coedge: note: %s\n", notice.c_str());
  if (!f.isolation.empty()) {
    auto iso = config::parse_isolation(f.isolation);
    if (!iso.ok()) return Error{iso.error().code, "--isolation: " + iso.error().message};
    c.isolation = *iso;
    for (size_t i = 0; i < c.tasks.size(); ++i) {
      const config::TaskRuntime& t = c.task_runtime[i];
      if (c.isolation == config::Isolation::kNone && (t.worker != "stock" || !t.env.empty())) {
        return Error{ErrorCode::kInvalidInput,
                     "--isolation none: task " + c.tasks[i].name +
                         " has its own worker or env, which need worker processes"};
      }
      if (c.isolation != config::Isolation::kSandbox && !t.rootfs.empty()) {
        return Error{ErrorCode::kInvalidInput, "--isolation " + f.isolation + ": task " + c.tasks[i].name +
                                                   " has a rootfs, which needs the sandbox"};
      }
    }
  }
  if (!f.scheduler.empty()) {
    auto scheduler = scheduler_option("--scheduler", f.scheduler);
    if (!scheduler.ok()) return scheduler.error();
    c.scheduler = std::move(scheduler.value());
  }
  if (!f.duration.empty()) {
    auto d = config::parse_duration(f.duration);
    if (!d.ok()) return Error{d.error().code, "--duration: " + d.error().message};
    c.duration = *d;
  }
  auto absolute = [](const std::string& p) { return std::filesystem::absolute(p).lexically_normal().string(); };
  if (!f.profiles.empty()) {
    if (!std::filesystem::exists(f.profiles)) {
      return Error{ErrorCode::kNotFound, "--profiles: " + f.profiles + " does not exist"};
    }
    const std::string file = absolute(f.profiles);
    auto profiles = config::load_profile_set(file);
    if (!profiles.ok()) return Error{profiles.error().code, "--profiles: " + profiles.error().message};
    if (Status st = config::apply_profile_set(c, *profiles, file); !st.ok()) {
      return Error{st.error().code, "--profiles: " + st.error().message};
    }
  }
  if (!f.jobs.empty()) c.jobs_jsonl = absolute(f.jobs);
  if (!f.run_dir.empty()) c.run_dir = absolute(f.run_dir);
  if (f.metrics_port >= 0) c.metrics_port = f.metrics_port;
  if (Status st = apply_metrics_flags(f, c); !st.ok()) return st.error();
  if (f.backend_threads >= 0) c.backend_threads = f.backend_threads;
  if (!f.backend.empty()) {
    c.backend = f.backend;
    c.model_backend_requests.assign(c.models.size(), std::string());  // the flag overrides every model
  }
  // Again, now that --profiles and --backend have had their say (the loader's choice was
  // made from the file alone), and told.
  auto backends = config::resolve_model_backends(c);
  if (!backends.ok()) return backends.error();
  for (const std::string& notice : *backends) std::fprintf(stderr, "coedge: note: %s\n", notice.c_str());
  return config;
}

// A cluster node's config: the scenario's tasks, the models from --models-dir.
Result<config::NodeConfig> cluster_config(const NodeFlags& f, Scenario& scenario) {
  auto loaded = config::load_scenario(f.scenario);
  if (!loaded.ok()) return loaded.error();
  scenario = std::move(*loaded);
  node::ClusterNodeSettings settings;
  settings.node = f.name;
  settings.models_dir = f.models_dir;
  if (Status st = fill_default(settings.models_dir, default_models_dir(), "--models-dir"); !st.ok()) return st.error();
  settings.run_dir = f.run_dir.empty() ? "" : std::filesystem::absolute(f.run_dir).string();
  if (!f.scheduler.empty()) {
    auto scheduler = scheduler_option("--scheduler", f.scheduler);
    if (!scheduler.ok()) return scheduler.error();
    settings.scheduler = std::move(scheduler.value());
  }
  if (!f.isolation.empty()) {
    auto iso = config::parse_isolation(f.isolation);
    if (!iso.ok()) return Error{iso.error().code, "--isolation: " + iso.error().message};
    settings.isolation = *iso;
  }
  if (f.backend_threads >= 0) settings.backend_threads = f.backend_threads;
  if (!f.backend.empty()) settings.backend = f.backend;
  auto config = node::cluster_node_config(scenario, settings);
  if (!config.ok()) return config.error();
  for (const std::string& notice : config->notices) std::fprintf(stderr, "coedge: note: %s\n", notice.c_str());
  if (!f.duration.empty()) {
    auto d = config::parse_duration(f.duration);
    if (!d.ok()) return Error{d.error().code, "--duration: " + d.error().message};
    config->duration = *d;
  }
  if (!f.jobs.empty()) config->jobs_jsonl = std::filesystem::absolute(f.jobs).string();
  if (f.metrics_port >= 0) config->metrics_port = f.metrics_port;
  if (Status st = apply_metrics_flags(f, *config); !st.ok()) return st.error();
  return config;
}

// "name=address" pairs.
Result<std::vector<std::pair<std::string, std::string>>> parse_peers(const std::vector<std::string>& items) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      return Error{ErrorCode::kInvalidInput, "--peer '" + item + "': expected NODE=ADDRESS, e.g. n2=10.77.0.2"};
    }
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return out;
}

}  // namespace

std::function<int()> add_node_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "node",
      "Run one edge node for real: its sensors, each task's pre- and post-processing workers "
      "(sandboxed), and one shared inference server that batches jobs under the local "
      "scheduler. Prints progress and a per-task summary; stops cleanly on Ctrl-C. Appends "
      "each job's result to RUN_DIR/results/TASK.jsonl, every line tagged with the run's id "
      "(docs/schema/result-line.schema.json).");
  auto flags = std::make_shared<NodeFlags>();
  auto* config_opt = cmd->add_option("--config", flags->config, "the node's config file (docs/NODE_CONFIG.md)");
  cli::input_path(config_opt, flags->config);
  auto* scenario_opt =
      cmd->add_option("--scenario", flags->scenario,
                      "instead of --config: run as node --name of this scenario's cluster; the "
                      "master's plan says which tasks run here (docs/CLUSTER.md)")
          ->excludes(config_opt);
  cli::input_path(scenario_opt, flags->scenario);
  config_opt->excludes(scenario_opt);
  cmd->add_option("--name", flags->name, "with --scenario: this node's name in the scenario");
  cmd->add_option("--models-dir", flags->models_dir, "with --scenario: folder holding <model>.onnx")
      ->default_str(default_models_dir().path);
  auto* domain_opt = cmd->add_option("--domain", flags->domain,
                                     "with --scenario, or --config with topic sensors: DDS domain id (0-232)");
  domain_opt->capture_default_str()
      ->check(cli::whole_number(0, 232));
  cmd->add_option("--dds-interface", flags->dds_interface,
                  "with --scenario, or --config with topic sensors: address of the network interface DDS "
                  "uses (default: Cyclone's choice)");
  cmd->add_option("--dds-peer", flags->dds_peers,
                  "with --scenario, or --config with topic sensors: unicast discovery peer address "
                  "(repeat); default: multicast discovery");
  cmd->add_option("--keystore", flags->keystore,
                  "with --scenario: join the domain with DDS Security, as node --name's identity in this "
                  "keystore (`coedge keys`; docs/SECURITY.md); default: no security, an open domain");
  cmd->add_option("--peer", flags->peers,
                  "with --scenario: NODE=ADDRESS of a peer whose bandwidth this node probes (repeat)");
  cmd->add_flag("--best-effort-frames", flags->best_effort_frames,
               "with --scenario: subscribe to cameras best-effort, to take frames from ROS 2 drivers "
               "that publish with SensorDataQoS (`coedge camera --best-effort`); default reliable");
  cmd->add_option("--probe-port", flags->probe_port, "with --scenario: iperf3 port of every node's probe server")
      ->capture_default_str()
      ->check(cli::port(false));
  cmd->add_option("--probe-every", flags->probe_every,
                  "with --scenario: one peer is probed (for 250 ms) this often, in turn")
      ->capture_default_str();
  cmd->add_option("--isolation", flags->isolation,
                  "override: sandbox (bubblewrap, default), process (no sandbox), or none "
                  "(everything in one process: the paper's Mono Container baseline)");
  cmd->add_option("--scheduler", flags->scheduler, "override the local scheduler: " + scheduler_help());
  cmd->add_option("--duration", flags->duration, "override: run this long (e.g. 60s); default until Ctrl-C");
  cmd->add_option("--profiles", flags->profiles,
                  "override: the models' profile set (from `coedge profile`); without one the "
                  "node measures its models at start");
  cmd->add_option("--metrics-port", flags->metrics_port, "override: Prometheus /metrics port (0: off; up to 65535)")
      ->check(cli::port(true));
  cmd->add_option("--metrics-address", flags->metrics_address,
                  "override: the address /metrics binds to (default 127.0.0.1, loopback only; "
                  "0.0.0.0 to open it to the network; IPv4; docs/METRICS.md)");
  cmd->add_option("--metrics-linger", flags->metrics_linger,
                  "override: after the run, keep serving the final metrics this long (e.g. 5s), "
                  "for a last scrape");
  cmd->add_option("--jobs", flags->jobs, "override: append one JSON line per job to this file, tagged with the run's id "
                  "(docs/schema/job-line.schema.json)");
  cmd->add_option("--run-dir", flags->run_dir, "override: the run's folder (results, logs, task folders, summary)");
  cmd->add_option("--summary", flags->summary, "write the summary JSON here (default RUN_DIR/summary.json)");
  cmd->add_option("--backend-threads", flags->backend_threads, "override: inference threads (0: all cores)")
      ->check(cli::whole_number(0, 1024));
  cmd->add_option("--backend", flags->backend,
                  "override: every model's inference backend: opencv (ONNX on OpenCV DNN), torch (TorchScript on "
                  "libtorch) or auto (the backend each model's profile was measured on; docs/MODELS.md). "
                  "Default: the config's backend (opencv), auto for a cluster node")
      ->check(cli::one_of({"opencv", "torch", "auto"}));
  cmd->add_option("--crash-every", flags->crash_every,
                  "fault injection: SIGKILL a worker (in turn) this often, e.g. 500ms; the agent "
                  "restarts it and counts the jobs it held as dropped (sandbox and process modes)");
  cmd->add_option("--crash-for", flags->crash_for,
                  "fault injection: crash only this long from the start, e.g. 30s (default: the "
                  "whole run); the rest shows that work goes on after the crashes");
  cmd->add_option("--crash-target", flags->crash_target, "what --crash-every kills: worker or server")
      ->check(cli::one_of({"worker", "server"}));
  cmd->add_option("--restart-backoff-max", flags->backoff_max,
                  "longest delay before a crashed worker or server is restarted (default 5s; "
                  "the delay starts at 100ms and doubles per consecutive crash)");
  cmd->add_option("--worker", flags->worker, "the stock worker executable (default: coedge-worker next to coedge)");
  cmd->add_flag("--json", flags->json,
                "print the summary (summary.json's document) on stdout instead of the table; the log "
                "stays on stderr (docs/COMMAND_LINE.md)");
  cli::input_path(cmd->get_option("--profiles"), flags->profiles);
  cli::input_path(cmd->get_option("--worker"), flags->worker, cli::PathKind::kExecutable);
  cli::input_path(cmd->get_option("--models-dir"), flags->models_dir, cli::PathKind::kInputDir);
  cli::input_path(cmd->get_option("--keystore"), flags->keystore, cli::PathKind::kInputDir);
  cli::output_path(cmd->get_option("--run-dir"), flags->run_dir);
  cli::output_path(cmd->get_option("--jobs"), flags->jobs, cli::PathKind::kOutputFile);
  cli::output_path(cmd->get_option("--summary"), flags->summary, cli::PathKind::kOutputFile);
  return [flags, domain_opt] {
    if (flags->config.empty() == flags->scenario.empty()) {
      std::fprintf(stderr, "coedge node: give --config NODE.yaml (one node) or --scenario S.yaml --name NODE (a cluster node)\n");
      return kExitBadInput;
    }
    if (!flags->scenario.empty() && flags->name.empty()) {
      std::fprintf(stderr, "coedge node: --scenario needs --name, the node to run\n");
      return kExitBadInput;
    }
    if (!flags->scenario.empty() && !flags->profiles.empty()) {
      std::fprintf(stderr, "coedge node: --profiles: a cluster node runs with its scenario's profiles (the "
                           "scenario's 'profiles:' field); give them there\n");
      return kExitBadInput;
    }
    if (flags->scenario.empty() &&
        (!flags->name.empty() || !flags->peers.empty() || flags->best_effort_frames || !flags->keystore.empty())) {
      std::fprintf(stderr, "coedge node: --name, --peer, --keystore and --best-effort-frames go with --scenario (a "
                           "cluster node), not with --config (a topic sensor's QoS is its `reliability:` field)\n");
      return kExitBadInput;
    }
    Scenario scenario;
    node::ClusterOptions cluster;
    auto config = flags->scenario.empty() ? load_with_overrides(*flags) : cluster_config(*flags, scenario);
    if (!config.ok()) {
      std::fprintf(stderr, "coedge node: %s\n", config.error().message.c_str());
      return cli::exit_code_of(config.error());
    }
    // A node of its own joins DDS only for its topic sensors.
    const bool topic_node = flags->scenario.empty() && node::has_topic_sensors(*config);
    if (flags->scenario.empty() && !topic_node &&
        (domain_opt->count() > 0 || !flags->dds_interface.empty() || !flags->dds_peers.empty())) {
      std::fprintf(stderr, "coedge node: --domain, --dds-interface and --dds-peer go with --scenario, or with a "
                           "config whose tasks read topic sensors (kind: topic); %s has none\n", flags->config.c_str());
      return kExitBadInput;
    }
    if (!flags->scenario.empty()) {
      auto peers = parse_peers(flags->peers);
      auto every = config::parse_duration(flags->probe_every);
      if (!peers.ok() || !every.ok() || every->count() <= 0) {
        std::fprintf(stderr, "coedge node: %s\n",
                     !peers.ok() ? peers.error().message.c_str()
                                 : ("--probe-every: " + (every.ok() ? std::string("must be positive") : every.error().message)).c_str());
        return kExitBadInput;
      }
      cluster.node = flags->name;
      cluster.domain = flags->domain;
      cluster.interface_address = flags->dds_interface;
      cluster.dds_peers = flags->dds_peers;
      cluster.peer_addresses = *peers;
      cluster.probe_port = flags->probe_port;
      cluster.probe_every = *every;
      cluster.best_effort_frames = flags->best_effort_frames;
      if (!flags->keystore.empty()) {
        if (flags->domain > kMaxSecureDomain) {
          std::fprintf(stderr, "coedge node: %s\n", secure_domain_error(flags->domain).message.c_str());
          return kExitBadInput;
        }
        auto files = security::identity_files(std::filesystem::absolute(flags->keystore).string(),
                                              security::Role::kNode, flags->name);
        if (!files.ok()) {
          std::fprintf(stderr, "coedge node: --keystore: %s\n", files.error().message.c_str());
          return cli::exit_code_of(files.error());
        }
        cluster.security = std::move(*files);
      }
    }
    const std::atomic<bool>* stop = install_stop_signals();
    node::AgentOptions options;
    options.config = std::move(*config);
    options.coedge_exe = sibling_executable("coedge");
    // Absolute: a sandboxed worker starts in its task folder, where a relative path is lost.
    options.worker_exe = flags->worker.empty() ? sibling_executable("coedge-worker")
                                               : std::filesystem::absolute(flags->worker).string();
    options.summary_json = flags->summary;
    options.table = flags->json ? nullptr : stdout;
    options.stop = stop;
    if (!flags->scenario.empty()) {
      options.feed = node::cluster_feed_starter(cluster, scenario);
    } else if (topic_node) {
      node::TopicOptions topics;
      topics.domain = flags->domain;
      topics.interface_address = flags->dds_interface;
      topics.dds_peers = flags->dds_peers;
      options.feed = node::topic_feed_starter(topics);
    }
    if (!flags->backoff_max.empty()) {
      auto max = config::parse_duration(flags->backoff_max);
      if (!max.ok() || max->count() <= 0) {
        std::fprintf(stderr, "coedge node: --restart-backoff-max: %s\n",
                     max.ok() ? "must be positive" : max.error().message.c_str());
        return kExitBadInput;
      }
      options.restart_backoff_max = *max;
    }
    if (!flags->crash_every.empty()) {
      auto every = config::parse_duration(flags->crash_every);
      if (!every.ok() || every->count() <= 0) {
        std::fprintf(stderr, "coedge node: --crash-every: %s\n",
                     every.ok() ? "must be positive" : every.error().message.c_str());
        return kExitBadInput;
      }
      options.crash_every = *every;
      options.crash_server = flags->crash_target == "server";
    }
    if (!flags->crash_for.empty()) {
      auto length = config::parse_duration(flags->crash_for);
      if (!length.ok() || length->count() <= 0 || flags->crash_every.empty()) {
        std::fprintf(stderr, "coedge node: --crash-for: %s\n",
                     !length.ok()              ? length.error().message.c_str()
                     : length->count() <= 0    ? "must be positive"
                                               : "goes with --crash-every");
        return kExitBadInput;
      }
      options.crash_for = *length;
    }
    const std::string summary_path =
        flags->summary.empty() ? options.config.run_dir + "/summary.json" : std::filesystem::absolute(flags->summary).string();
    const int code = node::run_node_agent(options);
    if (flags->json && (code == 0 || code == node::kRunUnaccounted)) {
      // The same document as summary.json, which the agent has just written.
      std::ifstream in(summary_path);
      std::stringstream text;
      text << in.rdbuf();
      if (!in || text.str().empty()) {
        std::fprintf(stderr, "coedge node: cannot read the summary %s\n", summary_path.c_str());
        return kExitFailure;
      }
      std::fwrite(text.str().data(), 1, text.str().size(), stdout);
    }
    return code == 0 ? kExitOk : code == node::kRunUnaccounted ? kExitUnaccounted : kExitFailure;
  };
}

std::function<int()> add_node_server_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("node-server",
                                 "(internal) the node's shared inference server; `coedge node` starts it and "
                                 "hands it the node's config as its stdin");
  cmd->group("");  // not listed in --help: users run `coedge node`
  auto digest = std::make_shared<std::string>();
  cmd->add_option("--config-digest", *digest, "the digest of the config document on stdin (from the agent)");
  auto shm_fds = std::make_shared<std::string>();
  auto shm_sizes = std::make_shared<std::string>();
  cmd->add_option("--shm-fds", *shm_fds, "its shared memory: the control segment's descriptor, then each task's");
  cmd->add_option("--shm-task-sizes", *shm_sizes, "each task's tensor and output item bytes, TENSOR:OUTPUT,...");
  return [digest, shm_fds, shm_sizes] {
    if (::isatty(STDIN_FILENO) != 0) {
      std::fprintf(stderr, "coedge node-server: reads the node's config from its stdin, as `coedge node` "
                           "hands it over; run `coedge node` instead\n");
      return kExitBadInput;
    }
    auto config = node::receive_server_config(STDIN_FILENO, *digest);
    if (!config.ok()) {
      std::fprintf(stderr, "coedge node-server: %s\n", config.error().message.c_str());
      return kExitBadInput;
    }
    auto shm = node::parse_server_shm(*shm_fds, *shm_sizes, config->tasks.size());
    if (!shm.ok()) {
      std::fprintf(stderr, "coedge node-server: %s\n", shm.error().message.c_str());
      return kExitBadInput;
    }
    return node::run_server_process(*config, *digest, *shm);
  };
}

}  // namespace coedge::app
