#include "core/scenario.h"

#include <algorithm>
#include <cmath>

#include "core/result.h"

namespace coedge {

const Link* Network::find(NodeIndex a, NodeIndex b) const {
  if (a >= adjacency.size()) return nullptr;
  const auto& links = adjacency[a];
  auto it = std::lower_bound(links.begin(), links.end(), b,
                             [](const Link& l, NodeIndex peer) { return l.peer < peer; });
  return (it != links.end() && it->peer == b) ? &*it : nullptr;
}

double Network::mbps(NodeIndex a, NodeIndex b) const {
  if (a == b) return std::numeric_limits<double>::infinity();
  const Link* link = find(a, b);
  return link ? link->mbps : default_mbps;
}

Duration Network::latency(NodeIndex a, NodeIndex b) const {
  if (a == b) return Duration{0};
  const Link* link = find(a, b);
  return link ? link->latency : default_latency;
}

void Network::set(NodeIndex a, NodeIndex b, double new_mbps, Duration new_latency) {
  COEDGE_CHECK(a != b && a < adjacency.size() && b < adjacency.size());
  auto put = [&](NodeIndex from, NodeIndex to) {
    auto& links = adjacency[from];
    auto it = std::lower_bound(links.begin(), links.end(), to,
                               [](const Link& l, NodeIndex peer) { return l.peer < peer; });
    if (it != links.end() && it->peer == to) {
      it->mbps = new_mbps;
      it->latency = new_latency;
    } else {
      links.insert(it, Link{to, new_mbps, new_latency});
    }
  };
  put(a, b);
  put(b, a);
}

NodeIndex Scenario::find_node(const std::string& wanted) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].name == wanted) return static_cast<NodeIndex>(i);
  return kNone;
}

TaskIndex Scenario::find_task(const std::string& wanted) const {
  for (size_t i = 0; i < tasks.size(); ++i)
    if (tasks[i].name == wanted) return static_cast<TaskIndex>(i);
  return kNone;
}

ModelIndex Scenario::find_model(const std::string& wanted) const {
  for (size_t i = 0; i < models.size(); ++i)
    if (models[i].name == wanted) return static_cast<ModelIndex>(i);
  return kNone;
}

Duration transfer_time(int64_t bytes, double mbps) {
  COEDGE_CHECK(mbps > 0);
  const double us = std::ceil(static_cast<double>(bytes) * 8.0 / mbps);
  // Beyond about 31 years the transfer cannot matter, and the clock could not add it.
  if (!(us < 1e15)) return kNever;
  return Duration(static_cast<int64_t>(us));
}

}  // namespace coedge
