// `coedge sim`: runs a scenario in the discrete-event simulator with one policy pair, or
// the paper's pairs side by side (--compare), prints tables and writes CSV/JSON files.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <tuple>
#include <string>
#include <vector>

#include "commands.h"
#include "plot.h"
#include "config/scenario_loader.h"
#include "policy/dispatcher.h"
#include "policy/local_scheduler.h"
#include "sim/report.h"
#include "sim/simulator.h"

namespace coedge::app {
namespace {

struct PolicyPair {
  const char* label;
  const char* dispatcher;
  const char* scheduler;
};

// The paper's comparisons: §6.3 (CoEdge vs Local+EDF), §6.4 (naive, no offloading) and
// §6.5 (the fixed-priority executor).
// Every dispatcher with every local scheduler, for --compare all.
std::vector<PolicyPair> all_pairs(std::vector<std::string>& labels) {
  std::vector<PolicyPair> pairs;
  labels.clear();
  for (std::string_view d : dispatcher_names())
    for (std::string_view s : local_scheduler_names()) labels.push_back(std::string(d) + "/" + std::string(s));
  size_t i = 0;
  for (std::string_view d : dispatcher_names())
    for (std::string_view s : local_scheduler_names())
      pairs.push_back({labels[i++].c_str(), d.data(), s.data()});
  return pairs;
}

constexpr PolicyPair kPaperPairs[] = {
    {"CoEdge", "coedge", "coedge"},
    {"Naive", "naive", "coedge"},
    {"No offloading", "local", "coedge"},
    {"Local+EDF", "local", "edf"},
    {"Local+Fixed", "local", "fixed"},
};

struct SimArgs {
  std::string scenario_path;
  std::string dispatcher = "coedge";
  std::string scheduler = "coedge";
  CLI::Option* compare_option = nullptr;
  std::string compare;  // "paper" or "all" once parsed; empty: one pair
  std::string out;
  bool no_files = false;
  std::optional<uint64_t> seed;
  std::string duration;
  std::string profiles;
  bool jobs = false;
  bool quiet = false;
  bool plot = false;
  uint32_t seeds = 1;
  std::vector<int> triton_preferred;
  std::string triton_delay, triton_timeout;
};

// The latency distribution of each policy's completed jobs, as (latency ms, fraction).
std::vector<Series> latency_cdfs(const std::vector<SimResult>& results,
                                 const std::vector<RunSummary>& summaries) {
  std::vector<Series> series;
  for (size_t i = 0; i < results.size(); ++i) {
    std::vector<int64_t> all;
    for (const TaskTally& t : results[i].tasks)
      all.insert(all.end(), t.latencies_us.begin(), t.latencies_us.end());
    std::sort(all.begin(), all.end());
    Series s{summaries[i].label, {}};
    constexpr size_t kPoints = 200;
    for (size_t k = 1; k <= kPoints && !all.empty(); ++k) {
      const size_t at = std::min(all.size() - 1, k * all.size() / kPoints);
      s.points.emplace_back(static_cast<double>(all[at]) / 1000.0,
                            static_cast<double>(at + 1) / static_cast<double>(all.size()));
    }
    series.push_back(std::move(s));
  }
  return series;
}

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "coedge sim: %s\n", message.c_str());
  return code;
}

SimOptions options_for(const PolicyPair& pair, const SchedulerParams& params) {
  SimOptions options;
  options.dispatcher = pair.dispatcher;
  options.scheduler = pair.scheduler;
  options.scheduler_params = params;
  return options;
}

// --seeds N: every pair on seeds seed .. seed+N-1; mean, min and max of the miss rates.
int run_seed_sweep(Scenario scenario, const std::vector<PolicyPair>& pairs, const SimArgs& args,
                   const SchedulerParams& params, const std::string& out_dir) {
  const uint64_t first = scenario.run.seed;
  std::vector<std::vector<RunSummary>> runs(pairs.size());  // [pair][seed]
  for (uint32_t i = 0; i < args.seeds; ++i) {
    scenario.run.seed = first + i;
    for (size_t p = 0; p < pairs.size(); ++p) {
      auto result = simulate(scenario, options_for(pairs[p], params));
      if (!result.ok()) return fail(kExitBadInput, result.error().message);
      runs[p].push_back(summarize(scenario, result.value(), pairs[p].label));
    }
    if (!args.quiet)
      std::fprintf(stderr, "\rseed %u of %u done", i + 1, args.seeds);
  }
  if (!args.quiet) std::fprintf(stderr, "\n");
  std::printf("%s", format_seed_sweep(scenario, first, runs).c_str());
  if (!args.no_files) {
    if (Status st = write_seed_sweep_file(out_dir, first, runs); !st.ok())
      return fail(kExitFailure, st.error().message);
    std::printf("\nResults written to %s/seeds.csv\n", out_dir.c_str());
  }
  return kExitOk;
}

// The scenario's job rates scaled by 0.5x .. 1.5x (periods divided, deadlines kept), every
// pair run on each, and miss_vs_load.png drawn.
Status plot_miss_against_load(const Scenario& scenario, const std::vector<PolicyPair>& pairs,
                              const SchedulerParams& params, const std::string& out_dir) {
  constexpr double kFactors[] = {0.5, 0.75, 1.0, 1.25, 1.5};
  std::vector<Series> series(pairs.size());
  for (size_t p = 0; p < pairs.size(); ++p) series[p].title = pairs[p].label;
  for (double factor : kFactors) {
    Scenario scaled = scenario;
    for (TaskSpec& t : scaled.tasks)
      t.period = std::max(Duration{1}, Duration(static_cast<int64_t>(
                                           static_cast<double>(t.period.count()) / factor)));
    for (size_t p = 0; p < pairs.size(); ++p) {
      auto result = simulate(scaled, options_for(pairs[p], params));
      if (!result.ok()) return result.error();
      const RunSummary s = summarize(scaled, result.value(), pairs[p].label);
      series[p].points.emplace_back(factor, s.overall.miss_rate * 100);
    }
  }
  const PlotSpec spec{out_dir + "/miss_vs_load.png",
                      "Miss rate against load: " + scenario.name + " with its job rates scaled",
                      "job rate relative to the scenario's", "miss rate (%)", false};
  if (Status st = plot_lines(spec, series); !st.ok()) return st;
  std::printf("Plot written to %s\n", spec.png.c_str());
  return Ok{};
}

// The --triton-* options, checked.
Result<SchedulerParams> scheduler_params(const SimArgs& args) {
  SchedulerParams params;
  if (!args.triton_preferred.empty()) params.triton_preferred_batch_sizes = args.triton_preferred;
  for (auto [text, field, name] :
       {std::tuple{&args.triton_delay, &params.triton_max_queue_delay, "--triton-max-queue-delay"},
        std::tuple{&args.triton_timeout, &params.triton_timeout, "--triton-timeout"}}) {
    if (text->empty()) continue;
    if (*text == "none") {
      *field = kNever;
      continue;
    }
    auto d = parse_duration(*text);
    if (!d.ok())
      return Error{ErrorCode::kInvalidInput, std::string(name) + " '" + *text +
                                                 "': expected a duration with a unit, e.g. 50ms"};
    *field = d.value();
  }
  return params;
}

int run_sim(const SimArgs& args) {
  auto loaded = load_scenario(args.scenario_path);
  if (!loaded.ok()) return fail(kExitBadInput, loaded.error().message);
  Scenario scenario = std::move(loaded.value());
  if (!args.profiles.empty()) {
    auto profiles = load_profile_set(args.profiles);
    if (!profiles.ok()) return fail(kExitBadInput, profiles.error().message);
    if (Status st = apply_profile_set(scenario, profiles.value(), args.profiles); !st.ok())
      return fail(kExitBadInput, st.error().message);
  }
  if (args.seed) scenario.run.seed = *args.seed;
  if (!args.duration.empty()) {
    auto d = parse_duration(args.duration);
    if (!d.ok() || d.value().count() <= 0)
      return fail(kExitBadInput, "--duration '" + args.duration +
                                     "': expected a positive duration with a unit, e.g. 600s");
    scenario.run.duration = d.value();
  }

  auto params = scheduler_params(args);
  if (!params.ok()) return fail(kExitBadInput, params.error().message);
  const std::string single_label = args.dispatcher + "+" + args.scheduler;
  std::vector<std::string> labels;
  std::vector<PolicyPair> pairs;
  const bool comparing = !args.compare.empty();
  if (args.compare == "paper") {
    pairs.assign(std::begin(kPaperPairs), std::end(kPaperPairs));
  } else if (args.compare == "all") {
    pairs = all_pairs(labels);
  } else if (comparing) {
    return fail(kExitBadInput, "--compare takes 'paper' (the default) or 'all', got '" +
                                   args.compare + "'");
  } else {
    pairs.push_back({single_label.c_str(), args.dispatcher.c_str(), args.scheduler.c_str()});
  }
  const std::string out_dir = args.out.empty() ? "results/" + scenario.name : args.out;
  if (args.seeds > 1) return run_seed_sweep(std::move(scenario), pairs, args, params.value(), out_dir);

  std::vector<SimResult> results;
  std::vector<RunSummary> summaries;
  for (const PolicyPair& pair : pairs) {
    const std::string label = pair.label;
    SimOptions options = options_for(pair, params.value());
    options.record_jobs = args.jobs;
    if (!args.quiet) {
      options.progress = [&label](double fraction) {
        std::fprintf(stderr, "\r[%s] simulated %3.0f%%", label.c_str(), fraction * 100.0);
        if (fraction >= 1.0) std::fprintf(stderr, "\n");
      };
    }
    auto result = simulate(scenario, options);
    if (!result.ok()) return fail(kExitBadInput, result.error().message);
    summaries.push_back(summarize(scenario, result.value(), label));
    results.push_back(std::move(result.value()));
    if (!args.no_files) {
      const std::string dir = comparing ? out_dir + "/" + pair.dispatcher + "-" + pair.scheduler
                                        : out_dir;
      if (Status st = write_run_files(dir, scenario, results.back(), summaries.back()); !st.ok())
        return fail(kExitFailure, st.error().message);
    }
  }

  if (comparing) {
    const MissRateBound bound = miss_rate_lower_bound(scenario);
    std::printf("%s", format_comparison(scenario, results, summaries, bound).c_str());
    const double coedge = summaries[0].overall.miss_rate;
    const double local_edf = args.compare == "paper" ? summaries[3].overall.miss_rate : 0;
    if (local_edf > 0) {
      const double change = (1.0 - coedge / local_edf) * 100.0;
      std::printf("\nCoEdge's overall miss rate is %.1f%% %s than Local+EDF's.\n",
                  change >= 0 ? change : -change, change >= 0 ? "lower" : "higher");
    }
    if (!args.no_files)
      if (Status st = write_comparison_files(out_dir, scenario, summaries, bound); !st.ok())
        return fail(kExitFailure, st.error().message);
  } else {
    std::printf("%s", format_run(scenario, results[0], summaries[0]).c_str());
  }
  if (args.plot) {
    const PlotSpec spec{out_dir + "/latency_cdf.png",
                        "End-to-end latency of completed jobs: " + scenario.name,
                        "latency (ms, log scale)", "fraction of completed jobs", true};
    if (Status st = plot_lines(spec, latency_cdfs(results, summaries)); !st.ok())
      return fail(kExitFailure, st.error().message);
    std::printf("\nPlot written to %s\n", spec.png.c_str());
    if (Status st = plot_miss_against_load(scenario, pairs, params.value(), out_dir); !st.ok())
      return fail(kExitFailure, st.error().message);
  }
  if (!args.no_files) std::printf("\nResults written to %s/\n", out_dir.c_str());
  return kExitOk;
}

}  // namespace

std::function<int()> add_sim_command(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sim", "Simulate a scenario: the same policy code as the runtime, in simulated time.");
  cmd->add_option("scenario", args->scenario_path, "Scenario file (YAML, docs/SCENARIO_FORMAT.md)")
      ->required();
  cmd->add_option("-d,--dispatcher", args->dispatcher,
                  "Global dispatcher: " + join(dispatcher_names()))
      ->default_val("coedge");
  cmd->add_option("-s,--scheduler", args->scheduler,
                  "Local scheduler on every node: " + join(local_scheduler_names()))
      ->default_val("coedge");
  args->compare_option =
      cmd->add_option("--compare", args->compare,
                      "Run policy pairs side by side, with a capacity lower bound: 'paper' (the "
                      "default: CoEdge, Naive, No offloading, Local+EDF, Local+Fixed) or 'all' "
                      "(every dispatcher with every scheduler); ignores -d/-s")
          ->expected(0, 1);
  cmd->add_option("-o,--out", args->out,
                  "Folder for CSV/JSON results (default: results/SCENARIO_NAME)");
  cmd->add_flag("--no-files", args->no_files, "Print the tables only; write no files");
  cmd->add_option("--seed", args->seed, "Override the scenario's run.seed")
      ->check(CLI::Range(0.0, 4e18));  // also refuses negative numbers, which would wrap
  cmd->add_option("--duration", args->duration, "Override run.duration, e.g. 600s");
  cmd->add_option("--profiles", args->profiles,
                  "Profile-set file whose timings replace the scenario's (e.g. a 'machine' set)");
  cmd->add_flag("--jobs", args->jobs, "Also write jobs.csv: every job's timeline (large)");
  cmd->add_option("--seeds", args->seeds,
                  "Repeat on this many seeds (from --seed on) and report the mean, min and max "
                  "miss rates instead of one run's tables; writes seeds.csv")
      ->default_val(1)->check(CLI::Range(1u, 100000u));
  cmd->add_option("--triton-preferred", args->triton_preferred,
                  "triton scheduler: preferred batch sizes for every model, e.g. 4 8 "
                  "(default: derived per model from its tightest deadline; docs/PEERS.md)")
      ->delimiter(',');
  cmd->add_option("--triton-max-queue-delay", args->triton_delay,
                  "triton scheduler: the longest a request waits for a batch, e.g. 20ms");
  cmd->add_option("--triton-timeout", args->triton_timeout,
                  "triton scheduler: reject requests queued longer than this, or 'none'");
  cmd->add_flag("--plot", args->plot,
                "Also draw with gnuplot latency_cdf.png (every policy run) and "
                "miss_vs_load.png (the runs repeated with the job rates scaled 0.5x-1.5x); "
                "for fleets of many sizes, see 'coedge sweep --plot'");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress on stderr");
  return [args] {
    if (args->compare_option->count() > 0 && args->compare.empty()) args->compare = "paper";
    return run_sim(*args);
  };
}

}  // namespace coedge::app
