#include "policy/dispatcher.h"

#include <array>

#include "policy/coedge_dispatcher.h"
#include "policy/simple_dispatchers.h"
#include "policy/spread_dispatcher.h"

namespace coedge {
namespace {
constexpr std::array<std::string_view, 6> kNames = {"coedge", "coedge+", "coedge++", "local",
                                                    "naive", "spread"};
}

std::string_view to_string(PlanReason reason) {
  switch (reason) {
    case PlanReason::kPlaced: return "placed";
    case PlanReason::kUnplaceable: return "unplaceable";
    case PlanReason::kEvicted: return "evicted";
    case PlanReason::kReadmitted: return "readmitted";
    case PlanReason::kMoved: return "moved";
    case PlanReason::kNodeLost: return "node_lost";
    case PlanReason::kLinkChanged: return "link_changed";
  }
  return "?";
}

std::span<const std::string_view> dispatcher_names() { return kNames; }

Result<std::unique_ptr<Dispatcher>> make_dispatcher(std::string_view name,
                                                    const Scenario& scenario) {
  std::unique_ptr<Dispatcher> dispatcher;
  if (name == "coedge") dispatcher = std::make_unique<CoedgeDispatcher>(scenario);
  if (name == "coedge+")
    dispatcher = std::make_unique<CoedgeDispatcher>(scenario, CoedgeDispatcherOptions{true, false, false});
  if (name == "coedge++")
    dispatcher = std::make_unique<CoedgeDispatcher>(scenario, CoedgeDispatcherOptions{true, true, true});
  if (name == "local") dispatcher = std::make_unique<LocalDispatcher>(scenario);
  if (name == "naive") dispatcher = std::make_unique<NaiveDispatcher>(scenario);
  if (name == "spread") dispatcher = std::make_unique<SpreadDispatcher>(scenario);
  if (!dispatcher) {
    return Error{ErrorCode::kInvalidInput, "unknown dispatcher '" + std::string(name) +
                                               "' (choose one of: coedge, coedge+, coedge++, local, naive, spread)"};
  }
  return dispatcher;
}

void reachable_nodes(const Scenario& scenario, const Network& network, TaskIndex t,
                     std::vector<NodeIndex>& out) {
  out.clear();
  const NodeIndex source = scenario.tasks[t].source;
  out.push_back(source);
  if (network.default_mbps > 0) {
    for (NodeIndex k = 0; k < scenario.nodes.size(); ++k)
      if (k != source) out.push_back(k);
    return;
  }
  for (const Link& link : network.adjacency[source])
    if (link.mbps > 0) out.push_back(link.peer);
}

}  // namespace coedge
