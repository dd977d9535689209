// Builds small scenarios in code for unit tests, with round numbers that make the
// hand-computed expectations easy to check.
#pragma once

#include <string>

#include "core/scenario.h"

namespace coedge::testing {

inline ModelProfile make_model(const std::string& name, double exe1_ms, double step_ms,
                               int64_t bytes = 100000, double pre_ms = 0, double post_ms = 0) {
  ModelProfile m;
  m.name = name;
  m.input_shape = {3, 100, 100};
  m.input_bytes = bytes;
  for (int b = 1; b <= kMaxBatch; ++b) m.exe_time[b - 1] = from_ms(exe1_ms + step_ms * (b - 1));
  m.pre_time = from_ms(pre_ms);
  m.post_time = from_ms(post_ms);
  m.profile_source = "test";
  return m;
}

class ScenarioBuilder {
 public:
  ScenarioBuilder& node(const std::string& name, int cores = 4) {
    s_.nodes.push_back({name, cores});
    s_.network.adjacency.emplace_back();
    return *this;
  }
  ScenarioBuilder& model(ModelProfile m) {
    s_.models.push_back(std::move(m));
    return *this;
  }
  ScenarioBuilder& link(const std::string& a, const std::string& b, double mbps,
                        double latency_ms = 0) {
    s_.network.set(s_.find_node(a), s_.find_node(b), mbps, from_ms(latency_ms));
    return *this;
  }
  ScenarioBuilder& default_mbps(double mbps) {
    s_.network.default_mbps = mbps;
    return *this;
  }
  ScenarioBuilder& task(const std::string& name, const std::string& source,
                        const std::string& model, double period_ms, int priority = 0,
                        double deadline_ms = 0, double epsilon = 0.1) {
    TaskSpec t;
    t.name = name;
    t.source = s_.find_node(source);
    t.model = s_.find_model(model);
    t.period = from_ms(period_ms);
    t.deadline = from_ms(deadline_ms > 0 ? deadline_ms : period_ms);
    t.priority = priority;
    t.epsilon = epsilon;
    s_.tasks.push_back(t);
    return *this;
  }
  ScenarioBuilder& run(double duration_s, double window_s, uint64_t seed = 1) {
    s_.run.duration = from_ms(duration_s * 1000);
    s_.run.window = from_ms(window_s * 1000);
    s_.run.seed = seed;
    return *this;
  }
  Scenario build() const { return s_; }

 private:
  Scenario s_ = [] {
    Scenario s;
    s.name = "test";
    return s;
  }();
};

}  // namespace coedge::testing
