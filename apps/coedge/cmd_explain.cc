// `coedge explain RUN_DIR TASK`: why did this task miss? Reads a finished run's folder and
// answers from what it holds:
//  - a simulation's (`coedge sim -o DIR`; with --compare, one policy's subfolder):
//    summary.json (outcomes, and the "why" the dispatcher gave), allocation.csv (source
//    and nodes), tasks.csv (models, to find who shared the node and the model),
//    plan_changes.csv (its placements, evictions and waiting notes) and, when the run
//    had --jobs, jobs.csv (where its jobs' time went, stage by stage);
//  - a cluster run's (`coedge cluster --out DIR`, or the master's --out folder):
//    master/summary.json (outcomes, allocation, "why"), master/windows.jsonl (plan
//    changes with their explanations) and any jobs.jsonl below DIR (the nodes' job lines);
//  - a node's run folder (`coedge node`: summary.json with "node", and jobs.jsonl when
//    it ran with --jobs there), or any folder holding a jobs.jsonl.
// Job lines are read tolerantly: unknown fields are ignored, missing ones skip a stage.
// What the folder lacks is named with the option that produces it. Exit codes: 0, 1 when
// the folder or a file cannot be read, 2 for an unknown task or a folder that is no run.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "commands.h"

namespace coedge::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Failure {
  int code;
  std::string message;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Failure{kExitFailure, "cannot read " + p.string()};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json read_json(const fs::path& p) {
  const std::string text = slurp(p);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Failure{kExitBadInput, p.string() + ": not valid JSON"};
  return j;
}

// RFC 4180 lines as report.cc writes them (quoted fields may hold commas and quotes).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

// A CSV file as rows of column name -> value.
std::vector<std::map<std::string, std::string>> read_csv(const fs::path& p) {
  std::istringstream in(slurp(p));
  std::string line;
  std::vector<std::map<std::string, std::string>> rows;
  if (!std::getline(in, line)) return rows;
  const auto header = csv_fields(line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto fields = csv_fields(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

// The rows of a CSV file whose `column` is `value`, read line by line: a jobs.csv can
// hold millions of rows, and only one task's are wanted (a line that does not contain the
// value at all is skipped before it is split). Throws Failure (exit 1) when the file
// cannot be read, or (exit 2) when it has no such column.
std::vector<std::map<std::string, std::string>> read_csv_where(const fs::path& p, const std::string& column,
                                                               const std::string& value) {
  std::ifstream in(p);
  if (!in) throw Failure{kExitFailure, p.string() + ": cannot read"};
  std::string line;
  std::vector<std::map<std::string, std::string>> rows;
  if (!std::getline(in, line)) return rows;
  const auto header = csv_fields(line);
  const auto at = std::find(header.begin(), header.end(), column);
  if (at == header.end()) throw Failure{kExitBadInput, p.string() + ": no column '" + column + "' in its header"};
  const size_t index = static_cast<size_t>(at - header.begin());
  while (std::getline(in, line)) {
    if (line.empty() || line.find(value) == std::string::npos) continue;
    const auto fields = csv_fields(line);
    if (index >= fields.size() || fields[index] != value) continue;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  if (in.bad()) throw Failure{kExitFailure, p.string() + ": cannot read"};
  return rows;
}

std::optional<double> number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

// One job's stamps in milliseconds (nullopt: not reached, or not in the file).
struct JobTimes {
  std::string outcome, reason, node;
  std::optional<double> release, arrive, pre_start, pre_end, infer_start, infer_end, post_start, post_end, end;
};

// A job's stamps from one row of a jobs file: `ms(stage)` gives a stage's stamp ("release",
// "pre_start", ..., "post_end", "end") in milliseconds, or nullopt. Both formats (the
// simulator's jobs.csv, a node's job lines) name their stamps after the same stages.
template <typename Stamp>
JobTimes job_times(std::string outcome, std::string reason, std::string node, const Stamp& ms) {
  JobTimes j;
  j.outcome = std::move(outcome);
  j.reason = std::move(reason);
  j.node = std::move(node);
  j.release = ms("release");
  j.arrive = ms("arrive");
  j.pre_start = ms("pre_start");
  j.pre_end = ms("pre_end");
  j.infer_start = ms("infer_start");
  j.infer_end = ms("infer_end");
  j.post_start = ms("post_start");
  j.post_end = ms("post_end");
  j.end = ms("end");
  return j;
}

// Stage means over the jobs of each outcome, and outcome/cause counts.
std::string stage_report(const std::vector<JobTimes>& jobs, const std::string& source) {
  struct Stage {
    const char* name;
    std::optional<double> JobTimes::*from;
    std::optional<double> JobTimes::*to;
  };
  const Stage stages[] = {
      {"transfer (release to arrival)", &JobTimes::release, &JobTimes::arrive},
      {"wait for a CPU core (pre)", &JobTimes::arrive, &JobTimes::pre_start},
      {"pre-processing", &JobTimes::pre_start, &JobTimes::pre_end},
      {"queue for the accelerator", &JobTimes::pre_end, &JobTimes::infer_start},
      {"inference (its batch)", &JobTimes::infer_start, &JobTimes::infer_end},
      {"wait for a CPU core (post)", &JobTimes::infer_end, &JobTimes::post_start},
      {"post-processing", &JobTimes::post_start, &JobTimes::post_end},
      {"end to end", &JobTimes::release, &JobTimes::end},
  };
  std::map<std::string, uint64_t> outcomes, causes;
  for (const JobTimes& j : jobs) {
    ++outcomes[j.outcome];
    if (!j.reason.empty() && j.reason != "none") ++causes[j.reason];
  }
  std::string out = "Its jobs (" + source + "): " + std::to_string(jobs.size()) + " in all";
  for (const auto& [o, n] : outcomes) out += ", " + o + " " + std::to_string(n);
  out += "\n";
  if (!causes.empty()) {
    out += "  drop causes:";
    for (const auto& [c, n] : causes) out += " " + c + " " + std::to_string(n);
    out += "\n";
  }
  const char* groups[] = {"met", "overdue", "dropped"};
  char line[256];
  std::snprintf(line, sizeof line, "  %-32s %12s %12s %12s\n", "mean ms per stage", "met", "overdue", "dropped");
  out += line;
  for (const Stage& st : stages) {
    std::string cells[3];
    bool any = false;
    for (int g = 0; g < 3; ++g) {
      double sum = 0;
      size_t n = 0;
      for (const JobTimes& j : jobs) {
        if (j.outcome != groups[g]) continue;
        // A node's lines have no arrival: its pre wait counts from the release.
        const std::optional<double>& from =
            (st.from == &JobTimes::arrive && !j.arrive) ? j.release : j.*st.from;
        const std::optional<double>& to = j.*st.to;
        if (!from || !to) continue;
        sum += *to - *from;
        ++n;
      }
      if (n) {
        char cell[32];
        std::snprintf(cell, sizeof cell, "%.1f", sum / static_cast<double>(n));
        cells[g] = cell;
        any = true;
      } else {
        cells[g] = "-";
      }
    }
    if (!any) continue;
    std::snprintf(line, sizeof line, "  %-32s %12s %12s %12s\n", st.name, cells[0].c_str(), cells[1].c_str(),
                  cells[2].c_str());
    out += line;
  }
  return out;
}

std::string known(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// --- a simulation's folder ---------------------------------------------------------------

std::string explain_sim(const fs::path& dir, const json& summary, const std::string& task) {
  if (!summary.contains("tasks") || !summary["tasks"].is_object())
    throw Failure{kExitBadInput, (dir / "summary.json").string() + ": no \"tasks\" object"};
  if (!summary["tasks"].contains(task)) {
    std::vector<std::string> names;
    for (const auto& [name, _] : summary["tasks"].items()) names.push_back(name);
    throw Failure{kExitBadInput, "no task '" + task + "' in " + (dir / "summary.json").string() +
                                     "; its tasks: " + known(names)};
  }
  const json& t = summary["tasks"][task];
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "Task %s (simulation of %s, dispatcher %s, scheduler %s)\n"
                "  released %llu: met %llu, overdue %llu, dropped %llu; miss rate %.2f%%\n",
                task.c_str(), summary.value("scenario", std::string("?")).c_str(),
                summary.value("dispatcher", std::string("?")).c_str(), summary.value("scheduler", std::string("?")).c_str(),
                t.value("released", 0ULL), t.value("met", 0ULL), t.value("overdue", 0ULL), t.value("dropped", 0ULL),
                100.0 * t.value("miss_rate", 0.0));
  out += line;

  // Where it ran, and with whom.
  std::string model, node_end = t.value("node", std::string("-"));
  std::map<std::string, std::string> model_of;
  if (fs::exists(dir / "tasks.csv"))
    for (const auto& row : read_csv(dir / "tasks.csv")) model_of[row.at("task")] = row.count("model") ? row.at("model") : "";
  model = model_of.count(task) ? model_of[task] : "";
  if (fs::exists(dir / "allocation.csv")) {
    for (const auto& row : read_csv(dir / "allocation.csv")) {
      if (row.count("task") == 0 || row.at("task") != task) continue;
      out += "  model " + (model.empty() ? std::string("?") : model) + ", source " + row.at("source") +
             ", node at start " + row.at("node_at_start") + ", at the end " + row.at("node_at_end") + "\n";
    }
  }
  if (node_end != "-") {
    std::string shared_node, shared_model;
    for (const auto& [name, entry] : summary["tasks"].items()) {
      if (name == task || entry.value("node", std::string("-")) != node_end) continue;
      shared_node += (shared_node.empty() ? "" : ", ") + name + " (" + (model_of.count(name) ? model_of[name] : "?") + ")";
      if (!model.empty() && model_of.count(name) && model_of[name] == model)
        shared_model += (shared_model.empty() ? "" : ", ") + name;
    }
    out += "  shares " + node_end + " with: " + (shared_node.empty() ? std::string("no other task") : shared_node) + "\n";
    if (!model.empty())
      out += "  shares its model " + model + " there with: " + (shared_model.empty() ? std::string("no other task") : shared_model) + "\n";
  }

  // The dispatcher's word.
  if (summary.contains("why") && summary["why"].contains(task)) {
    out += "Why: " + summary["why"][task].value("text", std::string()) + "\n";
  } else if (summary.contains("why")) {
    out += "Why: nothing to explain: placed, not evicted, and within its epsilon.\n";
  } else {
    out += "Why: summary.json has no \"why\" (written by an older coedge; run the simulation again).\n";
  }
  if (fs::exists(dir / "plan_changes.csv")) {
    std::vector<std::string> lines;
    for (const auto& row : read_csv(dir / "plan_changes.csv")) {
      if (row.count("task") == 0 || row.at("task") != task) continue;
      std::string l = "  " + row.at("time_s") + " s: " + row.at("reason") + " " + row.at("from") + " -> " + row.at("to");
      if (row.count("why") && !row.at("why").empty()) l += ": " + row.at("why");
      lines.push_back(l + "\n");
    }
    constexpr size_t kShown = 8;
    out += "Plan changes (" + std::to_string(lines.size()) + "):\n";
    if (lines.size() > kShown) out += "  ... " + std::to_string(lines.size() - kShown) + " earlier ones in plan_changes.csv\n";
    for (size_t i = lines.size() > kShown ? lines.size() - kShown : 0; i < lines.size(); ++i) out += lines[i];
  }

  // Where the time went.
  if (!fs::exists(dir / "jobs.csv")) {
    out += "Stage by stage: " + (dir / "jobs.csv").string() +
           " is absent; run the simulation again with `coedge sim SCENARIO --jobs -o " + dir.string() +
           "` to record every job's timeline.\n";
    return out;
  }
  std::vector<JobTimes> jobs;
  for (const auto& row : read_csv_where(dir / "jobs.csv", "task", task)) {
    auto field = [&row](const std::string& k) { return row.count(k) ? row.at(k) : std::string(); };
    JobTimes j = job_times(row.count("outcome") ? row.at("outcome") : "?", field("drop_reason"), field("node"),
                           [&field](const std::string& stage) { return number(field(stage + "_ms")); });
    j.post_end = j.post_start ? j.end : std::nullopt;  // jobs.csv ends a job with its post-processing
    jobs.push_back(j);
  }
  return out + stage_report(jobs, "jobs.csv");
}

// --- a real run's folder ----------------------------------------------------------------

// Job lines of `task` in every jobs*.jsonl at most three levels below `dir` (and in
// `extra`, e.g. the jobs file a node's summary.json names), in path order. A jobs file is
// appended run after run (docs/NODE_CONFIG.md, "Results"), so only one run's lines count:
// `run` when given (a node's summary.json run_id), otherwise the latest run found in any of
// the files (run ids begin with their UTC start, so the greatest is the latest), the same
// for every file: a node that ran nothing in the latest run adds no older lines. Files are
// read line by line, and a line that does not mention the task is not parsed.
std::vector<JobTimes> node_jobs(const fs::path& dir, const std::string& task, std::vector<std::string>& files,
                                const std::string& run = "", const fs::path& extra = {}) {
  std::vector<JobTimes> jobs;
  std::vector<fs::path> found;
  std::error_code ec;
  if (!extra.empty() && fs::is_regular_file(extra, ec)) found.push_back(extra);
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it.depth() > 3) it.disable_recursion_pending();
    // jobs.jsonl, or a per-run variant such as jobs-RUN.jsonl.
    const std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && name.rfind("jobs", 0) == 0 && name.size() >= 10 &&
        name.compare(name.size() - 6, 6, ".jsonl") == 0)
      found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> distinct;  // `extra` may also lie below `dir`
  for (const fs::path& p : found) {
    const bool seen = std::any_of(distinct.begin(), distinct.end(), [&p](const fs::path& q) {
      std::error_code same_ec;
      return fs::equivalent(p, q, same_ec);
    });
    if (!seen) distinct.push_back(p);
  }
  // Calls `each` with every parsed line of `task` in the files.
  auto for_each_line = [&](const auto& each) {
    for (const fs::path& p : distinct) {
      std::ifstream in(p);
      if (!in) throw Failure{kExitFailure, p.string() + ": cannot read"};
      std::string text;
      while (std::getline(in, text)) {
        if (text.find(task) == std::string::npos) continue;
        const json j = json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object() || j.value("task", std::string()) != task) continue;
        each(j);
      }
    }
  };
  auto run_of = [](const json& j) {
    return j.contains("run") && j["run"].is_string() ? j["run"].get<std::string>() : std::string();
  };
  std::string wanted = run;
  if (wanted.empty())
    for_each_line([&](const json& j) { wanted = std::max(wanted, run_of(j)); });
  for (const fs::path& p : distinct) files.push_back(p.string());
  for_each_line([&](const json& j) {
    if (!wanted.empty() && run_of(j) != wanted) return;  // lines without a run id: only when no file has one
    auto seconds_as_ms = [&j](const std::string& stage) -> std::optional<double> {
      const std::string k = stage + "_s";
      if (!j.contains(k) || !j[k].is_number()) return std::nullopt;
      return j[k].get<double>() * 1000.0;
    };
    jobs.push_back(job_times(j.value("outcome", std::string("?")),
                             j.contains("reason") && j["reason"].is_string() ? j["reason"].get<std::string>() : "",
                             j.value("node", std::string()), seconds_as_ms));
  });
  return jobs;
}

// The lines of a node's summary.json warning that `model` ran slower than the profile it
// was planned with (docs/NODE_CONFIG.md, "The profile warning"), and the command that
// re-profiles; empty when there is none. `on` names the node ("" for a node's own run).
std::string profile_warnings(const json& node_summary, const std::string& model, const std::string& on) {
  std::string out;
  if (!node_summary.is_object() || !node_summary.contains("profile_check") || !node_summary["profile_check"].is_object())
    return out;
  const json& check = node_summary["profile_check"];
  const json warnings = check.value("warnings", json::array());
  if (!warnings.is_array()) return out;
  char line[512];
  const std::string where = on.empty() ? "" : " on " + on;
  for (const json& w : warnings) {
    if (!w.is_object() || w.value("model", std::string()) != model) continue;
    std::snprintf(line, sizeof line,
                  "  profile warning%s: %s at batch %d took %.1f ms (median) against %.1f ms in its profile (%.2fx)\n",
                  where.c_str(), model.c_str(), w.value("batch", 0), w.value("measured_ms", 0.0),
                  w.value("profiled_ms", 0.0), w.value("ratio", 0.0));
    out += line;
  }
  if (!out.empty() && check.contains("reprofile") && check["reprofile"].is_string())
    out += "  re-profile: " + check["reprofile"].get<std::string>() + "\n";
  return out;
}

std::string explain_cluster(const fs::path& dir, const fs::path& summary_path, const std::string& task) {
  const json summary = read_json(summary_path);
  if (!summary.contains("tasks") || !summary["tasks"].is_array())
    throw Failure{kExitBadInput, summary_path.string() + ": no \"tasks\" list"};
  const json* entry = nullptr;
  std::vector<std::string> names;
  for (const json& t : summary["tasks"]) {
    names.push_back(t.value("task", std::string()));
    if (names.back() == task) entry = &t;
  }
  if (!entry) throw Failure{kExitBadInput, "no task '" + task + "' in " + summary_path.string() + "; its tasks: " + known(names)};
  const json& t = *entry;
  char line[512];
  std::snprintf(line, sizeof line,
                "Task %s (real run of %s, dispatcher %s)\n  model %s, source %s, node at the end %s\n"
                "  released %llu: met %llu, overdue %llu, dropped %llu (lost %llu); miss rate %.2f%%\n",
                task.c_str(), summary.value("scenario", std::string("?")).c_str(),
                summary.value("dispatcher", std::string("?")).c_str(), t.value("model", std::string("?")).c_str(),
                t.value("source", std::string("?")).c_str(), t.value("node", std::string("-")).c_str(),
                t.value("released", 0ULL), t.value("met", 0ULL), t.value("overdue", 0ULL), t.value("dropped", 0ULL),
                t.value("lost", 0ULL), 100.0 * t.value("miss_rate", 0.0));
  std::string out = line;
  const std::string node = t.value("node", std::string("-"));
  const std::string model = t.value("model", std::string());
  std::string shared, shared_model;
  for (const json& o : summary["tasks"]) {
    const std::string name = o.value("task", std::string());
    if (name == task || o.value("node", std::string("-")) != node || node == "-") continue;
    shared += (shared.empty() ? "" : ", ") + name + " (" + o.value("model", std::string("?")) + ")";
    if (o.value("model", std::string()) == model) shared_model += (shared_model.empty() ? "" : ", ") + name;
  }
  if (node != "-") {
    out += "  shares " + node + " with: " + (shared.empty() ? std::string("no other task") : shared) + "\n";
    out += "  shares its model " + model + " there with: " + (shared_model.empty() ? std::string("no other task") : shared_model) + "\n";
    // The node's own summary (a cluster run's nodes/<node>/summary.json), for its profile warning.
    const fs::path node_summary = summary_path.parent_path().parent_path() / "nodes" / node / "summary.json";
    std::error_code exists_ec;
    if (fs::is_regular_file(node_summary, exists_ec)) {
      std::ifstream in(node_summary);
      const json ns = json::parse(in, nullptr, false);
      if (!ns.is_discarded()) out += profile_warnings(ns, model, node);
    }
  }
  if (summary.contains("why") && summary["why"].contains(task))
    out += "Why: " + summary["why"][task].value("text", std::string()) + "\n";
  const fs::path windows = summary_path.parent_path() / "windows.jsonl";
  if (fs::exists(windows)) {
    std::istringstream in(slurp(windows));
    std::string text;
    std::vector<std::string> lines;
    while (std::getline(in, text)) {
      const json w = json::parse(text, nullptr, false);
      if (w.is_discarded() || !w.is_object()) continue;
      for (const char* key : {"changes", "waiting"}) {
        if (!w.contains(key) || !w[key].is_array()) continue;
        for (const json& c : w[key]) {
          const std::string s = c.is_string() ? c.get<std::string>() : c.value("text", std::string());
          if (s.rfind(task + " ", 0) == 0)
            lines.push_back("  window " + std::to_string(w.value("window", 0)) + ": " + s + "\n");
        }
      }
    }
    out += "Plan changes and waiting notes (" + std::to_string(lines.size()) + "):\n";
    for (const std::string& l : lines) out += l;
  }
  std::vector<std::string> files;
  const auto jobs = node_jobs(dir, task, files);
  if (jobs.empty()) {
    out += "Stage by stage: no job lines of " + task + " below " + dir.string() +
           "; give each node a jobs file (node config `metrics: {jobs: FILE}`, docs/NODE_CONFIG.md) to see "
           "where its jobs' time went.\n";
    return out;
  }
  return out + stage_report(jobs, known(files));
}

// A node's run folder (`coedge node`): its summary.json ("node", "tasks": [...], with
// each task's mean stage times) and the job lines, if any.
std::string explain_node(const fs::path& dir, const json& summary, const std::string& task) {
  const json* entry = nullptr;
  std::vector<std::string> names;
  for (const json& t : summary["tasks"]) {
    names.push_back(t.value("task", std::string()));
    if (names.back() == task) entry = &t;
  }
  if (!entry)
    throw Failure{kExitBadInput, "no task '" + task + "' in " + (dir / "summary.json").string() + "; its tasks: " + known(names)};
  const json& t = *entry;
  const std::string node = summary.value("node", std::string("?"));
  const std::string model = t.value("model", std::string("?"));
  char line[512];
  std::snprintf(line, sizeof line,
                "Task %s (node %s's run, scheduler %s)\n  model %s; released %llu: met %llu, overdue %llu, dropped "
                "%llu; miss rate %.2f%%\n",
                task.c_str(), node.c_str(), summary.value("scheduler", std::string("?")).c_str(), model.c_str(),
                t.value("released", 0ULL), t.value("met", 0ULL), t.value("overdue", 0ULL), t.value("dropped", 0ULL),
                100.0 * t.value("miss_rate", 0.0));
  std::string out = line;
  out += profile_warnings(summary, model, "");
  std::string shared, shared_model;
  for (const json& o : summary["tasks"]) {
    const std::string name = o.value("task", std::string());
    if (name == task) continue;
    shared += (shared.empty() ? "" : ", ") + name + " (" + o.value("model", std::string("?")) + ")";
    if (o.value("model", std::string()) == model) shared_model += (shared_model.empty() ? "" : ", ") + name;
  }
  out += "  shares " + node + " with: " + (shared.empty() ? std::string("no other task") : shared) + "\n";
  out += "  shares its model " + model + " there with: " + (shared_model.empty() ? std::string("no other task") : shared_model) + "\n";
  if (t.contains("stage_ms") && t["stage_ms"].is_object()) {
    out += "  mean ms per stage over its finished jobs:";
    for (const auto& [stage, ms] : t["stage_ms"].items())
      if (ms.is_number()) {
        std::snprintf(line, sizeof line, " %s %.1f", stage.c_str(), ms.get<double>());
        out += line;
      }
    out += "\n";
  }
  std::vector<std::string> files;
  const std::string run = summary.contains("run_id") && summary["run_id"].is_string() ? summary["run_id"].get<std::string>() : "";
  const fs::path jobs_file =
      summary.contains("jobs_file") && summary["jobs_file"].is_string() ? fs::path(summary["jobs_file"].get<std::string>()) : fs::path();
  if (!run.empty()) out += "Run " + run + " (summary.json's run_id): its job lines only.\n";
  const auto jobs = node_jobs(dir, task, files, run, jobs_file);
  if (jobs.empty())
    return out + "Stage by stage per outcome: no job lines of " + task + (run.empty() ? "" : " in run " + run) + " in " + dir.string() +
           (jobs_file.empty() ? "" : " or " + jobs_file.string()) +
           "; run the node with `coedge node --jobs FILE` (or `metrics: {jobs: FILE}` in its config).\n";
  return out + stage_report(jobs, known(files));
}

bool has_job_lines(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("jobs", 0) == 0 && name.size() >= 10 && name.compare(name.size() - 6, 6, ".jsonl") == 0) return true;
  }
  return false;
}

int run_explain(const std::string& dir_text, const std::string& task) {
  const fs::path dir(dir_text);
  std::error_code ec;
  if (!fs::exists(dir, ec)) return cli::fail("explain", kExitFailure, "no such folder: " + dir_text);
  if (!fs::is_directory(dir, ec)) return cli::fail("explain", kExitBadInput, dir_text + " is not a folder (give a run's output folder)");
  try {
    if (fs::exists(dir / "compare.json")) {
      std::vector<std::string> subs;
      for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory() && fs::exists(e.path() / "summary.json")) subs.push_back(e.path().filename().string());
      std::sort(subs.begin(), subs.end());
      return cli::fail("explain", kExitBadInput, dir_text + " holds a comparison: give one policy's folder, e.g. " +
                                     (dir / (subs.empty() ? std::string("coedge+coedge") : subs.front())).string() +
                                     " (there: " + known(subs) + ")");
    }
    std::string text;
    if (fs::exists(dir / "summary.json")) {
      const json summary = read_json(dir / "summary.json");
      if (summary.contains("node") && summary.contains("tasks") && summary["tasks"].is_array())
        text = explain_node(dir, summary, task);
      else if (summary.contains("tasks") && summary["tasks"].is_array())
        text = explain_cluster(dir, dir / "summary.json", task);
      else
        text = explain_sim(dir, summary, task);
    } else if (fs::exists(dir / "master" / "summary.json")) {
      text = explain_cluster(dir, dir / "master" / "summary.json", task);
    } else if (has_job_lines(dir)) {
      std::vector<std::string> files;
      const auto jobs = node_jobs(dir, task, files);
      if (jobs.empty()) return cli::fail("explain", kExitBadInput, "no job line of task '" + task + "' in " + known(files));
      text = "Task " + task + " (a node's job lines; the dispatcher's view is in the master's summary.json)\n" +
             stage_report(jobs, known(files));
    } else {
      return cli::fail("explain", kExitBadInput, dir_text + " is not a run folder: expected summary.json (`coedge sim -o DIR`), "
                                            "master/summary.json (`coedge cluster --out DIR`) or jobs.jsonl (a node's "
                                            "metrics.jobs file)");
    }
    std::printf("%s", text.c_str());
    return kExitOk;
  } catch (const Failure& f) {
    return cli::fail("explain", f.code, f.message);
  } catch (const fs::filesystem_error& e) {  // a folder that cannot be listed or read: I/O
    return cli::fail("explain", kExitFailure, dir_text + ": " + e.what());
  } catch (const std::exception& e) {  // a malformed file (e.g. a missing CSV column)
    return cli::fail("explain", kExitBadInput, dir_text + ": unreadable run files: " + e.what());
  }
}

}  // namespace

std::function<int()> add_explain_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto task = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "explain", "Why did a task miss? Reads a finished run's folder (simulation, cluster, or a node's jobs).");
  cmd->add_option("run_dir", *dir, "The run's output folder (coedge sim -o DIR; coedge cluster --out DIR)")->required();
  cmd->add_option("task", *task, "The task's name")->required();
  return [dir, task] { return run_explain(*dir, *task); };
}

}  // namespace coedge::app
