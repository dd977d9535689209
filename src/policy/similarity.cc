#include "policy/similarity.h"

#include <cmath>

#include "core/result.h"

namespace coedge::policy {

double cosine_similarity(std::span<const double> a, std::span<const double> b) {
  COEDGE_CHECK(a.size() == b.size());
  double dot = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa == 0 || bb == 0) return 0.0;
  return dot / (std::sqrt(aa) * std::sqrt(bb));
}

double task_similarity(ModelIndex model, std::span<const uint32_t> counts,
                       uint64_t sum_of_squares) {
  if (sum_of_squares == 0) return 0.0;
  return static_cast<double>(counts[model]) / std::sqrt(static_cast<double>(sum_of_squares));
}

}  // namespace coedge::policy
