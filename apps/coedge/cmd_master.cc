// `coedge master`: the cluster's master (src/master), and `coedge camera`: a node's
// cameras publishing frames over DDS (src/node/cluster/camera.h). With `coedge node
// --scenario`, these are the programs of a cluster across real hosts; `coedge cluster`
// starts them all on one machine, in network namespaces.
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.h"
#include "commands.h"
#include "process_support.h"
#include "config/listen_address.h"
#include "config/scenario_loader.h"
#include "master/master_service.h"
#include "node/cluster/camera.h"
#include "policy_options.h"
#include "run_keystore.h"
#include "security/keystore.h"

namespace coedge::app {
namespace {

struct DdsFlags {
  uint32_t domain = 0;
  std::string interface_address;
  std::vector<std::string> peers;
  std::string keystore;  // empty: no DDS Security
};

void add_dds_options(CLI::App* cmd, DdsFlags& f) {
  cmd->add_option("--domain", f.domain, "DDS domain id (0-232); every program of one cluster uses the same")
      ->capture_default_str()
      ->check(cli::whole_number(0, 232));
  cmd->add_option("--dds-interface", f.interface_address,
                  "address of the network interface DDS uses (default: Cyclone's choice)");
  cmd->add_option("--dds-peer", f.peers, "unicast discovery peer address (repeat); default: multicast discovery");
  cli::input_path(cmd->add_option("--keystore", f.keystore,
                                  "join the domain with DDS Security, as this program's identity in this keystore "
                                  "(`coedge keys`; docs/SECURITY.md); default: no security, an open domain"),
                  f.keystore, cli::PathKind::kInputDir);
}

// The DDS options of the flags, with the security files of (role, name) when --keystore is
// given. Errors name --keystore and why the keystore is refused (security::identity_files).
Result<net::DdsOptions> to_dds(const DdsFlags& f, security::Role role, const std::string& name) {
  net::DdsOptions o;
  o.domain = f.domain;
  o.interface_address = f.interface_address;
  o.peers = f.peers;
  if (!f.keystore.empty()) {
    if (f.domain > kMaxSecureDomain) return secure_domain_error(f.domain);
    auto files = security::identity_files(std::filesystem::absolute(f.keystore).string(), role, name);
    if (!files.ok()) return Error{files.error().code, "--keystore: " + files.error().message};
    o.security = std::move(*files);
  }
  return o;
}

}  // namespace

std::function<int()> add_master_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "master",
      "Run the cluster's master: the global task dispatcher online. Waits for every node of "
      "the scenario to report, places the tasks (stage 1), then corrects the plan every window "
      "from the measured miss rates and bandwidths (stage 2), and moves a lost node's tasks. "
      "Writes the accounting of every job to --out.");
  struct Flags {
    std::string scenario, dispatcher = "coedge", window, duration, lead = "500ms", wait = "120s", out;
    DdsFlags dds;
    int metrics_port = 0;
    std::string metrics_address = std::string(config::kDefaultMetricsAddress), metrics_linger;
  };
  auto f = std::make_shared<Flags>();
  cli::input_path(cmd->add_option("--scenario", f->scenario, "the cluster's scenario (nodes, tasks, profiles)")
                      ->required(),
                  f->scenario);
  cmd->add_option("--dispatcher", f->dispatcher, "the dispatcher: " + dispatcher_help())
      ->capture_default_str();
  cmd->add_option("--window", f->window, "stage-2 period (default: the scenario's run.window)");
  cmd->add_option("--duration", f->duration, "stop after this long (default: until Ctrl-C)");
  cmd->add_option("--plan-lead", f->lead, "a plan takes effect this long after it is published")
      ->capture_default_str();
  cmd->add_option("--wait-for-nodes", f->wait, "give up when a node has not reported within this")
      ->capture_default_str();
  cli::output_path(cmd->add_option("--out", f->out, "folder for summary.json, windows.jsonl and plans.jsonl"), f->out);
  add_dds_options(cmd, f->dds);
  cmd->add_option("--metrics-port", f->metrics_port, "Prometheus /metrics port (0: off; docs/METRICS.md)")
      ->capture_default_str()
      ->check(cli::port(true));
  cmd->add_option("--metrics-address", f->metrics_address,
                  "the address /metrics binds to (loopback only by default; 0.0.0.0 to open it; IPv4)")
      ->capture_default_str();
  cmd->add_option("--metrics-linger", f->metrics_linger,
                  "after the run, keep serving the final metrics this long (e.g. 5s), for a last scrape");
  return [f] {
    auto scenario = config::load_scenario(f->scenario);
    if (!scenario.ok()) {
      std::fprintf(stderr, "coedge master: %s\n", scenario.error().message.c_str());
      return cli::exit_code_of(scenario.error());
    }
    master::MasterOptions options;
    if (Status st = config::check_listen_address(f->metrics_address); !st.ok()) {
      std::fprintf(stderr, "coedge master: --metrics-address: %s\n", st.error().message.c_str());
      return kExitBadInput;
    }
    if (f->metrics_port > 0) options.metrics_listen = config::listen_spec(f->metrics_address, f->metrics_port);
    auto dispatcher = dispatcher_option("--dispatcher", f->dispatcher);
    if (!dispatcher.ok()) {
      std::fprintf(stderr, "coedge master: %s\n", dispatcher.error().message.c_str());
      return kExitBadInput;
    }
    options.dispatcher = std::move(dispatcher.value());
    auto dds = to_dds(f->dds, security::Role::kMaster, "");
    if (!dds.ok()) {
      std::fprintf(stderr, "coedge master: %s\n", dds.error().message.c_str());
      return cli::exit_code_of(dds.error());
    }
    options.dds = std::move(*dds);
    options.out_dir = f->out;
    for (auto [text, target, name] : {std::tuple{&f->window, &options.window, "--window"},
                                      std::tuple{&f->duration, &options.duration, "--duration"},
                                      std::tuple{&f->lead, &options.plan_lead, "--plan-lead"},
                                      std::tuple{&f->wait, &options.wait_for_nodes, "--wait-for-nodes"},
                                      std::tuple{&f->metrics_linger, &options.metrics_linger, "--metrics-linger"}}) {
      if (text->empty()) continue;
      auto d = config::parse_duration(*text);
      if (!d.ok()) {
        std::fprintf(stderr, "coedge master: %s: %s\n", name, d.error().message.c_str());
        return kExitBadInput;
      }
      *target = *d;
    }
    options.stop = install_stop_signals();
    const int code = master::run_master(std::move(*scenario), options);
    return code == 0 ? kExitOk : code == master::kRunUnaccounted ? kExitUnaccounted : kExitFailure;
  };
}

std::function<int()> add_camera_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "camera",
      "Run a node's cameras: for each task whose source is --node, publish a frame at the "
      "task's period on /coedge/<node>/<task>/image_raw (sensor_msgs/Image over DDS), from the "
      "master's first plan until it says stop. A ROS 2 camera driver can take its place.");
  struct Flags {
    std::string scenario, node, frames;
    bool best_effort = false;
    DdsFlags dds;
  };
  auto f = std::make_shared<Flags>();
  cli::input_path(cmd->add_option("--scenario", f->scenario, "the cluster's scenario")->required(), f->scenario);
  cmd->add_option("--node", f->node, "the node whose cameras these are")->required();
  cli::input_path(cmd->add_option("--frames", f->frames,
                                  "folder of images to replay, resized to each model's input (default: synthetic frames)"),
                  f->frames, cli::PathKind::kInputDir);
  cmd->add_flag("--best-effort", f->best_effort, "publish best-effort, as ROS 2 SensorDataQoS cameras do (default: reliable)");
  add_dds_options(cmd, f->dds);
  return [f] {
    auto scenario = config::load_scenario(f->scenario);
    if (!scenario.ok()) {
      std::fprintf(stderr, "coedge camera: %s\n", scenario.error().message.c_str());
      return kExitBadInput;
    }
    node::CameraOptions options;
    options.node = f->node;
    auto dds = to_dds(f->dds, security::Role::kCamera, f->node);
    if (!dds.ok()) {
      std::fprintf(stderr, "coedge camera: %s\n", dds.error().message.c_str());
      return cli::exit_code_of(dds.error());
    }
    options.dds = std::move(*dds);
    options.frames_dir = f->frames;
    options.best_effort = f->best_effort;
    options.stop = install_stop_signals();
    return node::run_camera(*scenario, options) == 0 ? kExitOk : kExitFailure;
  };
}

}  // namespace coedge::app
