// `coedge sweep`: robustness of the policies across generated city fleets — loads,
// bandwidths, fleet sizes and seeds — with the capacity lower bound for each, and a plot
// of miss rate against load. The simulations run in parallel threads (sim/sweep.h), each
// on its own scenario; results are gathered by cell, so the output does not depend on
// scheduling.
#include <algorithm>
#include <cstdarg>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "commands.h"
#include "data_paths.h"
#include "config/scenario_loader.h"
#include "core/text.h"
#include "plot.h"
#include "policy/policy_spec.h"
#include "policy_options.h"
#include "sim/report.h"
#include "sim/sweep.h"
#include "terminal.h"
#include "write_file.h"

namespace coedge::app {
namespace {

// The policies a sweep compares unless told otherwise: the paper's, the batch-aware
// dispatcher and the waiting scheduler with their ablations, and the peers.
const std::vector<std::string> kDefaultPairs = {
    "coedge+coedge",       "coedge:batch-aware+coedge",  "coedge+coedge:wait-for-batch",
    "coedge:batch-aware+coedge:wait-for-batch",          "naive+coedge",
    "local+coedge",        "local+edf",                  "local+fixed",
    "local+triton",        "local+deadline-drop",        "spread+triton",
    "spread+deadline-drop"};

struct SweepArgs {
  std::string nodes = "6,30,100";
  std::string loads = "0.5,0.75,1.0,1.25,1.5";
  std::string bandwidths = "10,100,1000";
  uint32_t seeds = 3;
  std::string duration = "300s";
  std::vector<std::string> pairs = kDefaultPairs;
  std::string profiles;  // empty: the shipped kDefaultProfileSet (data_paths.h)
  std::string out = "results/sweep";
  unsigned threads = 0;
  bool plot = false;
  bool json = false;  // one JSON document on stdout instead of the tables
  ProgressFlags progress;
};

// The tables, on stdout unless --json prints the document instead.
bool g_tables = true;
void table(const char* format, ...) {
  if (!g_tables) return;
  va_list args;
  va_start(args, format);
  std::vfprintf(stdout, format, args);
  va_end(args);
}

template <typename T>
bool parse_list(const std::string& text, std::vector<T>& out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::stringstream one(item);
    T value;
    if (!(one >> value) || !one.eof()) return false;
    out.push_back(value);
  }
  return !out.empty();
}

Result<std::vector<policy::PolicySpec>> parse_pairs(const std::vector<std::string>& items) {
  if (items.size() == 1 && items[0] == "all") {
    std::vector<policy::PolicySpec> pairs;
    for (const policy::DispatcherSpec& d : policy::dispatcher_variants())
      for (const policy::SchedulerSpec& s : policy::scheduler_variants()) pairs.push_back({d, s});
    return pairs;
  }
  return pairs_option("--pairs", items);
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

int run_sweep(const SweepArgs& args) {
  std::vector<uint32_t> node_counts;
  std::vector<double> loads, bandwidths;
  if (!parse_list(args.nodes, node_counts) ||
      std::any_of(node_counts.begin(), node_counts.end(), [](uint32_t n) { return n < 1; }))
    return cli::fail("sweep", kExitBadInput, "--nodes '" + args.nodes + "': expected positive integers, e.g. 6,30,100");
  if (!parse_list(args.loads, loads) ||
      std::any_of(loads.begin(), loads.end(), [](double l) { return !(l > 0 && l <= 100); }))
    return cli::fail("sweep", kExitBadInput, "--loads '" + args.loads + "': expected numbers in (0, 100], e.g. 0.5,1.0");
  if (!parse_list(args.bandwidths, bandwidths) ||
      std::any_of(bandwidths.begin(), bandwidths.end(), [](double b) { return !(b >= 0.002); }))
    return cli::fail("sweep", kExitBadInput, "--bandwidths '" + args.bandwidths + "': expected Mbit/s values >= 0.002");
  auto pairs = parse_pairs(args.pairs);
  if (!pairs.ok()) return cli::fail("sweep", kExitBadInput, pairs.error().message);
  auto duration = config::parse_duration(args.duration);
  if (!duration.ok() || duration->count() <= 0)
    return cli::fail("sweep", kExitBadInput, "--duration '" + args.duration + "': expected e.g. 300s");
  std::string profiles = args.profiles;
  if (Status st = fill_default(profiles, example_file(kDefaultProfileSet), "--profiles"); !st.ok())
    return cli::fail("sweep", kExitFailure, st.error().message);
  auto models = config::load_profile_set(profiles);
  if (!models.ok()) return cli::fail("sweep", cli::exit_code_of(models.error()), models.error().message);

  std::vector<sim::SweepCell> cells;
  for (uint32_t n : node_counts)
    for (double load : loads)
      for (double mbps : bandwidths)
        for (uint64_t seed = 1; seed <= args.seeds; ++seed) cells.push_back({n, load, mbps, seed});
  const size_t pair_count = pairs->size();
  sim::SweepOptions options;
  options.duration = duration.value();
  options.threads = args.threads ? args.threads : std::max(1u, std::thread::hardware_concurrency());
  Progress progress(args.progress);
  if (progress.enabled()) {
    options.progress = [&progress](size_t finished, size_t total) {
      progress.update("sweep: " + std::to_string(finished) + " of " + std::to_string(total) + " fleets simulated",
                      static_cast<double>(finished) / static_cast<double>(total));
    };
  }
  auto swept = sim::run_sweep(cells, *pairs, models.value(), options);
  if (!swept.ok()) return cli::fail("sweep", kExitBadInput, swept.error().message);
  const std::vector<sim::SweepOutcome>& outcomes = swept->outcomes;
  const std::vector<double>& bounds = swept->lower_bounds;

  // sweep.csv: every cell and policy.
  std::string csv = "nodes,load,mbps,seed,policy,released,miss_rate,p99_ms,lower_bound\n";
  for (size_t c = 0; c < cells.size(); ++c) {
    for (size_t p = 0; p < pair_count; ++p) {
      const sim::SweepOutcome& o = outcomes[c * pair_count + p];
      char line[256];
      std::snprintf(line, sizeof line, "%u,%g,%g,%llu,", cells[c].nodes, cells[c].load,
                    cells[c].mbps, static_cast<unsigned long long>(cells[c].seed));
      csv += line + sim::csv_field((*pairs)[p].label());
      std::snprintf(line, sizeof line, ",%llu,%.6f,%.3f,%.6f\n",
                    static_cast<unsigned long long>(o.released), o.miss, o.p99_ms, bounds[c]);
      csv += line;
    }
  }
  if (Status st = write_file(args.out + "/sweep.csv", csv); !st.ok()) return cli::fail("sweep", kExitFailure, st.error().message);

  g_tables = !args.json;
  nlohmann::ordered_json doc;
  // Summary per policy; "vs first" compares every cell with the first pair (the paper's).
  doc["fleets"] = cells.size();
  doc["nodes"] = node_counts;
  doc["loads"] = loads;
  doc["bandwidths_mbps"] = bandwidths;
  doc["seeds"] = args.seeds;
  doc["duration_s"] = to_s(duration.value());
  doc["policies"] = nlohmann::ordered_json::array();
  table("%zu fleets (nodes %s; loads %s; Mbit/s %s; %u seeds), %s simulated each\n\n",
              cells.size(), args.nodes.c_str(), args.loads.c_str(), args.bandwidths.c_str(),
              args.seeds, args.duration.c_str());
  int width = 24;  // the policy column fits the longest label
  for (const policy::PolicySpec& p : *pairs) width = std::max(width, static_cast<int>(p.label().size()));
  table("%-*s %9s %9s %11s %11s %12s %12s\n", width, "policy", "mean", "seed sd", "load>=1.0",
              "above bound", "worst vs 1st", "best vs 1st");
  for (size_t p = 0; p < pair_count; ++p) {
    std::vector<double> all, high, above;
    double worst = -1, best = 1;
    for (size_t c = 0; c < cells.size(); ++c) {
      const double miss = outcomes[c * pair_count + p].miss;
      const double base = outcomes[c * pair_count].miss;
      all.push_back(miss);
      if (cells[c].load >= 1.0) high.push_back(miss);
      above.push_back(miss - bounds[c]);
      worst = std::max(worst, miss - base);
      best = std::min(best, miss - base);
    }
    // Spread: the standard deviation over seeds of each fleet configuration, averaged.
    // Cells hold the seeds of one configuration next to each other.
    std::vector<double> spreads;
    for (size_t first = 0; first < cells.size(); first += args.seeds) {
      std::vector<double> v(all.begin() + static_cast<std::ptrdiff_t>(first),
                            all.begin() + static_cast<std::ptrdiff_t>(first + args.seeds));
      const double m = mean(v);
      double sq = 0;
      for (double x : v) sq += (x - m) * (x - m);
      spreads.push_back(v.size() > 1 ? std::sqrt(sq / static_cast<double>(v.size() - 1)) : 0.0);
    }
    doc["policies"].push_back({{"policy", (*pairs)[p].label()}, {"mean_miss_rate", mean(all)},
                               {"seed_sd", mean(spreads)}, {"high_load_miss_rate", high.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(mean(high))},
                               {"above_bound", mean(above)}, {"worst_vs_first", worst},
                               {"best_vs_first", best}});
    table("%-*s %9s %6.2f pp %11s %8.2f pp %+9.2f pp %+9.2f pp\n", width,
                (*pairs)[p].label().c_str(), percent(mean(all)).c_str(), mean(spreads) * 100,
                percent(mean(high)).c_str(), mean(above) * 100, worst * 100, best * 100);
  }
  std::vector<double> all_bounds(bounds);
  table("%-*s %9s\n\n", width, "lower bound", percent(mean(all_bounds)).c_str());
  doc["lower_bound"] = mean(all_bounds);
  doc["by_load"] = nlohmann::ordered_json::object();

  // Mean miss rate per load, for the table and the plot.
  table("%-*s", width, "mean miss rate by load");
  for (double l : loads) table(" %8g", l);
  table("\n");
  std::vector<Series> series;
  auto by_load = [&](auto value_of) {
    std::vector<double> row;
    for (double l : loads) {
      std::vector<double> v;
      for (size_t c = 0; c < cells.size(); ++c)
        if (cells[c].load == l) v.push_back(value_of(c));
      row.push_back(mean(v));
    }
    return row;
  };
  for (size_t p = 0; p <= pair_count; ++p) {
    const bool bound_row = p == pair_count;
    const auto row = bound_row ? by_load([&](size_t c) { return bounds[c]; })
                               : by_load([&](size_t c) { return outcomes[c * pair_count + p].miss; });
    const std::string label = bound_row ? "lower bound" : (*pairs)[p].label();
    doc["by_load"][label] = row;
    table("%-*s", width, label.c_str());
    Series s{label, {}};
    for (size_t i = 0; i < loads.size(); ++i) {
      table(" %7.2f%%", row[i] * 100);
      s.points.emplace_back(loads[i], row[i] * 100);
    }
    table("\n");
    series.push_back(std::move(s));
  }
  if (args.plot) {
    const PlotSpec spec{args.out + "/miss_vs_load.png", "Deadline miss rate against offered load",
                        "offered load (1.0 = every accelerator busy at batch size 1)",
                        "miss rate (%)", false};
    if (Status st = plot_lines(spec, series); !st.ok()) return cli::fail("sweep", kExitFailure, st.error().message);
    std::fprintf(args.json ? stderr : stdout, "\nPlot written to %s\n", spec.png.c_str());
    doc["plot"] = spec.png;
  }
  std::fprintf(args.json ? stderr : stdout, "Results written to %s/sweep.csv\n", args.out.c_str());
  doc["csv"] = args.out + "/sweep.csv";
  if (args.json) std::printf("%s\n", doc.dump(2).c_str());
  return kExitOk;
}

}  // namespace

std::function<int()> add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Compare policies across generated city fleets: loads, bandwidths, sizes, seeds.");
  cmd->add_option("--nodes", args->nodes, "Fleet sizes, comma-separated")->default_val(args->nodes);
  cmd->add_option("--loads", args->loads,
                  "Offered loads (1.0 = every accelerator busy at batch size 1)")
      ->default_val(args->loads);
  cmd->add_option("--bandwidths", args->bandwidths,
                  "Bandwidth of the shortest links in Mbit/s (the longest get half)")
      ->default_val(args->bandwidths);
  cmd->add_option("--seeds", args->seeds, "Seeds per fleet (1 to 1000)")
      ->default_val(3)->check(cli::whole_number(1, 1000));
  cmd->add_option("--duration", args->duration, "Simulated time per run")->default_val("300s");
  std::string defaults;
  for (const std::string& p : kDefaultPairs) defaults += (defaults.empty() ? "" : " ") + p;
  cmd->add_option("--pairs", args->pairs,
                  "Policy pairs DISPATCHER+SCHEDULER (policy specs, 'coedge policies'), "
                  "separated by spaces, or 'all'; the first is the reference for "
                  "'worst/best vs 1st'. Default: " + defaults);
  cmd->add_option("--profiles", args->profiles, "Profile set of the fleets' models")
      ->default_str(example_file(kDefaultProfileSet).path);
  cmd->add_option("-o,--out", args->out, "Folder for sweep.csv and the plot")->default_val(args->out);
  cmd->add_option("--threads", args->threads, "Parallel simulations (0: one per core)")->default_val(0)
      ->check(cli::whole_number(0, 1024));
  cmd->add_flag("--plot", args->plot, "Also draw miss_vs_load.png with gnuplot");
  cmd->add_flag("--json", args->json,
                "Print one JSON document on stdout instead of the tables (docs/COMMAND_LINE.md)");
  add_progress_flags(cmd, args->progress);
  cli::input_path(cmd->get_option("--profiles"), args->profiles);
  cli::output_path(cmd->get_option("--out"), args->out);
  return [args] { return run_sweep(*args); };
}

}  // namespace coedge::app
