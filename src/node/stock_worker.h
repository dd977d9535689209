// The stock workers: CoEdge's own classification, detection and segmentation pre- and post-processing
// (src/infer) behind the worker SDK's callbacks, so they run exactly like a user's
// worker — as sandboxed processes (apps/worker), or called in-process by the node agent
// in the "none" isolation mode. The task kind comes from coedge_task_info.kind.
#pragma once

#include "coedge/worker.h"

namespace coedge::node {

const coedge_worker_callbacks* stock_worker_callbacks();

}  // namespace coedge::node
