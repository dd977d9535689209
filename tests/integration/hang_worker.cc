// A worker that hangs: like a stock worker that gets stuck in a call, its pre-processing
// never returns for every 8th job (it sleeps, ignoring SIGTERM). The node agent must see
// the job held without progress, kill the worker, count the job dropped, and restart it.
#include <csignal>
#include <cstring>
#include <unistd.h>

#include "coedge/worker.h"

namespace {

void* init(const coedge_task_info*, char*, size_t) {
  std::signal(SIGTERM, SIG_IGN);  // hung for real: only SIGKILL ends it
  static int state = 0;
  return &state;
}

int pre(void*, const coedge_frame* frame, coedge_tensor* tensor, char*, size_t) {
  if (frame->job % 8 == 0) {
    for (;;) pause();
  }
  std::memset(tensor->data, 0, tensor->elements * sizeof(float));
  return 0;
}

int post(void*, const coedge_output*, char* result, size_t size, char*, size_t) {
  if (size > 2) std::strcpy(result, "{}");
  return 0;
}

const coedge_worker_callbacks kCallbacks = {COEDGE_WORKER_ABI_VERSION, init, pre, post, nullptr};

}  // namespace

int main(int argc, char** argv) { return coedge_worker_main(argc, argv, &kCallbacks); }
