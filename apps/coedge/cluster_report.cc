#include "cluster_report.h"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "master/master_files.h"

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
    if (j.contains("startup")) {
      const auto& up = j.at("startup");
      auto seconds = [&](const char* key) { return up.at(key).is_null() ? -1.0 : up.at(key).get<double>(); };
      s.first_plan_s = seconds("first_plan_s");
      s.all_first_met_s = seconds("all_first_met_s");
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
  std::vector<master::AccountRow> rows;
  for (const ClusterTaskResult& t : s.tasks)
    rows.push_back({t.task, t.model, t.node, t.released, t.met, t.overdue, t.dropped, t.lost, t.miss_rate,
                    t.mean_latency_ms});
  rows.push_back({"all", "", "", s.released, s.met, s.overdue, s.dropped, s.lost, s.miss_rate, -1});
  std::string out = "\n" + master::account_table(rows);
  out += "\nAllocation at the end (" + std::to_string(s.plan_versions) + " plan versions):";
  for (const NodeSpec& n : scenario.nodes) {
    std::string tasks;
    if (auto it = s.allocation.find(n.name); it != s.allocation.end())
      for (const std::string& t : it->second) tasks += (tasks.empty() ? "" : ",") + t;
    out += " " + n.name + "[" + tasks + "]";
  }
  char line[200];
  if (s.first_plan_s >= 0) {
    std::snprintf(line, sizeof line, "\nStart-up (since the master started): first plan after %.1f s; ", s.first_plan_s);
    out += line;
    if (s.all_first_met_s >= 0) {
      std::snprintf(line, sizeof line, "every node given tasks met its first job by %.1f s", s.all_first_met_s);
      out += line;
    } else {
      out += "a node given tasks never met a job";
    }
  }
  out += "\nEvery released job is counted: " + std::string(s.accounted ? "yes" : "NO") + "\n";
  return out;
}

}  // namespace coedge::app
