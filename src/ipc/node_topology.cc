#include "ipc/node_topology.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "core/result.h"
#include "ipc/messages.h"

namespace coedge::ipc {

bool send_event(Ring& events, const JobEvent& event, const char* who) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (events.push(&event)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::fprintf(stderr, "%s: the agent is not reading events; job %llu not reported\n", who,
               static_cast<unsigned long long>(event.ref.job));
  return false;
}

SegmentPlan node_segment_plan(const std::vector<TaskChannels>& tasks,
                              const std::vector<SensorChannels>& sensors) {
  // Depths: a pre worker holds one frame at a time, a few more may wait; the server may
  // queue many tensors of a task (jobs wait up to their deadline); a post worker keeps up.
  constexpr uint32_t kFramesPerReader = 4;
  constexpr uint32_t kTensorsPerTask = 32;
  constexpr uint32_t kOutputsPerTask = 16;
  constexpr uint32_t kEventRing = 1024;
  SegmentPlan plan;
  plan.doorbells = {kAgentBell, kServerBell};
  for (const TaskChannels& t : tasks) {
    plan.doorbells.push_back(pre_bell(t.name));
    plan.doorbells.push_back(post_bell(t.name));
  }
  const uint32_t event_bytes = sizeof(JobEvent);
  plan.rings.push_back({kServerEvents, kEventRing, event_bytes, kAgentBell});
  plan.rings.push_back({kServerControl, 64, sizeof(ServerCommand), kServerBell});
  for (const TaskChannels& t : tasks) {
    plan.rings.push_back({frame_ring(t.name), kFramesPerReader + 4, sizeof(ChunkRef), pre_bell(t.name)});
    plan.rings.push_back({tensor_ring(t.name), kTensorsPerTask, sizeof(ChunkRef), kServerBell});
    plan.rings.push_back({output_ring(t.name), kOutputsPerTask, sizeof(ChunkRef), post_bell(t.name)});
    plan.rings.push_back({pre_events(t.name), kEventRing, event_bytes, kAgentBell});
    plan.rings.push_back({post_events(t.name), kEventRing, event_bytes, kAgentBell});
    plan.pools.push_back({tensor_pool(t.name), payload_offset<TensorHeader>() + t.tensor_bytes, kTensorsPerTask + 2});
    plan.pools.push_back({output_pool(t.name), payload_offset<OutputHeader>() + t.output_bytes, kOutputsPerTask + 2});
  }
  for (const SensorChannels& s : sensors) {
    plan.pools.push_back({frame_pool(s.name), payload_offset<FrameHeader>() + s.frame_bytes,
                          kFramesPerReader * (s.tasks + 1) + 2});
  }
  // The server packs a chunk reference into 64 bits (server_process.cc).
  COEDGE_CHECK(plan.pools.size() < 65536);
  for (const PoolPlan& p : plan.pools) COEDGE_CHECK(p.count < 65536);
  return plan;
}

}  // namespace coedge::ipc
