#include "policy/deadline_drop_scheduler.h"

#include <algorithm>

namespace coedge::policy {
DeadlineDropScheduler::DeadlineDropScheduler(const std::vector<ModelProfile>& models)
    : models_(models), queues_(models.size()) {}

void DeadlineDropScheduler::on_ready(const Job& job, TimePoint /*now*/) {
  COEDGE_CHECK(job.model < queues_.size());
  auto& heap = queues_[job.model];
  heap.push_back(job);
  std::push_heap(heap.begin(), heap.end(), later_deadline);
  ++queued_;
}

void DeadlineDropScheduler::decide(TimePoint now, Decision& out) {
  out.clear();
  for (ModelIndex m = 0; m < queues_.size(); ++m) {  // early drop, every queue
    auto& heap = queues_[m];
    while (!heap.empty() && now + models_[m].exe(1) > heap.front().deadline) {
      std::pop_heap(heap.begin(), heap.end(), later_deadline);
      out.dropped.push_back(heap.back());
      heap.pop_back();
      --queued_;
    }
  }
  const auto count = static_cast<ModelIndex>(queues_.size());
  for (ModelIndex i = 0; i < count; ++i) {
    const ModelIndex m = (next_turn_ + i) % count;
    auto& heap = queues_[m];
    if (heap.empty()) continue;
    const TimePoint deadline = heap.front().deadline;
    int batch = 1;
    for (int b = std::min<int>(kMaxBatch, static_cast<int>(heap.size())); b > 1; --b) {
      if (now + models_[m].exe(b) <= deadline) {
        batch = b;
        break;
      }
    }
    for (int j = 0; j < batch; ++j) {
      std::pop_heap(heap.begin(), heap.end(), later_deadline);
      out.batch.push_back(heap.back());
      heap.pop_back();
    }
    queued_ -= static_cast<size_t>(batch);
    out.model = m;
    out.expected = models_[m].exe(batch);
    next_turn_ = (m + 1) % count;
    return;
  }
}

}  // namespace coedge::policy
