#include "node/node_agent.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/listen_address.h"
#include "config/model_backend.h"
#include "config/node_config_loader.h"
#include "config/scenario_writer.h"
#include "core/clock.h"
#include "infer/model_info.h"
#include "infer/profiler.h"
#include "infer/stock_task.h"
#include "node/backend_set.h"
#include "node/core/accounting.h"
#include "node/core/agent_loop.h"
#include "node/frame_source.h"
#include "node/core/metrics.h"
#include "node/core/node_scenario.h"
#include "node/core/result_log.h"
#include "node/pipeline.h"
#include "node/profile_monitor.h"
#include "os/private_mounts.h"
#include "policy/local_scheduler.h"

namespace coedge::node {
namespace {

void log(const config::NodeConfig& config, const std::string& text) {
  std::fprintf(stderr, "[node %s] %s\n", config.name.c_str(), text.c_str());
}

// The model files' item shapes, and what the stock worker makes of each task.
struct ModelShapes {
  std::vector<std::vector<int64_t>> inputs, outputs;  // per model, one item
  std::vector<std::string> kinds;                     // per model
  std::vector<int64_t> classes;  // per model: a segmentation model's class count, else 0
};

Result<ModelShapes> read_shapes(const config::NodeConfig& config) {
  ModelShapes shapes;
  for (const std::string& file : config.model_files) {
    auto info = infer::read_model_info(file);
    if (!info.ok()) return info.error();
    // An ONNX output whose sizes the exporter left symbolic (torch.onnx.export does for
    // YOLOv5 and DeepLabV3) is measured by the OpenCV backend's load-time pass, as the
    // server's load will measure it.
    if (info->format == infer::ModelFormat::kOnnx && !info->outputs.empty() &&
        std::any_of(info->outputs.front().shape.begin() + (info->outputs.front().shape.empty() ? 0 : 1),
                    info->outputs.front().shape.end(), [](int64_t d) { return d <= 0; })) {
      infer::BackendOptions options;
      options.threads = config.backend_threads;
      options.max_batch = 2;
      BackendSet backends(options);
      auto opencv = backends.get("opencv");
      if (!opencv.ok()) return opencv.error();
      auto model = (*opencv)->load(file);
      if (!model.ok()) return model.error();
      info = (*model)->info();
    }
    if (info->inputs.empty() || info->outputs.empty()) {
      return Error{ErrorCode::kUnsupported, file + ": the model needs one input and one output"};
    }
    auto item = [&](const std::vector<int64_t>& shape, const char* what) -> Result<std::vector<int64_t>> {
      std::vector<int64_t> rest(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
      for (int64_t d : rest) {
        if (d <= 0) {
          return Error{ErrorCode::kUnsupported,
                       file + ": the " + what + " " + infer::shape_string(shape) +
                           " has a dynamic dimension beyond the batch axis; the node sizes its "
                           "shared memory from fixed item shapes"};
        }
      }
      return rest;
    };
    auto in = item(info->inputs.front().shape, "input");
    if (!in.ok()) return in.error();
    auto out = item(info->outputs.front().shape, "output");
    if (!out.ok()) return out.error();
    // A model of no stock kind may still serve a task with a worker of its own: kind "".
    auto kind = infer::infer_task_kind(file, *info);
    // A file that declares a kind it does not have is a mistake worth stopping for.
    if (!kind.ok() && !info->kind_hint.empty()) return kind.error();
    shapes.kinds.push_back(kind.ok() ? std::string(infer::to_string(*kind)) : std::string());
    // A segmentation model's item is what the server sends: one class id per pixel,
    // [H, W] (infer/segmentation.h), and its output chunks hold H*W bytes (ipc_pipeline.cc).
    const bool segmentation = kind.ok() && *kind == infer::TaskKind::kSegmentation;
    shapes.classes.push_back(segmentation ? out->front() : 0);
    if (segmentation) out->erase(out->begin());
    shapes.inputs.push_back(*in);
    shapes.outputs.push_back(*out);
  }
  return shapes;
}

// A config without profiles (config.profiles empty) has its models measured now, on this
// machine, into config.models. Returns the measurements as a profile set's YAML, for
// write_measured_profiles once the run has started ("" when the config named a profile set).
Result<std::string> measure_profiles(const AgentOptions& options, config::NodeConfig& config) {
  if (!config.profiles.empty()) return std::string();
  log(config, "no profile set given: measuring the models on this machine (batch 1..10, " +
                  std::to_string(options.profile_runs) + " runs each)");
  infer::BackendOptions backend_options;
  backend_options.threads = config.backend_threads;
  BackendSet backends(backend_options);
  std::vector<ModelProfile> profiles;
  std::string notes;
  for (size_t i = 0; i < config.models.size(); ++i) {
    const ModelProfile& m = config.models[i];
    const std::string backend_name = config::backend_of(config, i);
    auto backend = backends.get(backend_name);
    if (!backend.ok()) return backend.error();
    auto model = (*backend)->load(config.model_files[i]);
    if (!model.ok()) return model.error();
    infer::ProfileOptions po;
    po.runs = options.profile_runs;
    po.warmup = 1;
    int last_percent = -1;
    const bool terminal = ::isatty(STDERR_FILENO) != 0;  // progress on a terminal only
    if (terminal) {
      po.progress = [&](int done, int all, const std::string&) {
        const int percent = all > 0 ? done * 100 / all : 100;
        if (percent / 10 != last_percent / 10) {
          std::fprintf(stderr, "\r[node %s] profiling %s: %d%%", config.name.c_str(), m.name.c_str(), percent);
          last_percent = percent;
        }
      };
    }
    auto measured = profile_model(**model, m.name, po);
    if (terminal) std::fprintf(stderr, "\n");
    else log(config, "profiled " + m.name);
    if (!measured.ok()) return measured.error();
    profiles.push_back(infer::to_model_profile(*measured, notes));
    profiles.back().backend = backend_name;
  }
  for (size_t i = 0; i < config.models.size(); ++i) config::copy_profile(profiles[i], config.models[i]);
  return config::write_profile_set_yaml("machine", "measured by coedge node at start", profiles, notes);
}

// The measured profiles (measure_profiles' `yaml`) as run_dir/profiles.yaml, for the user
// (`coedge sim --profiles`); nothing in the run reads that file back. Called only once the
// run has started, so a run that fails to start leaves the previous file as it was; and
// written to a temporary name then renamed into place, so a reader (or a crash) never
// sees half a file.
Status write_measured_profiles(const config::NodeConfig& config, const std::string& yaml) {
  if (yaml.empty()) return Ok{};
  const std::string file = config.run_dir + "/profiles.yaml";
  const std::string temp = file + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp);
    out << yaml;
    out.flush();
    if (!out) {
      std::filesystem::remove(temp);
      return Error{ErrorCode::kIo, "cannot write " + temp};
    }
  }
  if (std::rename(temp.c_str(), file.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::filesystem::remove(temp);
    return Error{ErrorCode::kIo, "cannot rename " + temp + " to " + file + ": " + why};
  }
  log(config, "measured profiles written to " + file + " (a record; the run uses them from memory)");
  return Ok{};
}

// Replays one sensor: every period a frame, taken by the tasks that are due. A live
// stream with no new frame at a period (between arrivals, stalled, reconnecting) releases
// nothing then: no frame, no job (not a dropped job); its tasks take the next frame that
// comes, once each, without catching up on the periods they missed.
//
// Stopping has two halves, so that the agent's loop never waits for the network:
// request_stop() at the drain's start (the capture thread ends, a stream's reader is asked
// to stop; no wait on the reader), on every sensor, then stop() after the loop, which waits
// for the readers: they were all asked first, so their waits overlap instead of adding up.
class SensorThread {
 public:
  SensorThread(uint32_t index, const config::SensorConfig& sensor, std::unique_ptr<FrameSource> source,
               std::vector<uint32_t> tasks, Duration period, const config::NodeConfig& config,
               Accounting& accounting, Pipeline& pipeline, const Clock& clock, NodeMetrics& metrics,
               uint32_t metrics_index)
      : index_(index), sensor_(sensor), source_(std::move(source)), tasks_(std::move(tasks)),
        period_(period), config_(config), accounting_(accounting), pipeline_(pipeline), clock_(clock),
        metrics_(metrics), metrics_index_(metrics_index) {}

  Duration phase() const { return sensor_.phase; }
  bool live() const { return source_->stream_stats().has_value(); }
  void start(TimePoint first) {
    source_->start();  // a stream starts reading now, not while the models were profiled
    thread_ = std::thread([this, first] { run(first); });
  }
  // No frame is taken once this returns; a live source's reader is asked to stop, not
  // waited for. Idempotent.
  void request_stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();  // at most one tick's work: next() never blocks
    source_->request_stop();
  }
  // request_stop(), then waits for a live source's reader (up to its open or stall timeout,
  // node/stream_source.h) and gives the metrics its last counts. Idempotent.
  void stop() {
    request_stop();
    source_->stop();
    update_metrics();
    log_events();
  }

  // For summary.json's "sensors": the capture ticks that found no new frame, and a live
  // source's counters. REQUIRES: stopped (or never started).
  nlohmann::json summary() const {
    nlohmann::json out = {{"sensor", sensor_.name}, {"ticks_without_frame", ticks_without_frame_}};
    if (const auto stats = source_->stream_stats()) {
      out["stream"] = {{"url", sensor_.stream.url},
                       {"frames", stats->frames},
                       {"handed_out", stats->handed_out},
                       {"connects", stats->connects},
                       {"failed_opens", stats->failed_opens},
                       {"drops", stats->drops},
                       {"stalls", stats->stalls},
                       {"longest_gap_s", stats->longest_gap_s},
                       {"age_ms", {{"mean", aged_ > 0 ? to_ms(age_sum_) / static_cast<double>(aged_) : 0.0},
                                   {"max", to_ms(age_max_)}}}};
    }
    return out;
  }

 private:
  void run(TimePoint first) {
    std::vector<TimePoint> next_due(tasks_.size(), first);
    std::vector<ipc::JobRef> jobs;
    uint64_t sequence = 0;
    uint64_t bad_frames = 0;
    for (TimePoint tick = first;; tick += period_) {
      {
        std::unique_lock lock(mu_);
        const auto wait = tick - clock_.now();
        if (wait > Duration(0)) cv_.wait_for(lock, wait, [&] { return stop_; });
        if (stop_) return;
      }
      auto frame = source_->next();
      log_events();
      const bool no_frame = frame.ok() && !frame->has_value();
      if (no_frame) ++ticks_without_frame_;  // a live source with nothing new: no frame, so no job
      if (frame.ok() && !no_frame) ++frames_taken_;
      update_metrics();
      if (no_frame) continue;
      // The frame's identity, from the agent's own source (a worker never names it).
      FrameIdentity identity;
      identity.sensor = index_;
      // Every frame taken from the source has its own number, a bad one too: the next
      // good frame must not reuse a bad frame's (whose jobs were released and dropped).
      identity.sequence = sequence++;
      const FrameOrigin origin = source_->origin();
      identity.file = origin.file;
      identity.index = origin.index;
      identity.capture_unix_us = wall_ns(wall_now()) / 1000;
      if (origin.arrival_unix_ns >= 0) {
        // A stream's frame is stamped on arrival: that is when it was captured, as far as
        // the node can know (docs/schema/job-line.schema.json, frame).
        identity.stamp_ns = origin.arrival_unix_ns;
        identity.capture_unix_us = origin.arrival_unix_ns / 1000;
        // How old the frame is when taken (both on the monotonic clock).
        const Duration age = clock_.now() - origin.arrival;
        age_sum_ += age;
        age_max_ = std::max(age_max_, age);
        ++aged_;
      }
      if (!frame.ok() && is_end_of_frames(frame.error())) {
        log(config_, "sensor " + sensor_.name + ": " + frame.error().message + "; it releases no more jobs");
        return;
      }
      jobs.clear();
      for (size_t i = 0; i < tasks_.size(); ++i) {
        // A task takes the frame once its own period has come round (half a sensor
        // period of slack, so a task as fast as the sensor takes every frame).
        if (tick + period_ / 2 < next_due[i]) continue;
        next_due[i] += config_.tasks[tasks_[i]].period;
        // After periods without a frame (a stream's outage) the task is not owed them: it
        // takes this frame and is due again one period on.
        if (next_due[i] <= tick) next_due[i] = tick + config_.tasks[tasks_[i]].period;
        const TaskSpec& task = config_.tasks[tasks_[i]];
        const Duration deadline = task.deadline.count() > 0 ? task.deadline : task.period;
        ipc::JobRef ref;
        ref.task = tasks_[i];
        ref.job = accounting_.release(tasks_[i], tick, tick + deadline, identity);
        ref.release_us = MonotonicClock::to_monotonic_us(tick);
        ref.deadline_us = MonotonicClock::to_monotonic_us(tick + deadline);
        if (!frame.ok()) {
          accounting_.drop(ref.job, DropCause::kBadFrame, clock_.now());
        } else if (const DropCause cause = pipeline_.task_unavailable(ref.task);
                   cause != DropCause::kNone) {
          // The task's worker or the server is restarting: the frame is lost to it.
          accounting_.drop(ref.job, cause, clock_.now());
        } else {
          jobs.push_back(ref);
        }
      }
      if (!frame.ok()) {
        if (++bad_frames <= 10) log(config_, "sensor " + sensor_.name + ": " + frame.error().message);
        continue;
      }
      if (!jobs.empty()) pipeline_.publish_frame(index_, **frame, identity.sequence, tick, jobs);
    }
  }

  void log_events() {
    for (const std::string& e : source_->take_events()) log(config_, "sensor " + sensor_.name + ": " + e);
  }

  // The sensor's Prometheus series, by what changed since the last call (counters only go
  // up). On the capture thread each tick, and in stop() once it has ended: never at once.
  void update_metrics() {
    Counts now;
    now.ticks = ticks_without_frame_;
    SensorDelta delta;
    if (const auto stats = source_->stream_stats()) {
      now.frames = stats->frames;
      now.stalls = stats->stalls;
      now.reconnects = stats->connects > 0 ? stats->connects - 1 : 0;
      delta.connected = stats->connected;
    } else {
      now.frames = frames_taken_;
    }
    delta.frames = now.frames - reported_.frames;
    delta.ticks_without_frame = now.ticks - reported_.ticks;
    delta.stalls = now.stalls - reported_.stalls;
    delta.reconnects = now.reconnects - reported_.reconnects;
    reported_ = now;
    metrics_.on_sensor(metrics_index_, delta);
  }

  uint32_t index_;
  const config::SensorConfig& sensor_;
  std::unique_ptr<FrameSource> source_;
  std::vector<uint32_t> tasks_;
  Duration period_;
  const config::NodeConfig& config_;
  Accounting& accounting_;
  Pipeline& pipeline_;
  const Clock& clock_;
  NodeMetrics& metrics_;
  uint32_t metrics_index_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  // Written by the thread, read after stop(): captures that found no new frame; the age of
  // the live frames taken (from their arrival to their capture).
  uint64_t ticks_without_frame_ = 0;
  Duration age_sum_{}, age_max_{};
  uint64_t aged_ = 0;
  // For update_metrics: frames a replayed source gave, and the counts already reported.
  struct Counts {
    uint64_t frames = 0, ticks = 0, stalls = 0, reconnects = 0;
  };
  uint64_t frames_taken_ = 0;
  Counts reported_;
};

// What the config says about a model's classes against what its file says: a labels file
// must name every class (count = the output's classes), and NMS applies to detectors only.
Status check_labels_and_thresholds(const config::NodeConfig& config, const ModelShapes& shapes) {
  for (size_t m = 0; m < config.models.size(); ++m) {
    if (m >= config.model_labels.size() || config.model_labels[m].empty()) continue;
    const auto& out = shapes.outputs[m];
    int64_t classes = -1;
    if (shapes.kinds[m] == "classification" && out.size() == 1) classes = out[0];
    if (shapes.kinds[m] == "detection" && out.size() == 2) classes = out[1] - 5;
    if (shapes.kinds[m] == "segmentation") classes = shapes.classes[m];
    const size_t names = config.model_labels[m].size();
    if (classes >= 0 && static_cast<int64_t>(names) != classes) {
      return Error{ErrorCode::kInvalidInput,
                   "model " + config.models[m].name + ": its labels file " + config.model_labels_files[m] + " names " +
                       std::to_string(names) + " classes, but " + config.model_files[m] + " has " +
                       std::to_string(classes) + " (output item " + infer::shape_string(out) + ", " +
                       shapes.kinds[m] + "): one name per class, line N naming class N-1"};
    }
  }
  for (size_t t = 0; t < config.tasks.size(); ++t) {
    const ModelIndex m = config.tasks[t].model;
    if (config.task_runtime[t].nms_iou && shapes.kinds[m] != "detection") {
      return Error{ErrorCode::kInvalidInput,
                   "task " + config.tasks[t].name + ": nms_iou is for detection models; model " +
                       config.models[m].name + " is " +
                       (shapes.kinds[m].empty() ? std::string("neither a classifier nor a detector") : shapes.kinds[m])};
    }
    if (config.task_runtime[t].masks != config::MaskOutput::kNone && shapes.kinds[m] != "segmentation") {
      return Error{ErrorCode::kInvalidInput,
                   "task " + config.tasks[t].name + ": masks: png is for segmentation models (an output [N, C, H, W]); model " +
                       config.models[m].name + " is " +
                       (shapes.kinds[m].empty() ? std::string("of no stock kind") : shapes.kinds[m])};
    }
  }
  return Ok{};
}

// "20261202T170138Z-3fa9c1" (node/core/job_line.h): the start time and random bits.
std::string new_run_id() {
  std::random_device random;
  return make_run_id(wall_now(), random());
}

uint64_t shm_bytes_needed(const config::NodeConfig& config, const ModelShapes& shapes) {
  // Generous: the segment's pools (ipc/node_topology.cc) with room to spare.
  uint64_t bytes = 64ull << 20;
  for (const config::SensorConfig& s : config.sensors) {
    const bool known = s.kind == config::SensorKind::kSynthetic || s.kind == config::SensorKind::kTopic;
    bytes += 24ull * static_cast<uint64_t>(known ? s.width : std::max(s.width, 1920)) *
             static_cast<uint64_t>(known ? s.height : std::max(s.height, 1080)) * 3;
  }
  for (size_t m = 0; m < shapes.inputs.size(); ++m) {
    uint64_t in = 4, out = 4;
    for (int64_t d : shapes.inputs[m]) in *= static_cast<uint64_t>(d);
    for (int64_t d : shapes.outputs[m]) out *= static_cast<uint64_t>(d);
    bytes += (in + out) * 64 * config.tasks.size();
  }
  return bytes;
}

int count_open_fds() {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

// How often RUN_DIR/metrics.prom is rewritten during a run: node_exporter's textfile
// collector reads it at each scrape (typically every 15 s or more), so a few seconds is
// fresh enough, and the write costs one small file per interval.
constexpr Duration kMetricsFileEvery = std::chrono::seconds(5);

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

}  // namespace

int run_node_agent(const AgentOptions& options) {
  // The agent's own copy: measured profiles go into it, and it is what the inference
  // server is handed (ipc_pipeline.cc), so both run on the same structs.
  config::NodeConfig config = options.config;
  const bool ipc_mode = config.isolation != config::Isolation::kNone;
  auto fail = [&](const std::string& message) {
    log(config, "error: " + message);
    return 1;
  };

  auto shapes = read_shapes(config);
  if (!shapes.ok()) return fail(shapes.error().message);
  if (Status st = check_labels_and_thresholds(config, *shapes); !st.ok()) return fail(st.error().message);
  if (ipc_mode) {
    // First of all, while single-threaded (see os/private_mounts.h).
    if (Status st = os::enter_private_mounts(shm_bytes_needed(config, *shapes)); !st.ok()) {
      return fail(st.error().message);
    }
  }
  // The sensors' sources, before any process starts and before the models are profiled
  // (minutes, without `profiles:`): a missing or empty folder, an unreadable video, fail
  // here, at once, and touch no file. Opened, not started: a stream reads nothing until its
  // sensor starts (SensorThread::start), so it does not compete with the profiling.
  std::vector<std::pair<uint32_t, std::unique_ptr<FrameSource>>> sources;
  for (uint32_t s = 0; s < config.sensors.size(); ++s) {
    const config::SensorConfig& sensor = config.sensors[s];
    if (sensor.kind == config::SensorKind::kTopic) continue;  // fed by the feed (node/feed.h)
    bool used = false;
    for (uint32_t t = 0; t < config.tasks.size(); ++t) used |= config.task_runtime[t].sensor == s;
    if (!used) continue;
    auto source = open_frame_source(sensor);
    // open_frame_source's message names the sensor already ("sensor 'street': ...").
    if (!source.ok()) return fail(source.error().message);
    sources.emplace_back(s, std::move(*source));
  }

  std::vector<std::string> task_names, model_names;
  std::vector<MetricsTask> metrics_tasks;
  // A task takes one frame per period from a topic (TopicSampler), and counts the others
  // as skipped: a node's topic sensors, a cluster task on an external driver's topic.
  auto sampled = [&](uint32_t t) {
    return config.sensors[config.task_runtime[t].sensor].kind == config::SensorKind::kTopic &&
           (!options.feed.plans_tasks || !config.tasks[t].topic.empty());
  };
  for (uint32_t i = 0; i < config.tasks.size(); ++i) {
    const TaskSpec& t = config.tasks[i];
    task_names.push_back(t.name);
    metrics_tasks.push_back({t.name, config.models[t.model].name, t.epsilon, sampled(i)});
  }
  for (const auto& m : config.models) model_names.push_back(m.name);
  std::vector<MetricsSensor> metrics_sensors;  // one per source, in `sources`' order
  for (const auto& [s, source] : sources) {
    metrics_sensors.push_back({config.sensors[s].name, config.sensors[s].kind == config::SensorKind::kStream});
  }
  // Then the topic sensors that a task uses, fed by the feed: frames received, rejected.
  std::vector<int32_t> metrics_sensor(config.sensors.size(), -1);
  for (uint32_t s = 0; s < config.sensors.size(); ++s) {
    bool used = false;
    for (const config::TaskRuntime& r : config.task_runtime) used |= r.sensor == s;
    if (!used || config.sensors[s].kind != config::SensorKind::kTopic || !options.feed.start) continue;
    metrics_sensor[s] = static_cast<int32_t>(metrics_sensors.size());
    metrics_sensors.push_back({config.sensors[s].name, false, true});
  }
  NodeMetrics metrics(config.name, std::move(metrics_tasks), model_names, std::move(metrics_sensors));
  // Bound before the models are profiled (minutes, without `profiles:`): a port in use
  // fails at once. The series exist from the start, at zero (rate() needs that).
  if (config.metrics_port > 0) {
    const std::string listen = config::listen_spec(config.metrics_address, config.metrics_port);
    if (Status st = metrics.serve(listen); !st.ok()) return fail(st.error().message);
    log(config, "metrics on http://" + listen + "/metrics");
  }
  // RUN_DIR/metrics.prom, rewritten every kMetricsFileEvery and at the end, atomically
  // (NodeMetrics::write_file): node_exporter's textfile collector can read it any time.
  const std::string metrics_file = config.run_dir + "/metrics.prom";
  bool metrics_file_failed = false;
  auto write_metrics_file = [&] {
    if (Status st = metrics.write_file(metrics_file); !st.ok() && !metrics_file_failed) {
      log(config, "warning: " + st.error().message + " (said once; the run goes on)");
      metrics_file_failed = true;
    }
  };
  std::error_code ec;
  std::filesystem::create_directories(config.run_dir, ec);
  if (ec) return fail("cannot create run_dir " + config.run_dir + ": " + ec.message());

  auto measured_profiles = measure_profiles(options, config);  // written once the run has started
  if (!measured_profiles.ok()) return fail(measured_profiles.error().message);
  const Scenario scenario = node_scenario(config);

  MonotonicClock clock;
  const TimePoint epoch = clock.now();
  // Opened once the run has started (below); declared first, so that it outlives every
  // user of the accounting (the pipeline's threads close jobs until it is destroyed).
  std::unique_ptr<JobLog> job_log;
  // Before any batch can run (the observer is not synchronised with on_batch).
  const bool cluster_node = options.feed.plans_tasks;
  ProfileMonitor profile_monitor(config, metrics, clock, reprofile_command(config, options.coedge_exe, cluster_node),
                                 cluster_node);
  metrics.set_batch_observer(
      [&profile_monitor](uint32_t m, int b, Duration d) { profile_monitor.on_batch(m, b, d); });
  Accounting accounting(config, scenario, metrics, nullptr, epoch);
  // The one writer of every task's results (RUN_DIR/results/<task>.jsonl), in every
  // isolation mode. Its files, and the jobs file, are opened only once the run has started
  // (below): a run that fails to start leaves the previous run's files as they were.
  std::unique_ptr<ResultLog> results = ResultLog::create(config.run_dir, task_names, accounting.ledger());

  PipelineContext ctx;
  ctx.config = &config;
  ctx.scenario = &scenario;
  ctx.accounting = &accounting;
  ctx.results = results.get();
  ctx.metrics = &metrics;
  ctx.clock = &clock;
  ctx.coedge_exe = options.coedge_exe;
  ctx.worker_exe = options.worker_exe;
  for (size_t t = 0; t < config.tasks.size(); ++t) {
    ctx.task_kinds.push_back(shapes->kinds[scenario.tasks[t].model]);
  }
  ctx.input_shapes = shapes->inputs;
  ctx.restart_backoff_max = options.restart_backoff_max;
  ctx.launcher = options.launcher;
  ctx.output_shapes = shapes->outputs;
  auto pipeline = ipc_mode ? make_ipc_pipeline(ctx) : make_in_process_pipeline(ctx);
  log(config, "starting " + std::to_string(config.tasks.size()) + " tasks, " +
                  std::to_string(config.models.size()) + " models, scheduler " + config.scheduler.text() +
                  ", isolation " +
                  (config.isolation == config::Isolation::kSandbox ? "sandbox"
                   : config.isolation == config::Isolation::kProcess ? "process" : "none"));
  if (Status st = pipeline->start(); !st.ok()) {
    pipeline->stop();
    return fail(st.error().message);
  }
  if (!options.feed.plans_tasks) {
    // A node of its own runs every task of its config; a cluster node the plan's only
    // (the cluster feed activates them as plans come).
    for (uint32_t t = 0; t < config.tasks.size(); ++t) pipeline->activate(t);
    if (Status st = pipeline->wait_ready(std::chrono::seconds(120)); !st.ok()) {
      pipeline->stop();
      return fail(st.error().message);
    }
  }

  // Sensors: each at its own period, or its fastest task's.
  std::vector<std::unique_ptr<SensorThread>> sensors;
  for (auto& [s, source] : sources) {
    const config::SensorConfig& sensor = config.sensors[s];
    std::vector<uint32_t> tasks;
    Duration fastest = Duration::max();
    for (uint32_t t = 0; t < config.tasks.size(); ++t) {
      if (config.task_runtime[t].sensor == s) {
        tasks.push_back(t);
        fastest = std::min(fastest, config.tasks[t].period);
      }
    }
    log(config, "sensor " + sensor.name + ": " + source->describe());
    const Duration period = sensor.period.count() > 0 ? sensor.period : fastest;
    const auto metrics_index = static_cast<uint32_t>(sensors.size());
    sensors.push_back(std::make_unique<SensorThread>(s, sensor, std::move(source), tasks, period, config,
                                                     accounting, *pipeline, clock, metrics, metrics_index));
  }

  // The run has started: now its files. Results and jobs are appended, each line tagged
  // with this run's id (docs/NODE_CONFIG.md, "Results").
  RunContext run;
  run.run_id = new_run_id();
  run.node = config.name;
  run.epoch = epoch;
  run.tasks = task_names;
  for (const config::SensorConfig& sensor : config.sensors) run.sensors.push_back(sensor.name);
  if (!config.jobs_jsonl.empty()) {
    auto opened = JobLog::open(config.jobs_jsonl);
    if (!opened.ok()) {
      pipeline->stop();
      return fail(opened.error().message);
    }
    job_log = std::move(*opened);
  }
  if (Status st = results->open_files(run); !st.ok()) {
    pipeline->stop();
    return fail(st.error().message);
  }
  if (Status st = write_measured_profiles(config, *measured_profiles); !st.ok()) {
    pipeline->stop();
    return fail(st.error().message);
  }
  accounting.start_writing(run, job_log.get(), results.get());
  log(config, "run " + run.run_id + ": results appended to " + config.run_dir + "/results/<task>.jsonl" +
                  (config.jobs_jsonl.empty() ? std::string() : ", jobs to " + config.jobs_jsonl));

  std::unique_ptr<Feed> feed;
  if (options.feed.start) {
    FeedContext feed_context;
    feed_context.config = &config;
    feed_context.accounting = &accounting;
    feed_context.pipeline = pipeline.get();
    feed_context.clock = &clock;
    feed_context.results = results.get();
    feed_context.metrics = &metrics;
    feed_context.task_kinds = ctx.task_kinds;
    feed_context.metrics_sensor = metrics_sensor;
    auto started = options.feed.start(feed_context);
    if (!started.ok()) {
      pipeline->stop();
      return fail(started.error().message);
    }
    feed = std::move(*started);
    if (!options.feed.started.empty()) log(config, options.feed.started);
  }
  const TimePoint start = clock.now() + std::chrono::milliseconds(100);
  profile_monitor.set_start(start);
  for (size_t i = 0; i < sensors.size(); ++i) sensors[i]->start(start + sensors[i]->phase());
  log(config, config.duration.count() > 0 ? "running for " + format_duration(config.duration)
                                          : "running until Ctrl-C");

  // What happens when (sweeps, crashes, progress, the stop and the drain) is decided by the
  // loop's core (core/agent_loop.h); this driver feeds it the clock, the stop sources and
  // the open jobs, and carries out what it says.
  AgentLoopConfig loop_config;
  loop_config.duration = config.duration;
  loop_config.progress_every = options.progress_every;
  loop_config.crash_every = options.crash_every;
  loop_config.crash_for = options.crash_for;
  for (const TaskSpec& t : scenario.tasks) {
    loop_config.longest_deadline = std::max(loop_config.longest_deadline, t.deadline);
  }
  AgentLoop loop(loop_config, start);
  TimePoint next_metrics_file = start;
  int crashes_injected = 0;
  PipelineHealth health_at_start = pipeline->health();
  health_at_start.agent_fds = count_open_fds();
  // Where the run's duration ends: the tick that began the drain, taken before the sensors
  // are stopped, so that no wait of theirs counts as running time.
  TimePoint run_end{};
  auto progress_line = [&](TimePoint now) {
    const TaskTotals t = accounting.ledger().totals();
    char line[256];
    std::snprintf(line, sizeof line,
                  "%5.0fs: released %llu, met %llu, overdue %llu, dropped %llu (miss %.2f%%), open %zu",
                  to_s(now - start), static_cast<unsigned long long>(t.released),
                  static_cast<unsigned long long>(t.met), static_cast<unsigned long long>(t.overdue),
                  static_cast<unsigned long long>(t.dropped), 100 * t.miss_rate(),
                  accounting.ledger().open());
    log(config, line);
  };
  for (;;) {
    const TimePoint now = clock.now();
    if (loop.phase() == AgentPhase::kRunning) {
      // The feed is polled only while running: once its frames are refused it has nothing
      // more to say than its final report.
      if (feed && feed->poll(now)) loop.request_stop();  // the master says stop
      if (options.stop != nullptr && options.stop->load()) loop.request_stop();
    }
    const AgentActions act = loop.tick(now, accounting.ledger().open());
    if (act.sweep) {
      accounting.expire(now, loop.expiry_grace());
      accounting.refresh_gauges(now);
    }
    if (act.inject_crash) {
      crashes_injected +=
          pipeline->inject_crash(options.crash_server ? CrashTarget::kServer : CrashTarget::kWorker) ? 1 : 0;
    }
    if (act.progress_line) progress_line(now);
    if (now >= next_metrics_file) {
      write_metrics_file();
      next_metrics_file = now + kMetricsFileEvery;
    }
    if (act.stop_sources) {
      // Stop releasing; the core then lets the jobs in flight finish.
      run_end = now;
      log(config, "stopping: no new frames; finishing the jobs in flight");
      // The first half of the sensors' stop (SensorThread): nothing here waits for a
      // stream's reader, so the loop goes on polling the pipeline and the stop flag.
      for (auto& s : sensors) s->request_stop();
      if (feed) feed->stop_accepting();
    }
    if (act.finish) break;
    // Between ticks, the pipeline's news (jobs closing, processes exiting), never past
    // the core's wake_at; and at most 50 ms while running, so that the stop flag and the
    // feed are looked at that often, 20 ms while draining, so that the drain ends soon
    // after the last job closes.
    const Duration cap = std::chrono::milliseconds(loop.phase() == AgentPhase::kRunning ? 50 : 20);
    pipeline->poll(act.wake_at >= now + cap ? cap : std::max(Duration(0), act.wake_at - now));
  }
  // One more look at the pipeline's news before measuring what is left (health below):
  // the jobs that closed in the last tick release their frames at the pipeline's next poll.
  pipeline->poll(Duration(0));
  PipelineHealth health_at_end = pipeline->health();
  health_at_end.agent_fds = count_open_fds();
  pipeline->stop();
  // Frames are the agent's own: once the workers are gone every hold is released, also
  // those of jobs a worker still held when the run ended (a worker stuck in its code).
  health_at_end.frame_chunks_in_use = pipeline->health().frame_chunks_in_use;
  accounting.close_all(DropCause::kShutdown, clock.now());
  accounting.refresh_gauges(clock.now());
  Feed::Counts feed_counts;
  if (feed) {
    feed->final_report();
    feed_counts = feed->counts();
    feed.reset();
  }
  if (job_log) job_log->flush();
  // The second half: wait for the stream readers, all asked to stop at the drain's start.
  // One blocked in FFmpeg returns within its open or stall timeout (node/stream_source.h).
  size_t live = 0;
  for (const auto& s : sensors) live += s->live() ? 1 : 0;
  if (live > 0) log(config, "waiting for " + std::to_string(live) + " stream reader(s) to stop");
  for (auto& s : sensors) s->stop();
  if (live > 0) log(config, "stream readers stopped");
  const Duration ran = std::max(Duration(0), run_end - start);

  // Summary: terminal table and JSON.
  const auto stats = accounting.task_stats();
  nlohmann::json summary;
  summary["node"] = config.name;
  summary["run_id"] = run.run_id;
  summary["results_dir"] = config.run_dir + "/results";
  summary["jobs_file"] = config.jobs_jsonl.empty() ? nlohmann::json(nullptr) : nlohmann::json(config.jobs_jsonl);
  summary["line_schema"] = kLineSchema;
  summary["scheduler"] = config.scheduler.text();
  summary["isolation"] = config.isolation == config::Isolation::kSandbox ? "sandbox"
                         : config.isolation == config::Isolation::kProcess ? "process" : "none";
  summary["duration_s"] = to_s(ran);
  summary["tasks"] = nlohmann::json::array();
  // The table is the run's result: on stdout (options.table), the log lines on stderr.
  std::FILE* table = options.table;
  if (table != nullptr)
    std::fprintf(table, "\n%-16s %-14s %8s %8s %8s %8s %8s %9s %9s %9s %7s\n", "task", "model",
               "released", "met", "overdue", "dropped", "miss", "mean ms", "p50 ms", "p95 ms", "batch");
  uint64_t finished_all = 0;
  for (uint32_t t = 0; t < config.tasks.size(); ++t) {
    const TaskTotals tot = accounting.ledger().totals(t);
    const auto& st = stats[t];
    const double n = st.finished > 0 ? static_cast<double>(st.finished) : 1.0;
    double mean = 0;
    for (double v : st.latency_ms) mean += v;
    mean /= n;
    finished_all += st.finished;
    const double p50 = percentile(st.latency_ms, 0.5), p95 = percentile(st.latency_ms, 0.95);
    if (table != nullptr)
      std::fprintf(table, "%-16s %-14s %8llu %8llu %8llu %8llu %7.2f%% %9.1f %9.1f %9.1f %7.2f\n",
                 config.tasks[t].name.c_str(), config.models[config.tasks[t].model].name.c_str(),
                 static_cast<unsigned long long>(tot.released), static_cast<unsigned long long>(tot.met),
                 static_cast<unsigned long long>(tot.overdue), static_cast<unsigned long long>(tot.dropped),
                 100 * tot.miss_rate(), mean, p50, p95, static_cast<double>(st.batch_sum) / n);
    const ResultLog::Counts written = results->counts(t);
    summary["tasks"].push_back({{"task", config.tasks[t].name},
                                {"model", config.models[config.tasks[t].model].name},
                                {"released", tot.released},
                                {"met", tot.met},
                                {"overdue", tot.overdue},
                                {"dropped", tot.dropped},
                                {"miss_rate", tot.miss_rate()},
                                {"latency_ms", {{"mean", mean}, {"p50", p50}, {"p95", p95},
                                                {"p99", percentile(st.latency_ms, 0.99)}}},
                                {"stage_ms", {{"pre", st.pre_ms / n}, {"queue", st.queue_ms / n},
                                              {"inference", st.inference_ms / n}, {"post", st.post_ms / n}}},
                                {"mean_batch", static_cast<double>(st.batch_sum) / n},
                                {"results", {{"written", written.written}, {"refused", written.refused}}}});
    if (sampled(t) && t < feed_counts.skipped.size()) summary["tasks"].back()["frames_skipped"] = feed_counts.skipped[t];
  }
  const TaskTotals all = accounting.ledger().totals();
  if (table != nullptr)
    std::fprintf(table, "%-16s %-14s %8llu %8llu %8llu %8llu %7.2f%%\n", "all", "",
               static_cast<unsigned long long>(all.released), static_cast<unsigned long long>(all.met),
               static_cast<unsigned long long>(all.overdue), static_cast<unsigned long long>(all.dropped),
               100 * all.miss_rate());
  summary["totals"] = {{"released", all.released}, {"met", all.met}, {"overdue", all.overdue},
                       {"dropped", all.dropped}, {"miss_rate", all.miss_rate()},
                       {"accounted", all.closed() == all.released}};
  {
    nlohmann::json causes = nlohmann::json::object();
    const auto drops = accounting.drops_by_cause();
    for (size_t c = 0; c < drops.size(); ++c) {
      if (drops[c] > 0) causes[std::string(to_string(static_cast<DropCause>(c)))] = drops[c];
    }
    summary["dropped_by_cause"] = causes;
    nlohmann::json refused = nlohmann::json::object();
    const ResultLog::Counts all_results = results->counts();
    for (size_t r = 0; r < kResultRejections; ++r) {
      if (all_results.by_reason[r] > 0) {
        refused[result_rejection_name(static_cast<ResultRejection>(r))] = all_results.by_reason[r];
      }
    }
    summary["results_refused_by_reason"] = refused;
  }
  summary["health"] = {{"crashes_injected", crashes_injected},
                       {"worker_restarts", health_at_end.worker_restarts},
                       {"server_restarts", health_at_end.server_restarts},
                       {"protocol_violations", health_at_end.protocol_violations},
                       {"quarantined_tasks", health_at_end.quarantined_tasks},
                       {"agent_fds", {{"start", health_at_start.agent_fds}, {"end", health_at_end.agent_fds}}},
                       {"server_fds", {{"start", health_at_start.server_fds}, {"end", health_at_end.server_fds}}},
                       {"processes", {{"start", health_at_start.processes}, {"end", health_at_end.processes}}},
                       {"shm_files", {{"start", health_at_start.shm_files},
                                      {"end", health_at_end.shm_files}}},
                       {"chunks_in_use", {{"start", health_at_start.chunks_in_use},
                                          {"end", health_at_end.chunks_in_use}}},
                       {"frame_chunks_in_use", {{"start", health_at_start.frame_chunks_in_use},
                                                {"end", health_at_end.frame_chunks_in_use}}}};
  summary["profile_check"] = profile_monitor.summary(config.window);
  summary["sensors"] = nlohmann::json::array();
  for (const auto& s : sensors) summary["sensors"].push_back(s->summary());
  for (const Feed::SensorCounts& c : feed_counts.sensors) {
    nlohmann::json rejected = nlohmann::json::object();
    uint64_t rejected_all = 0;
    for (const auto& [reason, n] : c.rejected) {
      rejected[reason] = n;
      rejected_all += n;
    }
    const config::SensorConfig& sensor = config.sensors[c.sensor];
    summary["sensors"].push_back({{"sensor", sensor.name},
                                  {"topic", sensor.path},
                                  {"frames_received", c.received},
                                  {"frames_rejected", rejected_all},
                                  {"rejected_by_reason", rejected},
                                  {"frames_off_clock", c.off_clock}});
  }
  // Control samples the feed refused (a cluster node: node/cluster/sample_checks.h).
  summary["rejected_samples"] = nlohmann::json::object();
  uint64_t rejected_samples = 0;
  for (const Feed::RejectedSamples& r : feed_counts.rejected_samples) {
    summary["rejected_samples"][r.topic][r.reason] = r.count;
    rejected_samples += r.count;
  }
  summary["rejected_samples_total"] = rejected_samples;
  summary["throughput_ips"] = to_s(ran) > 0 ? static_cast<double>(finished_all) / to_s(ran) : 0.0;
  const std::string summary_path =
      options.summary_json.empty() ? config.run_dir + "/summary.json" : options.summary_json;
  std::ofstream(summary_path) << summary.dump(2) << "\n";
  write_metrics_file();
  log(config, "summary written to " + summary_path);
  pipeline->release_shared_memory();
  if (table != nullptr) std::fflush(table);
  if (config.metrics_port > 0 && config.metrics_linger.count() > 0) {
    // The final counters stay on /metrics for a last scrape (docs/METRICS.md); a stop
    // signal ends the wait.
    log(config, "metrics: serving the final counters for " + format_duration(config.metrics_linger));
    const TimePoint until = clock.now() + config.metrics_linger;
    while (clock.now() < until && !(options.stop != nullptr && options.stop->load())) {
      std::this_thread::sleep_for(std::min<Duration>(std::chrono::milliseconds(50), until - clock.now()));
    }
  }
  if (all.closed() != all.released) {
    (void)fail("accounting mismatch: released " + std::to_string(all.released) + ", closed " +
               std::to_string(all.closed()));
    return kRunUnaccounted;  // the run completed, with jobs unaccounted for
  }
  return 0;
}

}  // namespace coedge::node
