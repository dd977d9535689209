// What the master knows of its cluster, from the nodes' reports and the cameras' counts:
// per task, the jobs its executors closed (summed over every node that ever ran it), the
// per-window view the dispatcher's stage 2 needs, and the final accounting. Reports carry
// cumulative counters, so a lost report loses nothing; a node or camera that restarts (a
// new lifetime, whose counters start again: master/report_checks.h says when) keeps what
// it reported before. It takes only samples the checks accepted (report_checks.h): it
// trusts their names and numbers. Pure: no threads, no I/O, time passed in.
//
// Final accounting, per task: released = what its camera published; met and overdue = what
// the executors reported; dropped = what they dropped plus what no node closed ("lost": in
// flight to a node that died, or captured while the task had no node). A job closed by
// nodes beyond what was released (surplus) means the accounting does not hold. A task fed
// by a camera driver (TaskSpec::topic) has no camera count (its source_stats are ignored):
// its released jobs are the frames the nodes took (one per period, node/core/topic_sampler.h),
// and lost = what a node released and never closed (its frames a node never received, or
// took while nobody ran the task, are no jobs: nothing counts them).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/scenario.h"
#include "net/dds.h"
#include "policy/dispatcher.h"

namespace coedge::master {

// a + b, or the largest uint64_t when that overflows: sums over lifetimes, nodes and tasks
// of counters a peer sent (each checked <= 2^53, but a peer claiming restart after restart
// adds lifetime after lifetime) never wrap around.
constexpr uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

struct TaskAccount {
  uint64_t released = 0;         // published by the camera (a driver's topic: taken by nodes)
  uint64_t accepted = 0;         // released on an executing node
  uint64_t met = 0, overdue = 0;
  uint64_t dropped_by_nodes = 0; // dropped on the executing node (deadline, crash, ...)
  uint64_t lost = 0;             // released but never closed by a node
  uint64_t surplus = 0;          // closed by nodes beyond what was released: an accounting error
                                 // (a frame taken by two nodes, or a camera whose count was lost)
  double latency_sum_ms = 0;     // over met + overdue
  uint64_t dropped() const { return dropped_by_nodes + lost; }
  double miss_rate() const {
    return released ? static_cast<double>(overdue + dropped()) / static_cast<double>(released) : 0.0;
  }
};

class ClusterState {
 public:
  explicit ClusterState(const Scenario& scenario);

  // A node's report; returns false (and ignores it) when it names an unknown node.
  // `new_lifetime`: the node restarted; what it reported before is kept, and its counters
  // count again from this report's.
  bool on_report(const net::NodeReport& report, bool new_lifetime = false);
  // A camera's count of a task's frames; `new_lifetime`: the camera restarted (its count
  // adds to what it counted before).
  void on_source_stats(const net::SourceStats& stats, bool new_lifetime = false);

  // What happened since the previous call (the dispatcher's stage-2 input): per task the
  // jobs closed in the window, and the links measured (per pair, the lower of the two
  // directions reported).
  policy::WindowReport window(TimePoint now);

  // Per task, everything so far.
  std::vector<TaskAccount> accounts() const;
  // Per model (scenario order) and batch size (index b - 1): the mean inference time the
  // nodes measured (ms, 0 when no batch of that size ran) and over how many batches.
  struct MeasuredProfile {
    std::array<double, kMaxBatch> exe_ms{};
    std::array<uint64_t, kMaxBatch> batches{};
  };
  std::vector<MeasuredProfile> measured_profiles() const;

 private:
  struct Counters {
    uint64_t released = 0, met = 0, overdue = 0, dropped = 0;
    double latency_sum_ms = 0, node_latency_sum_ms = 0;
  };
  static Counters add(const Counters& a, const Counters& b);
  Counters task_total(TaskIndex t) const;

  const Scenario& scenario_;
  // Per node and task: the latest cumulative counters, and what earlier runs of the node
  // (before a restart) had reported.
  std::vector<std::vector<Counters>> latest_, retired_;
  std::vector<std::vector<net::ProfileReport>> profiles_;  // per node, its latest, per model
  std::vector<Counters> at_last_window_;                   // per task
  std::vector<uint64_t> published_;                        // per task, from the cameras
  std::vector<uint64_t> retired_published_;                // per task, earlier camera lifetimes
  std::map<std::pair<NodeIndex, NodeIndex>, double> links_;  // (from, to) -> Mbit/s, this window
};

}  // namespace coedge::master
