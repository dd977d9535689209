// The paper's local baselines, batch size 1 and no dropping (a late job still runs and is
// counted overdue):
//  - EdfScheduler: earliest absolute deadline first (ties: release order);
//  - FixedPriorityScheduler: highest task priority first, ties by earliest deadline, then
//    release order. A priority never changes at run time.
#pragma once

#include <vector>

#include "policy/local_scheduler.h"

namespace coedge::policy {

class SingleQueueScheduler : public LocalScheduler {
 public:
  using Before = bool (*)(const Job&, const Job&);  // true when a must run before b
  SingleQueueScheduler(const std::vector<ModelProfile>& models, Before before);
  void on_ready(const Job& job, TimePoint now) override;
  void decide(TimePoint now, Decision& out) override;
  size_t queued() const override { return heap_.size(); }

 private:
  const std::vector<ModelProfile>& models_;
  Before before_;
  std::vector<Job> heap_;
};

class EdfScheduler final : public SingleQueueScheduler {
 public:
  explicit EdfScheduler(const std::vector<ModelProfile>& models);
};

class FixedPriorityScheduler final : public SingleQueueScheduler {
 public:
  explicit FixedPriorityScheduler(const std::vector<ModelProfile>& models);
};

}  // namespace coedge::policy
