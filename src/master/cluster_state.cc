#include "master/cluster_state.h"

#include <algorithm>

namespace coedge::master {

ClusterState::ClusterState(const Scenario& scenario)
    : scenario_(scenario),
      latest_(scenario.nodes.size(), std::vector<Counters>(scenario.tasks.size())),
      retired_(scenario.nodes.size(), std::vector<Counters>(scenario.tasks.size())),
      profiles_(scenario.nodes.size(), std::vector<net::ProfileReport>(scenario.models.size())),
      at_last_window_(scenario.tasks.size()),
      published_(scenario.tasks.size(), 0),
      retired_published_(scenario.tasks.size(), 0) {}

ClusterState::Counters ClusterState::add(const Counters& a, const Counters& b) {
  return Counters{saturating_add(a.released, b.released), saturating_add(a.met, b.met),
                  saturating_add(a.overdue, b.overdue),   saturating_add(a.dropped, b.dropped),
                  a.latency_sum_ms + b.latency_sum_ms,    a.node_latency_sum_ms + b.node_latency_sum_ms};
}

bool ClusterState::on_report(const net::NodeReport& report, bool new_lifetime) {
  const NodeIndex k = scenario_.find_node(report.node);
  if (k == kNone) return false;
  if (new_lifetime) {  // restarted: its earlier run's counts stay, its new ones start at 0
    for (TaskIndex t = 0; t < scenario_.tasks.size(); ++t) {
      retired_[k][t] = add(retired_[k][t], latest_[k][t]);
      latest_[k][t] = Counters{};
    }
  }
  for (const net::TaskReport& r : report.tasks) {
    const TaskIndex t = scenario_.find_task(r.task);
    if (t == kNone) continue;
    latest_[k][t] = Counters{r.released, r.met, r.overdue, r.dropped, r.latency_sum_ms, r.node_latency_sum_ms};
  }
  for (const net::ProfileReport& p : report.profiles) {
    const ModelIndex m = scenario_.find_model(p.model);
    if (m != kNone && p.batches.size() == kMaxBatch && p.exe_ms.size() == kMaxBatch) profiles_[k][m] = p;
  }
  for (const net::LinkReport& l : report.links) {
    const NodeIndex peer = scenario_.find_node(l.peer);
    if (peer != kNone && peer != k && l.mbps > 0) links_[{k, peer}] = l.mbps;
  }
  return true;
}

void ClusterState::on_source_stats(const net::SourceStats& stats, bool new_lifetime) {
  const TaskIndex t = scenario_.find_task(stats.task);
  if (t == kNone || !scenario_.tasks[t].topic.empty()) return;
  if (new_lifetime) {
    retired_published_[t] = saturating_add(retired_published_[t], published_[t]);
    published_[t] = 0;
  }
  published_[t] = std::max(published_[t], stats.published);
}

ClusterState::Counters ClusterState::task_total(TaskIndex t) const {
  Counters sum;
  for (NodeIndex k = 0; k < scenario_.nodes.size(); ++k) sum = add(sum, add(latest_[k][t], retired_[k][t]));
  return sum;
}

policy::WindowReport ClusterState::window(TimePoint now) {
  policy::WindowReport report;
  report.now = now;
  report.tasks.resize(scenario_.tasks.size());
  for (TaskIndex t = 0; t < scenario_.tasks.size(); ++t) {
    const Counters total = task_total(t);
    const Counters& before = at_last_window_[t];
    policy::TaskWindow& w = report.tasks[t];
    const uint64_t met = total.met - before.met, overdue = total.overdue - before.overdue,
                   dropped = total.dropped - before.dropped;
    w.finished = met + overdue + dropped;
    w.missed = overdue + dropped;
    w.completed = met + overdue;
    if (w.completed > 0) {
      const double n = static_cast<double>(w.completed);
      w.mean_latency = from_ms((total.latency_sum_ms - before.latency_sum_ms) / n);
      w.mean_node_latency = from_ms((total.node_latency_sum_ms - before.node_latency_sum_ms) / n);
    }
    at_last_window_[t] = total;
  }
  for (const auto& [pair, mbps] : links_) {
    const auto [a, b] = pair;
    if (a > b && links_.count({b, a})) continue;  // the pair is emitted once, from a < b
    double rate = mbps;
    if (auto back = links_.find({b, a}); back != links_.end()) rate = std::min(rate, back->second);
    report.links.push_back({std::min(a, b), std::max(a, b), rate});
  }
  links_.clear();
  return report;
}

std::vector<ClusterState::MeasuredProfile> ClusterState::measured_profiles() const {
  std::vector<MeasuredProfile> out(scenario_.models.size());
  for (ModelIndex m = 0; m < out.size(); ++m) {
    std::array<double, kMaxBatch> sum{};
    for (NodeIndex k = 0; k < profiles_.size(); ++k) {
      const net::ProfileReport& p = profiles_[k][m];
      if (p.batches.size() != kMaxBatch) continue;
      for (size_t b = 0; b < kMaxBatch; ++b) {
        sum[b] += p.exe_ms[b] * static_cast<double>(p.batches[b]);
        out[m].batches[b] += p.batches[b];
      }
    }
    for (size_t b = 0; b < kMaxBatch; ++b)
      if (out[m].batches[b] > 0) out[m].exe_ms[b] = sum[b] / static_cast<double>(out[m].batches[b]);
  }
  return out;
}

std::vector<TaskAccount> ClusterState::accounts() const {
  std::vector<TaskAccount> out(scenario_.tasks.size());
  for (TaskIndex t = 0; t < scenario_.tasks.size(); ++t) {
    const Counters total = task_total(t);
    TaskAccount& a = out[t];
    a.accepted = total.released;
    // A camera driver's topic (TaskSpec::topic) has no camera count: its jobs are the frames
    // the executing nodes took, and only those a node released and never closed are lost.
    a.released = scenario_.tasks[t].topic.empty() ? saturating_add(published_[t], retired_published_[t]) : total.released;
    a.met = total.met;
    a.overdue = total.overdue;
    a.dropped_by_nodes = total.dropped;
    a.latency_sum_ms = total.latency_sum_ms;
    const uint64_t closed = saturating_add(saturating_add(total.met, total.overdue), total.dropped);
    a.lost = a.released > closed ? a.released - closed : 0;
    a.surplus = closed > a.released ? closed - a.released : 0;
  }
  return out;
}

}  // namespace coedge::master
