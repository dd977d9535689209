#include "node/core/inference_engine.h"

#include <algorithm>
#include <cstring>

#include "infer/segmentation.h"

namespace coedge::node {

InferenceEngine::InferenceEngine(const Scenario& scenario, std::unique_ptr<policy::LocalScheduler> scheduler,
                                 std::vector<infer::Model*> models, EngineSink& sink, const Clock& clock)
    : scenario_(scenario),
      scheduler_(std::move(scheduler)),
      models_(std::move(models)),
      sink_(sink),
      clock_(clock),
      batch_inputs_(models_.size()),
      segmentation_(models_.size(), false) {
  COEDGE_CHECK(models_.size() == scenario_.models.size());
  for (ModelIndex m = 0; m < models_.size(); ++m) set_model(m, models_[m]);
}

InferenceEngine::~InferenceEngine() = default;

void InferenceEngine::set_model(ModelIndex m, infer::Model* model) {
  COEDGE_CHECK(m < models_.size());
  models_[m] = model;
  segmentation_[m] = model != nullptr && infer::is_segmentation(model->info());
  if (model != nullptr) {
    std::vector<int64_t> shape = model->item_shape();
    shape.insert(shape.begin(), 0);
    batch_inputs_[m].shape = std::move(shape);
    return;
  }
  // Inputs of m still queued stay with the scheduler: step() drops them when it picks them.
  batch_inputs_[m].shape.clear();
}

uint64_t InferenceEngine::item_elements(ModelIndex m) const {
  if (m >= models_.size() || models_[m] == nullptr) return 0;
  const auto& shape = batch_inputs_[m].shape;
  int64_t per_item = 1;
  for (size_t i = 1; i < shape.size(); ++i) per_item *= shape[i];
  return static_cast<uint64_t>(per_item);
}

void InferenceEngine::submit(EngineInput input) {
  const TimePoint now = clock_.now();
  const auto model = input.job.model;
  bool valid = model != kNone && static_cast<size_t>(model) < models_.size();
  if (valid && models_[static_cast<size_t>(model)] == nullptr) {
    ++stats_.dropped;
    sink_.dropped(input, DropCause::kNotReady, now);
    sink_.release(input);
    return;
  }
  if (valid) {
    const auto& shape = batch_inputs_[static_cast<size_t>(model)].shape;
    int64_t per_item = 1;
    for (size_t i = 1; i < shape.size(); ++i) per_item *= shape[i];
    valid = input.data != nullptr && input.elements == static_cast<uint64_t>(per_item);
  }
  if (!valid || waiting_.count(input.job.id) != 0) {
    ++stats_.dropped;
    sink_.dropped(input, DropCause::kInferenceError, now);
    sink_.release(input);
    return;
  }
  const policy::Job job = input.job;
  waiting_.emplace(job.id, std::move(input));
  scheduler_->on_ready(job, now);
}

void InferenceEngine::drop(uint64_t job_id, DropCause reason, TimePoint now) {
  auto it = waiting_.find(job_id);
  COEDGE_CHECK(it != waiting_.end());
  ++stats_.dropped;
  sink_.dropped(it->second, reason, now);
  sink_.release(it->second);
  waiting_.erase(it);
}

TimePoint InferenceEngine::step() {
  ran_batch_ = false;
  const TimePoint now = clock_.now();
  decision_.clear();
  scheduler_->decide(now, decision_);
  for (const policy::Job& job : decision_.dropped) drop(job.id, DropCause::kScheduler, now);
  if (decision_.batch.empty()) return decision_.wake_at;
  if (models_[decision_.model] == nullptr) {
    // Queued before the model was unloaded (set_model): they cannot run here any more.
    for (const policy::Job& job : decision_.batch) drop(job.id, DropCause::kNotReady, now);
    ran_batch_ = true;  // ask again at once
    return TimePoint::max();
  }
  run_batch(decision_);
  ran_batch_ = true;
  return TimePoint::max();
}

void InferenceEngine::run_batch(const policy::Decision& decision) {
  const auto m = static_cast<size_t>(decision.model);
  infer::Tensor& input = batch_inputs_[m];
  const auto b = static_cast<int64_t>(decision.batch.size());
  int64_t per_item = 1;
  for (size_t i = 1; i < input.shape.size(); ++i) per_item *= input.shape[i];
  input.shape[0] = b;
  input.data.resize(static_cast<size_t>(b * per_item));

  // Gathering into one contiguous tensor is the one copy the backend's batch layout
  // needs; the inputs themselves were written once, by their pre-processing worker.
  std::vector<EngineInput*> jobs;
  jobs.reserve(decision.batch.size());
  for (size_t i = 0; i < decision.batch.size(); ++i) {
    auto it = waiting_.find(decision.batch[i].id);
    COEDGE_CHECK(it != waiting_.end());
    jobs.push_back(&it->second);
    std::memcpy(input.data.data() + static_cast<int64_t>(i) * per_item, it->second.data,
                static_cast<size_t>(per_item) * sizeof(float));
  }
  // The inputs are no longer needed: return their memory before the long forward pass.
  for (EngineInput* job : jobs) sink_.release(*job);

  const TimePoint start = clock_.now();
  Result<infer::Tensor> output = infer::Tensor{};
  Result<infer::LabelMap> labels = infer::LabelMap{};
  if (segmentation_[m]) labels = models_[m]->run_argmax(input);
  else output = models_[m]->run(input);
  const TimePoint end = clock_.now();
  ++stats_.batches;
  stats_.items += static_cast<uint64_t>(b);
  stats_.forward_time += end - start;

  // A backend's output must hold one item per job, and as many values as its shape says.
  const std::vector<int64_t>* shape = segmentation_[m] ? (labels.ok() ? &labels->shape : nullptr)
                                                       : (output.ok() ? &output->shape : nullptr);
  const bool valid = shape != nullptr && !shape->empty() && (*shape)[0] == b &&
                     (segmentation_[m] ? labels->data.size() == labels->elements()
                                       : output->data.size() == output->elements());
  if (!valid) {
    for (EngineInput* job : jobs) {
      ++stats_.dropped;
      sink_.dropped(*job, DropCause::kInferenceError, end);
    }
  } else {
    const std::span<const int64_t> item_shape(shape->data() + 1, shape->size() - 1);
    for (size_t i = 0; i < jobs.size(); ++i) {
      EngineOutput out;
      out.input = jobs[i];
      if (segmentation_[m]) out.labels = labels->item(static_cast<int64_t>(i));
      else out.item = output->item(static_cast<int64_t>(i));
      out.item_shape = item_shape;
      out.batch = static_cast<int>(b);
      out.infer_start = start;
      out.infer_end = end;
      sink_.output(out);
    }
  }
  for (const policy::Job& job : decision.batch) waiting_.erase(job.id);
}

void InferenceEngine::drop_all(DropCause reason) {
  const TimePoint now = clock_.now();
  // The scheduler still holds these jobs; a fresh decide() would only drop late ones, so
  // they leave through the sink here and the scheduler is not asked again.
  std::vector<uint64_t> ids;
  ids.reserve(waiting_.size());
  for (const auto& [id, input] : waiting_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) drop(id, reason, now);
}

}  // namespace coedge::node
