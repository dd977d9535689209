// CoEdge benchmarks (Google Benchmark). Speed goals of the foundation issue, measured here
// and recorded in docs/PERFORMANCE.md with the command that reproduces them:
//  - BM_SimulatedJobs: simulated jobs per second of wall time on one core (goal >= 1e6);
//  - BM_DispatcherStage1: CoEdge stage 1 for 1k/10k/100k tasks on city fleets with one
//    node per ten tasks, offered 90% of their accelerators (goal < 2 s at 100k tasks and 10k nodes; per-task cost flat);
//  - BM_SchedulerDecide: one coedge local-scheduler decision with 50 models queued
//    (goal < 5 us median), timed together with putting the batch back in the queues.
// Not tests: nothing here asserts a time.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "config/scenario_loader.h"
#include "policy/coedge_dispatcher.h"
#include "policy/local_scheduler.h"
#include "sim/city_generator.h"
#include "sim/simulator.h"

namespace coedge::sim {
namespace {

const std::vector<ModelProfile>& jetson_models() {
  static const std::vector<ModelProfile> models = [] {
    auto loaded = config::load_profile_set(COEDGE_SOURCE_DIR "/examples/profiles/jetson-tx2.yaml");
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
      std::exit(2);
    }
    return loaded.value();
  }();
  return models;
}

void BM_SimulatedJobs(benchmark::State& state, const char* dispatcher, const char* scheduler) {
  sim::CityOptions city;
  city.nodes = static_cast<uint32_t>(state.range(0));
  city.load = 0.9;
  city.duration = std::chrono::seconds(600);
  const Scenario scenario = sim::generate_city(city, jetson_models()).value();
  sim::SimOptions options;
  options.policy.dispatcher = *policy::DispatcherSpec::parse(dispatcher);
  options.policy.scheduler = *policy::SchedulerSpec::parse(scheduler);
  uint64_t jobs = 0, events = 0;
  for (auto _ : state) {
    const sim::SimResult result = sim::simulate(scenario, options);
    jobs += result.jobs_released;
    events += result.events;
    benchmark::DoNotOptimize(result.end_time);
  }
  state.counters["jobs/s"] = benchmark::Counter(static_cast<double>(jobs), benchmark::Counter::kIsRate);
  state.counters["events/job"] = static_cast<double>(events) / static_cast<double>(jobs);
  state.counters["tasks"] = static_cast<double>(scenario.tasks.size());
}
BENCHMARK_CAPTURE(BM_SimulatedJobs, coedge_coedge, "coedge", "coedge")
    ->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_SimulatedJobs, local_edf, "local", "edf")
    ->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DispatcherStage1(benchmark::State& state) {
  sim::CityOptions city;
  city.tasks = static_cast<uint32_t>(state.range(0));
  city.nodes = city.tasks / 10;
  city.load = 0.9;  // ten tasks per node, periods set to offer 90% of each accelerator
  const Scenario scenario = sim::generate_city(city, jetson_models()).value();
  size_t placed = 0;
  for (auto _ : state) {
    policy::CoedgeDispatcher dispatcher(scenario);
    std::vector<policy::PlanRecord> records;
    records.reserve(scenario.tasks.size());
    const policy::Plan plan = dispatcher.initial(records);
    placed = 0;
    for (NodeIndex k : plan.node_of_task) placed += k != kNone;
    benchmark::DoNotOptimize(plan.node_of_task.data());
  }
  // The work per task is bounded by its candidates (reachable nodes), not the fleet.
  std::vector<NodeIndex> candidates;
  double candidate_total = 0;
  for (TaskIndex t = 0; t < scenario.tasks.size(); ++t) {
    policy::reachable_nodes(scenario, scenario.network, t, candidates);
    candidate_total += static_cast<double>(candidates.size());
  }
  state.counters["nodes"] = city.nodes;
  state.counters["placed"] = static_cast<double>(placed);
  state.counters["candidates/task"] = candidate_total / static_cast<double>(scenario.tasks.size());
  state.counters["time/task"] = benchmark::Counter(
      static_cast<double>(scenario.tasks.size()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DispatcherStage1)
    ->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SchedulerDecide(benchmark::State& state) {
  const int model_count = static_cast<int>(state.range(0));
  Scenario scenario;
  for (int m = 0; m < model_count; ++m) {
    ModelProfile p;
    p.name = "m" + std::to_string(m);
    for (int b = 1; b <= kMaxBatch; ++b) p.exe_time[b - 1] = std::chrono::milliseconds(10 + 2 * b);
    scenario.models.push_back(p);
  }
  auto scheduler = policy::make_local_scheduler(policy::SchedulerSpec{}, scenario);
  uint64_t id = 0;
  TimePoint now = kEpoch;
  // Every model holds 8 jobs with deadlines spread over the next second.
  for (int m = 0; m < model_count; ++m)
    for (int i = 0; i < 8; ++i)
      scheduler->on_ready(policy::Job{id++, 0, static_cast<ModelIndex>(m), now,
                              now + std::chrono::milliseconds(200 + 97 * ((id * 37) % 11)), 0},
                          now);
  policy::Decision decision;
  for (auto _ : state) {
    scheduler->decide(now, decision);
    // Put the batch's jobs back with later deadlines, keeping the queues' shape. Timed
    // too (pausing the clock costs more than this): the figure is an upper bound.
    for (policy::Job job : decision.batch) {
      job.deadline += std::chrono::seconds(1);
      scheduler->on_ready(job, now);
    }
    now += std::chrono::microseconds(100);
  }
  state.counters["queued"] = static_cast<double>(scheduler->queued());
}
BENCHMARK(BM_SchedulerDecide)->Arg(50)->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace
}  // namespace coedge::sim

BENCHMARK_MAIN();
