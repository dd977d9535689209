// The paper's batched DNN executor (§4.3). One queue per model, ordered by absolute
// deadline. decide():
//  1. drops, from the head of every queue, jobs that cannot finish by their deadline even
//     alone: now + ExeTime(model, 1) > deadline. Within a queue every job shares that
//     ExeTime, so once the head is feasible all later jobs are too;
//  2. picks the model whose queue holds the earliest deadline (Eq. 5; ties: lower model
//     index, as the queues are scanned in index order);
//  3. picks the largest b <= min(10, queue length) with now + ExeTime(model, b) <= the
//     earliest deadline among the b jobs taken (Eq. 6). The b jobs are the b earliest, so
//     that deadline is the head's. "Meets" includes finishing exactly at the deadline.
// It never waits for a batch to fill (the paper's rule; see issue 6 for one that does).
#pragma once

#include <vector>

#include "policy/local_scheduler.h"

namespace coedge {

class CoedgeScheduler final : public LocalScheduler {
 public:
  explicit CoedgeScheduler(const std::vector<ModelProfile>& models);
  void on_ready(const Job& job, TimePoint now) override;
  void decide(TimePoint now, Decision& out) override;
  size_t queued() const override { return queued_; }

 private:
  struct Queue {
    std::vector<Job> heap;  // min-heap by (deadline, id)
  };
  const std::vector<ModelProfile>& models_;
  std::vector<Queue> queues_;
  size_t queued_ = 0;
};

}  // namespace coedge
