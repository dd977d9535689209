// Scenario files: reads every section, checks every value and every cross-reference,
// and either returns a complete Scenario or the first problem in file order. Sections are
// read in dependency order (models and nodes before the tasks that name them); because
// `Problems` keeps the earliest problem by position, the order of reading does not change
// which problem the user sees. A referenced name that exists but whose entry is broken
// still counts as known, so one mistake is never reported twice.
#include "config/scenario_loader.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "config/profile_reader.h"
#include "config/yaml_reader.h"

namespace coedge::config {
namespace {

using namespace internal;

constexpr std::string_view kTopKeys[] = {"name",  "profiles", "run",   "models",
                                         "nodes", "network",  "tasks", "events"};
constexpr std::string_view kRunKeys[] = {"duration",     "window",      "seed",
                                         "release_jitter", "random_phase", "exec_jitter"};
constexpr std::string_view kNodeKeys[] = {"name", "cpu_cores"};
constexpr std::string_view kNetworkKeys[] = {"default_mbps", "default_latency", "links"};
constexpr std::string_view kLinkKeys[] = {"between", "mbps", "latency"};
constexpr std::string_view kTaskKeys[] = {"name",     "source",   "model",   "period",
                                          "deadline", "priority", "epsilon", "replicas", "topic"};
constexpr std::string_view kEventKeys[] = {"at", "link", "mbps"};

// A task may expand into this many copies at most: more is a typo, and would allocate
// without bound before anything else could complain.
constexpr int64_t kMaxReplicas = 1'000'000;

// Slower links than 1 kbit/s are a unit mistake, and they would push transfer times of
// large frames past what the microsecond clock can count.
constexpr double kMinMbps = 0.001;
// A shorter window would flood the dispatcher with reports about a handful of jobs.
constexpr Duration kMinWindow = std::chrono::milliseconds(1);

std::string resolve(const std::string& base_dir, const std::string& relative) {
  return (std::filesystem::path(base_dir) / relative).lexically_normal().string();
}

// Iterates a sequence with its index; yaml-cpp's operator[] on a sequence is not meant
// for 100,000-entry lists.
template <typename Fn>
void for_each_entry(const Field& list, Fn&& fn) {
  size_t i = 0;
  for (auto it = list.value.begin(); it != list.value.end(); ++it, ++i) {
    const YAML::Node node = *it;
    fn(node, mark_or(node, list.mark()), index_path(list.path, i));
  }
}

// One parse of one scenario text; used once, by one thread.
class ScenarioParser {
 public:
  ScenarioParser(const std::string& file_name, const std::string& base_dir)
      : problems_(file_name), base_dir_(base_dir) {
    scenario_.source_file = file_name;
    scenario_.name = std::filesystem::path(file_name).stem().string();
  }

  Result<Scenario> parse(const std::string& text) {
    const YAML::Node root = load_document(text, problems_);
    if (problems_.any()) return problems_.error();
    std::map<std::string_view, const Field*> section;
    const Fields fields = read_fields(root, "", kTopKeys, problems_);
    for (const Field& f : fields) section[f.key] = &f;
    auto get = [&](std::string_view key) {
      auto it = section.find(key);
      return it == section.end() ? nullptr : it->second;
    };
    fields.require("nodes", root.Mark(), "", problems_);
    fields.require("tasks", root.Mark(), "", problems_);

    if (const Field* f = get("name")) {
      if (std::optional<std::string> name = read_name(*f, problems_)) scenario_.name = *name;
    }
    if (const Field* f = get("profiles")) read_profiles(*f);
    if (const Field* f = get("run")) read_run(*f);
    if (const Field* f = get("models")) read_models(*f);
    if (const Field* f = get("nodes")) read_nodes(*f);
    scenario_.network.adjacency.assign(scenario_.nodes.size(), {});
    if (const Field* f = get("network")) read_network(*f);
    if (const Field* f = get("tasks")) read_tasks(*f);
    if (const Field* f = get("events")) read_events(*f);
    if (problems_.any()) return problems_.error();
    add_profile_models();
    return std::move(scenario_);
  }

 private:
  // Loads (once per file) the profile set at `relative`, or records why it cannot be used.
  const ProfileSet* profile_set(const std::string& relative, const YAML::Mark& mark,
                                const std::string& path) {
    const std::string file = resolve(base_dir_, relative);
    auto it = profile_cache_.find(file);
    if (it == profile_cache_.end())
      it = profile_cache_.emplace(file, load_profile_set_file(file)).first;
    if (!it->second) {
      problems_.add(mark, path, "cannot use profile set: " + it->second.error().message);
      return nullptr;
    }
    return &*it->second;
  }

  void read_profiles(const Field& f) {
    std::optional<std::string> file = read_name(f, problems_);
    if (file) profiles_ = profile_set(*file, f.mark(), f.path);
    profiles_failed_ = profiles_ == nullptr;
  }

  void read_run(const Field& section) {
    if (section.value.IsNull()) return;  // `run:` with everything commented out
    if (!expect_map(section.value, section.mark(), section.path, problems_)) return;
    RunSettings& run = scenario_.run;
    for (const Field& f : read_fields(section.value, section.path, kRunKeys, problems_)) {
      if (f.key == "duration" || f.key == "window") {
        auto d = read_positive_duration(f, problems_);
        if (d && f.key == "window" && *d < kMinWindow) {
          problems_.add(f.mark(), f.path, "must be at least 1ms, got " + describe(f.value));
        } else if (d) {
          (f.key == "duration" ? run.duration : run.window) = *d;
        }
      } else if (f.key == "seed") {
        if (auto seed = read_unsigned(f, problems_)) run.seed = *seed;
      } else if (f.key == "release_jitter") {
        if (auto d = read_nonnegative_duration(f, problems_)) run.release_jitter = *d;
      } else if (f.key == "random_phase") {
        if (auto b = read_bool(f, problems_)) run.random_phase = *b;
      } else if (f.key == "exec_jitter") {
        std::optional<double> j = read_number(f, problems_);
        if (j && (*j < 0 || *j >= 1)) {
          problems_.add(f.mark(), f.path,
                        "must be a fraction in [0, 1) (0.05 = +-5%), got " + describe(f.value));
        } else if (j) {
          run.exec_jitter = *j;
        }
      }
    }
  }

  void read_models(const Field& list) {
    if (list.value.IsNull()) return;
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) {
      ModelEntry entry = read_model_entry(node, mark, path, true, problems_);
      if (!entry.name) return;
      auto [it, fresh] = model_line_.emplace(*entry.name, mark.line + 1);
      if (!fresh) {
        problems_.add(mark, child_path(path, "name"),
                      "duplicate model name '" + *entry.name + "' (first at line " +
                          std::to_string(it->second) + ")");
        return;
      }
      // A broken entry still defines its name, so tasks using it are not also blamed.
      ModelProfile model;
      model.name = *entry.name;
      if (entry.is_reference && entry.valid) {
        if (const ProfileSet* set = profile_set(entry.from, entry.from_mark, entry.from_path)) {
          if (const ModelProfile* found = set->find(entry.model_name)) {
            model = *found;
            model.name = *entry.name;
          } else {
            problems_.add(entry.model_mark, entry.model_path,
                          "profile set '" + set->path + "' has no model '" + entry.model_name +
                              "' (it has: " + known_list(set->names()) + ")");
          }
        }
      } else if (entry.model) {
        model = std::move(*entry.model);
        model.profile_source = entry.source.empty() ? "inline" : entry.source;
      }
      model_index_.emplace(model.name, static_cast<ModelIndex>(scenario_.models.size()));
      scenario_.models.push_back(std::move(model));
    });
  }

  void read_nodes(const Field& list) {
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    if (list.value.size() == 0) problems_.add(list.mark(), list.path, "must list at least one node");
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) {
      if (!expect_map(node, mark, path, problems_)) return;
      NodeSpec spec;
      bool named = false;
      const Fields fields = read_fields(node, path, kNodeKeys, problems_);
      for (const Field& f : fields) {
        if (f.key == "name") {
          std::optional<std::string> name = read_name(f, problems_);
          if (!name) continue;
          auto [it, fresh] = node_index_.emplace(*name, scenario_.nodes.size());
          if (!fresh) {
            problems_.add(f.mark(), f.path,
                          "duplicate node name '" + *name + "' (first at line " +
                              std::to_string(node_line_[it->second]) + ")");
            continue;
          }
          spec.name = *name;
          named = true;
        } else if (f.key == "cpu_cores") {
          std::optional<int64_t> cores = read_int(f, problems_);
          if (cores && (*cores < 1 || *cores > 1'000'000)) {
            problems_.add(f.mark(), f.path,
                          "must be at least 1 (and at most 1000000), got " + describe(f.value));
          } else if (cores) {
            spec.cpu_cores = static_cast<int>(*cores);
          }
        }
      }
      fields.require("name", mark, path, problems_);
      if (!named) return;
      scenario_.nodes.push_back(std::move(spec));
      node_line_.push_back(mark.line + 1);
    });
  }

  // A known node's index, or kNone after reporting the name as unknown.
  NodeIndex node_named(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
    std::optional<std::string> name = read_name(node, mark, path, problems_);
    if (!name) return kNone;
    auto it = node_index_.find(*name);
    if (it != node_index_.end()) return it->second;
    std::vector<std::string> names;
    for (const NodeSpec& n : scenario_.nodes) names.push_back(n.name);
    const std::string hint = closest(*name, names);
    problems_.add(mark, path,
                  "unknown node '" + *name + "'" +
                      (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                      " (known: " + known_list(names) + ")");
    return kNone;
  }

  // `[a, b]` naming two different known nodes.
  std::optional<std::pair<NodeIndex, NodeIndex>> node_pair(const Field& f) {
    if (!f.value.IsSequence() || f.value.size() != 2) {
      problems_.add(f.mark(), f.path,
                    "expected a list of two node names, e.g. [n1, n2], got " + describe(f.value));
      return std::nullopt;
    }
    NodeIndex ends[2];
    size_t i = 0;
    for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i)
      ends[i] = node_named(*it, mark_or(*it, f.mark()), index_path(f.path, i));
    if (ends[0] == kNone || ends[1] == kNone) return std::nullopt;
    if (ends[0] == ends[1]) {
      problems_.add(f.mark(), f.path,
                    "a link needs two different nodes, got '" + scenario_.nodes[ends[0]].name +
                        "' twice");
      return std::nullopt;
    }
    return std::make_pair(ends[0], ends[1]);
  }

  void read_network(const Field& section) {
    if (section.value.IsNull()) return;
    if (!expect_map(section.value, section.mark(), section.path, problems_)) return;
    Network& net = scenario_.network;
    const Field* links = nullptr;
    const Fields fields =
        read_fields(section.value, section.path, kNetworkKeys, problems_);
    for (const Field& f : fields) {
      if (f.key == "default_mbps") {
        std::optional<double> mbps = read_number(f, problems_);
        if (mbps && (*mbps < 0 || (*mbps > 0 && *mbps < kMinMbps))) {
          problems_.add(f.mark(), f.path,
                        "must be 0 (pairs without a link cannot talk) or at least 0.001 "
                        "(1 kbit/s), got " + describe(f.value));
        } else if (mbps) {
          net.default_mbps = *mbps;
        }
      } else if (f.key == "default_latency") {
        if (auto d = read_nonnegative_duration(f, problems_)) net.default_latency = *d;
      } else if (f.key == "links") {
        links = &f;
      }
    }
    // Links are read last: an omitted latency means default_latency, wherever it is.
    if (links) read_links(*links);
  }

  void read_links(const Field& list) {
    if (list.value.IsNull()) return;
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    std::map<std::pair<NodeIndex, NodeIndex>, int> first_line;
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) {
      if (!expect_map(node, mark, path, problems_)) return;
      std::optional<std::pair<NodeIndex, NodeIndex>> ends;
      double mbps = 0;  // not std::optional: g++ 12 warns falsely about it here
      bool has_mbps = false;
      Duration latency = scenario_.network.default_latency;
      bool latency_ok = true;
      const Fields fields = read_fields(node, path, kLinkKeys, problems_);
      for (const Field& f : fields) {
        if (f.key == "between") {
          ends = node_pair(f);
          if (!ends) continue;
          const auto key = std::minmax(ends->first, ends->second);
          auto [it, fresh] = first_line.emplace(key, f.mark().line + 1);
          if (!fresh) {
            problems_.add(f.mark(), f.path,
                          "the link between '" + scenario_.nodes[key.first].name + "' and '" +
                              scenario_.nodes[key.second].name +
                              "' is listed twice (first at line " + std::to_string(it->second) +
                              ")");
            ends.reset();
          }
        } else if (f.key == "mbps") {
          std::optional<double> value = read_number(f, problems_);
          if (value && *value <= 0) {
            problems_.add(f.mark(), f.path,
                          "must be positive, got " + describe(f.value) +
                              "; to say that two nodes cannot talk, omit the link (and leave "
                              "network.default_mbps at 0)");
          } else if (value && *value < kMinMbps) {
            problems_.add(f.mark(), f.path,
                          "must be at least 0.001 (1 kbit/s), got " + describe(f.value));
          } else if (value) {
            mbps = *value;
            has_mbps = true;
          }
        } else if (f.key == "latency") {
          std::optional<Duration> d = read_nonnegative_duration(f, problems_);
          latency_ok = d.has_value();
          if (d) latency = *d;
        }
      }
      fields.require("between", mark, path, problems_);
      fields.require("mbps", mark, path, problems_);
      if (ends && has_mbps && latency_ok)
        scenario_.network.set(ends->first, ends->second, mbps, latency);
    });
  }

  // The index of a model a task names, kPending when it comes from the profile set
  // (appended at the end), or kNone after reporting it unknown.
  static constexpr ModelIndex kPending = kNone - 1;
  ModelIndex model_named(const Field& f) {
    std::optional<std::string> name = read_name(f, problems_);
    if (!name) return kNone;
    if (auto it = model_index_.find(*name); it != model_index_.end()) return it->second;
    if (profiles_ && profiles_->find(*name)) {
      used_profile_models_.insert(*name);
      return kPending;
    }
    if (profiles_failed_) return kNone;  // already reported at `profiles:`
    std::vector<std::string> names;
    for (const ModelProfile& m : scenario_.models) names.push_back(m.name);
    if (profiles_)
      for (const ModelProfile& m : profiles_->models) names.push_back(m.name);
    if (names.empty()) {
      problems_.add(f.mark(), f.path,
                    "unknown model '" + *name +
                        "': no models are defined (list them under 'models:' or name a "
                        "profile set with 'profiles:')");
      return kNone;
    }
    const std::string hint = closest(*name, names);
    problems_.add(f.mark(), f.path,
                  "unknown model '" + *name + "'" +
                      (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                      " (known: " + known_list(names) + ")");
    return kNone;
  }

  void read_tasks(const Field& list) {
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    if (list.value.size() == 0) problems_.add(list.mark(), list.path, "must list at least one task");
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) { read_task(node, mark, path); });
  }

  void read_task(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
    if (!expect_map(node, mark, path, problems_)) return;
    TaskSpec task;
    std::optional<std::string> name;
    const Field* name_field = nullptr;
    std::optional<Duration> period, deadline;
    std::string model_name;  // for models still to be taken from the profile set
    int64_t replicas = 1;
    bool valid = true;
    const Fields fields = read_fields(node, path, kTaskKeys, problems_);
    for (const Field& f : fields) {
      if (f.key == "name") {
        name = read_name(f, problems_);
        name_field = &f;
        valid &= name.has_value();
      } else if (f.key == "source") {
        task.source = node_named(f.value, f.mark(), f.path);
        valid &= task.source != kNone;
      } else if (f.key == "model") {
        task.model = model_named(f);
        if (task.model == kPending) model_name = f.value.Scalar();
        valid &= task.model != kNone;
      } else if (f.key == "period" || f.key == "deadline") {
        std::optional<Duration> d = read_positive_duration(f, problems_);
        (f.key == "period" ? period : deadline) = d;
        valid &= d.has_value();
      } else if (f.key == "priority") {
        std::optional<int64_t> p = read_priority(f, problems_);
        if (p) task.priority = static_cast<int>(*p);
        valid &= p.has_value();
      } else if (f.key == "epsilon") {
        std::optional<double> e = read_fraction(f, problems_);
        if (e) task.epsilon = *e;
        valid &= e.has_value();
      } else if (f.key == "topic") {
        std::optional<std::string> topic = read_ros_topic(f, problems_);
        if (topic) task.topic = std::move(*topic);
        valid &= topic.has_value();
      } else if (f.key == "replicas") {
        std::optional<int64_t> r = read_replicas(f, problems_, kMaxReplicas);
        if (r) replicas = *r;
        valid &= r.has_value();
      }
    }
    for (std::string_view key : {"name", "source", "model", "period"})
      fields.require(key, mark, path, problems_);
    if (!valid || !name || !period) return;
    task.period = *period;
    task.deadline = deadline.value_or(*period);
    for (std::string& copy :
         replica_names(*name, replicas, mark.line + 1, *name_field, task_line_, problems_)) {
      task.name = std::move(copy);
      if (task.model == kPending) pending_model_.emplace_back(scenario_.tasks.size(), model_name);
      scenario_.tasks.push_back(task);
    }
  }

  void read_events(const Field& list) {
    if (list.value.IsNull()) return;
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) {
      if (!expect_map(node, mark, path, problems_)) return;
      LinkChange change;
      bool valid = true;
      const Fields fields = read_fields(node, path, kEventKeys, problems_);
      for (const Field& f : fields) {
        if (f.key == "at") {
          std::optional<Duration> at = read_nonnegative_duration(f, problems_);
          if (at) change.at = *at;
          valid &= at.has_value();
        } else if (f.key == "link") {
          auto ends = node_pair(f);
          if (ends) std::tie(change.a, change.b) = *ends;
          valid &= ends.has_value();
        } else if (f.key == "mbps") {
          std::optional<double> mbps = read_number(f, problems_);
          if (mbps && *mbps < kMinMbps) {
            problems_.add(f.mark(), f.path,
                          "must be at least 0.001 (1 kbit/s), got " + describe(f.value));
            mbps.reset();
          }
          if (mbps) change.mbps = *mbps;
          valid &= mbps.has_value();
        }
      }
      for (std::string_view key : {"at", "link", "mbps"})
        fields.require(key, mark, path, problems_);
      if (valid) scenario_.link_changes.push_back(change);
    });
    std::stable_sort(scenario_.link_changes.begin(), scenario_.link_changes.end(),
                     [](const LinkChange& x, const LinkChange& y) { return x.at < y.at; });
  }

  // Appends the profile-set models that tasks use, in the profile file's order, and
  // points those tasks at them.
  void add_profile_models() {
    if (!profiles_) return;
    for (const ModelProfile& m : profiles_->models) {
      if (!used_profile_models_.count(m.name)) continue;
      model_index_.emplace(m.name, static_cast<ModelIndex>(scenario_.models.size()));
      scenario_.models.push_back(m);
    }
    for (const auto& [task, model] : pending_model_)
      scenario_.tasks[task].model = model_index_.at(model);
  }

  Problems problems_;
  std::string base_dir_;
  Scenario scenario_;
  std::unordered_map<std::string, NodeIndex> node_index_;
  std::vector<int> node_line_;  // line of each node's entry, for duplicate messages
  std::unordered_map<std::string, ModelIndex> model_index_;
  std::unordered_map<std::string, int> model_line_;
  std::unordered_map<std::string, int> task_line_;
  std::map<std::string, Result<ProfileSet>> profile_cache_;  // by resolved path
  const ProfileSet* profiles_ = nullptr;
  bool profiles_failed_ = false;
  std::set<std::string> used_profile_models_;
  std::vector<std::pair<size_t, std::string>> pending_model_;  // task, model name
};

}  // namespace

Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& file_name,
                                const std::string& base_dir) {
  if (Status utf8 = check_utf8(yaml_text, file_name); !utf8.ok()) return utf8.error();
  try {
    return ScenarioParser(file_name, base_dir).parse(yaml_text);
  } catch (const std::exception& e) {
    // Every yaml-cpp call above is guarded by a type check; this only keeps the promise
    // that no exception leaves the loader.
    return Error{ErrorCode::kInvalidInput, file_name + ": cannot read scenario: " + e.what()};
  }
}

Result<Scenario> load_scenario(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text) return text.error();
  return parse_scenario(*text, path, std::filesystem::path(path).parent_path().string());
}

Result<std::vector<ModelProfile>> load_profile_set(const std::string& path) {
  try {
    Result<ProfileSet> set = load_profile_set_file(path);
    if (!set) return set.error();
    return std::move(set->models);
  } catch (const std::exception& e) {
    return Error{ErrorCode::kInvalidInput, path + ": cannot read profile set: " + e.what()};
  }
}

Result<std::vector<const ModelProfile*>> match_profiles(const std::vector<ModelProfile>& models,
                                                        const std::vector<ModelProfile>& profiles,
                                                        const std::string& profile_file, const std::string& whose,
                                                        const std::string& hint) {
  std::vector<const ModelProfile*> match(models.size(), nullptr);
  for (size_t i = 0; i < models.size(); ++i) {
    for (const ModelProfile& p : profiles)
      if (p.name == models[i].name) match[i] = &p;
    if (match[i] == nullptr) {
      std::vector<std::string> names;
      for (const ModelProfile& p : profiles) names.push_back(p.name);
      return Error{ErrorCode::kNotFound, profile_file + ": has no profile for model '" + models[i].name + "' " +
                                             whose + " (it has: " + known_list(names) + ")" + hint};
    }
  }
  return match;
}

Status apply_profile_set(Scenario& scenario, const std::vector<ModelProfile>& profiles,
                         const std::string& profile_file) {
  auto match = match_profiles(scenario.models, profiles, profile_file, "used by scenario '" + scenario.name + "'");
  if (!match.ok()) return match.error();
  // Checked everything first: the scenario is changed entirely or not at all.
  for (size_t i = 0; i < scenario.models.size(); ++i) {
    ModelProfile& m = scenario.models[i];
    m.exe_time = (*match)[i]->exe_time;
    m.pre_time = (*match)[i]->pre_time;
    m.post_time = (*match)[i]->post_time;
    m.profile_source = profile_file;
  }
  return Ok{};
}

Result<Duration> parse_duration(const std::string& text) {
  Result<Duration> d = parse_signed_duration(text);
  if (!d) return Error{ErrorCode::kInvalidInput, "'" + text + "': " + d.error().message};
  if (d->count() < 0)
    return Error{ErrorCode::kInvalidInput, "'" + text + "': durations cannot be negative"};
  return d;
}

}  // namespace coedge::config
