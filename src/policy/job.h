// A job is one release of a periodic task (DESIGN: "Reading the paper"). The policies see
// only what they need to decide: which model, when it must be done, and how important it
// is. `id` is unique and increasing in release order, the final tie-break everywhere.
#pragma once

#include <cstdint>

#include "core/scenario.h"
#include "core/time.h"

namespace coedge::policy {

struct Job {
  uint64_t id = 0;
  TaskIndex task = kNone;
  ModelIndex model = kNone;
  TimePoint release{};
  TimePoint deadline{};  // absolute
  int priority = 0;
};

// Earliest deadline first, then release order: the stable order of DESIGN.md.
inline bool earlier_deadline(const Job& a, const Job& b) {
  return a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id;
}
// Its reverse, for std::*_heap (which builds max-heaps): puts the earliest deadline on top.
inline bool later_deadline(const Job& a, const Job& b) { return earlier_deadline(b, a); }

}  // namespace coedge::policy
