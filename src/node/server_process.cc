#include "node/server_process.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/clock.h"
#include "infer/backend.h"
#include "ipc/messages.h"
#include "ipc/transport.h"
#include "node/inference_engine.h"
#include "node/node_scenario.h"

namespace coedge {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int64_t us(TimePoint t) { return MonotonicClock::to_monotonic_us(t); }

void send(ipc::Publisher& events, const ipc::JobEvent& event) {
  auto chunk = events.loan(sizeof event);
  if (!chunk.ok()) {
    std::fprintf(stderr, "coedge server: cannot report job %llu: %s\n",
                 static_cast<unsigned long long>(event.ref.job), chunk.error().message.c_str());
    return;
  }
  std::memcpy(*chunk, &event, sizeof event);
  events.publish(*chunk);
}

ipc::JobRef ref_of(const EngineInput& in) {
  ipc::JobRef ref;
  ref.job = in.job.id;
  ref.task = in.job.task;
  ref.release_us = us(in.job.release);
  ref.deadline_us = us(in.job.deadline);
  return ref;
}

class IpcSink final : public EngineSink {
 public:
  IpcSink(std::vector<std::unique_ptr<ipc::Subscriber>>& inputs,
          std::vector<std::unique_ptr<ipc::Publisher>>& outputs, ipc::Publisher& events)
      : inputs_(inputs), outputs_(outputs), events_(events) {}

  void dropped(const EngineInput& input, DropCause reason, TimePoint) override {
    ipc::JobEvent event;
    event.ref = ref_of(input);
    event.kind = ipc::EventKind::kDropped;
    event.reason = static_cast<uint8_t>(reason);
    send(events_, event);
  }

  void output(const EngineOutput& out) override {
    const EngineInput& in = *out.input;
    ipc::JobEvent event;
    event.ref = ref_of(in);
    event.batch = out.batch;
    event.infer_start_us = us(out.infer_start);
    event.infer_end_us = us(out.infer_end);
    const uint64_t bytes = ipc::payload_offset<ipc::OutputHeader>() + out.item.size_bytes();
    auto chunk = outputs_[in.job.task]->loan(bytes);
    if (!chunk.ok()) {
      event.kind = ipc::EventKind::kDropped;
      event.reason = static_cast<uint8_t>(DropCause::kOverload);
      send(events_, event);
      return;
    }
    auto* header = new (*chunk) ipc::OutputHeader();
    header->ref = event.ref;
    header->pre_start_us = us(in.pre_start);
    header->pre_end_us = us(in.pre_end);
    header->infer_start_us = event.infer_start_us;
    header->infer_end_us = event.infer_end_us;
    header->batch = out.batch;
    header->rank = static_cast<int32_t>(std::min<size_t>(out.item_shape.size(), ipc::kMaxRank));
    for (int i = 0; i < header->rank; ++i) header->shape[i] = out.item_shape[static_cast<size_t>(i)];
    header->aux = in.aux;
    header->elements = out.item.size();
    std::memcpy(static_cast<uint8_t*>(*chunk) + ipc::payload_offset<ipc::OutputHeader>(),
                out.item.data(), out.item.size_bytes());
    // Tell the ledger first that the job moved to post-processing (see worker_sdk.cc).
    event.kind = ipc::EventKind::kInferred;
    send(events_, event);
    outputs_[in.job.task]->publish(*chunk);
  }

  void release(const EngineInput& input) override {
    inputs_[input.job.task]->release(reinterpret_cast<const void*>(input.token));
  }

 private:
  std::vector<std::unique_ptr<ipc::Subscriber>>& inputs_;
  std::vector<std::unique_ptr<ipc::Publisher>>& outputs_;
  ipc::Publisher& events_;
};

}  // namespace

int run_server_process(const NodeConfig& config, const std::vector<ModelProfile>& profiles) {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  auto scenario = build_node_scenario(config, profiles);
  if (!scenario.ok()) {
    std::fprintf(stderr, "coedge server: %s\n", scenario.error().message.c_str());
    return 2;
  }
  auto scheduler = make_local_scheduler(config.scheduler, *scenario);
  if (!scheduler.ok()) {
    std::fprintf(stderr, "coedge server: %s\n", scheduler.error().message.c_str());
    return 2;
  }
  BackendOptions backend_options;
  backend_options.threads = config.backend_threads;
  auto backend = make_backend(config.backend, backend_options);
  if (!backend.ok()) {
    std::fprintf(stderr, "coedge server: %s\n", backend.error().message.c_str());
    return 2;
  }
  std::vector<std::unique_ptr<Model>> models;
  std::vector<Model*> model_ptrs;
  for (const NodeModelConfig& m : config.models) {
    auto model = (*backend)->load(m.file);
    if (!model.ok()) {
      std::fprintf(stderr, "coedge server: %s\n", model.error().message.c_str());
      return 2;
    }
    models.push_back(std::move(*model));
    model_ptrs.push_back(models.back().get());
  }

  ipc::init_runtime("server");
  std::vector<std::unique_ptr<ipc::Subscriber>> inputs;
  std::vector<std::unique_ptr<ipc::Publisher>> outputs;
  ipc::Waiter waiter;
  for (const NodeTaskConfig& t : config.tasks) {
    inputs.push_back(std::make_unique<ipc::Subscriber>(ipc::kTensorTopic, t.name, 256));
    outputs.push_back(std::make_unique<ipc::Publisher>(ipc::kOutputTopic, t.name));
    if (!waiter.attach(*inputs.back()).ok()) {
      std::fprintf(stderr, "coedge server: too many tasks for one waiter\n");
      return 2;
    }
  }
  ipc::Publisher events(ipc::kEventTopic, ipc::kEventName);
  MonotonicClock clock;
  IpcSink sink(inputs, outputs, events);
  InferenceEngine engine(*scenario, std::move(*scheduler), model_ptrs, sink, clock);

  ipc::JobEvent ready;
  ready.kind = ipc::EventKind::kReady;
  ready.reason = static_cast<uint8_t>(ipc::Role::kServer);
  send(events, ready);
  std::fprintf(stderr, "coedge server: %zu models loaded, scheduler %s, ready\n", models.size(),
               config.scheduler.c_str());

  TimePoint wake_at = TimePoint::max();
  while (!g_stop) {
    // After a batch, look for inputs that arrived during it before deciding again.
    if (!engine.ran_batch()) {
      const Duration cap = std::chrono::milliseconds(200);
      const Duration timeout =
          wake_at == TimePoint::max() ? cap : std::clamp(wake_at - clock.now(), Duration(0), cap);
      if (timeout > Duration(0)) waiter.wait(timeout);
    }
    for (size_t t = 0; t < inputs.size(); ++t) {
      while (const void* chunk = inputs[t]->take()) {
        const auto* header = static_cast<const ipc::TensorHeader*>(chunk);
        EngineInput in;
        in.job.id = header->ref.job;
        in.job.task = static_cast<TaskIndex>(t);
        in.job.model = scenario->tasks[t].model;
        in.job.release = MonotonicClock::from_monotonic_us(header->ref.release_us);
        in.job.deadline = MonotonicClock::from_monotonic_us(header->ref.deadline_us);
        in.job.priority = scenario->tasks[t].priority;
        in.data = reinterpret_cast<const float*>(static_cast<const uint8_t*>(chunk) +
                                                 ipc::payload_offset<ipc::TensorHeader>());
        in.elements = header->elements;
        in.pre_start = MonotonicClock::from_monotonic_us(header->pre_start_us);
        in.pre_end = MonotonicClock::from_monotonic_us(header->pre_end_us);
        in.aux = header->aux;
        in.token = reinterpret_cast<uint64_t>(chunk);
        engine.submit(in);
      }
    }
    wake_at = engine.step();
  }
  engine.drop_all(DropCause::kShutdown);
  return 0;
}

}  // namespace coedge
