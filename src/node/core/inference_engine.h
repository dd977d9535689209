// The shared inference server's core, independent of how inputs arrive: the node's
// local scheduler from src/policy (the simulator's own code) driven by the real clock,
// over the node's models that are loaded (a lean node loads a model when a task that
// uses it arrives: set_model). Inputs of every task queue here; step() asks the
// scheduler what to run, reports the jobs it drops, gathers the chosen jobs' inputs into
// one batch, runs one forward pass, and hands each job its slice of the output. For a
// segmentation model (infer::is_segmentation, the agent's rule too) the pass is
// Model::run_argmax and each job gets its per-pixel class ids, one byte per pixel.
//
// Inputs are borrowed: `data` points into memory the transport owns (a shared-memory
// chunk, or a buffer of the in-process mode) until the sink's release() for that input.
// Not thread-safe: one thread calls submit() and step(); the sink is called from it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/scenario.h"
#include "infer/backend.h"
#include "ipc/messages.h"
#include "node/core/job_record.h"
#include "policy/local_scheduler.h"

namespace coedge::node {

struct EngineInput {
  policy::Job job;                      // id, task, model, release, deadline, priority
  const float* data = nullptr;  // one item of the model's input, borrowed
  uint64_t elements = 0;
  TimePoint pre_start{}, pre_end{};
  ipc::Aux aux;
  uint64_t token = 0;           // the transport's handle for releasing `data`
};

struct EngineOutput {
  const EngineInput* input = nullptr;
  std::span<const float> item;            // this job's slice of the batch output (f32)
  // A segmentation model's instead: this job's class id per pixel ([H, W]); `item` is
  // then empty. Exactly one of the two is non-empty.
  std::span<const uint8_t> labels;
  std::span<const int64_t> item_shape;    // without the batch axis
  int batch = 0;
  TimePoint infer_start{}, infer_end{};
};

class EngineSink {
 public:
  virtual ~EngineSink() = default;
  // Every submitted input ends in exactly one of dropped() or output(), and gets exactly
  // one release(). An input that runs in a batch is released *before* the forward pass
  // (its memory is free for reuse while the model runs), so output() must not read
  // `input->data`. A dropped input is released after dropped(). An input whose id is
  // already queued (a transport bug) is dropped under that id: the accounting then
  // closes the job as dropped, and ignores the original's later news.
  virtual void dropped(const EngineInput& input, DropCause reason, TimePoint now) = 0;
  virtual void output(const EngineOutput& output) = 0;
  virtual void release(const EngineInput& input) = 0;
};

struct EngineStats {
  uint64_t batches = 0;
  uint64_t items = 0;
  uint64_t dropped = 0;
  Duration forward_time{};
};

class InferenceEngine {
 public:
  // REQUIRES: `scenario` (its models' profiles and its tasks) outlives the engine;
  // models[i] serves scenario.models[i] (nullptr: not loaded) and outlives the engine,
  // or its replacement by set_model().
  InferenceEngine(const Scenario& scenario, std::unique_ptr<policy::LocalScheduler> scheduler,
                  std::vector<infer::Model*> models, EngineSink& sink, const Clock& clock);
  ~InferenceEngine();

  // Serves model m from `model` on (nullptr: unloads it: its inputs still queued are
  // dropped with reason kNotReady when the scheduler picks them, and new ones at once,
  // until a model is set again).
  // REQUIRES: m < scenario.models.size(); `model` outlives its use here.
  void set_model(ModelIndex m, infer::Model* model);
  // Elements of one input item of model m (its per-item shape's product), or 0 while it
  // has no model: what a submitted input must carry (the server checks tensors with it).
  uint64_t item_elements(ModelIndex m) const;
  bool has_model(ModelIndex m) const { return m < models_.size() && models_[m] != nullptr; }

  // A malformed input (wrong element count, unknown model) is dropped at once, with
  // reason kInferenceError, instead of reaching the backend; one for a model not loaded,
  // with reason kNotReady.
  void submit(EngineInput input);

  // One decision: drops what the scheduler drops and runs at most one batch, to
  // completion. Returns when the scheduler wants to be asked again if nothing new
  // arrives (TimePoint::max(): only a new input changes the answer). Call it again at
  // once after a batch ran (ran_batch() tells).
  TimePoint step();
  bool ran_batch() const { return ran_batch_; }

  // Drops every queued input (reason), at shutdown. REQUIRES: step() is not called again.
  void drop_all(DropCause reason);

  size_t queued() const { return waiting_.size(); }
  const EngineStats& stats() const { return stats_; }

 private:
  void run_batch(const policy::Decision& decision);
  void drop(uint64_t job_id, DropCause reason, TimePoint now);

  const Scenario& scenario_;
  std::unique_ptr<policy::LocalScheduler> scheduler_;
  std::vector<infer::Model*> models_;
  EngineSink& sink_;
  const Clock& clock_;
  std::unordered_map<uint64_t, EngineInput> waiting_;  // by job id; lookup only
  std::vector<infer::Tensor> batch_inputs_;                   // per model, reused
  std::vector<bool> segmentation_;                            // per model: run_argmax
  policy::Decision decision_;
  EngineStats stats_;
  bool ran_batch_ = false;
};

}  // namespace coedge::node
