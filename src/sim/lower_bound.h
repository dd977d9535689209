// A capacity-based lower bound on the long-run miss rate of a scenario: what no policy
// can beat. It is deliberately optimistic about everything a policy controls:
//  - a task's jobs can only be met on a node that can finish one alone in time: the
//    transfer (Eq. 2), pre- and post-processing and ExeTime(1) within the deadline;
//    a task with no such node misses every job;
//  - the accelerators of all nodes are pooled, and every job costs its model's best
//    per-image time, ExeTime(b) / b over the batch sizes b whose pre + ExeTime(b) + post
//    fits the task's deadline (perfect batching); the cheapest jobs are served first
//    (that maximises how many meet their deadlines);
//  - likewise the CPU cores of all nodes are pooled for pre- and post-processing.
//  - locality: a source's tasks can only use the nodes that can serve them in time (its
//    region); over sources whose regions do not overlap, what each region's accelerators
//    cannot serve (as above, within the region) adds up. The accelerator share is the
//    larger of this and the pooled figure.
// The bound is the missed share of the job rate: the tasks nothing can host, plus the
// larger of what the accelerators and the pooled cores cannot serve.
//
// Never above what a run achieves (issue 17: a compare table showed a policy "-0.00 pp"
// above it). Two things made the long-run figure exceed a finite run's miss rate:
//  - the job mix: a run releases whole jobs from seeded phases, so a task nothing can host
//    may have one job fewer than its rate says. Given the jobs each task released in a
//    run (`released`), the bound counts those jobs instead of rates, and the capacity is
//    that of the run: its duration plus the longest deadline (jobs released before the end
//    may still be served until their deadline), per accelerator and per core;
//  - exec_jitter: a batch may run up to that fraction faster than its profile, so the
//    bound costs every inference at ExeTime * (1 - exec_jitter).
// With counts, the bound is a bound on that run; the comparison takes the smallest over
// its runs, which is then below every one of them.
#pragma once

#include <cstdint>
#include <span>

#include "core/scenario.h"

namespace coedge::sim {

struct MissRateBound {
  double miss_rate = 0;         // the bound, in [0, 1]
  double unreachable = 0;       // share of jobs no node can finish in time even alone
  double accelerator = 0;       // share the pooled accelerators cannot serve
  double cpu = 0;               // share the pooled CPU cores cannot serve
};

// `released`: empty for the long-run rates; else the jobs each task released in one run.
MissRateBound miss_rate_lower_bound(const Scenario& scenario, std::span<const uint64_t> released = {});

}  // namespace coedge::sim
