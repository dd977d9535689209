// `coedge cluster S.yaml`: a whole cluster on one machine. It builds the emulated network
// (one namespace per node, the scenario's link bandwidths as tbf rates, a namespace for
// the master), gives every node a CPU quota, and starts the real programs: `coedge master`
// in its namespace, and in each node's namespace `coedge camera` (the node's sensors) and
// `coedge node --scenario` (its agent, inside its CPU quota). Then it plays the run's
// events at their times — the scenario's link changes (tc) and `--kill NODE@T` (SIGKILL
// of a node agent) — counted from the master's first plan, shows progress, and stops
// when the master has finished (after `duration`) or on Ctrl-C: the master stops the
// cameras and the nodes, then everything is torn down. A run that crashed leaves
// namespaces and cgroups behind; the next run with the same prefix removes them first.
//
// With a keystore (ClusterRunOptions::keystore), every program joins the domain with DDS
// Security as its own identity, and a sentry (`coedge sentry`, no credentials) in the
// master's namespace records every unauthenticated writer on CoEdge's topics into
// <out>/sentry.json; without, the domain is open.
//
// Each program's output goes to <out>/logs/<program>.log; the master's results to
// <out>/master/. Needs root. Single-threaded; not reentrant (one run per process).
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"

namespace coedge::cluster {

struct KillEvent {
  std::string node;
  Duration at{};  // after the master's first plan
};

struct ClusterRunOptions {
  std::string scenario_file;    // absolute; read again by every program
  std::string coedge_exe;       // this program
  std::string models_dir;       // absolute; <model>.onnx for the node agents
  std::string out_dir;          // absolute
  // Policy specs as canonical text (policy_spec.h), passed on the master's and the nodes'
  // command lines: this layer links core only, and the processes parse them again.
  std::string dispatcher = "coedge";
  std::string scheduler = "coedge";
  std::string isolation = "sandbox";
  double node_cores = 0.25;      // each node's CPU quota, in cores
  Duration duration{};          // of the master's run, from its first plan; 0: the scenario's
  Duration window{};            // 0: the scenario's run.window
  uint32_t domain = 42;
  std::string prefix = "coedge";
  std::vector<KillEvent> kills;
  std::string label;            // shown in progress lines, e.g. "CoEdge"
  bool progress = true;         // the "t / duration s" line every 20 s (apps: on a terminal or --progress)
  // > 0: the master and every node serve /metrics on this port, each on its namespace's
  // address (the master 10.77.0.254, node i 10.77.0.<i+1>), reachable from the namespaces
  // (e.g. a Prometheus started with `ip netns exec <prefix>-master`), not from the host.
  int metrics_port = 0;
  // DDS Security: every program joins the domain as its own identity in this keystore
  // (absolute; `coedge master|node|camera --keystore`): the master's, node N's and camera
  // N's, which it must hold (security/keystore.h). Empty: a plain, open domain, which any
  // participant on it can steer (docs/SECURITY.md).
  std::string keystore;
  std::string security_label;   // how the run's security is shown, e.g. "secure, images encrypted"
  const std::atomic<bool>* stop = nullptr;
};

struct ClusterRunResult {
  std::string summary_json;     // the master's summary (<out>/master/summary.json)
  double run_s = 0;             // from the first plan to the master's exit
  std::vector<std::string> notes;  // what happened (events played, processes that failed)
};

// Errors: not root, a network or cgroup that cannot be built, a program that does not
// start, a master that fails (its log is named).
Result<ClusterRunResult> run_cluster(const Scenario& scenario, const ClusterRunOptions& options);

}  // namespace coedge::cluster
