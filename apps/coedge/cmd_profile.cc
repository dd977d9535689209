// `coedge profile`: measures ExeTime(model, batch) of ONNX models on this machine and
// writes a profile set in the format `coedge sim --profiles`, the dispatcher and the
// executor read.
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "commands.h"
#include "data_paths.h"
#include "terminal.h"
#include "write_file.h"
#include "config/scenario_loader.h"
#include "config/scenario_writer.h"
#include "infer/make_backend.h"
#include "infer/profiler.h"

namespace coedge::app {
namespace {

struct ProfileArgs {
  std::vector<std::string> model_paths;
  std::string name;
  std::string scenario;
  std::string models_dir;  // empty: the shipped models (data_paths.h)
  std::string batch = "1-10";
  int runs = 10;
  int warmup = 2;
  int threads = 0;
  std::string backend = "opencv";
  std::string out;
  bool json = false;  // one JSON document on stdout instead of the tables
  ProgressFlags progress;
};

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "coedge profile: %s\n", message.c_str());
  return code;
}

bool parse_batch_range(const std::string& text, int& lo, int& hi) {
  const auto dash = text.find('-');
  try {
    size_t used = 0;
    lo = std::stoi(text.substr(0, dash), &used);
    if (used != text.substr(0, dash).size()) return false;
    hi = lo;
    if (dash != std::string::npos) {
      const std::string rest = text.substr(dash + 1);
      hi = std::stoi(rest, &used);
      if (used != rest.size()) return false;
    }
  } catch (const std::exception&) {
    return false;
  }
  return lo >= 1 && lo <= hi && hi <= kMaxBatch;
}

nlohmann::ordered_json measurement_json(const infer::ModelMeasurement& m, const std::string& path) {
  nlohmann::ordered_json j;
  j["name"] = m.name;
  j["kind"] = std::string(to_string(m.kind));
  j["input_shape"] = infer::shape_string(m.input_shape);
  j["file"] = path;
  j["batches"] = nlohmann::ordered_json::array();
  for (const infer::BatchTiming& t : m.batches)
    j["batches"].push_back({{"batch", t.batch}, {"median_ms", t.median_ms}, {"p95_ms", t.p95_ms},
                            {"per_image_ms", t.per_image_ms()}});
  j["pre_ms"] = m.pre_ms;
  j["post_ms"] = m.post_ms;
  return j;
}

void print_measurement(const infer::ModelMeasurement& m, const std::string& path) {
  std::printf("\n%s (%s, input %s) from %s\n", m.name.c_str(), std::string(to_string(m.kind)).c_str(),
              infer::shape_string(m.input_shape).c_str(), path.c_str());
  std::printf("batch  median ms   p95 ms  per image ms\n");
  for (const infer::BatchTiming& t : m.batches)
    std::printf("%5d  %9.2f  %7.2f  %12.2f\n", t.batch, t.median_ms, t.p95_ms, t.per_image_ms());
  std::printf("stock pre-processing %.2f ms, post-processing %.2f ms per frame (medians)\n",
              m.pre_ms, m.post_ms);
}

int run_profile(const ProfileArgs& args) {
  int lo = 1, hi = kMaxBatch;
  if (!parse_batch_range(args.batch, lo, hi))
    return fail(kExitBadInput, "--batch '" + args.batch + "': expected B or LO-HI within 1-10");
  if (args.model_paths.empty() == args.scenario.empty())
    return fail(kExitBadInput, "give either MODEL.onnx files or --scenario FILE (see --help)");
  if (!args.name.empty() && args.model_paths.size() != 1)
    return fail(kExitBadInput, "--name goes with exactly one MODEL.onnx");
  // A profile file holds batch sizes 1-10: asked for a file, a part range is a mistake,
  // said before anything is measured (it used to measure, then write nothing, and exit 0).
  if (!args.out.empty() && !(lo == 1 && hi == kMaxBatch))
    return fail(kExitBadInput, "-o " + args.out + " asks for a profile file, which needs batch sizes 1-10; --batch " +
                                   args.batch + " measures only some (leave out -o to print their timings)");

  // (name, path) of every model to profile.
  std::vector<std::pair<std::string, std::string>> targets;
  if (!args.scenario.empty()) {
    auto scenario = config::load_scenario(args.scenario);
    if (!scenario.ok()) return fail(cli::exit_code_of(scenario.error()), scenario.error().message);
    std::string models_dir = args.models_dir;
    if (Status st = fill_default(models_dir, default_models_dir(), "--models-dir"); !st.ok())
      return fail(kExitFailure, st.error().message);
    for (const ModelProfile& m : scenario->models) {
      const std::string path = (std::filesystem::path(models_dir) / (m.name + ".onnx")).string();
      if (!std::filesystem::exists(path)) {
        return fail(kExitFailure, "model '" + m.name + "' of " + args.scenario + ": no file " + path +
                                       " (build the generated models with 'make', or point "
                                       "--models-dir at a folder of NAME.onnx files)");
      }
      targets.emplace_back(m.name, path);
    }
  } else {
    for (const std::string& path : args.model_paths)
      targets.emplace_back(args.name.empty() ? std::filesystem::path(path).stem().string() : args.name,
                           path);
  }

  infer::BackendOptions backend_options;
  backend_options.threads = args.threads;
  auto backend = infer::make_backend(args.backend, backend_options);
  if (!backend.ok()) return fail(kExitBadInput, backend.error().message);

  std::vector<ModelProfile> profiles;
  std::string notes;
  nlohmann::ordered_json doc;
  doc["backend"] = args.backend;
  doc["models"] = nlohmann::ordered_json::array();
  for (const auto& [name, path] : targets) {
    auto model = backend.value()->load(path);
    if (!model.ok()) return fail(model.error().code == ErrorCode::kIo ? kExitFailure : kExitBadInput,
                                 model.error().message);
    infer::ProfileOptions options;
    options.min_batch = lo;
    options.max_batch = hi;
    options.runs = args.runs;
    options.warmup = args.warmup;
    Progress progress(args.progress);  // a redrawn bar on a terminal; with --progress elsewhere, a line per 10%
    if (progress.enabled()) {
      options.progress = [&name, &progress](int done, int total, const std::string& what) {
        constexpr int kWidth = 30;
        const int percent = done * 100 / total;
        const int filled = done * kWidth / total;
        char line[160];
        std::snprintf(line, sizeof line, "%-14s [%s%s] %3d%% %-16s", name.c_str(),
                      std::string(static_cast<size_t>(filled), '#').c_str(),
                      std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), percent, what.c_str());
        progress.update(line, static_cast<double>(done) / total);
      };
    }
    auto measured = infer::profile_model(*model.value(), name, options);
    if (!measured.ok()) return fail(kExitFailure, measured.error().message);
    if (args.json)
      doc["models"].push_back(measurement_json(measured.value(), path));
    else
      print_measurement(measured.value(), path);
    if (lo == 1 && hi == kMaxBatch) profiles.push_back(infer::to_model_profile(measured.value(), notes));
  }

  if (profiles.empty()) {  // --batch short of 1-10, without -o (refused above with -o)
    std::fprintf(args.json ? stderr : stdout, "\nNo profile file written: a profile needs batch sizes 1-10.\n");
    if (args.json) {
      doc["profile_file"] = nullptr;
      std::printf("%s\n", doc.dump(2).c_str());
    }
    return kExitOk;
  }
  // One model makes a set of its own name; several, or a scenario's, the "machine" set.
  const bool single = targets.size() == 1 && args.scenario.empty();
  const std::string set_name = single ? targets.front().first : "machine";
  const std::string out = !args.out.empty() ? args.out : "results/profiles/" + set_name + ".yaml";
  const unsigned cores = std::thread::hardware_concurrency();
  const std::string header =
      "Measured by 'coedge profile' on this machine (" + std::to_string(cores) + " cores), backend " +
      args.backend + ", " + (args.threads > 0 ? std::to_string(args.threads) : std::string("default")) +
      " threads, " + std::to_string(args.runs) + " timed runs per batch size after " +
      std::to_string(args.warmup) + " warm-up runs. exe_ms are medians.\n" + notes;
  const std::string text = config::write_profile_set_yaml(set_name, "ExeTime measured on this machine",
                                                  profiles, header);
  if (Status st = write_file(out, text); !st.ok()) return fail(kExitFailure, st.error().message);
  std::fprintf(args.json ? stderr : stdout, "\nProfile set '%s' written to %s\n", set_name.c_str(), out.c_str());
  if (args.json) {
    doc["profile_set"] = set_name;
    doc["profile_file"] = out;
    std::printf("%s\n", doc.dump(2).c_str());
  }
  return kExitOk;
}

}  // namespace

std::function<int()> add_profile_command(CLI::App& app) {
  auto args = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "profile", "Measure ExeTime(model, batch) of ONNX models on this machine; write a profile set.");
  cli::input_path(cmd->add_option("models", args->model_paths,
                                  "ONNX model files to profile (the model's name is the file's stem)"),
                  args->model_paths);
  cmd->add_option("--name", args->name, "With one model file: its name in the profile");
  cli::input_path(cmd->add_option("--scenario", args->scenario,
                                  "Profile every model of this scenario instead, into a 'machine' profile set"),
                  args->scenario);
  cmd->add_option("--models-dir", args->models_dir,
                  "With --scenario: folder holding NAME.onnx for each model")
      ->default_str(default_models_dir().path);
  cmd->add_option("--batch", args->batch, "Batch sizes to measure, B or LO-HI within 1-10 "
                  "(a profile file needs 1-10)")->default_val("1-10");
  cmd->add_option("--runs", args->runs, "Timed runs per batch size")
      ->default_val(10)->check(cli::whole_number(1, 100000));
  cmd->add_option("--warmup", args->warmup, "Untimed warm-up runs per batch size")
      ->default_val(2)->check(cli::whole_number(0, 100000));
  cmd->add_option("--threads", args->threads, "Inference threads (0: the backend's default)")
      ->default_val(0)->check(cli::whole_number(0, 1024));
  cmd->add_option("--backend", args->backend, "Inference backend: opencv")->default_val("opencv");
  cmd->add_option("-o,--out", args->out,
                  "Profile-set file to write (default: results/profiles/NAME.yaml for one "
                  "model, results/profiles/machine.yaml for several or --scenario)");
  cmd->add_flag("--json", args->json,
                "Print one JSON document on stdout instead of the tables: each model's timings and "
                "the profile file written (docs/COMMAND_LINE.md)");
  add_progress_flags(cmd, args->progress);
  cli::input_path(cmd->get_option("--models-dir"), args->models_dir, cli::PathKind::kInputDir);
  cli::output_path(cmd->get_option("--out"), args->out, cli::PathKind::kOutputFile);
  return [args] { return run_profile(*args); };
}

}  // namespace coedge::app
