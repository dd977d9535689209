// The master's checks of received reports and source statistics (master/report_checks.h):
// every reason, each from a sample built to trigger it, next to a valid sample accepted;
// and the lifetimes of a node's and a camera's counters (restarts).
#include "master/report_checks.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "../scenario_builder.h"

namespace coedge::master {
namespace {

using testing::make_model;
using testing::ScenarioBuilder;
using R = SampleRejection;

Scenario scenario() {
  return ScenarioBuilder()
      .node("a")
      .node("b")
      .default_mbps(100)
      .model(make_model("m", 100, 0, 12500))
      .task("T1", "a", "m", 500)
      .task("T2", "b", "m", 500)
      .build();
}

// A report a node could send: node a, written from a's partition, T1 with 10 jobs.
net::NodeReport valid(uint64_t seq = 5, int64_t stamp = 5'000) {
  net::NodeReport r;
  r.node = "a";
  r.sender = "a";
  r.seq = seq;
  r.stamp_ns = stamp;
  r.tasks = {{"T1", 10, 6, 1, 1, 70.0, 35.0, 2}};
  r.links = {{"b", 95.5, "probe"}};
  net::ProfileReport p;
  p.model = "m";
  p.exe_ms = {10, 12, 14, 0, 0, 0, 0, 0, 0, 0};
  p.batches = {3, 2, 1, 0, 0, 0, 0, 0, 0, 0};
  p.pre_ms = 1;
  p.post_ms = 1;
  r.profiles = {p};
  return r;
}

R reason(const net::NodeReport& r, const AcceptedReport* last = nullptr, bool gone = false, bool secure = false) {
  return check_report(scenario(), r, last, gone, CheckOptions{secure}).reason;
}

TEST(ReportChecks, AValidReportIsAccepted) {
  const ReportVerdict v = check_report(scenario(), valid(), nullptr, false, CheckOptions{true});
  EXPECT_TRUE(v.ok()) << v.why;
  EXPECT_FALSE(v.new_lifetime);
  EXPECT_TRUE(v.why.empty());
}

TEST(ReportChecks, AReportAboutAnotherNodeIsRefused) {
  net::NodeReport r = valid();
  r.node = "b";  // written from a's partition
  r.tasks = {{"T2", 1, 1, 0, 0, 5.0, 5.0, 0}};
  r.links = {};
  const ReportVerdict v = check_report(scenario(), r, nullptr, false, CheckOptions{});
  EXPECT_EQ(v.reason, R::kSenderMismatch);
  EXPECT_NE(v.why.find("about 'b' written by 'a'"), std::string::npos) << v.why;
}

TEST(ReportChecks, AnEmptySenderIsRefusedOnlyInASecureDomain) {
  net::NodeReport r = valid();
  r.sender = "";
  EXPECT_EQ(reason(r, nullptr, false, /*secure=*/false), R::kNone);
  EXPECT_EQ(reason(r, nullptr, false, /*secure=*/true), R::kSenderMismatch);
}

TEST(ReportChecks, UnknownNamesAreRefused) {
  net::NodeReport r = valid();
  r.node = r.sender = "stranger";
  EXPECT_EQ(reason(r), R::kUnknownNode);
  r = valid();
  r.node = r.sender = "";
  EXPECT_EQ(reason(r), R::kUnknownNode);
  r = valid();
  r.tasks[0].task = "T9";
  EXPECT_EQ(reason(r), R::kUnknownTask);
  r = valid();
  r.links[0].peer = "z";
  EXPECT_EQ(reason(r), R::kUnknownNode);
  r = valid();
  r.profiles[0].model = "resnet";
  EXPECT_EQ(reason(r), R::kUnknownModel);
}

TEST(ReportChecks, DuplicatesAreRefused) {
  net::NodeReport r = valid();
  r.tasks.push_back(r.tasks[0]);
  EXPECT_EQ(reason(r), R::kDuplicate);
  r = valid();
  r.links.push_back(r.links[0]);
  EXPECT_EQ(reason(r), R::kDuplicate);
  r = valid();
  r.profiles.push_back(r.profiles[0]);
  EXPECT_EQ(reason(r), R::kDuplicate);
}

TEST(ReportChecks, NaNInfiniteAndNegativeNumbersAreRefused) {
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -1.0}) {
    net::NodeReport r = valid();
    r.tasks[0].latency_sum_ms = bad;
    EXPECT_EQ(reason(r), R::kBadNumber) << bad;
    r = valid();
    r.tasks[0].node_latency_sum_ms = bad;
    EXPECT_EQ(reason(r), R::kBadNumber) << bad;
    r = valid();
    r.links[0].mbps = bad;
    EXPECT_EQ(reason(r), R::kBadNumber) << bad;
    r = valid();
    r.profiles[0].exe_ms[1] = bad;
    EXPECT_EQ(reason(r), R::kBadNumber) << bad;
    r = valid();
    r.profiles[0].pre_ms = bad;
    EXPECT_EQ(reason(r), R::kBadNumber) << bad;
  }
}

TEST(ReportChecks, AbsurdValuesAreRefused) {
  net::NodeReport r = valid();
  r.tasks[0].met = 9;  // 9 + 1 + 1 closed > 10 released
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.tasks[0].released = kMaxCounter + 1;
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.tasks[0] = {"T1", std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max(), 1, 1, 0, 0, 0};
  EXPECT_EQ(reason(r), R::kAbsurdValue);  // no wrap-around in the sum
  r = valid();
  r.tasks[0].queue_length = 3;  // 2 jobs open
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.tasks[0].latency_sum_ms = 7 * kMaxTimeMs + 1;  // 7 jobs completed
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.links[0].mbps = 2 * kMaxLinkMbps;
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.links[0].method = "guess";
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.profiles[0].exe_ms.resize(kMaxBatch + 1);
  r.profiles[0].batches.resize(kMaxBatch + 1);
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.profiles[0].batches.pop_back();
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.profiles[0].batches[0] = kMaxCounter + 1;
  EXPECT_EQ(reason(r), R::kAbsurdValue);
  r = valid();
  r.profiles[0].post_ms = 2 * kMaxTimeMs;
  EXPECT_EQ(reason(r), R::kAbsurdValue);
}

AcceptedReport accepted(const net::NodeReport& r) {
  AcceptedReport last;
  remember(scenario(), r, last);
  return last;
}

TEST(ReportChecks, CountersGoingDownWithinALifetimeAreRefused) {
  const AcceptedReport last = accepted(valid(5, 5'000));
  net::NodeReport r = valid(6, 6'000);
  r.tasks[0] = {"T1", 12, 8, 1, 1, 90.0, 45.0, 2};  // more of everything
  EXPECT_EQ(reason(r, &last), R::kNone);
  for (int field = 0; field < 6; ++field) {
    r = valid(6, 6'000);
    net::TaskReport& t = r.tasks[0];
    switch (field) {
      case 0: t.released = 9, t.queue_length = 1; break;
      case 1: t.met = 5; break;
      case 2: t.overdue = 0; break;
      case 3: t.dropped = 0; break;
      case 4: t.latency_sum_ms = 60; break;
      case 5: t.node_latency_sum_ms = 30; break;
    }
    const ReportVerdict v = check_report(scenario(), r, &last, false, CheckOptions{});
    EXPECT_EQ(v.reason, R::kCounterDecreased) << field;
    EXPECT_NE(v.why.find("went down"), std::string::npos) << v.why;
  }
}

TEST(ReportChecks, AnOldOrRepeatedReportIsStale) {
  const AcceptedReport last = accepted(valid(5, 5'000));
  EXPECT_EQ(reason(valid(5, 5'000), &last), R::kStale);  // the same again
  EXPECT_EQ(reason(valid(4, 4'000), &last), R::kStale);  // an older one
  EXPECT_EQ(reason(valid(1, 5'000), &last), R::kStale);  // seq back, stamp not newer
}

TEST(ReportChecks, ARestartedNodeStartsANewLifetime) {
  const AcceptedReport last = accepted(valid(5, 5'000));
  net::NodeReport r = valid(1, 9'000);  // seq began again, stamp newer
  r.tasks[0] = {"T1", 2, 1, 0, 0, 10.0, 5.0, 1};
  const ReportVerdict v = check_report(scenario(), r, &last, false, CheckOptions{});
  EXPECT_TRUE(v.ok()) << v.why;
  EXPECT_TRUE(v.new_lifetime);
  // Its first report missed, the node seen gone: a decrease with a higher seq is a restart.
  r.seq = 7;
  EXPECT_EQ(reason(r, &last, /*gone=*/false), R::kCounterDecreased);
  const ReportVerdict gone = check_report(scenario(), r, &last, /*gone=*/true, CheckOptions{});
  EXPECT_TRUE(gone.ok());
  EXPECT_TRUE(gone.new_lifetime);
  // Back after a lapse without a restart (counters went on): the same lifetime.
  const ReportVerdict back = check_report(scenario(), valid(8, 9'000), &last, /*gone=*/true, CheckOptions{});
  EXPECT_TRUE(back.ok());
  EXPECT_FALSE(back.new_lifetime);
}

TEST(ReportChecks, ANewLifetimeForgetsTheEarlierCountersOfEveryTask) {
  AcceptedReport last = accepted(valid(5, 5'000));  // T1 released 10
  net::NodeReport first = valid(1, 9'000);          // restarted: its first report names no task
  first.tasks.clear();
  const ReportVerdict v = check_report(scenario(), first, &last, false, CheckOptions{});
  ASSERT_TRUE(v.ok()) << v.why;
  ASSERT_TRUE(v.new_lifetime);
  remember(scenario(), first, last, v.new_lifetime);
  net::NodeReport second = valid(2, 10'000);  // its second: T1 with 3 jobs, below the old 10
  second.tasks[0] = {"T1", 3, 1, 0, 0, 10.0, 5.0, 2};
  const ReportVerdict next = check_report(scenario(), second, &last, false, CheckOptions{});
  EXPECT_TRUE(next.ok()) << next.why;
  EXPECT_FALSE(next.new_lifetime);
  // Without the new lifetime's word, the old counters stay the floor (the same lifetime).
  AcceptedReport kept = accepted(valid(5, 5'000));
  remember(scenario(), first, kept, /*new_lifetime=*/false);
  EXPECT_EQ(check_report(scenario(), second, &kept, false, CheckOptions{}).reason, R::kCounterDecreased);
}

TEST(ReportChecks, AFarFutureStampOrAHugeSeqIsRefused) {
  constexpr int64_t kWall = 1'700'000'000'000'000'000;
  auto with_clock = [&](const net::NodeReport& r, const AcceptedReport* last = nullptr, bool gone = false) {
    return check_report(scenario(), r, last, gone, CheckOptions{}, kWall);
  };
  EXPECT_TRUE(with_clock(valid(5, kWall + kMaxAheadNs)).ok());  // an hour ahead: still taken
  const ReportVerdict ahead = with_clock(valid(5, kWall + kMaxAheadNs + 1));
  EXPECT_EQ(ahead.reason, R::kAbsurdTime);
  EXPECT_NE(ahead.why.find("ahead of the master's clock"), std::string::npos) << ahead.why;
  EXPECT_EQ(with_clock(valid(5, std::numeric_limits<int64_t>::max())).reason, R::kAbsurdTime);
  EXPECT_EQ(with_clock(valid(5, 0)).reason, R::kAbsurdTime);
  EXPECT_EQ(with_clock(valid(5, -1)).reason, R::kAbsurdTime);
  EXPECT_EQ(with_clock(valid(kMaxCounter + 1, kWall)).reason, R::kAbsurdValue);
  EXPECT_EQ(with_clock(valid(std::numeric_limits<uint64_t>::max(), kWall)).reason, R::kAbsurdValue);
  EXPECT_TRUE(with_clock(valid(kMaxCounter, kWall)).ok());
}

TEST(ReportChecks, ANodeBackWithItsClockSteppedBackIsARestart) {
  const AcceptedReport last = accepted(valid(5, 5'000));
  const net::NodeReport r = valid(1, 4'000);  // seq began again, the clock went back
  EXPECT_EQ(reason(r, &last, /*gone=*/false), R::kStale);  // still there: an old sample
  const ReportVerdict v = check_report(scenario(), r, &last, /*gone=*/true, CheckOptions{});
  EXPECT_TRUE(v.ok()) << v.why;
  EXPECT_TRUE(v.new_lifetime);
  // The last accepted report itself, delivered again while the node is gone: a duplicate.
  EXPECT_EQ(reason(valid(5, 5'000), &last, /*gone=*/true), R::kStale);
}

TEST(ReportChecks, AMessageShowsAPeersTextPrintableAndShort) {
  net::NodeReport r = valid();
  r.tasks[0].task = std::string("\x01\x02") + std::string(100, 'x');
  const ReportVerdict v = check_report(scenario(), r, nullptr, false, CheckOptions{});
  EXPECT_EQ(v.reason, R::kUnknownTask);
  EXPECT_NE(v.why.find("'??xxx"), std::string::npos) << v.why;
  EXPECT_NE(v.why.find("...'"), std::string::npos) << v.why;
  EXPECT_LT(v.why.size(), 100u);
}

// ---- source statistics ----

R stats_reason(const net::SourceStats& s, const AcceptedStats* last = nullptr, bool secure = false) {
  return check_source_stats(scenario(), s, last, CheckOptions{secure}).reason;
}

TEST(SourceStatsChecks, EachReason) {
  EXPECT_EQ(stats_reason({"T1", "a", 20, 1'000, "a"}, nullptr, true), R::kNone);
  EXPECT_EQ(stats_reason({"T1", "a", 20, 1'000, ""}, nullptr, false), R::kNone);
  EXPECT_EQ(stats_reason({"T1", "a", 20, 1'000, ""}, nullptr, true), R::kSenderMismatch);
  EXPECT_EQ(stats_reason({"T1", "a", 20, 1'000, "b"}), R::kSenderMismatch);
  EXPECT_EQ(stats_reason({"T9", "a", 20, 1'000, "a"}), R::kUnknownTask);
  EXPECT_EQ(stats_reason({"T1", "z", 20, 1'000, "z"}), R::kUnknownNode);
  EXPECT_EQ(stats_reason({"T2", "a", 20, 1'000, "a"}), R::kNotSource);  // T2's source is b
  EXPECT_EQ(stats_reason({"T1", "a", kMaxCounter + 1, 1'000, "a"}), R::kAbsurdValue);
  EXPECT_EQ(stats_reason({"T1", "a", 20, -5, "a"}), R::kAbsurdTime);
  const AcceptedStats last{20, 1'000};
  EXPECT_EQ(stats_reason({"T1", "a", 25, 1'100, "a"}, &last), R::kNone);
  EXPECT_EQ(stats_reason({"T1", "a", 19, 1'000, "a"}, &last), R::kCounterDecreased);
  EXPECT_EQ(stats_reason({"T1", "a", 0, 1'000, "a"}, &last), R::kCounterDecreased);
  // A camera (re)started, before its first frame: empty, accepted, not a decrease.
  const StatsVerdict empty = check_source_stats(scenario(), {"T1", "a", 0, 0, "a"}, &last, CheckOptions{});
  EXPECT_TRUE(empty.ok()) << empty.why;
  EXPECT_TRUE(empty.empty);
  EXPECT_FALSE(empty.new_lifetime);
  EXPECT_FALSE(check_source_stats(scenario(), {"T1", "a", 20, 1'000, "a"}, &last, CheckOptions{}).empty);
  // Still checked for who sent it.
  EXPECT_EQ(stats_reason({"T1", "a", 0, 0, "b"}, &last), R::kSenderMismatch);
  const StatsVerdict restarted = check_source_stats(scenario(), {"T1", "a", 3, 2'000, "a"}, &last, CheckOptions{});
  EXPECT_TRUE(restarted.ok());
  EXPECT_TRUE(restarted.new_lifetime);
}

TEST(SourceStatsChecks, ATaskOfACameraDriverHasNoCameraCount) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .default_mbps(100)
                         .model(make_model("m", 100, 0, 12500))
                         .task("T1", "a", "m", 500)
                         .build();
  Scenario with_topic = s;
  with_topic.tasks[0].topic = "/front/image_raw";
  EXPECT_TRUE(check_source_stats(s, {"T1", "a", 1, 1, "a"}, nullptr, CheckOptions{}).ok());
  EXPECT_EQ(check_source_stats(with_topic, {"T1", "a", 1, 1, "a"}, nullptr, CheckOptions{}).reason, R::kNotSource);
}

TEST(RejectionCounter, CountsEveryOneAndLogsTheFirstThenOnePerPeriod) {
  RejectionCounter c(std::chrono::seconds(10));
  const TimePoint t0{};
  EXPECT_EQ(c.count(SampleTopic::kNodeReport, R::kStale, t0), 1u);  // the first: logged
  EXPECT_EQ(c.count(SampleTopic::kNodeReport, R::kStale, t0 + std::chrono::seconds(1)), 0u);
  EXPECT_EQ(c.count(SampleTopic::kNodeReport, R::kStale, t0 + std::chrono::seconds(2)), 0u);
  EXPECT_EQ(c.count(SampleTopic::kNodeReport, R::kUnknownTask, t0 + std::chrono::seconds(2)), 1u);  // its own
  EXPECT_EQ(c.count(SampleTopic::kNodeReport, R::kStale, t0 + std::chrono::seconds(10)), 3u);  // with the 2 unlogged
  c.add(SampleTopic::kNodeReport, R::kOversized, 5);
  EXPECT_EQ(c.total(SampleTopic::kNodeReport, R::kStale), 4u);
  EXPECT_EQ(c.total(), 10u);
  std::vector<std::string> seen;
  c.for_each([&](SampleTopic t, SampleRejection r, uint64_t n) {
    seen.push_back(std::string(to_string(t)) + "/" + std::string(to_string(r)) + "=" + std::to_string(n));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"node_report/unknown_task=1", "node_report/stale=4",
                                            "node_report/oversized=5"}));
}

}  // namespace
}  // namespace coedge::master
