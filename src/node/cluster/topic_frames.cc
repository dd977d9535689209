#include "node/cluster/topic_frames.h"

#include <cstdio>

#include "node/core/job_line.h"

#include "node/cluster/result_publisher.h"

namespace coedge::node {

bool TopicCounters::count_rejection(FrameRejection reason) {
  rejected[static_cast<size_t>(reason)].fetch_add(1);
  const uint64_t n = rejected_total();
  return n <= 5 || n % 1000 == 0;
}

uint64_t TopicCounters::rejected_total() const {
  uint64_t n = 0;
  for (const auto& r : rejected) n += r.load();
  return n;
}

bool TopicCounters::count_off_clock() {
  const uint64_t n = off_clock.fetch_add(1) + 1;
  return n == 1 || n % 1000 == 0;
}

Feed::SensorCounts TopicCounters::counts(uint32_t sensor) const {
  Feed::SensorCounts c;
  c.sensor = sensor;
  c.received = received.load();
  c.off_clock = off_clock.load();
  for (int r = 1; r < kFrameRejectionCount; ++r) {
    c.rejected.emplace_back(frame_rejection_name(static_cast<FrameRejection>(r)), rejected[static_cast<size_t>(r)].load());
  }
  return c;
}

PublishedFrame release_and_publish(const net::Image& image, int64_t stamp_ns, std::span<const FrameTaker> takers,
                                   const config::SensorConfig& max, uint32_t pool_sensor,
                                   const config::NodeConfig& config, Accounting& accounting, Pipeline& pipeline,
                                   const Clock& clock) {
  // The job was released when the camera captured the frame: its stamp on the camera's
  // clock, moved onto this node's monotonic clock. A stamp on another clock altogether (sim
  // time, a device's clock since boot: far in the future, or much older than a frame can
  // travel) would make every job overdue on arrival: such a frame is released at its
  // arrival, and the caller says so. The bound is wide (10 s, or ten of its deadlines), so
  // that a frame delayed on a slow link still counts its delay.
  PublishedFrame out;
  const TimePoint now = clock.now();
  out.stamp_age_ns = realtime_ns() - stamp_ns;
  Duration longest = std::chrono::seconds(1);
  for (const FrameTaker& taker : takers) longest = std::max(longest, config.tasks[taker.task].deadline);
  longest *= 10;
  constexpr int64_t kFutureNs = 1'000'000'000;
  int64_t age_us = std::max<int64_t>(0, out.stamp_age_ns / 1000);
  if (out.stamp_age_ns < -kFutureNs || out.stamp_age_ns > std::chrono::nanoseconds(longest).count()) {
    out.off_clock = true;
    age_us = 0;
  }
  const TimePoint release = now - std::chrono::microseconds(age_us);
  const std::string frame_id = bounded_frame_id(image.frame_id);  // a peer's text: capped here
  std::vector<ipc::JobRef> refs;
  refs.reserve(takers.size());
  for (const FrameTaker& taker : takers) {
    const TaskSpec& task = config.tasks[taker.task];
    const TimePoint deadline = release + task.deadline;
    // The frame's identity, from the image's own header (the camera's stamp and frame_id).
    FrameIdentity identity;
    identity.sensor = taker.sensor;
    identity.sequence = taker.sequence;
    identity.stamp_ns = image.stamp_ns;
    identity.frame_id = frame_id;
    identity.capture_unix_us = stamp_ns / 1000;
    ipc::JobRef ref;
    ref.task = taker.task;
    ref.job = accounting.release(taker.task, release, deadline, std::move(identity));
    ref.release_us = MonotonicClock::to_monotonic_us(release);
    ref.deadline_us = MonotonicClock::to_monotonic_us(deadline);
    refs.push_back(ref);
  }
  RosFrame frame = decode_ros_frame(image, max.width, max.height);
  if (!frame.ok()) {
    for (const ipc::JobRef& ref : refs) accounting.drop(ref.job, DropCause::kBadFrame, clock.now());
    out.rejected = frame.rejected;
    out.why = std::move(frame.why);
    return out;
  }
  std::vector<ipc::JobRef> jobs;
  for (const ipc::JobRef& ref : refs) {
    if (const DropCause cause = pipeline.task_unavailable(ref.task); cause != DropCause::kNone) {
      accounting.drop(ref.job, cause, clock.now());
    } else {
      jobs.push_back(ref);
    }
  }
  if (!jobs.empty()) pipeline.publish_frame(pool_sensor, frame.bgr, takers.front().sequence, release, jobs);
  return out;
}

Result<FeedDds> join_dds(uint32_t domain, const std::string& interface_address, const std::vector<std::string>& peers,
                         const std::optional<net::DdsSecurityFiles>& security) {
  net::DdsOptions dds;
  dds.domain = domain;
  dds.interface_address = interface_address;
  dds.peers = peers;
  dds.security = security;
  FeedDds out;
  auto created = net::DdsDomain::create(dds);
  if (!created.ok()) return created.error();
  out.domain = std::move(*created);
  auto readers = net::ImageReaderSet::create(*out.domain);
  if (!readers.ok()) return readers.error();
  out.readers = std::move(*readers);
  return out;
}

void note_published(const PublishedFrame& published, TopicCounters& counters, const std::string& what,
                    NodeMetrics* metrics, int32_t metrics_index, const std::function<void(const std::string&)>& log) {
  if (published.off_clock && counters.count_off_clock()) {
    char age[64];
    std::snprintf(age, sizeof age, "%+.3f s", static_cast<double>(published.stamp_age_ns) / 1e9);
    log(what + ": a frame stamped " + age +
        " off this node's clock (sim time, or the device's clock?): its jobs are released at arrival; such "
        "frames so far: " + std::to_string(counters.off_clock.load()) + " (logged: the first, then every 1000th)");
  }
  if (published.rejected == FrameRejection::kNone) return;
  const char* reason = frame_rejection_name(published.rejected);
  if (metrics != nullptr && metrics_index >= 0) metrics->on_frame_rejected(static_cast<uint32_t>(metrics_index), reason);
  if (counters.count_rejection(published.rejected)) {
    log(what + ": frame rejected (" + reason + "): " + published.why + "; rejected so far: " +
        std::to_string(counters.rejected_total()) + " (logged: the first 5, then every 1000th)");
  }
}

Result<std::unique_ptr<ResultSink>> start_result_publisher(net::DdsDomain& domain, const FeedContext& context) {
  if (!context.config->publish_results) return std::unique_ptr<ResultSink>();
  std::vector<std::string> tasks;
  for (const TaskSpec& t : context.config->tasks) tasks.push_back(t.name);
  auto publisher = RosResultPublisher::create(domain, tasks, context.task_kinds);
  if (!publisher.ok()) return publisher.error();
  std::unique_ptr<ResultSink> sink = std::move(*publisher);
  context.results->add_sink(*sink);
  return sink;
}

}  // namespace coedge::node
