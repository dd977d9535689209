#include "sim/city_generator.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/result.h"
#include "core/rng.h"

namespace coedge::sim {

Duration city_period(const ModelProfile& model) {
  const int64_t step = 100000;  // 100 ms
  const int64_t raw = 3 * model.exe(1).count();
  return Duration((raw + step - 1) / step * step);
}

Result<Scenario> generate_city(const CityOptions& o, const std::vector<ModelProfile>& models) {
  auto bad = [](const std::string& why) { return Error{ErrorCode::kInvalidInput, why}; };
  if (o.nodes < 1) return bad("a city needs at least one node");
  if (models.empty()) return bad("a city needs at least one model");
  if (!(o.load > 0)) return bad("the load must be positive, got " + std::to_string(o.load));
  Rng rng(o.seed);
  Scenario s;
  s.name = "city-" + std::to_string(o.nodes);
  s.models = models;
  s.run.duration = o.duration;
  s.run.seed = o.seed;
  s.run.release_jitter = std::chrono::milliseconds(5);
  s.run.exec_jitter = 0.05;

  // Streets of `per_street` lampposts, about as many streets as make a square city.
  const auto per_street = static_cast<uint32_t>(
      std::max(1.0, std::ceil(std::sqrt(o.nodes * o.street_gap_m / o.spacing_m))));
  std::vector<double> x(o.nodes), y(o.nodes);
  s.nodes.reserve(o.nodes);
  for (uint32_t i = 0; i < o.nodes; ++i) {
    s.nodes.push_back({"L" + std::to_string(i), 4});
    x[i] = (i % per_street) * o.spacing_m + rng.uniform(-0.25, 0.25) * o.spacing_m;
    y[i] = (i / per_street) * o.street_gap_m;
  }

  // Links within radio range: only neighbours a few lampposts away can be in range.
  s.network.adjacency.resize(o.nodes);
  s.network.default_mbps = 0;
  s.network.default_latency = std::chrono::milliseconds(2);
  const auto reach_along = static_cast<int64_t>(std::ceil(o.radio_range_m / o.spacing_m)) + 1;
  const auto reach_across = static_cast<int64_t>(std::floor(o.radio_range_m / o.street_gap_m));
  for (uint32_t i = 0; i < o.nodes; ++i) {
    const int64_t street = i / per_street, pos = i % per_street;
    for (int64_t ds = 0; ds <= reach_across; ++ds) {
      for (int64_t dp = -reach_along; dp <= reach_along; ++dp) {
        if (ds == 0 && dp <= 0) continue;  // each pair once
        const int64_t p = pos + dp;
        if (p < 0 || p >= per_street) continue;
        const int64_t j = (street + ds) * per_street + p;
        if (j >= o.nodes) continue;
        const double d = std::hypot(x[i] - x[j], y[i] - y[j]);
        if (d > o.radio_range_m) continue;
        const double mbps = o.near_mbps - (o.near_mbps - o.far_mbps) * (d / o.radio_range_m);
        s.network.set(i, static_cast<NodeIndex>(j), std::round(mbps), s.network.default_latency);
      }
    }
  }

  // Either the count follows from the load (periods fixed), or the periods do (count fixed).
  std::vector<Duration> periods;
  for (const ModelProfile& m : models) periods.push_back(city_period(m));
  uint32_t task_count = o.tasks;
  if (task_count == 0) {
    double mean_load = 0;
    for (size_t i = 0; i < models.size(); ++i)
      mean_load += to_s(models[i].exe(1)) / to_s(periods[i]) / static_cast<double>(models.size());
    const double count = std::round(o.load * o.nodes / mean_load);
    if (!(count >= 1 && count <= kMaxCityTasks))
      return bad("load " + std::to_string(o.load) + " on " + std::to_string(o.nodes) +
                 " nodes makes " + std::to_string(count) + " tasks; between 1 and " +
                 std::to_string(kMaxCityTasks) + " are possible");
    task_count = static_cast<uint32_t>(count);
  } else {
    if (task_count > kMaxCityTasks) return bad("at most " + std::to_string(kMaxCityTasks) + " tasks");
    const double per_task = o.load * o.nodes / task_count;  // each task's T_avg / period
    for (size_t i = 0; i < models.size(); ++i) {
      const double step = 10000;  // round up to 10 ms
      const double raw = static_cast<double>(models[i].exe(1).count()) / per_task;
      if (!(raw <= 86400e6))
        return bad("load " + std::to_string(o.load) + " over " + std::to_string(task_count) +
                   " tasks would give " + models[i].name + " tasks periods longer than a day");
      periods[i] = Duration(static_cast<int64_t>(std::max(step, std::ceil(raw / step) * step)));
    }
  }

  // Sources drawn in proportion to weights; hotspots weigh more.
  std::vector<double> cumulative(o.nodes);
  double total = 0;
  for (uint32_t i = 0; i < o.nodes; ++i) {
    total += rng.uniform() < o.hotspot_share ? o.hotspot_weight : 1.0;
    cumulative[i] = total;
  }
  s.tasks.reserve(task_count);
  for (uint32_t t = 0; t < task_count; ++t) {
    const double pick = rng.uniform() * total;
    const auto source = static_cast<NodeIndex>(
        std::min<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), pick) -
                             cumulative.begin(),
                         o.nodes - 1));
    const auto model = static_cast<ModelIndex>(rng.below(models.size()));
    TaskSpec task;
    task.name = "T" + std::to_string(t);
    task.source = source;
    task.model = model;
    task.period = periods[model];
    task.deadline = task.period;
    task.priority = static_cast<int>(models.size() - model);  // the first model matters most
    s.tasks.push_back(std::move(task));
  }
  return s;
}

}  // namespace coedge::sim
