// MasterMetrics over a MasterCore on a manual clock: every series from the start, the plan
// (version, publications, placements and their changes), the nodes' liveliness, the phase,
// the cluster-wide per-task counters (which only grow) and, at the end, the jobs no node
// closed counted as dropped, as in summary.json.
#include "master/master_metrics.h"

#include <cmath>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "core/build_info.h"
#include "core/clock.h"
#include "master/master_core.h"
#include "../scenario_builder.h"

namespace coedge::master {
namespace {

using namespace std::chrono_literals;
using testing::make_model;
using testing::ScenarioBuilder;
using Labels = std::map<std::string, std::string>;

constexpr int64_t kWallStart = 1'700'000'000'000'000'000;

Scenario three_nodes() {  // as master_core_test.cc: stage 1 puts M1 and M2 on a
  return ScenarioBuilder()
      .node("a")
      .node("b")
      .node("c")
      .default_mbps(100)
      .model(make_model("m", 300, 0, 12500))
      .task("M1", "a", "m", 700, 2)
      .task("M2", "b", "m", 700, 1)
      .run(60, 10)
      .build();
}

// "name{labels} value" lines of the exposition, as (name, labels) -> value.
std::map<std::pair<std::string, Labels>, double> parse(const std::string& text) {
  std::map<std::pair<std::string, Labels>, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t i = line.find_first_of("{ ");
    const std::string name = line.substr(0, i);
    Labels labels;
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        const size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        const size_t close = line.find('"', eq + 2);
        labels[key] = line.substr(eq + 2, close - eq - 2);
        i = close + 1;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    out[{name, labels}] = std::stod(line.substr(i + 1));
  }
  return out;
}

class MasterMetricsTest : public ::testing::Test {
 protected:
  MasterMetricsTest() : core_(scenario_, config(), clock_.now()), start_(clock_.now()) {}

  static MasterConfig config() {
    MasterConfig c;
    c.window = 10s;
    c.duration = 30s;
    c.progress_every = 0s;
    c.epoch = 1;
    return c;
  }
  Actions tick_at(Duration since_start) {
    clock_.set(start_ + since_start);
    Actions a = core_.tick(clock_.now(), wall());
    metrics_.update(core_);
    return a;
  }
  double value(const std::string& name, Labels labels) {
    const auto samples = parse(metrics_.text());
    const auto it = samples.find({name, labels});
    EXPECT_NE(it, samples.end()) << name;
    return it == samples.end() ? NAN : it->second;
  }
  void report(const std::string& node, std::vector<net::TaskReport> tasks, std::string sender = "") {
    net::NodeReport r;
    r.node = node;
    r.seq = ++seq_;  // one sequence for every node: each node's still goes up
    r.stamp_ns = wall();
    r.tasks = std::move(tasks);
    r.sender = std::move(sender);
    core_.on_report(r, clock_.now(), wall());
  }
  int64_t wall() const { return kWallStart + (clock_.now() - start_).count() * 1000; }
  uint64_t seq_ = 0;

  Scenario scenario_ = three_nodes();
  ManualClock clock_;
  MasterCore core_;
  TimePoint start_;
  MasterMetrics metrics_{scenario_};
};

TEST_F(MasterMetricsTest, EverySeriesExistsFromTheStart) {
  const BuildInfo build = build_info();
  EXPECT_EQ(value("coedge_build_info", {{"version", std::string(build.version)}, {"revision", std::string(build.revision)}}), 1);
  EXPECT_EQ(value("coedge_master_plan_version", {}), 0);
  EXPECT_EQ(value("coedge_master_plans_published_total", {}), 0);
  EXPECT_EQ(value("coedge_master_nodes_up", {}), 0);
  EXPECT_EQ(value("coedge_master_node_up", {{"node", "c"}}), 0);
  EXPECT_EQ(value("coedge_master_phase", {{"phase", "waiting"}}), 1);
  EXPECT_EQ(value("coedge_master_phase", {{"phase", "running"}}), 0);
  EXPECT_EQ(value("coedge_cluster_task_info", {{"task", "M2"}, {"model", "m"}, {"source", "b"}}), 1);
  EXPECT_EQ(value("coedge_cluster_task_miss_ratio_target", {{"task", "M1"}}), scenario_.tasks[0].epsilon);
  EXPECT_EQ(value("coedge_cluster_jobs_released_total", {{"task", "M1"}}), 0);
  EXPECT_EQ(value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", "dropped"}}), 0);
  EXPECT_EQ(value("coedge_cluster_task_placement", {{"task", "M1"}, {"node", "a"}}), 0);
  EXPECT_EQ(value("coedge_master_placement_changes_total", {{"task", "M2"}}), 0);
  EXPECT_EQ(value("coedge_cluster_task_miss_ratio", {{"task", "M2"}}), 0);
  EXPECT_EQ(value("coedge_master_rejected_samples_total", {{"topic", "node_report"}, {"reason", "sender_mismatch"}}), 0);
  EXPECT_EQ(value("coedge_master_rejected_samples_total", {{"topic", "source_stats"}, {"reason", "not_source"}}), 0);
}

TEST_F(MasterMetricsTest, CountsRefusedSamplesByTopicAndReason) {
  clock_.set(start_ + 1s);
  report("a", {}, "a");
  report("b", {}, "a");  // a writes about b
  report("b", {}, "a");
  core_.on_source_stats({"M1", "b", 20, 0, "b"}, clock_.now(), wall());  // M1's source is a
  core_.on_refused_elsewhere(SampleTopic::kNodeReport, SampleRejection::kOversized, 3, "tasks has 5000, more than the cap 4096",
                             clock_.now());
  tick_at(1s);
  EXPECT_EQ(value("coedge_master_rejected_samples_total", {{"topic", "node_report"}, {"reason", "sender_mismatch"}}), 2);
  EXPECT_EQ(value("coedge_master_rejected_samples_total", {{"topic", "source_stats"}, {"reason", "not_source"}}), 1);
  EXPECT_EQ(value("coedge_master_rejected_samples_total", {{"topic", "node_report"}, {"reason", "oversized"}}), 3);
  EXPECT_EQ(value("coedge_master_node_up", {{"node", "b"}}), 0);  // b never reported itself
}

TEST_F(MasterMetricsTest, FollowsPlansNodesAndCounters) {
  clock_.set(start_ + 1s);
  for (const char* n : {"a", "b", "c"}) report(n, {});
  tick_at(1s);  // stage 1: M1 and M2 on a
  EXPECT_EQ(value("coedge_master_phase", {{"phase", "running"}}), 1);
  EXPECT_EQ(value("coedge_master_plan_version", {}), 1);
  EXPECT_EQ(value("coedge_master_plans_published_total", {}), 1);
  EXPECT_EQ(value("coedge_master_nodes_up", {}), 3);
  EXPECT_EQ(value("coedge_cluster_task_placement", {{"task", "M1"}, {"node", "a"}}), 1);
  EXPECT_EQ(value("coedge_cluster_task_placement", {{"task", "M1"}, {"node", "b"}}), 0);
  EXPECT_EQ(value("coedge_master_placement_changes_total", {{"task", "M1"}}), 1);

  clock_.set(start_ + 5s);
  core_.on_source_stats({"M1", "a", 20, 0, ""}, clock_.now(), wall());
  report("a", {{"M1", 20, 15, 3, 1, 1500, 1500, 0}});
  tick_at(5s);
  EXPECT_EQ(value("coedge_cluster_jobs_released_total", {{"task", "M1"}}), 20);
  EXPECT_EQ(value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", "met"}}), 15);
  EXPECT_EQ(value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", "overdue"}}), 3);
  EXPECT_EQ(value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", "dropped"}}), 1);

  // a is lost: its tasks move, the plan changes.
  clock_.set(start_ + 6s);
  core_.on_liveliness("a", false, clock_.now());
  tick_at(6s);
  EXPECT_EQ(value("coedge_master_node_up", {{"node", "a"}}), 0);
  EXPECT_EQ(value("coedge_master_nodes_up", {}), 2);
  EXPECT_EQ(value("coedge_master_plan_version", {}), 2);
  EXPECT_EQ(value("coedge_master_plans_published_total", {}), 2);
  EXPECT_EQ(value("coedge_cluster_task_placement", {{"task", "M1"}, {"node", "a"}}), 0);
  EXPECT_EQ(value("coedge_master_placement_changes_total", {{"task", "M1"}}), 2);
  // The counters keep what a reported: they do not fall with it.
  EXPECT_EQ(value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", "met"}}), 15);

  metrics_.set_window_miss_ratio(0, 0.25);
  EXPECT_EQ(value("coedge_cluster_task_miss_ratio", {{"task", "M1"}}), 0.25);
}

TEST_F(MasterMetricsTest, TheEndCountsWhatNoNodeClosedAsDropped) {
  clock_.set(start_ + 1s);
  for (const char* n : {"a", "b", "c"}) report(n, {});
  tick_at(1s);
  clock_.set(start_ + 20s);
  core_.on_source_stats({"M1", "a", 20, 0, ""}, clock_.now(), wall());
  report("a", {{"M1", 15, 15, 0, 0, 1500, 1500, 0}});
  tick_at(20s);
  EXPECT_EQ(value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", "dropped"}}), 0);
  std::optional<Result<MasterSummary>> finished;
  for (Duration t = 31s; !finished && t < 120s; t += 500ms) {
    if (t > 33s) {
      core_.on_liveliness("b", false, clock_.now());
      core_.on_liveliness("c", false, clock_.now());
    }
    finished = tick_at(t).finished;
  }
  ASSERT_TRUE(finished.has_value() && finished->ok());
  const MasterSummary& s = finished->value();
  metrics_.finish(s);
  EXPECT_EQ(value("coedge_master_phase", {{"phase", "done"}}), 1);
  EXPECT_EQ(value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", "dropped"}}),
            static_cast<double>(s.tasks[0].account.dropped()));
  EXPECT_EQ(s.tasks[0].account.dropped(), 5u);
  double closed = 0;
  for (const char* o : {"met", "overdue", "dropped"}) {
    closed += value("coedge_cluster_jobs_finished_total", {{"task", "M1"}, {"outcome", o}});
  }
  EXPECT_EQ(closed, value("coedge_cluster_jobs_released_total", {{"task", "M1"}}));
}

TEST(MasterMetricsServe, ServesAndNamesABusyPort) {
  const Scenario s = three_nodes();
  MasterMetrics one(s), two(s);
  ASSERT_TRUE(one.serve("127.0.0.1:0").ok());
  ASSERT_GT(one.port(), 0);
  const std::string busy = "127.0.0.1:" + std::to_string(one.port());
  const Status st = two.serve(busy);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(busy), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("in use"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace coedge::master
