// The master (`coedge master --scenario S.yaml`): the cluster's global task dispatcher,
// run online. It waits until the nodes report (their workers and models are up), runs
// stage 1 of the scenario's dispatcher (src/policy, the simulator's own code) and
// publishes the plan; then, every window, it turns the nodes' cumulative reports into the
// window's miss rates, latencies and measured bandwidths, runs stage 2 and publishes the
// plan again when it changed. A node whose liveliness lapses is lost: its tasks are
// dispatched again at once. A plan takes effect `plan_lead` after it is published, so
// that the nodes that gain a task are subscribed before its frames are theirs
// (node/cluster/cluster_feed.h).
//
// Stopping (SIGINT/SIGTERM or `duration`): the cameras are told to stop first, then, once
// their last frames had time to arrive, the nodes; the master waits for the nodes' final
// reports, and writes the accounting of every released job to `out_dir`, with the
// inference times the nodes measured per model and batch size. Single-threaded.
//
// run_master is a thin driver: every decision is MasterCore's (master_core.h), fed with
// what DDS delivered, the monotonic clock and CLOCK_REALTIME; the driver writes the plans
// and commands, the files (master_files.h) and the log, and sleeps until the core's next
// wake-up (at most 50 ms, to pick up new samples). Its epoch is its start (CLOCK_REALTIME).
// With metrics_listen, it serves the core's state as Prometheus metrics (master_metrics.h).
#pragma once

#include <atomic>
#include <string>

#include "core/scenario.h"
#include "core/time.h"
#include "net/dds.h"
#include "policy/policy_spec.h"

namespace coedge::master {

struct MasterOptions {
  policy::DispatcherSpec dispatcher;  // default: the paper's
  net::DdsOptions dds;
  Duration window{};           // 0: the scenario's run.window
  Duration duration{};         // 0: until stopped
  Duration plan_lead = std::chrono::milliseconds(500);
  Duration wait_for_nodes = std::chrono::seconds(120);  // at start, for every node's first report
  Duration progress_every = std::chrono::seconds(10);
  std::string out_dir;         // summary.json, windows.jsonl, plans.jsonl; empty: none
  // Prometheus /metrics (master_metrics.h) on this "host:port" (config::listen_spec),
  // bound before DDS starts; empty: none. After the run the final counters stay served
  // for metrics_linger (a stop signal ends the wait).
  std::string metrics_listen;
  Duration metrics_linger{};
  const std::atomic<bool>* stop = nullptr;
};

// run_master's result when the run completed but its accounting does not hold: the nodes
// closed jobs the cameras never counted (surplus, e.g. frames from a camera driver on a
// task's camera topic, whose task does not name it in `topic:`), or met + overdue + dropped != released. `coedge master` exits with it
// (apps/coedge/commands.h: kExitUnaccounted).
inline constexpr int kRunUnaccounted = 3;

// Returns the exit code: 0 after a complete run, 1 when it cannot run (DDS, no node
// reporting in time), kRunUnaccounted when the accounting is incomplete.
int run_master(Scenario scenario, const MasterOptions& options);

}  // namespace coedge::master
