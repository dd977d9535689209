// The dispatcher's estimates (paper §4.2.2), in the units the code uses.
//  - Eq. 2: T_com(m, k) = S_m / B(src_m, k), plus the link's latency; zero on the source.
//  - Eq. 3: T_exe(m, k) = sum over j in S_k of p_m * T_avg(j) / p_j + C_m. We sum over
//    S_k together with m itself (m's own inference counts), and take T_avg(j) as the
//    profiled batch-1 ExeTime of j's model. C_m = pre + post time of m's model.
//    Written with the node load U_k = sum T_avg(j) / p_j, this is p_m * U_k + C_m.
//  - The online correction: T_exe' = (1 + alpha_k) * T_exe.
// Pure functions; see docs/POLICIES.md for why each reading was chosen.
#pragma once

#include "core/scenario.h"
#include "policy/explanation.h"

namespace coedge::policy {

// Eq. 2. kNever when the nodes cannot talk (no link and no default bandwidth) or the
// transfer would take longer than the clock can count.
Duration comm_time(const Network& network, int64_t bytes, NodeIndex source, NodeIndex node);

// T_avg(j) / p_j: the share of the accelerator that task j asks for.
double task_load(const TaskSpec& task, const ModelProfile& model);

// Eq. 3 with the correction: (1 + alpha) * (p_m * node_load + C_m), where node_load
// already includes task m's own load.
double exec_estimate_us(const TaskSpec& task, const ModelProfile& model, double node_load,
                        double alpha);

// The largest node load (including all tasks) at which `task` still meets its deadline
// on a node with correction alpha, given its communication time: the inverse of Eq. 3.
// Negative when even an idle node is too slow.
double load_capacity(const TaskSpec& task, const ModelProfile& model, Duration comm,
                     double alpha);

// Fills the terms and total of `out` (explanation.h) for task m on a node whose load
// U_k, with m on it, is `node_load`, and where m's own inference per job is
// `own_inference_us`: out.total_us = comm + exec_estimate_us(task, model, node_load, alpha),
// the very figure the dispatcher compares with the deadline; the terms split it.
// REQUIRES: comm != kNever.
void fill_estimate(const TaskSpec& task, const ModelProfile& model, Duration comm,
                   double node_load, double own_inference_us, double alpha, NodeEstimate& out);

}  // namespace coedge::policy
