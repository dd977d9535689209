// The node agent's metrics, in two forms. NodeMetrics keeps Prometheus series (counters,
// gauges, histograms; base unit seconds, label node on every series, task or model where
// it applies; every name and label is listed in docs/METRICS.md) and can serve them on
// /metrics, render them as exposition text, or write them to a file atomically (for
// node_exporter's textfile collector). JobLog writes one JSON object per finished job,
// for offline analysis with the same timestamps the runtime used.
//
// Every closed job is counted once, in coedge_jobs_finished_total{task,outcome[,reason]}:
// met and overdue series have no reason label, dropped ones carry the drop cause. There is
// no separate dropped counter: it would be the same jobs counted twice (the sum of one
// over its reasons always equal to the other), two sources of one truth.
//
// Thread-safety: both classes may be called from any thread. prometheus-cpp metrics are
// internally synchronized; the few members of our own (the exposer, the log file) are
// guarded by mutexes. Task and model arguments are indices into the vectors given to the
// constructor; an out-of-range index is a bug and aborts.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sample_rejection.h"
#include "core/time.h"
#include "node/core/job_record.h"
#include "node/core/violations.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace coedge::node {

// A task as its info series name it: its model and its tolerable miss ratio ε.
struct MetricsTask {
  std::string name;
  std::string model;
  double epsilon = 0;
  bool sampled = false;  // takes frames from a topic sensor (coedge_task_frames_skipped_total)
};

// A sensor the node captures from; a stream (kind `stream`) and a topic (kind `topic`) have
// series of their own.
struct MetricsSensor {
  std::string name;
  bool stream = false;
  bool topic = false;  // frames counts the frames received; no ticks (it is not captured)
};

// A sensor's counters since the last update (deltas: Prometheus counters only go up), and a
// stream's connection state now.
struct SensorDelta {
  uint64_t frames = 0;               // a stream's frames that arrived; else frames taken
  uint64_t ticks_without_frame = 0;  // captures that found no new frame
  uint64_t stalls = 0;               // streams only (ignored for the others)
  uint64_t reconnects = 0;           // streams only: connections after the first
  bool connected = false;            // streams only
};

class NodeMetrics {
 public:
  // `tasks`, `models` and `sensors` name the indices later passed to the event methods.
  NodeMetrics(std::string node, std::vector<MetricsTask> tasks, std::vector<std::string> models,
              std::vector<MetricsSensor> sensors = {});
  ~NodeMetrics();
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // Serves /metrics over HTTP on `address` ("host:port", "port"; port 0 picks a free one,
  // see port()). Fails, naming the address, if it cannot bind or is already serving.
  Status serve(const std::string& address);
  // The port actually bound by serve(), 0 if not serving.
  int port() const;
  // Writes text() to `path` atomically: into a temporary file in the same folder (named
  // so that node_exporter's textfile collector, which reads *.prom only, skips it), then
  // renamed over `path`. A reader sees the previous file or the new one, never half a
  // file. Errors name the file and the system's reason.
  Status write_file(const std::string& path) const;

  void on_released(uint32_t task);
  // `job.outcome` must not be kOpen. Counts the outcome (and the drop reason), observes
  // the end-to-end latency of met/overdue jobs and the duration of every stage reached.
  void on_finished(const JobRecord& job);
  void on_batch(uint32_t model, int batch_size, Duration forward_time);
  // Called by on_batch() with its arguments, on on_batch()'s thread (the agent feeds its
  // profile check from here: node/core/profile_check.h). REQUIRES: set before the first
  // on_batch(), and safe to call from any thread.
  using BatchObserver = std::function<void(uint32_t model, int batch_size, Duration forward_time)>;
  void set_batch_observer(BatchObserver observer) { batch_observer_ = std::move(observer); }
  // The model's measured/profiled ExeTime ratio (profile_check.h), and one profile warning
  // (the measured batch times exceed the profile by more than the margin).
  void set_profile_ratio(uint32_t model, double ratio);
  void on_profile_warning(uint32_t model);
  void set_queue_length(uint32_t model, size_t jobs);
  // The task's miss ratio over the rolling window (coedge_task_miss_ratio).
  void set_window_miss_rate(uint32_t task, double ratio);
  void on_worker_restart(uint32_t task, std::string_view role);  // role "pre" or "post"
  void on_server_restart();
  // A protocol violation by the task's `role` worker (node/core/violations.h), and the
  // task entering (true) or leaving (false) quarantine.
  void on_protocol_violation(uint32_t task, WorkerRole role, ViolationKind kind);
  void set_quarantined(uint32_t task, bool quarantined);
  // Called by the sensor's capture thread (each tick) and once more when it stopped; a
  // topic sensor's by its feed, per frame received.
  void on_sensor(uint32_t sensor, const SensorDelta& delta);
  // A topic sensor's frame rejected (`reason`: node/cluster/ros_frame.h's names).
  void on_frame_rejected(uint32_t sensor, std::string_view reason);
  // A frame of a topic that the task's sampler skipped (REQUIRES: the task is `sampled`).
  void on_frame_skipped(uint32_t task);
  // A control sample the node received and refused (node/cluster/sample_checks.h), or `n`
  // of them (refused by a DDS reader): coedge_node_rejected_samples_total{topic,reason}.
  void on_sample_rejected(SampleTopic topic, SampleRejection reason, uint64_t n = 1);
  // Makes every (topic, reason) series of these topics exist at zero (a cluster node's feed
  // calls it when it starts: the topics it reads).
  void declare_rejected_samples(std::span<const SampleTopic> topics);

  // The Prometheus exposition text of every series (what /metrics returns).
  std::string text() const;

 private:
  static constexpr size_t kReasons = kDropCauseCount;  // DropCause values, kNone included
  struct TaskSeries {
    prometheus::Counter* released = nullptr;
    prometheus::Counter* met = nullptr;
    prometheus::Counter* overdue = nullptr;
    std::array<prometheus::Counter*, kReasons> dropped{};  // by reason; [kNone] made on demand
    prometheus::Histogram* latency = nullptr;
    prometheus::Histogram* pre = nullptr;
    prometheus::Histogram* queue = nullptr;
    prometheus::Histogram* inference = nullptr;
    prometheus::Histogram* post = nullptr;
    prometheus::Gauge* miss_rate = nullptr;
    prometheus::Counter* pre_restarts = nullptr;
    prometheus::Counter* post_restarts = nullptr;
    prometheus::Counter* frames_skipped = nullptr;  // sampled tasks only
    // [role][kind], every one at zero from the start.
    std::array<std::array<prometheus::Counter*, kViolationKindCount>, 2> violations{};
    prometheus::Gauge* quarantined = nullptr;
  };
  struct ModelSeries {
    prometheus::Histogram* batch_size = nullptr;
    prometheus::Histogram* inference = nullptr;
    prometheus::Gauge* queue = nullptr;
    prometheus::Gauge* profile_ratio = nullptr;
    prometheus::Counter* profile_warnings = nullptr;
  };

  struct SensorSeries {
    prometheus::Counter* frames = nullptr;
    prometheus::Counter* ticks_without_frame = nullptr;
    prometheus::Counter* stalls = nullptr;      // streams only
    prometheus::Counter* reconnects = nullptr;  // streams only
    prometheus::Gauge* connected = nullptr;     // streams only
    prometheus::Family<prometheus::Counter>* rejected = nullptr;  // topics only
    std::string name;
  };

  const TaskSeries& task(uint32_t index) const;
  const ModelSeries& model(uint32_t index) const;

  std::string node_;
  std::vector<MetricsTask> tasks_;
  std::vector<std::string> models_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* finished_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* restarts_family_ = nullptr;
  std::vector<TaskSeries> task_series_;
  std::vector<ModelSeries> model_series_;
  std::vector<SensorSeries> sensor_series_;
  prometheus::Counter* server_restarts_ = nullptr;
  prometheus::Family<prometheus::Counter>* rejected_samples_ = nullptr;
  BatchObserver batch_observer_;

  mutable std::mutex exposer_mutex_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // guarded by exposer_mutex_
};

// One finished job as a single-line JSON object (no newline):
//   {"node":"n","task":"t","job":7,"outcome":"met","reason":"none","release_s":1.000000,
//    "deadline_s":..,"pre_start_s":..,"pre_end_s":..,"infer_start_s":..,"infer_end_s":..,
//    "post_start_s":..,"post_end_s":..,"end_s":..,"batch":2,"latency_ms":12.345}
// Times are seconds since the agent's epoch with 6 decimals (microsecond exact); a stage
// the job never reached is null, as is latency_ms (end - release) if it has no end.
std::string job_json(const JobRecord& job, std::string_view node, std::string_view task);

// An append-only JSON-lines file of finished jobs (job_line.h's lines, which carry their
// run's id: one file holds the lines of every run that used it, each run's told apart by
// its "run").
class JobLog {
 public:
  // Creates the parent directories and opens `path` for appending (a run never truncates
  // what an earlier run wrote). The caller opens it only once the run has started, so a
  // run that fails to start leaves the file as it was. Errors name the path and the
  // system's reason.
  static Result<std::unique_ptr<JobLog>> open(const std::string& path);
  ~JobLog();
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

  // `line` without its newline. Each line goes to the file at once, in one write() on an
  // O_APPEND descriptor (no user-space buffer): lines never interleave, with each other or
  // with another process appending to the file, and a line written survives a crash of
  // the agent. One system call per finished job is cheap at a node's job rates.
  // Returns false (and counts it in failed_writes()) if the line could not be written.
  bool write(std::string line);
  // A job_json line (no run identity), for tests and tools.
  void write(const JobRecord& job, std::string_view node, std::string_view task);
  // Nothing to flush (every line is written at once); kept for callers that mark the end.
  void flush() {}
  const std::string& path() const { return path_; }
  uint64_t failed_writes() const;

 private:
  JobLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  mutable std::mutex mutex_;  // one line at a time (a short write is finished before the next)
  int fd_;
  uint64_t failed_ = 0;  // guarded by mutex_
};

}  // namespace coedge::node
