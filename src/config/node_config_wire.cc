// The node config's wire document: written field by field from the struct, read back by
// a strict reader (every field required, no unknown one, types, ranges and indexes
// checked) that stops at the first problem. The format and version are checked before
// anything else, so a document of another version is reported as such rather than as
// its first unknown field.
#include "config/node_config_wire.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "config/model_backend.h"
#include "config/node_config_loader.h"

namespace coedge::config {
namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "coedge-node-config";

// The wire's own names: unlike node files, it also carries topic sensors (cluster nodes).
constexpr std::array<std::pair<const char*, SensorKind>, 5> kKinds = {{
    {"folder", SensorKind::kFolder},
    {"video", SensorKind::kVideo},
    {"synthetic", SensorKind::kSynthetic},
    {"topic", SensorKind::kTopic},
    {"stream", SensorKind::kStream},
}};

const char* kind_name(SensorKind kind) {
  for (const auto& [name, value] : kKinds)
    if (value == kind) return name;
  return "?";
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// "string \"abc\"": the value's type and (the start of) its text.
std::string describe(const json& j) {
  std::string text = j.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(j.type_name()) + " " + text;
}

json limits_json(const WorkerLimits& l) {
  return {{"cpus", l.cpus}, {"memory_bytes", l.memory_bytes}, {"pids", l.pids}};
}

class WireReader {
 public:
  explicit WireReader(std::string origin) : origin_(std::move(origin)) {}

  Result<NodeConfig> read(std::string_view text) {
    json root;
    try {
      root = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
      return Error{ErrorCode::kInvalidInput, origin_ + ": not a JSON document: " + e.what()};
    }
    NodeConfig c;
    if (!header(root) || !top(root, c)) return *error_;
    return c;
  }

 private:
  bool fail(const std::string& path, const std::string& reason) {
    if (!error_) {
      error_ = Error{ErrorCode::kInvalidInput, origin_ + ": " + (path.empty() ? "" : path + ": ") + reason};
    }
    return false;
  }

  bool header(const json& root) {
    if (!root.is_object()) return fail("", "expected a JSON object, got " + describe(root));
    auto f = root.find("format");
    if (f == root.end() || !f->is_string() || f->get<std::string>() != kFormat) {
      return fail("format", std::string("not a node config (expected \"") + kFormat + "\", got " +
                                (f == root.end() ? std::string("none") : describe(*f)) + ")");
    }
    auto v = root.find("version");
    if (v == root.end() || !v->is_number_integer() || v->get<int64_t>() != kNodeConfigWireVersion) {
      return fail("version", "this coedge reads version " + std::to_string(kNodeConfigWireVersion) + ", got " +
                                 (v == root.end() ? std::string("none") : describe(*v)) +
                                 " (are the agent and the server the same coedge build?)");
    }
    return true;
  }

  // `j` at `path` is an object with exactly `keys`.
  bool object(const json& j, const std::string& path, std::initializer_list<const char*> keys) {
    if (!j.is_object()) return fail(path, "expected an object, got " + describe(j));
    for (const char* key : keys) {
      if (!j.contains(key)) return fail(join(path, key), "missing field");
    }
    for (const auto& item : j.items()) {
      bool known = false;
      for (const char* key : keys) known |= item.key() == key;
      if (!known) return fail(join(path, item.key()), "unknown field");
    }
    return true;
  }

  bool text(const json& o, const std::string& path, const char* key, std::string& out, bool nonempty = false) {
    const json& j = o.at(key);
    if (!j.is_string()) return fail(join(path, key), "expected text, got " + describe(j));
    out = j.get<std::string>();
    if (nonempty && out.empty()) return fail(join(path, key), "must not be empty");
    return true;
  }

  bool integer(const json& j, const std::string& path, int64_t lo, int64_t hi, int64_t& out) {
    if (!j.is_number_integer() ||
        (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
      return fail(path, "expected a whole number, got " + describe(j));
    }
    out = j.get<int64_t>();
    if (out < lo || out > hi) {
      return fail(path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                            std::to_string(out));
    }
    return true;
  }
  template <typename Int>
  bool integer(const json& o, const std::string& path, const char* key, int64_t lo, int64_t hi, Int& out) {
    int64_t v = 0;
    if (!integer(o.at(key), join(path, key), lo, hi, v)) return false;
    out = static_cast<Int>(v);
    return true;
  }

  bool duration(const json& o, const std::string& path, const char* key, bool positive, Duration& out) {
    int64_t us = 0;
    if (!integer(o, path, key, positive ? 1 : 0, std::numeric_limits<int64_t>::max(), us)) return false;
    out = Duration(us);
    return true;
  }

  bool boolean(const json& o, const std::string& path, const char* key, bool& out) {
    const json& j = o.at(key);
    if (!j.is_boolean()) return fail(join(path, key), "expected true or false, got " + describe(j));
    out = j.get<bool>();
    return true;
  }

  bool list(const json& o, const std::string& path, const char* key, const json*& out) {
    const json& j = o.at(key);
    if (!j.is_array()) return fail(join(path, key), "expected a list, got " + describe(j));
    out = &j;
    return true;
  }

  bool top(const json& root, NodeConfig& c) {
    if (!object(root, "", {"format", "version", "name", "source_file", "scheduler", "isolation", "run_dir",
                           "backend", "backend_threads", "profiles", "window_us", "duration_us", "hang_timeout_us",
                           "metrics_port", "metrics_address", "metrics_linger_us", "jobs_jsonl", "sandbox",
                           "worker_limits", "violations", "models", "sensors", "tasks"})) {
      return false;
    }
    std::string scheduler, isolation;
    if (!text(root, "", "name", c.name, true) || !text(root, "", "source_file", c.source_file) ||
        !text(root, "", "scheduler", scheduler, true) || !text(root, "", "isolation", isolation) ||
        !text(root, "", "run_dir", c.run_dir, true) || !text(root, "", "backend", c.backend, true) ||
        !integer(root, "", "backend_threads", 0, 1 << 20, c.backend_threads) ||
        !text(root, "", "profiles", c.profiles) || !duration(root, "", "window_us", true, c.window) ||
        !duration(root, "", "duration_us", false, c.duration) ||
        !duration(root, "", "hang_timeout_us", true, c.hang_timeout) ||
        !integer(root, "", "metrics_port", 0, 65535, c.metrics_port) ||
        !text(root, "", "metrics_address", c.metrics_address, true) ||
        !duration(root, "", "metrics_linger_us", false, c.metrics_linger) ||
        !text(root, "", "jobs_jsonl", c.jobs_jsonl)) {
      return false;
    }
    auto spec = policy::SchedulerSpec::parse(scheduler);
    if (!spec.ok()) return fail("scheduler", spec.error().message);
    c.scheduler = std::move(spec.value());
    auto iso = parse_isolation(isolation);
    if (!iso.ok()) return fail("isolation", iso.error().message);
    c.isolation = *iso;
    return sandbox(root, c) && limits(root, "", "worker_limits", c.worker_limits) && violations(root, c) &&
           models(root, c) && sensors(root, c) && tasks(root, c);
  }

  bool sandbox(const json& root, NodeConfig& c) {
    const json& o = root.at("sandbox");
    const json* paths = nullptr;
    if (!object(o, "sandbox", {"seccomp", "private_paths"}) || !boolean(o, "sandbox", "seccomp", c.sandbox.seccomp) ||
        !list(o, "sandbox", "private_paths", paths)) {
      return false;
    }
    if (paths->size() > kMaxPrivatePaths) {
      return fail("sandbox.private_paths", "at most " + std::to_string(kMaxPrivatePaths) + " paths, got " +
                                               std::to_string(paths->size()));
    }
    for (size_t i = 0; i < paths->size(); ++i) {
      const json& p = (*paths)[i];
      if (!p.is_string() || p.get<std::string>().size() < 2 || p.get<std::string>().front() != '/') {
        return fail(index("sandbox.private_paths", i), "expected an absolute path other than /, got " + describe(p));
      }
      c.sandbox.private_paths.push_back(p.get<std::string>());
    }
    return true;
  }

  // The loader's ranges, 0 being "no limit".
  bool limits(const json& parent, const std::string& path, const char* key, WorkerLimits& out) {
    const json& o = parent.at(key);
    const std::string here = join(path, key);
    if (!object(o, here, {"cpus", "memory_bytes", "pids"})) return false;
    const json& cpus = o.at("cpus");
    if (!cpus.is_number() || !(cpus.get<double>() == 0 || (cpus.get<double>() >= kMinWorkerCpus &&
                                                           cpus.get<double>() <= kMaxWorkerCpus))) {
      return fail(here + ".cpus", "expected 0 or a number from 0.01 to 1024, got " + describe(cpus));
    }
    out.cpus = cpus.get<double>();
    int64_t memory = 0;
    if (!integer(o, here, "memory_bytes", 0, std::numeric_limits<int64_t>::max(), memory)) return false;
    if (memory != 0 && static_cast<uint64_t>(memory) < kMinWorkerMemory) {
      return fail(here + ".memory_bytes", "expected 0 or at least 16 MiB, got " + std::to_string(memory));
    }
    out.memory_bytes = static_cast<uint64_t>(memory);
    if (!integer(o, here, "pids", 0, kMaxWorkerPids, out.pids)) return false;
    if (out.pids != 0 && out.pids < kMinWorkerPids) {
      return fail(here + ".pids", "expected 0 or at least 8, got " + std::to_string(out.pids));
    }
    return true;
  }

  bool violations(const json& root, NodeConfig& c) {
    const json& o = root.at("violations");
    return object(o, "violations", {"limit", "window_us"}) &&
           integer(o, "violations", "limit", 0, kMaxViolationLimit, c.violations.limit) &&
           duration(o, "violations", "window_us", true, c.violations.window);
  }

  bool models(const json& root, NodeConfig& c) {
    const json* list_json = nullptr;
    if (!list(root, "", "models", list_json)) return false;
    for (size_t i = 0; i < list_json->size(); ++i) {
      const json& o = (*list_json)[i];
      const std::string path = index("models", i);
      if (!object(o, path, {"name", "file", "input_shape", "input_bytes", "exe_us", "pre_us", "post_us",
                            "profile_source", "backend", "runs_on", "labels", "labels_file"})) {
        return false;
      }
      ModelProfile m;
      std::string file, runs_on;
      const json *shape = nullptr, *exe = nullptr;
      if (!text(o, path, "name", m.name, true) || !text(o, path, "file", file, true) ||
          !list(o, path, "input_shape", shape) ||
          !integer(o, path, "input_bytes", 0, std::numeric_limits<int64_t>::max(), m.input_bytes) ||
          !list(o, path, "exe_us", exe) || !duration(o, path, "pre_us", false, m.pre_time) ||
          !duration(o, path, "post_us", false, m.post_time) ||
          !text(o, path, "profile_source", m.profile_source) || !text(o, path, "backend", m.backend) ||
          !text(o, path, "runs_on", runs_on, true)) {
        return false;
      }
      for (size_t d = 0; d < shape->size(); ++d) {
        int64_t v = 0;
        if (!integer((*shape)[d], index(path + ".input_shape", d), std::numeric_limits<int64_t>::min(),
                     std::numeric_limits<int64_t>::max(), v)) {
          return false;
        }
        m.input_shape.push_back(v);
      }
      if (exe->size() != static_cast<size_t>(kMaxBatch)) {
        return fail(path + ".exe_us", "must list " + std::to_string(kMaxBatch) + " times (batch 1.." +
                                          std::to_string(kMaxBatch) + "), got " + std::to_string(exe->size()));
      }
      for (size_t b = 0; b < exe->size(); ++b) {
        int64_t v = 0;
        if (!integer((*exe)[b], index(path + ".exe_us", b), 0, std::numeric_limits<int64_t>::max(), v)) return false;
        m.exe_time[b] = Duration(v);
      }
      const json* labels = nullptr;
      std::string labels_file;
      if (!list(o, path, "labels", labels) || !text(o, path, "labels_file", labels_file)) return false;
      std::vector<std::string> names;
      for (size_t k = 0; k < labels->size(); ++k) {
        const json& name = (*labels)[k];
        if (!name.is_string()) return fail(index(path + ".labels", k), "expected text, got " + describe(name));
        names.push_back(name.get<std::string>());
      }
      c.models.push_back(std::move(m));
      c.model_files.push_back(std::move(file));
      c.model_backends.push_back(std::move(runs_on));
      c.model_labels.push_back(std::move(names));
      c.model_labels_files.push_back(std::move(labels_file));
    }
    return true;
  }

  bool sensors(const json& root, NodeConfig& c) {
    const json* list_json = nullptr;
    if (!list(root, "", "sensors", list_json)) return false;
    for (size_t i = 0; i < list_json->size(); ++i) {
      const json& o = (*list_json)[i];
      const std::string path = index("sensors", i);
      if (!object(o, path, {"name", "kind", "path", "width", "height", "loop", "period_us", "phase_us", "stream",
                         "compressed", "reliability"})) {
        return false;
      }
      SensorConfig s;
      std::string kind;
      if (!text(o, path, "name", s.name, true) || !text(o, path, "kind", kind) || !text(o, path, "path", s.path) ||
          !integer(o, path, "width", 1, 1 << 20, s.width) || !integer(o, path, "height", 1, 1 << 20, s.height) ||
          !boolean(o, path, "loop", s.loop) || !duration(o, path, "period_us", false, s.period) ||
          !duration(o, path, "phase_us", false, s.phase)) {
        return false;
      }
      const std::string stream_path = join(path, "stream");
      const json& st = o.at("stream");
      if (!object(st, stream_path, {"url", "open_timeout_us", "stall_timeout_us", "reconnect_min_us", "reconnect_max_us"}) ||
          !text(st, stream_path, "url", s.stream.url) ||
          !duration(st, stream_path, "open_timeout_us", true, s.stream.open_timeout) ||
          !duration(st, stream_path, "stall_timeout_us", true, s.stream.stall_timeout) ||
          !duration(st, stream_path, "reconnect_min_us", true, s.stream.reconnect_min) ||
          !duration(st, stream_path, "reconnect_max_us", true, s.stream.reconnect_max)) {
        return false;
      }
      std::string reliability;
      if (!boolean(o, path, "compressed", s.compressed) || !text(o, path, "reliability", reliability)) return false;
      if (reliability == "reliable") s.reliability = TopicReliability::kReliable;
      else if (reliability == "best_effort") s.reliability = TopicReliability::kBestEffort;
      else return fail(path + ".reliability", "unknown reliability '" + reliability + "' (best_effort, reliable)");
      bool known = false;
      for (const auto& [name, value] : kKinds) {
        if (kind == name) {
          s.kind = value;
          known = true;
        }
      }
      if (!known) return fail(path + ".kind", "unknown sensor kind '" + kind + "' (folder, video, synthetic, topic, stream)");
      c.sensors.push_back(std::move(s));
    }
    return true;
  }

  bool tasks(const json& root, NodeConfig& c) {
    const json* list_json = nullptr;
    if (!list(root, "", "tasks", list_json)) return false;
    const auto models = static_cast<int64_t>(c.models.size());
    const auto sensors = static_cast<int64_t>(c.sensors.size());
    for (size_t i = 0; i < list_json->size(); ++i) {
      const json& o = (*list_json)[i];
      const std::string path = index("tasks", i);
      if (!object(o, path, {"name", "source", "model", "period_us", "deadline_us", "priority", "epsilon", "sensor",
                            "worker", "rootfs", "env", "confidence", "nms_iou", "limits"})) {
        return false;
      }
      TaskSpec t;
      TaskRuntime r;
      const json* env = nullptr;
      int64_t model = 0, sensor = 0;
      if (!text(o, path, "name", t.name, true) || !integer(o, path, "source", 0, 0, t.source) ||
          !integer(o, path, "model", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                   model)) {
        return false;
      }
      if (model < 0 || model >= models) {
        return fail(path + ".model", std::to_string(model) + " is not a model index (" + std::to_string(models) +
                                         " models)");
      }
      t.model = static_cast<ModelIndex>(model);
      if (!duration(o, path, "period_us", true, t.period) || !duration(o, path, "deadline_us", true, t.deadline) ||
          !integer(o, path, "priority", std::numeric_limits<int>::min(), std::numeric_limits<int>::max(),
                   t.priority)) {
        return false;
      }
      const json& eps = o.at("epsilon");
      if (!eps.is_number()) return fail(path + ".epsilon", "expected a number, got " + describe(eps));
      t.epsilon = eps.get<double>();
      if (!(t.epsilon >= 0 && t.epsilon <= 1)) return fail(path + ".epsilon", "must be in [0, 1], got " + eps.dump());
      if (!integer(o, path, "sensor", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                   sensor)) {
        return false;
      }
      if (sensor < 0 || sensor >= sensors) {
        return fail(path + ".sensor", std::to_string(sensor) + " is not a sensor index (" +
                                          std::to_string(sensors) + " sensors)");
      }
      r.sensor = static_cast<uint32_t>(sensor);
      if (!text(o, path, "worker", r.worker, true) || !text(o, path, "rootfs", r.rootfs) ||
          !list(o, path, "env", env)) {
        return false;
      }
      for (size_t e = 0; e < env->size(); ++e) {
        const json& pair = (*env)[e];
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
          return fail(index(path + ".env", e), "expected [NAME, VALUE] (two texts), got " + describe(pair));
        }
        r.env.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
      }
      for (const char* key : {"confidence", "nms_iou"}) {
        const json& v = o.at(key);
        if (v.is_null()) continue;
        if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1)) {
          return fail(path + "." + key, "expected null or a number in [0, 1], got " + v.dump());
        }
        (std::string_view(key) == "confidence" ? r.confidence : r.nms_iou) = v.get<double>();
      }
      if (!limits(o, path, "limits", r.limits)) return false;
      c.tasks.push_back(std::move(t));
      c.task_runtime.push_back(std::move(r));
    }
    return true;
  }

  std::string origin_;
  std::optional<Error> error_;
};

}  // namespace

std::string write_node_config_wire(const NodeConfig& c) {
  // Side lists out of step with their main lists are a bug of the caller: the reader
  // would refuse the document (an empty file name) with a message about the agent's
  // config, which the user could do nothing about.
  COEDGE_CHECK(c.model_files.size() == c.models.size());
  COEDGE_CHECK(c.task_runtime.size() == c.tasks.size());
  json root = {{"format", kFormat},
               {"version", kNodeConfigWireVersion},
               {"name", c.name},
               {"source_file", c.source_file},
               {"scheduler", c.scheduler.text()},
               {"isolation", std::string(to_string(c.isolation))},
               {"run_dir", c.run_dir},
               {"backend", c.backend},
               {"backend_threads", c.backend_threads},
               {"profiles", c.profiles},
               {"window_us", c.window.count()},
               {"duration_us", c.duration.count()},
               {"hang_timeout_us", c.hang_timeout.count()},
               {"metrics_port", c.metrics_port},
               {"metrics_address", c.metrics_address},
               {"metrics_linger_us", c.metrics_linger.count()},
               {"jobs_jsonl", c.jobs_jsonl},
               {"sandbox", {{"seccomp", c.sandbox.seccomp}, {"private_paths", c.sandbox.private_paths}}},
               {"worker_limits", limits_json(c.worker_limits)},
               {"violations", {{"limit", c.violations.limit}, {"window_us", c.violations.window.count()}}}};
  json models = json::array();
  for (size_t m = 0; m < c.models.size(); ++m) {
    const ModelProfile& p = c.models[m];
    json exe = json::array();
    for (Duration d : p.exe_time) exe.push_back(d.count());
    models.push_back({{"name", p.name},
                      {"file", c.model_files[m]},
                      {"input_shape", p.input_shape},
                      {"input_bytes", p.input_bytes},
                      {"exe_us", exe},
                      {"pre_us", p.pre_time.count()},
                      {"post_us", p.post_time.count()},
                      {"profile_source", p.profile_source},
                      {"backend", p.backend},
                      {"runs_on", backend_of(c, m)},
                      {"labels", m < c.model_labels.size() ? c.model_labels[m] : std::vector<std::string>{}},
                      {"labels_file", m < c.model_labels_files.size() ? c.model_labels_files[m] : std::string()}});
  }
  root["models"] = std::move(models);
  json sensors = json::array();
  for (const SensorConfig& s : c.sensors) {
    sensors.push_back({{"name", s.name},
                       {"kind", kind_name(s.kind)},
                       {"path", s.path},
                       {"width", s.width},
                       {"height", s.height},
                       {"loop", s.loop},
                       {"period_us", s.period.count()},
                       {"phase_us", s.phase.count()},
                       {"stream", {{"url", s.stream.url},
                                   {"open_timeout_us", s.stream.open_timeout.count()},
                                   {"stall_timeout_us", s.stream.stall_timeout.count()},
                                   {"reconnect_min_us", s.stream.reconnect_min.count()},
                                   {"reconnect_max_us", s.stream.reconnect_max.count()}}},
                       {"compressed", s.compressed},
                       {"reliability", s.reliability == TopicReliability::kReliable ? "reliable" : "best_effort"}});
  }
  root["sensors"] = std::move(sensors);
  json tasks = json::array();
  for (size_t t = 0; t < c.tasks.size(); ++t) {
    const TaskSpec& spec = c.tasks[t];
    const TaskRuntime& runtime = c.task_runtime[t];
    json env = json::array();
    for (const auto& [name, value] : runtime.env) env.push_back(json::array({name, value}));
    tasks.push_back({{"name", spec.name},
                     {"source", spec.source},
                     {"model", spec.model},
                     {"period_us", spec.period.count()},
                     {"deadline_us", spec.deadline.count()},
                     {"priority", spec.priority},
                     {"epsilon", spec.epsilon},
                     {"sensor", runtime.sensor},
                     {"worker", runtime.worker},
                     {"rootfs", runtime.rootfs},
                     {"env", env},
                     {"confidence", runtime.confidence ? json(*runtime.confidence) : json(nullptr)},
                     {"nms_iou", runtime.nms_iou ? json(*runtime.nms_iou) : json(nullptr)},
                     {"limits", limits_json(runtime.limits)}});
  }
  root["tasks"] = std::move(tasks);
  return root.dump();
}

std::string wire_digest(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;  // FNV prime
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016" PRIx64, h);
  return out;
}

Result<NodeConfig> read_node_config_wire(std::string_view text, const std::string& origin,
                                         const std::string& expected_digest) {
  if (!expected_digest.empty()) {
    const std::string got = wire_digest(text);
    if (got != expected_digest) {
      return Error{ErrorCode::kInvalidInput, origin + ": its digest is " + got + ", not the " + expected_digest +
                                                 " it was sent with: the document changed on the way (" +
                                                 std::to_string(text.size()) + " bytes read)"};
    }
  }
  Result<NodeConfig> config = WireReader(origin).read(text);
  if (!config.ok() || expected_digest.empty()) return config;
  const std::string back = wire_digest(write_node_config_wire(*config));
  if (back != expected_digest) {
    return Error{ErrorCode::kInvalidInput,
                 origin + ": the config read writes back with digest " + back + ", not " + expected_digest +
                     ": this reader and the writer disagree on the node config (are they the same coedge build?)"};
  }
  return config;
}

}  // namespace coedge::config
