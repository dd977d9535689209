// A worker as one built against worker ABI 1 (before results went to the agent) behaves
// towards the agent: it maps its task's segment (the descriptor it is handed, with the
// plan its command line gives, as the SDK does) and says it is ready without a
// protocol version (a v1 kReady carries 0 where v2 and v3 carry COEDGE_WORKER_ABI_VERSION),
// then waits. The agent must refuse it, naming the task, this file and both versions
// (node_runtime_test.cc). It speaks the segment's messages directly: an old SDK cannot be
// built from this tree. With COEDGE_TEST_FORGE_TASK=N in its environment it is also
// hostile: before its own, it sends a kReady for task index N (another task's), which the
// agent must treat as a protocol violation (foreign_task): never applied, and the worker
// killed (node_runtime_test.cc, AWorkersEventForAnotherTaskIsAViolation).
// With COEDGE_TEST_ATTACK it is instead a current (protocol 3) worker that breaks the
// protocol once it has a job: it says ready as protocol 3, then the pre worker answers
// each frame ticket with an event the agent must refuse — `reason200`: a kDropped of its
// own job with drop cause 200 (outside the vocabulary: it once made the agent throw);
// `foreign`: a kDropped (bad_frame) of the job ids next to its own (another task's, on a
// shared camera). The post worker gives up each output it gets (kDropped bad_frame, a
// sound event).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <unistd.h>

#include "core/clock.h"
#include "core/job_outcome.h"
#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  using namespace coedge;
  std::string role, task, kind;
  std::vector<int64_t> input_shape, output_shape;
  uint32_t index = 0;
  int fd = -1;
  auto shape = [](const char* text) {
    std::vector<int64_t> out;
    for (const char* p = text; *p != '\0';) {
      char* end = nullptr;
      out.push_back(std::strtoll(p, &end, 10));
      p = *end == ',' ? end + 1 : end;
      if (end == p && *p != '\0') break;
    }
    return out;
  };
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--role") role = argv[i + 1];
    if (key == "--task") task = argv[i + 1];
    if (key == "--kind") kind = argv[i + 1];
    if (key == "--input-shape") input_shape = shape(argv[i + 1]);
    if (key == "--output-shape") output_shape = shape(argv[i + 1]);
    if (key == "--shm-task-fd") fd = static_cast<int>(std::strtol(argv[i + 1], nullptr, 10));
    if (key == "--task-index") index = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
  }
  std::signal(SIGTERM, on_signal);
  auto segment = ipc::Segment::map(fd, ipc::task_segment_plan(ipc::task_channels(task, input_shape, output_shape, kind)),
                                   ipc::Access::kReadWrite);
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
  const char* attack = std::getenv("COEDGE_TEST_ATTACK");
  ipc::JobEvent ready;
  ready.kind = ipc::EventKind::kReady;
  ready.ref.task = index;
  ready.reason = static_cast<uint8_t>(role == "pre" ? ipc::Role::kPre : ipc::Role::kPost);
  ready.batch = attack != nullptr ? ipc::kWorkerProtocol : 0;  // 0: what every v1 worker sent
  ipc::send_event(*events, ready, "abi1 worker");
  if (attack == nullptr) {
    while (!g_stop) ::usleep(20000);
    return 0;
  }
  const std::string mode = attack;
  auto input = (*segment)->ring(role == "pre" ? ipc::frame_ring(task) : ipc::output_ring(task));
  auto outputs = (*segment)->pool(ipc::output_pool(task));
  if (!input.ok() || !outputs.ok()) return 1;
  while (!g_stop) {
    const void* entry = input->peek();
    if (entry == nullptr) {
      ::usleep(2000);
      continue;
    }
    ipc::JobEvent e;
    e.ref.task = index;
    e.kind = ipc::EventKind::kDropped;
    e.reason = static_cast<uint8_t>(DropCause::kBadFrame);
    if (role == "post") {
      ipc::ChunkRef ref;
      std::memcpy(&ref, entry, sizeof ref);
      ipc::OutputHeader header;
      if (const void* chunk = outputs->data(ref)) std::memcpy(&header, chunk, sizeof header);
      outputs->release(ref, ipc::kSoleHolder);
      input->commit();
      e.ref.job = header.ref.job;
      e.post_start_us = e.post_end_us = MonotonicClock::monotonic_us();
      ipc::send_event(*events, e, "abi1 worker");
      continue;
    }
    ipc::FrameTicket ticket;
    std::memcpy(&ticket, entry, sizeof ticket);
    input->commit();
    e.pre_start_us = e.pre_end_us = MonotonicClock::monotonic_us();
    if (mode == "reason200") {
      e.ref.job = ticket.job.job;
      e.reason = 200;
      ipc::send_event(*events, e, "abi1 worker");
    } else {  // foreign
      for (uint64_t job : {ticket.job.job - 1, ticket.job.job + 1}) {
        e.ref.job = job;
        ipc::send_event(*events, e, "abi1 worker");
      }
    }
  }
  return 0;
}
