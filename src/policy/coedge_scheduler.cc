#include "policy/coedge_scheduler.h"

#include <algorithm>

namespace coedge::policy {
CoedgeScheduler::CoedgeScheduler(const std::vector<ModelProfile>& models,
                                 CoedgeSchedulerOptions options)
    : models_(models), options_(options), queues_(models.size()) {}

void CoedgeScheduler::on_ready(const Job& job, TimePoint now) {
  COEDGE_CHECK(job.model < queues_.size());
  Queue& q = queues_[job.model];
  q.heap.push_back(job);
  std::push_heap(q.heap.begin(), q.heap.end(), later_deadline);
  ++queued_;
  if (q.last_arrival != TimePoint::min()) {
    const auto gap = static_cast<double>((now - q.last_arrival).count());
    q.mean_gap_us = q.mean_gap_us > 0 ? 0.8 * q.mean_gap_us + 0.2 * gap : gap;
  }
  q.last_arrival = now;
}

int CoedgeScheduler::feasible_batch(ModelIndex m, TimePoint now) const {
  const auto& heap = queues_[m].heap;
  const TimePoint deadline = heap.front().deadline;
  for (int b = std::min<int>(kMaxBatch, static_cast<int>(heap.size())); b > 1; --b)
    if (now + models_[m].exe(b) <= deadline) return b;  // Eq. 6
  return 1;  // feasible: the head survived the drop
}

void CoedgeScheduler::take(ModelIndex m, int batch, Decision& out) {
  auto& heap = queues_[m].heap;
  out.model = m;
  out.expected = models_[m].exe(batch);
  for (int i = 0; i < batch; ++i) {
    std::pop_heap(heap.begin(), heap.end(), later_deadline);
    out.batch.push_back(heap.back());
    heap.pop_back();
  }
  queued_ -= static_cast<size_t>(batch);
}

TimePoint CoedgeScheduler::hold_until(ModelIndex m, int batch, TimePoint now) const {
  const Queue& q = queues_[m];
  if (!options_.wait_for_batch || batch >= kMaxBatch ||
      static_cast<size_t>(batch) < q.heap.size() || q.mean_gap_us <= 0)
    return TimePoint::min();
  // A margin of a tenth of the batch's time keeps run-to-run variation from turning the
  // held batch late.
  const Duration longer = models_[m].exe(batch + 1);
  const TimePoint latest = q.heap.front().deadline - longer - longer / 10;
  const TimePoint next = q.last_arrival + Duration(static_cast<int64_t>(q.mean_gap_us));
  if (!(now < latest && now <= next && next <= latest)) return TimePoint::min();
  // Only when waiting saves accelerator time: idling until the next job and running one
  // batch of b + 1 must cost less than b now and that job alone later.
  if ((next - now) + longer >= models_[m].exe(batch) + models_[m].exe(1)) return TimePoint::min();
  // Waiting must not cost another model its most urgent job.
  const TimePoint done = latest + longer;
  for (ModelIndex other = 0; other < queues_.size(); ++other) {
    if (other == m || queues_[other].heap.empty()) continue;
    if (done + models_[other].exe(1) > queues_[other].heap.front().deadline) return TimePoint::min();
  }
  return std::min(latest, next + Duration(static_cast<int64_t>(q.mean_gap_us / 4)));
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
  const int batch = feasible_batch(best, now);
  const TimePoint hold = hold_until(best, batch, now);
  if (hold == TimePoint::min()) return take(best, batch, out);

  // Waiting for `best` to fill: meanwhile run the most urgent other batch that ends by then.
  ModelIndex filler = kNone;
  for (ModelIndex m = 0; m < queues_.size(); ++m) {
    if (m == best || queues_[m].heap.empty()) continue;
    if (now + models_[m].exe(1) > hold) continue;
    if (filler == kNone || queues_[m].heap.front().deadline < queues_[filler].heap.front().deadline)
      filler = m;
  }
  if (filler != kNone) {
    int b = feasible_batch(filler, now);
    while (b > 1 && now + models_[filler].exe(b) > hold) --b;
    return take(filler, b, out);
  }
  out.wake_at = hold;  // a new arrival also wakes the scheduler
}

}  // namespace coedge::policy
