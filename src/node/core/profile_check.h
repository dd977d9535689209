// Does reality match the profile? The node plans with each model's profiled ExeTime(b)
// (config `profiles:`, or measured at start); when the machine is slower than that, every
// plan built on it is optimistic and deadlines are missed with nothing said. ProfileCheck
// compares the batch times the node measures with the profile, early, and says when they
// part.
//
// The rule (docs/NODE_CONFIG.md, "The profile warning"): only batches of a size b whose
// profiled ExeTime(b) > 0 count; each gives the ratio r = measured / ExeTime(b).
//   - The model's judgment (pooled): the first kProfilePooledBatches batches of the model,
//     whatever their sizes, are collected; once they are in, their median ratio R is
//     judged once. Pooled because schedulers that batch (coedge, triton) spread a model's
//     batches over several sizes, and a task with a long period runs few batches: a rule
//     that waits for several batches of one size may say nothing for a whole window.
//   - Each size's judgment (detail): the first kProfileCheckBatches batches of size b;
//     their median M against ExeTime(b), once. It catches a profile wrong at one size only.
// A judgment's verdict: R > 1 + margin is kSlower (the profile is optimistic: warn);
// R < 1 / (1 + margin) is kFaster (pessimistic: the plan leaves capacity unused; a note);
// otherwise the profile matches. The median (not the mean) so that one slow first run
// (lazy initialisation after a load) does not make a warning on its own. With an even
// count the lower of the two middle values is taken, so a finding always describes one
// real batch (its size, measured and profiled times) and needs a majority of batches
// beyond the margin.
//
// What is reported (on_batch's result, findings()): the model's pooled finding; and a size's
// finding only when its verdict differs from the model's (a size that is slower while the
// model as a whole matches, say); one that agrees is kept as detail (size_findings()) and
// not said twice. Timing: the pooled judgment is made at the model's
// kProfilePooledBatches-th batch (kProfilePooledBatches < kProfileCheckBatches, so before
// any size's judgment). A task of period P alone on its model has its third batch done
// about 2P + ExeTime after its first release: within the first window (10 s by default)
// for any period up to about 4.5 s, and sooner when several tasks share the model.
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

// A model's first batches, of any sizes, that are judged together (their median ratio).
inline constexpr int kProfilePooledBatches = 3;
// Batches of one size that are judged together (their median), as detail.
inline constexpr int kProfileCheckBatches = 5;
static_assert(kProfilePooledBatches < kProfileCheckBatches, "the model's judgment comes first");
// The default margin: measured more than 25% above the profile warns.
inline constexpr double kDefaultProfileMargin = 0.25;

enum class ProfileDeviation { kSlower, kFaster };

struct ProfileFinding {
  uint32_t model = 0;
  bool pooled = false;        // the model's judgment over its first batches of any sizes
  int batch = 0;              // batch size judged; pooled: the size of the median batch
  int batches = 0;            // how many batches the median is over
  double measured_ms = 0;     // the median; pooled: the median batch's measured time
  double profiled_ms = 0;     // ExeTime(batch) of the profile
  double ratio = 0;           // measured_ms / profiled_ms (pooled: the median ratio)
  ProfileDeviation kind = ProfileDeviation::kSlower;
};

class ProfileCheck {
 public:
  // `models`: the profiles the node plans with (index = ModelIndex). `margin` >= 0.
  ProfileCheck(const std::vector<ModelProfile>& models, double margin);

  // One batch of `batch` jobs of `model` ran for `measured`. Returns a finding to report
  // when this batch completes a judgment (see the contract above) that leaves the profile
  // by more than the margin; nullopt otherwise (also for an unknown model, a batch size out
  // of 1..kMaxBatch, or one without a profiled time: nothing to compare with).
  std::optional<ProfileFinding> on_batch(uint32_t model, int batch, Duration measured);

  // Per model: the largest of its pooled median ratio and its judged sizes' median ratios;
  // nullopt before the model is judged.
  std::optional<double> ratio(uint32_t model) const;
  // Every finding on_batch returned, in that order.
  const std::vector<ProfileFinding>& findings() const { return findings_; }
  // Every size's finding (a judged size beyond the margin), reported or not, in order.
  const std::vector<ProfileFinding>& size_findings() const { return size_findings_; }
  double margin() const { return margin_; }

 private:
  struct Sample {
    double ratio = 0, measured_ms = 0, profiled_ms = 0;
    int batch = 0;
  };
  struct Size {
    std::vector<double> samples_ms;  // until judged
    bool judged = false;
    double ratio = 0;
  };
  struct Model {
    std::vector<Sample> samples;  // until judged
    bool judged = false;
    std::optional<ProfileDeviation> verdict;  // once judged; nullopt: matches
    double ratio = 0;
  };
  std::optional<ProfileDeviation> verdict(double ratio) const;

  std::vector<std::array<double, kMaxBatch>> profiled_ms_;  // per model, per b - 1
  std::vector<std::array<Size, kMaxBatch>> sizes_;
  std::vector<Model> models_;
  double margin_;
  std::vector<ProfileFinding> findings_;
  std::vector<ProfileFinding> size_findings_;
};

}  // namespace coedge::node
