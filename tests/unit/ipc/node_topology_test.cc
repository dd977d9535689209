// Tests of ipc/node_topology.h: the names the agent, the server and the workers look up,
// and the three plans (control, task, frames), which must plan every one of them, each in
// its own segment, with room for its messages.
// The lookups below mirror node/ipc_pipeline.cc (agent), node/server_process.cc (server)
// and sdk/worker_sdk.cc (pre and post workers).
#include "ipc/node_topology.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "ipc/job_table.h"
#include "ipc/messages.h"
#include "ipc/worker_checks.h"

namespace coedge::ipc {
namespace {

std::vector<TaskChannels> three_tasks() {
  return {{"detect", 3 * 320 * 320 * 4, 84 * 2100 * 4},
          {"classify", 3 * 224 * 224 * 4, 1000 * 4},
          {"seg.2", 3 * 128 * 128 * 4, 21 * 64 * 64 * 4}};
}
std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const TaskChannels& t : three_tasks()) names.push_back(t.name);
  return names;
}
std::vector<SensorChannels> two_sensors() { return {{"cam0", 640 * 480 * 3, 2}, {"cam-1", 320 * 240 * 3, 1}}; }

const RingPlan* find_ring(const SegmentPlan& plan, const std::string& name) {
  for (const RingPlan& r : plan.rings) {
    if (r.name == name) return &r;
  }
  return nullptr;
}
const PoolPlan* find_pool(const SegmentPlan& plan, const std::string& name) {
  for (const PoolPlan& p : plan.pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}
bool has_doorbell(const SegmentPlan& plan, const std::string& name) {
  for (const std::string& d : plan.doorbells) {
    if (d == name) return true;
  }
  return false;
}

std::unique_ptr<Segment> make(const std::string& name, const SegmentPlan& plan, Sealing sealing = Sealing::kShared) {
  auto s = Segment::create_sealed(name, plan, sealing);
  EXPECT_TRUE(s.ok()) << (s.ok() ? std::string() : s.error().message);
  return s.ok() ? std::move(*s) : nullptr;
}

// Every lookup the agent and the server make in the control segment; "" when all succeed.
std::string lookup_control(const Segment& s) {
  std::string missing;
  for (const char* bell : {kAgentBell, kServerBell}) {
    if (!s.doorbell(bell).ok()) missing += std::string(" ") + bell;
  }
  for (const char* ring : {kServerEvents, kServerControl}) {
    if (!s.ring(ring).ok()) missing += std::string(" ") + ring;
  }
  return missing;
}

// Every lookup a process makes in task `t`'s segment (the agent, the server, its two
// workers: node/ipc_pipeline.cc, node/server_process.cc, sdk/worker_sdk.cc).
std::string lookup_task(const Segment& s, const std::string& t) {
  std::string missing;
  for (const std::string& bell : {std::string(kAgentBell), std::string(kServerBell), pre_bell(t), post_bell(t)}) {
    if (!s.doorbell(bell).ok()) missing += " " + bell;
  }
  for (const std::string& ring :
       {frame_ring(t), tensor_ring(t), output_ring(t), pre_events(t), post_events(t), result_ring(t)}) {
    if (!s.ring(ring).ok()) missing += " " + ring;
  }
  for (const std::string& pool : {tensor_pool(t), output_pool(t), result_pool(t)}) {
    if (!s.pool(pool).ok()) missing += " " + pool;
  }
  return missing;
}

TEST(NodeTopology, NamesFollowTheDocumentedScheme) {
  EXPECT_EQ(frame_ring("t"), "frame/t");
  EXPECT_EQ(tensor_ring("t"), "tensor/t");
  EXPECT_EQ(output_ring("t"), "output/t");
  EXPECT_EQ(pre_events("t"), "event/t/pre");
  EXPECT_EQ(post_events("t"), "event/t/post");
  EXPECT_EQ(result_ring("t"), "result/t");
  EXPECT_EQ(result_pool("t"), "results/t");
  EXPECT_EQ(frame_pool("s"), "frames/s");
  EXPECT_EQ(tensor_pool("t"), "tensors/t");
  EXPECT_EQ(output_pool("t"), "outputs/t");
  EXPECT_EQ(pre_bell("t"), "t/pre");
  EXPECT_EQ(post_bell("t"), "t/post");
  EXPECT_STREQ(kControlSegment, "coedge-control");
  EXPECT_EQ(task_segment("t"), "coedge-task-t");
  EXPECT_EQ(frame_segment("s"), "coedge-frames-s");
  EXPECT_EQ(kSoleHolder, 1u);
}

// The split: the control segment holds only the agent's and the server's own parts (no
// task's ring, pool or bell), a task segment only its task's, a frame segment a pool.
TEST(NodeTopology, EachSegmentHoldsOnlyItsOwnParts) {
  const SegmentPlan control = control_segment_plan(task_names());
  EXPECT_EQ(control.doorbells, (std::vector<std::string>{kAgentBell, kServerBell}));
  ASSERT_EQ(control.rings.size(), 2u);
  EXPECT_EQ(find_ring(control, kServerEvents)->doorbell, kAgentBell);
  EXPECT_EQ(find_ring(control, kServerControl)->doorbell, kServerBell);  // agent -> server
  // Each task's job table (the agent writes it, the server reads it): one chunk.
  ASSERT_EQ(control.pools.size(), 3u);
  for (const TaskChannels& t : three_tasks()) {
    const PoolPlan* jobs = find_pool(control, job_table_pool(t.name));
    ASSERT_NE(jobs, nullptr) << t.name;
    EXPECT_EQ(jobs->count, 1u);
    EXPECT_GE(jobs->chunk_bytes, JobTable::kBytes);
  }

  for (const TaskChannels& t : three_tasks()) {
    SCOPED_TRACE(t.name);
    const SegmentPlan plan = task_segment_plan(t);
    EXPECT_EQ(plan.doorbells.size(), 4u);
    EXPECT_TRUE(has_doorbell(plan, kAgentBell));
    EXPECT_TRUE(has_doorbell(plan, kServerBell));
    EXPECT_TRUE(has_doorbell(plan, pre_bell(t.name)));
    EXPECT_TRUE(has_doorbell(plan, post_bell(t.name)));
    EXPECT_EQ(plan.rings.size(), 6u);
    EXPECT_EQ(find_ring(plan, kServerEvents), nullptr);
    EXPECT_EQ(find_ring(plan, kServerControl), nullptr);
    // Each ring rings its consumer's doorbell, the task's own.
    EXPECT_EQ(find_ring(plan, frame_ring(t.name))->doorbell, pre_bell(t.name));    // agent -> pre
    EXPECT_EQ(find_ring(plan, tensor_ring(t.name))->doorbell, kServerBell);        // pre -> server
    EXPECT_EQ(find_ring(plan, output_ring(t.name))->doorbell, post_bell(t.name));  // server -> post
    EXPECT_EQ(find_ring(plan, pre_events(t.name))->doorbell, kAgentBell);
    EXPECT_EQ(find_ring(plan, post_events(t.name))->doorbell, kAgentBell);
    EXPECT_EQ(find_ring(plan, result_ring(t.name))->doorbell, kAgentBell);  // post -> agent
    // Pool indices are the segment's: the same for every task.
    ASSERT_EQ(plan.pools.size(), 3u);
    EXPECT_EQ(plan.pools[0].name, tensor_pool(t.name));
    EXPECT_EQ(plan.pools[1].name, output_pool(t.name));
    EXPECT_EQ(plan.pools[2].name, result_pool(t.name));
    for (const RingPlan& r : plan.rings) EXPECT_EQ(r.name.find(t.name) != std::string::npos, true) << r.name;
  }
  for (const SensorChannels& s : two_sensors()) {
    const SegmentPlan plan = frame_segment_plan(s);
    EXPECT_TRUE(plan.doorbells.empty());
    EXPECT_TRUE(plan.rings.empty());
    ASSERT_EQ(plan.pools.size(), 1u);
    EXPECT_EQ(plan.pools[0].name, frame_pool(s.name));
  }
  // Two tasks' segments differ (a worker given another task's descriptor cannot map it).
  EXPECT_NE(task_segment_plan(three_tasks()[0]).digest(), task_segment_plan(three_tasks()[1]).digest());
}

TEST(NodeTopology, EntriesAreTicketsChunkRefsOrJobEvents) {
  const SegmentPlan control = control_segment_plan(task_names());
  EXPECT_EQ(find_ring(control, kServerEvents)->entry_bytes, sizeof(JobEvent));
  EXPECT_EQ(find_ring(control, kServerControl)->entry_bytes, sizeof(ServerCommand));
  for (const TaskChannels& t : three_tasks()) {
    const SegmentPlan plan = task_segment_plan(t);
    EXPECT_EQ(find_ring(plan, frame_ring(t.name))->entry_bytes, sizeof(FrameTicket));
    EXPECT_EQ(find_ring(plan, tensor_ring(t.name))->entry_bytes, sizeof(ChunkRef));
    EXPECT_EQ(find_ring(plan, output_ring(t.name))->entry_bytes, sizeof(ChunkRef));
    EXPECT_EQ(find_ring(plan, pre_events(t.name))->entry_bytes, sizeof(JobEvent));
    EXPECT_EQ(find_ring(plan, post_events(t.name))->entry_bytes, sizeof(JobEvent));
    EXPECT_EQ(find_ring(plan, result_ring(t.name))->entry_bytes, sizeof(ChunkRef));
    for (const RingPlan& r : plan.rings) EXPECT_GT(r.capacity, 0u) << r.name;
    for (const PoolPlan& p : plan.pools) EXPECT_GT(p.count, 0u) << p.name;
  }
}

TEST(NodeTopology, ChunksHoldTheHeaderAndThePayload) {
  for (const TaskChannels& t : three_tasks()) {
    SCOPED_TRACE(t.name);
    const SegmentPlan plan = task_segment_plan(t);
    EXPECT_GE(find_pool(plan, tensor_pool(t.name))->chunk_bytes, payload_offset<TensorHeader>() + t.tensor_bytes);
    EXPECT_GE(find_pool(plan, output_pool(t.name))->chunk_bytes, payload_offset<OutputHeader>() + t.output_bytes);
    // More chunks than ring slots: a producer can fill one while its ring is full.
    EXPECT_GT(find_pool(plan, tensor_pool(t.name))->count, find_ring(plan, tensor_ring(t.name))->capacity);
    EXPECT_GT(find_pool(plan, output_pool(t.name))->count, find_ring(plan, output_ring(t.name))->capacity);
    // The agent checks result chunk references against these constants.
    EXPECT_EQ(find_pool(plan, result_pool(t.name))->chunk_bytes, kResultChunkBytes);
    EXPECT_EQ(find_pool(plan, result_pool(t.name))->count, kResultChunks);
    EXPECT_GE(kResultChunkBytes, payload_offset<ResultHeader>() + kMaxResultBytes);
    EXPECT_GT(kResultChunks, find_ring(plan, result_ring(t.name))->capacity);
  }
  for (const SensorChannels& s : two_sensors()) {
    SCOPED_TRACE(s.name);
    const SegmentPlan plan = frame_segment_plan(s);
    const PoolPlan& pool = plan.pools[0];
    EXPECT_GE(pool.chunk_bytes, payload_offset<FrameHeader>() + s.frame_bytes);
    EXPECT_GE(pool.count, 4u * (s.tasks + 1));  // each reader holds a few; the agent fills one
  }
  EXPECT_GE(payload_offset<FrameHeader>(), sizeof(FrameHeader));
  EXPECT_EQ(payload_offset<TensorHeader>() % kPayloadAlign, 0u);
}

// The agent, the server and the SDK size a task from what a worker is told.
TEST(NodeTopology, TaskChannelsComeFromTheShapesAndTheKind) {
  const TaskChannels d = task_channels("d", {3, 160, 160}, {84, 525}, "detection");
  EXPECT_EQ(d.name, "d");
  EXPECT_EQ(d.tensor_bytes, 4u * 3 * 160 * 160);
  EXPECT_EQ(d.output_bytes, 4u * 84 * 525);
  const TaskChannels s = task_channels("s", {3, 64, 64}, {21, 64, 64}, "segmentation");
  EXPECT_EQ(s.output_bytes, 21u * 64 * 64) << "class ids, one byte each";
}

TEST(NodeTopology, SegmentsFromThePlansServeEveryLookupInEveryMapping) {
  auto control = make(kControlSegment, control_segment_plan(task_names()));
  ASSERT_NE(control, nullptr);
  EXPECT_EQ(lookup_control(*control), "");
  auto server_view = Segment::map(control->fd(), control_segment_plan(task_names()), Access::kReadWrite);
  ASSERT_TRUE(server_view.ok()) << server_view.error().message;
  EXPECT_EQ(lookup_control(**server_view), "");
  for (const TaskChannels& t : three_tasks()) {
    auto task = make(task_segment(t.name), task_segment_plan(t));
    ASSERT_NE(task, nullptr);
    EXPECT_EQ(lookup_task(*task, t.name), "");
    auto worker_view = Segment::map(task->fd(), task_segment_plan(t), Access::kReadWrite);
    ASSERT_TRUE(worker_view.ok()) << worker_view.error().message;
    EXPECT_EQ(lookup_task(**worker_view, t.name), "");
    for (const PoolPlan& p : task_segment_plan(t).pools) {
      auto pool = (*worker_view)->pool(p.name);
      ASSERT_TRUE(pool.ok()) << p.name;
      EXPECT_EQ(pool->chunk_bytes(), p.chunk_bytes) << p.name;
      EXPECT_EQ(pool->count(), p.count) << p.name;
    }
    // Another task's plan does not map it.
    EXPECT_FALSE(Segment::map(task->fd(), control_segment_plan(task_names()), Access::kReadWrite).ok());
  }
}

TEST(NodeTopology, AFullFrameIsWrittenByTheAgentAndReadInPlaceByTwoTasks) {
  const SensorChannels cam = two_sensors()[0];
  auto agent = make(frame_segment(cam.name), frame_segment_plan(cam), Sealing::kWriterOnly);
  ASSERT_NE(agent, nullptr);
  Pool frames = *agent->pool(frame_pool(cam.name));
  ChunkRef ref;
  ASSERT_TRUE(frames.alloc(ref));
  EXPECT_EQ(ref.pool, 0u);
  auto* header = new (frames.data(ref)) FrameHeader();
  header->width = 640;
  header->height = 480;
  header->channels = 3;
  header->stride = 640 * 3;
  ASSERT_LE(payload_offset<FrameHeader>() + header->payload_bytes(), frames.chunk_bytes());
  auto* pixels = static_cast<uint8_t*>(frames.data(ref)) + payload_offset<FrameHeader>();
  std::memset(pixels, 0x7f, header->payload_bytes());
  frames.publish(ref, 0b11);
  // The pre workers of two tasks map it read-only and find the frame by the reference in
  // their ticket.
  for (uint32_t reader = 0; reader < 2; ++reader) {
    auto view = Segment::map(agent->fd(), frame_segment_plan(cam), Access::kReadOnly);
    ASSERT_TRUE(view.ok()) << view.error().message;
    FrameTicket ticket;
    ticket.frame = ref;
    ticket.job.task = reader;
    ticket.job.job = 7 + reader;
    Pool by_index = *(*view)->pool(ticket.frame.pool);
    const auto* seen = static_cast<const FrameHeader*>(by_index.data(ticket.frame));
    ASSERT_NE(seen, nullptr);
    EXPECT_EQ(seen->width, 640);
    FrameHeader copy;
    std::memcpy(&copy, seen, sizeof copy);
    EXPECT_EQ(check_ticket(ticket, reader, true, copy, by_index.chunk_bytes()), "");
    const auto* seen_pixels = reinterpret_cast<const uint8_t*>(seen) + payload_offset<FrameHeader>();
    EXPECT_EQ(seen_pixels[header->payload_bytes() - 1], 0x7f);
    EXPECT_EQ(seen_pixels, reinterpret_cast<const uint8_t*>(by_index.data(ref)) + payload_offset<FrameHeader>());
    EXPECT_FALSE(Segment::map(agent->fd(), frame_segment_plan(cam), Access::kReadWrite).ok());
  }
  frames.release(ref, 0b11);
  EXPECT_EQ(frames.in_use(), 0u);

  // A full tensor of "seg.2" fits its chunk, up to its last element.
  const TaskChannels seg = three_tasks()[2];
  auto task = make(task_segment(seg.name), task_segment_plan(seg));
  ASSERT_NE(task, nullptr);
  Pool tensors = *task->pool(tensor_pool(seg.name));
  ChunkRef t;
  ASSERT_TRUE(tensors.alloc(t));
  auto* th = new (tensors.data(t)) TensorHeader();
  th->elements = 3 * 128 * 128;
  ASSERT_LE(payload_offset<TensorHeader>() + th->elements * sizeof(float), tensors.chunk_bytes());
  auto* data = reinterpret_cast<float*>(static_cast<uint8_t*>(tensors.data(t)) + payload_offset<TensorHeader>());
  data[th->elements - 1] = 1.5f;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % kPayloadAlign, 0u);
  tensors.discard(t);
}

// The two ends of a result ring: what a post worker sends, the agent takes, as a copy, and
// the chunk is free again.
TEST(NodeTopology, AResultSentIsTakenWholeAndItsChunkFreed) {
  auto segment = make("t", task_segment_plan(three_tasks()[1]));
  ASSERT_NE(segment, nullptr);
  Pool pool = *segment->pool(result_pool("classify"));
  Ring ring = *segment->ring(result_ring("classify"));
  EXPECT_FALSE(take_result(ring, pool).has_value());
  JobRef ref;
  ref.job = 42;
  ref.task = 1;
  const std::string big(kMaxResultBytes, 'x');
  ASSERT_TRUE(send_result(pool, ring, ref, "{\"n\":1}", "test"));
  ASSERT_TRUE(send_result(pool, ring, ref, big, "test"));  // the largest there is
  EXPECT_FALSE(send_result(pool, ring, ref, big + "x", "test"));
  EXPECT_FALSE(send_result(pool, ring, ref, "", "test"));
  auto first = take_result(ring, pool);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->status, ReceivedResult::Status::kOk) << first->error;
  EXPECT_EQ(first->ref.job, 42u);
  EXPECT_EQ(first->ref.task, 1u);
  EXPECT_EQ(first->json, "{\"n\":1}");
  auto second = take_result(ring, pool);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->json, big);
  EXPECT_FALSE(take_result(ring, pool).has_value());
  EXPECT_EQ(pool.in_use(), 0u);
}

// A full ring: the worker waits a little, then drops the result (false), leaking nothing.
TEST(NodeTopology, AFullResultRingDropsTheResultWithoutLeakingAChunk) {
  auto segment = make("t", task_segment_plan(three_tasks()[0]));
  ASSERT_NE(segment, nullptr);
  Pool pool = *segment->pool(result_pool("detect"));
  Ring ring = *segment->ring(result_ring("detect"));
  JobRef ref;
  for (uint32_t i = 0; i < kResultRing; ++i) ASSERT_TRUE(send_result(pool, ring, ref, "{}", "test")) << i;
  EXPECT_FALSE(send_result(pool, ring, ref, "{}", "test"));
  EXPECT_EQ(pool.in_use(), kResultRing);
  while (take_result(ring, pool)) {
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

// What a hostile post worker can put in its result ring: a reference into another pool or
// beyond its pool, a length beyond the chunk or zero. Each is consumed and refused.
TEST(NodeTopology, TakeResultRefusesForeignChunksAndBadLengths) {
  auto segment = make("t", task_segment_plan(three_tasks()[0]));
  ASSERT_NE(segment, nullptr);
  Pool pool = *segment->pool(result_pool("detect"));
  Pool other = *segment->pool(output_pool("detect"));  // another pool of the same segment
  Ring ring = *segment->ring(result_ring("detect"));
  ChunkRef foreign;
  ASSERT_TRUE(other.alloc(foreign));
  ASSERT_TRUE(ring.push(&foreign));
  ChunkRef beyond{pool.pool_index(), kResultChunks, 1, 0};
  ASSERT_TRUE(ring.push(&beyond));
  for (uint32_t bytes : {kMaxResultBytes + 1, 0u, ~0u}) {
    ChunkRef c;
    ASSERT_TRUE(pool.alloc(c));
    auto* h = new (pool.data(c)) ResultHeader();
    h->ref.job = 7;
    h->bytes = bytes;
    pool.publish(c, kSoleHolder);
    ASSERT_TRUE(ring.push(&c));
  }
  for (auto want : {ReceivedResult::Status::kBadChunk, ReceivedResult::Status::kBadChunk,
                    ReceivedResult::Status::kBadLength, ReceivedResult::Status::kBadLength,
                    ReceivedResult::Status::kBadLength}) {
    auto r = take_result(ring, pool);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, want) << r->error;
    EXPECT_FALSE(r->error.empty());
    EXPECT_TRUE(r->json.empty());
  }
  EXPECT_FALSE(take_result(ring, pool).has_value());
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(other.in_use(), 1u) << "another pool's chunk must not be released by the agent";
}

// A result reference to a chunk of the right pool that is not published in the
// reference's generation (free, still being filled, or an earlier publication) reads
// nothing and releases nothing: the current publication stays its holder's.
TEST(NodeTopology, TakeResultRefusesUnpublishedChunksAndStaleGenerations) {
  auto segment = make("t", task_segment_plan(three_tasks()[0]));
  const std::string task = three_tasks()[0].name;
  Pool pool = *segment->pool(result_pool(task));
  Ring ring = *segment->ring(result_ring(task));
  ChunkRef filling;
  ASSERT_TRUE(pool.alloc(filling));
  new (pool.data(filling)) ResultHeader{JobRef{}, 2, 0};
  ASSERT_TRUE(ring.push(&filling));  // pushed before it was published
  ChunkRef never{pool.pool_index(), 5, 1, 0};  // a chunk nobody took
  ASSERT_TRUE(ring.push(&never));
  ChunkRef published;
  ASSERT_TRUE(pool.alloc(published));
  auto* h = new (pool.data(published)) ResultHeader();
  h->bytes = 2;
  std::memcpy(reinterpret_cast<char*>(h) + payload_offset<ResultHeader>(), "{}", 2);
  pool.publish(published, kSoleHolder);
  ChunkRef stale = published;
  stale.generation -= 1;
  ASSERT_TRUE(ring.push(&stale));
  for (int i = 0; i < 3; ++i) {
    auto r = take_result(ring, pool);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ReceivedResult::Status::kBadChunk) << i << ": " << r->error;
    EXPECT_TRUE(r->json.empty());
  }
  EXPECT_FALSE(take_result(ring, pool).has_value());
  EXPECT_EQ(pool.in_use(), 2u) << "the filling chunk and the current publication stay taken";
  EXPECT_NE(pool.published(published), nullptr);
  EXPECT_EQ(pool.published(stale), nullptr);
  EXPECT_EQ(pool.published(filling), nullptr);
}

TEST(NodeTopology, ASensorWithoutReadersStillGetsAPool) {
  const SegmentPlan plan = frame_segment_plan({"idle", 100, 0});
  const PoolPlan* pool = find_pool(plan, frame_pool("idle"));
  ASSERT_NE(pool, nullptr);
  EXPECT_GT(pool->count, 0u);
  EXPECT_NE(make(frame_segment("idle"), plan, Sealing::kWriterOnly), nullptr);
}

// The config allows names of up to 40 characters (node_config_loader.cc) plus a replica
// suffix; memfd names may have 249 bytes.
TEST(NodeTopology, TheLongestTaskNameTheConfigAllowsFits) {
  const std::string replica = std::string(40, 't') + ".1000";
  const TaskChannels task{replica, 1024, 1024};
  auto segment = make(task_segment(replica), task_segment_plan(task));
  ASSERT_NE(segment, nullptr);
  EXPECT_EQ(lookup_task(*segment, replica), "");
}

}  // namespace
}  // namespace coedge::ipc
