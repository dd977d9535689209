#include "infer/parity.h"

#include <cmath>
#include <limits>

namespace coedge::infer {

ParityReport compare_outputs(std::span<const float> a, std::span<const float> b) {
  ParityReport r;
  if (a.size() != b.size()) {
    r.sizes_differ = true;
    return r;
  }
  for (float v : a)
    if (std::isfinite(v)) r.max_abs = std::max(r.max_abs, static_cast<double>(std::fabs(v)));
  r.tolerance = 1e-3 * r.max_abs + 1e-4;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool finite = std::isfinite(a[i]) && std::isfinite(b[i]);
    const double d = finite ? std::fabs(static_cast<double>(a[i]) - b[i]) : std::numeric_limits<double>::infinity();
    if (d > r.tolerance) ++r.over;
    if (d > r.max_diff || (i == 0 && d == r.max_diff)) {
      r.max_diff = d;
      r.worst = i;
    }
  }
  return r;
}

}  // namespace coedge::infer
