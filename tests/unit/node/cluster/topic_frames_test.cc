// release_and_publish: a frame that tasks took from a topic is decoded once, released as
// one job per task that took it, and published once with the jobs of the tasks that can
// take it; a rejected frame's jobs are dropped bad_frame. A fake pipeline records what it
// is given; the accounting is the agent's own.
#include "node/cluster/topic_frames.h"

#include <gtest/gtest.h>

#include <map>

#include "core/clock.h"
#include "node/core/metrics.h"
#include "node/core/node_scenario.h"

namespace coedge::node {
namespace {

using namespace std::chrono_literals;

class FakePipeline final : public Pipeline {
 public:
  Status start() override { return Ok{}; }
  void activate(uint32_t) override {}
  void deactivate(uint32_t) override {}
  Status wait_ready(Duration) override { return Ok{}; }
  DropCause task_unavailable(uint32_t task) const override {
    auto it = unavailable.find(task);
    return it == unavailable.end() ? DropCause::kNone : it->second;
  }
  void publish_frame(uint32_t sensor, const cv::Mat& frame, uint64_t sequence, TimePoint capture,
                     std::span<const ipc::JobRef> jobs) override {
    published.push_back({sensor, frame.clone(), sequence, capture, {jobs.begin(), jobs.end()}});
  }
  void poll(Duration) override {}
  void stop() override {}

  struct Published {
    uint32_t sensor;
    cv::Mat frame;
    uint64_t sequence;
    TimePoint capture;
    std::vector<ipc::JobRef> jobs;
  };
  std::vector<Published> published;
  std::map<uint32_t, DropCause> unavailable;
};

class TopicFramesTest : public ::testing::Test {
 protected:
  TopicFramesTest() {
    config_.name = "n";
    ModelProfile m;
    m.name = "m";
    config_.models = {m};
    config_.model_files = {"/m.onnx"};
    config::SensorConfig front;
    front.name = "front";
    front.kind = config::SensorKind::kTopic;
    front.path = "/front/image_raw";
    front.width = 64;
    front.height = 48;
    config_.sensors = {front};
    for (const char* name : {"a", "b", "c"}) {
      TaskSpec t;
      t.name = name;
      t.period = 100ms;
      t.deadline = 80ms;
      config_.tasks.push_back(t);
      config_.task_runtime.push_back({});
    }
    scenario_ = node_scenario(config_);
    metrics_ = std::make_unique<NodeMetrics>("n", std::vector<MetricsTask>{{"a", "m", 0}, {"b", "m", 0}, {"c", "m", 0}},
                                             std::vector<std::string>{"m"});
    accounting_ = std::make_unique<Accounting>(config_, scenario_, *metrics_, nullptr, clock_.now());
  }

  net::Image bgr(uint32_t w, uint32_t h) const {
    net::Image image;
    image.encoding = "bgr8";
    image.width = w;
    image.height = h;
    image.step = w * 3;
    image.data.assign(static_cast<size_t>(image.step) * h, 7);
    image.frame_id = "front_optical";
    return image;
  }

  config::NodeConfig config_;
  Scenario scenario_;
  ManualClock clock_{TimePoint(100s)};
  std::unique_ptr<NodeMetrics> metrics_;
  std::unique_ptr<Accounting> accounting_;
  FakePipeline pipeline_;
};

TEST_F(TopicFramesTest, OneFrameTwoTasksIsOnePublishWithBothJobsAndTheHeadersIdentity) {
  net::Image image = bgr(64, 48);
  const int64_t stamp = realtime_ns() - 20'000'000;  // captured 20 ms ago
  image.stamp_ns = stamp;
  const FrameTaker takers[] = {{0, 0, 7}, {2, 0, 7}};
  const PublishedFrame out = release_and_publish(image, stamp, takers, config_.sensors[0], 0, config_, *accounting_,
                                                 pipeline_, clock_);
  EXPECT_EQ(out.rejected, FrameRejection::kNone);
  ASSERT_EQ(pipeline_.published.size(), 1u) << "published once for both tasks";
  const auto& p = pipeline_.published[0];
  EXPECT_EQ(p.frame.type(), CV_8UC3);
  EXPECT_EQ(p.frame.cols, 64);
  EXPECT_EQ(p.sequence, 7u);
  ASSERT_EQ(p.jobs.size(), 2u);
  EXPECT_EQ(p.jobs[0].task, 0u);
  EXPECT_EQ(p.jobs[1].task, 2u);
  // Released at the stamp, on the agent's clock: about 20 ms before now, never after it.
  EXPECT_LE(p.capture, clock_.now() - 19ms);
  EXPECT_EQ(p.jobs[0].deadline_us - p.jobs[0].release_us, 80'000);
  EXPECT_EQ(accounting_->ledger().totals().released, 2u);
  EXPECT_EQ(accounting_->ledger().totals(1).released, 0u) << "task b did not take it";
  const auto records = accounting_->ledger().close_all(DropCause::kShutdown, clock_.now());
  ASSERT_EQ(records.size(), 2u);
  for (const JobRecord& r : records) {
    EXPECT_EQ(r.frame.stamp_ns, stamp);
    EXPECT_EQ(r.frame.frame_id, "front_optical");
    EXPECT_EQ(r.frame.sequence, 7u);
    EXPECT_EQ(r.frame.capture_unix_us, stamp / 1000);
  }
}

TEST_F(TopicFramesTest, ARejectedFramesJobsAreDroppedBadFrameAndNothingIsPublished) {
  net::Image image = bgr(65, 48);  // wider than the sensor's largest
  image.stamp_ns = realtime_ns();
  const FrameTaker takers[] = {{0, 0, 1}, {1, 0, 1}};
  const PublishedFrame out = release_and_publish(image, image.stamp_ns, takers, config_.sensors[0], 0, config_,
                                                 *accounting_, pipeline_, clock_);
  EXPECT_EQ(out.rejected, FrameRejection::kTooLarge);
  EXPECT_NE(out.why.find("65x48"), std::string::npos) << out.why;
  EXPECT_TRUE(pipeline_.published.empty());
  const TaskTotals t = accounting_->ledger().totals();
  EXPECT_EQ(t.released, 2u);
  EXPECT_EQ(t.dropped, 2u) << "every released job accounted";
  EXPECT_EQ(accounting_->drops_by_cause()[static_cast<size_t>(DropCause::kBadFrame)], 2u);
}

TEST_F(TopicFramesTest, AnUnavailableTaskHasItsJobDroppedWithItsCauseAndTheOthersGetTheFrame) {
  pipeline_.unavailable[1] = DropCause::kWorkerCrash;
  net::Image image = bgr(32, 24);
  // A driver that stamps nothing: the caller passes the arrival; the identity keeps 0.
  image.stamp_ns = 0;
  const int64_t arrival = realtime_ns();
  const FrameTaker takers[] = {{0, 0, 3}, {1, 0, 3}};
  release_and_publish(image, arrival, takers, config_.sensors[0], 0, config_, *accounting_, pipeline_, clock_);
  ASSERT_EQ(pipeline_.published.size(), 1u);
  ASSERT_EQ(pipeline_.published[0].jobs.size(), 1u);
  EXPECT_EQ(pipeline_.published[0].jobs[0].task, 0u);
  EXPECT_EQ(accounting_->drops_by_cause()[static_cast<size_t>(DropCause::kWorkerCrash)], 1u);
  const auto records = accounting_->ledger().close_all(DropCause::kShutdown, clock_.now());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].frame.stamp_ns, 0);
  EXPECT_EQ(records[0].frame.capture_unix_us, arrival / 1000);
}

// A driver on sim time or its device's clock: a stamp years old (or in the future) would
// make every job overdue on arrival; it is released at arrival and said so. A frame a few
// seconds late on a slow link keeps its delay.
TEST_F(TopicFramesTest, AStampOnAnotherClockIsReleasedAtArrivalAndSaidSo) {
  const FrameTaker takers[] = {{0, 0, 1}};
  for (const int64_t age_ns : {int64_t{3'600'000'000'000}, int64_t{-5'000'000'000}}) {
    net::Image image = bgr(64, 48);
    image.stamp_ns = realtime_ns() - age_ns;
    const PublishedFrame out = release_and_publish(image, image.stamp_ns, takers, config_.sensors[0], 0, config_,
                                                   *accounting_, pipeline_, clock_);
    EXPECT_TRUE(out.off_clock) << age_ns;
    ASSERT_FALSE(pipeline_.published.empty());
    EXPECT_EQ(pipeline_.published.back().capture, clock_.now()) << "released at arrival";
  }
  net::Image late = bgr(64, 48);
  late.stamp_ns = realtime_ns() - 3'000'000'000;  // 3 s: late, not another clock
  const PublishedFrame out = release_and_publish(late, late.stamp_ns, takers, config_.sensors[0], 0, config_,
                                                 *accounting_, pipeline_, clock_);
  EXPECT_FALSE(out.off_clock);
  EXPECT_LE(pipeline_.published.back().capture, clock_.now() - 2900ms);
  TopicCounters counters;
  EXPECT_TRUE(counters.count_off_clock());
  EXPECT_FALSE(counters.count_off_clock());
  EXPECT_EQ(counters.counts(0).off_clock, 2u);
}

TEST(TopicCountersTest, RejectionsAreCountedByReasonAndLoggedFirstFiveThenEveryThousandth) {
  TopicCounters c;
  int logged = 0;
  for (int i = 0; i < 2000; ++i) logged += c.count_rejection(i % 2 ? FrameRejection::kCorrupt : FrameRejection::kSize);
  EXPECT_EQ(logged, 5 + 2);  // 1-5, 1000, 2000
  EXPECT_EQ(c.rejected_total(), 2000u);
  c.received = 2500;
  const Feed::SensorCounts counts = c.counts(4);
  EXPECT_EQ(counts.sensor, 4u);
  EXPECT_EQ(counts.received, 2500u);
  ASSERT_EQ(counts.rejected.size(), 4u);
  std::map<std::string, uint64_t> by(counts.rejected.begin(), counts.rejected.end());
  EXPECT_EQ(by["size"], 1000u);
  EXPECT_EQ(by["corrupt"], 1000u);
  EXPECT_EQ(by["encoding"], 0u);
  EXPECT_EQ(by["too_large"], 0u);
}

}  // namespace
}  // namespace coedge::node
