#include "ipc/bell_waiter.h"

#include <algorithm>
#include <cstdio>

namespace coedge::ipc {

BellFloodGuard::BellFloodGuard(size_t bells, Options options) : options_(options), bells_(bells) {}

bool BellFloodGuard::on_wake(size_t bell, bool found_work, TimePoint now) {
  Bell& b = bells_[bell];
  if (now - b.window_start > options_.window) {
    b.window_start = now;
    b.empty = 0;
  }
  if (found_work || ++b.empty <= options_.max_empty_wakes) return false;
  b.empty = 0;
  b.demoted_until = now + options_.demotion;
  ++b.floods;
  return true;
}

bool BellFloodGuard::demoted(size_t bell, TimePoint now) const { return now < bells_[bell].demoted_until; }

BellWaiter::BellWaiter(Doorbell own, std::vector<Doorbell> task_bells, std::string who,
                       BellFloodGuard::Options options)
    : own_(own),
      tasks_(std::move(task_bells)),
      who_(std::move(who)),
      guard_(tasks_.size(), options),
      task_seen_(tasks_.size(), 0) {
  arm();
}

void BellWaiter::arm() {
  own_seen_ = own_.value();
  for (size_t t = 0; t < tasks_.size(); ++t) task_seen_[t] = tasks_[t].value();
}

void BellWaiter::wait(Duration timeout, TimePoint now) {
  woken_.clear();
  if (!fallback_) {
    set_.assign(1, own_);
    set_seen_.assign(1, own_seen_);
    set_task_.assign(1, 0);
    bool demoted = false;
    for (size_t t = 0; t < tasks_.size(); ++t) {
      if (guard_.demoted(t, now)) {
        demoted = true;
        continue;
      }
      set_.push_back(tasks_[t]);
      set_seen_.push_back(task_seen_[t]);
      set_task_.push_back(static_cast<uint32_t>(t));
    }
    woke_.clear();
    const Doorbell::WaitAny r =
        Doorbell::wait_any(set_, set_seen_, demoted ? std::min(timeout, kDemotedCap) : timeout, woke_);
    if (r != Doorbell::WaitAny::kUnsupported) {
      for (size_t i : woke_) {
        if (i > 0) woken_.push_back(set_task_[i]);
      }
      return;
    }
    fallback_ = true;
    std::fprintf(stderr,
                 "%s: cannot sleep on %zu doorbells at once (futex_waitv needs Linux 5.16+, and takes at most %zu): "
                 "looking at every task's rings every %lld ms instead\n",
                 who_.c_str(), tasks_.size() + 1, Doorbell::kMaxWaitAny,
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(kFallbackPoll).count()));
  }
  own_.wait(own_seen_, std::min(timeout, kFallbackPoll));
}

}  // namespace coedge::ipc
