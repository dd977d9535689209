// Reading and printing what a cluster run measured (the master's summary.json), for
// `coedge cluster` and `coedge demo`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cluster/cluster_run.h"
#include "core/result.h"
#include "core/scenario.h"

namespace coedge::app {

struct ClusterTaskResult {
  std::string task, model, node;
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0, lost = 0;
  double miss_rate = 0, mean_latency_ms = 0;
};

struct ClusterModelResult {
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0;
  double miss_rate = 0;
};

struct ClusterSummary {
  std::string dispatcher;
  std::vector<ClusterTaskResult> tasks;
  std::map<std::string, ClusterModelResult> models;
  std::map<std::string, std::vector<std::string>> allocation;  // node -> tasks (final plan)
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0, lost = 0;
  double miss_rate = 0;
  bool accounted = false;
  uint64_t plan_versions = 0;
  // Per model: the inference time the nodes measured per batch size (ms) and over how
  // many batches (0: none of that size ran).
  struct Measured {
    std::vector<double> exe_ms;
    std::vector<uint64_t> batches;
  };
  std::map<std::string, Measured> measured_profiles;
  // Start-up, seconds since the master started (-1: did not happen, or an older summary).
  double first_plan_s = -1, all_first_met_s = -1;
};

Result<ClusterSummary> read_cluster_summary(const std::string& path);
std::string format_cluster_summary(const Scenario& scenario, const ClusterSummary& summary);

}  // namespace coedge::app
