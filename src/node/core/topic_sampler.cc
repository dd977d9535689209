#include "node/core/topic_sampler.h"

#include "core/result.h"

namespace coedge::node {

TopicSampler::TopicSampler(int64_t period_ns) : period_(period_ns) { COEDGE_CHECK(period_ns > 0); }

void TopicSampler::take(int64_t stamp_ns) {
  last_ = stamp_ns;
  ++taken_;
  // The first grid point whose early edge lies after this frame: due - P/4 > s.
  const int64_t tolerance = period_ / 4;
  const int64_t k = (stamp_ns + tolerance - anchor_) / period_ + 1;  // stamp >= anchor here
  due_ = anchor_ + k * period_;
}

bool TopicSampler::offer(int64_t stamp_ns) {
  if (!started_ || stamp_ns < last_ - 2 * period_) {
    // The first frame, or a driver whose clock jumped back: the grid starts here.
    started_ = true;
    anchor_ = stamp_ns;
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
