#include "infer/segmentation.h"

#include <algorithm>
#include <array>

namespace coedge::infer {

int64_t segmentation_classes(std::span<const int64_t> shape) {
  if (shape.size() != 4) return 0;
  const int64_t c = shape[1];
  if (c < kMinSegmentationClasses || c > kMaxSegmentationClasses) return 0;
  if (shape[2] <= 0 || shape[3] <= 0) return 0;  // the agent sizes memory from H and W
  return c;
}

bool is_segmentation(const ModelInfo& info) {
  return info.kind_hint == "segmentation" && !info.outputs.empty() &&
         segmentation_classes(info.outputs.front().shape) > 0;
}

std::vector<ClassArea> class_areas(std::span<const uint8_t> labels, double min_fraction) {
  std::vector<ClassArea> areas;
  if (labels.empty()) return areas;
  std::array<uint64_t, 256> counts{};
  for (uint8_t id : labels) ++counts[id];
  const auto total = static_cast<double>(labels.size());
  for (size_t id = 0; id < counts.size(); ++id) {
    if (counts[id] == 0) continue;
    const double fraction = static_cast<double>(counts[id]) / total;
    if (fraction < min_fraction) continue;
    areas.push_back({static_cast<int>(id), counts[id], fraction});
  }
  std::stable_sort(areas.begin(), areas.end(),
                   [](const ClassArea& a, const ClassArea& b) { return a.pixels > b.pixels; });
  return areas;
}

}  // namespace coedge::infer
