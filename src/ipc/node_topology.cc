#include "ipc/node_topology.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <thread>

#include "core/result.h"
#include "ipc/job_table.h"
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

bool send_result(Pool& pool, Ring& ring, const JobRef& ref, std::string_view json, const char* who) {
  const auto job = static_cast<unsigned long long>(ref.job);
  if (json.empty() || json.size() > kMaxResultBytes) {
    std::fprintf(stderr, "%s: job %llu: a result of %zu bytes cannot be sent (1 to %u)\n", who, job,
                 json.size(), kMaxResultBytes);
    return false;
  }
  ChunkRef chunk;
  bool got = false;
  for (int attempt = 0; attempt < 50 && !(got = pool.alloc(chunk)); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!got) {
    std::fprintf(stderr, "%s: the agent is not taking results; the result of job %llu is dropped\n", who, job);
    return false;
  }
  auto* header = new (pool.data(chunk)) ResultHeader();
  header->ref = ref;
  header->bytes = static_cast<uint32_t>(json.size());
  std::memcpy(reinterpret_cast<char*>(header) + payload_offset<ResultHeader>(), json.data(), json.size());
  pool.publish(chunk, kSoleHolder);
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (ring.push(&chunk)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  pool.release(chunk, kSoleHolder);
  std::fprintf(stderr, "%s: the agent is not taking results; the result of job %llu is dropped\n", who, job);
  return false;
}

std::optional<ReceivedResult> take_result(Ring& ring, Pool& pool) {
  const void* entry = ring.peek();
  if (entry == nullptr) return std::nullopt;
  ChunkRef chunk;
  std::memcpy(&chunk, entry, sizeof chunk);
  ReceivedResult out;
  // Checked against the plan and the pool's own copy of its layout (fixed when the
  // segment was created), never against a pool header in shared memory.
  if (chunk.pool != pool.pool_index() || chunk.index >= kResultChunks || !pool.contains(chunk) ||
      pool.chunk_bytes() < kResultChunkBytes) {
    ring.commit();
    out.status = ReceivedResult::Status::kBadChunk;
    out.error = "a chunk reference outside the task's result pool (pool " + std::to_string(chunk.pool) +
                ", chunk " + std::to_string(chunk.index) + ")";
    return out;
  }
  // The publication the worker pushed, or nothing: a reference to a free chunk, or to an
  // earlier generation, reads nothing and releases nothing (release() checks it too).
  const auto* base = static_cast<const char*>(pool.published(chunk));
  if (base == nullptr) {
    ring.commit();
    out.status = ReceivedResult::Status::kBadChunk;
    out.error = "a result chunk (" + std::to_string(chunk.index) + ", generation " + std::to_string(chunk.generation) +
                ") that is not published in that generation";
    return out;
  }
  ResultHeader header;
  std::memcpy(&header, base, sizeof header);  // read once: the worker may still write it
  out.ref = header.ref;
  if (header.bytes == 0 || header.bytes > kMaxResultBytes ||
      header.bytes > kResultChunkBytes - payload_offset<ResultHeader>()) {
    out.status = ReceivedResult::Status::kBadLength;
    out.error = "a result length of " + std::to_string(header.bytes) + " bytes (1 to " +
                std::to_string(kMaxResultBytes) + ")";
  } else {
    out.json.assign(base + payload_offset<ResultHeader>(), header.bytes);
  }
  // Release before commit, as every consumer does (shm_segment.h).
  pool.release(chunk, kSoleHolder);
  ring.commit();
  return out;
}

TaskChannels task_channels(const std::string& task, const std::vector<int64_t>& input_shape,
                           const std::vector<int64_t>& output_shape, const std::string& kind) {
  auto elements = [](const std::vector<int64_t>& shape) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
  };
  // A segmentation task's output item is a class id per pixel, one byte each.
  const uint64_t output_element = kind == "segmentation" ? 1 : 4;
  return {task, 4 * elements(input_shape), output_element * elements(output_shape)};
}

namespace {
// Depths: a pre worker holds one frame at a time, a few more may wait; the server may
// queue many tensors of a task (jobs wait up to their deadline); a post worker keeps up.
constexpr uint32_t kTensorsPerTask = 32;
constexpr uint32_t kOutputsPerTask = 16;
constexpr uint32_t kEventRing = 1024;
constexpr uint32_t kEventBytes = sizeof(JobEvent);

// The server packs a chunk reference into 64 bits (server_process.cc).
void check_packable(const SegmentPlan& plan) {
  COEDGE_CHECK(plan.pools.size() < 65536);
  for (const PoolPlan& p : plan.pools) COEDGE_CHECK(p.count < 65536);
}
}  // namespace

SegmentPlan control_segment_plan(const std::vector<std::string>& tasks) {
  SegmentPlan plan;
  plan.doorbells = {kAgentBell, kServerBell};
  plan.rings.push_back({kServerEvents, kEventRing, kEventBytes, kAgentBell});
  plan.rings.push_back({kServerControl, 64, sizeof(ServerCommand), kServerBell});
  // Each task's job table, one chunk: written by the agent, read by the server.
  for (const std::string& t : tasks) plan.pools.push_back({job_table_pool(t), JobTable::kBytes, 1});
  // A job-table slot is rewritten kJobSlots deliveries later: by then its job has left the
  // pipeline (at most a ring of tickets, one frame at the pre worker, the tensor pool and
  // the output pool are in flight per task).
  static_assert(kJobSlots > (kFramesPerReader + 4) + 1 + (kTensorsPerTask + 2) + (kOutputsPerTask + 2));
  check_packable(plan);
  return plan;
}

SegmentPlan task_segment_plan(const TaskChannels& t) {
  SegmentPlan plan;
  plan.doorbells = {kAgentBell, kServerBell, pre_bell(t.name), post_bell(t.name)};
  plan.rings.push_back({frame_ring(t.name), kFramesPerReader + 4, sizeof(FrameTicket), pre_bell(t.name)});
  plan.rings.push_back({tensor_ring(t.name), kTensorsPerTask, sizeof(ChunkRef), kServerBell});
  plan.rings.push_back({output_ring(t.name), kOutputsPerTask, sizeof(ChunkRef), post_bell(t.name)});
  plan.rings.push_back({pre_events(t.name), kEventRing, kEventBytes, kAgentBell});
  plan.rings.push_back({post_events(t.name), kEventRing, kEventBytes, kAgentBell});
  plan.rings.push_back({result_ring(t.name), kResultRing, sizeof(ChunkRef), kAgentBell});
  plan.pools.push_back({tensor_pool(t.name), payload_offset<TensorHeader>() + t.tensor_bytes, kTensorsPerTask + 2});
  plan.pools.push_back({output_pool(t.name), payload_offset<OutputHeader>() + t.output_bytes, kOutputsPerTask + 2});
  plan.pools.push_back({result_pool(t.name), kResultChunkBytes, kResultChunks});
  check_packable(plan);
  return plan;
}

SegmentPlan frame_segment_plan(const SensorChannels& s) {
  SegmentPlan plan;
  plan.pools.push_back({frame_pool(s.name), payload_offset<FrameHeader>() + s.frame_bytes,
                        kFramesPerReader * (s.tasks + 1) + 2});
  check_packable(plan);
  return plan;
}

}  // namespace coedge::ipc
