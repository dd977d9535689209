#include "node/core/topic_sampler.h"

#include "core/result.h"

namespace coedge::node {

TopicSampler::TopicSampler(int64_t period_ns) : period_(period_ns) { COEDGE_CHECK(period_ns > 0); }

void TopicSampler::take(int64_t stamp_ns) {
  last_ = stamp_ns;
  ++taken_;
  // The first grid point whose early edge lies after this frame: due - P/4 > s, i.e.
  // due = (floor((s + P/4) / P) + 1) * P. Stamps come from ROS's int32 seconds (|s| < 2.2e18
  // ns): no overflow for any period a config allows.
  const int64_t x = stamp_ns + period_ / 4;
  const int64_t floor_k = x / period_ - (x % period_ < 0 ? 1 : 0);
  due_ = (floor_k + 1) * period_;
}

bool TopicSampler::offer(int64_t stamp_ns) {
  if (!started_ || stamp_ns < last_ - 2 * period_) {
    // The first frame, or a driver whose clock jumped back: taken, and the slots go on
    // from it.
    started_ = true;
    take(stamp_ns);
    return true;
  }
  if (stamp_ns <= last_ || stamp_ns < due_ - period_ / 4) {
    ++skipped_;
    return false;
  }
  take(stamp_ns);
  return true;
}

}  // namespace coedge::node
