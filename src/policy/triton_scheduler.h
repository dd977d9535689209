// A dynamic batcher in the manner of NVIDIA Triton Inference Server's (its user guide,
// "Batchers: Dynamic Batcher", and the ModelDynamicBatching / ModelQueuePolicy fields of
// its model configuration), as a peer baseline. Per model:
//  - requests wait in FIFO queues, one per priority level (higher task priority first);
//  - a batch of a preferred size that can be formed runs at once (the largest such);
//  - otherwise the oldest request waits at most max_queue_delay, then whatever is queued
//    runs (up to the maximum batch size, 10);
//  - a request queued longer than its timeout is rejected (timeout_action REJECT).
// With one accelerator per node, among models with a batch ready the one whose oldest
// request came first runs (ties: lower model index). Triton knows no deadlines: it never
// drops for a deadline, only for the timeout.
#pragma once

#include <deque>
#include <vector>

#include "policy/local_scheduler.h"

namespace coedge::policy {

struct TritonModelConfig {
  std::vector<int> preferred_batch_sizes;  // ascending, within 1..10
  Duration max_queue_delay{};
  Duration timeout = kNever;  // kNever: no timeout
};

struct TritonConfig {
  std::vector<TritonModelConfig> models;  // per model index
  std::vector<int> priority_levels;       // distinct task priorities, most important first
};

// What a careful operator would configure from the scenario, per model m, with D the
// tightest relative deadline among m's tasks and C its pre + post time, budget = D - C:
//   preferred batch size: the largest b with ExeTime(m, b) <= budget / 2;
//   max_queue_delay: (budget - ExeTime(m, preferred)) / 2, at least 0;
//   timeout: budget - ExeTime(m, 1), at least 0 (a request older than that is late).
TritonConfig careful_triton_config(const Scenario& scenario);

class TritonScheduler final : public LocalScheduler {
 public:
  TritonScheduler(const std::vector<ModelProfile>& models, TritonConfig config);
  void on_ready(const Job& job, TimePoint now) override;
  void decide(TimePoint now, Decision& out) override;
  size_t queued() const override { return queued_; }

 private:
  struct Entry {
    Job job;
    TimePoint enqueued;
  };
  struct ModelQueues {
    std::vector<std::deque<Entry>> levels;  // parallel to config_.priority_levels
    size_t size = 0;
  };
  size_t level_of(int priority) const;
  TimePoint oldest(const ModelQueues& q) const;

  const std::vector<ModelProfile>& models_;
  TritonConfig config_;
  std::vector<ModelQueues> queues_;
  size_t queued_ = 0;
};

}  // namespace coedge::policy
