// Node config files: reads every field, checks every value, every cross-reference and
// every input path, and either returns a complete NodeConfig or the first problem in file
// order. Top-level settings are read first (tasks depend on `isolation`, models on
// `profiles`), then models and sensors, then the tasks that name them, then the checks that
// need all of them (sensor periods against their tasks'). Models and tasks are read into
// the scenario's own types (ModelProfile, TaskSpec): a model takes its profile from the
// profile set here, once, so nothing later matches names across two schemas. Because `Problems` keeps the earliest problem by
// position, the order of reading does not change which problem the user sees. A
// referenced name whose entry is broken still counts as known, so one mistake is never
// reported twice.
#include "config/node_config_loader.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/listen_address.h"
#include "config/model_backend.h"
#include "config/profile_reader.h"
#include "config/scenario_loader.h"
#include "config/yaml_reader.h"

namespace coedge::config {
namespace {

using namespace internal;
namespace fs = std::filesystem;

constexpr std::string_view kTopKeys[] = {
    "node",   "scheduler", "isolation", "run_dir",      "backend", "profiles", "window",
    "duration", "hang_timeout", "metrics", "models", "sensors", "tasks", "profile_margin",
    "publish_results", "sandbox", "worker_limits", "violations"};
constexpr std::string_view kSandboxKeys[] = {"seccomp", "private_paths"};
constexpr std::string_view kLimitsKeys[] = {"cpus", "memory", "pids"};
constexpr std::string_view kViolationsKeys[] = {"limit", "window"};
constexpr std::string_view kBackendKeys[] = {"name", "threads"};
constexpr std::string_view kMetricsKeys[] = {"port", "address", "linger", "jobs"};
constexpr std::string_view kModelKeys[] = {"name", "file", "labels", "backend"};
constexpr std::string_view kSensorKeys[] = {"name",   "kind", "path",  "width",
                                            "height", "loop", "period", "phase",
                                            "url",    "open_timeout", "stall_timeout",
                                            "reconnect_min", "reconnect_max",
                                            "topic",  "compressed", "reliability"};
// The URL schemes a stream sensor accepts: the network protocols of Debian's FFmpeg that
// carry a live camera stream. A local file is a video sensor.
constexpr std::string_view kStreamSchemes[] = {"http", "https", "tcp", "udp", "rtp", "rtsp", "rtsps", "rtmp", "srt"};
constexpr std::string_view kTaskKeys[] = {"name",    "model",  "sensor", "period",
                                          "deadline", "priority", "epsilon", "worker",
                                          "rootfs",  "env",    "replicas", "confidence", "nms_iou",
                                          "masks", "limits"};

constexpr std::array<std::pair<std::string_view, Isolation>, 3> kIsolations = {{
    {"sandbox", Isolation::kSandbox},
    {"process", Isolation::kProcess},
    {"none", Isolation::kNone},
}};
constexpr std::array<std::pair<std::string_view, SensorKind>, 5> kSensorKinds = {{
    {"folder", SensorKind::kFolder},
    {"video", SensorKind::kVideo},
    {"synthetic", SensorKind::kSynthetic},
    {"stream", SensorKind::kStream},
    {"topic", SensorKind::kTopic},
}};
constexpr std::array<std::pair<std::string_view, TopicReliability>, 2> kReliabilities = {{
    {"best_effort", TopicReliability::kBestEffort},
    {"reliable", TopicReliability::kReliable},
}};

// Every replica is a set of worker processes on one machine: more is a typo.
constexpr int64_t kMaxReplicas = 1000;
constexpr int64_t kMaxBackendThreads = 1024;
constexpr int kMinFrameSide = 16;
constexpr int kMaxFrameSide = 8192;
// A shorter window would flood the dispatcher with reports about a handful of jobs.
constexpr Duration kMinWindow = std::chrono::milliseconds(1);

// Names become file names (run_dir, sockets) and metric labels.
// Names become shared-memory names ("event/<task>/post", at most 63 bytes) with a
// replica suffix (".1000"): 40 characters leave room for both.
constexpr size_t kMaxNameLength = 40;

bool is_safe_name(std::string_view name) {
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (name.empty() || name.size() > kMaxNameLength || !word(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool is_env_name(std::string_view name) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || !letter(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

fs::path absolute_path(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal();
}

std::string isolation_choices() {
  std::string out;
  for (const auto& [name, value] : kIsolations) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// `none`: a limit switched off (as 0 is).
bool is_none(const YAML::Node& v) { return v.IsDefined() && v.IsScalar() && v.Scalar() == "none"; }

// A memory size "512MiB", "1.5 GiB", "65536KiB" in bytes (units are powers of 1024; a
// unit is required, so that 512 is not read as bytes by surprise); nullopt when `text` is
// not one or exceeds 2^60 bytes.
std::optional<uint64_t> parse_memory_size(std::string_view text) {
  constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40}};
  for (const auto& [unit, factor] : kUnits) {
    if (!text.ends_with(unit)) continue;
    std::string_view number = text.substr(0, text.size() - unit.size());
    if (!number.empty() && number.back() == ' ') number.remove_suffix(1);
    // Digits with an optional fraction: no sign, exponent, hex or inf.
    if (number.empty() || number.front() == '.' || number.back() == '.' ||
        !std::all_of(number.begin(), number.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) ||
        std::count(number.begin(), number.end(), '.') > 1 || number.size() > 24) {
      return std::nullopt;
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
    const double bytes = value * static_cast<double>(factor);
    if (!(bytes >= 0) || bytes > static_cast<double>(1ull << 60)) return std::nullopt;
    return static_cast<uint64_t>(bytes + 0.5);
  }
  return std::nullopt;
}

// Iterates a sequence with its index.
template <typename Fn>
void for_each_entry(const Field& list, Fn&& fn) {
  size_t i = 0;
  for (auto it = list.value.begin(); it != list.value.end(); ++it, ++i) {
    const YAML::Node node = *it;
    fn(node, mark_or(node, list.mark()), index_path(list.path, i));
  }
}

// One parse of one node config text; used once, by one thread.
class NodeConfigParser {
 public:
  NodeConfigParser(const std::string& file_name, const std::string& base_dir)
      : problems_(file_name), base_dir_(absolute_path(base_dir.empty() ? "." : base_dir)) {
    config_.source_file = file_name;
    const std::string stem = fs::path(file_name).stem().string();
    if (is_safe_name(stem)) config_.name = stem;
  }

  Result<NodeConfig> parse(const std::string& text) {
    const YAML::Node root = load_document(text, problems_);
    if (problems_.any()) return problems_.error();
    std::map<std::string_view, const Field*> section;
    const Fields fields = read_fields(root, "", kTopKeys, problems_);
    for (const Field& f : fields) section[f.key] = &f;
    auto get = [&](std::string_view key) {
      auto it = section.find(key);
      return it == section.end() ? nullptr : it->second;
    };
    for (std::string_view key : {"models", "sensors", "tasks"})
      fields.require(key, root.Mark(), "", problems_);

    if (const Field* f = get("node")) {
      if (std::optional<std::string> name = read_safe_name(*f)) config_.name = *name;
    }
    if (const Field* f = get("scheduler")) {
      if (std::optional<std::string> text = read_name(*f, problems_)) {
        std::string notice;
        auto spec = policy::SchedulerSpec::parse(*text, &notice);
        if (!spec.ok())
          problems_.add(f->mark(), f->path, spec.error().message);
        else
          config_.scheduler = std::move(spec.value());
        if (!notice.empty()) config_.notices.push_back(config_.source_file + ":" + std::to_string(f->mark().line + 1) + ": " + notice);
      }
    }
    if (const Field* f = get("isolation")) read_isolation(*f);
    if (const Field* f = get("run_dir")) {
      if (std::optional<std::string> dir = read_name(*f, problems_))
        config_.run_dir = absolute_path(*dir).string();
    }
    if (const Field* f = get("backend")) read_backend(*f);
    if (const Field* f = get("profiles")) read_profiles(*f);
    if (const Field* f = get("window")) {
      std::optional<Duration> d = read_positive_duration(*f, problems_);
      if (d && *d < kMinWindow) {
        problems_.add(f->mark(), f->path, "must be at least 1ms, got " + describe(f->value));
      } else if (d) {
        config_.window = *d;
      }
    }
    if (const Field* f = get("profile_margin")) {
      // A fraction above the profile, e.g. 0.25: warn past 1.25 x ExeTime. 100 = 101 x.
      std::optional<double> m = read_number(*f, problems_);
      if (m && (*m < 0 || *m > 100)) {
        problems_.add(f->mark(), f->path,
                      "must be a number from 0 to 100 (0.25 warns when batches take over 1.25 x "
                      "their profiled time), got " + describe(f->value));
      } else if (m) {
        config_.profile_margin = *m;
      }
    }
    if (const Field* f = get("duration")) {
      if (auto d = read_nonnegative_duration(*f, problems_)) config_.duration = *d;
    }
    if (const Field* f = get("hang_timeout")) {
      if (auto d = read_positive_duration(*f, problems_)) config_.hang_timeout = *d;
    }
    if (const Field* f = get("metrics")) read_metrics(*f);
    if (const Field* f = get("sandbox")) read_sandbox(*f);
    if (const Field* f = get("worker_limits")) {
      if (needs_isolation(*f, false, "worker_limits")) read_limits(*f, config_.worker_limits);
    }
    if (const Field* f = get("violations")) read_violations(*f);
    if (const Field* f = get("publish_results")) {
      if (std::optional<bool> b = read_bool(*f, problems_)) config_.publish_results = *b;
    }
    if (const Field* f = get("models")) read_models(*f);
    if (const Field* f = get("sensors")) read_sensors(*f);
    if (const Field* f = get("tasks")) read_tasks(*f);
    check_sensor_periods();
    if (problems_.any()) return problems_.error();
    if (config_.run_dir.empty()) config_.run_dir = default_run_dir(config_.name);
    return std::move(config_);
  }

 private:
  // A sensor as read, with what the later checks need to point at.
  struct SensorInfo {
    size_t index = 0;        // into config_.sensors
    YAML::Mark period_mark;  // of its `period:` (when given)
    std::string period_path;
  };

  std::optional<std::string> read_safe_name(const Field& f) {
    std::optional<std::string> name = read_name(f, problems_);
    if (name && !is_safe_name(*name)) {
      problems_.add(f.mark(), f.path,
                    "'" + *name +
                        "' is not a usable name: use at most 40 letters, digits, '_', '.' and "
                        "'-', starting with a letter, digit or '_' (names become file names, "
                        "metric labels and shared-memory names)");
      return std::nullopt;
    }
    return name;
  }

  // `relative` resolved against the file's folder.
  std::string input_path(const std::string& relative) const {
    return (base_dir_ / relative).lexically_normal().string();
  }

  void read_isolation(const Field& f) {
    std::optional<std::string> text = read_name(f, problems_);
    if (!text) return;
    Result<Isolation> iso = parse_isolation(*text);
    if (!iso) {
      problems_.add(f.mark(), f.path, iso.error().message);
      return;
    }
    config_.isolation = *iso;
    isolation_known_ = true;
  }

  void read_backend(const Field& section) {
    if (section.value.IsDefined() && section.value.IsScalar()) {  // `backend: opencv`
      if (std::optional<std::string> name = read_backend_name(section)) config_.backend = *name;
      return;
    }
    if (section.value.IsNull()) return;
    if (!section.value.IsMap()) {
      problems_.add(section.mark(), section.path,
                    "expected a backend name or a map {name: ..., threads: ...}, got " +
                        describe(section.value));
      return;
    }
    for (const Field& f : read_fields(section.value, section.path, kBackendKeys, problems_)) {
      if (f.key == "name") {
        if (std::optional<std::string> name = read_backend_name(f)) config_.backend = *name;
      } else if (f.key == "threads") {
        std::optional<int64_t> n = read_int(f, problems_);
        if (n && (*n < 0 || *n > kMaxBackendThreads)) {
          problems_.add(f.mark(), f.path,
                        "must be between 0 (the backend's default) and " +
                            std::to_string(kMaxBackendThreads) + ", got " + describe(f.value));
        } else if (n) {
          config_.backend_threads = static_cast<int>(*n);
        }
      }
    }
  }

  std::optional<std::string> read_backend_name(const Field& f) {
    std::optional<std::string> name = read_name(f, problems_);
    if (name && !is_backend_request(*name)) {
      problems_.add(f.mark(), f.path, "unknown backend '" + *name + "' (choices: opencv, torch, auto)");
      return std::nullopt;
    }
    return name;
  }

  void read_profiles(const Field& f) {
    std::optional<std::string> relative = read_name(f, problems_);
    if (!relative) return;
    const std::string file = input_path(*relative);
    Result<ProfileSet> set = load_profile_set_file(file);
    if (!set) {
      problems_.add(f.mark(), f.path, "cannot use profile set: " + set.error().message);
      return;
    }
    config_.profiles = file;
    profile_set_ = std::move(*set);
  }

  // Gives `model` its profile from the file's profile set (when it has one that loaded).
  bool apply_profile(const Field& name_field, ModelProfile& model) {
    if (!profile_set_) return true;
    const ModelProfile* p = profile_set_->find(model.name);
    if (p == nullptr) {
      problems_.add(name_field.mark(), name_field.path,
                    "model '" + model.name + "' has no profile in the profile set " +
                        config_.profiles + " (it has: " + known_list(profile_set_->names()) +
                        "); profile it with `coedge profile` or leave `profiles:` out to "
                        "measure at start");
      return false;
    }
    copy_profile(*p, model);
    return true;
  }

  void read_metrics(const Field& section) {
    if (section.value.IsNull()) return;
    if (!expect_map(section.value, section.mark(), section.path, problems_)) return;
    for (const Field& f : read_fields(section.value, section.path, kMetricsKeys, problems_)) {
      if (f.key == "port") {
        std::optional<int64_t> port = read_int(f, problems_);
        if (port && (*port < 0 || *port > 65535)) {
          problems_.add(f.mark(), f.path,
                        "must be a TCP port from 0 (off) to 65535, got " + describe(f.value));
        } else if (port) {
          config_.metrics_port = static_cast<int>(*port);
        }
      } else if (f.key == "address") {
        if (std::optional<std::string> address = read_text(f, problems_)) {
          if (Status st = check_listen_address(*address); !st.ok()) {
            problems_.add(f.mark(), f.path, st.error().message);
          } else {
            config_.metrics_address = *address;
          }
        }
      } else if (f.key == "linger") {
        if (auto d = read_nonnegative_duration(f, problems_)) config_.metrics_linger = *d;
      } else if (f.key == "jobs") {
        if (std::optional<std::string> file = read_name(f, problems_))
          config_.jobs_jsonl = absolute_path(*file).string();
      }
    }
  }

  // `sandbox: {seccomp: BOOL, private_paths: [ABS_PATH, ...]}`.
  void read_sandbox(const Field& section) {
    if (section.value.IsNull()) return;
    if (!expect_map(section.value, section.mark(), section.path, problems_)) return;
    if (!needs_isolation(section, true, "sandbox")) return;
    for (const Field& f : read_fields(section.value, section.path, kSandboxKeys, problems_)) {
      if (f.key == "seccomp") {
        if (std::optional<bool> b = read_bool(f, problems_)) config_.sandbox.seccomp = *b;
      } else if (f.key == "private_paths") {
        read_private_paths(f);
      }
    }
  }

  void read_private_paths(const Field& list) {
    if (list.value.IsNull()) return;
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    if (list.value.size() > kMaxPrivatePaths) {
      problems_.add(list.mark(), list.path,
                    "at most " + std::to_string(kMaxPrivatePaths) + " paths, got " +
                        std::to_string(list.value.size()));
      return;
    }
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
      std::optional<std::string> text = read_name(node, mark, path, problems_);
      if (!text) return;
      // Absolute: relative to what? The workers' view of the file system is the host's.
      if (text->front() != '/') {
        problems_.add(mark, path,
                      "'" + *text + "' is not an absolute path (a private path is hidden from workers "
                      "wherever the node runs from: give it from /)");
        return;
      }
      const std::string normal = fs::path(*text).lexically_normal().string();
      const std::string clean = normal.size() > 1 && normal.back() == '/' ? normal.substr(0, normal.size() - 1) : normal;
      if (clean == "/") {
        problems_.add(mark, path,
                      "'" + *text + "' is the root folder: hiding it would hide the workers' own "
                      "programs (give the folders to hide)");
        return;
      }
      std::error_code ec;
      if (!fs::exists(fs::symlink_status(clean, ec))) {
        // Allowed: a keystore may be mounted after the node starts. Said, because a typo
        // would otherwise hide nothing without a word.
        config_.notices.push_back(config_.source_file + ":" + std::to_string(mark.line + 1) + ": " + path +
                                  ": " + clean +
                                  " does not exist (yet); it is hidden from the workers of tasks started after it exists (a task's workers keep the view they started with, across restarts)");
      }
      config_.sandbox.private_paths.push_back(clean);
    });
  }

  // `{cpus: N, memory: SIZE, pids: N}` (any subset) into `out`, field by field; `none` or
  // 0 switches a field off. Returns false when a field was wrong.
  bool read_limits(const Field& section, WorkerLimits& out) {
    if (section.value.IsNull()) return true;
    if (!expect_map(section.value, section.mark(), section.path, problems_)) return false;
    bool valid = true;
    for (const Field& f : read_fields(section.value, section.path, kLimitsKeys, problems_)) {
      const bool off = is_none(f.value);
      if (f.key == "cpus") {
        std::optional<double> v = off ? 0.0 : read_number(f, problems_);
        if (v && *v != 0 && !(*v >= kMinWorkerCpus && *v <= kMaxWorkerCpus)) {
          problems_.add(f.mark(), f.path,
                        "must be from 0.01 to 1024 CPUs (a share of CPU time; the kernel refuses less "
                        "than 0.01), or none for no limit, got " + describe(f.value));
          v.reset();
        }
        if (v) out.cpus = *v;
        valid &= v.has_value();
      } else if (f.key == "memory") {
        std::optional<uint64_t> bytes;
        if (off || (f.value.IsScalar() && f.value.Scalar() == "0")) {
          bytes = 0;
        } else if (f.value.IsScalar()) {
          bytes = parse_memory_size(f.value.Scalar());
          if (!bytes) {
            problems_.add(f.mark(), f.path,
                          "expected a size with a unit, such as 512MiB or 1.5GiB (KiB, MiB, GiB, TiB), or "
                          "none for no limit, got " + describe(f.value));
          } else if (*bytes < kMinWorkerMemory) {
            problems_.add(f.mark(), f.path,
                          "must be at least 16MiB (a worker cannot start in less), or none for no "
                          "limit, got " + describe(f.value));
            bytes.reset();
          }
        } else {
          problems_.add(f.mark(), f.path, "expected a size such as 512MiB, or none, got " + describe(f.value));
        }
        if (bytes) out.memory_bytes = *bytes;
        valid &= bytes.has_value();
      } else if (f.key == "pids") {
        std::optional<int64_t> n = off ? 0 : read_int(f, problems_);
        if (n && *n != 0 && (*n < kMinWorkerPids || *n > kMaxWorkerPids)) {
          problems_.add(f.mark(), f.path,
                        "must be from 8 to 4194304 processes and threads (a worker and its sandbox "
                        "need a few), or none for no limit, got " + describe(f.value));
          n.reset();
        }
        if (n) out.pids = static_cast<uint32_t>(*n);
        valid &= n.has_value();
      }
    }
    return valid;
  }

  // `violations: {limit: N, window: DURATION}`.
  void read_violations(const Field& section) {
    if (section.value.IsNull()) return;
    if (!expect_map(section.value, section.mark(), section.path, problems_)) return;
    for (const Field& f : read_fields(section.value, section.path, kViolationsKeys, problems_)) {
      if (f.key == "limit") {
        std::optional<int64_t> n = is_none(f.value) ? 0 : read_int(f, problems_);
        if (n && (*n < 0 || *n > kMaxViolationLimit)) {
          problems_.add(f.mark(), f.path,
                        "must be from 1 to " + std::to_string(kMaxViolationLimit) +
                            " kills of a task's workers, or none (0) to never quarantine, got " +
                            describe(f.value));
        } else if (n) {
          config_.violations.limit = static_cast<uint32_t>(*n);
        }
      } else if (f.key == "window") {
        if (auto d = read_positive_duration(f, problems_)) config_.violations.window = *d;
      }
    }
  }

  // "unknown model 'x'; did you mean 'y'? (known: ...)"
  void report_unknown(const Field& f, std::string_view what, const std::string& name,
                      const std::unordered_map<std::string, int>& known) {
    std::vector<std::string> names;
    for (const auto& [n, line] : known) names.push_back(n);
    const std::string hint = closest(name, names);
    problems_.add(f.mark(), f.path,
                  "unknown " + std::string(what) + " '" + name + "'" +
                      (hint.empty() ? "" : "; did you mean '" + hint + "'?") + " (known: " +
                      known_list(names) + ")");
  }

  // Records `name` as defined at `mark`, or reports it as a duplicate.
  bool define(std::unordered_map<std::string, int>& lines, std::string_view what,
              const std::string& name, const Field& f) {
    auto [it, fresh] = lines.emplace(name, f.mark().line + 1);
    if (fresh) return true;
    problems_.add(f.mark(), f.path,
                  "duplicate " + std::string(what) + " name '" + name + "' (first at line " +
                      std::to_string(it->second) + ")");
    return false;
  }

  void read_models(const Field& list) {
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    if (list.value.size() == 0) problems_.add(list.mark(), list.path, "must list at least one model");
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) {
      if (!expect_map(node, mark, path, problems_)) return;
      ModelProfile model;
      std::string file, labels_file, backend;
      std::vector<std::string> labels;
      bool valid = true;
      const Fields fields = read_fields(node, path, kModelKeys, problems_);
      for (const Field& f : fields) {
        if (f.key == "name") {
          std::optional<std::string> name = read_safe_name(f);
          valid &= name && define(model_line_, "model", *name, f);
          if (name) model.name = *name;
          valid &= name && apply_profile(f, model);
        } else if (f.key == "file") {
          std::optional<std::string> text = read_name(f, problems_);
          valid &= text && check_model_file(f, *text, file);
        } else if (f.key == "backend") {
          std::optional<std::string> name = read_backend_name(f);
          valid &= name.has_value();
          backend = name.value_or("");
        } else if (f.key == "labels") {
          std::optional<std::string> text = read_name(f, problems_);
          valid &= text.has_value();
          if (!text) continue;
          labels_file = input_path(*text);
          auto read = load_labels_file(labels_file);
          if (!read.ok()) {
            problems_.add(f.mark(), f.path, read.error().message);
            valid = false;
            continue;
          }
          labels = std::move(*read);
        }
      }
      fields.require("name", mark, path, problems_);
      fields.require("file", mark, path, problems_);
      if (valid && !model.name.empty() && !file.empty()) {
        model_index_.emplace(model.name, static_cast<ModelIndex>(config_.models.size()));
        config_.models.push_back(std::move(model));
        config_.model_sources.push_back(file);
        config_.model_files.push_back(std::move(file));
        config_.model_where.push_back(config_.source_file + ":" + std::to_string(mark.line + 1));
        config_.model_backend_requests.push_back(std::move(backend));
        config_.model_labels.push_back(std::move(labels));
        config_.model_labels_files.push_back(std::move(labels_file));
      }
    });
  }

  bool check_model_file(const Field& f, const std::string& relative, std::string& out) {
    const std::string file = input_path(relative);
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    if (!fs::exists(st)) {
      std::string reason = "model file '" + file + "' does not exist";
      if (fs::path(file).parent_path().filename() == "models")
        reason += " (the generated ONNX models are made by the build, in build/models, and installed in "
                  "share/coedge/models: run `make build`, or `make install`)";
      problems_.add(f.mark(), f.path, reason);
      return false;
    }
    if (!fs::is_regular_file(st)) {
      problems_.add(f.mark(), f.path, "model file '" + file + "' is not a file");
      return false;
    }
    out = file;
    return true;
  }

  void read_sensors(const Field& list) {
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    if (list.value.size() == 0)
      problems_.add(list.mark(), list.path, "must list at least one sensor");
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) { read_sensor(node, mark, path); });
  }

  void read_sensor(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
    if (!expect_map(node, mark, path, problems_)) return;
    SensorConfig sensor;
    SensorInfo info;
    bool valid = true;
    const Field* reconnect_field = nullptr;  // reconnect_min or _max given: the pair checked at the end
    const Fields fields = read_fields(node, path, kSensorKeys, problems_);
    // The kind first: it decides which other fields apply.
    std::optional<SensorKind> kind;
    for (const Field& f : fields) {
      if (f.key != "kind") continue;
      std::optional<std::string> text = read_name(f, problems_);
      if (!text) continue;
      for (const auto& [name, value] : kSensorKinds)
        if (name == *text) kind = value;
      if (!kind) {
        std::vector<std::string> names;
        for (const auto& [name, value] : kSensorKinds) names.emplace_back(name);
        const std::string hint = closest(*text, names);
        problems_.add(f.mark(), f.path,
                      "unknown sensor kind '" + *text + "'" +
                          (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                          " (choices: folder, video, synthetic, stream, topic)");
      }
    }
    valid &= kind.has_value();
    const bool replayed = kind && (*kind == SensorKind::kFolder || *kind == SensorKind::kVideo);
    const bool stream = kind && *kind == SensorKind::kStream;
    const bool topic = kind && *kind == SensorKind::kTopic;
    std::optional<bool> compressed;  // given explicitly
    auto only_for = [&](const Field& f, bool applies, std::string_view kinds) {
      if (applies || !kind) return applies;
      problems_.add(f.mark(), f.path,
                    "only " + std::string(kinds) + " sensors have this field (this one is kind: " +
                        std::string(to_string(*kind)) + ")");
      return false;
    };
    for (const Field& f : fields) {
      if (f.key == "name") {
        std::optional<std::string> name = read_safe_name(f);
        valid &= name && define(sensor_line_, "sensor", *name, f);
        if (name) sensor.name = *name;
      } else if (f.key == "path") {
        if (!only_for(f, replayed, "folder and video")) {
          valid = false;
          continue;
        }
        std::optional<std::string> relative = read_name(f, problems_);
        valid &= relative && check_sensor_path(f, *relative, *kind, sensor.path);
      } else if (f.key == "width" || f.key == "height") {
        if (!only_for(f, kind && (*kind == SensorKind::kSynthetic || topic), "synthetic and topic")) {
          valid = false;
          continue;
        }
        std::optional<int64_t> side = read_int(f, problems_);
        if (side && (*side < kMinFrameSide || *side > kMaxFrameSide)) {
          problems_.add(f.mark(), f.path,
                        "must be between " + std::to_string(kMinFrameSide) + " and " +
                            std::to_string(kMaxFrameSide) + " pixels, got " + describe(f.value));
          side.reset();
        }
        if (side) (f.key == "width" ? sensor.width : sensor.height) = static_cast<int>(*side);
        valid &= side.has_value();
      } else if (f.key == "loop") {
        if (!only_for(f, replayed, "folder and video")) {
          valid = false;
          continue;
        }
        std::optional<bool> loop = read_bool(f, problems_);
        if (loop) sensor.loop = *loop;
        valid &= loop.has_value();
      } else if (f.key == "period") {
        if (!only_for(f, !topic, "folder, video, synthetic and stream")) {  // a driver's own rate
          valid = false;
          continue;
        }
        std::optional<Duration> d = read_nonnegative_duration(f, problems_);
        if (d) sensor.period = *d;
        info.period_mark = f.mark();
        info.period_path = f.path;
        valid &= d.has_value();
      } else if (f.key == "phase") {
        if (!only_for(f, !topic, "folder, video, synthetic and stream")) {
          valid = false;
          continue;
        }
        std::optional<Duration> d = read_nonnegative_duration(f, problems_);
        if (d) sensor.phase = *d;
        valid &= d.has_value();
      } else if (f.key == "url") {
        if (!only_for(f, stream, "stream")) {
          valid = false;
          continue;
        }
        std::optional<std::string> url = read_name(f, problems_);
        valid &= url && check_stream_url(f, *url);
        if (url) sensor.stream.url = *url;
      } else if (f.key == "topic") {
        if (!only_for(f, topic, "topic")) {
          valid = false;
          continue;
        }
        std::optional<std::string> name = read_ros_topic(f, problems_);
        for (const SensorConfig& other : config_.sensors) {
          if (name && other.kind == SensorKind::kTopic && other.path == *name) {
            // One subscription per topic: tasks share a sensor, not a topic.
            problems_.add(f.mark(), f.path, "topic " + *name + " is already sensor '" + other.name +
                                                "''s: give its tasks that sensor (several tasks may share one)");
            name.reset();
          }
        }
        if (name) sensor.path = *name;
        valid &= name.has_value();
      } else if (f.key == "compressed") {
        if (!only_for(f, topic, "topic")) {
          valid = false;
          continue;
        }
        compressed = read_bool(f, problems_);
        valid &= compressed.has_value();
      } else if (f.key == "reliability") {
        if (!only_for(f, topic, "topic")) {
          valid = false;
          continue;
        }
        std::optional<std::string> text = read_name(f, problems_);
        bool known = false;
        for (const auto& [name, value] : kReliabilities) {
          if (text && *text == name) {
            sensor.reliability = value;
            known = true;
          }
        }
        if (text && !known)
          problems_.add(f.mark(), f.path,
                        "unknown reliability '" + *text +
                            "' (choices: best_effort, which matches every publisher; reliable, which "
                            "matches only reliable publishers)");
        valid &= known;
      } else if (f.key == "open_timeout" || f.key == "stall_timeout" || f.key == "reconnect_min" ||
                 f.key == "reconnect_max") {
        if (!only_for(f, stream, "stream")) {
          valid = false;
          continue;
        }
        std::optional<Duration> d = read_positive_duration(f, problems_);
        if (d) {
          StreamSettings& st = sensor.stream;
          (f.key == "open_timeout"    ? st.open_timeout
           : f.key == "stall_timeout" ? st.stall_timeout
           : f.key == "reconnect_min" ? st.reconnect_min
                                      : st.reconnect_max) = *d;
          if (f.key == "reconnect_max" || f.key == "reconnect_min") reconnect_field = &f;
        }
        valid &= d.has_value();
      }
    }
    // Checked whichever of the pair was given, against the other's default too: a
    // reconnect_min above the default reconnect_max would otherwise be capped silently.
    if (reconnect_field != nullptr && sensor.stream.reconnect_max < sensor.stream.reconnect_min) {
      problems_.add(reconnect_field->mark(), reconnect_field->path,
                    "reconnect_max " + format_duration(sensor.stream.reconnect_max) + " is shorter than reconnect_min " +
                        format_duration(sensor.stream.reconnect_min) +
                        " (the retry delay doubles from reconnect_min up to reconnect_max; give both)");
      valid = false;
    }
    fields.require("name", mark, path, problems_);
    fields.require("kind", mark, path, problems_);
    if (replayed && !fields.has("path") && problems_.count() == fields.problems_before) {
      problems_.add(mark, child_path(path, "path"),
                    *kind == SensorKind::kFolder
                        ? "missing required field: a folder sensor replays the images of a folder"
                        : "missing required field: a video sensor replays a video file");
      valid = false;
    }
    if (stream && !fields.has("url") && problems_.count() == fields.problems_before) {
      problems_.add(mark, child_path(path, "url"),
                    "missing required field: a stream sensor reads a network URL, e.g. "
                    "http://camera.local:8080/stream.ts or rtsp://camera.local/live");
      valid = false;
    }
    if (topic && !fields.has("topic") && problems_.count() == fields.problems_before) {
      problems_.add(mark, child_path(path, "topic"),
                    "missing required field: a topic sensor subscribes to a ROS 2 image topic, e.g. "
                    "/camera/image_raw (sensor_msgs/Image) or /camera/image_raw/compressed");
      valid = false;
    }
    if (topic) sensor.compressed = compressed.value_or(config::is_compressed_topic(sensor.path));
    if (!valid || sensor.name.empty()) return;
    sensor.kind = *kind;
    info.index = config_.sensors.size();
    sensor_info_.emplace(sensor.name, std::move(info));
    config_.sensors.push_back(std::move(sensor));
  }

  // SCHEME://REST with a scheme of kStreamSchemes.
  bool check_stream_url(const Field& f, const std::string& url) {
    std::string choices;
    for (std::string_view scheme : kStreamSchemes) choices += (choices.empty() ? "" : ", ") + std::string(scheme);
    const size_t colon = url.find("://");
    const std::string scheme = colon == std::string::npos ? "" : url.substr(0, colon);
    bool known = false;
    for (std::string_view s : kStreamSchemes) known |= s == scheme;
    if (known && url.size() > colon + 3) return true;
    problems_.add(f.mark(), f.path,
                  "'" + url + "' is not a stream URL: expected SCHEME://HOST[:PORT][/PATH] with a scheme of " +
                      choices + " (a local file is a sensor of kind: video)");
    return false;
  }

  bool check_sensor_path(const Field& f, const std::string& relative, SensorKind kind,
                         std::string& out) {
    const std::string file = input_path(relative);
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    const bool folder = kind == SensorKind::kFolder;
    if (!fs::exists(st)) {
      problems_.add(f.mark(), f.path,
                    std::string(folder ? "folder '" : "video file '") + file + "' does not exist");
      return false;
    }
    if (folder && !fs::is_directory(st)) {
      problems_.add(f.mark(), f.path, "'" + file + "' is not a folder (kind: folder needs a folder of images)");
      return false;
    }
    if (!folder && !fs::is_regular_file(st)) {
      problems_.add(f.mark(), f.path, "'" + file + "' is not a file (kind: video needs a video file)");
      return false;
    }
    out = file;
    return true;
  }

  void read_tasks(const Field& list) {
    if (!expect_list(list.value, list.mark(), list.path, problems_)) return;
    if (list.value.size() == 0) problems_.add(list.mark(), list.path, "must list at least one task");
    for_each_entry(list, [&](const YAML::Node& node, const YAML::Mark& mark,
                             const std::string& path) { read_task(node, mark, path); });
  }

  // Where isolation would make `f` meaningless, says so and returns false.
  bool needs_isolation(const Field& f, bool sandbox_only, std::string_view what) {
    if (!isolation_known_) return true;  // the default, or already reported at `isolation:`
    const Isolation iso = config_.isolation;
    if (iso == Isolation::kSandbox || (!sandbox_only && iso == Isolation::kProcess)) return true;
    problems_.add(f.mark(), f.path,
                  std::string(what) + " needs isolation: " +
                      (sandbox_only ? "sandbox" : "process or sandbox") + " (isolation is " +
                      std::string(to_string(iso)) + ")");
    return false;
  }

  void read_task(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
    if (!expect_map(node, mark, path, problems_)) return;
    TaskSpec task;
    TaskRuntime runtime;
    runtime.limits = config_.worker_limits;  // the task's `limits:` override field by field
    task.source = 0;  // this node
    std::optional<std::string> name;
    const Field* name_field = nullptr;
    std::optional<Duration> period, deadline;
    int64_t replicas = 1;
    bool valid = true;
    const Fields fields = read_fields(node, path, kTaskKeys, problems_);
    for (const Field& f : fields) {
      if (f.key == "name") {
        name = read_safe_name(f);
        name_field = &f;
        valid &= name.has_value();
      } else if (f.key == "model" || f.key == "sensor") {
        const bool is_model = f.key == "model";
        std::optional<std::string> ref = read_name(f, problems_);
        const auto& known = is_model ? model_line_ : sensor_line_;
        if (ref && !known.count(*ref)) {
          report_unknown(f, is_model ? "model" : "sensor", *ref, known);
          ref.reset();
        }
        valid &= ref.has_value();
        if (!ref) continue;
        // A known name whose entry was broken has no index: that entry's own problem is
        // the one reported, and the config is not returned.
        if (is_model) {
          auto it = model_index_.find(*ref);
          if (it != model_index_.end()) task.model = it->second;
          valid &= it != model_index_.end();
        } else {
          auto it = sensor_info_.find(*ref);
          if (it != sensor_info_.end()) runtime.sensor = static_cast<uint32_t>(it->second.index);
          valid &= it != sensor_info_.end();
        }
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
      } else if (f.key == "confidence" || f.key == "nms_iou") {
        // In [0, 1]: a score and an intersection over union are both fractions.
        std::optional<double> v = read_number(f, problems_);
        if (v && !(*v >= 0 && *v <= 1)) {
          problems_.add(f.mark(), f.path,
                        std::string(f.key == "confidence" ? "a detection score threshold (objectness x class score)"
                                                          : "an intersection-over-union threshold") +
                            " must be in [0, 1], got " + describe(f.value));
          v.reset();
        }
        if (v) (f.key == "confidence" ? runtime.confidence : runtime.nms_iou) = *v;
        valid &= v.has_value();
      } else if (f.key == "masks") {
        std::optional<std::string> v = read_text(f, problems_);
        if (v && *v != "none" && *v != "png") {
          problems_.add(f.mark(), f.path,
                        "a segmentation task's masks are written as 'png' or not at all ('none'), got " +
                            describe(f.value));
          v.reset();
        }
        if (v) runtime.masks = *v == "png" ? MaskOutput::kPng : MaskOutput::kNone;
        valid &= v.has_value();
      } else if (f.key == "worker") {
        valid &= read_worker(f, runtime.worker);
      } else if (f.key == "rootfs") {
        valid &= read_rootfs(f, runtime.rootfs);
      } else if (f.key == "limits") {
        valid &= needs_isolation(f, false, "limits") && read_limits(f, runtime.limits);
      } else if (f.key == "env") {
        valid &= read_env(f, runtime.env);
      } else if (f.key == "replicas") {
        std::optional<int64_t> r = read_replicas(f, problems_, kMaxReplicas);
        if (r) replicas = *r;
        valid &= r.has_value();
      }
    }
    for (std::string_view key : {"name", "model", "sensor", "period"})
      fields.require(key, mark, path, problems_);
    // A task without its model or sensor was reported above (require); it must not be kept
    // either, with the default index 0 into possibly empty lists (found by fuzz_node_config).
    if (!valid || !name || !period || !fields.has("model") || !fields.has("sensor")) return;
    task.period = *period;
    task.deadline = deadline.value_or(*period);
    for (std::string& copy :
         replica_names(*name, replicas, mark.line + 1, *name_field, task_line_, problems_)) {
      task.name = std::move(copy);
      config_.tasks.push_back(task);
      config_.task_runtime.push_back(runtime);
    }
  }

  bool read_worker(const Field& f, std::string& out) {
    std::optional<std::string> text = read_name(f, problems_);
    if (!text) return false;
    if (*text == "stock") {
      out = *text;
      return true;
    }
    const std::string file = input_path(*text);
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    if (!fs::exists(st)) {
      problems_.add(f.mark(), f.path,
                    "worker '" + file +
                        "' does not exist (give 'stock' for the built-in worker, or the path "
                        "of a worker executable)");
      return false;
    }
    if (!fs::is_regular_file(st) || ::access(file.c_str(), X_OK) != 0) {
      problems_.add(f.mark(), f.path,
                    "worker '" + file + "' is not an executable file (chmod +x it?)");
      return false;
    }
    if (!needs_isolation(f, false, "a worker executable")) return false;
    out = file;
    return true;
  }

  bool read_rootfs(const Field& f, std::string& out) {
    std::optional<std::string> text = read_name(f, problems_);
    if (!text) return false;
    const std::string dir = input_path(*text);
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (!fs::exists(st)) {
      problems_.add(f.mark(), f.path, "root filesystem '" + dir + "' does not exist");
      return false;
    }
    if (!fs::is_directory(st)) {
      problems_.add(f.mark(), f.path, "root filesystem '" + dir + "' is not a folder");
      return false;
    }
    if (!needs_isolation(f, true, "rootfs")) return false;
    out = dir;
    return true;
  }

  bool read_env(const Field& f, std::vector<std::pair<std::string, std::string>>& out) {
    if (f.value.IsNull()) return true;
    if (!expect_map(f.value, f.mark(), f.path, problems_)) return false;
    bool valid = true;
    std::unordered_map<std::string, int> first_line;
    for (const auto& pair : f.value) {
      const YAML::Node key = pair.first;
      const YAML::Node value = pair.second;
      if (!key.IsDefined() || !key.IsScalar() || !is_env_name(key.Scalar())) {
        problems_.add(mark_or(key, f.mark()), f.path,
                      "environment variable names are letters, digits and '_' (not starting "
                      "with a digit), got " + describe(key));
        valid = false;
        continue;
      }
      Field entry{key.Scalar(), child_path(f.path, key.Scalar()), key, value};
      auto [it, fresh] = first_line.emplace(entry.key, key.Mark().line + 1);
      if (!fresh) {
        problems_.add(key.Mark(), entry.path,
                      "given twice (first at line " + std::to_string(it->second) + ")");
        valid = false;
        continue;
      }
      std::optional<std::string> text = read_text(entry, problems_);
      if (!text) {
        valid = false;
        continue;
      }
      out.emplace_back(entry.key, *text);
    }
    if (valid && !out.empty() && !needs_isolation(f, false, "env")) return false;
    return valid;
  }

  // A sensor with a fixed period slower than one of its tasks would hand that task the
  // same frame twice: almost certainly a mistake, so it is an error.
  void check_sensor_periods() {
    for (size_t t = 0; t < config_.tasks.size(); ++t) {
      const TaskSpec& task = config_.tasks[t];
      const SensorConfig& sensor = config_.sensors[config_.task_runtime[t].sensor];
      const SensorInfo& info = sensor_info_.at(sensor.name);
      if (sensor.period.count() == 0 || sensor.period <= task.period) continue;
      problems_.add(info.period_mark, info.period_path,
                    "is " + format_duration(sensor.period) + ", longer than the period " +
                        format_duration(task.period) + " of task '" + task.name +
                        "' (line " + std::to_string(task_line_.at(task.name)) +
                        "), which would see frames twice; use at most " +
                        format_duration(task.period) + ", or 0 for the fastest task's period");
    }
  }

  Problems problems_;
  fs::path base_dir_;
  NodeConfig config_;
  bool isolation_known_ = false;  // `isolation:` given and valid
  std::unordered_map<std::string, int> model_line_;   // every defined name, valid or not
  std::unordered_map<std::string, int> sensor_line_;
  std::unordered_map<std::string, int> task_line_;
  std::unordered_map<std::string, SensorInfo> sensor_info_;  // valid sensors only
  std::unordered_map<std::string, ModelIndex> model_index_;  // valid models only
  std::optional<ProfileSet> profile_set_;                    // `profiles:`, when it loaded
};

// Valid UTF-8 as the JSON writer sees it: the names end up in JSON result lines.
bool is_utf8(std::string_view s) {
  try {
    (void)nlohmann::json(std::string(s)).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

Result<std::vector<std::string>> parse_labels(std::string_view text, const std::string& file_name) {
  std::vector<std::string> names;
  size_t blank_line = 0;  // the first blank line since the last name (0: none)
  size_t line_no = 0, bytes = 0;
  auto fail = [&](size_t line, const std::string& why) {
    return Error{ErrorCode::kInvalidInput,
                 "labels file " + file_name + (line > 0 ? ":" + std::to_string(line) : "") + ": " + why};
  };
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) {
      if (blank_line == 0) blank_line = line_no;
      continue;
    }
    if (blank_line != 0) {
      return fail(blank_line, "empty class name (one name per line: line N names class N-1, so a "
                              "blank line would shift every class after it)");
    }
    for (char ch : line) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", c);
        return fail(line_no, std::string("control character ") + hex + " in a class name");
      }
    }
    if (!is_utf8(line)) return fail(line_no, "a class name that is not UTF-8 text");
    if (line.size() > kMaxLabelBytes) {
      return fail(line_no, "a class name of " + std::to_string(line.size()) + " bytes; at most " +
                               std::to_string(kMaxLabelBytes));
    }
    if (names.size() == kMaxLabels) return fail(line_no, "more than " + std::to_string(kMaxLabels) + " names");
    bytes += line.size() + 1;
    if (bytes > kMaxLabelsBytes) {
      return fail(line_no, "the names pass " + std::to_string(kMaxLabelsBytes) +
                               " bytes (they travel to the task's workers on their command line)");
    }
    names.emplace_back(line);
  }
  if (names.empty()) return fail(0, "no class names (expected one name per line)");
  return names;
}

Result<std::vector<std::string>> load_labels_file(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) return Error{ErrorCode::kNotFound, "labels file '" + path + "' does not exist"};
  if (!fs::is_regular_file(st)) return Error{ErrorCode::kInvalidInput, "labels file '" + path + "' is not a file"};
  const uintmax_t size = fs::file_size(path, ec);
  // Generous: room for the longest names allowed with CRs and blank tails.
  if (!ec && size > 4 * kMaxLabelsBytes) {
    return Error{ErrorCode::kInvalidInput, "labels file '" + path + "' has " + std::to_string(size) +
                                               " bytes; a labels file holds at most " +
                                               std::to_string(kMaxLabelsBytes) + " bytes of names"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::kIo, "labels file '" + path + "' cannot be read"};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_labels(text, path);
}

void copy_profile(const ModelProfile& profile, ModelProfile& model) {
  std::string name = std::move(model.name);
  model = profile;
  model.name = std::move(name);
}

Status apply_profile_set(NodeConfig& config, const std::vector<ModelProfile>& profiles,
                         const std::string& profile_file) {
  auto match = match_profiles(config.models, profiles, profile_file, "of node " + config.name,
                              "; profile it with `coedge profile`");
  if (!match.ok()) return match.error();
  // Checked everything first: the config is changed entirely or not at all.
  for (size_t m = 0; m < config.models.size(); ++m) copy_profile(*(*match)[m], config.models[m]);
  config.profiles = profile_file;
  return Ok{};
}

Result<Isolation> parse_isolation(std::string_view text) {
  for (const auto& [name, value] : kIsolations)
    if (name == text) return value;
  return Error{ErrorCode::kInvalidInput, "unknown isolation mode '" + std::string(text) +
                                             "' (choices: " + isolation_choices() + ")"};
}

std::string_view to_string(Isolation isolation) {
  for (const auto& [name, value] : kIsolations)
    if (value == isolation) return name;
  return "?";
}

std::string_view to_string(SensorKind kind) {
  for (const auto& [name, value] : kSensorKinds)
    if (value == kind) return name;
  return "?";
}

Result<NodeConfig> parse_node_config(const std::string& yaml_text, const std::string& file_name,
                                     const std::string& base_dir) {
  if (Status utf8 = check_utf8(yaml_text, file_name); !utf8.ok()) return utf8.error();
  try {
    return NodeConfigParser(file_name, base_dir).parse(yaml_text);
  } catch (const std::exception& e) {
    // Every yaml-cpp call above is guarded by a type check; this only keeps the promise
    // that no exception leaves the loader.
    return Error{ErrorCode::kInvalidInput, file_name + ": cannot read node config: " + e.what()};
  }
}

Result<NodeConfig> load_node_config(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text) return text.error();
  return parse_node_config(*text, path, fs::path(path).parent_path().string());
}

bool is_compressed_topic(std::string_view topic) {
  constexpr std::string_view kSuffix = "/compressed";
  return topic.size() > kSuffix.size() && topic.ends_with(kSuffix);
}

}  // namespace coedge::config
