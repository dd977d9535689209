// Tests of ipc/node_topology.h: the names the agent, the server and the workers look up,
// and node_segment_plan(), which must plan every one of them with room for its messages.
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

#include "ipc/messages.h"
#include "ipc/worker_checks.h"

namespace coedge::ipc {
namespace {

std::string unique_path() {
  static std::atomic<int> counter{0};
  return "/dev/shm/coedge-ipc-topology-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

class ShmPath {
 public:
  ShmPath() : path_(unique_path()) {}
  ~ShmPath() { ::unlink(path_.c_str()); }
  ShmPath(const ShmPath&) = delete;
  ShmPath& operator=(const ShmPath&) = delete;
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

std::vector<TaskChannels> three_tasks() {
  // Small models and frames keep the segment (all of it touched by create) a few MB.
  return {{"detect", "cam0", 3 * 320 * 320 * 4, 84 * 2100 * 4},
          {"classify", "cam0", 3 * 224 * 224 * 4, 1000 * 4},
          {"seg.2", "cam-1", 3 * 128 * 128 * 4, 21 * 64 * 64 * 4}};
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

// Every lookup a process of the node makes, by role; "" when all succeed, else what failed.
std::string lookup_everything(const Segment& s, const std::vector<TaskChannels>& tasks,
                              const std::vector<SensorChannels>& sensors) {
  std::string missing;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) missing += " " + what;
  };
  // The agent.
  need(s.doorbell(kAgentBell).ok(), kAgentBell);
  need(s.ring(kServerEvents).ok(), kServerEvents);
  for (const SensorChannels& sensor : sensors) need(s.pool(frame_pool(sensor.name)).ok(), frame_pool(sensor.name));
  for (const TaskChannels& t : tasks) {
    need(s.ring(frame_ring(t.name)).ok(), frame_ring(t.name));
    need(s.ring(output_ring(t.name)).ok(), output_ring(t.name));
    need(s.ring(pre_events(t.name)).ok(), pre_events(t.name));
    need(s.ring(post_events(t.name)).ok(), post_events(t.name));
    need(s.ring(result_ring(t.name)).ok(), result_ring(t.name));
    need(s.pool(result_pool(t.name)).ok(), result_pool(t.name));
  }
  // The server.
  need(s.doorbell(kServerBell).ok(), kServerBell);
  for (const TaskChannels& t : tasks) {
    need(s.ring(tensor_ring(t.name)).ok(), tensor_ring(t.name));
    need(s.ring(output_ring(t.name)).ok(), output_ring(t.name));
    need(s.pool(output_pool(t.name)).ok(), output_pool(t.name));
    need(s.pool(tensor_pool(t.name)).ok(), tensor_pool(t.name));
  }
  // The workers of each task (a pre worker finds frame pools by the index in a ref).
  for (const TaskChannels& t : tasks) {
    need(s.ring(frame_ring(t.name)).ok(), frame_ring(t.name));
    need(s.ring(tensor_ring(t.name)).ok(), tensor_ring(t.name));
    need(s.pool(tensor_pool(t.name)).ok(), tensor_pool(t.name));
    need(s.ring(pre_events(t.name)).ok(), pre_events(t.name));
    need(s.doorbell(pre_bell(t.name)).ok(), pre_bell(t.name));
    need(s.ring(output_ring(t.name)).ok(), output_ring(t.name));
    need(s.ring(post_events(t.name)).ok(), post_events(t.name));
    need(s.doorbell(post_bell(t.name)).ok(), post_bell(t.name));
    need(s.ring(result_ring(t.name)).ok(), result_ring(t.name));
    need(s.pool(result_pool(t.name)).ok(), result_pool(t.name));
  }
  for (const SensorChannels& sensor : sensors) {
    auto by_name = s.pool(frame_pool(sensor.name));
    if (!by_name.ok()) continue;
    need(s.pool(by_name->pool_index()).ok(), "pool #" + std::to_string(by_name->pool_index()));
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
  EXPECT_STREQ(kSegmentFile, "/dev/shm/coedge-node");
  EXPECT_EQ(kSoleHolder, 1u);
}

TEST(NodeTopology, PlanHasEveryNameTheProcessesLookUp) {
  const auto tasks = three_tasks();
  const auto sensors = two_sensors();
  const SegmentPlan plan = node_segment_plan(tasks, sensors);
  EXPECT_TRUE(has_doorbell(plan, kAgentBell));
  EXPECT_TRUE(has_doorbell(plan, kServerBell));
  EXPECT_NE(find_ring(plan, kServerEvents), nullptr);
  EXPECT_NE(find_ring(plan, kServerControl), nullptr);
  for (const TaskChannels& t : tasks) {
    SCOPED_TRACE(t.name);
    EXPECT_TRUE(has_doorbell(plan, pre_bell(t.name)));
    EXPECT_TRUE(has_doorbell(plan, post_bell(t.name)));
    for (const std::string& ring :
         {frame_ring(t.name), tensor_ring(t.name), output_ring(t.name), pre_events(t.name), post_events(t.name),
          result_ring(t.name)}) {
      EXPECT_NE(find_ring(plan, ring), nullptr) << ring;
    }
    EXPECT_NE(find_pool(plan, tensor_pool(t.name)), nullptr);
    EXPECT_NE(find_pool(plan, output_pool(t.name)), nullptr);
    EXPECT_NE(find_pool(plan, result_pool(t.name)), nullptr);
  }
  for (const SensorChannels& s : sensors) EXPECT_NE(find_pool(plan, frame_pool(s.name)), nullptr) << s.name;
}

TEST(NodeTopology, NamesAreUniqueWithinTheirKind) {
  const SegmentPlan plan = node_segment_plan(three_tasks(), two_sensors());
  std::set<std::string> bells(plan.doorbells.begin(), plan.doorbells.end());
  EXPECT_EQ(bells.size(), plan.doorbells.size());
  std::set<std::string> rings, pools;
  for (const RingPlan& r : plan.rings) EXPECT_TRUE(rings.insert(r.name).second) << r.name;
  for (const PoolPlan& p : plan.pools) EXPECT_TRUE(pools.insert(p.name).second) << p.name;
  EXPECT_EQ(plan.doorbells.size(), 2u + 2 * 3);
  EXPECT_EQ(plan.rings.size(), 2u + 6 * 3);  // the server's events and control, six per task
  EXPECT_EQ(plan.pools.size(), 3u * 4 + 2);  // tensors, outputs, results, job table per task; frames per sensor
}

TEST(NodeTopology, EachRingRingsItsConsumersDoorbell) {
  const auto tasks = three_tasks();
  const SegmentPlan plan = node_segment_plan(tasks, two_sensors());
  EXPECT_EQ(find_ring(plan, kServerEvents)->doorbell, kAgentBell);
  EXPECT_EQ(find_ring(plan, kServerControl)->doorbell, kServerBell);  // agent -> server
  for (const TaskChannels& t : tasks) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(find_ring(plan, frame_ring(t.name))->doorbell, pre_bell(t.name));    // agent -> pre
    EXPECT_EQ(find_ring(plan, tensor_ring(t.name))->doorbell, kServerBell);        // pre -> server
    EXPECT_EQ(find_ring(plan, output_ring(t.name))->doorbell, post_bell(t.name));  // server -> post
    EXPECT_EQ(find_ring(plan, pre_events(t.name))->doorbell, kAgentBell);
    EXPECT_EQ(find_ring(plan, post_events(t.name))->doorbell, kAgentBell);
    EXPECT_EQ(find_ring(plan, result_ring(t.name))->doorbell, kAgentBell);  // post -> agent
  }
}

TEST(NodeTopology, EntriesAreTicketsChunkRefsOrJobEvents) {
  const auto tasks = three_tasks();
  const SegmentPlan plan = node_segment_plan(tasks, two_sensors());
  EXPECT_EQ(find_ring(plan, kServerEvents)->entry_bytes, sizeof(JobEvent));
  EXPECT_EQ(find_ring(plan, kServerControl)->entry_bytes, sizeof(ServerCommand));
  for (const TaskChannels& t : tasks) {
    EXPECT_EQ(find_ring(plan, frame_ring(t.name))->entry_bytes, sizeof(FrameTicket));
    EXPECT_EQ(find_ring(plan, tensor_ring(t.name))->entry_bytes, sizeof(ChunkRef));
    EXPECT_EQ(find_ring(plan, output_ring(t.name))->entry_bytes, sizeof(ChunkRef));
    EXPECT_EQ(find_ring(plan, pre_events(t.name))->entry_bytes, sizeof(JobEvent));
    EXPECT_EQ(find_ring(plan, post_events(t.name))->entry_bytes, sizeof(JobEvent));
    EXPECT_EQ(find_ring(plan, result_ring(t.name))->entry_bytes, sizeof(ChunkRef));
  }
  for (const RingPlan& r : plan.rings) EXPECT_GT(r.capacity, 0u) << r.name;
  for (const PoolPlan& p : plan.pools) EXPECT_GT(p.count, 0u) << p.name;
}

TEST(NodeTopology, ChunksHoldTheHeaderAndThePayload) {
  const auto tasks = three_tasks();
  const auto sensors = two_sensors();
  const SegmentPlan plan = node_segment_plan(tasks, sensors);
  for (const TaskChannels& t : tasks) {
    SCOPED_TRACE(t.name);
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
  for (const SensorChannels& s : sensors) {
    SCOPED_TRACE(s.name);
    const PoolPlan* pool = find_pool(plan, frame_pool(s.name));
    EXPECT_GE(pool->chunk_bytes, payload_offset<FrameHeader>() + s.frame_bytes);
    EXPECT_GE(pool->count, 2u);
  }
  EXPECT_GE(payload_offset<FrameHeader>(), sizeof(FrameHeader));
  EXPECT_EQ(payload_offset<TensorHeader>() % kPayloadAlign, 0u);
}

TEST(NodeTopology, SegmentFromThePlanServesEveryLookup) {
  const auto tasks = three_tasks();
  const auto sensors = two_sensors();
  const SegmentPlan plan = node_segment_plan(tasks, sensors);
  ShmPath path;
  auto created = Segment::create(path.str(), plan);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(lookup_everything(**created, tasks, sensors), "");
  // As the server and workers do: through their own mapping.
  auto opened = Segment::open(path.str());
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(lookup_everything(**opened, tasks, sensors), "");
  // Sizes as planned, seen from the other mapping.
  for (const PoolPlan& p : plan.pools) {
    auto pool = (*opened)->pool(p.name);
    ASSERT_TRUE(pool.ok()) << p.name;
    EXPECT_EQ(pool->chunk_bytes(), p.chunk_bytes) << p.name;
    EXPECT_EQ(pool->count(), p.count) << p.name;
  }
  for (const RingPlan& r : plan.rings) {
    auto ring = (*opened)->ring(r.name);
    ASSERT_TRUE(ring.ok()) << r.name;
    EXPECT_EQ(ring->entry_bytes(), r.entry_bytes) << r.name;
  }
}

TEST(NodeTopology, AFullFrameAndTensorFitTheirChunks) {
  const auto tasks = three_tasks();
  const auto sensors = two_sensors();
  ShmPath path;
  auto segment = Segment::create(path.str(), node_segment_plan(tasks, sensors));
  ASSERT_TRUE(segment.ok()) << segment.error().message;

  // The agent writes a full-size frame for two tasks and pushes a ticket to each; the pre
  // worker of "classify" reads it through the pool index in its ticket's reference.
  Pool frames = *(*segment)->pool(frame_pool("cam0"));
  ChunkRef ref;
  ASSERT_TRUE(frames.alloc(ref));
  auto* header = new (frames.data(ref)) FrameHeader();
  header->width = 640;
  header->height = 480;
  header->channels = 3;
  header->stride = 640 * 3;
  ASSERT_LE(payload_offset<FrameHeader>() + header->payload_bytes(), frames.chunk_bytes());
  auto* pixels = static_cast<uint8_t*>(frames.data(ref)) + payload_offset<FrameHeader>();
  std::memset(pixels, 0x7f, header->payload_bytes());
  frames.publish(ref, 0b11);
  Ring frame_ring0 = *(*segment)->ring(frame_ring("detect"));
  Ring frame_ring1 = *(*segment)->ring(frame_ring("classify"));
  ASSERT_EQ(frame_ring1.entry_bytes(), sizeof(FrameTicket));
  FrameTicket to0, to1;
  to0.frame = to1.frame = ref;
  to0.job.task = 0;
  to1.job.task = 1;
  to1.job.job = 7;
  to1.table_slot = 3;
  ASSERT_TRUE(frame_ring0.push(&to0));
  ASSERT_TRUE(frame_ring1.push(&to1));

  FrameTicket got;
  std::memcpy(&got, frame_ring1.peek(), sizeof got);
  EXPECT_EQ(got.job.job, 7u);
  EXPECT_EQ(got.table_slot, 3u);
  Pool by_index = *(*segment)->pool(got.frame.pool);
  const auto* seen = static_cast<const FrameHeader*>(by_index.data(got.frame));
  EXPECT_EQ(seen->width, 640);
  FrameHeader copy;
  std::memcpy(&copy, seen, sizeof copy);
  EXPECT_EQ(check_ticket(got, 1, true, copy, by_index.chunk_bytes()), "");
  const auto* seen_pixels = reinterpret_cast<const uint8_t*>(seen) + payload_offset<FrameHeader>();
  EXPECT_EQ(seen_pixels[header->payload_bytes() - 1], 0x7f);
  frame_ring1.commit();
  // The agent releases the task's hold (the worker writes nothing to the frame).
  frames.release(ref, uint64_t{1} << 1);
  EXPECT_EQ(frames.in_use(), 1u);

  // Each task has a job table in the plan, one chunk large enough.
  for (const TaskChannels& t : tasks) {
    auto jobs = (*segment)->pool(job_table_pool(t.name));
    ASSERT_TRUE(jobs.ok()) << t.name;
    EXPECT_EQ(jobs->count(), 1u);
    EXPECT_GE(jobs->chunk_bytes(), JobTable::kBytes);
  }

  // A full tensor of "seg.2" fits its chunk, up to its last element.
  Pool tensors = *(*segment)->pool(tensor_pool("seg.2"));
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
  const auto tasks = three_tasks();
  ShmPath path;
  auto segment = Segment::create(path.str(), node_segment_plan(tasks, two_sensors()));
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  Pool pool = *(*segment)->pool(result_pool("classify"));
  Ring ring = *(*segment)->ring(result_ring("classify"));
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
  ShmPath path;
  auto segment = Segment::create(path.str(), node_segment_plan(three_tasks(), two_sensors()));
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  Pool pool = *(*segment)->pool(result_pool("detect"));
  Ring ring = *(*segment)->ring(result_ring("detect"));
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
  ShmPath path;
  auto segment = Segment::create(path.str(), node_segment_plan(three_tasks(), two_sensors()));
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  Pool pool = *(*segment)->pool(result_pool("detect"));
  Pool other = *(*segment)->pool(result_pool("classify"));
  Ring ring = *(*segment)->ring(result_ring("detect"));
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
  ShmPath path;
  auto segment = Segment::create(path.str(), node_segment_plan(three_tasks(), two_sensors()));
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  Pool pool = *(*segment)->pool(result_pool("detect"));
  Ring ring = *(*segment)->ring(result_ring("detect"));
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

TEST(NodeTopology, NoTasksOrSensorsStillPlansTheAgentAndServer) {
  const SegmentPlan plan = node_segment_plan({}, {});
  EXPECT_TRUE(has_doorbell(plan, kAgentBell));
  EXPECT_TRUE(has_doorbell(plan, kServerBell));
  EXPECT_NE(find_ring(plan, kServerEvents), nullptr);
  ShmPath path;
  auto segment = Segment::create(path.str(), plan);
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  EXPECT_EQ(lookup_everything(**segment, {}, {}), "");
}

TEST(NodeTopology, ASensorWithoutReadersStillGetsAPool) {
  const SegmentPlan plan = node_segment_plan({}, {{"idle", 100, 0}});
  const PoolPlan* pool = find_pool(plan, frame_pool("idle"));
  ASSERT_NE(pool, nullptr);
  EXPECT_GT(pool->count, 0u);
}

// The config allows names of up to 40 characters (node_config_loader.cc) plus a replica
// suffix; every shared-memory name built from them must fit its 63-byte field.
TEST(NodeTopology, TheLongestTaskNameTheConfigAllowsFits) {
  const std::string long_task(40, 't');  // + ".1000" for a replica: the config's limit
  const std::string replica = long_task + ".1000";
  const std::vector<TaskChannels> tasks = {{replica, "cam0", 1024, 1024}};
  const std::vector<SensorChannels> sensors = {{"cam0", 1024, 1}};
  ShmPath path;
  auto segment = Segment::create(path.str(), node_segment_plan(tasks, sensors));
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  EXPECT_EQ(lookup_everything(**segment, tasks, sensors), "");
}

}  // namespace
}  // namespace coedge::ipc
