// `coedge demo`: the paper's smart-lamppost experiment (§6.3), run for real on this
// machine. It measures the scenario's models here, scales the scenario to this machine
// (every node gets `--node-cores` of CPU; each task's period and deadline grow by its
// model's slowdown against the paper's Jetson TX2, so every task loads its node as in the
// paper), asks the simulator what to expect, then runs the emulated cluster twice —
// CoEdge (CoEdge dispatcher, CoEdge batching) and Local+EDF (every task on its source,
// EDF, batch 1) — and prints the allocation per node (Table 4) and the per-model miss
// rates side by side (Fig. 9a), measured and simulated. Results and a PNG go to --out.
#include <fcntl.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "cluster/cluster_run.h"
#include "cluster/cpu_limit.h"
#include "cluster_report.h"
#include "cli.h"
#include "commands.h"
#include "data_paths.h"
#include "policy_options.h"
#include "process_support.h"
#include "config/scenario_loader.h"
#include "config/scenario_writer.h"
#include "core/text.h"
#include "infer/make_backend.h"
#include "infer/profiler.h"
#include "os/fd.h"
#include "os/spawn.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "run_keystore.h"
#include "terminal.h"
#include "write_file.h"

namespace coedge::app {
namespace {

struct DemoFlags {
  // scenario and models_dir empty: the shipped ones (data_paths.h).
  std::string scenario, out = "results/demo", models_dir,
              isolation = "sandbox", duration = "120s", window = "30s", profiles, dispatcher = "coedge:batch-aware,blocking-aware,useful-evictions";
  double cores = 0.25;
  uint32_t domain = 43;
  ProgressFlags progress;
  bool secure = false, plain = false;  // secure is the default; --secure only says so
  std::string images;  // a secure run's: "encrypt" (default) or "sign"
};

void say(const std::string& text) { std::fprintf(stderr, "[demo] %s\n", text.c_str()); }

// Batch-1 times (ms) of the models as the nodes of the cluster get them: one `coedge
// profile` per node, all at once, each inside its own CPU quota of `cores`, the models
// dealt out in turn (throttling and busy neighbours cost caches, so a node is slower than
// full speed / cores). Per model, the mean of its copies' medians.
Result<std::vector<double>> batch1_under_quota(const std::vector<std::string>& model_files, double cores,
                                               size_t copies) {
  (void)cluster::CpuLimit::cleanup_stale("coedge-demo");  // an interrupted demo's
  const std::string exe = sibling_executable("coedge");
  std::vector<std::unique_ptr<cluster::CpuLimit>> limits;
  struct Run {
    size_t model = 0;
    pid_t pid = -1;
    os::Fd out;
    std::string text;
  };
  std::vector<Run> runs(std::max(copies, model_files.size()));
  for (size_t i = 0; i < runs.size(); ++i) {
    runs[i].model = i % model_files.size();
    auto limit = cluster::CpuLimit::create("coedge-demo", "calibrate-" + std::to_string(i), cores);
    if (!limit.ok()) return limit.error();
    const std::string procs = (*limit)->procs_path();
    limits.push_back(std::move(*limit));
    auto pipe = os::make_pipe();
    if (!pipe.ok()) return pipe.error();
    os::SpawnOptions options;
    options.stdout_fd = pipe->write.get();
    const char* procs_path = procs.c_str();  // `procs` outlives the spawn
    options.before_exec = [procs_path] { return cluster::CpuLimit::join(procs_path); };
    options.before_exec_what = "cannot join the CPU cgroup " + procs;
    auto pid = os::spawn({exe, "profile", model_files[runs[i].model], "--batch", "1", "--runs", "5", "--warmup", "2",
                          "--threads", "1", "-q"},
                         options);
    if (!pid.ok()) return Error{pid.error().code, "cannot start " + exe + ": " + pid.error().message};
    runs[i].pid = *pid;
    runs[i].out = std::move(pipe->read);
  }
  std::vector<double> sum(model_files.size(), 0.0), count(model_files.size(), 0.0);
  std::string failure;
  for (Run& r : runs) {
    char buf[4096];
    for (ssize_t n; (n = read(r.out.get(), buf, sizeof buf)) > 0;) r.text.append(buf, static_cast<size_t>(n));
    r.out.reset();
    const int status = os::wait_for_exit(r.pid);
    // The table row of batch 1: "    1     412.80   420.45        412.80".
    const auto row = r.text.find("\n    1 ");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || row == std::string::npos) {
      failure = r.text;
      continue;
    }
    try {
      sum[r.model] += std::stod(r.text.substr(row + 6));
      count[r.model] += 1;
    } catch (const std::exception&) {
      failure = r.text;
    }
  }
  std::vector<double> out;
  for (size_t m = 0; m < model_files.size(); ++m) {
    if (count[m] == 0) return Error{ErrorCode::kIo, "measuring " + model_files[m] + " under a CPU quota failed: " + failure};
    out.push_back(sum[m] / count[m]);
  }
  return out;
}

// The models measured on this machine with one inference thread (batch 1-10), at node
// speed: full-speed times / cores, times what batch 1 really costs inside the quota.
Result<std::vector<ModelProfile>> measure(const Scenario& scenario, const DemoFlags& f) {
  infer::BackendOptions backend_options;
  backend_options.threads = 1;
  auto backend = infer::make_backend("opencv", backend_options);
  if (!backend.ok()) return backend.error();
  std::vector<std::string> files;
  for (const ModelProfile& m : scenario.models) files.push_back(f.models_dir + "/" + m.name + ".onnx");
  say("batch 1 inside a " + std::to_string(f.cores).substr(0, 4) + "-core quota, " +
      std::to_string(scenario.nodes.size()) + " nodes' worth at once");
  auto quota = batch1_under_quota(files, f.cores, scenario.nodes.size());
  if (!quota.ok()) return quota.error();
  std::vector<ModelProfile> out;
  std::string notes;
  for (size_t i = 0; i < scenario.models.size(); ++i) {
    const ModelProfile& m = scenario.models[i];
    const std::string& file = files[i];
    auto model = (*backend)->load(file);
    if (!model.ok()) return Error{model.error().code, model.error().message + " (build the models with 'make build')"};
    infer::ProfileOptions one;
    one.max_batch = 1;
    one.runs = 1;
    one.warmup = 1;
    auto first = infer::profile_model(**model, m.name, one);
    if (!first.ok()) return first.error();
    infer::ProfileOptions rest;
    rest.min_batch = 2;
    rest.runs = 1;
    rest.warmup = 0;
    Progress progress(f.progress);  // on a terminal only, unless --progress
    if (progress.enabled()) {
      rest.progress = [&](int done, int all, const std::string&) {
        const int percent = all ? 100 * done / all : 100;
        progress.update("[demo] measuring " + m.name + ": " + std::to_string(percent) + "%",
                        all ? static_cast<double>(done) / all : 1.0);
      };
    }
    auto measured = profile_model(**model, m.name, rest);
    progress.finish();
    if (!measured.ok()) return measured.error();
    measured->batches.insert(measured->batches.begin(), first->batches.front());
    ModelProfile p = infer::to_model_profile(*measured, notes);
    const double penalty = std::max(1.0, (*quota)[i] * f.cores / to_ms(p.exe(1)));
    const double factor = penalty / f.cores;
    auto scale = [factor](Duration d) { return Duration(static_cast<int64_t>(std::llround(static_cast<double>(d.count()) * factor))); };
    for (auto& e : p.exe_time) e = scale(e);
    p.pre_time = scale(p.pre_time);
    p.post_time = scale(p.post_time);
    char source[200];
    std::snprintf(source, sizeof source, "measured by coedge demo: one thread, x %.3f (1 / %.2f cores x %.3f, what batch 1 "
                  "costs inside the quota, all nodes at once)", factor, f.cores, penalty);
    p.profile_source = source;
    say(m.name + ": " + source);
    out.push_back(p);
  }
  return out;
}

Status draw(const std::string& png, const std::vector<std::string>& models,
            const std::vector<std::vector<double>>& columns, const std::vector<std::string>& titles) {
  const std::string stem = png.substr(0, png.size() - 4);
  std::string data = "model";
  for (const std::string& t : titles) data += "\t\"" + t + "\"";
  data += "\n";
  for (size_t i = 0; i < models.size(); ++i) {
    data += models[i];
    for (const auto& c : columns) data += "\t" + std::to_string(100 * c[i]);
    data += "\n";
  }
  if (Status st = write_file(stem + ".dat", data); !st.ok()) return st;
  std::string script = "set terminal png size 1000,600\nset output '" + png +
                       "'\nset title 'Lamppost on this machine: miss rate per model (Fig. 9a)'\n"
                       "set ylabel 'miss rate (%)'\nset style data histogram\nset style histogram cluster gap 1\n"
                       "set style fill solid 0.8 border -1\nset grid ytics\nset yrange [0:*]\nset key outside right\n"
                       "plot '" + stem + ".dat' using 2:xtic(1) title columnhead";
  for (size_t c = 1; c < columns.size(); ++c) script += ", '' using " + std::to_string(c + 2) + " title columnhead";
  script += "\n";
  if (Status st = write_file(stem + ".gp", script); !st.ok()) return st;
  if (std::system(("gnuplot '" + stem + ".gp' 2>&1").c_str()) != 0) {
    return Error{ErrorCode::kIo, "gnuplot failed drawing " + png + " (is gnuplot-nox installed? 'make setup')"};
  }
  return Ok{};
}

int run_demo(const DemoFlags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  auto base = config::load_scenario(f.scenario);
  if (!base.ok()) return std::fprintf(stderr, "coedge demo: %s\n", base.error().message.c_str()), kExitBadInput;
  auto duration = config::parse_duration(f.duration);
  auto window = config::parse_duration(f.window);
  if (!duration.ok() || !window.ok()) {
    std::fprintf(stderr, "coedge demo: %s\n", (!duration.ok() ? duration.error() : window.error()).message.c_str());
    return kExitBadInput;
  }
  auto dispatcher = dispatcher_option("--dispatcher", f.dispatcher);
  if (!dispatcher.ok()) return std::fprintf(stderr, "coedge demo: %s\n", dispatcher.error().message.c_str()), kExitBadInput;
  if (dispatcher->base() != "coedge") {
    std::fprintf(stderr, "coedge demo: --dispatcher %s: the demo compares a CoEdge dispatcher (coedge, with any "
                         "options) with Local+EDF; run other dispatchers with 'coedge cluster'\n", f.dispatcher.c_str());
    return kExitBadInput;
  }
  // The demo's two policy pairs; each run's files go to OUT/<the pair's label>/, as
  // `coedge sim --compare` names its folders.
  struct Pair {
    const char* label;
    policy::PolicySpec policy;
  };
  const Pair pairs[] = {{"CoEdge", {*dispatcher, policy::SchedulerSpec{}}},
                        {"Local+EDF", *policy::PolicySpec::parse("local+edf")}};
  if (geteuid() != 0) {
    std::fprintf(stderr, "coedge demo: needs root (it emulates the lamppost network with namespaces, tc and CPU "
                         "quotas); run it with sudo\n");
    return kExitBadInput;
  }
  const std::atomic<bool>* stop = install_stop_signals();
  const std::string out = std::filesystem::absolute(f.out).string();
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return std::fprintf(stderr, "coedge demo: cannot create %s\n", out.c_str()), kExitFailure;

  // 1. This machine's profiles, at node speed.
  std::vector<ModelProfile> profiles;
  if (!f.profiles.empty()) {
    auto loaded = config::load_profile_set(f.profiles);
    if (!loaded.ok()) return std::fprintf(stderr, "coedge demo: %s\n", loaded.error().message.c_str()), kExitBadInput;
    profiles = *loaded;
    say("profiles from " + f.profiles + " (taken as node speed)");
  } else {
    say("step 1/4: measuring the models on this machine (one thread, batch 1-10)");
    auto measured = measure(*base, f);
    if (!measured.ok()) return std::fprintf(stderr, "coedge demo: %s\n", measured.error().message.c_str()), kExitFailure;
    profiles = *measured;
    // The models measured are gone; give their heap back, as this process stays up (and
    // counts in the run's memory) while the clusters run.
    ::malloc_trim(0);
  }
  // 2. The scenario, scaled: each task's period and deadline x its model's slowdown.
  Scenario scaled = *base;
  scaled.source_file = out + "/scenario.yaml";
  std::map<std::string, double> slowdown;
  std::string scaling;
  for (ModelProfile& m : scaled.models) {
    const ModelProfile* here = nullptr;
    for (const ModelProfile& p : profiles)
      if (p.name == m.name) here = &p;
    if (here == nullptr) return std::fprintf(stderr, "coedge demo: no profile for model %s\n", m.name.c_str()), kExitBadInput;
    slowdown[m.name] = to_ms(here->exe(1)) / to_ms(m.exe(1));
    char line[200];
    std::snprintf(line, sizeof line, "  %-14s TX2 %7.1f ms, a node here %7.1f ms at batch 1: periods and deadlines x %.2f\n",
                  m.name.c_str(), to_ms(m.exe(1)), to_ms(here->exe(1)), slowdown[m.name]);
    scaling += line;
    const auto shape = m.input_shape;
    const auto bytes = m.input_bytes;
    m = *here;
    m.input_shape = shape;
    m.input_bytes = bytes;
  }
  for (TaskSpec& t : scaled.tasks) {
    const double s = slowdown[scaled.models[t.model].name];
    t.period = Duration(static_cast<int64_t>(std::llround(static_cast<double>(t.period.count()) * s / 1000.0) * 1000));
    t.deadline = Duration(static_cast<int64_t>(std::llround(static_cast<double>(t.deadline.count()) * s / 1000.0) * 1000));
  }
  for (NodeSpec& n : scaled.nodes) n.cpu_cores = 1;
  scaled.run.duration = *duration;
  scaled.run.window = *window;
  if (Status st = write_file(scaled.source_file, config::write_scenario_yaml(scaled)); !st.ok()) {
    return std::fprintf(stderr, "coedge demo: %s\n", st.error().message.c_str()), kExitFailure;
  }
  std::fprintf(stderr, "[demo] scaled to this machine (each node: %.2f of a core, one inference thread):\n%s",
               f.cores, scaling.c_str());
  say("the scaled scenario: " + scaled.source_file);

  // 3. What the simulator expects.
  say("step 2/4: simulating CoEdge (" + pairs[0].policy.label() + ") and Local+EDF (" + pairs[1].policy.label() +
      ") on the scaled scenario");
  std::map<std::string, sim::RunSummary> predicted;
  sim::SimResult sim_coedge;  // for Table 4's simulated allocation
  for (const Pair& pair : pairs) {
    sim::SimOptions so;
    so.policy = pair.policy;
    sim::SimResult result = sim::simulate(scaled, so);
    predicted[pair.label] = sim::summarize(scaled, result, pair.label);
    if (&pair == &pairs[0]) sim_coedge = std::move(result);
  }

  // 4. The two emulated runs.
  std::map<std::string, ClusterSummary> measured;
  int step = 3;
  for (const auto& [label, policy] : pairs) {
    say("step " + std::to_string(step++) + "/4: " + label + " on the emulated lamppost network (" + f.duration +
        " from the first plan, plus start-up and shutdown)");
    cluster::ClusterRunOptions options;
    options.scenario_file = scaled.source_file;
    options.coedge_exe = sibling_executable("coedge");
    options.models_dir = std::filesystem::absolute(f.models_dir).string();
    options.out_dir = out + "/" + policy.label();
    options.dispatcher = policy.dispatcher.text();
    options.scheduler = policy.scheduler.text();
    options.isolation = f.isolation;
    options.node_cores = f.cores;
    options.progress = Progress(f.progress).enabled();
    options.domain = f.domain;
    options.label = label;
    options.stop = stop;
    if (!f.plain) {  // a fresh keystore per run, in its folder, as `coedge cluster`
      const auto images = images_protection(f.images);
      auto keystore = make_run_keystore(options.out_dir, scaled, images);
      if (!keystore.ok()) {
        return std::fprintf(stderr, "coedge demo: creating the run's keystore: %s\n", keystore.error().message.c_str()),
               kExitFailure;
      }
      options.keystore = *keystore;
      options.security_label = secure_label(images);
    }
    auto run = cluster::run_cluster(scaled, options);
    if (!run.ok()) return std::fprintf(stderr, "coedge demo: %s: %s\n", label, run.error().message.c_str()), kExitFailure;
    auto summary = read_cluster_summary(run->summary_json);
    if (!summary.ok()) return std::fprintf(stderr, "coedge demo: %s\n", summary.error().message.c_str()), kExitFailure;
    std::fprintf(stderr, "%s", format_cluster_summary(scaled, *summary).c_str());
    measured[label] = *summary;
    if (stop->load()) return std::fprintf(stderr, "coedge demo: stopped\n"), kExitFailure;
  }

  // The simulator again, at the speed the nodes really had: each model's profile scaled by
  // measured / profiled inference time, over every batch both runs measured.
  Scenario at_measured = scaled;
  std::string speed_note = "inference measured in the runs against the profile:";
  for (ModelProfile& m : at_measured.models) {
    double measured_ms = 0, profiled_ms = 0;
    for (const auto& label : {"CoEdge", "Local+EDF"}) {
      auto it = measured[label].measured_profiles.find(m.name);
      if (it == measured[label].measured_profiles.end()) continue;
      for (size_t b = 0; b < it->second.batches.size() && b < kMaxBatch; ++b) {
        const auto n = static_cast<double>(it->second.batches[b]);
        measured_ms += n * it->second.exe_ms[b];
        profiled_ms += n * to_ms(m.exe(static_cast<int>(b) + 1));
      }
    }
    const double ratio = profiled_ms > 0 ? measured_ms / profiled_ms : 1.0;
    for (auto& e : m.exe_time) e = Duration(static_cast<int64_t>(std::llround(static_cast<double>(e.count()) * ratio)));
    char part[64];
    std::snprintf(part, sizeof part, " %s x %.3f", m.name.c_str(), ratio);
    speed_note += part;
  }
  std::map<std::string, sim::RunSummary> predicted_measured;
  for (const Pair& pair : pairs) {
    sim::SimOptions so;
    so.policy = pair.policy;
    predicted_measured[pair.label] = sim::summarize(at_measured, sim::simulate(at_measured, so), pair.label);
  }

  // Table 4 and Fig. 9a.
  std::string report = "\nCoEdge: the " + pairs[0].policy.dispatcher.text() + " dispatcher with the coedge batching scheduler; Local+EDF: every "
                       "task on its source, EDF, batch 1.\n" +
                       std::string(!f.plain ? "DDS Security: on (" + secure_label(images_protection(f.images)) + ")\n"
                                             : "DDS Security: off (--plain, an open DDS domain)\n") +
                       "\nTable 4: allocation per node at the end of the run\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-6s %-22s %-22s %-22s\n", "node", "CoEdge (emulated)", "CoEdge (simulated)",
                "Local+EDF");
  report += line;
  const auto sim_alloc = sim::allocation_by_node(scaled, sim_coedge.final_plan);
  for (NodeIndex k = 0; k < scaled.nodes.size(); ++k) {
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
      return s;
    };
    const std::string& n = scaled.nodes[k].name;
    std::snprintf(line, sizeof line, "%-6s %-22s %-22s %-22s\n", n.c_str(), join(measured["CoEdge"].allocation[n]).c_str(),
                  k < sim_alloc.size() ? sim_alloc[k].c_str() : "", join(measured["Local+EDF"].allocation[n]).c_str());
    report += line;
  }
  report += "\nFig. 9a: miss rate per model (emulated, with the simulator's prediction)\n";
  std::snprintf(line, sizeof line, "%-14s %12s %12s %12s %12s\n", "model", "CoEdge", "Local+EDF", "sim CoEdge",
                "sim Local+EDF");
  report += line;
  std::vector<std::string> model_names;
  std::vector<std::vector<double>> columns(4);
  nlohmann::json results{{"scenario", scaled.source_file}, {"node_cores", f.cores},
                             {"secure", !f.plain}, {"models", nlohmann::json::object()}};
  auto sim_rate_in = [&](std::map<std::string, sim::RunSummary>& runs, const std::string& label, const std::string& model) {
    const sim::RunSummary& r = runs[label];
    for (size_t i = 0; i < r.model_names.size(); ++i)
      if (r.model_names[i] == model) return r.models[i].miss_rate;
    return 0.0;
  };
  for (const ModelProfile& m : scaled.models) {
    const double a = measured["CoEdge"].models[m.name].miss_rate, b = measured["Local+EDF"].models[m.name].miss_rate;
    const double sa = sim_rate_in(predicted, "CoEdge", m.name), sb = sim_rate_in(predicted, "Local+EDF", m.name);
    std::snprintf(line, sizeof line, "%-14s %12s %12s %12s %12s\n", m.name.c_str(), percent(a).c_str(), percent(b).c_str(),
                  percent(sa).c_str(), percent(sb).c_str());
    report += line;
    model_names.push_back(m.name);
    for (auto [c, v] : {std::pair{0, a}, std::pair{1, b}, std::pair{2, sa}, std::pair{3, sb}}) columns[c].push_back(v);
    results["models"][m.name] = {{"coedge", a}, {"local_edf", b}, {"sim_coedge", sa}, {"sim_local_edf", sb},
                                 {"slowdown", slowdown[m.name]}};
  }
  const double all_a = measured["CoEdge"].miss_rate, all_b = measured["Local+EDF"].miss_rate;
  std::snprintf(line, sizeof line, "%-14s %12s %12s %12s %12s\n", "overall", percent(all_a).c_str(), percent(all_b).c_str(),
                percent(predicted["CoEdge"].overall.miss_rate).c_str(), percent(predicted["Local+EDF"].overall.miss_rate).c_str());
  report += line;
  report += "\nThe simulator against the emulation, per model (" + speed_note + "):\n";
  std::snprintf(line, sizeof line, "%-10s %-14s %10s %16s %10s %22s %8s\n", "policy", "model", "emulated",
                "sim (profiles)", "diff pp", "sim (measured speed)", "diff pp");
  report += line;
  nlohmann::json versus = nlohmann::json::array();
  for (const char* label : {"CoEdge", "Local+EDF"}) {
    for (const ModelProfile& m : scaled.models) {
      const double e = measured[label].models[m.name].miss_rate;
      const double p1 = sim_rate_in(predicted, label, m.name), p2 = sim_rate_in(predicted_measured, label, m.name);
      std::snprintf(line, sizeof line, "%-10s %-14s %10s %16s %+10.1f %22s %+8.1f\n", label, m.name.c_str(), percent(e).c_str(),
                    percent(p1).c_str(), 100 * (p1 - e), percent(p2).c_str(), 100 * (p2 - e));
      report += line;
      versus.push_back({{"policy", label}, {"model", m.name}, {"emulated", e}, {"sim_profiles", p1}, {"sim_measured_speed", p2}});
    }
  }
  results["simulator_vs_emulation"] = versus;
  results["speed_note"] = speed_note;
  const double reduction = all_b > 0 ? 1 - all_a / all_b : 0;
  if (all_b > 0 && reduction >= 0) {
    std::snprintf(line, sizeof line,
                  "\nCoEdge's overall miss rate is %.1f%% lower than Local+EDF's (%.2f%% against %.2f%%), measured in "
                  "this run.\n", 100 * reduction, 100 * all_a, 100 * all_b);
  } else if (all_b > 0) {
    std::snprintf(line, sizeof line,
                  "\nCoEdge's overall miss rate is %.1f%% HIGHER than Local+EDF's (%.2f%% against %.2f%%), measured in "
                  "this run.\n", -100 * reduction, 100 * all_a, 100 * all_b);
  } else {
    std::snprintf(line, sizeof line, "\nLocal+EDF missed no deadline; CoEdge missed %.2f%%, measured in this run.\n",
                  100 * all_a);
  }
  report += line;
  for (const auto& label : {"CoEdge", "Local+EDF"}) {
    const ClusterSummary& m = measured[label];
    if (m.all_first_met_s >= 0) {
      std::snprintf(line, sizeof line, "Start-up, %s: first plan %.1f s and every node given tasks met a job by %.1f s "
                    "after its master started.\n", label, m.first_plan_s, m.all_first_met_s);
    } else {
      std::snprintf(line, sizeof line, "Start-up, %s: a node given tasks never met a job.\n", label);
    }
    report += line;
  }
  report += "Every released job counted: CoEdge " + std::string(measured["CoEdge"].accounted ? "yes" : "NO") +
            ", Local+EDF " + (measured["Local+EDF"].accounted ? "yes" : "NO") + "\n";
  results["startup_s"] = {{"coedge", measured["CoEdge"].all_first_met_s}, {"local_edf", measured["Local+EDF"].all_first_met_s}};
  results["overall"] = {{"coedge", all_a}, {"local_edf", all_b}, {"reduction", reduction},
                        {"sim_coedge", predicted["CoEdge"].overall.miss_rate},
                        {"sim_local_edf", predicted["Local+EDF"].overall.miss_rate}};
  std::printf("%s", report.c_str());
  (void)write_file(out + "/report.txt", scaling + report);
  (void)write_file(out + "/results.json", results.dump(2) + "\n");
  if (Status st = draw(out + "/fig9a.png", model_names, columns,
                       {"CoEdge", "Local+EDF", "sim CoEdge", "sim Local+EDF"});
      !st.ok()) {
    std::fprintf(stderr, "coedge demo: %s\n", st.error().message.c_str());
  }
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60;
  std::printf("Results in %s (report.txt, results.json, fig9a.png, %s/, %s/); took %.1f min\n", out.c_str(),
              pairs[0].policy.label().c_str(), pairs[1].policy.label().c_str(), minutes);
  return measured["CoEdge"].accounted && measured["Local+EDF"].accounted ? kExitOk : kExitUnaccounted;
}

}  // namespace

std::function<int()> add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo",
      "The paper's smart-lamppost experiment, for real on this machine: measures the models, "
      "scales the scenario to this machine, then runs the emulated cluster with CoEdge and with "
      "Local+EDF and prints Table 4 and Fig. 9a (with the simulator's prediction). Needs root; "
      "about 6 minutes on 2 cores.");
  auto f = std::make_shared<DemoFlags>();
  cmd->add_option("--scenario", f->scenario, "the paper scenario to scale")
      ->default_str(example_file(kDemoScenario).path);
  cmd->add_option("-o,--out", f->out, "results folder")->capture_default_str();
  cmd->add_option("--duration", f->duration, "each run's length, from its first plan")->capture_default_str();
  cmd->add_option("--window", f->window, "stage-2 period (the paper's is 120 s; scaled runs are shorter)")
      ->capture_default_str();
  cmd->add_option("--node-cores", f->cores, "each node's CPU quota, in cores")->capture_default_str()->check(cli::number(0.05, 2.0));
  cmd->add_option("--models-dir", f->models_dir, "folder holding <model>.onnx")->default_str(default_models_dir().path);
  cmd->add_option("--isolation", f->isolation, "the node agents' isolation: sandbox, process or none")
      ->capture_default_str()
      ->check(cli::one_of({"sandbox", "process", "none"}));
  cmd->add_option("--profiles", f->profiles, "skip measuring: node-speed profiles from this file");
  cmd->add_option("--dispatcher", f->dispatcher,
                  "CoEdge's dispatcher: a coedge spec; by default the paper's with batch- and "
                  "blocking-aware estimates and useful evictions only; 'coedge' is the paper's as "
                  "written ('coedge policies', docs/POLICIES.md)")
      ->capture_default_str();
  cmd->add_option("--domain", f->domain, "DDS domain id (0-232)")->capture_default_str()->check(cli::whole_number(0, 232));
  auto* secure = cmd->add_flag("--secure", f->secure,
                               "the default: both runs with DDS Security, as `coedge cluster` (a fresh keystore "
                               "in each run's folder; docs/SECURITY.md)");
  cmd->add_flag("--plain", f->plain, "both runs without DDS Security, on an open domain")->excludes(secure);
  cmd->add_option("--images", f->images,
                  "a secure run's image and result topics: encrypt (default) or sign (authenticated, in the clear)")
      ->check(cli::one_of({"sign", "encrypt"}));
  add_progress_flags(cmd, f->progress);
  cli::input_path(cmd->get_option("--scenario"), f->scenario);
  cli::input_path(cmd->get_option("--profiles"), f->profiles);
  cli::input_path(cmd->get_option("--models-dir"), f->models_dir, cli::PathKind::kInputDir);
  cli::output_path(cmd->get_option("--out"), f->out);
  return [f] {
    Status st = fill_default(f->scenario, example_file(kDemoScenario), "--scenario");
    if (st.ok()) st = fill_default(f->models_dir, default_models_dir(), "--models-dir");
    if (!st.ok()) return std::fprintf(stderr, "coedge demo: %s\n", st.error().message.c_str()), kExitFailure;
    if (!f->plain && f->domain > kMaxSecureDomain) {
      std::fprintf(stderr, "coedge demo: %s; --plain runs without it\n", secure_domain_error(f->domain).message.c_str());
      return kExitBadInput;
    }
    if (!f->images.empty() && f->plain) {
      std::fprintf(stderr, "coedge demo: --images is for a secure run, not with --plain\n");
      return kExitBadInput;
    }
    return run_demo(*f);
  };
}

}  // namespace coedge::app
