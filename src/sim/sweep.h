// A sweep: every pair of policies simulated on every fleet of a grid of generated cities
// (city_generator.h), with the capacity lower bound of each fleet (lower_bound.h), run on
// a pool of threads (`coedge sweep`). Each thread generates and simulates whole cells on
// its own scenario; results land in fixed slots by cell and pair, so they do not depend on
// the number of threads or on their scheduling (the sweep test checks 1 against 4).
// Thread-safe by construction: the inputs are read only, every output slot has one writer.
// make tsan runs that test under ThreadSanitizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"
#include "policy/policy_spec.h"

namespace coedge::sim {

struct SweepCell {
  uint32_t nodes = 0;
  double load = 0;
  double mbps = 0;  // the city's nearest links; the farthest get half
  uint64_t seed = 1;
};

struct SweepOutcome {
  double miss = 0;
  double p99_ms = 0;
  uint64_t released = 0;
  bool operator==(const SweepOutcome&) const = default;
};

struct SweepResult {
  std::vector<SweepOutcome> outcomes;  // cells × pairs, cell-major: outcomes[c * pairs + p]
  // Per cell, the miss-rate lower bound on each run's released jobs, the smallest over the
  // pairs: below every run's miss rate (as `coedge sim --compare` does).
  std::vector<double> lower_bounds;
};

struct SweepOptions {
  Duration duration = std::chrono::seconds(300);  // simulated time of each fleet
  unsigned threads = 1;                           // 0 is taken as 1
  // Called after each finished cell with (finished, total), one call at a time.
  std::function<void(size_t, size_t)> progress;
};

// Errors (kInvalidInput): a cell whose city cannot be generated, the first such cell's.
Result<SweepResult> run_sweep(const std::vector<SweepCell>& cells, const std::vector<policy::PolicySpec>& pairs,
                              const std::vector<ModelProfile>& models, const SweepOptions& options);

}  // namespace coedge::sim
