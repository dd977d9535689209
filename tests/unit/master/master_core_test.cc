// The master's core on a manual clock: the wait for the nodes, the window cadence, plan
// de-duplication, a node lost inside a window, the stop sequence and the final accounting.
// Nothing here sleeps or reads a clock: time is a ManualClock the tests advance, and the
// wall clock is a number derived from it.
#include "master/master_core.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/rng.h"
#include "master/master_files.h"
#include "../scenario_builder.h"

namespace coedge::master {
namespace {

using namespace std::chrono_literals;
using testing::make_model;
using testing::ScenarioBuilder;

constexpr int64_t kWallStart = 1'700'000'000'000'000'000;  // CLOCK_REALTIME at the manual clock's start
constexpr uint64_t kEpoch = 1'699'999'999'000'000'000;

// Three nodes; M1 (priority 2) from a, M2 from b; stage 1 puts both on a (policy tests:
// CoedgeDispatcher, ALostNodesTasksArePlacedElsewhere...). Deadlines 700 ms.
Scenario three_nodes() {
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

net::NodeReport report(const std::string& node, std::vector<net::TaskReport> tasks = {}, uint64_t plan_version = 0) {
  net::NodeReport r;
  r.node = node;
  r.tasks = std::move(tasks);
  r.plan_epoch = plan_version ? kEpoch : 0;
  r.plan_version = plan_version;
  return r;
}

MasterConfig config() {
  MasterConfig c;
  c.window = 10s;
  c.plan_lead = 500ms;
  c.wait_for_nodes = 120s;
  c.progress_every = 0s;
  c.epoch = kEpoch;
  c.missing_nodes_hint = "are their agents running?";
  return c;
}

bool has_log(const Actions& a, const std::string& text) {
  return std::any_of(a.logs.begin(), a.logs.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

std::string node_of(const net::Plan& plan, const std::string& task) {
  for (const net::Assignment& a : plan.assignments)
    if (a.task == task) return a.node;
  return "?";
}

// A core, its manual clock and the wall clock that goes with it.
class Master {
 public:
  explicit Master(MasterConfig c = config(), Scenario s = three_nodes())
      : scenario_(std::move(s)), core_(scenario_, std::move(c), clock_.now()), start_(clock_.now()) {}

  MasterCore& core() { return core_; }
  const Scenario& scenario() const { return scenario_; }
  TimePoint now() const { return clock_.now(); }
  TimePoint at(Duration since_start) const { return start_ + since_start; }
  int64_t wall() const { return kWallStart + (clock_.now() - start_).count() * 1000; }
  void set(Duration since_start) { clock_.set(start_ + since_start); }

  // A node's next report: numbered and stamped as a node does (seq 1, 2, ... per node, the
  // wall clock), unless the test set them.
  void report(net::NodeReport r) {
    uint64_t& seq = seqs_[r.node];
    if (r.seq == 0) r.seq = ++seq;
    else seq = r.seq;
    if (r.stamp_ns == 0) r.stamp_ns = wall();
    core_.on_report(r, now(), wall());
  }
  void liveliness(const std::string& node, bool alive) { core_.on_liveliness(node, alive, now()); }
  Actions tick() { return core_.tick(now(), wall()); }
  Actions tick_at(Duration since_start) {
    set(since_start);
    return tick();
  }
  // Every node reports at `since_start`; returns the tick that starts the run.
  Actions start(Duration since_start = 2s) {
    set(since_start);
    for (const NodeSpec& n : scenario_.nodes) report(master::report(n.name));
    return tick();
  }

 private:
  Scenario scenario_;
  ManualClock clock_;
  MasterCore core_;
  TimePoint start_;
  std::map<std::string, uint64_t> seqs_;
};

TEST(MasterCore, WaitsForEveryNodesFirstReportThenPublishesStage1) {
  Master m;
  Actions a = m.tick();
  EXPECT_EQ(m.core().phase(), Phase::kWaiting);
  EXPECT_TRUE(a.plans.empty());
  EXPECT_EQ(a.wake_at, m.at(5s));  // the first "waiting" note
  m.set(1s);
  m.report(report("a"));
  m.report(report("b"));
  m.core().on_liveliness("c", true, m.now());  // liveliness alone is not a report
  a = m.tick();
  EXPECT_TRUE(has_log(a, "node a is up"));
  EXPECT_TRUE(has_log(a, "node b is up"));
  EXPECT_TRUE(a.plans.empty());
  a = m.tick_at(5s);
  EXPECT_TRUE(has_log(a, "waiting: 2/3 nodes up"));

  m.set(7s);
  m.report(report("c"));
  a = m.tick();
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kRunning});
  ASSERT_EQ(a.plans.size(), 1u);
  const net::Plan& plan = a.plans[0].plan;
  EXPECT_EQ(plan.version, 1u);
  EXPECT_EQ(plan.epoch, kEpoch);
  EXPECT_EQ(plan.effective_ns, m.wall() + 500'000'000);
  EXPECT_DOUBLE_EQ(a.plans[0].t, 0.0);
  ASSERT_EQ(plan.assignments.size(), 2u);
  EXPECT_EQ(node_of(plan, "M1"), "a");
  EXPECT_EQ(node_of(plan, "M2"), "a");
  EXPECT_TRUE(has_log(a, "0.0s plan 1: a[M1,M2] b[] c[]"));
  EXPECT_TRUE(has_log(a, "running until stopped, window 10s, dispatcher coedge"));
  EXPECT_EQ(a.wake_at, m.at(17s));  // the first window
}

TEST(MasterCore, Stage2RunsExactlyEveryWindowFromTheFirstPlanWhateverTheTickTimes) {
  Master m;
  const TimePoint t0 = m.at(3s);
  m.start(3s);
  // Ticks at odd moments; windows close at the first tick at or after t0 + k * 10 s.
  struct Step {
    Duration at;  // since t0
    int window;   // the window closed by this tick, 0 for none
  };
  const Step steps[] = {{300ms, 0}, {9999ms, 0}, {10200ms, 1}, {19s, 0}, {20s, 2}, {29999ms, 0},
                        {30700ms, 3}, {31s, 0}, {39999999us, 0}, {40s, 4}};
  for (const Step& step : steps) {
    m.set(t0 - m.at(0s) + step.at);
    const Actions a = m.tick();
    if (step.window == 0) {
      EXPECT_TRUE(a.windows.empty()) << to_s(step.at);
    } else {
      ASSERT_EQ(a.windows.size(), 1u) << to_s(step.at);
      EXPECT_EQ(a.windows[0].window, step.window);
      EXPECT_DOUBLE_EQ(a.windows[0].t, to_s(step.at));
      EXPECT_EQ(a.windows[0].report.now, TimePoint{} + step.at);
    }
    // The next wake-up stays on the grid: a late tick does not push the windows back.
    EXPECT_EQ(a.wake_at, t0 + (step.at / 10s + 1) * 10s) << to_s(step.at);
  }
  // A tick more than a window late (a stalled driver) closes one window covering the
  // missed ones, and the grid goes on.
  m.set(t0 - m.at(0s) + 65s);
  const Actions late = m.tick();
  ASSERT_EQ(late.windows.size(), 1u);
  EXPECT_EQ(late.windows[0].window, 5);
  EXPECT_TRUE(has_log(late, "window 5 closed 15s late: it covers 2 windows"));
  EXPECT_EQ(late.wake_at, t0 + 70s);
}

TEST(MasterCore, AnUnchangedPlanIsNotRepublishedAndVersionsGoUpByOne) {
  Master m;
  m.start(1s);
  // A quiet window: stage 2 changes nothing, nothing is published.
  Actions a = m.tick_at(11s);
  ASSERT_EQ(a.windows.size(), 1u);
  EXPECT_TRUE(a.windows[0].changes.empty());
  EXPECT_TRUE(a.plans.empty());
  EXPECT_EQ(m.core().plan_version(), 1u);
  // M2 misses half its jobs on a: stage 2 evicts it, and the new plan is published.
  m.set(15s);
  m.report(report("a", {{"M1", 10, 10, 0, 0, 3000, 3000, 0}, {"M2", 10, 5, 0, 5, 1500, 1500, 0}}, 1));
  a = m.tick_at(21s);
  ASSERT_EQ(a.windows.size(), 1u);
  EXPECT_EQ(a.windows[0].report.tasks[1].missed, 5u);
  ASSERT_FALSE(a.windows[0].changes.empty());
  ASSERT_EQ(a.plans.size(), 1u);
  EXPECT_EQ(a.plans[0].plan.version, 2u);
  EXPECT_EQ(a.plans[0].plan.epoch, kEpoch);
  EXPECT_EQ(a.plans[0].plan.effective_ns, m.wall() + 500'000'000);
  EXPECT_DOUBLE_EQ(a.plans[0].t, 20.0);
  EXPECT_NE(node_of(a.plans[0].plan, "M2"), "a");
  EXPECT_TRUE(has_log(a, "window 2: M2 a -> "));
  EXPECT_TRUE(has_log(a, "20.0s plan 2:"));
  // Whatever stage 2 does next, a plan is published exactly when the assignment changed,
  // with the next version.
  std::vector<NodeIndex> last = m.core().assignment();
  uint64_t version = 2;
  for (int w = 3; w <= 12; ++w) {
    m.set(Duration(std::chrono::seconds(w * 10 - 5)));
    const uint64_t n = static_cast<uint64_t>(w) * 10, dropped = 4 * static_cast<uint64_t>(w / 3);  // cumulative
    m.report(report("a", {{"M1", n, n - dropped, 0, dropped, 0, 0, 0}}, version));
    a = m.tick_at(Duration(std::chrono::seconds(w * 10 + 1)));
    ASSERT_EQ(a.windows.size(), 1u);
    const bool changed = m.core().assignment() != last;
    ASSERT_EQ(a.plans.size(), changed ? 1u : 0u) << "window " << w;
    if (changed) {
      EXPECT_EQ(a.plans[0].plan.version, ++version);
      EXPECT_EQ(a.plans[0].plan.effective_ns, m.wall() + 500'000'000);
    }
    last = m.core().assignment();
  }
  EXPECT_EQ(m.core().plan_version(), version);
}

TEST(MasterCore, ALostNodesTasksAreReplannedAtOnceAndTheWindowStillClosesOnTime) {
  Master m;
  m.start(1s);
  m.set(4200ms);  // 3.2 s into the first window
  m.liveliness("a", false);
  Actions a = m.tick();
  EXPECT_TRUE(a.windows.empty());
  ASSERT_EQ(a.plans.size(), 1u);
  EXPECT_EQ(a.plans[0].plan.version, 2u);
  EXPECT_EQ(a.plans[0].plan.effective_ns, m.wall() + 500'000'000);
  EXPECT_EQ(node_of(a.plans[0].plan, "M1"), "b");
  EXPECT_EQ(node_of(a.plans[0].plan, "M2"), "b");
  EXPECT_TRUE(has_log(a, "3.2s (unix 1700000004.200 s): node a is lost (liveliness)"));
  EXPECT_TRUE(has_log(a, "  M1 a -> - (node_lost)"));
  EXPECT_EQ(a.wake_at, m.at(11s));  // the window's end did not move
  // The same liveliness again changes nothing.
  m.liveliness("a", false);
  a = m.tick();
  EXPECT_TRUE(a.plans.empty());
  a = m.tick_at(11s);
  ASSERT_EQ(a.windows.size(), 1u);
  EXPECT_EQ(a.windows[0].window, 1);
  EXPECT_TRUE(a.plans.empty());  // stage 2 keeps the tasks off a
  // Back: a candidate again, no plan of its own.
  m.set(13s);
  m.liveliness("a", true);
  a = m.tick();
  EXPECT_TRUE(has_log(a, "12s: node a is back"));
  EXPECT_TRUE(a.plans.empty());
}

TEST(MasterCore, ADispatcherThatCannotMoveTasksSaysSo) {
  MasterConfig c = config();
  c.dispatcher = *policy::DispatcherSpec::parse("local");
  Master m(c);
  m.start(1s);
  m.set(3s);
  m.liveliness("b", false);
  const Actions a = m.tick();
  EXPECT_TRUE(a.plans.empty());
  EXPECT_TRUE(has_log(a, "the local dispatcher does not move tasks: its tasks are lost with it"));
}

TEST(MasterCore, ANodeThatNeverReportsEndsTheWaitWithAnErrorNamingIt) {
  Master m;
  m.set(1s);
  m.report(report("a"));
  m.report(report("c"));
  m.report(report("stranger"));
  Actions a = m.tick();
  EXPECT_TRUE(has_log(a, "refused a node_report sample (unknown_node): node 'stranger' is not in the scenario"));
  m.report(report("stranger"));
  EXPECT_FALSE(has_log(m.tick(), "stranger"));  // said once (then at most every 10 s)
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kNodeReport, SampleRejection::kUnknownNode), 2u);
  a = m.tick_at(120s);  // not yet: the limit is "more than 120 s"
  EXPECT_FALSE(a.finished.has_value());
  EXPECT_EQ(a.wake_at, m.at(120s) + 1us);
  a = m.tick_at(120s + 1us);
  ASSERT_TRUE(a.finished.has_value());
  ASSERT_FALSE(a.finished->ok());
  EXPECT_EQ(a.finished->error().code, ErrorCode::kNotFound);
  EXPECT_EQ(a.finished->error().message, "no report within 120s from: b (are their agents running?)");
  EXPECT_TRUE(has_log(a, "error: no report within 120s from: b"));
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kDone});
  EXPECT_TRUE(a.plans.empty());
  EXPECT_TRUE(a.commands.empty());
  EXPECT_EQ(a.wake_at, TimePoint::max());
}

TEST(MasterCore, ANodeThatGoesAwayBeforeTheStartIsWaitedForAgain) {
  Master m;
  m.set(1s);
  m.report(report("a"));
  m.report(report("b"));
  m.tick();
  m.set(2s);
  m.liveliness("a", false);
  Actions a = m.tick();
  EXPECT_TRUE(has_log(a, "node a went away before the start; waiting for it again"));
  m.report(report("c"));
  a = m.tick();
  EXPECT_EQ(m.core().phase(), Phase::kWaiting);
  EXPECT_TRUE(a.plans.empty());
  m.liveliness("a", true);  // its writer again: not yet a report
  EXPECT_TRUE(m.tick().plans.empty());
  m.set(3s);
  m.report(report("a"));
  a = m.tick();
  EXPECT_TRUE(has_log(a, "node a is up"));
  ASSERT_EQ(a.plans.size(), 1u);
  EXPECT_EQ(a.plans[0].plan.version, 1u);
}

TEST(MasterCore, AStopBeforeTheNodesAreUpEndsWithoutAPlan) {
  Master m;
  m.set(1s);
  m.report(report("a"));
  m.core().request_stop(m.now());
  const Actions a = m.tick();
  ASSERT_TRUE(a.finished.has_value());
  EXPECT_FALSE(a.finished->ok());
  EXPECT_TRUE(has_log(a, "stopped before the nodes were up"));
  EXPECT_TRUE(a.commands.empty());
}

TEST(MasterCore, StopsCamerasThenNodesAndAccountsForEveryReleasedJob) {
  Master m;
  m.start(1s);
  m.set(8s);
  m.core().on_source_stats({"M1", "a", 10, 0, ""}, m.now(), m.wall());
  m.core().on_source_stats({"M2", "b", 10, 0, ""}, m.now(), m.wall());
  m.report(report("a", {{"M1", 10, 8, 1, 0, 900, 900, 1}, {"M2", 9, 9, 0, 0, 900, 900, 0}}, 1));
  EXPECT_EQ(m.tick_at(11s).windows.size(), 1u);
  EXPECT_EQ(m.tick_at(21s).windows.size(), 1u);
  m.set(25s);
  m.core().request_stop(m.now());
  m.core().request_stop(m.now());  // twice is once
  Actions a = m.tick();
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kSettling});
  ASSERT_EQ(a.commands.size(), 1u);
  EXPECT_EQ(a.commands[0].command, "stop-sources");
  EXPECT_EQ(a.commands[0].node, "");
  EXPECT_TRUE(has_log(a, "stopping: cameras first, then the nodes"));
  EXPECT_EQ(a.wake_at, m.at(25s) + 1s + 700ms);  // settle: 1 s + the longest deadline
  // While settling, the last frames arrive and close; liveliness no longer moves tasks.
  m.set(26s);
  m.core().on_source_stats({"M1", "a", 12, 0, ""}, m.now(), m.wall());
  m.core().on_source_stats({"M2", "b", 11, 0, ""}, m.now(), m.wall());
  m.report(report("a", {{"M1", 12, 10, 1, 0, 1100, 1100, 1}, {"M2", 11, 10, 0, 1, 1000, 1000, 0}}, 1));
  m.liveliness("c", false);
  a = m.tick();
  EXPECT_TRUE(a.commands.empty());
  EXPECT_TRUE(a.plans.empty());
  a = m.tick_at(26700ms);
  ASSERT_EQ(a.commands.size(), 1u);
  EXPECT_EQ(a.commands[0].command, "stop");
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kDraining});
  EXPECT_EQ(a.wake_at, m.at(26700ms) + 15s + 1400ms);  // drain: 15 s + 2 x the longest deadline
  // The nodes finish: final reports, then they are gone.
  m.set(28s);
  m.report(report("a", {{"M1", 12, 11, 1, 0, 1200, 1200, 0}, {"M2", 11, 10, 0, 1, 1000, 1000, 0}}, 1));
  m.liveliness("a", false);
  a = m.tick();
  EXPECT_FALSE(a.finished.has_value());  // b is still there
  m.set(29s);
  m.liveliness("b", false);
  a = m.tick();
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kDone});
  ASSERT_TRUE(a.finished.has_value());
  ASSERT_TRUE(a.finished->ok());
  const MasterSummary& s = a.finished->value();
  EXPECT_TRUE(s.accounted());
  EXPECT_DOUBLE_EQ(s.duration_s, 24.0);
  EXPECT_EQ(s.plan_versions, m.core().plan_version());
  EXPECT_EQ(s.epoch, kEpoch);
  ASSERT_EQ(s.tasks.size(), 2u);
  EXPECT_EQ(s.tasks[0].account.released, 12u);
  EXPECT_EQ(s.tasks[0].account.met, 11u);
  EXPECT_EQ(s.tasks[0].account.overdue, 1u);
  EXPECT_EQ(s.tasks[0].account.lost, 0u);
  EXPECT_EQ(s.tasks[1].account.released, 11u);
  EXPECT_EQ(s.tasks[1].account.dropped(), 1u);
  for (const TaskSummary& t : s.tasks)
    EXPECT_EQ(t.account.met + t.account.overdue + t.account.dropped(), t.account.released) << t.task;
  EXPECT_EQ(s.totals.released, 23u);
  ASSERT_EQ(s.nodes.size(), 3u);
  EXPECT_EQ(s.nodes[0].plan_epoch, kEpoch);
  EXPECT_EQ(s.nodes[0].plan_version, 1u);
  EXPECT_EQ(s.nodes[0].reports, 4u);  // the start's and three more
  for (TaskIndex t = 0; t < s.tasks.size(); ++t) {  // where the last plan put each task
    const NodeIndex k = m.core().assignment()[t];
    EXPECT_EQ(s.tasks[t].node, m.scenario().nodes[k].name);
    EXPECT_NE(std::find(s.nodes[k].tasks.begin(), s.nodes[k].tasks.end(), s.tasks[t].task), s.nodes[k].tasks.end());
  }
  EXPECT_TRUE(s.nodes[1].stopped);
  EXPECT_EQ(s.nodes[1].plan_version, 0u);  // b never reported running a plan
  // Start-up, since the core's creation: every node up at 1 s (start), the first plan
  // then; a met its first job in the report at 8 s, b never reported one. Stage 1 put
  // both tasks on a; stage 2 moved one to b, so not every node given tasks met a job.
  EXPECT_DOUBLE_EQ(s.first_plan_s, 1.0);
  EXPECT_DOUBLE_EQ(s.nodes[0].up_s, 1.0);
  EXPECT_DOUBLE_EQ(s.nodes[0].first_met_s, 8.0);
  EXPECT_DOUBLE_EQ(s.nodes[1].first_met_s, -1.0);
  EXPECT_TRUE(s.nodes[0].ever_given_tasks);
  EXPECT_TRUE(s.nodes[1].ever_given_tasks);
  EXPECT_FALSE(s.nodes[2].ever_given_tasks);
  EXPECT_DOUBLE_EQ(s.all_first_met_s(), -1.0);
  MasterSummary only_a = s;
  only_a.nodes[1].ever_given_tasks = false;
  EXPECT_DOUBLE_EQ(only_a.all_first_met_s(), 8.0);
  EXPECT_EQ(a.wake_at, TimePoint::max());
  // Nothing more happens.
  m.report(report("a"));
  EXPECT_TRUE(m.tick_at(60s).logs.empty());
}

TEST(MasterCore, TheDrainEndsAtItsLimitAndWhatNoNodeClosedIsLost) {
  MasterConfig c = config();
  c.duration = 30s;
  Master m(c);
  m.start(1s);
  m.set(20s);
  m.core().on_source_stats({"M1", "a", 20, 0, ""}, m.now(), m.wall());
  m.report(report("a", {{"M1", 15, 15, 0, 0, 1500, 1500, 0}}, 1));
  Actions a = m.tick_at(21s);
  EXPECT_EQ(a.windows.size(), 1u);  // window 2 (window 1, at 11 s, had no tick: merged)
  a = m.tick_at(30999ms);
  EXPECT_EQ(m.core().phase(), Phase::kRunning);
  a = m.tick_at(31s);  // duration reached: the stop sequence begins
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kSettling});
  EXPECT_TRUE(a.windows.empty());  // window 3 would end now too: stopping comes first
  a = m.tick_at(32700ms);
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kDraining});
  m.liveliness("b", false);
  m.liveliness("c", false);
  a = m.tick_at(48s);
  EXPECT_FALSE(a.finished.has_value());
  a = m.tick_at(32700ms + 15s + 1400ms);
  ASSERT_TRUE(a.finished.has_value());
  EXPECT_TRUE(has_log(a, "no final report from: a (their open jobs count as lost)"));
  const MasterSummary& s = a.finished->value();
  EXPECT_EQ(s.tasks[0].account.lost, 5u);
  EXPECT_EQ(s.tasks[0].account.dropped(), 5u);
  EXPECT_TRUE(s.accounted());
  EXPECT_FALSE(s.nodes[0].stopped);
  EXPECT_TRUE(s.nodes[1].stopped);
}

net::NodeReport final_report(net::NodeReport r) {
  r.final_report = true;
  return r;
}

TEST(MasterCore, TheDrainEndsWhenEveryNodeHasSentItsFinalReport) {
  Master m;
  m.start(1s);
  m.set(5s);
  m.core().request_stop(m.now());
  EXPECT_EQ(m.tick().phases, std::vector<Phase>{Phase::kSettling});
  Actions a = m.tick_at(6700ms);
  EXPECT_EQ(a.phases, std::vector<Phase>{Phase::kDraining});
  // The nodes' final reports come, their processes still up: their liveliness has not
  // lapsed, but nothing more is to come from them.
  m.set(7s);
  m.core().on_source_stats({"M1", "a", 4, 0, ""}, m.now(), m.wall());
  m.core().on_source_stats({"M2", "b", 3, 0, ""}, m.now(), m.wall());
  m.report(final_report(report("a", {{"M1", 4, 4, 0, 0, 400, 400, 0}, {"M2", 3, 3, 0, 0, 300, 300, 0}}, 1)));
  m.report(final_report(report("b", {}, 1)));
  EXPECT_FALSE(m.tick().finished.has_value());  // c has said nothing yet
  // The reader may hand over an "alive" for a node after its final report (it saw the
  // node's lease lapse and its last report in one go): stale, it changes nothing.
  m.liveliness("a", true);
  m.set(7500ms);
  m.report(final_report(report("c", {}, 1)));
  a = m.tick();
  ASSERT_TRUE(a.finished.has_value());  // long before the drain's limit (6.7 + 16.4 s)
  EXPECT_FALSE(has_log(a, "no final report"));
  const MasterSummary& s = a.finished->value();
  EXPECT_TRUE(s.accounted());
  EXPECT_EQ(s.tasks[0].account.met, 4u);
  EXPECT_EQ(s.tasks[0].account.lost, 0u);
  for (const NodeSummary& n : s.nodes) {
    EXPECT_TRUE(n.final_report) << n.node;
    EXPECT_TRUE(n.stopped) << n.node;
  }
}

TEST(MasterCore, AFinalReportWhileRunningIsANodeLeaving) {
  Master m;
  m.start(1s);
  m.set(3s);
  m.report(final_report(report("a", {}, 1)));
  Actions a = m.tick();
  EXPECT_TRUE(has_log(a, "node a stopped (its final report)"));
  // Both tasks were on a (stage 1): the dispatcher moves them at once, as for a lost node.
  ASSERT_EQ(a.plans.size(), 1u);
  EXPECT_NE(node_of(a.plans[0].plan, "M1"), "a");
  EXPECT_NE(node_of(a.plans[0].plan, "M2"), "a");
  m.liveliness("a", true);  // stale news: a is not given tasks again
  m.liveliness("a", false);  // its process then goes: nothing more happens
  EXPECT_TRUE(m.tick().plans.empty());
  m.set(5s);
  m.report(report("a", {}, 1));  // started again: back, as a node whose liveliness returns
  m.tick();
  m.report(final_report(report("a", {}, 2)));  // and gone once more: said only of a node alive
  a = m.tick();
  EXPECT_TRUE(has_log(a, "node a stopped (its final report)"));
}

TEST(MasterCore, AFinalReportBeforeTheStartIsANodeToWaitForAgain) {
  Master m;
  m.report(report("a"));
  m.report(report("b"));
  m.report(final_report(report("a")));
  m.report(report("c"));
  Actions a = m.tick();
  EXPECT_TRUE(has_log(a, "node a stopped before the start; waiting for it again"));
  EXPECT_TRUE(a.plans.empty());
  m.report(report("a"));  // back
  EXPECT_EQ(m.tick().plans.size(), 1u);
}

// The rule: a report signed by node A about node B is refused. It changes neither
// B's accounting nor its liveliness (not even a final report's "gone"), and it is counted.
TEST(MasterCore, AReportSignedByOneNodeAboutAnotherChangesNothingAndIsCounted) {
  MasterConfig c = config();
  c.require_sender = true;
  Master m(c);
  m.set(1s);
  for (const char* n : {"a", "b"}) {
    net::NodeReport r = report(n);
    r.sender = n;
    m.report(r);
  }
  net::NodeReport forged = report("c");  // a claims c is up: c must still be waited for
  forged.sender = "a";
  m.report(forged);
  Actions a = m.tick();
  EXPECT_TRUE(a.plans.empty());
  EXPECT_EQ(m.core().phase(), Phase::kWaiting);
  EXPECT_TRUE(has_log(a, "refused a node_report sample (sender_mismatch): report about 'c' written by 'a'"));
  net::NodeReport own = report("c");
  own.sender = "c";
  m.report(own);
  ASSERT_EQ(m.tick().plans.size(), 1u);  // running: M1 and M2 on a

  m.set(3s);
  net::NodeReport b = report("b", {{"M2", 10, 9, 1, 0, 100.0, 50.0, 0}});
  b.sender = "b";
  m.report(b);
  const TaskAccount before = m.core().state().accounts()[1];
  forged = report("b", {{"M2", 500, 0, 0, 500, 0.0, 0.0, 0}, {"M1", 9, 0, 0, 9, 0.0, 0.0, 0}});
  forged.sender = "a";
  forged.final_report = true;  // "b is gone": must not move b out of the plan
  m.report(forged);
  net::NodeReport unsigned_report = report("b", {{"M2", 500, 0, 0, 500, 0.0, 0.0, 0}});  // no partition
  m.report(unsigned_report);
  a = m.tick();
  EXPECT_TRUE(a.plans.empty());
  EXPECT_TRUE(m.core().node_alive(1));
  const TaskAccount after = m.core().state().accounts()[1];
  EXPECT_EQ(after.accepted, before.accepted);
  EXPECT_EQ(after.met, before.met);
  EXPECT_EQ(after.dropped_by_nodes, before.dropped_by_nodes);
  EXPECT_EQ(m.core().state().accounts()[0].dropped_by_nodes, 0u);
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kNodeReport, SampleRejection::kSenderMismatch), 3u);

  // The summary carries the counts.
  m.core().request_stop(m.now());
  std::optional<Result<MasterSummary>> finished;
  for (Duration t = 4s; !finished && t < 60s; t += 1s) finished = m.tick_at(t).finished;
  ASSERT_TRUE(finished.has_value() && finished->ok());
  const auto j = nlohmann::json::parse(summary_json(finished->value()));
  EXPECT_EQ(j["rejected_samples"]["node_report"]["sender_mismatch"], 3);
  EXPECT_EQ(j["rejected_samples_total"], 3);
  EXPECT_NE(summary_table(finished->value()).find("samples refused: node_report/sender_mismatch 3"), std::string::npos);
}

TEST(MasterCore, ADecreasingReportIsRefusedWhileARestartedNodeIsAccepted) {
  Master m;
  m.start(1s);
  m.set(3s);
  m.report(report("a", {{"M1", 20, 15, 3, 1, 1500.0, 1000.0, 1}}));
  const TaskAccount before = m.core().state().accounts()[0];
  m.set(4s);
  m.report(report("a", {{"M1", 12, 10, 1, 1, 900.0, 600.0, 0}}));  // seq goes on, counters went down
  Actions a = m.tick();
  EXPECT_TRUE(has_log(a, "refused a node_report sample (counter_decreased): task M1: released went down"));
  EXPECT_EQ(m.core().state().accounts()[0].accepted, before.accepted);
  EXPECT_EQ(m.core().state().accounts()[0].met, before.met);
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kNodeReport, SampleRejection::kCounterDecreased), 1u);

  // a restarts: its seq begins again at 1, its stamp is newer, its counters start at 0.
  m.set(6s);
  net::NodeReport restarted = report("a", {{"M1", 4, 4, 0, 0, 400.0, 200.0, 0}});
  restarted.seq = 1;
  m.report(restarted);
  a = m.tick();
  EXPECT_TRUE(has_log(a, "node a restarted: its counters start again"));
  const TaskAccount after = m.core().state().accounts()[0];
  EXPECT_EQ(after.accepted, 20u + 4u);  // the earlier lifetime's jobs stay counted
  EXPECT_EQ(after.met, 15u + 4u);
  m.set(7s);
  m.report(report("a", {{"M1", 6, 6, 0, 0, 600.0, 300.0, 0}}));  // seq 2 of the new lifetime
  EXPECT_EQ(m.core().state().accounts()[0].met, 15u + 6u);
  // A replay of the old lifetime's report (seq 5, older stamp) is stale.
  net::NodeReport replay = report("a", {{"M1", 20, 15, 3, 1, 1500.0, 1000.0, 1}});
  replay.seq = 2;
  replay.stamp_ns = 1;
  m.report(replay);
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kNodeReport, SampleRejection::kStale), 1u);
  EXPECT_EQ(m.core().state().accounts()[0].met, 15u + 6u);
}

TEST(MasterCore, ARestartedNodesFirstReportWithoutTasksDoesNotBlockItsNext) {
  Master m;
  m.start(1s);
  m.set(3s);
  m.report(report("a", {{"M1", 500, 490, 5, 5, 50000.0, 25000.0, 0}}));
  // a restarts: its first report comes before any job (no task), its second counts 3.
  m.set(6s);
  net::NodeReport first = report("a");
  first.seq = 1;
  m.report(first);
  EXPECT_TRUE(has_log(m.tick(), "node a restarted"));
  m.set(7s);
  m.report(report("a", {{"M1", 3, 2, 0, 0, 200.0, 100.0, 1}}));  // seq 2 of the new lifetime
  const Actions a = m.tick();
  EXPECT_FALSE(has_log(a, "refused")) << (a.logs.empty() ? "" : a.logs.front());
  EXPECT_EQ(m.core().rejections().total(), 0u);
  EXPECT_EQ(m.core().state().accounts()[0].accepted, 500u + 3u);
  EXPECT_EQ(m.core().state().accounts()[0].met, 490u + 2u);
}

TEST(MasterCore, AReportStampedFarAheadCannotMakeLaterOnesStale) {
  Master m;
  m.start(1s);
  m.set(3s);
  net::NodeReport poison = report("a", {{"M1", 1, 1, 0, 0, 10.0, 5.0, 0}});
  poison.seq = std::numeric_limits<uint64_t>::max();
  poison.stamp_ns = std::numeric_limits<int64_t>::max();
  m.report(poison);
  poison.seq = 3;
  m.report(poison);  // a sane seq, the stamp still far ahead
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kNodeReport, SampleRejection::kAbsurdValue), 1u);
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kNodeReport, SampleRejection::kAbsurdTime), 1u);
  m.set(4s);
  m.report(report("a", {{"M1", 4, 3, 0, 0, 300.0, 150.0, 1}}));  // seq 4, the wall clock
  EXPECT_EQ(m.core().rejections().total(), 2u);
  EXPECT_EQ(m.core().state().accounts()[0].met, 3u);
  // The same for a camera's count: a last stamp far ahead is refused.
  m.core().on_source_stats({"M1", "a", 9, m.wall() + kMaxAheadNs + 1, "a"}, m.now(), m.wall());
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kSourceStats, SampleRejection::kAbsurdTime), 1u);
  m.core().on_source_stats({"M1", "a", 5, m.wall(), "a"}, m.now(), m.wall());
  EXPECT_EQ(m.core().state().accounts()[0].released, 5u);
}

TEST(MasterCore, RestartLinesAreThrottledAndCountedAndRestartsRateLimited) {
  Master m;
  m.start(1s);
  auto restart = [&](Duration at) {  // a claims a restart: seq back, newer stamp
    m.set(at);
    net::NodeReport r = report("a", {{"M1", 1, 1, 0, 0, 10.0, 5.0, 0}});
    r.seq = 1;
    m.report(r);
  };
  auto restart_lines = [](const Actions& a) {
    return std::count_if(a.logs.begin(), a.logs.end(),
                         [](const std::string& l) { return l.find("restarted:") != std::string::npos; });
  };
  restart(2s);
  restart(2500ms);  // again within kMinLifetime: refused, stale
  Actions a = m.tick();
  EXPECT_EQ(restart_lines(a), 1);
  EXPECT_TRUE(has_log(a, "refused a node_report sample (stale): node a restarted again within"));
  EXPECT_EQ(m.core().node_restarts(), 1u);
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kNodeReport, SampleRejection::kStale), 1u);
  EXPECT_EQ(m.core().state().accounts()[0].met, 1u);  // the refused one added nothing
  restart(2s + kMinLifetime);
  EXPECT_EQ(restart_lines(m.tick()), 0);  // within kRestartLogEvery of the last line: counted only
  EXPECT_EQ(m.core().node_restarts(), 2u);
  restart(2s + kRestartLogEvery);
  a = m.tick();
  EXPECT_TRUE(has_log(a, "node a restarted: its counters start again (and 1 more such since the last line)"));
  EXPECT_EQ(m.core().node_restarts(), 3u);
  EXPECT_EQ(m.core().state().accounts()[0].met, 3u);
  // Cameras: their own throttle, count and rate limit.
  m.core().on_source_stats({"M1", "a", 30, 100, "a"}, m.now(), m.wall());
  m.core().on_source_stats({"M1", "a", 5, 300, "a"}, m.now(), m.wall());
  m.core().on_source_stats({"M1", "a", 2, 400, "a"}, m.now(), m.wall());  // again at once: stale
  a = m.tick();
  EXPECT_TRUE(has_log(a, "the camera of task M1 restarted"));
  EXPECT_EQ(m.core().camera_restarts(), 1u);
  EXPECT_EQ(m.core().rejections().total(SampleTopic::kSourceStats, SampleRejection::kStale), 1u);
  EXPECT_EQ(m.core().state().accounts()[0].released, 35u);
}

TEST(MasterCore, SourceStatsFromAnotherCameraOrGoingDownAreRefused) {
  Master m;
  m.start(1s);
  m.set(2s);
  m.core().on_source_stats({"M1", "a", 30, 100, "a"}, m.now(), m.wall());
  m.core().on_source_stats({"M1", "b", 900, 200, "b"}, m.now(), m.wall());  // b's camera is not M1's source
  m.core().on_source_stats({"M1", "a", 900, 200, "b"}, m.now(), m.wall());  // b writing as a
  m.core().on_source_stats({"M1", "a", 10, 100, "a"}, m.now(), m.wall());   // went down, no newer stamp
  EXPECT_EQ(m.core().state().accounts()[0].released, 30u);
  // a's camera restarted: before its first frame it says (0, 0) every second: ignored, not refused.
  for (int i = 0; i < 3; ++i) m.core().on_source_stats({"M1", "a", 0, 0, "a"}, m.now(), m.wall());
  EXPECT_EQ(m.core().state().accounts()[0].released, 30u);
  m.core().on_source_stats({"M1", "a", 5, 300, "a"}, m.now(), m.wall());  // its first frames
  EXPECT_EQ(m.core().state().accounts()[0].released, 35u);
  const RejectionCounter& r = m.core().rejections();
  EXPECT_EQ(r.total(SampleTopic::kSourceStats, SampleRejection::kNotSource), 1u);
  EXPECT_EQ(r.total(SampleTopic::kSourceStats, SampleRejection::kSenderMismatch), 1u);
  EXPECT_EQ(r.total(SampleTopic::kSourceStats, SampleRejection::kCounterDecreased), 1u);
}

TEST(MasterCore, AStopBeforeAnyWindowStillPublishesStage1AndStops) {
  Master m;
  m.set(1s);
  for (const char* n : {"a", "b", "c"}) m.report(report(n));
  m.core().request_stop(m.now());
  const Actions a = m.tick();
  EXPECT_EQ(a.phases, (std::vector<Phase>{Phase::kRunning, Phase::kSettling}));
  EXPECT_EQ(a.plans.size(), 1u);
  ASSERT_EQ(a.commands.size(), 1u);
  EXPECT_EQ(a.commands[0].command, "stop-sources");
}

TEST(MasterCore, ProgressLinesComeEveryPeriod) {
  MasterConfig c = config();
  c.progress_every = 10s;
  c.window = 30s;
  Master m(c);
  m.start(0s);
  m.report(report("a", {{"M1", 10, 9, 1, 0, 1000, 1000, 0}}));
  Actions a = m.tick_at(9s);
  EXPECT_FALSE(has_log(a, "jobs closed"));
  EXPECT_EQ(a.wake_at, m.at(10s));
  a = m.tick_at(10s);
  EXPECT_TRUE(has_log(a, "   10s: jobs closed 10 of 10 accepted, miss 10.00%")) << (a.logs.empty() ? "" : a.logs[0]);
  EXPECT_EQ(a.wake_at, m.at(20s));
}

// Random liveliness changes and tick times: windows stay on the grid, versions go up by
// one per published plan, each published plan differs from the one before, and no plan
// gives a task to a node that is lost.
TEST(MasterCore, RandomLivelinessKeepsTheGridTheVersionsAndLostNodesEmpty) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Master m;
    m.start(0s);
    Rng rng(seed);
    std::vector<bool> alive(3, true);
    uint64_t version = 1;
    int windows = 0;
    std::vector<std::string> last(2, "a");
    Duration t = 0s;
    while (t < 200s) {
      const Duration step = Duration(static_cast<int64_t>(rng.uniform(1e3, rng.uniform() < 0.1 ? 25e6 : 4e6)));
      const int next_boundary = static_cast<int>((t + step) / 10s);
      t += step;
      m.set(t);
      if (rng.uniform() < 0.3) {
        const auto k = static_cast<size_t>(rng.next() % 3);
        alive[k] = !alive[k];
        m.liveliness(m.scenario().nodes[k].name, alive[k]);
      }
      const Actions a = m.tick();
      for (const PublishedPlan& p : a.plans) {
        EXPECT_EQ(p.plan.version, ++version) << "seed " << seed;
        std::vector<std::string> now_at;
        for (const net::Assignment& as : p.plan.assignments) {
          now_at.push_back(as.node);
          const NodeIndex k = m.scenario().find_node(as.node);
          if (k != kNone) {
            EXPECT_TRUE(alive[k]) << "seed " << seed << ": " << as.task << " on lost " << as.node;
          }
        }
        EXPECT_NE(now_at, last) << "seed " << seed << ": an unchanged plan was published";
        last = now_at;
      }
      if (next_boundary > windows) {
        ASSERT_EQ(a.windows.size(), 1u) << "seed " << seed << " t " << to_s(t);
        windows = next_boundary;  // late ticks merge missed windows
        EXPECT_EQ(a.wake_at, m.at(Duration(std::chrono::seconds((windows + 1) * 10)))) << "seed " << seed;
      } else {
        EXPECT_TRUE(a.windows.empty()) << "seed " << seed << " t " << to_s(t);
      }
    }
  }
}

TEST(MasterFiles, LinesAndSummaryCarryTheRecordsFields) {
  Master m;
  const Actions a = m.start(1s);
  ASSERT_EQ(a.plans.size(), 1u);
  const nlohmann::json plan = nlohmann::json::parse(plan_json_line(a.plans[0]));
  EXPECT_EQ(plan["version"], 1);
  EXPECT_EQ(plan["epoch"].get<uint64_t>(), kEpoch);
  EXPECT_EQ(plan["assignments"]["M2"], "a");
  EXPECT_DOUBLE_EQ(plan["effective_unix_s"].get<double>(), static_cast<double>(m.wall() + 500'000'000) / 1e9);

  m.set(5s);
  m.core().on_source_stats({"M1", "a", 10, 0, ""}, m.now(), m.wall());
  m.report(report("a", {{"M1", 10, 9, 1, 0, 1000, 1000, 0}}, 1));
  net::NodeReport b = report("b");
  b.links = {{"a", 40, "probe"}};
  m.report(b);
  const Actions w = m.tick_at(11s);
  ASSERT_EQ(w.windows.size(), 1u);
  const nlohmann::json window = nlohmann::json::parse(window_json_line(m.scenario(), w.windows[0]));
  EXPECT_EQ(window["window"], 1);
  EXPECT_EQ(window["tasks"]["M1"]["finished"], 10);
  EXPECT_EQ(window["tasks"]["M1"]["missed"], 1);
  EXPECT_EQ(window["links"][0]["a"], "a");
  EXPECT_EQ(window["links"][0]["b"], "b");
  EXPECT_TRUE(window["changes"].is_array());

  m.core().request_stop(m.now());
  m.tick();
  m.tick_at(20s);
  for (const char* n : {"a", "b", "c"}) m.liveliness(n, false);
  const Actions end = m.tick();
  ASSERT_TRUE(end.finished.has_value() && end.finished->ok());
  const nlohmann::json s = nlohmann::json::parse(summary_json(end.finished->value()));
  for (const char* key : {"scenario", "dispatcher", "duration_s", "window_s", "plan_versions", "tasks", "models",
                          "totals", "measured_profiles", "allocation", "epoch", "nodes"})
    EXPECT_TRUE(s.contains(key)) << key;
  EXPECT_EQ(s["nodes"]["a"]["plan_version"], 1);
  EXPECT_EQ(s["nodes"]["a"]["plan_epoch"].get<uint64_t>(), kEpoch);
  EXPECT_EQ(s["allocation"]["a"], nlohmann::json::array({"M1", "M2"}));
  EXPECT_EQ(s["tasks"][0]["met"], 9);
  EXPECT_EQ(s["tasks"][0]["node"], "a");
  EXPECT_EQ(s["totals"]["accounted"], true);
  EXPECT_NE(summary_table(end.finished->value()).find("M1"), std::string::npos);
}

// A camera driver's task that took no frame (its driver silent, on another topic, or
// best effort against a reliable reader) reads as a clean run of nothing: the table says
// why that may be; one that took frames, or was never placed, gets no such line.
TEST(MasterFiles, ADriversTaskThatTookNoFrameIsPointedOut) {
  MasterSummary s;
  TaskSummary silent;
  silent.task = "gate";
  silent.node = "a";
  silent.topic = "/gate/image_raw";
  TaskSummary busy = silent;
  busy.task = "yard";
  busy.account.released = busy.account.met = 4;
  TaskSummary unplaced = silent;
  unplaced.task = "dock";
  unplaced.node = "-";
  s.tasks = {silent, busy, unplaced};
  const std::string table = summary_table(s);
  EXPECT_NE(table.find("task gate: no frame was taken from its driver's topic /gate/image_raw"), std::string::npos)
      << table;
  EXPECT_EQ(table.find("task yard: no frame"), std::string::npos) << table;
  EXPECT_EQ(table.find("task dock: no frame"), std::string::npos) << table;
  EXPECT_EQ(nlohmann::json::parse(summary_json(s))["tasks"][0]["topic"], "/gate/image_raw");
}

// Issue 17: the master's log and files say why a task is unplaced, term by term, and
// stage 2 says why it does not re-admit it only when the reason changes.
TEST(MasterCore, ExplainsUnplacedTasksInTheLogWindowsAndSummary) {
  const Scenario s = ScenarioBuilder()
                         .node("a")
                         .node("b")
                         .default_mbps(100)
                         .model(make_model("yolo", 650, 520, 12500, 30, 40))
                         .task("Late", "a", "yolo", 1000, 1, 700)
                         .run(60, 10)
                         .build();
  Master m(config(), s);
  const Actions a = m.start(1s);
  EXPECT_TRUE(has_log(a, "stage 1: Late - -> - (unplaceable): best node a: transfer 0 ms + queueing 0 ms + "
                         "inference 650 ms + pre/post 70 ms = 720 ms > deadline 700 ms (misses by 20 ms"))
      << ::testing::PrintToString(a.logs);
  const Actions w1 = m.tick_at(11s);
  ASSERT_EQ(w1.windows.size(), 1u);
  EXPECT_FALSE(has_log(w1, "still waits")) << "same reason as stage 1's record";
  const nlohmann::json window = nlohmann::json::parse(window_json_line(m.scenario(), w1.windows[0]));
  EXPECT_TRUE(window["waiting"].is_array());
  EXPECT_TRUE(window["explanations"].is_array());

  // b is lost: Late's candidates change (b: node lost), which is news.
  m.set(12s);
  m.liveliness("b", false);
  m.tick();
  const Actions w2 = m.tick_at(21s);
  ASSERT_EQ(w2.windows.size(), 1u);
  EXPECT_TRUE(has_log(w2, "window 2: Late still waits: best node a:")) << ::testing::PrintToString(w2.logs);
  const nlohmann::json line = nlohmann::json::parse(window_json_line(m.scenario(), w2.windows[0]));
  ASSERT_EQ(line["waiting"].size(), 1u);
  EXPECT_EQ(line["waiting"][0]["task"], "Late");
  EXPECT_EQ(line["waiting"][0]["explanation"]["candidates"][1]["verdict"], "node_lost");

  m.core().request_stop(m.now());
  m.tick();
  m.tick_at(30s);
  m.liveliness("a", false);
  const Actions end = m.tick();
  ASSERT_TRUE(end.finished.has_value() && end.finished->ok());
  const nlohmann::json summary = nlohmann::json::parse(summary_json(end.finished->value()));
  ASSERT_TRUE(summary["why"].contains("Late")) << summary.dump(2);
  EXPECT_EQ(summary["why"]["Late"]["status"], "unplaced");
  EXPECT_EQ(summary["why"]["Late"]["explanation"]["candidates"][0]["inference_ms"], 650.0);
  EXPECT_NE(summary["why"]["Late"]["text"].get<std::string>().find("Late unplaced: best node a:"), std::string::npos);
}

}  // namespace
}  // namespace coedge::master
