#include "policy/single_queue_schedulers.h"

#include <algorithm>

namespace coedge::policy {
namespace {
bool edf_before(const Job& a, const Job& b) { return earlier_deadline(a, b); }
bool fixed_before(const Job& a, const Job& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return earlier_deadline(a, b);
}
}  // namespace

SingleQueueScheduler::SingleQueueScheduler(const std::vector<ModelProfile>& models,
                                           Before before)
    : models_(models), before_(before) {}

void SingleQueueScheduler::on_ready(const Job& job, TimePoint /*now*/) {
  heap_.push_back(job);
  // std heaps keep the "largest" on top; swapping the arguments puts the first-to-run there.
  std::push_heap(heap_.begin(), heap_.end(),
                 [this](const Job& a, const Job& b) { return before_(b, a); });
}

void SingleQueueScheduler::decide(TimePoint /*now*/, Decision& out) {
  out.clear();
  if (heap_.empty()) return;
  std::pop_heap(heap_.begin(), heap_.end(),
                [this](const Job& a, const Job& b) { return before_(b, a); });
  const Job job = heap_.back();
  heap_.pop_back();
  out.model = job.model;
  out.expected = models_[job.model].exe(1);
  out.batch.push_back(job);
}

EdfScheduler::EdfScheduler(const std::vector<ModelProfile>& models)
    : SingleQueueScheduler(models, edf_before) {}

FixedPriorityScheduler::FixedPriorityScheduler(const std::vector<ModelProfile>& models)
    : SingleQueueScheduler(models, fixed_before) {}

}  // namespace coedge::policy
