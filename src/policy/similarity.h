// Eq. 4: the cosine similarity between a task's model-type vector EV(task) (one-hot) and
// a node's EV(S_k) (how many of its tasks use each model). Zero for a node with no tasks:
// an empty node shares nothing, and the tie-break (lowest latency) decides.
#pragma once

#include <cstdint>
#include <span>

#include "core/scenario.h"

namespace coedge::policy {

// The general form, for any two vectors; 0 when either is all zeros.
double cosine_similarity(std::span<const double> a, std::span<const double> b);

// The same for a one-hot EV(task) in O(1): counts[model] / |counts|. `sum_of_squares` is
// the sum of counts[i]^2, kept by the caller as tasks come and go.
double task_similarity(ModelIndex model, std::span<const uint32_t> counts,
                       uint64_t sum_of_squares);

}  // namespace coedge::policy
