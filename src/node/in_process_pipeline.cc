// The "none" isolation mode: the paper's Mono Container. Every task's pre- and
// post-processing runs as a thread of the agent, calling the same worker callbacks a
// worker process would, and the inference server is a thread running the same
// InferenceEngine. Frames, tensors and outputs move between threads as heap buffers
// through locked queues: one copy of a frame into the pipeline (as the IPC mode's copy
// into shared memory), one copy of each output item (as the IPC mode's). The callbacks
// are called through the SDK's WorkerInvoker, the path a worker process takes too, so
// the checks are the same; each result goes to the agent's one writer (ResultLog), as a
// worker process's does through shared memory, before the job is reported done, so the
// task's results (run_dir/results/<task>.jsonl) are written the same way in every mode.
// Every task's threads and every model are ready from start(), as in one container:
// activate() and deactivate() only open and close a task to frames (lean nodes are the
// IPC modes' part: node/ipc_pipeline.cc).
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "coedge/worker_invoke.h"
#include "config/model_backend.h"
#include "node/backend_set.h"
#include "node/core/inference_engine.h"
#include "node/pipeline.h"
#include "node/stock_worker.h"

namespace coedge::node {
namespace {

// A blocking queue that can be closed; pop() returns false once closed and empty.
template <typename T>
class Queue {
 public:
  void push(T item) {
    {
      std::lock_guard lock(mu_);
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
  }
  bool pop(T& item) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    item = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool closed_ = false;
};

struct FrameJob {
  std::shared_ptr<const cv::Mat> frame;
  uint64_t sequence = 0;
  TimePoint capture{};
  ipc::JobRef ref;
};

struct OutputJob {
  ipc::JobRef ref;
  TimePoint pre_start{}, pre_end{}, infer_start{}, infer_end{};
  int batch = 0;
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::vector<uint8_t> labels;  // a segmentation job's class ids instead of `data`
  ipc::Aux aux;
};

struct TensorBuffer {
  std::vector<float> data;
};

class InProcessPipeline final : public Pipeline, public EngineSink {
 public:
  explicit InProcessPipeline(PipelineContext context)
      : ctx_(std::move(context)), active_(ctx_.config->tasks.size()) {
    COEDGE_CHECK(ctx_.results != nullptr);
  }
  ~InProcessPipeline() override { stop(); }

  Status start() override {
    const config::NodeConfig& config = *ctx_.config;
    infer::BackendOptions options;
    options.threads = config.backend_threads;
    BackendSet backends(options);
    std::vector<infer::Model*> ptrs;
    for (size_t m = 0; m < config.model_files.size(); ++m) {
      auto backend = backends.get(config::backend_of(config, m));
      if (!backend.ok()) return backend.error();
      auto model = (*backend)->load(config.model_files[m]);
      if (!model.ok()) return model.error();
      models_.push_back(std::move(*model));
      ptrs.push_back(models_.back().get());
    }
    engine_ = std::make_unique<InferenceEngine>(*ctx_.scenario,
                                                policy::make_local_scheduler(config.scheduler, *ctx_.scenario), ptrs,
                                                *this, *ctx_.clock);

    const coedge_worker_callbacks* cb = stock_worker_callbacks();
    const size_t tasks = config.tasks.size();
    pre_queues_.resize(tasks);
    post_queues_.resize(tasks);
    for (size_t t = 0; t < tasks; ++t) {
      pre_queues_[t] = std::make_unique<Queue<FrameJob>>();
      post_queues_[t] = std::make_unique<Queue<OutputJob>>();
      const std::string& name = config.tasks[t].name;
      std::error_code ec;
      std::filesystem::create_directories(task_dir(name), ec);
      if (ec) return Error{ErrorCode::kIo, "cannot create " + task_dir(name) + ": " + ec.message()};
      for (const char* role : {"pre", "post"}) {
        auto state = init_worker(cb, t, role);
        if (!state.ok()) return state.error();
        states_.push_back({cb, *state});
        invokers_.push_back(std::make_unique<sdk::WorkerInvoker>(
            cb, *state, "coedge node " + name + "/" + role + " (in process)"));
      }
    }
    for (size_t t = 0; t < tasks; ++t) {
      pre_threads_.emplace_back([this, t, worker = invokers_[2 * t].get()] { run_pre(t, *worker); });
      post_threads_.emplace_back([this, t, worker = invokers_[2 * t + 1].get()] { run_post(t, *worker); });
    }
    server_thread_ = std::thread([this] { run_server(); });
    started_ = true;
    return Ok{};
  }

  void activate(uint32_t task) override { active_.at(task) = true; }
  void deactivate(uint32_t task) override { active_.at(task) = false; }
  Status wait_ready(Duration) override { return Ok{}; }

  DropCause task_unavailable(uint32_t task) const override {
    if (!started_) return DropCause::kShutdown;
    return active_[task].load() ? DropCause::kNone : DropCause::kNotReady;
  }

  void publish_frame(uint32_t, const cv::Mat& frame, uint64_t sequence, TimePoint capture,
                     std::span<const ipc::JobRef> jobs) override {
    auto copy = std::make_shared<const cv::Mat>(frame.clone());
    for (const ipc::JobRef& ref : jobs) {
      pre_queues_[ref.task]->push(FrameJob{copy, sequence, capture, ref});
    }
  }

  void poll(Duration timeout) override {
    std::unique_lock lock(stop_mu_);
    stop_cv_.wait_for(lock, timeout, [&] { return stopping_; });
  }

  void stop() override {
    if (!started_) return;
    started_ = false;
    {
      std::lock_guard lock(stop_mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    for (auto& q : pre_queues_) q->close();
    for (auto& t : pre_threads_) t.join();
    {
      std::lock_guard lock(inbox_mu_);
      server_stop_ = true;
    }
    inbox_cv_.notify_all();
    server_thread_.join();
    for (auto& q : post_queues_) q->close();
    for (auto& t : post_threads_) t.join();
    for (auto& [cb, state] : states_) {
      if (cb->fini != nullptr) cb->fini(state);
    }
    states_.clear();
    invokers_.clear();
  }

 private:
  std::string task_dir(const std::string& task) const { return ctx_.config->run_dir + "/tasks/" + task; }

  Result<void*> init_worker(const coedge_worker_callbacks* cb, size_t task, const char* role) {
    const TaskSpec& t = ctx_.config->tasks[task];
    const ModelIndex m = t.model;
    coedge_task_info info{};
    info.node = ctx_.config->name.c_str();
    info.task = t.name.c_str();
    info.model = ctx_.config->models[m].name.c_str();
    info.kind = ctx_.task_kinds[task].c_str();
    const std::string dir = task_dir(t.name);
    info.task_dir = dir.c_str();
    info.role = role;
    const auto& in = ctx_.input_shapes[m];
    const auto& out = ctx_.output_shapes[m];
    info.input_rank = static_cast<int32_t>(in.size());
    for (size_t i = 0; i < in.size() && i < COEDGE_MAX_RANK; ++i) info.input_shape[i] = in[i];
    info.output_rank = static_cast<int32_t>(out.size());
    for (size_t i = 0; i < out.size() && i < COEDGE_MAX_RANK; ++i) info.output_shape[i] = out[i];
    const config::TaskRuntime& runtime = ctx_.config->task_runtime[task];
    info.confidence = runtime.confidence.value_or(-1);
    info.nms_iou = runtime.nms_iou.value_or(-1);
    // Pointers into the config's own names, which outlive the pipeline; one array per task,
    // built once, so a worker may keep info->labels.
    std::vector<const char*>& labels = label_ptrs_[task];
    if (labels.empty() && m < ctx_.config->model_labels.size()) {
      for (const std::string& name : ctx_.config->model_labels[m]) labels.push_back(name.c_str());
    }
    info.label_count = static_cast<int32_t>(labels.size());
    info.labels = labels.empty() ? nullptr : labels.data();
    info.masks = runtime.masks == config::MaskOutput::kPng ? "png" : "";
    char error[512] = {0};
    void* state = cb->init(&info, error, sizeof error);
    if (state == nullptr) {
      return Error{ErrorCode::kInvalidInput, "task " + t.name + ": worker init failed: " + error};
    }
    return state;
  }

  void run_pre(size_t task, sdk::WorkerInvoker& worker) {
    const ModelIndex m = ctx_.scenario->tasks[task].model;
    const std::vector<int64_t>& shape = ctx_.input_shapes[m];
    const uint64_t elements = sdk::elements_of(shape);
    FrameJob job;
    while (pre_queues_[task]->pop(job)) {
      const TimePoint pre_start = ctx_.clock->now();
      auto buffer = std::make_unique<TensorBuffer>();
      buffer->data.resize(elements);
      coedge_frame in{};
      in.pixels = job.frame->data;
      in.width = job.frame->cols;
      in.height = job.frame->rows;
      in.channels = job.frame->channels();
      in.stride = static_cast<int32_t>(job.frame->step[0]);
      in.sequence = job.sequence;
      in.capture_us = MonotonicClock::to_monotonic_us(job.capture);
      in.job = job.ref.job;
      in.deadline_us = job.ref.deadline_us;
      ipc::Aux aux;
      const bool ok = worker.pre(in, buffer->data, shape, aux.values);
      const TimePoint pre_end = ctx_.clock->now();
      job.frame.reset();
      if (!ok) {
        worker.report(job.ref.job, "pre-processing");
        ctx_.accounting->drop(job.ref.job, DropCause::kBadFrame, pre_end);
        continue;
      }
      ctx_.accounting->pre_done(job.ref.job, pre_start, pre_end);
      EngineInput input;
      input.job.id = job.ref.job;
      input.job.task = static_cast<TaskIndex>(task);
      input.job.model = m;
      input.job.release = MonotonicClock::from_monotonic_us(job.ref.release_us);
      input.job.deadline = MonotonicClock::from_monotonic_us(job.ref.deadline_us);
      input.job.priority = ctx_.scenario->tasks[task].priority;
      input.data = buffer->data.data();
      input.elements = elements;
      input.pre_start = pre_start;
      input.pre_end = pre_end;
      input.aux = aux;
      input.token = reinterpret_cast<uint64_t>(buffer.release());
      {
        std::lock_guard lock(inbox_mu_);
        inbox_.push_back(input);
      }
      inbox_cv_.notify_one();
    }
  }

  void run_server() {
    TimePoint wake_at = TimePoint::max();
    std::vector<EngineInput> arrived;
    while (true) {
      {
        std::unique_lock lock(inbox_mu_);
        if (!engine_->ran_batch()) {
          auto ready = [&] { return server_stop_ || !inbox_.empty(); };
          if (wake_at == TimePoint::max()) {
            inbox_cv_.wait(lock, ready);
          } else {
            const auto wait = wake_at - ctx_.clock->now();
            if (wait > Duration(0)) inbox_cv_.wait_for(lock, wait, ready);
          }
        }
        if (server_stop_) break;
        arrived.swap(inbox_);
      }
      for (EngineInput& in : arrived) engine_->submit(in);
      arrived.clear();
      wake_at = engine_->step();
    }
    engine_->drop_all(DropCause::kShutdown);
    std::lock_guard lock(inbox_mu_);
    for (EngineInput& in : inbox_) release(in);
    inbox_.clear();
  }

  void run_post(size_t task, sdk::WorkerInvoker& worker) {
    OutputJob job;
    while (post_queues_[task]->pop(job)) {
      JobRecord stamps;
      stamps.pre_start = job.pre_start;
      stamps.pre_end = job.pre_end;
      stamps.infer_start = job.infer_start;
      stamps.infer_end = job.infer_end;
      stamps.batch = job.batch;
      stamps.post_start = ctx_.clock->now();
      sdk::OutputItem item;
      item.data = job.data;
      item.labels = job.labels;
      item.dtype = job.labels.empty() ? COEDGE_DTYPE_F32 : COEDGE_DTYPE_U8;
      item.shape = job.shape;
      item.aux = job.aux.values;
      item.job = job.ref.job;
      item.batch = job.batch;
      item.release_us = job.ref.release_us;
      item.deadline_us = job.ref.deadline_us;
      const bool ok = worker.post(item);
      stamps.post_end = ctx_.clock->now();
      // The result before done(), as from a worker process: taken while the job is open.
      if (ok && !worker.result().empty()) {
        ctx_.results->accept(static_cast<uint32_t>(task), job.ref.job, worker.result());
      }
      if (!ok) {
        worker.report(job.ref.job, "post-processing");
        ctx_.accounting->drop(job.ref.job, DropCause::kBadFrame, stamps.post_end);
      } else {
        ctx_.accounting->done(job.ref.job, stamps, stamps.post_end);
      }
    }
  }

  // EngineSink, on the server thread.
  void dropped(const EngineInput& input, DropCause reason, TimePoint now) override {
    ctx_.accounting->drop(input.job.id, reason, now);
  }
  void output(const EngineOutput& out) override {
    const EngineInput& in = *out.input;
    OutputJob job;
    job.ref.job = in.job.id;
    job.ref.task = in.job.task;
    job.ref.release_us = MonotonicClock::to_monotonic_us(in.job.release);
    job.ref.deadline_us = MonotonicClock::to_monotonic_us(in.job.deadline);
    job.pre_start = in.pre_start;
    job.pre_end = in.pre_end;
    job.infer_start = out.infer_start;
    job.infer_end = out.infer_end;
    job.batch = out.batch;
    job.shape.assign(out.item_shape.begin(), out.item_shape.end());
    job.data.assign(out.item.begin(), out.item.end());
    job.labels.assign(out.labels.begin(), out.labels.end());
    job.aux = in.aux;
    ctx_.accounting->inferred(in.job.id, in.job.task, out.infer_start, out.infer_end, out.batch);
    post_queues_[in.job.task]->push(std::move(job));
  }
  void release(const EngineInput& input) override {
    delete reinterpret_cast<TensorBuffer*>(input.token);
  }

  PipelineContext ctx_;
  std::vector<std::unique_ptr<infer::Model>> models_;
  std::unique_ptr<InferenceEngine> engine_;
  std::vector<std::pair<const coedge_worker_callbacks*, void*>> states_;  // per task: pre, post
  std::vector<std::unique_ptr<sdk::WorkerInvoker>> invokers_;             // the same order
  std::map<size_t, std::vector<const char*>> label_ptrs_;  // per task: coedge_task_info.labels
  std::vector<std::unique_ptr<Queue<FrameJob>>> pre_queues_;
  std::vector<std::unique_ptr<Queue<OutputJob>>> post_queues_;
  std::vector<std::thread> pre_threads_, post_threads_;
  std::thread server_thread_;
  std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;
  std::vector<EngineInput> inbox_;
  bool server_stop_ = false;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::atomic<bool> started_ = false;
  std::vector<std::atomic<bool>> active_;  // per task: open to frames
};

}  // namespace

std::unique_ptr<Pipeline> make_in_process_pipeline(PipelineContext context) {
  return std::make_unique<InProcessPipeline>(std::move(context));
}

}  // namespace coedge::node
