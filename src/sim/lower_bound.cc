#include "sim/lower_bound.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "policy/dispatcher.h"
#include "policy/estimators.h"

namespace coedge::sim {
namespace {

// Serves the cheapest (cost, rate) demands first within `capacity` (work per second);
// returns the rate left unserved.
double unserved(std::vector<std::pair<double, double>> demands, double capacity) {
  std::sort(demands.begin(), demands.end());
  double left = 0;
  for (const auto& [cost, rate] : demands) {
    const double work = cost * rate;
    if (work <= capacity) {
      capacity -= work;
    } else {
      const double served = cost > 0 ? capacity / cost : rate;
      left += rate - served;
      capacity = 0;
    }
  }
  return left;
}

}  // namespace

MissRateBound miss_rate_lower_bound(const Scenario& s, std::span<const uint64_t> released) {
  COEDGE_CHECK(released.empty() || released.size() == s.tasks.size());
  MissRateBound bound;
  // Rates and a capacity of one second of work per accelerator (core); or, for one run,
  // its jobs and the seconds of work its span holds.
  Duration longest_deadline{0};
  for (const TaskSpec& task : s.tasks) longest_deadline = std::max(longest_deadline, task.deadline);
  const double span = released.empty() ? 1.0 : to_s(s.run.duration + longest_deadline);
  const double fastest = 1.0 - std::clamp(s.run.exec_jitter, 0.0, 1.0);  // a batch's quickest run
  auto exe = [fastest](Duration d) { return static_cast<double>(d.count()) * fastest; };
  double total = 0, unreachable = 0;
  std::vector<std::pair<double, double>> accelerator, cpu;  // (seconds per job, jobs per second)
  // Per source node: the demands of its tasks and the nodes any of them could use.
  std::vector<std::vector<std::pair<double, double>>> by_source(s.nodes.size());
  std::vector<std::vector<NodeIndex>> region(s.nodes.size());
  std::vector<NodeIndex> candidates;
  // Each link at its best over the run: the bandwidth it starts with or any it changes to
  // (events) before the run ends. A task may reach a node only while a link is fast, so
  // the start's network alone could call a node unreachable that a run does use.
  Network network = s.network;
  for (const LinkChange& change : s.link_changes)
    if (change.at < s.run.duration && change.a != change.b && change.mbps > network.mbps(change.a, change.b))
      network.set(change.a, change.b, change.mbps, network.latency(change.a, change.b));
  for (TaskIndex t = 0; t < s.tasks.size(); ++t) {
    const TaskSpec& task = s.tasks[t];
    const ModelProfile& model = s.models[task.model];
    const double rate = released.empty() ? 1.0 / to_s(task.period) : static_cast<double>(released[t]);
    total += rate;
    bool reachable = false;
    policy::reachable_nodes(s, network, t, candidates);
    for (NodeIndex k : candidates) {
      const Duration comm = policy::comm_time(network, model.input_bytes, task.source, k);
      if (comm != kNever && static_cast<double>((comm + model.pre_time + model.post_time).count()) + exe(model.exe(1)) <=
                                static_cast<double>(task.deadline.count())) {
        reachable = true;
        region[task.source].push_back(k);
      }
    }
    if (!reachable) {
      unreachable += rate;
      continue;
    }
    // The cheapest per-image time among batch sizes that can still meet the deadline.
    double best = exe(model.exe(1)) / 1e6;
    for (int b = 2; b <= kMaxBatch; ++b)
      if (static_cast<double>((model.pre_time + model.post_time).count()) + exe(model.exe(b)) <=
          static_cast<double>(task.deadline.count()))
        best = std::min(best, exe(model.exe(b)) / 1e6 / b);
    accelerator.emplace_back(best, rate);
    by_source[task.source].emplace_back(best, rate);
    cpu.emplace_back(to_s(model.pre_time + model.post_time), rate);
  }
  if (total <= 0) return bound;

  // Locality: a source's tasks can only use the nodes of its region. Over sources whose
  // regions do not overlap, what each region cannot serve adds up.
  std::vector<std::pair<double, NodeIndex>> local_unserved;
  for (NodeIndex src = 0; src < s.nodes.size(); ++src) {
    auto& nodes = region[src];
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    if (by_source[src].empty()) continue;
    const double left = unserved(by_source[src], static_cast<double>(nodes.size()) * span);
    if (left > 0) local_unserved.emplace_back(left, src);
  }
  std::sort(local_unserved.begin(), local_unserved.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::vector<bool> used(s.nodes.size(), false);
  double local = 0;
  for (const auto& [left, src] : local_unserved) {
    const auto& nodes = region[src];
    if (std::any_of(nodes.begin(), nodes.end(), [&](NodeIndex k) { return used[k]; })) continue;
    for (NodeIndex k : nodes) used[k] = true;
    local += left;
  }

  double cores = 0;
  for (const NodeSpec& n : s.nodes) cores += n.cpu_cores;
  bound.unreachable = unreachable / total;
  bound.accelerator =
      std::max(unserved(accelerator, static_cast<double>(s.nodes.size()) * span), local) / total;
  bound.cpu = unserved(cpu, cores * span) / total;
  bound.miss_rate = std::min(1.0, bound.unreachable + std::max(bound.accelerator, bound.cpu));
  return bound;
}

}  // namespace coedge::sim
