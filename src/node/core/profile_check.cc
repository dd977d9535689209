#include "node/core/profile_check.h"

#include <algorithm>

namespace coedge::node {

ProfileCheck::ProfileCheck(const std::vector<ModelProfile>& models, double margin)
    : profiled_ms_(models.size()), sizes_(models.size()), margin_(std::max(0.0, margin)) {
  for (size_t m = 0; m < models.size(); ++m) {
    for (int b = 1; b <= kMaxBatch; ++b) profiled_ms_[m][static_cast<size_t>(b - 1)] = to_ms(models[m].exe(b));
  }
}

std::optional<ProfileFinding> ProfileCheck::on_batch(uint32_t model, int batch, Duration measured) {
  if (model >= sizes_.size() || batch < 1 || batch > kMaxBatch) return std::nullopt;
  const auto b = static_cast<size_t>(batch - 1);
  const double profiled = profiled_ms_[model][b];
  Size& size = sizes_[model][b];
  if (profiled <= 0 || size.judged) return std::nullopt;
  size.samples_ms.push_back(to_ms(measured));
  if (size.samples_ms.size() < static_cast<size_t>(kProfileCheckBatches)) return std::nullopt;

  std::vector<double>& v = size.samples_ms;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  size.judged = true;
  size.ratio = median / profiled;
  v.clear();
  v.shrink_to_fit();

  ProfileFinding finding;
  finding.model = model;
  finding.batch = batch;
  finding.batches = static_cast<int>(n);
  finding.measured_ms = median;
  finding.profiled_ms = profiled;
  finding.ratio = size.ratio;
  if (median > (1 + margin_) * profiled) {
    finding.kind = ProfileDeviation::kSlower;
  } else if (median * (1 + margin_) < profiled) {
    finding.kind = ProfileDeviation::kFaster;
  } else {
    return std::nullopt;
  }
  findings_.push_back(finding);
  return finding;
}

std::optional<double> ProfileCheck::ratio(uint32_t model) const {
  if (model >= sizes_.size()) return std::nullopt;
  std::optional<double> worst;
  for (const Size& s : sizes_[model]) {
    if (s.judged && (!worst || s.ratio > *worst)) worst = s.ratio;
  }
  return worst;
}

}  // namespace coedge::node
