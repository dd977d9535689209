#include "cluster_report.h"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

namespace coedge::app {

Result<ClusterSummary> read_cluster_summary(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{ErrorCode::kNotFound, "cannot read " + path};
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    ClusterSummary s;
    s.dispatcher = j.value("dispatcher", "");
    s.plan_versions = j.value("plan_versions", 0ull);
    for (const auto& t : j.at("tasks")) {
      s.tasks.push_back({t.at("task"), t.at("model"), t.at("node"), t.at("released"), t.at("met"), t.at("overdue"),
                         t.at("dropped"), t.at("lost"), t.at("miss_rate"), t.at("mean_latency_ms")});
    }
    for (const auto& [model, m] : j.at("models").items()) {
      s.models[model] = {m.at("released"), m.at("met"), m.at("overdue"), m.at("dropped"), m.at("miss_rate")};
    }
    for (const auto& [node, tasks] : j.at("allocation").items()) s.allocation[node] = tasks.get<std::vector<std::string>>();
    if (j.contains("measured_profiles")) {
      for (const auto& [model, m] : j.at("measured_profiles").items()) {
        s.measured_profiles[model] = {m.at("exe_ms").get<std::vector<double>>(),
                                      m.at("batches").get<std::vector<uint64_t>>()};
      }
    }
    const auto& tot = j.at("totals");
    s.released = tot.at("released");
    s.met = tot.at("met");
    s.overdue = tot.at("overdue");
    s.dropped = tot.at("dropped");
    s.lost = tot.at("lost");
    s.miss_rate = tot.at("miss_rate");
    s.accounted = tot.at("accounted");
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Error{ErrorCode::kInvalidInput, path + ": not a master summary (" + e.what() + ")"};
  }
}

std::string format_cluster_summary(const Scenario& scenario, const ClusterSummary& s) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "\n%-10s %-14s %-6s %8s %8s %8s %8s %6s %8s %9s\n", "task", "model", "node",
                "released", "met", "overdue", "dropped", "lost", "miss", "mean ms");
  out += line;
  for (const ClusterTaskResult& t : s.tasks) {
    std::snprintf(line, sizeof line, "%-10s %-14s %-6s %8llu %8llu %8llu %8llu %6llu %7.2f%% %9.1f\n", t.task.c_str(),
                  t.model.c_str(), t.node.c_str(), static_cast<unsigned long long>(t.released),
                  static_cast<unsigned long long>(t.met), static_cast<unsigned long long>(t.overdue),
                  static_cast<unsigned long long>(t.dropped), static_cast<unsigned long long>(t.lost),
                  100 * t.miss_rate, t.mean_latency_ms);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-10s %-14s %-6s %8llu %8llu %8llu %8llu %6llu %7.2f%%\n", "all", "", "",
                static_cast<unsigned long long>(s.released), static_cast<unsigned long long>(s.met),
                static_cast<unsigned long long>(s.overdue), static_cast<unsigned long long>(s.dropped),
                static_cast<unsigned long long>(s.lost), 100 * s.miss_rate);
  out += line;
  out += "\nAllocation at the end (" + std::to_string(s.plan_versions) + " plan versions):";
  for (const NodeSpec& n : scenario.nodes) {
    std::string tasks;
    if (auto it = s.allocation.find(n.name); it != s.allocation.end())
      for (const std::string& t : it->second) tasks += (tasks.empty() ? "" : ",") + t;
    out += " " + n.name + "[" + tasks + "]";
  }
  out += "\nEvery released job is counted: " + std::string(s.accounted ? "yes" : "NO") + "\n";
  return out;
}

}  // namespace coedge::app
