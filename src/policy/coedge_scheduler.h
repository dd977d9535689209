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
// The paper's rule never waits for a batch to fill.
//
// Option (CoedgeSchedulerOptions::wait_for_batch, the `coedge-wait` scheduler): slack-
// aware waiting. Measured, it does not help on the city sweeps (docs/PERFORMANCE.md), so
// CoEdge+ does not use it. When the chosen batch takes every queued job of its model and is
// below 10, and the model's next job is expected (from the smoothed gap between its
// arrivals) before L = earliest deadline - ExeTime(b + 1), the latest start that would
// still meet it with one more job (less a tenth of that batch's time, against
// run-to-run variation), the scheduler waits, until L or a little after the expected
// arrival, provided that (1) waiting saves accelerator time: the idle wait plus
// ExeTime(b + 1) is less than ExeTime(b) + ExeTime(1), and (2) every other queued model's
// most urgent job would still make its deadline after that batch. While it waits,
// another model's batch runs if it ends in time.
#pragma once

#include <vector>

#include "policy/local_scheduler.h"

namespace coedge::policy {

struct CoedgeSchedulerOptions {
  bool wait_for_batch = false;  // slack-aware waiting
};

class CoedgeScheduler final : public LocalScheduler {
 public:
  explicit CoedgeScheduler(const std::vector<ModelProfile>& models,
                           CoedgeSchedulerOptions options = {});
  void on_ready(const Job& job, TimePoint now) override;
  void decide(TimePoint now, Decision& out) override;
  size_t queued() const override { return queued_; }

 private:
  struct Queue {
    std::vector<Job> heap;  // min-heap by (deadline, id)
    TimePoint last_arrival = TimePoint::min();
    double mean_gap_us = 0;  // smoothed gap between arrivals; 0 until two were seen
  };
  // Eq. 6 for model m at `now`: the largest feasible batch for its head.
  int feasible_batch(ModelIndex m, TimePoint now) const;
  void take(ModelIndex m, int batch, Decision& out);
  // With wait_for_batch: whether to hold model m's batch of `batch` jobs back, and until
  // when; TimePoint::min() when it should run now.
  TimePoint hold_until(ModelIndex m, int batch, TimePoint now) const;

  const std::vector<ModelProfile>& models_;
  CoedgeSchedulerOptions options_;
  std::vector<Queue> queues_;
  size_t queued_ = 0;
};

}  // namespace coedge::policy
