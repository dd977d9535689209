// The "process" and "sandbox" isolation modes: every task's pre- and post-processing is
// its own worker process (in a bubblewrap sandbox for "sandbox"), the inference server is
// one shared process, and they exchange frames, tensors and outputs as references to

// (private_mounts.h). The agent starts RouDi with pools sized for this node, starts the
// server and the workers, and from then on reads their job events into the ledger and
// supervises them: a worker or server that exits is restarted with backoff and the jobs
// it held are closed as dropped; one that holds a job for too long without any progress
// is killed as hung (and so restarted).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"
#include "node/pipeline.h"
#include "os/process_supervisor.h"
#include "os/sandbox.h"

namespace coedge::node {
namespace {

using os::ChildEvent;
using os::ChildSpec;
using os::ProcessSupervisor;

std::string join_shape(const std::vector<int64_t>& shape) {
  std::string out;
  for (int64_t d : shape) out += (out.empty() ? "" : ",") + std::to_string(d);
  return out;
}

uint64_t elements_of(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "\n    " + all[i];
  }
  return out.empty() ? " (its log is empty)" : out;
}

class IpcPipeline final : public Pipeline {
 public:
  explicit IpcPipeline(PipelineContext context)
      : ctx_(std::move(context)),
        tasks_(ctx_.config->tasks.size()),
        pre_ready_(tasks_),
        post_ready_(tasks_),
        last_activity_(tasks_) {}
  ~IpcPipeline() override { stop(); }

  Status start() override {
    const config::NodeConfig& config = *ctx_.config;
    log_dir_ = config.run_dir + "/logs";
    std::error_code ec;
    std::filesystem::create_directories(log_dir_, ec);
    for (const config::NodeTaskConfig& t : config.tasks) {
      std::filesystem::create_directories(task_dir(t.name) + "/tmp", ec);
      if (ec) return Error{ErrorCode::kIo, "cannot create " + task_dir(t.name) + ": " + ec.message()};
    }
    if (Status st = create_segment(); !st.ok()) return st;

    const TimePoint now = ctx_.clock->now();
    ChildSpec server;
    server.name = "server";
    server.argv = {ctx_.coedge_exe, "node-server", "--profiles", ctx_.profiles_file, "--scheduler",
                   config.scheduler.text(), "--backend-threads", std::to_string(config.backend_threads)};
    if (ctx_.server_config_args.empty()) {
      server.argv.insert(server.argv.end(), {"--config", config.source_file});
    } else {
      server.argv.insert(server.argv.end(), ctx_.server_config_args.begin(), ctx_.server_config_args.end());
    }
    server.log_path = log_dir_ + "/server.log";
    server.backoff_max = ctx_.restart_backoff_max;
    server.backoff_initial = std::min(server.backoff_initial, server.backoff_max);
    server_id_ = supervisor_.add(server);
    if (Status st = supervisor_.start(server_id_, now); !st.ok()) return st;

    for (uint32_t t = 0; t < tasks_; ++t) {
      for (const char* role : {"pre", "post"}) {
        auto spec = worker_spec(t, role);
        if (!spec.ok()) return spec.error();
        const int id = supervisor_.add(*spec);
        (std::string(role) == "pre" ? pre_ids_ : post_ids_).push_back(id);
        if (Status st = supervisor_.start(id, now); !st.ok()) return st;
      }
    }

    // Models load in the server and workers connect: wait until all say they are ready.
    const TimePoint give_up = ctx_.clock->now() + std::chrono::seconds(120);
    while (!all_ready()) {
      bell_->wait(bell_->value(), std::chrono::milliseconds(100));
      drain_events();
      for (const ChildEvent& e : supervisor_.poll(ctx_.clock->now())) {
        if (e.kind == ChildEvent::Kind::kExited) {
          const std::string log_path = log_dir_ + "/" + log_name(e.name);
          return Error{ErrorCode::kInvalidInput,
                       e.name + " exited while starting (" +
                           (e.signal ? "signal " + std::to_string(e.signal)
                                     : "exit code " + std::to_string(e.exit_code)) +
                           "); last lines of " + log_path + ":" + tail(log_path, 8)};
        }
      }
      if (ctx_.clock->now() > give_up) {
        return Error{ErrorCode::kIo, "the server and workers were not all ready within 120 s; see " + log_dir_};
      }
    }
    started_ = true;
    return Ok{};
  }

  DropCause task_unavailable(uint32_t task) const override {
    if (!server_ready_.load()) return DropCause::kServerCrash;
    if (!pre_ready_[task].load() || !post_ready_[task].load()) return DropCause::kWorkerCrash;
    return DropCause::kNone;
  }

  void publish_frame(uint32_t sensor, const cv::Mat& frame, uint64_t sequence, TimePoint capture,
                     std::span<const ipc::JobRef> jobs) override {
    ipc::Pool& pool = frame_pools_[sensor];
    const int stride = frame.cols * frame.channels();
    const uint64_t bytes = ipc::payload_offset<ipc::FrameHeader>() + static_cast<uint64_t>(stride) * frame.rows;
    ipc::ChunkRef chunk;
    const bool fits = bytes <= pool.chunk_bytes() && jobs.size() <= static_cast<size_t>(ipc::kMaxJobsPerFrame);
    if (!fits || !pool.alloc(chunk)) {
      for (const ipc::JobRef& ref : jobs) {
        ctx_.accounting->drop(ref.job, DropCause::kOverload, ctx_.clock->now());
      }
      if (overload_logged_++ < 10) {
        std::fprintf(stderr, "coedge node: frame of sensor %s dropped: %s\n",
                     ctx_.config->sensors[sensor].name.c_str(),
                     !fits ? "larger than the node planned (1920x1080 for files)"
                           : "every frame chunk is in use (the workers are far behind)");
      }
      return;
    }
    auto* header = new (pool.data(chunk)) ipc::FrameHeader();
    header->sequence = sequence;
    header->capture_us = MonotonicClock::to_monotonic_us(capture);
    header->width = frame.cols;
    header->height = frame.rows;
    header->channels = frame.channels();
    header->stride = stride;
    header->job_count = static_cast<int32_t>(jobs.size());
    std::copy(jobs.begin(), jobs.end(), header->jobs);
    // The one write of the frame into shared memory; every task reads it in place.
    auto* pixels = reinterpret_cast<uint8_t*>(header) + ipc::payload_offset<ipc::FrameHeader>();
    for (int y = 0; y < frame.rows; ++y) {
      std::memcpy(pixels + static_cast<size_t>(y) * stride, frame.ptr(y), static_cast<size_t>(stride));
    }
    const uint64_t all = jobs.size() >= 64 ? ~uint64_t{0} : (uint64_t{1} << jobs.size()) - 1;
    pool.publish(chunk, all);
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (!frame_rings_[jobs[i].task].push(&chunk)) {
        // The task's pre-processing worker is behind by a whole ring of frames.
        pool.release(chunk, uint64_t{1} << i);
        ctx_.accounting->drop(jobs[i].job, DropCause::kOverload, ctx_.clock->now());
      }
    }
  }

  void poll(Duration timeout) override {
    if (!started_) return;
    bell_->wait(bell_->value(), timeout);
    drain_events();
    supervise();
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    started_ = false;
    // Workers first (they feed the server), then the server.
    for (int id : pre_ids_) supervisor_.kill(id, SIGTERM);
    for (int id : post_ids_) supervisor_.kill(id, SIGTERM);
    for (int id : pre_ids_) supervisor_.stop(id, std::chrono::seconds(2));
    for (int id : post_ids_) supervisor_.stop(id, std::chrono::seconds(2));
    if (server_id_ >= 0) supervisor_.stop(server_id_, std::chrono::seconds(3));
    if (segment_) drain_events();
    supervisor_.stop_all(std::chrono::seconds(1));
  }

  bool inject_crash(CrashTarget target) override {
    if (target == CrashTarget::kServer) {
      if (!supervisor_.running(server_id_)) return false;
      supervisor_.kill(server_id_, SIGKILL);
      return true;
    }
    const size_t workers = 2 * static_cast<size_t>(tasks_);
    for (size_t tried = 0; tried < workers; ++tried) {
      const size_t k = next_victim_++ % workers;
      const int id = k % 2 == 0 ? pre_ids_[k / 2] : post_ids_[k / 2];
      if (supervisor_.running(id)) {
        supervisor_.kill(id, SIGKILL);
        return true;
      }
    }
    return false;
  }

  PipelineHealth health() const override {
    PipelineHealth h;
    for (int id : pre_ids_) h.worker_restarts += supervisor_.restarts(id);
    for (int id : post_ids_) h.worker_restarts += supervisor_.restarts(id);
    if (server_id_ >= 0) h.server_restarts = supervisor_.restarts(server_id_);
    for (int id : pre_ids_) h.processes += supervisor_.running(id) ? 1 : 0;
    for (int id : post_ids_) h.processes += supervisor_.running(id) ? 1 : 0;
    if (server_id_ >= 0 && supervisor_.running(server_id_)) {
      ++h.processes;
      std::error_code ec;
      int fds = 0;
      for (auto it = std::filesystem::directory_iterator(
               "/proc/" + std::to_string(supervisor_.pid(server_id_)) + "/fd", ec);
           !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        ++fds;
      }
      h.server_fds = ec ? -1 : fds;
    }
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/dev/shm", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++h.shm_files;
    }
    if (segment_) {
      for (uint32_t i = 0;; ++i) {
        auto pool = segment_->pool(i);
        if (!pool.ok()) break;
        h.chunks_in_use += pool->in_use();
      }
    }
    return h;
  }

  void release_shared_memory() override {
    stop();
    segment_.reset();  // unmaps and removes the segment file
  }

 private:
  std::string task_dir(const std::string& task) const { return ctx_.config->run_dir + "/tasks/" + task; }
  static std::string log_name(const std::string& child) {
    std::string name = child;
    std::replace(name.begin(), name.end(), '/', '.');
    return name + ".log";
  }

  Status create_segment() {
    const config::NodeConfig& config = *ctx_.config;
    std::vector<ipc::TaskChannels> tasks;
    for (uint32_t t = 0; t < tasks_; ++t) {
      const ModelIndex m = ctx_.scenario->tasks[t].model;
      tasks.push_back({config.tasks[t].name, config.tasks[t].sensor, 4 * elements_of(ctx_.input_shapes[m]),
                       4 * elements_of(ctx_.output_shapes[m])});
    }
    std::vector<ipc::SensorChannels> sensors;
    for (const config::SensorConfig& sensor : config.sensors) {
      uint32_t readers = 0;
      for (const auto& t : config.tasks) readers += t.sensor == sensor.name ? 1 : 0;
      // Synthetic and topic frames have a known size; files are planned at up to 1080p (a larger
      // frame is dropped as overload, with a message).
      const bool known = sensor.kind == config::SensorKind::kSynthetic || sensor.kind == config::SensorKind::kTopic;
      const uint64_t w = known ? sensor.width : std::max(sensor.width, 1920);
      const uint64_t h = known ? sensor.height : std::max(sensor.height, 1080);
      sensors.push_back({sensor.name, w * h * 3, readers});
    }
    auto segment = ipc::Segment::create(ipc::kSegmentFile, ipc::node_segment_plan(tasks, sensors));
    if (!segment.ok()) return segment.error();
    segment_ = std::move(*segment);
    auto bell = segment_->doorbell(ipc::kAgentBell);
    auto server_events = segment_->ring(ipc::kServerEvents);
    if (!bell.ok()) return bell.error();
    if (!server_events.ok()) return server_events.error();
    bell_ = *bell;
    server_events_ = *server_events;
    for (const config::SensorConfig& sensor : config.sensors) {
      auto pool = segment_->pool(ipc::frame_pool(sensor.name));
      if (!pool.ok()) return pool.error();
      frame_pools_.push_back(*pool);
    }
    for (const config::NodeTaskConfig& t : config.tasks) {
      auto frames = segment_->ring(ipc::frame_ring(t.name));
      auto outputs = segment_->ring(ipc::output_ring(t.name));
      auto pre = segment_->ring(ipc::pre_events(t.name));
      auto post = segment_->ring(ipc::post_events(t.name));
      if (!frames.ok() || !outputs.ok() || !pre.ok() || !post.ok()) {
        return Error{ErrorCode::kInvalidInput, "shared memory lacks the rings of task " + t.name};
      }
      frame_rings_.push_back(*frames);
      output_rings_.push_back(*outputs);
      pre_events_.push_back(*pre);
      post_events_.push_back(*post);
    }
    return Ok{};
  }

  Result<ChildSpec> worker_spec(uint32_t t, const std::string& role) {
    const config::NodeConfig& config = *ctx_.config;
    const config::NodeTaskConfig& task = config.tasks[t];
    const ModelIndex m = ctx_.scenario->tasks[t].model;
    const std::string exe = task.worker == "stock" ? ctx_.worker_exe : task.worker;
    std::vector<std::string> command = {
        exe, "--role", role, "--node", config.name, "--task", task.name, "--task-index",
        std::to_string(t), "--model", task.model, "--kind", ctx_.task_kinds[t], "--sensor",
        task.sensor, "--task-dir", task_dir(task.name), "--input-shape",
        join_shape(ctx_.input_shapes[m]), "--output-shape", join_shape(ctx_.output_shapes[m])};
    // This pipeline runs the isolation modes "sandbox" and "process" only.
    COEDGE_CHECK(config.isolation != config::Isolation::kNone);
    os::SandboxSpec sandbox;
    sandbox.mode = config.isolation == config::Isolation::kSandbox ? os::LaunchMode::kSandbox
                                                                   : os::LaunchMode::kProcess;
    sandbox.task_dir = task_dir(task.name);
    sandbox.ipc_dir = task_dir(task.name) + "/tmp";  // the worker's /tmp is its own
    sandbox.shm_dir = "/dev/shm";
    sandbox.rootfs = task.rootfs;
    sandbox.env = task.env;
    if (!task.rootfs.empty()) sandbox.read_only_binds.push_back(exe);
    auto launch = os::sandbox_command(sandbox, command);
    if (!launch.ok()) return Error{launch.error().code, "task " + task.name + ": " + launch.error().message};
    ChildSpec spec;
    spec.name = task.name + "/" + role;
    spec.argv = launch->argv;
    spec.env = launch->env;
    spec.cwd = launch->cwd;
    spec.log_path = log_dir_ + "/" + log_name(spec.name);
    spec.backoff_max = ctx_.restart_backoff_max;
    spec.backoff_initial = std::min(spec.backoff_initial, spec.backoff_max);
    return spec;
  }

  bool all_ready() const {
    if (!server_ready_.load()) return false;
    for (uint32_t t = 0; t < tasks_; ++t) {
      if (!pre_ready_[t].load() || !post_ready_[t].load()) return false;
    }
    return true;
  }

  void drain_events() {
    drain_ring(*server_events_);
    for (uint32_t t = 0; t < tasks_; ++t) {
      drain_ring(pre_events_[t]);
      drain_ring(post_events_[t]);
    }
  }

  void drain_ring(ipc::Ring& ring) {
    const TimePoint now = ctx_.clock->now();
    auto tp = [](int64_t us) { return us ? MonotonicClock::from_monotonic_us(us) : TimePoint{}; };
    while (const void* entry = ring.peek()) {
      ipc::JobEvent e;
      std::memcpy(&e, entry, sizeof e);
      ring.commit();
      const uint32_t task = e.ref.task;
      if (task >= tasks_) continue;  // not from this node's configuration
      switch (e.kind) {
        case ipc::EventKind::kReady:
          if (e.reason == static_cast<uint8_t>(ipc::Role::kServer)) server_ready_ = true;
          else if (e.reason == static_cast<uint8_t>(ipc::Role::kPre)) pre_ready_[task] = true;
          else post_ready_[task] = true;
          break;
        case ipc::EventKind::kPreDone:
          last_activity_[task][0] = now;
          ctx_.accounting->pre_done(e.ref.job, tp(e.pre_start_us), tp(e.pre_end_us));
          break;
        case ipc::EventKind::kInferred:
          server_activity_ = now;
          ctx_.accounting->inferred(e.ref.job, task, tp(e.infer_start_us), tp(e.infer_end_us), e.batch);
          break;
        case ipc::EventKind::kDone: {
          last_activity_[task][1] = now;
          JobRecord stamps;
          stamps.pre_start = tp(e.pre_start_us);
          stamps.pre_end = tp(e.pre_end_us);
          stamps.infer_start = tp(e.infer_start_us);
          stamps.infer_end = tp(e.infer_end_us);
          stamps.post_start = tp(e.post_start_us);
          stamps.post_end = tp(e.post_end_us);
          stamps.batch = e.batch;
          ctx_.accounting->done(e.ref.job, stamps, now);
          break;
        }
        case ipc::EventKind::kDropped: {
          const auto reason = static_cast<DropCause>(e.reason);
          if (reason == DropCause::kScheduler || reason == DropCause::kInferenceError) server_activity_ = now;
          else if (e.post_start_us != 0) last_activity_[task][1] = now;
          else last_activity_[task][0] = now;
          ctx_.accounting->drop(e.ref.job, reason, now);
          break;
        }
      }
    }
  }

  void supervise() {
    const TimePoint now = ctx_.clock->now();
    for (const ChildEvent& e : supervisor_.poll(now)) {
      if (e.kind == ChildEvent::Kind::kStarted) {
        if (e.id == server_id_) ctx_.metrics->on_server_restart();
        for (uint32_t t = 0; t < tasks_; ++t) {
          if (e.id == pre_ids_[t]) ctx_.metrics->on_worker_restart(t, "pre");
          if (e.id == post_ids_[t]) ctx_.metrics->on_worker_restart(t, "post");
        }
        continue;
      }
      if (e.kind == ChildEvent::Kind::kStartFailed) {
        std::fprintf(stderr, "coedge node: %s: %s\n", e.name.c_str(), e.message.c_str());
        continue;
      }
      if (e.kind != ChildEvent::Kind::kExited) continue;
      std::fprintf(stderr, "coedge node: %s exited (%s); restarting\n", e.name.c_str(),
                   e.signal ? ("signal " + std::to_string(e.signal)).c_str()
                            : ("exit code " + std::to_string(e.exit_code)).c_str());
      // Its events so far are in (drained above); what it still held is lost.
      if (e.id == server_id_) {
        server_ready_ = false;
        ctx_.accounting->drop_stage(std::nullopt, JobStage::kServer, DropCause::kServerCrash, now);
      }
      for (uint32_t t = 0; t < tasks_; ++t) {
        if (e.id == pre_ids_[t]) {
          pre_ready_[t] = false;
          reclaim_frames(t);
          ctx_.accounting->drop_stage(t, JobStage::kPre, DropCause::kWorkerCrash, now);
        }
        if (e.id == post_ids_[t]) {
          post_ready_[t] = false;
          reclaim_outputs(t);
          ctx_.accounting->drop_stage(t, JobStage::kPost, DropCause::kWorkerCrash, now);
        }
      }
    }
    find_hung(now);
  }

  // A dead pre-processing worker's frames: it had released none it had not committed
  // (worker_sdk.cc), so releasing its bit on every entry left is exact.
  void reclaim_frames(uint32_t task) {
    frame_rings_[task].drain([&](const void* entry) {
      ipc::ChunkRef ref;
      std::memcpy(&ref, entry, sizeof ref);
      auto pool = segment_->pool(ref.pool);
      if (!pool.ok()) return;
      const auto* header = static_cast<const ipc::FrameHeader*>(pool->data(ref));
      for (int i = 0; i < header->job_count && i < ipc::kMaxJobsPerFrame; ++i) {
        if (header->jobs[i].task == task) pool->release(ref, uint64_t{1} << i);
      }
    });
  }

  void reclaim_outputs(uint32_t task) {
    output_rings_[task].drain([&](const void* entry) {
      ipc::ChunkRef ref;
      std::memcpy(&ref, entry, sizeof ref);
      if (auto pool = segment_->pool(ref.pool); pool.ok()) pool->release(ref, ipc::kSoleHolder);
    });
  }

  // A process is hung when it holds a job it received more than hang_timeout ago and has
  // reported nothing for as long. (A merely slow one keeps reporting; its late jobs are
  // closed as lost by the agent's sweep instead.)
  void find_hung(TimePoint now) {
    const Duration timeout = ctx_.config->hang_timeout;
    const JobLedger& ledger = ctx_.accounting->ledger();
    auto stale = [&](TimePoint last) { return last == TimePoint{} || now - last > timeout; };
    for (uint32_t t = 0; t < tasks_; ++t) {
      for (int r = 0; r < 2; ++r) {
        const JobStage stage = r == 0 ? JobStage::kPre : JobStage::kPost;
        const int id = r == 0 ? pre_ids_[t] : post_ids_[t];
        if (!supervisor_.running(id)) continue;
        const auto oldest = ledger.oldest_in_stage(t, stage);
        if (oldest && now - *oldest > timeout && stale(last_activity_[t][r])) {
          std::fprintf(stderr, "coedge node: %s/%s holds a job for %s without progress: killing it\n",
                       ctx_.config->tasks[t].name.c_str(), r == 0 ? "pre" : "post",
                       format_duration(now - *oldest).c_str());
          supervisor_.kill(id, SIGKILL);
          last_activity_[t][r] = now;  // one kill per timeout
        }
      }
    }
    // The server legitimately holds a job up to its deadline plus one batch.
    Duration longest{0};
    for (const TaskSpec& t : ctx_.scenario->tasks) longest = std::max(longest, t.deadline);
    for (const ModelProfile& m : ctx_.scenario->models) longest += m.exe(kMaxBatch);
    for (uint32_t t = 0; t < tasks_ && supervisor_.running(server_id_); ++t) {
      const auto oldest = ledger.oldest_in_stage(t, JobStage::kServer);
      if (oldest && now - *oldest > longest + timeout && stale(server_activity_)) {
        std::fprintf(stderr, "coedge node: the server holds a job for %s without progress: killing it\n",
                     format_duration(now - *oldest).c_str());
        supervisor_.kill(server_id_, SIGKILL);
        server_activity_ = now;
        break;
      }
    }
  }

  PipelineContext ctx_;
  uint32_t tasks_;
  ProcessSupervisor supervisor_;
  std::string log_dir_;
  int server_id_ = -1;
  std::vector<int> pre_ids_, post_ids_;
  std::atomic<bool> server_ready_ = false;
  std::vector<std::atomic<bool>> pre_ready_, post_ready_;
  std::vector<std::array<TimePoint, 2>> last_activity_;  // per task: pre, post
  TimePoint server_activity_{};
  std::unique_ptr<ipc::Segment> segment_;
  std::optional<ipc::Doorbell> bell_;           // the agent's: rung by every event
  std::optional<ipc::Ring> server_events_;
  std::vector<ipc::Ring> pre_events_, post_events_;  // per task
  std::vector<ipc::Ring> frame_rings_;  // per task; pushed by its sensor's thread
  std::vector<ipc::Ring> output_rings_;  // per task; drained here only after a crash
  std::vector<ipc::Pool> frame_pools_;   // per sensor; used by its thread
  std::atomic<int> overload_logged_ = 0;
  size_t next_victim_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Pipeline> make_ipc_pipeline(PipelineContext context) {
  return std::make_unique<IpcPipeline>(std::move(context));
}

}  // namespace coedge::node
