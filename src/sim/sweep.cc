#include "sim/sweep.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "sim/city_generator.h"
#include "sim/lower_bound.h"
#include "sim/report.h"
#include "sim/simulator.h"

namespace coedge::sim {

Result<SweepResult> run_sweep(const std::vector<SweepCell>& cells, const std::vector<policy::PolicySpec>& pairs,
                              const std::vector<ModelProfile>& models, const SweepOptions& options) {
  const size_t pair_count = pairs.size();
  SweepResult result;
  result.outcomes.resize(cells.size() * pair_count);
  result.lower_bounds.resize(cells.size());
  std::vector<std::string> errors(cells.size());

  std::atomic<size_t> next{0};
  size_t done = 0;  // under `progress_lock`
  std::mutex progress_lock;
  auto worker = [&] {
    for (size_t c; (c = next++) < cells.size();) {
      CityOptions city;
      city.nodes = cells[c].nodes;
      city.load = cells[c].load;
      city.seed = cells[c].seed;
      city.near_mbps = cells[c].mbps;
      city.far_mbps = cells[c].mbps / 2;
      city.duration = options.duration;
      auto scenario = generate_city(city, models);
      if (!scenario.ok()) {
        char where[160];
        std::snprintf(where, sizeof where, "the fleet of %u nodes at load %g, %g Mbit/s, seed %llu: ", city.nodes,
                      city.load, city.near_mbps, static_cast<unsigned long long>(city.seed));
        errors[c] = where + scenario.error().message;
        continue;
      }
      // The bound on each run's released jobs, the smallest over the pairs (sweep.h); with
      // no pair, the bound on the scenario's own releases.
      double& bound = result.lower_bounds[c];
      if (pair_count == 0) bound = miss_rate_lower_bound(*scenario).miss_rate;
      for (size_t p = 0; p < pair_count; ++p) {
        SimOptions sim_options;
        sim_options.policy = pairs[p];
        const SimResult run = simulate(*scenario, sim_options);
        std::vector<uint64_t> released;
        for (const TaskTally& t : run.tasks) released.push_back(t.released);
        const double run_bound = miss_rate_lower_bound(*scenario, released).miss_rate;
        bound = p == 0 ? run_bound : std::min(bound, run_bound);
        const RunSummary s = summarize(*scenario, run, pairs[p].label());
        result.outcomes[c * pair_count + p] = {s.overall.miss_rate, s.overall.p99_ms, s.overall.released};
      }
      std::lock_guard<std::mutex> lock(progress_lock);
      ++done;
      if (options.progress) options.progress(done, cells.size());
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < std::max(1u, options.threads); ++i) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  for (const std::string& e : errors)
    if (!e.empty()) return Error{ErrorCode::kInvalidInput, e};
  return result;
}

}  // namespace coedge::sim
