// A worker as one built against worker ABI 1 (before results went to the agent) behaves
// towards the agent: it connects to the node's segment and says it is ready without a
// protocol version (a v1 kReady carries 0 where v2 and v3 carry COEDGE_WORKER_ABI_VERSION),
// then waits. The agent must refuse it, naming the task, this file and both versions
// (node_runtime_test.cc). It speaks the segment's messages directly: an old SDK cannot be
// built from this tree. With COEDGE_TEST_FORGE_TASK=N in its environment it is also
// hostile: before its own, it sends a kReady for task index N (another task's), which the
// agent must treat as a protocol violation (foreign_task): never applied, and the worker
// killed (node_runtime_test.cc, AWorkersEventForAnotherTaskIsAViolation).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  using namespace coedge;
  std::string role, task;
  uint32_t index = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--role") role = argv[i + 1];
    if (key == "--task") task = argv[i + 1];
    if (key == "--task-index") index = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
  }
  std::signal(SIGTERM, on_signal);
  auto segment = ipc::Segment::open(ipc::kSegmentFile);
  if (!segment.ok()) {
    std::fprintf(stderr, "abi1 worker: %s\n", segment.error().message.c_str());
    return 1;
  }
  auto events = (*segment)->ring(role == "pre" ? ipc::pre_events(task) : ipc::post_events(task));
  if (!events.ok()) return 1;
  if (const char* forge = std::getenv("COEDGE_TEST_FORGE_TASK")) {
    ipc::JobEvent forged;
    forged.kind = ipc::EventKind::kReady;
    forged.ref.task = static_cast<uint32_t>(std::strtoul(forge, nullptr, 10));
    forged.reason = static_cast<uint8_t>(role == "pre" ? ipc::Role::kPre : ipc::Role::kPost);
    forged.batch = 0;
    ipc::send_event(*events, forged, "abi1 worker");
  }
  ipc::JobEvent ready;
  ready.kind = ipc::EventKind::kReady;
  ready.ref.task = index;
  ready.reason = static_cast<uint8_t>(role == "pre" ? ipc::Role::kPre : ipc::Role::kPost);
  ready.batch = 0;  // what every v1 worker sent
  ipc::send_event(*events, ready, "abi1 worker");
  while (!g_stop) ::usleep(20000);
  return 0;
}
