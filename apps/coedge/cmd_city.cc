// `coedge city`: writes a generated city-scale scenario (src/sim/city_generator.h) as a
// self-contained scenario file, for `coedge sim` and scale studies.
#include <cstdio>
#include <string>

#include "cli.h"
#include "commands.h"
#include "data_paths.h"
#include "write_file.h"
#include "config/scenario_loader.h"
#include "config/scenario_writer.h"
#include "sim/city_generator.h"

namespace coedge::app {
namespace {

struct CityArgs {
  sim::CityOptions city;
  std::string profiles;  // empty: the shipped kDefaultProfileSet (data_paths.h)
  std::string duration = "600s";
  std::string out;
};

int run_city(CityArgs& args) {
  if (Status st = fill_default(args.profiles, example_file(kDefaultProfileSet), "--profiles"); !st.ok()) {
    std::fprintf(stderr, "coedge city: %s\n", st.error().message.c_str());
    return kExitFailure;
  }
  auto models = config::load_profile_set(args.profiles);
  if (!models.ok()) {
    std::fprintf(stderr, "coedge city: %s\n", models.error().message.c_str());
    return cli::exit_code_of(models.error());
  }
  auto duration = config::parse_duration(args.duration);
  if (!duration.ok() || duration.value().count() <= 0) {
    std::fprintf(stderr, "coedge city: --duration '%s': expected a positive duration with a "
                 "unit, e.g. 600s\n", args.duration.c_str());
    return kExitBadInput;
  }
  args.city.duration = duration.value();
  auto generated = sim::generate_city(args.city, models.value());
  if (!generated.ok()) {
    std::fprintf(stderr, "coedge city: %s\n", generated.error().message.c_str());
    return kExitBadInput;
  }
  const Scenario& scenario = generated.value();
  const std::string text = config::write_scenario_yaml(scenario);
  if (args.out.empty() || args.out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  if (Status st = write_file(args.out, text); !st.ok()) {
    std::fprintf(stderr, "coedge city: %s\n", st.error().message.c_str());
    return kExitFailure;
  }
  std::fprintf(stderr, "coedge city: wrote %s: %zu nodes, %zu tasks\n", args.out.c_str(),
               scenario.nodes.size(), scenario.tasks.size());
  return kExitOk;
}

}  // namespace

std::function<int()> add_city_command(CLI::App& app) {
  auto args = std::make_shared<CityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "city", "Generate a city-scale scenario: lampposts along streets, tasks near sensors.");
  cmd->add_option("--nodes", args->city.nodes, "Number of lampposts (1 to 10000000)")
      ->default_val(100)->check(cli::whole_number(1, 10000000));
  cmd->add_option("--load", args->city.load,
                  "Offered accelerator load per node at batch 1 (1.0 = every accelerator busy; up to 100)")
      ->default_val(0.8)->check(cli::positive_number(100.0));
  cmd->add_option("--tasks", args->city.tasks,
                  "Number of tasks; their periods are then chosen to offer --load "
                  "(default: periods 3x ExeTime(1), count from --load)")
      ->check(cli::whole_number(0, 100000000));
  cmd->add_option("--seed", args->city.seed, "Random seed (a whole number, 0 or more)")->default_val(1)
      ->check(cli::whole_number(0, UINT64_MAX));
  cmd->add_option("--hotspot-share", args->city.hotspot_share,
                  "Fraction of lampposts near a hotspot (0 to 1)")
      ->default_val(0.2)->check(cli::number(0.0, 1.0));
  cmd->add_option("--hotspot-weight", args->city.hotspot_weight,
                  "How many times more tasks a hotspot lamppost gets (1 to 1000)")
      ->default_val(3.0)->check(cli::number(1.0, 1000.0));
  cmd->add_option("--duration", args->duration, "run.duration of the scenario")->default_val("600s");
  cmd->add_option("--profiles", args->profiles, "Profile set whose models the tasks use")
      ->default_str(example_file(kDefaultProfileSet).path);
  cmd->add_option("-o,--out", args->out, "Output file (default: standard output)");
  cli::input_path(cmd->get_option("--profiles"), args->profiles);
  cli::output_path(cmd->get_option("--out"), args->out, cli::PathKind::kOutputFile);
  return [args] { return run_city(*args); };
}

}  // namespace coedge::app
