// The agent's side of the profile check (node/core/profile_check.h): NodeMetrics' batch
// observer feeds ProfileMonitor every batch, on the pipeline's threads; each finding is
// logged at once on stderr (a warning when slower than the profile, a note when faster),
// with the command that re-profiles, counted in the metrics and kept for summary.json
// with its time since the sensors' start. Thread-safe: one lock around the check.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/node_config.h"
#include "core/clock.h"
#include "node/core/metrics.h"
#include "node/core/profile_check.h"

namespace coedge::node {

// The command that re-profiles the node's models on this machine into a profile set the
// node can use, or "" when one command cannot (see the .cc). `cluster`: a cluster node
// takes its profiles from its scenario's `profiles:`, not --profiles.
std::string reprofile_command(const config::NodeConfig& config, const std::string& coedge_exe, bool cluster);

class ProfileMonitor {
 public:
  ProfileMonitor(const config::NodeConfig& config, NodeMetrics& metrics, const Clock& clock,
                 std::string reprofile, bool cluster)
      : config_(config), metrics_(metrics), clock_(clock), reprofile_(std::move(reprofile)), cluster_(cluster),
        check_(config.models, config.profile_margin), start_(clock.now()) {}

  void set_start(TimePoint start) {
    std::lock_guard lock(mu_);
    start_ = start;
  }

  void on_batch(uint32_t m, int batch, Duration measured) {
    std::lock_guard lock(mu_);
    const auto finding = check_.on_batch(m, batch, measured);
    if (const auto ratio = check_.ratio(m)) metrics_.set_profile_ratio(m, *ratio);
    if (!finding) return;
    const double at_s = to_s(clock_.now() - start_);
    at_s_.push_back(at_s);
    const bool slower = finding->kind == ProfileDeviation::kSlower;
    char line[512];
    std::snprintf(line, sizeof line,
                  "%.1fs: profile %s: model %s at batch %d took %.1f ms (median of its first %d batches) "
                  "against %.1f ms in its profile: %.2fx, %s the %.2fx margin (profile_margin %g)",
                  at_s, slower ? "warning" : "note", config_.models[m].name.c_str(), finding->batch,
                  finding->measured_ms, finding->batches, finding->profiled_ms, finding->ratio,
                  slower ? "over" : "under", slower ? 1 + check_.margin() : 1 / (1 + check_.margin()),
                  check_.margin());
    std::string text = line;
    text += slower ? "; plans made with this profile are optimistic and may miss deadlines"
                   : "; plans made with this profile are pessimistic and leave capacity unused";
    text += " (profile from " + profile_source() + "). ";
    text += reprofile_.empty() ? "Re-profile: leave `profiles:` out of the config to measure the models at start"
                               : "Re-profile on this machine: " + reprofile_;
    if (!reprofile_.empty() && !cluster_) text += " (or leave `profiles:` out of the config to measure at start)";
    std::fprintf(stderr, "[node %s] %s\n", config_.name.c_str(), text.c_str());
    if (slower) metrics_.on_profile_warning(m);
  }

  nlohmann::json summary(Duration window) const {
    std::lock_guard lock(mu_);
    nlohmann::json out;
    out["margin"] = check_.margin();
    out["batches_judged"] = kProfilePooledBatches;           // per model, of any sizes
    out["batches_judged_per_size"] = kProfileCheckBatches;  // per batch size (detail)
    out["window_s"] = to_s(window);
    out["reprofile"] = reprofile_;
    nlohmann::json ratios = nlohmann::json::object();
    for (uint32_t m = 0; m < config_.models.size(); ++m) {
      if (const auto r = check_.ratio(m)) ratios[config_.models[m].name] = *r;
    }
    out["ratio_by_model"] = ratios;
    out["warnings"] = nlohmann::json::array();
    out["notes"] = nlohmann::json::array();
    for (size_t i = 0; i < check_.findings().size(); ++i) {
      const ProfileFinding& f = check_.findings()[i];
      const bool slower = f.kind == ProfileDeviation::kSlower;
      out[slower ? "warnings" : "notes"].push_back({{"model", config_.models[f.model].name},
                                                      {"batch", f.batch},
                                                      {"batches", f.batches},
                                                      {"measured_ms", f.measured_ms},
                                                      {"profiled_ms", f.profiled_ms},
                                                      {"ratio", f.ratio},
                                                      {"kind", slower ? "slower" : "faster"},
                                                      {"pooled", f.pooled},
                                                      {"at_s", at_s_[i]}});
    }
    return out;
  }

 private:
  std::string profile_source() const {
    return config_.profiles.empty() ? "the measurement at start" : config_.profiles;
  }

  const config::NodeConfig& config_;
  NodeMetrics& metrics_;
  const Clock& clock_;
  const std::string reprofile_;
  const bool cluster_;
  mutable std::mutex mu_;
  ProfileCheck check_;       // guarded by mu_
  std::vector<double> at_s_;  // guarded by mu_; per finding, seconds since start_
  TimePoint start_;          // guarded by mu_
};

}  // namespace coedge::node
