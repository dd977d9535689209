#include "policy/triton_scheduler.h"

#include <algorithm>
#include <functional>

namespace coedge::policy {

TritonConfig careful_triton_config(const Scenario& scenario) {
  TritonConfig config;
  config.models.resize(scenario.models.size());
  for (ModelIndex m = 0; m < scenario.models.size(); ++m) {
    const ModelProfile& model = scenario.models[m];
    Duration tightest = kNever;
    for (const TaskSpec& t : scenario.tasks)
      if (t.model == m) tightest = std::min(tightest, t.deadline);
    TritonModelConfig& c = config.models[m];
    if (tightest == kNever) {  // no task uses the model: Triton's defaults
      c.preferred_batch_sizes = {kMaxBatch};
      continue;
    }
    const Duration budget = tightest - model.pre_time - model.post_time;
    int preferred = 1;
    for (int b = kMaxBatch; b >= 1; --b) {
      if (model.exe(b) * 2 <= budget) {
        preferred = b;
        break;
      }
    }
    c.preferred_batch_sizes = {preferred};
    c.max_queue_delay = std::max(Duration{0}, (budget - model.exe(preferred)) / 2);
    c.timeout = std::max(Duration{0}, budget - model.exe(1));
  }
  for (const TaskSpec& t : scenario.tasks) config.priority_levels.push_back(t.priority);
  std::sort(config.priority_levels.begin(), config.priority_levels.end(), std::greater<>());
  config.priority_levels.erase(
      std::unique(config.priority_levels.begin(), config.priority_levels.end()),
      config.priority_levels.end());
  if (config.priority_levels.empty()) config.priority_levels.push_back(0);
  return config;
}

TritonScheduler::TritonScheduler(const std::vector<ModelProfile>& models, TritonConfig config)
    : models_(models), config_(std::move(config)), queues_(models.size()) {
  COEDGE_CHECK(config_.models.size() == models.size() && !config_.priority_levels.empty());
  for (auto& q : queues_) q.levels.resize(config_.priority_levels.size());
}

size_t TritonScheduler::level_of(int priority) const {
  // Priorities are sorted most important first; one unknown to the config goes last.
  const auto& levels = config_.priority_levels;
  for (size_t i = 0; i < levels.size(); ++i)
    if (levels[i] == priority) return i;
  return levels.size() - 1;
}

TimePoint TritonScheduler::oldest(const ModelQueues& q) const {
  TimePoint t = TimePoint::max();
  for (const auto& level : q.levels)
    if (!level.empty()) t = std::min(t, level.front().enqueued);
  return t;
}

void TritonScheduler::on_ready(const Job& job, TimePoint now) {
  COEDGE_CHECK(job.model < queues_.size());
  ModelQueues& q = queues_[job.model];
  q.levels[level_of(job.priority)].push_back({job, now});
  ++q.size;
  ++queued_;
}

void TritonScheduler::decide(TimePoint now, Decision& out) {
  out.clear();
  ModelIndex chosen = kNone;
  int chosen_batch = 0;
  TimePoint chosen_oldest = TimePoint::max();
  for (ModelIndex m = 0; m < queues_.size(); ++m) {
    ModelQueues& q = queues_[m];
    const TritonModelConfig& c = config_.models[m];
    if (c.timeout != kNever) {  // REJECT the timed-out requests (FIFO: oldest at the front)
      for (auto& level : q.levels) {
        while (!level.empty() && now - level.front().enqueued > c.timeout) {
          out.dropped.push_back(level.front().job);
          level.pop_front();
          --q.size;
          --queued_;
        }
      }
    }
    if (q.size == 0) continue;
    const TimePoint first = oldest(q);
    int batch = 0;
    for (int size : c.preferred_batch_sizes)
      if (static_cast<size_t>(size) <= q.size) batch = size;  // the largest that fits
    if (batch == 0 && now - first >= c.max_queue_delay)
      batch = static_cast<int>(std::min<size_t>(q.size, kMaxBatch));
    if (batch == 0) {
      out.wake_at = std::min(out.wake_at, first + c.max_queue_delay);
      continue;
    }
    if (first < chosen_oldest) {
      chosen = m;
      chosen_batch = batch;
      chosen_oldest = first;
    }
  }
  if (chosen == kNone) return;
  out.wake_at = TimePoint::max();
  ModelQueues& q = queues_[chosen];
  for (auto& level : q.levels) {
    while (!level.empty() && static_cast<int>(out.batch.size()) < chosen_batch) {
      out.batch.push_back(level.front().job);
      level.pop_front();
    }
  }
  q.size -= out.batch.size();
  queued_ -= out.batch.size();
  out.model = chosen;
  out.expected = models_[chosen].exe(static_cast<int>(out.batch.size()));
}

}  // namespace coedge::policy
