// `coedge profile`: measures ExeTime(model, batch) of models on this machine and writes a
// profile set in the format `coedge sim --profiles`, the dispatcher and the executor read.
// Each model is measured on one backend (the one that reads its file, or --backend's), or
// on both (--backend both|auto), batch size by batch size in alternating order, so that
// the two are compared under the same machine load; the set records the faster one.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
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
#include "infer/model_info.h"
#include "infer/profiler.h"
#include "node/backend_set.h"

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
  std::string backend;  // empty: the backend that reads each file's format
  std::string out;
  bool json = false;  // one JSON document on stdout instead of the tables
  ProgressFlags progress;
};

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

// A backend and the file of its format, for one model; model is null when it could not load.
struct Candidate {
  std::string backend;
  std::string path;
  std::unique_ptr<infer::Model> model = nullptr;
  std::optional<Error> error = std::nullopt;
};

double mean_per_image_ms(const infer::ModelMeasurement& m) {
  double sum = 0;
  for (const infer::BatchTiming& t : m.batches) sum += t.per_image_ms();
  return m.batches.empty() ? 0 : sum / static_cast<double>(m.batches.size());
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", ms);
  return text;
}

std::string exe_ms_list(const infer::ModelMeasurement& m) {
  std::string out = "[";
  for (const infer::BatchTiming& t : m.batches) out += (out.size() > 1 ? ", " : "") + format_ms(t.median_ms);
  return out + "]";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " and ") + item;
  return out;
}

// Measures every candidate batch size by batch size, the candidates' order reversed at
// each size (A B, B A, A B, ...), so that a change of machine load in the middle of the
// run falls on both alike. One measurement per candidate, in the candidates' order.
Result<std::vector<infer::ModelMeasurement>> measure_interleaved(std::vector<Candidate>& candidates,
                                                                 const std::string& name, int lo, int hi,
                                                                 const ProfileArgs& args, Progress& progress) {
  std::vector<infer::ModelMeasurement> out(candidates.size());
  const int steps = (hi - lo + 1) * static_cast<int>(candidates.size());
  int done = 0;
  for (int b = lo; b <= hi; ++b) {
    for (size_t k = 0; k < candidates.size(); ++k) {
      const size_t i = (b - lo) % 2 == 0 ? k : candidates.size() - 1 - k;
      infer::ProfileOptions options;
      options.min_batch = options.max_batch = b;
      options.runs = args.runs;
      options.warmup = args.warmup;
      options.stock = out[i].batches.empty();  // the stock pre/post time, measured once per candidate
      auto one = infer::profile_model(*candidates[i].model, name, options);
      if (!one.ok()) return one.error();
      if (out[i].batches.empty()) {
        out[i] = std::move(*one);  // kind, shape, and the stock pre/post time, measured once
      } else {
        out[i].batches.push_back(one->batches.front());
      }
      ++done;
      if (progress.enabled()) {
        constexpr int kWidth = 30;
        const int filled = done * kWidth / steps;
        char line[200];
        std::snprintf(line, sizeof line, "%-14s [%s%s] %3d%% batch %d on %s", name.c_str(),
                      std::string(static_cast<size_t>(filled), '#').c_str(),
                      std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), done * 100 / steps, b,
                      candidates[i].backend.c_str());
        progress.update(line, static_cast<double>(done) / steps);
      }
    }
  }
  return out;
}

nlohmann::ordered_json measurement_json(const infer::ModelMeasurement& m, const std::string& path,
                                        const std::string& backend) {
  nlohmann::ordered_json j;
  j["name"] = m.name;
  j["backend"] = backend;
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

void print_measurement(const infer::ModelMeasurement& m, const std::string& path, const std::string& backend) {
  std::printf("\n%s (%s, input %s) from %s on %s\n", m.name.c_str(), std::string(to_string(m.kind)).c_str(),
              infer::shape_string(m.input_shape).c_str(), path.c_str(), backend.c_str());
  std::printf("batch  median ms   p95 ms  per image ms\n");
  for (const infer::BatchTiming& t : m.batches)
    std::printf("%5d  %9.2f  %7.2f  %12.2f\n", t.batch, t.median_ms, t.p95_ms, t.per_image_ms());
  std::printf("stock pre-processing %.2f ms, post-processing %.2f ms per frame (medians)\n",
              m.pre_ms, m.post_ms);
}

int run_profile(const ProfileArgs& args) {
  int lo = 1, hi = kMaxBatch;
  if (!parse_batch_range(args.batch, lo, hi))
    return cli::fail("profile", kExitBadInput, "--batch '" + args.batch + "': expected B or LO-HI within 1-10");
  if (args.model_paths.empty() == args.scenario.empty())
    return cli::fail("profile", kExitBadInput, "give either MODEL.onnx files or --scenario FILE (see --help)");
  if (!args.name.empty() && args.model_paths.size() != 1)
    return cli::fail("profile", kExitBadInput, "--name goes with exactly one MODEL.onnx");
  // A profile file holds batch sizes 1-10: asked for a file, a part range is a mistake,
  // said before anything is measured (it used to measure, then write nothing, and exit 0).
  if (!args.out.empty() && !(lo == 1 && hi == kMaxBatch))
    return cli::fail("profile", kExitBadInput, "-o " + args.out + " asks for a profile file, which needs batch sizes 1-10; --batch " +
                                   args.batch + " measures only some (leave out -o to print their timings)");

  // (name, path) of every model to profile.
  std::vector<std::pair<std::string, std::string>> targets;
  if (!args.scenario.empty()) {
    auto scenario = config::load_scenario(args.scenario);
    if (!scenario.ok()) return cli::fail("profile", cli::exit_code_of(scenario.error()), scenario.error().message);
    std::string models_dir = args.models_dir;
    if (Status st = fill_default(models_dir, default_models_dir(), "--models-dir"); !st.ok())
      return cli::fail("profile", kExitFailure, st.error().message);
    for (const ModelProfile& m : scenario->models) {
      const std::string path = (std::filesystem::path(models_dir) / (m.name + ".onnx")).string();
      if (!std::filesystem::exists(path)) {
        return cli::fail("profile", kExitFailure, "model '" + m.name + "' of " + args.scenario + ": no file " + path +
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
  backend_options.max_batch = hi;
  node::BackendSet backends(backend_options);
  const bool compare = args.backend == "both" || args.backend == "auto";

  std::vector<ModelProfile> profiles;
  std::string notes;
  std::vector<std::string> backends_used;
  nlohmann::ordered_json doc;
  doc["backend"] = args.backend.empty() ? std::string("by file") : args.backend;
  doc["models"] = nlohmann::ordered_json::array();
  for (const auto& [name, given] : targets) {
    // The candidates: each backend with the file of its format (NAME.onnx, NAME.pt).
    std::vector<Candidate> candidates;
    const auto given_info = infer::read_model_info(given);
    const bool given_torchscript = given_info.ok() && given_info->format == infer::ModelFormat::kTorchScript;
    const std::string onnx = given_torchscript ? std::filesystem::path(given).replace_extension(".onnx").string() : given;
    const std::string torchscript = given_torchscript ? given : infer::torchscript_sibling(given);
    if (compare) {
      candidates.push_back({"opencv", onnx});
      candidates.push_back({"torch", torchscript});
    } else {
      const std::string backend_name = !args.backend.empty() ? args.backend : given_torchscript ? "torch" : "opencv";
      candidates.push_back({backend_name, backend_name == "torch" ? torchscript : onnx});
    }
    std::string unloadable;  // with --backend both|auto: the candidates that could not load, and why
    for (Candidate& c : candidates) {
      auto backend = backends.get(c.backend);
      if (!backend.ok()) {
        c.error = backend.error();
      } else if (!compare || std::filesystem::exists(c.path)) {
        auto model = (*backend)->load(c.path);
        if (model.ok()) c.model = std::move(*model);
        else c.error = model.error();
      } else {
        c.error = Error{ErrorCode::kNotFound, c.path + " does not exist"};
      }
      if (c.error && !compare) {
        return cli::fail("profile", c.error->code == ErrorCode::kIo ? kExitFailure : kExitBadInput, c.error->message);
      }
      if (c.error) unloadable += "  " + name + " on " + c.backend + ": cannot load: " + c.error->message + "\n";
    }
    std::erase_if(candidates, [](const Candidate& c) { return c.model == nullptr; });
    if (candidates.empty()) return cli::fail("profile", kExitBadInput, "model " + name + " loads on no backend:\n" + unloadable);

    Progress progress(args.progress);  // a redrawn bar on a terminal; with --progress elsewhere, a line per 10%
    auto measured = measure_interleaved(candidates, name, lo, hi, args, progress);
    if (!measured.ok()) return cli::fail("profile", kExitFailure, measured.error().message);
    // The faster: the lower mean time per image over the batch sizes measured.
    size_t best = 0;
    for (size_t i = 1; i < candidates.size(); ++i)
      if (mean_per_image_ms((*measured)[i]) < mean_per_image_ms((*measured)[best])) best = i;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (args.json)
        doc["models"].push_back(measurement_json((*measured)[i], candidates[i].path, candidates[i].backend));
      else
        print_measurement((*measured)[i], candidates[i].path, candidates[i].backend);
    }
    if (compare) {
      std::string line = "  " + name + ": " + candidates[best].backend + " (" +
                         format_ms(mean_per_image_ms((*measured)[best])) + " ms per image)";
      for (size_t i = 0; i < candidates.size(); ++i)
        if (i != best)
          line += ", " + candidates[i].backend + " " + format_ms(mean_per_image_ms((*measured)[i])) +
                  " ms per image, exe_ms " + exe_ms_list((*measured)[i]);
      notes += line + "\n" + unloadable;
      if (!args.json) std::printf("%s: %s is faster\n", name.c_str(), candidates[best].backend.c_str());
    }
    if (lo == 1 && hi == kMaxBatch) {
      profiles.push_back(infer::to_model_profile((*measured)[best], notes));
      profiles.back().backend = candidates[best].backend;
    }
    if (std::find(backends_used.begin(), backends_used.end(), candidates[best].backend) == backends_used.end())
      backends_used.push_back(candidates[best].backend);
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
      (args.backend.empty() ? join(backends_used) : args.backend) + ", " + (args.threads > 0 ? std::to_string(args.threads) : std::string("default")) +
      " threads, " + std::to_string(args.runs) + " timed runs per batch size after " +
      std::to_string(args.warmup) + " warm-up runs. exe_ms are medians." +
      (args.backend == "both" || args.backend == "auto"
           ? " Both backends measured, batch size by batch size in alternating order; each model's entry is the "
             "faster one (the lower mean time per image over batch sizes 1-10), the other's below:"
           : "") +
      "\n" + notes;
  const std::string text = config::write_profile_set_yaml(set_name, "ExeTime measured on this machine",
                                                  profiles, header);
  if (Status st = write_file(out, text); !st.ok()) return cli::fail("profile", kExitFailure, st.error().message);
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
      "profile", "Measure ExeTime(model, batch) of models on this machine; write a profile set.");
  cli::input_path(cmd->add_option("models", args->model_paths,
                                  "Model files to profile, ONNX or TorchScript (the model's name is the file's stem)"),
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
  cmd->add_option("--backend", args->backend,
                  "Inference backend: opencv (NAME.onnx on OpenCV DNN), torch (NAME.pt on libtorch), or both / auto: "
                  "measure each model on both, batch size by batch size in alternating order, and record the faster "
                  "(the lower mean time per image) in the profile set, which `backend: auto` runs it on. "
                  "Default: the backend that reads each file (.onnx: opencv, TorchScript: torch)")
      ->check(cli::one_of({"opencv", "torch", "both", "auto"}));
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
