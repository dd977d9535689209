// The "process" and "sandbox" isolation modes: every task's pre- and post-processing is
// its own worker process (in a bubblewrap sandbox for "sandbox"), the inference server is
// one shared process, and they exchange frames, tensors and outputs as references to
// chunks of the node's shared memory: sealed in-memory files that the agent creates and
// hands to each process as descriptors, each process only those it needs
// (ipc/node_topology.h: the control segment to the server, each task's segment to the
// server and that task's workers, a sensor's frames to the pre workers of its tasks). The
// agent creates them and starts the server, which holds no model yet; the server runs on the agent's own config, handed over as its stdin (a
// sealed in-memory file holding config/node_config_wire.h's document, with its digest on
// the command line), so a restarted server reads the same bytes again. A task runs from activate(): its two workers start and the server is asked
// for its model (ipc::ServerCommand); it is ready once all three say so. deactivate()
// retires the workers; the model goes once no active task has used it for a grace period
// (lean nodes: a cluster node runs only what the plan gives it). From then on the agent
// reads the job events into the ledger and supervises the processes: a worker or server
// that exits is restarted with backoff (a new server is sent the loads again) and the
// jobs it held are closed as dropped; one that holds a job for too long without any
// progress is killed as hung (and so restarted).
// Results: a post worker sends each result through its task's result ring before the
// job's kDone; the agent takes a task's results before it applies a kDone of that task,
// and hands them to the one writer of the results files (node/core/result_log.h), which checks
// them. A worker whose kReady says another protocol than ipc::kWorkerProtocol (built
// against another SDK) is refused: retired, logged with the task, its file and both
// versions; its task never becomes ready (and the node's start fails, naming it).
// Untrusted workers (ipc/worker_checks.h): every event a worker sends is copied once and
// checked against the ring it came on and the ledger before it is applied; one that fails
// is never applied, and is a violation (so is a tensor the server refuses, which it
// reports as a kViolation event): the job it names, if open and the task's, is dropped as
// protocol_violation; the worker is SIGKILLed and what it held is closed as
// protocol_violation (not worker_crash), and the supervisor restarts it under its backoff;
// too many kills of one task in a window quarantine it (its workers retired, every job it
// releases dropped as protocol_violation) until a new plan deactivates and activates it.
// Frames: a pre worker never writes the frame segment. The agent publishes each frame with
// one holder bit per job, writes the job into its task's job table (ipc/job_table.h) and
// pushes a FrameTicket; it releases a task's bit itself (node/core/frame_holds.h) when the
// job leaves pre-processing, when the pre worker dies, or when the job closes otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "config/node_config_wire.h"
#include "ipc/bell_waiter.h"
#include "ipc/job_table.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"
#include "ipc/worker_checks.h"
#include "node/core/frame_holds.h"
#include "node/core/result_log.h"
#include "node/core/violations.h"
#include "node/pipeline.h"
#include "os/cgroup_limits.h"
#include "os/fd.h"
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
        supervisor_(ctx_.launcher != nullptr ? *ctx_.launcher : os::system_launcher()),
        pre_ids_(tasks_, -1),
        post_ids_(tasks_, -1),
        active_(tasks_),
        pre_ready_(tasks_),
        post_ready_(tasks_),
        ever_ready_(tasks_),
        refused_(tasks_),
        foreign_events_(tasks_, 0),
        delivered_(tasks_, 0),
        quarantined_(tasks_),
        violations_(tasks_, ctx_.config->violations.limit, ctx_.config->violations.window),
        models_(ctx_.scenario->models.size()),
        model_state_(ctx_.scenario->models.size()),
        last_activity_(tasks_) {
    COEDGE_CHECK(ctx_.results != nullptr);
  }
  ~IpcPipeline() override { stop(); }

  Status start() override {
    const config::NodeConfig& config = *ctx_.config;
    log_dir_ = config.run_dir + "/logs";
    std::error_code ec;
    std::filesystem::create_directories(log_dir_, ec);
    for (uint32_t t = 0; t < config.tasks.size(); ++t) {
      const std::string dir = task_dir(config.tasks[t].name);
      std::filesystem::create_directories(dir, ec);
      if (!ec) std::filesystem::create_directories(ipc_dir(config.tasks[t].name), ec);
      if (ec) return Error{ErrorCode::kIo, "cannot create " + dir + ": " + ec.message()};
      if (Status st = write_task_settings(t); !st.ok()) return st;
    }
    if (Status st = create_task_cgroups(); !st.ok()) return st;
    if (Status st = create_segments(); !st.ok()) return st;
    if (config.isolation == config::Isolation::kSandbox && !config.sandbox.seccomp) {
      std::fprintf(stderr, "coedge node: sandbox.seccomp is false: the workers run WITHOUT the seccomp filter "
                           "(ptrace, mount, bpf, ... are open to them; docs/SECURITY.md)\n");
    }

    const TimePoint now = ctx_.clock->now();
    ChildSpec server;
    server.name = "server";
    // The server's config is this one, as it is: no file is read again to derive it.
    const std::string wire = config::write_node_config_wire(config);
    auto handed = os::sealed_memory_file("coedge-node-config", wire);
    if (!handed.ok()) return Error{handed.error().code, "cannot hand the server its config: " + handed.error().message};
    server_config_ = std::move(*handed);
    server.argv = {ctx_.coedge_exe, "node-server", "--config-digest", config::wire_digest(wire)};
    // Its shared memory: the control segment, then every task's, as descriptors 3, 4...,
    // with each task's sizes, from which it computes the task's plan (server_process.h).
    std::string fds, sizes;
    server.pass_fds.push_back(os::PassFd{control_->fd()});
    fds = "3";
    for (uint32_t t = 0; t < tasks_; ++t) {
      server.pass_fds.push_back(os::PassFd{task_segments_[t]->fd()});
      fds += "," + std::to_string(4 + t);
      sizes += (t == 0 ? "" : ",") + std::to_string(task_channels_[t].tensor_bytes) + ":" +
               std::to_string(task_channels_[t].output_bytes);
    }
    server.argv.insert(server.argv.end(), {"--shm-fds", fds, "--shm-task-sizes", sizes});
    server.stdin_fd = server_config_.get();
    server.log_path = log_dir_ + "/server.log";
    server.backoff_max = ctx_.restart_backoff_max;
    server.backoff_initial = std::min(server.backoff_initial, server.backoff_max);
    server_id_ = supervisor_.add(server);
    if (Status st = supervisor_.start(server_id_, now); !st.ok()) return st;
    started_ = true;
    // The server comes up without models: quick, so a node reports itself early.
    return wait_until([&] { return server_ready_.load(); }, std::chrono::seconds(60), "the server");
  }

  void activate(uint32_t task) override {
    COEDGE_CHECK(task < tasks_);
    if (active_[task].load()) return;
    const TimePoint now = ctx_.clock->now();
    ever_ready_[task] = false;
    refused_[task].clear();
    // A new plan gives the task back: its quarantine (if any) ends here.
    if (quarantined_[task].load()) ctx_.metrics->set_quarantined(task, false);
    quarantined_[task] = false;
    violations_.clear(task);
    for (const char* role : {"pre", "post"}) {
      const bool pre = std::string(role) == "pre";
      int& id = pre ? pre_ids_[task] : post_ids_[task];
      if (id < 0) {
        auto spec = worker_spec(task, role);
        if (!spec.ok()) {
          // Cannot happen for a config that loaded; said once, the task stays not ready.
          std::fprintf(stderr, "coedge node: %s\n", spec.error().message.c_str());
          continue;
        }
        id = supervisor_.add(*spec);
      }
      (pre ? pre_ready_ : post_ready_)[task] = false;
      if (supervisor_.retiring(id)) {
        // The task came back before its last worker was gone: end that one now and close
        // what it held, as when a retired worker exits, before a new one shares its rings.
        supervisor_.stop(id, Duration(0));
        on_retired_exit(id, now);
      }
      if (Status st = supervisor_.start(id, now); !st.ok()) {
        // The supervisor retries a failed start as a crash would be; say why once.
        std::fprintf(stderr, "coedge node: %s\n", st.error().message.c_str());
      }
    }
    prefault_pools(task);
    active_[task] = true;
    const ModelIndex m = ctx_.scenario->tasks[task].model;
    // A model that failed to load is tried again when a task comes back for it.
    const ModelMemo state = model_state_[m].load();
    if (models_[m].users++ == 0 && (state == ModelMemo::kUnloaded || state == ModelMemo::kFailed)) request_load(m);
  }

  void deactivate(uint32_t task) override {
    COEDGE_CHECK(task < tasks_);
    if (!active_[task].load()) return;
    active_[task] = false;
    const TimePoint now = ctx_.clock->now();
    for (int id : {pre_ids_[task], post_ids_[task]}) {
      if (id >= 0) supervisor_.retire(id, now, std::chrono::seconds(2));
    }
    const ModelIndex m = ctx_.scenario->tasks[task].model;
    if (--models_[m].users == 0) models_[m].unused_since = now;
  }

  Status wait_ready(Duration timeout) override {
    return wait_until([&] { return all_ready(); }, timeout, "the server and workers");
  }
  DropCause task_unavailable(uint32_t task) const override {
    if (!active_[task].load()) return DropCause::kNotReady;
    if (quarantined_[task].load()) return DropCause::kProtocolViolation;
    if (!server_ready_.load()) return DropCause::kServerCrash;
    const ModelIndex m = ctx_.scenario->tasks[task].model;
    switch (model_state_[m].load()) {
      case ModelMemo::kLoaded: break;
      case ModelMemo::kReloading: return DropCause::kServerCrash;
      default: return DropCause::kNotReady;
    }
    if (!pre_ready_[task].load() || !post_ready_[task].load()) {
      return ever_ready_[task].load() ? DropCause::kWorkerCrash : DropCause::kNotReady;
    }
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
                     !fits ? "larger than the node planned (1920x1080 for files and streams)"
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
    // The one write of the frame into shared memory; every task reads it in place.
    auto* pixels = reinterpret_cast<uint8_t*>(header) + ipc::payload_offset<ipc::FrameHeader>();
    for (int y = 0; y < frame.rows; ++y) {
      std::memcpy(pixels + static_cast<size_t>(y) * stride, frame.ptr(y), static_cast<size_t>(stride));
    }
    const uint64_t all = jobs.size() >= 64 ? ~uint64_t{0} : (uint64_t{1} << jobs.size()) - 1;
    pool.publish(chunk, all);
    for (size_t i = 0; i < jobs.size(); ++i) {
      const ipc::JobRef& job = jobs[i];
      const uint32_t task = job.task;
      COEDGE_CHECK(task < tasks_);
      const uint64_t bit = uint64_t{1} << i;
      // A task whose pre worker keeps its frames (slow, stuck or hostile) holds at most its
      // share of the camera's pool: its next jobs are its own overload, never the others'.
      if (frame_holds_.held(task) >= ipc::kFramesPerReader) {
        pool.release(chunk, bit);
        ctx_.accounting->drop(job.job, DropCause::kOverload, ctx_.clock->now());
        continue;
      }
      // The job goes into the task's job table before its ticket, so the server finds it
      // there when the tensor comes. This thread is the table's one writer (a task has one
      // sensor), and delivered_[task] its own.
      ipc::FrameTicket ticket;
      ticket.frame = chunk;
      ticket.job = job;
      ticket.table_slot = ipc::job_slot(delivered_[task]);
      job_tables_[task].write(ticket.table_slot, {task, job.job, job.release_us, job.deadline_us});
      // Held before the push, so the pre worker's news of it always finds the hold.
      frame_holds_.add({sensor, chunk, bit, task, job.job});
      if (frame_rings_[task].push(&ticket)) {
        ++delivered_[task];
        continue;
      }
      // The task's pre-processing worker is behind by a whole ring of frames.
      if (frame_holds_.take_job(task, job.job)) pool.release(chunk, bit);
      ctx_.accounting->drop(job.job, DropCause::kOverload, ctx_.clock->now());
    }
  }

  void poll(Duration timeout) override {
    if (!started_) return;
    // The wait is bounded by the caller (at most 100 ms: the agent's loop checks its
    // duration and SIGTERM between polls), and every drain below is bounded per ring.
    wait_for_bells(timeout);
    drain_events();
    supervise();
    sweep_frame_holds();
    unload_unused();
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    started_ = false;
    // Workers first (they feed the server), then the server. One grace for all workers
    // (they were all told at once), not one each.
    for (int id : worker_ids()) supervisor_.kill(id, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (int id : worker_ids()) {
      const auto left = std::chrono::duration_cast<Duration>(until - std::chrono::steady_clock::now());
      supervisor_.stop(id, std::max(left, Duration(0)));
    }
    if (server_id_ >= 0) supervisor_.stop(server_id_, std::chrono::seconds(3));
    if (control_) {
      drain_events();
      for (uint32_t t = 0; t < tasks_; ++t) {
        reclaim_results(t);
        release_holds(frame_holds_.take_task(t));
      }
    }
    supervisor_.stop_all(std::chrono::seconds(1));
    // Whatever a worker forked and left behind goes with its task's cgroup.
    for (auto& cgroup : task_cgroups_) {
      if (!cgroup) continue;
      if (Status st = cgroup->remove(); !st.ok()) std::fprintf(stderr, "coedge node: %s\n", st.error().message.c_str());
    }
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
      if (id >= 0 && supervisor_.running(id)) {
        supervisor_.kill(id, SIGKILL);
        return true;
      }
    }
    return false;
  }

  PipelineHealth health() const override {
    PipelineHealth h;
    // Restarts after a crash only: a task that comes back after leaving starts afresh.
    h.worker_restarts = worker_restarts_;
    for (uint32_t t = 0; t < tasks_; ++t) h.protocol_violations += violations_.violations(t);
    h.quarantined_tasks = violations_.quarantined_tasks();
    if (server_id_ >= 0) h.server_restarts = supervisor_.restarts(server_id_);
    for (int id : worker_ids()) h.processes += supervisor_.running(id) ? 1 : 0;
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
    // Memfds: none of the node's shared memory is a file there (a leak would be).
    for (const auto& segment : task_segments_) {
      for (uint32_t i = 0; i < segment->pool_count(); ++i) h.chunks_in_use += segment->pool(i)->in_use();
    }
    for (const ipc::Pool& frames : frame_pools_) h.frame_chunks_in_use += frames.in_use();
    h.chunks_in_use += h.frame_chunks_in_use;
    return h;
  }

  void release_shared_memory() override {
    stop();
    // Unmaps and closes the memfds: their memory goes with the last process holding them.
    waiter_.reset();
    task_segments_.clear();
    frame_segments_.clear();
    control_.reset();
  }

 private:
  std::string task_dir(const std::string& task) const { return ctx_.config->run_dir + "/tasks/" + task; }
  // A worker's /tmp: outside its task folder, which it writes (a link planted there would
  // be followed by bwrap at its next start), and inside the run folder, hidden from it.
  std::string ipc_dir(const std::string& task) const { return ctx_.config->run_dir + "/ipc/" + task; }
  const std::string& sensor_name(uint32_t task) const {
    return ctx_.config->sensors[ctx_.config->task_runtime[task].sensor].name;
  }
  static std::string log_name(const std::string& child) {
    std::string name = child;
    std::replace(name.begin(), name.end(), '/', '.');
    return name + ".log";
  }

  // One cgroup per task (cgroup v1 cpu, memory, pids) with the task's resolved limits
  // (config/node_config.h, WorkerLimits), joined by both its workers at every start. A task
  // whose limits are all 0 gets none. Named after the node, the agent's pid and the task's
  // index, so that two nodes on one machine never share one.
  Status create_task_cgroups() {
    const config::NodeConfig& config = *ctx_.config;
    task_cgroups_.resize(tasks_);
    bool swept = false;
    for (uint32_t t = 0; t < tasks_; ++t) {
      const config::WorkerLimits& l = config.task_runtime[t].limits;
      if (l.cpus == 0 && l.memory_bytes == 0 && l.pids == 0) continue;
      const std::string name = "coedge-" + std::to_string(getpid()) + "-" + std::to_string(t);
      auto cgroup = os::TaskCgroup::create(name, os::CgroupLimits{l.cpus, l.memory_bytes, l.pids});
      if (!cgroup.ok()) {
        return Error{cgroup.error().code, "task " + config.tasks[t].name + ": cannot limit its workers: " +
                                              cgroup.error().message +
                                              " (worker_limits and tasks[].limits in docs/NODE_CONFIG.md; "
                                              "`none` turns a limit off)"};
      }
      task_cgroups_[t] = std::make_unique<os::TaskCgroup>(std::move(*cgroup));
      if (!swept) remove_stale_cgroups(task_cgroups_[t]->dirs());
      swept = true;
    }
    return Ok{};
  }

  // Task cgroups of an agent that is gone (killed before it could remove them) lie beside
  // ours, named coedge-PID-TASK: removed, with anything still inside them.
  static void remove_stale_cgroups(const std::vector<std::string>& ours) {
    for (const std::string& dir : ours) {
      const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
      std::error_code ec;
      for (auto it = std::filesystem::directory_iterator(parent, ec);
           !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        long pid = 0;
        char rest = 0;
        if (std::sscanf(name.c_str(), "coedge-%ld-%*u%c", &pid, &rest) < 1 || pid <= 0 || pid == getpid()) continue;
        if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // its agent still runs
        if (Status st = os::empty_and_remove_cgroups({it->path().string()}, std::chrono::milliseconds(2000)); !st.ok()) {
          std::fprintf(stderr, "coedge node: a dead agent's cgroup: %s\n", st.error().message.c_str());
        }
      }
    }
  }

  // The node's shared memory (ipc/node_topology.h): the control segment, one per task,
  // one per sensor (its frames, writable by the agent only).
  Status create_segments() {
    const config::NodeConfig& config = *ctx_.config;
    for (uint32_t t = 0; t < tasks_; ++t) {
      const ModelIndex m = ctx_.scenario->tasks[t].model;
      task_channels_.push_back(ipc::task_channels(config.tasks[t].name, ctx_.input_shapes[m],
                                                  ctx_.output_shapes[m], ctx_.task_kinds[t]));
    }
    for (uint32_t s = 0; s < config.sensors.size(); ++s) {
      const config::SensorConfig& sensor = config.sensors[s];
      uint32_t readers = 0;
      for (const config::TaskRuntime& t : config.task_runtime) readers += t.sensor == s ? 1 : 0;
      // Synthetic and topic frames have a known size; files and streams are planned at up to 1080p (a larger
      // frame is dropped as overload, with a message).
      const bool known = sensor.kind == config::SensorKind::kSynthetic || sensor.kind == config::SensorKind::kTopic;
      const uint64_t w = known ? sensor.width : std::max(sensor.width, 1920);
      const uint64_t h = known ? sensor.height : std::max(sensor.height, 1080);
      sensor_channels_.push_back({sensor.name, w * h * 3, readers});
    }
    std::vector<std::string> task_names;
    for (const TaskSpec& t : config.tasks) task_names.push_back(t.name);
    auto control = ipc::Segment::create_sealed(ipc::kControlSegment, ipc::control_segment_plan(task_names));
    if (!control.ok()) return control.error();
    control_ = std::move(*control);
    for (const ipc::TaskChannels& t : task_channels_) {
      auto segment = ipc::Segment::create_sealed(ipc::task_segment(t.name), ipc::task_segment_plan(t));
      if (!segment.ok()) return Error{segment.error().code, "task " + t.name + ": " + segment.error().message};
      task_segments_.push_back(std::move(*segment));
    }
    for (const ipc::SensorChannels& sensor : sensor_channels_) {
      // Writer-only: the agent writes each frame once, through its own mapping; the pre
      // workers of the sensor's tasks can map it read-only and nothing else.
      auto segment = ipc::Segment::create_sealed(ipc::frame_segment(sensor.name), ipc::frame_segment_plan(sensor),
                                                 ipc::Sealing::kWriterOnly);
      if (!segment.ok()) return Error{segment.error().code, "sensor " + sensor.name + ": " + segment.error().message};
      frame_segments_.push_back(std::move(*segment));
    }
    auto bell = control_->doorbell(ipc::kAgentBell);
    auto server_events = control_->ring(ipc::kServerEvents);
    auto server_control = control_->ring(ipc::kServerControl);
    if (!bell.ok()) return bell.error();
    if (!server_events.ok()) return server_events.error();
    if (!server_control.ok()) return server_control.error();
    server_events_ = *server_events;
    server_control_ = *server_control;
    for (uint32_t s = 0; s < config.sensors.size(); ++s) {
      auto pool = frame_segments_[s]->pool(ipc::frame_pool(config.sensors[s].name));
      if (!pool.ok()) return pool.error();
      frame_pools_.push_back(*pool);
    }
    std::vector<ipc::Doorbell> task_bells;
    for (uint32_t t = 0; t < tasks_; ++t) {
      const TaskSpec& task = config.tasks[t];
      const ipc::Segment& segment = *task_segments_[t];
      auto frames = segment.ring(ipc::frame_ring(task.name));
      auto outputs = segment.ring(ipc::output_ring(task.name));
      auto pre = segment.ring(ipc::pre_events(task.name));
      auto post = segment.ring(ipc::post_events(task.name));
      auto results = segment.ring(ipc::result_ring(task.name));
      auto result_pool = segment.pool(ipc::result_pool(task.name));
      auto task_bell = segment.doorbell(ipc::kAgentBell);
      auto jobs = control_->pool(ipc::job_table_pool(task.name));
      if (!frames.ok() || !outputs.ok() || !pre.ok() || !post.ok() || !results.ok() || !result_pool.ok() ||
          !task_bell.ok() || !jobs.ok() || jobs->chunk_bytes() < ipc::JobTable::kBytes) {
        return Error{ErrorCode::kInvalidInput, "shared memory lacks the rings of task " + task.name};
      }
      frame_rings_.push_back(*frames);
      frame_ring_drains_.push_back(*frames);
      output_rings_.push_back(*outputs);
      pre_events_.push_back(*pre);
      post_events_.push_back(*post);
      result_rings_.push_back(*results);
      result_pools_.push_back(*result_pool);
      job_tables_.emplace_back(jobs->data(ipc::ChunkRef{jobs->pool_index(), 0, 0, 0}));
      task_bells.push_back(*task_bell);
    }
    waiter_.emplace(*bell, std::move(task_bells), "coedge node");
    bell_floods_.assign(tasks_, 0);
    return Ok{};
  }

  // Sleeps until a process rings the agent (the server through the control segment, a
  // task's workers through their task's segment) or `timeout` passes. A task whose bell
  // keeps waking the agent without work is left out of the wait for a while (its rings
  // are still drained on every call) and counted (ipc/bell_waiter.h).
  void wait_for_bells(Duration timeout) {
    waiter_->wait(timeout, ctx_.clock->now());
    // Armed before the rings are looked at: a ring from now on ends the next wait at once.
    waiter_->arm();
    const TimePoint now = ctx_.clock->now();
    for (uint32_t t : waiter_->woken()) {
      const bool work = pre_events_[t].size() + post_events_[t].size() + result_rings_[t].size() > 0;
      if (waiter_->settle(t, work, now)) on_bell_flood(t);
    }
  }

  // A task's workers ring the agent's bell of its segment over and over without sending
  // anything: said (the first 5 per task, then every 100th) and counted in
  // bell_floods_. TODO(violations): count a `flood` violation against the task.
  void on_bell_flood(uint32_t task) {
    const uint64_t n = ++bell_floods_[task];
    if (n > 5 && n % 100 != 0) return;
    std::fprintf(stderr,
                 "coedge node: task %s's workers wake the agent without sending anything (a flood): its doorbell is "
                 "ignored for %lld ms, its rings are still read (%llu so far)\n",
                 ctx_.config->tasks[task].name.c_str(),
                 static_cast<long long>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(ipc::BellFloodGuard::Options{}.demotion)
                         .count()),
                 static_cast<unsigned long long>(n));
  }

  // TASK_DIR/coedge-settings: the task's confidence, nms_iou and masks (only those the
  // config sets) and its model's class names, which the worker SDK reads at start
  // (sdk/worker_sdk.cc, read_settings; docs/WORKER_SDK.md). A file, not options on the
  // workers' command line: a worker built against an SDK from before these settings
  // ignores it, where it refused the options it did not know (exit 2) and the agent
  // restarted it until wait_ready gave up. Always written (empty of settings when the
  // config sets none), so a previous run's settings never apply; written to a temporary
  // name and renamed, so a worker never reads half of it.
  Status write_task_settings(uint32_t t) {
    const config::NodeConfig& config = *ctx_.config;
    const config::TaskRuntime& runtime = config.task_runtime[t];
    const ModelIndex m = config.tasks[t].model;
    std::string text = "# task " + config.tasks[t].name + ": settings from the node config, for its workers\n";
    auto fraction = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      return std::string(buf);
    };
    if (runtime.confidence) text += "confidence " + fraction(*runtime.confidence) + "\n";
    if (runtime.nms_iou) text += "nms_iou " + fraction(*runtime.nms_iou) + "\n";
    if (runtime.masks == config::MaskOutput::kPng) text += "masks png\n";
    if (m < config.model_labels.size()) {
      for (const std::string& name : config.model_labels[m]) text += "label " + name + "\n";
    }
    const std::string file = task_dir(config.tasks[t].name) + "/coedge-settings";
    const std::string temp = file + ".tmp";
    std::filesystem::remove(temp);  // not through a link a worker of a previous run left
    {
      std::ofstream out(temp);
      out << text;
      out.flush();
      if (!out) return Error{ErrorCode::kIo, "cannot write " + temp};
    }
    if (std::rename(temp.c_str(), file.c_str()) != 0) {
      return Error{ErrorCode::kIo, "cannot rename " + temp + " to " + file + ": " + std::strerror(errno)};
    }
    return Ok{};
  }

  Result<ChildSpec> worker_spec(uint32_t t, const std::string& role) {
    const config::NodeConfig& config = *ctx_.config;
    const TaskSpec& task = config.tasks[t];
    const config::TaskRuntime& runtime = config.task_runtime[t];
    const ModelIndex m = task.model;
    const std::string exe = runtime.worker == "stock" ? ctx_.worker_exe : runtime.worker;
    std::vector<std::string> command = {
        exe, "--role", role, "--node", config.name, "--task", task.name, "--task-index",
        std::to_string(t), "--model", config.models[m].name, "--kind", ctx_.task_kinds[t], "--sensor",
        sensor_name(t), "--task-dir", task_dir(task.name), "--input-shape",
        join_shape(ctx_.input_shapes[m]), "--output-shape", join_shape(ctx_.output_shapes[m])};
    // Its shared memory, as descriptors (never a path): its task's segment as 3 and, for
    // pre, its sensor's frames as 4, with the sizes from which it computes their plans.
    std::vector<int> fds = {task_segments_[t]->fd()};
    command.insert(command.end(), {"--shm-task-fd", "3"});
    if (role == "pre") {
      const ipc::SensorChannels& sensor = sensor_channels_[runtime.sensor];
      fds.push_back(frame_segments_[runtime.sensor]->fd());
      command.insert(command.end(), {"--shm-frames-fd", "4", "--frame-bytes", std::to_string(sensor.frame_bytes),
                                     "--frame-readers", std::to_string(sensor.tasks)});
    }
    // The task's thresholds and class names are not options but TASK_DIR/coedge-settings
    // (write_task_settings), which a worker built against an older SDK ignores.
    // This pipeline runs the isolation modes "sandbox" and "process" only.
    COEDGE_CHECK(config.isolation != config::Isolation::kNone);
    os::SandboxSpec sandbox;
    sandbox.mode = config.isolation == config::Isolation::kSandbox ? os::LaunchMode::kSandbox
                                                                   : os::LaunchMode::kProcess;
    sandbox.task_dir = task_dir(task.name);
    sandbox.ipc_dir = ipc_dir(task.name);  // the worker's /tmp is its own
    sandbox.run_dir = config.run_dir;  // hidden but for the task's own folder
    sandbox.seccomp = config.sandbox.seccomp;
    for (const std::string& path : config.sandbox.private_paths) {
      // A private path that does not exist (yet) holds nothing to hide at this start.
      std::error_code exists_ec;
      if (std::filesystem::exists(path, exists_ec)) sandbox.private_paths.push_back(path);
    }
    sandbox.pass_fds = fds;  // and no /dev/shm of the host: shm_dir stays empty (a private tmpfs)
    sandbox.rootfs = runtime.rootfs;
    sandbox.env = runtime.env;
    if (!runtime.rootfs.empty()) sandbox.read_only_binds.push_back(exe);
    auto launch = os::sandbox_command(sandbox, command);
    if (!launch.ok()) return Error{launch.error().code, "task " + task.name + ": " + launch.error().message};
    ChildSpec spec;
    spec.name = task.name + "/" + role;
    spec.argv = launch->argv;
    spec.pass_fds = launch->pass_fds;  // the seccomp program reaches bwrap as a descriptor
    if (task_cgroups_[t]) spec.join_cgroups = task_cgroups_[t]->join_files();  // bwrap and the worker inside
    spec.env = launch->env;
    spec.cwd = launch->cwd;
    spec.pass_fds = launch->pass_fds;
    spec.log_path = log_dir_ + "/" + log_name(spec.name);
    spec.backoff_max = ctx_.restart_backoff_max;
    spec.backoff_initial = std::min(spec.backoff_initial, spec.backoff_max);
    return spec;
  }

  // The shared memory holds no page until used (ipc::Pool::prefault): back the chunks a
  // task cycles through in steady state now, not during its first jobs.
  void prefault_pools(uint32_t task) {
    constexpr uint32_t kWarmChunks = 4;
    const TaskSpec& t = ctx_.config->tasks[task];
    for (const std::string& name : {ipc::tensor_pool(t.name), ipc::output_pool(t.name)}) {
      if (auto pool = task_segments_[task]->pool(name); pool.ok()) pool->prefault(kWarmChunks);
    }
    frame_pools_[ctx_.config->task_runtime[task].sensor].prefault(kWarmChunks);
  }

  std::vector<int> worker_ids() const {
    std::vector<int> ids;
    for (uint32_t t = 0; t < tasks_; ++t) {
      for (int id : {pre_ids_[t], post_ids_[t]}) {
        if (id >= 0) ids.push_back(id);
      }
    }
    return ids;
  }

  bool all_ready() const {
    if (!server_ready_.load()) return false;
    for (uint32_t t = 0; t < tasks_; ++t) {
      if (active_[t].load() && task_unavailable(t) != DropCause::kNone) return false;
    }
    return true;
  }

  // Polls until `done`: an error when a process exits meanwhile (with the last lines of
  // its log), when a model does not load, or when `timeout` passes.
  template <typename Done>
  Status wait_until(Done done, Duration timeout, const std::string& what) {
    const TimePoint give_up = ctx_.clock->now() + timeout;
    while (!done()) {
      wait_for_bells(std::chrono::milliseconds(100));
      drain_events();
      for (const ChildEvent& e : supervisor_.poll(ctx_.clock->now())) {
        if (e.kind == ChildEvent::Kind::kExited && e.retired) {
          on_retired_exit(e.id, ctx_.clock->now());
          continue;
        }
        if (e.kind == ChildEvent::Kind::kExited && !e.retired) {
          const std::string log_path = log_dir_ + "/" + log_name(e.name);
          return Error{ErrorCode::kInvalidInput,
                       e.name + " exited while starting (" +
                           (e.signal ? "signal " + std::to_string(e.signal)
                                     : "exit code " + std::to_string(e.exit_code)) +
                           "); last lines of " + log_path + ":" + tail(log_path, 8)};
        }
      }
      for (ModelIndex m = 0; m < models_.size(); ++m) {
        if (models_[m].users > 0 && model_state_[m].load() == ModelMemo::kFailed) {
          const std::string log_path = log_dir_ + "/server.log";
          return Error{ErrorCode::kInvalidInput, "model " + ctx_.scenario->models[m].name +
                                                     " did not load; last lines of " + log_path + ":" +
                                                     tail(log_path, 4)};
        }
      }
      for (uint32_t t = 0; t < tasks_; ++t) {
        if (active_[t].load() && !refused_[t].empty()) return Error{ErrorCode::kInvalidInput, refused_[t]};
      }
      if (ctx_.clock->now() > give_up) {
        return Error{ErrorCode::kIo, what + " not ready within " + format_duration(timeout) + "; see " + log_dir_};
      }
    }
    return Ok{};
  }

  void request_load(ModelIndex m) {
    model_state_[m] = model_state_[m].load() == ModelMemo::kReloading ? ModelMemo::kReloading : ModelMemo::kLoading;
    send_command(ipc::ModelCommand::kLoad, m);
  }

  void send_command(ipc::ModelCommand kind, ModelIndex m) {
    ipc::ServerCommand command;
    command.command = kind;
    command.model = static_cast<uint32_t>(m);
    // 64 entries and one command per plan change: full only when the server is gone, and
    // then its successor is sent every load again when it is ready.
    if (!server_control_->push(&command)) {
      std::fprintf(stderr, "coedge node: the server is not reading its commands\n");
    }
  }

  // Lean nodes: a model no active task has used for model_unload_grace goes.
  void unload_unused() {
    const TimePoint now = ctx_.clock->now();
    for (ModelIndex m = 0; m < models_.size(); ++m) {
      const ModelMemo state = model_state_[m].load();
      if (models_[m].users > 0 || state != ModelMemo::kLoaded) continue;
      if (now - models_[m].unused_since < ctx_.model_unload_grace) continue;
      model_state_[m] = ModelMemo::kUnloaded;
      send_command(ipc::ModelCommand::kUnload, m);
    }
  }

  void on_model_event(const ipc::JobEvent& e) {
    if (e.batch < 0 || static_cast<size_t>(e.batch) >= models_.size()) return;
    const auto m = static_cast<ModelIndex>(e.batch);
    switch (static_cast<ipc::ModelState>(e.reason)) {
      case ipc::ModelState::kLoaded:
        // A load answered after the agent gave up on the model (unload sent) stays unloaded.
        if (model_state_[m].load() != ModelMemo::kUnloaded) model_state_[m] = ModelMemo::kLoaded;
        break;
      case ipc::ModelState::kLoadFailed:
        model_state_[m] = ModelMemo::kFailed;
        std::fprintf(stderr, "coedge node: model %s did not load (see %s/server.log); its tasks cannot run here\n",
                     ctx_.scenario->models[m].name.c_str(), log_dir_.c_str());
        break;
      case ipc::ModelState::kUnloaded:
        break;
    }
  }

  // A new server holds no model: ask again for those the active tasks use.
  void on_server_ready() {
    server_ready_ = true;
    for (ModelIndex m = 0; m < models_.size(); ++m) {
      if (models_[m].users > 0) request_load(m);
      else model_state_[m] = ModelMemo::kUnloaded;
    }
  }

  // The order matters for the stage checks (ipc/worker_checks.h): a post worker's news of a
  // job was pushed after the server's kInferred of it. So the post rings' entries are
  // counted first, then the server's ring is read, then at most those entries of each post
  // ring: the kInferred of every one of them has been applied. (The server's ring holds
  // at most kEventRing < kMaxEventsPerDrain entries, so one drain empties it.) Pre rings go
  // before the server's, so a kPreDone is mostly applied before its kInferred (the ledger
  // and the checks take either order).
  void drain_events() {
    std::vector<size_t> post_now(tasks_);
    for (uint32_t t = 0; t < tasks_; ++t) post_now[t] = post_events_[t].size();
    for (uint32_t t = 0; t < tasks_; ++t) {
      if (!condemned(pre_ids_[t])) drain_ring(pre_events_[t], EventSource{false, t, ipc::Role::kPre}, kMaxEventsPerDrain);
    }
    drain_ring(*server_events_, EventSource{}, kMaxEventsPerDrain);
    for (uint32_t t = 0; t < tasks_; ++t) {
      if (!condemned(post_ids_[t])) take_results(t);
      if (!condemned(post_ids_[t])) {
        drain_ring(post_events_[t], EventSource{false, t, ipc::Role::kPost}, std::min(post_now[t], kMaxEventsPerDrain));
      }
    }
  }

  // A worker of another protocol (built against another SDK) runs no job: it is retired
  // and its task stays not ready, said once per activation.
  void refuse_worker(uint32_t task, ipc::Role role, int32_t protocol) {
    const int id = role == ipc::Role::kPre ? pre_ids_[task] : post_ids_[task];
    if (id >= 0) supervisor_.retire(id, ctx_.clock->now(), std::chrono::seconds(1));
    if (!refused_[task].empty()) return;
    const TaskSpec& t = ctx_.config->tasks[task];
    const config::TaskRuntime& runtime = ctx_.config->task_runtime[task];
    const std::string file = runtime.worker == "stock" ? ctx_.worker_exe : runtime.worker;
    // Protocol 1 sent nothing in its kReady (0).
    const int32_t theirs = protocol == 0 ? 1 : protocol;
    refused_[task] = "task " + t.name + ": worker " + file + " (" + (role == ipc::Role::kPre ? "pre" : "post") +
                     ") was built against worker ABI " + std::to_string(theirs) + ", this node needs ABI " +
                     std::to_string(ipc::kWorkerProtocol) +
                     ": rebuild it against this CoEdge's SDK (docs/WORKER_SDK.md, \"ABI versioning\"); "
                     "the task runs no job until then";
    std::fprintf(stderr, "coedge node: %s\n", refused_[task].c_str());
  }

  static constexpr size_t kMaxEventsPerDrain = 4096;


  // Whose event ring it is: the server's, or one worker's (its task and role).
  struct EventSource {
    bool server = true;
    uint32_t task = 0;
    ipc::Role role = ipc::Role::kServer;
  };

  // The ledger as the checks see it (ipc::JobView).
  class LedgerView final : public ipc::JobView {
   public:
    explicit LedgerView(const JobLedger& ledger) : ledger_(ledger) {}
    ipc::JobFacts lookup(uint64_t job) const override {
      const JobLedger::Facts f = ledger_.facts(job);
      ipc::JobFacts out;
      out.state = !f.released ? ipc::JobFacts::State::kNeverReleased
                  : !f.open   ? ipc::JobFacts::State::kClosed
                              : ipc::JobFacts::State::kOpen;
      out.task = f.task;
      out.stage = f.stage == JobStage::kPre ? ipc::JobPhase::kPre
                  : f.stage == JobStage::kServer ? ipc::JobPhase::kServer
                                                 : ipc::JobPhase::kPost;
      out.release_us = MonotonicClock::to_monotonic_us(f.release);
      return out;
    }

   private:
    const JobLedger& ledger_;
  };

  static TimePoint tp(int64_t us) { return us ? MonotonicClock::from_monotonic_us(us) : TimePoint{}; }

  // At most `limit` events of one ring per call, so that a process that keeps writing
  // events cannot hold the agent's loop (the rest waits for the next poll, a few ms away).
  // Each is copied out of the ring once; a worker's is checked on the copy, and applied
  // only if sound. After a violation the ring is left for this poll (its worker is being
  // killed; what it sent after is discarded when it exits).
  void drain_ring(ipc::Ring& ring, const EventSource& source, size_t limit) {
    const LedgerView view(ctx_.accounting->ledger());
    for (size_t n = 0; n < limit; ++n) {
      const void* entry = ring.peek();
      if (entry == nullptr) break;
      ipc::JobEvent e;
      std::memcpy(&e, entry, sizeof e);
      ring.commit();
      const TimePoint now = ctx_.clock->now();  // after the event was pushed: its stamps precede it
      if (source.server) {
        apply_server_event(e, now);
        continue;
      }
      const ipc::EventCheck c =
          ipc::check_worker_event({source.task, source.role}, e, view, MonotonicClock::to_monotonic_us(now));
      if (c.verdict == ipc::Verdict::kViolation) {
        on_violation(source.task, source.role, c.code, c.detail, c.drop_job ? e.ref.job : 0, now);
        return;
      }
      if (c.verdict == ipc::Verdict::kIgnore) {
        // A closed job: nothing to apply; its frame hold (if any) goes at the sweep.
        continue;
      }
      apply_worker_event(source, e, now);
    }
    if (!source.server && ring.corrupt() && ring.corruptions() > corrupt_seen_[source.task][source.role == ipc::Role::kPre ? 0 : 1]) {
      corrupt_seen_[source.task][source.role == ipc::Role::kPre ? 0 : 1] = ring.corruptions();
      on_violation(source.task, source.role, ipc::Violation::kCorruptRing, "its event ring's indices disagree", 0,
                   ctx_.clock->now());
    }
  }

  // A checked worker event (check_worker_event said kApply): the task is the ring's, the
  // job open and the task's, its kind, reason and stamps the role's.
  void apply_worker_event(const EventSource& source, const ipc::JobEvent& e, TimePoint now) {
    const uint32_t task = source.task;
    const bool pre = source.role == ipc::Role::kPre;
    switch (e.kind) {
      case ipc::EventKind::kReady:
        if (!active_[task].load()) break;  // a retired worker's last word
        if (e.batch != ipc::kWorkerProtocol) {
          refuse_worker(task, source.role, e.batch);
        } else if (refused_[task].empty()) {  // else its other worker was refused: the task does not run
          (pre ? pre_ready_ : post_ready_)[task] = true;
          if (pre_ready_[task].load() && post_ready_[task].load()) ever_ready_[task] = true;
        }
        break;
      case ipc::EventKind::kPreDone:
        last_activity_[task][0] = now;
        release_hold(task, e.ref.job);
        ctx_.accounting->pre_done(e.ref.job, tp(e.pre_start_us), tp(e.pre_end_us));
        break;
      case ipc::EventKind::kDone: {
        last_activity_[task][1] = now;
        // Its result, if any, was pushed before this event: take it while the job is open.
        take_results(task);
        if (e.reason == ipc::kResultNotSent) {
          ctx_.results->refuse(task, e.ref.job, ResultRejection::kNotSent, "the worker's result ring stayed full");
        }
        // Only the post worker's own stamps: the ledger has the pre and inference ones
        // (from kPreDone and the server's kInferred), and the batch.
        JobRecord stamps;
        stamps.post_start = tp(e.post_start_us);
        stamps.post_end = tp(e.post_end_us);
        ctx_.accounting->done(e.ref.job, stamps, now);
        break;
      }
      case ipc::EventKind::kDropped:
        // bad_frame or overload (checked).
        last_activity_[task][pre ? 0 : 1] = now;
        if (pre) release_hold(task, e.ref.job);
        ctx_.accounting->drop(e.ref.job, static_cast<DropCause>(e.reason), now);
        break;
      default:
        break;  // not a worker's (refused by the checks)
    }
  }

  // The server is ours: its events are applied as they are (task indices bounded).
  void apply_server_event(const ipc::JobEvent& e, TimePoint now) {
    if (e.kind == ipc::EventKind::kModel) {
      on_model_event(e);
      return;
    }
    if (e.kind == ipc::EventKind::kReady) {
      if (e.reason == static_cast<uint8_t>(ipc::Role::kServer)) on_server_ready();
      return;
    }
    const uint32_t task = e.ref.task;
    if (task >= tasks_) return;  // not from this node's configuration
    switch (e.kind) {
      case ipc::EventKind::kInferred:
        server_activity_ = now;
        ctx_.accounting->inferred(e.ref.job, task, tp(e.infer_start_us), tp(e.infer_end_us), e.batch);
        break;
      case ipc::EventKind::kDropped: {
        auto reason = static_cast<DropCause>(e.reason);
        if (e.reason >= kDropCauseCount) reason = DropCause::kServerCrash;  // cannot happen: the server is ours
        if (reason == DropCause::kScheduler || reason == DropCause::kInferenceError) server_activity_ = now;
        ctx_.accounting->drop(e.ref.job, reason, now);
        break;
      }
      case ipc::EventKind::kViolation:
        // The server refused a tensor of this task's pre worker (it dropped the job itself
        // when the job was the task's: a kDropped of its own), or the task's server bell
        // flooded it (ipc/bell_waiter.h).
        if (e.reason > 0 && e.reason < ipc::kViolationCount) {
          const auto code = static_cast<ipc::Violation>(e.reason);
          on_violation(task, ipc::Role::kPre, code,
                       code == ipc::Violation::kFlood
                           ? "it woke the server over and over without a tensor (its bell is ignored for a while)"
                           : "the server refused its tensor (job " + std::to_string(e.ref.job) + ")",
                       0, now);
        }
        break;
      default:
        break;
    }
  }

  // A worker broke the protocol (ipc/worker_checks.h): the job it named, if open and the
  // task's, is dropped; the worker is killed (what it held is closed as protocol_violation
  // when it exits, supervise()); a log line (rate-limited) and the metric; the task is
  // quarantined after too many kills in a window.
  void on_violation(uint32_t task, ipc::Role role, ipc::Violation code, const std::string& detail, uint64_t job,
                    TimePoint now) {
    if (job != 0) {
      if (role == ipc::Role::kPre) release_hold(task, job);
      ctx_.accounting->drop(job, DropCause::kProtocolViolation, now);
    }
    const WorkerRole worker = role == ipc::Role::kPre ? WorkerRole::kPre : WorkerRole::kPost;
    const ViolationAction action = violations_.on_violation(task, worker, kind_of(code), now);
    ctx_.metrics->on_protocol_violation(task, worker, kind_of(code));
    const uint64_t n = ++foreign_events_[task];
    if (n <= 20 || n % 1000 == 0) {
      std::fprintf(stderr, "coedge node: task %s's %s worker broke the worker protocol (%s: %s)%s (%llu so far)\n",
                   ctx_.config->tasks[task].name.c_str(), std::string(to_string(worker)).c_str(), ipc::to_string(code),
                   detail.c_str(), action.kill_worker ? ": killing it" : "", static_cast<unsigned long long>(n));
    }
    const int id = role == ipc::Role::kPre ? pre_ids_[task] : post_ids_[task];
    if (action.kill_worker && id >= 0 && !condemned(id) && supervisor_.running(id)) {
      kill_reason_[id] = DropCause::kProtocolViolation;
      supervisor_.kill(id, SIGKILL);
    }
    if (action.quarantine) quarantine(task, now);
  }

  // ipc's codes (what the checks and the server say) as the tracker's and the metrics'
  // kinds: the same list, in the same order, one apart (ipc's 0 is kNone).
  static ViolationKind kind_of(ipc::Violation code) {
    static_assert(static_cast<int>(ipc::Violation::kForeignTask) == 1 &&
                  static_cast<int>(ViolationKind::kForeignTask) == 0 &&
                  static_cast<int>(ipc::Violation::kCorruptRing) - 1 == static_cast<int>(ViolationKind::kCorruptRing) &&
                  static_cast<int>(ipc::Violation::kFlood) - 1 == static_cast<int>(ViolationKind::kFlood) &&
                  static_cast<int>(ipc::Violation::kForgedJob) - 1 == static_cast<int>(ViolationKind::kForgedJob) &&
                  ipc::kViolationCount - 1 == static_cast<int>(kViolationKindCount));
    const int v = static_cast<int>(code);
    COEDGE_CHECK(v >= 1 && v < ipc::kViolationCount);
    return static_cast<ViolationKind>(v - 1);
  }

  // The task runs no more jobs here until a new plan activates it again: its workers are
  // retired (what they hold is closed as protocol_violation), and task_unavailable() makes
  // every job it releases a protocol_violation drop.
  void quarantine(uint32_t task, TimePoint now) {
    quarantined_[task] = true;
    ctx_.metrics->set_quarantined(task, true);
    std::fprintf(stderr, "coedge node: task %s quarantined: its workers were killed %u times within %s for breaking "
                 "the worker protocol; it runs no job here until a new plan gives it to this node again\n",
                 ctx_.config->tasks[task].name.c_str(), ctx_.config->violations.limit,
                 format_duration(ctx_.config->violations.window).c_str());
    for (int id : {pre_ids_[task], post_ids_[task]}) {
      if (id < 0) continue;
      kill_reason_[id] = DropCause::kProtocolViolation;
      supervisor_.retire(id, now, Duration(0));
    }
    pre_ready_[task] = false;
    post_ready_[task] = false;
  }

  // A worker killed for a violation, not reaped yet: its ring is not read meanwhile.
  bool condemned(int id) const { return id >= 0 && kill_reason_.count(id) != 0; }

  // Why a worker that exited is gone: protocol_violation when the agent killed it for
  // one (its later events are discarded: a violator's word is not taken), else crash.
  DropCause exit_cause(int id, DropCause otherwise) {
    auto it = kill_reason_.find(id);
    if (it == kill_reason_.end()) return otherwise;
    const DropCause cause = it->second;
    kill_reason_.erase(it);
    for (uint32_t t = 0; t < tasks_; ++t) {
      if (id == pre_ids_[t]) pre_events_[t].drain([](const void*) {});
      if (id == post_ids_[t]) post_events_[t].drain([](const void*) {});
    }
    return cause;
  }

  // The task's results from its live post worker (ResultLog checks each). A result refused
  // for what only a broken protocol explains — a chunk outside the pool or not published,
  // a bad length, a job never released, another task's job, a second result for a job —
  // is a violation (bad_result). Content the user's code got wrong (not one JSON object)
  // and late results (the job closed) are refused and counted, not violations.
  void take_results(uint32_t task) {
    static constexpr ResultRejection kBroken[] = {ResultRejection::kBadChunk, ResultRejection::kBadLength,
                                                  ResultRejection::kUnknownJob, ResultRejection::kOtherTask,
                                                  ResultRejection::kDuplicate};
    auto broken = [&] {
      const ResultLog::Counts c = ctx_.results->counts(task);
      uint64_t n = 0;
      for (ResultRejection r : kBroken) n += c.by_reason[static_cast<size_t>(r)];
      return n;
    };
    const uint64_t before = broken();
    ctx_.results->drain(task, result_rings_[task], result_pools_[task]);
    const uint64_t after = broken();
    if (after > before) {
      on_violation(task, ipc::Role::kPost, ipc::Violation::kBadResult,
                   std::to_string(after - before) + " result(s) refused (see the results' refusals above)", 0,
                   ctx_.clock->now());
    }
  }

  void release_hold(uint32_t task, uint64_t job) {
    if (auto h = frame_holds_.take_job(task, job)) frame_pools_[h->sensor].release(h->frame, h->bit);
  }
  void release_holds(const std::vector<FrameHolds::Hold>& holds) {
    for (const FrameHolds::Hold& h : holds) frame_pools_[h.sensor].release(h.frame, h.bit);
  }
  // A hold whose job is no longer at pre-processing (closed, or moved on without its pre
  // worker's word reaching us) is released here, once per poll.
  void sweep_frame_holds() {
    const JobLedger& ledger = ctx_.accounting->ledger();
    release_holds(frame_holds_.take_if([&](const FrameHolds::Hold& h) {
      const JobLedger::Facts f = ledger.facts(h.job);
      return !f.open || f.stage != JobStage::kPre;
    }));
  }

  // A retired worker is gone (its task left this node): what it still held (past its
  // deadline by now, as the hand-over keeps a task a grace period beyond its last frame)
  // is closed, and the chunks it held are freed. REQUIRES: the worker is not running.
  void on_retired_exit(int id, TimePoint now) {
    const DropCause cause = exit_cause(id, DropCause::kShutdown);  // protocol_violation: quarantined
    for (uint32_t t = 0; t < tasks_; ++t) {
      if (id == pre_ids_[t]) {
        reclaim_frames(t);
        ctx_.accounting->drop_stage(t, JobStage::kPre, cause, now);
      }
      if (id == post_ids_[t]) {
        reclaim_outputs(t);
        reclaim_results(t);
        ctx_.accounting->drop_stage(t, JobStage::kPost, cause, now);
      }
    }
  }

  void supervise() {
    const TimePoint now = ctx_.clock->now();
    for (const ChildEvent& e : supervisor_.poll(now)) {
      if (e.kind == ChildEvent::Kind::kStarted) {  // a restart (first starts are not polled)
        if (e.id == server_id_) ctx_.metrics->on_server_restart();
        for (uint32_t t = 0; t < tasks_; ++t) {
          // Its replacement runs (what the killed one left in its rings was discarded when
          // it exited): the next violation is a new kill.
          if (e.id == pre_ids_[t]) violations_.on_worker_started(t, WorkerRole::kPre);
          if (e.id == post_ids_[t]) violations_.on_worker_started(t, WorkerRole::kPost);
          if (e.id == pre_ids_[t]) ctx_.metrics->on_worker_restart(t, "pre");
          if (e.id == post_ids_[t]) ctx_.metrics->on_worker_restart(t, "post");
          if (e.id == pre_ids_[t] || e.id == post_ids_[t]) ++worker_restarts_;
        }
        continue;
      }
      if (e.kind == ChildEvent::Kind::kStartFailed) {
        std::fprintf(stderr, "coedge node: %s: %s\n", e.name.c_str(), e.message.c_str());
        continue;
      }
      if (e.kind != ChildEvent::Kind::kExited) continue;
      if (e.retired) {
        on_retired_exit(e.id, now);
        continue;
      }
      std::fprintf(stderr, "coedge node: %s exited (%s); restarting\n", e.name.c_str(),
                   e.signal ? ("signal " + std::to_string(e.signal)).c_str()
                            : ("exit code " + std::to_string(e.exit_code)).c_str());
      // Its events so far are in (drained above); what it still held is lost.
      if (e.id == server_id_) {
        server_ready_ = false;
        // Its models went with it; the new one loads them again once it is ready.
        for (ModelIndex m = 0; m < models_.size(); ++m) {
          if (model_state_[m].load() == ModelMemo::kLoaded || model_state_[m].load() == ModelMemo::kLoading) {
            model_state_[m] = ModelMemo::kReloading;
          }
        }
        ctx_.accounting->drop_stage(std::nullopt, JobStage::kServer, DropCause::kServerCrash, now);
      }
      // A worker the agent killed for a protocol violation: what it held is closed with
      // that cause (its events since the violation are discarded, never applied).
      const DropCause cause = exit_cause(e.id, DropCause::kWorkerCrash);
      for (uint32_t t = 0; t < tasks_; ++t) {
        if (e.id == pre_ids_[t]) {
          pre_ready_[t] = false;
          reclaim_frames(t);
          ctx_.accounting->drop_stage(t, JobStage::kPre, cause, now);
        }
        if (e.id == post_ids_[t]) {
          post_ready_[t] = false;
          reclaim_outputs(t);
          reclaim_results(t);
          ctx_.accounting->drop_stage(t, JobStage::kPost, cause, now);
        }
      }
    }
    find_hung(now);
  }

  // A dead pre-processing worker's frames: its tickets left in the ring are discarded
  // (their jobs are closed with the stage), and every frame hold of the task is released
  // from the agent's own record, never from what the worker wrote.
  void reclaim_frames(uint32_t task) {
    frame_ring_drains_[task].drain([](const void*) {});
    release_holds(frame_holds_.take_task(task));
  }

  void reclaim_outputs(uint32_t task) {
    output_rings_[task].drain([&](const void* entry) {
      ipc::ChunkRef ref;
      std::memcpy(&ref, entry, sizeof ref);
      if (auto pool = task_segments_[task]->pool(ref.pool); pool.ok()) pool->release(ref, ipc::kSoleHolder);
    });
  }

  // A dead post worker's results: those it pushed are taken (written for jobs still open:
  // the worker finished them, though their kDone never came, so they count as dropped);
  // a chunk it published but never pushed is freed. REQUIRES: the worker is not running.
  void reclaim_results(uint32_t task) {
    ctx_.results->drain(task, result_rings_[task], result_pools_[task]);
    result_pools_[task].release_all(ipc::kSoleHolder);
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
        if (id < 0 || !supervisor_.running(id)) continue;
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
  std::vector<int> pre_ids_, post_ids_;  // per task; -1 until it first runs here
  std::vector<std::atomic<bool>> active_;  // per task: activate()d
  std::atomic<bool> server_ready_ = false;
  std::vector<std::atomic<bool>> pre_ready_, post_ready_;
  std::vector<std::atomic<bool>> ever_ready_;  // per task: both workers ready since activate()
  // Per task: why a worker was refused since activate() (another protocol), or empty.
  std::vector<std::string> refused_;
  std::vector<uint64_t> foreign_events_;  // per task: protocol violations of its workers (for the log's rate)
  std::vector<uint64_t> delivered_;  // per task: tickets pushed (its sensor thread's): the job-table slot
  std::vector<ipc::JobTable> job_tables_;  // per task; written by its sensor's thread
  FrameHolds frame_holds_;
  std::vector<std::atomic<bool>> quarantined_;  // per task (read by any thread through task_unavailable)
  ViolationTracker violations_;  // the policy: kill, quarantine (loop thread only)
  std::map<int, DropCause> kill_reason_;  // per child id: killed by the agent for this, not yet reaped
  std::map<uint32_t, std::array<uint64_t, 2>> corrupt_seen_;  // per task: ring corruptions already counted
  int worker_restarts_ = 0;
  // Per model: the active tasks using it and since when none has (loop thread only), and
  // what the server holds (any thread reads it, through task_unavailable()).
  struct ModelUse {
    int users = 0;
    TimePoint unused_since{};
  };
  enum class ModelMemo : uint8_t { kUnloaded, kLoading, kLoaded, kFailed, kReloading };
  std::vector<ModelUse> models_;
  std::vector<std::atomic<ModelMemo>> model_state_;
  std::vector<std::array<TimePoint, 2>> last_activity_;  // per task: pre, post
  TimePoint server_activity_{};
  // The shared memory (ipc/node_topology.h): created by start(), handed to the children
  // as descriptors at every (re)start.
  std::unique_ptr<ipc::Segment> control_;
  std::vector<std::unique_ptr<ipc::Segment>> task_segments_;   // per task
  std::vector<std::unique_ptr<ipc::Segment>> frame_segments_;  // per sensor
  std::vector<ipc::TaskChannels> task_channels_;               // per task: its segment's sizes
  std::vector<ipc::SensorChannels> sensor_channels_;           // per sensor: its segment's sizes
  std::vector<std::unique_ptr<os::TaskCgroup>> task_cgroups_;  // per task; null: no limits
  os::Fd server_config_;  // the server's stdin: its config (node_config_wire.h), sealed
  // The agent's sleep: its control bell and each task segment's agent bell.
  std::optional<ipc::BellWaiter> waiter_;
  std::vector<uint64_t> bell_floods_;  // per task: floods of its agent bell
  std::optional<ipc::Ring> server_events_;
  std::optional<ipc::Ring> server_control_;  // the agent's commands to the server
  std::vector<ipc::Ring> pre_events_, post_events_;  // per task
  std::vector<ipc::Ring> frame_rings_;  // per task; pushed by its sensor's thread
  // The same rings, this loop's own views (a view counts what it sees: one per thread).
  std::vector<ipc::Ring> frame_ring_drains_;
  std::vector<ipc::Ring> output_rings_;  // per task; drained here only after a crash
  std::vector<ipc::Ring> result_rings_;  // per task: its post worker's results
  std::vector<ipc::Pool> result_pools_;  // per task
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
