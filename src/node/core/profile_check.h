// Does reality match the profile? The node plans with each model's profiled ExeTime(b)
// (config `profiles:`, or measured at start); when the machine is slower than that, every
// plan built on it is optimistic and deadlines are missed with nothing said. ProfileCheck
// compares the batch times the node measures with the profile, early, and says when they
// part.
//
// The rule (docs/NODE_CONFIG.md, `profile_margin`): for each model and batch size b with a
// profiled ExeTime(b) > 0, the first kProfileCheckBatches batches of size b are collected;
// once they are in, their median M is compared with P = ExeTime(b) once:
//   - M > (1 + margin) · P: a finding of kind kSlower (the profile is optimistic: warn);
//   - M < P / (1 + margin): a finding of kind kFaster (the profile is pessimistic: the
//     plan leaves capacity unused; a note, not a warning);
//   - otherwise the size is judged to match.
// The median (not the mean) so that one slow first run (lazy initialisation after a load)
// does not make a warning on its own. Each (model, b) is judged once: the warning comes
// within the first few batches of each size, i.e. within the first window of a loaded node.
//
// A passive core: events in (a batch's size and measured duration), findings out. No clock,
// no I/O, no logging. Not thread-safe: the caller serialises.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/scenario.h"
#include "core/time.h"

namespace coedge::node {

// Batches of one size that are judged together (their median).
inline constexpr int kProfileCheckBatches = 5;
// The default margin: measured more than 25% above the profile warns.
inline constexpr double kDefaultProfileMargin = 0.25;

enum class ProfileDeviation { kSlower, kFaster };

struct ProfileFinding {
  uint32_t model = 0;
  int batch = 0;              // batch size judged
  int batches = 0;            // how many batches the median is over
  double measured_ms = 0;     // their median
  double profiled_ms = 0;     // ExeTime(batch) of the profile
  double ratio = 0;           // measured_ms / profiled_ms
  ProfileDeviation kind = ProfileDeviation::kSlower;
};

class ProfileCheck {
 public:
  // `models`: the profiles the node plans with (index = ModelIndex). `margin` >= 0.
  ProfileCheck(const std::vector<ModelProfile>& models, double margin);

  // One batch of `batch` jobs of `model` ran for `measured`. Returns the finding when
  // this batch completes the judged set of its size and the median leaves the profile by
  // more than the margin; nullopt otherwise (also for an unknown model, a batch size out
  // of 1..kMaxBatch, or one without a profiled time: nothing to compare with).
  std::optional<ProfileFinding> on_batch(uint32_t model, int batch, Duration measured);

  // Per model: the largest measured/profiled ratio among its judged batch sizes; nullopt
  // before any size of it is judged.
  std::optional<double> ratio(uint32_t model) const;
  // Every finding so far, in the order they were made.
  const std::vector<ProfileFinding>& findings() const { return findings_; }
  double margin() const { return margin_; }

 private:
  struct Size {
    std::vector<double> samples_ms;  // until judged
    bool judged = false;
    double ratio = 0;
  };
  std::vector<std::array<double, kMaxBatch>> profiled_ms_;  // per model, per b - 1
  std::vector<std::array<Size, kMaxBatch>> sizes_;
  double margin_;
  std::vector<ProfileFinding> findings_;
};

}  // namespace coedge::node
