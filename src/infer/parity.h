// Whether two backends computed the same function: the rule CoEdge's parity tests and the
// backend bench apply to one output tensor of each (issue 13): element by element,
// |a - b| <= 1e-3 * max|a| + 1e-4, with a the reference. A value that is not finite on
// either side counts as a difference beyond any tolerance (NaN compares false with
// everything, so a plain max would let it pass). Pure.
#pragma once

#include <cstddef>
#include <span>

namespace coedge::infer {

struct ParityReport {
  double max_abs = 0;        // max |a|
  double tolerance = 0;      // 1e-3 * max_abs + 1e-4
  double max_diff = 0;       // max |a - b|; infinity when some value is not finite
  size_t over = 0;           // elements beyond the tolerance (or not finite)
  size_t worst = 0;          // the index of the largest difference
  bool sizes_differ = false;
  bool pass() const { return !sizes_differ && over == 0; }
};

ParityReport compare_outputs(std::span<const float> a, std::span<const float> b);

}  // namespace coedge::infer
