#include "node/core/profile_check.h"

#include <algorithm>

namespace coedge::node {

ProfileCheck::ProfileCheck(const std::vector<ModelProfile>& models, double margin)
    : profiled_ms_(models.size()), sizes_(models.size()), models_(models.size()), margin_(std::max(0.0, margin)) {
  for (size_t m = 0; m < models.size(); ++m) {
    for (int b = 1; b <= kMaxBatch; ++b) profiled_ms_[m][static_cast<size_t>(b - 1)] = to_ms(models[m].exe(b));
  }
}

std::optional<ProfileDeviation> ProfileCheck::verdict(double ratio) const {
  if (ratio > 1 + margin_) return ProfileDeviation::kSlower;
  if (ratio * (1 + margin_) < 1) return ProfileDeviation::kFaster;
  return std::nullopt;
}

std::optional<ProfileFinding> ProfileCheck::on_batch(uint32_t model, int batch, Duration measured) {
  if (model >= sizes_.size() || batch < 1 || batch > kMaxBatch) return std::nullopt;
  const auto b = static_cast<size_t>(batch - 1);
  const double profiled = profiled_ms_[model][b];
  if (profiled <= 0) return std::nullopt;
  const double measured_ms = to_ms(measured);
  std::optional<ProfileFinding> reported;

  // The model's judgment, over its first batches whatever their sizes.
  Model& pooled = models_[model];
  if (!pooled.judged) {
    pooled.samples.push_back({measured_ms / profiled, measured_ms, profiled, batch});
    if (pooled.samples.size() >= static_cast<size_t>(kProfilePooledBatches)) {
      std::vector<Sample>& v = pooled.samples;
      std::sort(v.begin(), v.end(), [](const Sample& x, const Sample& y) { return x.ratio < y.ratio; });
      const Sample median = v[(v.size() - 1) / 2];  // the lower median: one real batch
      pooled.judged = true;
      pooled.ratio = median.ratio;
      pooled.verdict = verdict(median.ratio);
      if (pooled.verdict) {
        ProfileFinding f;
        f.model = model;
        f.pooled = true;
        f.batch = median.batch;
        f.batches = static_cast<int>(v.size());
        f.measured_ms = median.measured_ms;
        f.profiled_ms = median.profiled_ms;
        f.ratio = median.ratio;
        f.kind = *pooled.verdict;
        reported = f;
      }
      v.clear();
      v.shrink_to_fit();
    }
  }

  // This size's judgment, as detail.
  Size& size = sizes_[model][b];
  if (!size.judged) {
    size.samples_ms.push_back(measured_ms);
    if (size.samples_ms.size() >= static_cast<size_t>(kProfileCheckBatches)) {
      std::vector<double>& v = size.samples_ms;
      std::sort(v.begin(), v.end());
      const double median = v[(v.size() - 1) / 2];
      size.judged = true;
      size.ratio = median / profiled;
      if (const auto kind = verdict(size.ratio)) {
        ProfileFinding f;
        f.model = model;
        f.batch = batch;
        f.batches = static_cast<int>(v.size());
        f.measured_ms = median;
        f.profiled_ms = profiled;
        f.ratio = size.ratio;
        f.kind = *kind;
        size_findings_.push_back(f);
        // Reported only when it says something the model's judgment did not (made before
        // it: kProfilePooledBatches < kProfileCheckBatches).
        if (!reported && pooled.judged && pooled.verdict != kind) reported = f;
      }
      v.clear();
      v.shrink_to_fit();
    }
  }
  if (reported) findings_.push_back(*reported);
  return reported;
}

std::optional<double> ProfileCheck::ratio(uint32_t model) const {
  if (model >= models_.size() || !models_[model].judged) return std::nullopt;
  double worst = models_[model].ratio;
  for (const Size& s : sizes_[model]) {
    if (s.judged) worst = std::max(worst, s.ratio);
  }
  return worst;
}

}  // namespace coedge::node
