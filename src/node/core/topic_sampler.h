// Which frames of a camera topic a task takes (docs/NODE_CONFIG.md, "Topic sensors"): a
// driver publishes at its own rate, a task runs at its own period P, so the task takes one
// frame per period and skips the rest. The rule, on the frames' header stamps:
//   - release times form a grid of the multiples of P on the stamps' clock (unix time):
//     due_k = k·P, the same grid on every node, so that two nodes reading one topic pick
//     the same frames (a hand-over neither doubles nor skips one);
//   - the first frame offered is taken; then a frame with stamp s is taken iff
//     s >= due - P/4 (the current slot's due time, early by up to a quarter period: a
//     driver's jitter must not make an exact-period camera lose every other frame); after
//     a frame is taken the slot moves to the first grid point with due - P/4 > s;
//   - a frame with s <= the last stamp taken is skipped (duplicates, reordering);
//   - a stamp more than 2·P before the last taken one (the driver restarted, its clock
//     jumped back) starts again: that frame is taken.
// Two samplers offered the same frames from different first frames agree from the first
// frame that either takes after both have started (the slot depends only on the last stamp
// taken).
// So a task takes the first frame at (or just before) each release time from a topic of
// any faster rate, and every frame of a topic slower than it. A stamp of 0 (a driver that
// stamps nothing) is the caller's to replace with the arrival time before calling.
// Pure: no clock, no I/O; one per task; not thread-safe (the feed calls it from one thread).
#pragma once

#include <cstdint>

namespace coedge::node {

class TopicSampler {
 public:
  // REQUIRES: period_ns > 0.
  explicit TopicSampler(int64_t period_ns);

  // Whether the task takes the frame stamped `stamp_ns` (counted in taken() or skipped()).
  bool offer(int64_t stamp_ns);

  int64_t period_ns() const { return period_; }
  uint64_t taken() const { return taken_; }
  uint64_t skipped() const { return skipped_; }

 private:
  void take(int64_t stamp_ns);
  int64_t period_;
  bool started_ = false;
  int64_t due_ = 0;     // the current slot's due time
  int64_t last_ = 0;    // the last stamp taken
  uint64_t taken_ = 0, skipped_ = 0;
};

}  // namespace coedge::node
