// Generates city-scale scenarios for scale tests: lampposts along a grid of streets,
// wireless links between lampposts within radio range (bandwidth falling with distance),
// and periodic tasks on the lampposts' sensors, denser around seeded hotspots (a dining
// hall, a car park), as in the paper's uneven, geo-distributed workloads (§3.2).
// Deterministic for a given options struct. Pure computation; no I/O.
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"

namespace coedge::sim {

struct CityOptions {
  uint32_t nodes = 100;
  // Offered accelerator load per node at batch size 1 (sum of ExeTime(1) / period over
  // all tasks, divided by the number of nodes). 1.0 keeps every accelerator busy.
  double load = 0.8;
  // When zero, tasks get city_period() and their number follows from `load`. Otherwise
  // exactly this many tasks, with periods stretched or shrunk to offer `load`.
  uint32_t tasks = 0;
  uint64_t seed = 1;
  double hotspot_share = 0.2;   // fraction of lampposts near a hotspot
  double hotspot_weight = 3.0;  // how many times more tasks a hotspot lamppost gets
  double spacing_m = 40;        // between lampposts along a street
  double street_gap_m = 80;     // between parallel streets
  double radio_range_m = 100;   // lampposts further apart have no direct link
  double near_mbps = 100;       // bandwidth of the shortest link ...
  double far_mbps = 50;         // ... falling linearly to this at radio range
  Duration duration = std::chrono::seconds(600);
};

// The period the generator gives to tasks of a model when the task count is free: 3 x its
// batch-1 ExeTime, rounded up to 100 ms, so that each task asks for about a third of an
// accelerator.
Duration city_period(const ModelProfile& model);

// Errors: no nodes or models, a load that is not positive, or options that would make
// more than kMaxCityTasks tasks or periods longer than a day.
inline constexpr uint32_t kMaxCityTasks = 50'000'000;
Result<Scenario> generate_city(const CityOptions& options, const std::vector<ModelProfile>& models);

}  // namespace coedge::sim
