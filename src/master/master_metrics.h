// The master's Prometheus metrics (docs/METRICS.md, "Master"): the plan (its version, how
// many were published, how often each task's placement changed, where each task runs),
// the nodes (up or not, as the master last heard), its phase, and per task the
// cluster-wide counters — released (what the task's camera published) and finished by
// outcome (met, overdue, dropped: what the executing nodes reported, summed over every
// node that ever ran the task) — with the last stage-2 window's miss ratio next to the
// task's ε; and the samples the master refused (coedge_master_rejected_samples_total{topic,
// reason}: master/report_checks.h), every (topic, reason) of its topics at zero from the
// start. Series have no `node` label of their own: a node's series come from the node.
//
// The counters follow the nodes' cumulative reports (ClusterState), so they only grow. One
// difference from the nodes' own counters: jobs that no node ever closed (in flight to a
// node that died, or captured while the task had no node) are known only at the end; the
// final update (finish()) counts them as dropped, as the master's summary.json does.
//
// Fed by run_master's driver after each tick (update()), so it reads the passive core and
// never changes it; served over HTTP from its own thread (prometheus-cpp is synchronised).
// Not thread-safe otherwise: update/finish/serve from the driver's thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Registry;
}  // namespace prometheus

namespace coedge::master {

class MasterCore;
struct MasterSummary;

class MasterMetrics {
 public:
  // REQUIRES: `scenario` outlives this.
  explicit MasterMetrics(const Scenario& scenario);
  ~MasterMetrics();
  MasterMetrics(const MasterMetrics&) = delete;
  MasterMetrics& operator=(const MasterMetrics&) = delete;

  // Serves /metrics on `listen` ("host:port", config::listen_spec). Fails naming it.
  Status serve(const std::string& listen);
  int port() const;  // bound by serve(); 0 if not serving

  // Everything the core knows now. Call after each tick (cheap: a few atomics per task).
  void update(const MasterCore& core);
  // The final accounting: jobs no node closed are counted as dropped (summary.json's view).
  void finish(const MasterSummary& summary);
  // The last stage-2 window's miss ratio of task t (overdue + dropped over finished).
  void set_window_miss_ratio(TaskIndex t, double ratio);

  std::string text() const;  // the exposition, as /metrics returns it

 private:
  struct TaskSeries {
    prometheus::Counter* released = nullptr;
    prometheus::Counter* met = nullptr;
    prometheus::Counter* overdue = nullptr;
    prometheus::Counter* dropped = nullptr;
    prometheus::Counter* placement_changes = nullptr;
    prometheus::Gauge* window_miss_ratio = nullptr;
    std::vector<prometheus::Gauge*> placed;  // per node
    NodeIndex node = kNone;                  // where the last plan seen put it
  };
  // Counters follow a cumulative value: they are raised to it, never lowered.
  static void raise_to(prometheus::Counter& counter, double value);

  const Scenario& scenario_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<TaskSeries> tasks_;
  std::vector<prometheus::Gauge*> node_up_;
  std::vector<prometheus::Gauge*> phase_;  // per Phase value
  prometheus::Gauge* nodes_up_ = nullptr;
  prometheus::Gauge* plan_version_ = nullptr;
  prometheus::Counter* plans_published_ = nullptr;
  // [topic][reason] for the master's topics (node_report, source_stats); null elsewhere.
  std::vector<std::vector<prometheus::Counter*>> rejected_;
  uint64_t last_version_ = 0;
};

}  // namespace coedge::master
