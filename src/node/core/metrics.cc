// NodeMetrics and JobLog. Every series a task or model can have is created up front in
// the constructor, so it is exported with value 0 from the start (rate() and absent()
// then work in Prometheus) and the event methods are a pointer lookup plus an atomic or
// locked update, with no label-map hashing on the hot path.
#include "node/core/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/build_info.h"

namespace coedge::node {
namespace {

// Seconds, 0.5 ms .. 10 s in 1-2.5-5 steps: inference and end-to-end latencies on edge
// devices are milliseconds to seconds; queueing and pre-processing can be sub-millisecond.
const prometheus::Histogram::BucketBoundaries& seconds_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& batch_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  return kBuckets;
}

// Duration between two stamps, or nothing if the job did not reach both.
bool span(TimePoint from, TimePoint to, double* seconds) {
  if (!JobRecord::reached(from) || !JobRecord::reached(to)) return false;
  *seconds = to_s(to - from);
  return true;
}

void append_time(std::string& out, std::string_view key, TimePoint t, bool reached) {
  out += ",\"";
  out += key;
  out += "\":";
  if (!reached) {
    out += "null";
    return;
  }
  // Integer formatting of microseconds: exact, and no locale or float rounding surprises.
  const int64_t us = t.time_since_epoch().count();
  const uint64_t mag = us < 0 ? static_cast<uint64_t>(-(us + 1)) + 1 : static_cast<uint64_t>(us);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%06llu", us < 0 ? "-" : "",
                static_cast<unsigned long long>(mag / 1000000),
                static_cast<unsigned long long>(mag % 1000000));
  out += buf;
}

}  // namespace

NodeMetrics::NodeMetrics(std::string node, std::vector<MetricsTask> tasks,
                         std::vector<std::string> models, std::vector<MetricsSensor> sensors)
    : node_(std::move(node)),
      tasks_(std::move(tasks)),
      models_(std::move(models)),
      registry_(std::make_shared<prometheus::Registry>()) {
  const prometheus::Labels node_label = {{"node", node_}};
  // Info metrics (value 1, facts in labels): join them in queries with `* on(...)
  // group_left(...)`, e.g. a task's model onto its latency.
  const BuildInfo build = build_info();
  prometheus::BuildGauge()
      .Name("coedge_build_info")
      .Help("The CoEdge build this process runs (value 1; version and git revision in labels)")
      .Labels(node_label)
      .Register(*registry_)
      .Add({{"version", std::string(build.version)}, {"revision", std::string(build.revision)}})
      .Set(1);
  auto& task_info = prometheus::BuildGauge()
                        .Name("coedge_task_info")
                        .Help("A task of this node (value 1) and the model that runs it")
                        .Labels(node_label)
                        .Register(*registry_);
  auto& miss_target = prometheus::BuildGauge()
                          .Name("coedge_task_miss_ratio_target")
                          .Help("The task's tolerable miss ratio (its epsilon): the highest "
                                "fraction of jobs that may miss their deadline")
                          .Labels(node_label)
                          .Register(*registry_);
  auto& released = prometheus::BuildCounter()
                       .Name("coedge_jobs_released_total")
                       .Help("Jobs (frames of a task) released to the node")
                       .Labels(node_label)
                       .Register(*registry_);
  finished_family_ = &prometheus::BuildCounter()
                          .Name("coedge_jobs_finished_total")
                          .Help("Jobs closed, by outcome: met or overdue deadline, or dropped "
                                "(dropped ones by reason); every released job is counted once")
                          .Labels(node_label)
                          .Register(*registry_);
  auto& latency = prometheus::BuildHistogram()
                      .Name("coedge_job_latency_seconds")
                      .Help("End-to-end latency (end - release) of jobs that finished (met "
                            "or overdue)")
                      .Labels(node_label)
                      .Register(*registry_);
  auto& stage = prometheus::BuildHistogram()
                    .Name("coedge_job_stage_seconds")
                    .Help("Time a job spent in each stage it reached: pre-processing, "
                          "queue (pre end to batch start), inference (its batch), "
                          "post-processing")
                    .Labels(node_label)
                    .Register(*registry_);
  auto& miss_ratio = prometheus::BuildGauge()
                         .Name("coedge_task_miss_ratio")
                         .Help("Fraction of a task's jobs that missed their deadline (overdue "
                               "or dropped) over the node's rolling window")
                         .Labels(node_label)
                         .Register(*registry_);
  restarts_family_ = &prometheus::BuildCounter()
                          .Name("coedge_worker_restarts_total")
                          .Help("Restarts of a task's pre- or post-processing worker")
                          .Labels(node_label)
                          .Register(*registry_);
  auto& violations = prometheus::BuildCounter()
                         .Name("coedge_node_protocol_violations_total")
                         .Help("Protocol violations by a task's pre or post worker, by kind; each "
                               "kills the worker (one kill per worker until its replacement runs)")
                         .Labels(node_label)
                         .Register(*registry_);
  auto& quarantined = prometheus::BuildGauge()
                          .Name("coedge_node_task_quarantined")
                          .Help("1 while the task is quarantined for repeated protocol violations "
                                "(its jobs are dropped as protocol_violation), else 0")
                          .Labels(node_label)
                          .Register(*registry_);
  auto& batch_size = prometheus::BuildHistogram()
                         .Name("coedge_batch_size_jobs")
                         .Help("Jobs per inference batch")
                         .Labels(node_label)
                         .Register(*registry_);
  auto& inference = prometheus::BuildHistogram()
                        .Name("coedge_inference_seconds")
                        .Help("Duration of one batch's forward pass")
                        .Labels(node_label)
                        .Register(*registry_);
  auto& queue = prometheus::BuildGauge()
                    .Name("coedge_queue_jobs")
                    .Help("Jobs waiting for inference on a model")
                    .Labels(node_label)
                    .Register(*registry_);
  auto& profile_ratio = prometheus::BuildGauge()
                            .Name("coedge_model_profile_ratio")
                            .Help("Measured over profiled ExeTime of a model: the median of the first "
                                  "batches of each size over the profile's time for that size, the "
                                  "largest over the sizes judged so far; 0 before any is judged")
                            .Labels(node_label)
                            .Register(*registry_);
  auto& profile_warnings = prometheus::BuildCounter()
                               .Name("coedge_profile_warnings_total")
                               .Help("Batch sizes of a model whose measured times exceeded the "
                                     "profile by more than the node's profile_margin")
                               .Labels(node_label)
                               .Register(*registry_);
  auto& server_restarts = prometheus::BuildCounter()
                              .Name("coedge_server_restarts_total")
                              .Help("Restarts of the inference server")
                              .Labels(node_label)
                              .Register(*registry_);

  rejected_samples_ = &prometheus::BuildCounter()
                           .Name("coedge_node_rejected_samples_total")
                           .Help("Control samples the node received and refused (dropped unused), by topic "
                                 "and reason (docs/METRICS.md lists the reasons)")
                           .Labels(node_label)
                           .Register(*registry_);

  auto& sensor_frames = prometheus::BuildCounter()
                            .Name("coedge_sensor_frames_total")
                            .Help("Frames from a sensor: for a stream, the frames that arrived "
                                  "(decoded); for the others, the frames the node took")
                            .Labels(node_label)
                            .Register(*registry_);
  auto& sensor_idle = prometheus::BuildCounter()
                          .Name("coedge_sensor_ticks_without_frame_total")
                          .Help("Captures that found no new frame (a stream between arrivals, "
                                "stalled or reconnecting): no job was released for them")
                          .Labels(node_label)
                          .Register(*registry_);
  prometheus::Family<prometheus::Counter>* stream_stalls = nullptr;
  prometheus::Family<prometheus::Counter>* stream_reconnects = nullptr;
  prometheus::Family<prometheus::Gauge>* stream_connected = nullptr;
  const bool any_stream =
      std::any_of(sensors.begin(), sensors.end(), [](const MetricsSensor& s) { return s.stream; });
  prometheus::Family<prometheus::Counter>* topic_rejected = nullptr;
  if (std::any_of(sensors.begin(), sensors.end(), [](const MetricsSensor& s) { return s.topic; })) {
    topic_rejected = &prometheus::BuildCounter()
                          .Name("coedge_sensor_frames_rejected_total")
                          .Help("Frames of a topic sensor rejected, by reason: encoding (not bgr8, rgb8, "
                                "mono8, or a jpeg/png CompressedImage), size, too_large, corrupt")
                          .Labels(node_label)
                          .Register(*registry_);
  }
  prometheus::Family<prometheus::Counter>* skipped = nullptr;
  if (std::any_of(tasks_.begin(), tasks_.end(), [](const MetricsTask& t) { return t.sampled; })) {
    skipped = &prometheus::BuildCounter()
                   .Name("coedge_task_frames_skipped_total")
                   .Help("Frames of a topic that a task did not take (it takes one per period): "
                         "no job, not released")
                   .Labels(node_label)
                   .Register(*registry_);
  }
  if (any_stream) {  // a family without series would be a HELP line for nothing
    stream_stalls = &prometheus::BuildCounter()
                         .Name("coedge_sensor_stalls_total")
                         .Help("Outages of a stream sensor: stall_timeout without a frame, "
                               "one per outage however long")
                         .Labels(node_label)
                         .Register(*registry_);
    stream_reconnects = &prometheus::BuildCounter()
                             .Name("coedge_sensor_reconnects_total")
                             .Help("Reconnections of a stream sensor: connections after the first")
                             .Labels(node_label)
                             .Register(*registry_);
    stream_connected = &prometheus::BuildGauge()
                            .Name("coedge_sensor_connected")
                            .Help("1 while a stream sensor is connected, 0 while it connects, "
                                  "waits to reconnect, or is stopped")
                            .Labels(node_label)
                            .Register(*registry_);
  }

  server_restarts_ = &server_restarts.Add({});
  for (const MetricsSensor& sensor : sensors) {
    SensorSeries s;
    const prometheus::Labels labels = {{"sensor", sensor.name}};
    s.frames = &sensor_frames.Add(labels);
    if (!sensor.topic) s.ticks_without_frame = &sensor_idle.Add(labels);
    if (sensor.topic) {
      s.rejected = topic_rejected;
      s.name = sensor.name;
      for (const char* reason : {"encoding", "size", "too_large", "corrupt"}) {
        topic_rejected->Add({{"sensor", sensor.name}, {"reason", reason}});  // at zero from the start
      }
    }
    if (sensor.stream) {
      s.stalls = &stream_stalls->Add(labels);
      s.reconnects = &stream_reconnects->Add(labels);
      s.connected = &stream_connected->Add(labels);
    }
    sensor_series_.push_back(s);
  }
  for (const MetricsTask& t : tasks_) {
    const std::string& name = t.name;
    task_info.Add({{"task", name}, {"model", t.model}}).Set(1);
    miss_target.Add({{"task", name}}).Set(t.epsilon);
    TaskSeries s;
    s.released = &released.Add({{"task", name}});
    s.met = &finished_family_->Add({{"task", name}, {"outcome", "met"}});
    s.overdue = &finished_family_->Add({{"task", name}, {"outcome", "overdue"}});
    for (size_t r = 1; r < kReasons; ++r) {  // kNone is not a reason to drop: on demand only
      s.dropped[r] = &finished_family_->Add(
          {{"task", name},
           {"outcome", "dropped"},
           {"reason", std::string(to_string(static_cast<DropCause>(r)))}});
    }
    s.latency = &latency.Add({{"task", name}}, seconds_buckets());
    s.pre = &stage.Add({{"task", name}, {"stage", "pre"}}, seconds_buckets());
    s.queue = &stage.Add({{"task", name}, {"stage", "queue"}}, seconds_buckets());
    s.inference = &stage.Add({{"task", name}, {"stage", "inference"}}, seconds_buckets());
    s.post = &stage.Add({{"task", name}, {"stage", "post"}}, seconds_buckets());
    s.miss_rate = &miss_ratio.Add({{"task", name}});
    s.pre_restarts = &restarts_family_->Add({{"task", name}, {"role", "pre"}});
    s.post_restarts = &restarts_family_->Add({{"task", name}, {"role", "post"}});
    if (t.sampled) s.frames_skipped = &skipped->Add({{"task", name}});
    for (WorkerRole role : {WorkerRole::kPre, WorkerRole::kPost}) {
      for (size_t k = 0; k < kViolationKindCount; ++k) {
        s.violations[static_cast<size_t>(role)][k] =
            &violations.Add({{"task", name},
                             {"role", std::string(to_string(role))},
                             {"kind", std::string(to_string(static_cast<ViolationKind>(k)))}});
      }
    }
    s.quarantined = &quarantined.Add({{"task", name}});
    task_series_.push_back(s);
  }
  for (const std::string& name : models_) {
    ModelSeries s;
    s.batch_size = &batch_size.Add({{"model", name}}, batch_buckets());
    s.inference = &inference.Add({{"model", name}}, seconds_buckets());
    s.queue = &queue.Add({{"model", name}});
    s.profile_ratio = &profile_ratio.Add({{"model", name}});
    s.profile_warnings = &profile_warnings.Add({{"model", name}});
    model_series_.push_back(s);
  }
}

// Out of line: the Exposer must be destroyed (its HTTP threads joined) before the registry
// it scrapes, and prometheus::Exposer is only forward-declared in the header.
NodeMetrics::~NodeMetrics() {
  std::lock_guard lock(exposer_mutex_);
  exposer_.reset();
}

Status NodeMetrics::serve(const std::string& address) {
  std::lock_guard lock(exposer_mutex_);
  if (exposer_) {
    return Error{ErrorCode::kInvalidInput,
                 "metrics: cannot serve on " + address + ": already serving on port " +
                     std::to_string(exposer_->GetListeningPorts().front())};
  }
  try {
    // One HTTP thread is plenty for a scraper every few seconds.
    auto exposer = std::make_unique<prometheus::Exposer>(address, 1);
    exposer->RegisterCollectable(registry_);
    exposer_ = std::move(exposer);
  } catch (const std::exception& e) {
    // civetweb only says it could not start; in practice the cause is the address.
    return Error{ErrorCode::kIo,
                 "metrics: cannot serve /metrics on '" + address + "': " + e.what() +
                     " (is the port in use, or the address not one of this machine's?)"};
  }
  return Ok{};
}

int NodeMetrics::port() const {
  std::lock_guard lock(exposer_mutex_);
  if (!exposer_) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

const NodeMetrics::TaskSeries& NodeMetrics::task(uint32_t index) const {
  COEDGE_CHECK(index < task_series_.size());
  return task_series_[index];
}

const NodeMetrics::ModelSeries& NodeMetrics::model(uint32_t index) const {
  COEDGE_CHECK(index < model_series_.size());
  return model_series_[index];
}

void NodeMetrics::on_released(uint32_t t) { task(t).released->Increment(); }

void NodeMetrics::on_finished(const JobRecord& job) {
  COEDGE_CHECK(job.outcome != JobOutcome::kOpen);
  const TaskSeries& s = task(job.task);
  switch (job.outcome) {
    case JobOutcome::kMet: s.met->Increment(); break;
    case JobOutcome::kOverdue: s.overdue->Increment(); break;
    case JobOutcome::kDropped: {
      const auto r = static_cast<size_t>(job.reason);
      COEDGE_CHECK(r < kReasons);
      if (s.dropped[r] != nullptr) {
        s.dropped[r]->Increment();
      } else {  // a drop without a reason: still counted, under reason="none"
        finished_family_
            ->Add({{"task", tasks_[job.task].name}, {"outcome", "dropped"}, {"reason", "none"}})
            .Increment();
      }
      break;
    }
    case JobOutcome::kOpen: break;
  }
  double seconds = 0;
  if (job.outcome != JobOutcome::kDropped && span(job.release, job.end, &seconds)) {
    s.latency->Observe(seconds);
  }
  if (span(job.pre_start, job.pre_end, &seconds)) s.pre->Observe(seconds);
  if (span(job.pre_end, job.infer_start, &seconds)) s.queue->Observe(seconds);
  if (span(job.infer_start, job.infer_end, &seconds)) s.inference->Observe(seconds);
  if (span(job.post_start, job.post_end, &seconds)) s.post->Observe(seconds);
}

void NodeMetrics::on_batch(uint32_t m, int batch_size, Duration forward_time) {
  const ModelSeries& s = model(m);
  s.batch_size->Observe(batch_size);
  s.inference->Observe(to_s(forward_time));
  if (batch_observer_) batch_observer_(m, batch_size, forward_time);
}

void NodeMetrics::on_sensor(uint32_t index, const SensorDelta& delta) {
  COEDGE_CHECK(index < sensor_series_.size());
  const SensorSeries& s = sensor_series_[index];
  s.frames->Increment(static_cast<double>(delta.frames));
  if (s.ticks_without_frame != nullptr) s.ticks_without_frame->Increment(static_cast<double>(delta.ticks_without_frame));
  if (s.stalls != nullptr) {
    s.stalls->Increment(static_cast<double>(delta.stalls));
    s.reconnects->Increment(static_cast<double>(delta.reconnects));
    s.connected->Set(delta.connected ? 1 : 0);
  }
}

void NodeMetrics::on_frame_rejected(uint32_t index, std::string_view reason) {
  COEDGE_CHECK(index < sensor_series_.size());
  const SensorSeries& s = sensor_series_[index];
  COEDGE_CHECK(s.rejected != nullptr);
  s.rejected->Add({{"sensor", s.name}, {"reason", std::string(reason)}}).Increment();
}

void NodeMetrics::on_sample_rejected(SampleTopic topic, SampleRejection reason, uint64_t n) {
  rejected_samples_->Add({{"topic", std::string(to_string(topic))}, {"reason", std::string(to_string(reason))}})
      .Increment(static_cast<double>(n));
}

void NodeMetrics::declare_rejected_samples(std::span<const SampleTopic> topics) {
  for (const SampleTopic topic : topics) {
    for (int r = 1; r < kSampleRejectionCount; ++r) {
      rejected_samples_->Add({{"topic", std::string(to_string(topic))},
                              {"reason", std::string(to_string(static_cast<SampleRejection>(r)))}});
    }
  }
}

void NodeMetrics::on_frame_skipped(uint32_t t) {
  COEDGE_CHECK(task(t).frames_skipped != nullptr);
  task(t).frames_skipped->Increment();
}

void NodeMetrics::set_profile_ratio(uint32_t m, double ratio) { model(m).profile_ratio->Set(ratio); }

void NodeMetrics::on_profile_warning(uint32_t m) { model(m).profile_warnings->Increment(); }

void NodeMetrics::set_queue_length(uint32_t m, size_t jobs) {
  model(m).queue->Set(static_cast<double>(jobs));
}

void NodeMetrics::set_window_miss_rate(uint32_t t, double ratio) { task(t).miss_rate->Set(ratio); }

void NodeMetrics::on_worker_restart(uint32_t t, std::string_view role) {
  const TaskSeries& s = task(t);
  if (role == "pre") {
    s.pre_restarts->Increment();
  } else if (role == "post") {
    s.post_restarts->Increment();
  } else {  // not expected, but a restart is worth counting under whatever role it had
    restarts_family_->Add({{"task", tasks_[t].name}, {"role", std::string(role)}}).Increment();
  }
}

void NodeMetrics::on_server_restart() { server_restarts_->Increment(); }

void NodeMetrics::on_protocol_violation(uint32_t t, WorkerRole role, ViolationKind kind) {
  const auto r = static_cast<size_t>(role);
  const auto k = static_cast<size_t>(kind);
  COEDGE_CHECK(r < 2 && k < kViolationKindCount);
  task(t).violations[r][k]->Increment();
}

void NodeMetrics::set_quarantined(uint32_t t, bool quarantined) {
  task(t).quarantined->Set(quarantined ? 1 : 0);
}

std::string NodeMetrics::text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

Status NodeMetrics::write_file(const std::string& path) const {
  const std::string text = this->text();
  // Same folder (rename is atomic only within one file system); the pid keeps two agents
  // that share a run_dir by mistake from renaming each other's half-written file.
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{ErrorCode::kIo, "metrics file " + temp + ": cannot create: " + std::strerror(errno)};
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "short write";
      ::close(fd);
      ::unlink(temp.c_str());
      return Error{ErrorCode::kIo, "metrics file " + temp + ": cannot write: " + why};
    }
    done += static_cast<size_t>(n);
  }
  // No fsync: the file is a snapshot rewritten every few seconds; after a crash of the
  // machine, an older or empty one costs nothing that the next write does not restore.
  if (::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return Error{ErrorCode::kIo, "metrics file " + temp + ": cannot write: " + why};
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return Error{ErrorCode::kIo, "metrics file: cannot rename " + temp + " to " + path + ": " + why};
  }
  return Ok{};
}

std::string job_json(const JobRecord& job, std::string_view node, std::string_view task) {
  using nlohmann::json;
  using R = JobRecord;
  std::string out = "{\"node\":";
  // Names may need escaping; bytes that are not UTF-8 become U+FFFD (dump() would throw).
  out += json(std::string(node)).dump(-1, ' ', false, json::error_handler_t::replace);
  out += ",\"task\":";
  out += json(std::string(task)).dump(-1, ' ', false, json::error_handler_t::replace);
  out += ",\"job\":" + std::to_string(job.id);
  out += ",\"outcome\":\"";
  out += to_string(job.outcome);
  out += "\",\"reason\":\"";
  out += to_string(job.reason);
  out += "\"";
  // release and deadline are always set for a released job; the rest only if reached.
  append_time(out, "release_s", job.release, true);
  append_time(out, "deadline_s", job.deadline, true);
  append_time(out, "pre_start_s", job.pre_start, R::reached(job.pre_start));
  append_time(out, "pre_end_s", job.pre_end, R::reached(job.pre_end));
  append_time(out, "infer_start_s", job.infer_start, R::reached(job.infer_start));
  append_time(out, "infer_end_s", job.infer_end, R::reached(job.infer_end));
  append_time(out, "post_start_s", job.post_start, R::reached(job.post_start));
  append_time(out, "post_end_s", job.post_end, R::reached(job.post_end));
  append_time(out, "end_s", job.end, R::reached(job.end));
  out += ",\"batch\":" + std::to_string(job.batch);
  out += ",\"latency_ms\":";
  if (R::reached(job.end)) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3f", to_ms(job.end - job.release));
    out += buf;
  } else {
    out += "null";
  }
  out += "}";
  return out;
}

Result<std::unique_ptr<JobLog>> JobLog::open(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Error{ErrorCode::kIo, "job log " + path + ": cannot create directory " +
                                       parent.string() + ": " + ec.message()};
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{ErrorCode::kIo,
                 "job log " + path + ": cannot open for appending: " + std::strerror(errno)};
  }
  return std::unique_ptr<JobLog>(new JobLog(path, fd));
}

JobLog::~JobLog() { ::close(fd_); }

bool JobLog::write(std::string line) {
  line += '\n';
  std::lock_guard lock(mutex_);
  size_t done = 0;
  while (done < line.size()) {  // one write() in practice; a short write is finished here
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++failed_;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void JobLog::write(const JobRecord& job, std::string_view node, std::string_view task) {
  write(job_json(job, node, task));  // format outside the lock
}

uint64_t JobLog::failed_writes() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

}  // namespace coedge::node
