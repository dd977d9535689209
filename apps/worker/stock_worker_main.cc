// coedge-worker: the stock classification and detection worker. The node agent starts
// it as a task's pre- or post-processing process; it is an ordinary SDK worker.
#include "coedge/worker.h"
#include "node/stock_worker.h"

int main(int argc, char** argv) {
  return coedge_worker_main(argc, argv, coedge::node::stock_worker_callbacks());
}
