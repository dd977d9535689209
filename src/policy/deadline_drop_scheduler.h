// A deadline-aware batcher in the style of Nexus (Shen et al., SOSP'19: early drop of
// requests that cannot meet their deadline, batch sizes bounded by the latency SLO) and
// Clipper (Crankshaw et al., NSDI'17: per-model queues, the largest batch within the
// latency objective), as a peer baseline. Per model, an earliest-deadline queue; jobs that
// cannot finish by their deadline even alone are dropped; the models take turns
// round-robin, and the model whose turn it is runs the largest batch b <= 10 with
// now + ExeTime(b) <= its earliest deadline. Unlike CoEdge's executor (Eq. 5), the turn
// does not go to the most urgent model.
#pragma once

#include <vector>

#include "policy/local_scheduler.h"

namespace coedge::policy {

class DeadlineDropScheduler final : public LocalScheduler {
 public:
  explicit DeadlineDropScheduler(const std::vector<ModelProfile>& models);
  void on_ready(const Job& job, TimePoint now) override;
  void decide(TimePoint now, Decision& out) override;
  size_t queued() const override { return queued_; }

 private:
  const std::vector<ModelProfile>& models_;
  std::vector<std::vector<Job>> queues_;  // min-heaps by (deadline, id)
  ModelIndex next_turn_ = 0;
  size_t queued_ = 0;
};

}  // namespace coedge::policy
