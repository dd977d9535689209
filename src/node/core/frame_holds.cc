#include "node/core/frame_holds.h"

#include "core/result.h"

namespace coedge::node {

void FrameHolds::add(const Hold& h) {
  std::lock_guard lock(mu_);
  const bool fresh = holds_.emplace(h.job, h).second;
  COEDGE_CHECK(fresh);
}

std::optional<FrameHolds::Hold> FrameHolds::take_job(uint32_t task, uint64_t job) {
  std::lock_guard lock(mu_);
  auto it = holds_.find(job);
  if (it == holds_.end() || it->second.task != task) return std::nullopt;
  Hold h = it->second;
  holds_.erase(it);
  return h;
}

size_t FrameHolds::held(uint32_t task) const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [job, h] : holds_) n += h.task == task ? 1 : 0;
  return n;
}

std::vector<FrameHolds::Hold> FrameHolds::take_task(uint32_t task) {
  return take_if([task](const Hold& h) { return h.task == task; });
}

std::vector<FrameHolds::Hold> FrameHolds::take_if(const std::function<bool(const Hold&)>& done) {
  std::lock_guard lock(mu_);
  std::vector<Hold> out;
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (done(it->second)) {
      out.push_back(it->second);
      it = holds_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

size_t FrameHolds::size() const {
  std::lock_guard lock(mu_);
  return holds_.size();
}

}  // namespace coedge::node
