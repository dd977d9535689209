#include "policy/coedge_scheduler.h"

#include <algorithm>

namespace coedge {
namespace {
// std::*_heap build max-heaps; "greater" puts the earliest deadline on top.
bool later_deadline(const Job& a, const Job& b) { return earlier_deadline(b, a); }
}  // namespace

CoedgeScheduler::CoedgeScheduler(const std::vector<ModelProfile>& models)
    : models_(models), queues_(models.size()) {}

void CoedgeScheduler::on_ready(const Job& job, TimePoint /*now*/) {
  COEDGE_CHECK(job.model < queues_.size());
  auto& heap = queues_[job.model].heap;
  heap.push_back(job);
  std::push_heap(heap.begin(), heap.end(), later_deadline);
  ++queued_;
}

void CoedgeScheduler::decide(TimePoint now, Decision& out) {
  out.clear();
  ModelIndex best = kNone;
  TimePoint best_deadline = TimePoint::max();
  for (ModelIndex m = 0; m < queues_.size(); ++m) {
    auto& heap = queues_[m].heap;
    const Duration alone = models_[m].exe(1);
    while (!heap.empty() && now + alone > heap.front().deadline) {  // cannot make it: drop
      std::pop_heap(heap.begin(), heap.end(), later_deadline);
      out.dropped.push_back(heap.back());
      heap.pop_back();
      --queued_;
    }
    if (!heap.empty() && heap.front().deadline < best_deadline) {  // Eq. 5
      best = m;
      best_deadline = heap.front().deadline;
    }
  }
  if (best == kNone) return;

  auto& heap = queues_[best].heap;
  const ModelProfile& model = models_[best];
  int batch = 1;  // feasible: the head survived the drop above
  const int limit = std::min<int>(kMaxBatch, static_cast<int>(heap.size()));
  for (int b = limit; b > 1; --b) {  // Eq. 6: the largest batch that meets the head
    if (now + model.exe(b) <= best_deadline) {
      batch = b;
      break;
    }
  }
  out.model = best;
  out.expected = model.exe(batch);
  for (int i = 0; i < batch; ++i) {
    std::pop_heap(heap.begin(), heap.end(), later_deadline);
    out.batch.push_back(heap.back());
    heap.pop_back();
  }
  queued_ -= static_cast<size_t>(batch);
}

}  // namespace coedge
