#include "sim/simulator.h"

#include <cctype>

#include <gtest/gtest.h>

#include "sim/report.h"
#include "../scenario_builder.h"

namespace coedge::sim {
namespace {

using testing::make_model;
using testing::ScenarioBuilder;

sim::SimResult run(const Scenario& s, const char* dispatcher, const char* scheduler,
              bool record = true) {
  sim::SimOptions o;
  o.policy.dispatcher = *policy::DispatcherSpec::parse(dispatcher);
  o.policy.scheduler = *policy::SchedulerSpec::parse(scheduler);
  o.record_jobs = record;
  return sim::simulate(s, o);
}

Scenario aligned(ScenarioBuilder b, double duration_s = 1, double window_s = 120) {
  Scenario s = b.run(duration_s, window_s).build();
  s.run.random_phase = false;
  return s;
}

void expect_complete_accounting(const sim::SimResult& r) {
  uint64_t total = 0;
  for (const sim::TaskTally& t : r.tasks) {
    EXPECT_EQ(t.released, t.met + t.overdue + t.dropped);
    total += t.released;
  }
  EXPECT_EQ(total, r.jobs_released);
}

TEST(Simulator, ALoneTaskTakesPrePlusInferencePlusPost) {
  const Scenario s = aligned(ScenarioBuilder()
                                 .node("a")
                                 .model(make_model("m", 10, 5, 1000, 2, 3))
                                 .task("T", "a", "m", 100));
  const sim::SimResult r = run(s, "local", "coedge");
  ASSERT_EQ(r.tasks[0].released, 10u);  // releases at 0, 100, ..., 900 ms
  EXPECT_EQ(r.tasks[0].met, 10u);
  for (int64_t latency : r.tasks[0].latencies_us) EXPECT_EQ(latency, 15000);
  const JobRecord& j = r.jobs[0];
  EXPECT_EQ(j.pre_end - j.pre_start, from_ms(2));
  EXPECT_EQ(j.infer_end - j.infer_start, from_ms(10));
  EXPECT_EQ(j.end - j.post_start, from_ms(3));
  EXPECT_EQ(j.batch, 1);
}

TEST(Simulator, OffloadedJobsPayTheTransfer) {
  // Two 60 ms tasks from a cannot share a's accelerator within 100 ms: the second goes to
  // b, and its input (12,500 bytes at 100 Mbit/s = 1 ms, plus 2 ms latency) travels.
  const Scenario s = aligned(ScenarioBuilder()
                                 .node("a")
                                 .node("b")
                                 .link("a", "b", 100, 2)
                                 .model(make_model("m", 60, 0, 12500))
                                 .task("T1", "a", "m", 100)
                                 .task("T2", "a", "m", 100));
  const sim::SimResult r = run(s, "coedge", "coedge");
  EXPECT_EQ(r.final_plan.node_of_task, (std::vector<NodeIndex>{0, 1}));
  for (int64_t latency : r.tasks[0].latencies_us) EXPECT_EQ(latency, 60000);
  for (int64_t latency : r.tasks[1].latencies_us) EXPECT_EQ(latency, 63000);
  EXPECT_EQ(r.tasks[1].met, 10u);
}

TEST(Simulator, ALinkCarriesOneTransferAtATime) {
  // a hosts two 40 ms tasks per 100 ms period; T3 and T4 go to b. They release together
  // and their 10 ms transfers (12,500 bytes at 10 Mbit/s) queue on the a->b link.
  const Scenario s = aligned(ScenarioBuilder()
                                 .node("a")
                                 .node("b")
                                 .link("a", "b", 10)
                                 .model(make_model("m", 40, 40, 12500))
                                 .task("T1", "a", "m", 100)
                                 .task("T2", "a", "m", 100)
                                 .task("T3", "a", "m", 100)
                                 .task("T4", "a", "m", 100),
                             0.05);
  const sim::SimResult r = run(s, "coedge", "coedge");
  ASSERT_EQ(r.final_plan.node_of_task, (std::vector<NodeIndex>{0, 0, 1, 1}));
  std::vector<Duration> transfer(4);
  for (const JobRecord& j : r.jobs) transfer[j.task] = j.arrive - j.release;
  EXPECT_EQ(transfer, (std::vector<Duration>{Duration{0}, Duration{0}, from_ms(10), from_ms(20)}));
}

TEST(Simulator, CoedgeBatchesJobsThatEdfRunsOneByOne) {
  ScenarioBuilder b = ScenarioBuilder().node("a").model(make_model("m", 100, 20));
  for (const char* name : {"T1", "T2", "T3"}) b.task(name, "a", "m", 1000);
  const Scenario s = aligned(b);
  const sim::SimResult batched = run(s, "local", "coedge");
  const sim::SimResult single = run(s, "local", "edf");
  // All three release at 0. Batched: one pass of ExeTime(3) = 140 ms for everyone.
  for (const sim::TaskTally& t : batched.tasks) EXPECT_EQ(t.latencies_us[0], 140000);
  EXPECT_EQ(batched.jobs[0].batch, 3);
  // EDF: 100, 200 and 300 ms, in release order.
  EXPECT_EQ(single.tasks[0].latencies_us[0], 100000);
  EXPECT_EQ(single.tasks[1].latencies_us[0], 200000);
  EXPECT_EQ(single.tasks[2].latencies_us[0], 300000);
}

TEST(Simulator, CpuCoresAreSharedFirstComeFirstServed) {
  const Scenario s = aligned(ScenarioBuilder()
                                 .node("a", 1)
                                 .model(make_model("m", 1, 0, 1, 10, 0))
                                 .task("T1", "a", "m", 1000)
                                 .task("T2", "a", "m", 1000));
  const sim::SimResult r = run(s, "local", "edf");
  EXPECT_EQ(r.jobs[0].pre_start, kEpoch);
  const JobRecord& second = r.jobs[0].task == 1 ? r.jobs[0] : r.jobs[1];
  EXPECT_EQ(second.pre_start, kEpoch + from_ms(10));  // waited for the only core
}

// Job conservation, for every dispatcher variant with every scheduler variant: each
// released job is recorded exactly once (ids 0..released-1, in release order), ends met,
// overdue or dropped (a drop with its cause, nothing else with one), and the per-task
// tallies agree with the records. The fleet is built to exercise every path: an
// overloaded node (drops, overdue jobs, stage-2 evictions), a task no node can meet
// (unplaced), a node reachable only over a slow link, jitter everywhere.
class Conservation : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(Conservation, EveryReleasedJobEndsOnceMetOverdueOrDropped) {
  ScenarioBuilder b = ScenarioBuilder()
                          .node("a", 1)
                          .node("b", 2)
                          .node("c", 2)
                          .link("a", "b", 100)
                          .link("b", "c", 2)
                          .model(make_model("m", 90, 30, 12500, 5, 5))
                          .model(make_model("n", 40, 10, 50000, 3, 3));
  for (int i = 0; i < 6; ++i) b.task("T" + std::to_string(i), "a", "m", 200, i % 3);
  for (int i = 0; i < 3; ++i) b.task("U" + std::to_string(i), "c", "n", 120, i, 0, 0.05);
  b.task("Hopeless", "b", "m", 500, 1, 50);  // 90 ms of inference against a 50 ms deadline
  Scenario s = b.run(60, 10).build();
  s.run.exec_jitter = 0.2;
  s.run.release_jitter = from_ms(30);
  const auto& [dispatcher, scheduler] = GetParam();
  const sim::SimResult r = run(s, dispatcher.c_str(), scheduler.c_str(), true);
  expect_complete_accounting(r);
  EXPECT_GT(r.jobs_released, 1000u);
  ASSERT_EQ(r.jobs.size(), r.jobs_released);
  std::vector<sim::TaskTally> tallies(s.tasks.size());
  std::vector<bool> seen(r.jobs_released, false);
  for (const sim::JobRecord& j : r.jobs) {
    ASSERT_LT(j.id, r.jobs_released);
    EXPECT_FALSE(seen[j.id]) << "job " << j.id << " recorded twice";
    seen[j.id] = true;
    ASSERT_LT(j.task, s.tasks.size());
    switch (j.outcome) {
      case JobOutcome::kMet: ++tallies[j.task].met; break;
      case JobOutcome::kOverdue: ++tallies[j.task].overdue; break;
      case JobOutcome::kDropped: ++tallies[j.task].dropped; break;
      case JobOutcome::kOpen: ADD_FAILURE() << "job " << j.id << " never ended"; break;
    }
    EXPECT_EQ(j.outcome == JobOutcome::kDropped, j.drop != DropCause::kNone) << "job " << j.id;
    if (j.outcome != JobOutcome::kDropped) {
      EXPECT_GE(j.end, j.release) << "job " << j.id;
    }
  }
  for (TaskIndex t = 0; t < s.tasks.size(); ++t) {
    EXPECT_EQ(tallies[t].met, r.tasks[t].met) << s.tasks[t].name;
    EXPECT_EQ(tallies[t].overdue, r.tasks[t].overdue) << s.tasks[t].name;
    EXPECT_EQ(tallies[t].dropped, r.tasks[t].dropped) << s.tasks[t].name;
  }
}

std::vector<std::string> dispatcher_texts() {
  std::vector<std::string> out;
  for (const policy::DispatcherSpec& d : policy::dispatcher_variants()) out.push_back(d.text());
  return out;
}
std::vector<std::string> scheduler_texts() {
  std::vector<std::string> out;
  for (const policy::SchedulerSpec& s : policy::scheduler_variants()) out.push_back(s.text());
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    EveryPolicyPair, Conservation,
    ::testing::Combine(::testing::ValuesIn(dispatcher_texts()), ::testing::ValuesIn(scheduler_texts())),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + "_with_" + std::get<1>(info.param);
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(Simulator, OverloadMakesEdfLateAndCoedgeDrop) {
  ScenarioBuilder b = ScenarioBuilder().node("a").model(make_model("m", 100, 100));
  for (int i = 0; i < 3; ++i) b.task("T" + std::to_string(i), "a", "m", 250);
  const Scenario s = b.run(30, 120).build();
  const sim::SimResult edf = run(s, "local", "edf", false);
  const sim::SimResult coedge = run(s, "local", "coedge", false);
  uint64_t edf_overdue = 0, coedge_dropped = 0, coedge_overdue = 0;
  for (const sim::TaskTally& t : edf.tasks) edf_overdue += t.overdue;
  for (const sim::TaskTally& t : coedge.tasks) {
    coedge_dropped += t.dropped;
    coedge_overdue += t.overdue;
  }
  EXPECT_GT(edf_overdue, edf.jobs_released / 2);  // 120% load, no dropping: late forever
  EXPECT_GT(coedge_dropped, 0u);
  EXPECT_EQ(coedge_overdue, 0u);  // with exact profiles, what runs is on time
}

TEST(Simulator, UnplacedTasksHaveAllTheirJobsDropped) {
  const Scenario s = aligned(ScenarioBuilder()
                                 .node("a")
                                 .model(make_model("m", 300, 0))
                                 .task("T", "a", "m", 1000, 0, 200));
  const sim::SimResult r = run(s, "coedge", "coedge");
  EXPECT_EQ(r.final_plan.node_of_task[0], kNone);
  EXPECT_EQ(r.tasks[0].dropped, r.tasks[0].released);
  EXPECT_EQ(r.jobs[0].drop, DropCause::kUnplaced);
}

TEST(Simulator, SameSeedSameResultAndAnotherSeedAnother) {
  ScenarioBuilder b = ScenarioBuilder().node("a").node("b").default_mbps(50).model(
      make_model("m", 40, 10, 50000, 3, 3));
  for (int i = 0; i < 8; ++i) b.task("T" + std::to_string(i), i % 2 ? "a" : "b", "m", 150, i);
  Scenario s = b.run(120, 20, 42).build();
  s.run.exec_jitter = 0.3;
  const sim::SimResult one = run(s, "coedge", "coedge");
  const sim::SimResult two = run(s, "coedge", "coedge");
  ASSERT_EQ(one.jobs.size(), two.jobs.size());
  for (size_t i = 0; i < one.jobs.size(); ++i) ASSERT_EQ(one.jobs[i].end, two.jobs[i].end);
  s.run.seed = 43;
  const sim::SimResult other = run(s, "coedge", "coedge");
  bool differs = other.jobs.size() != one.jobs.size();
  for (size_t i = 0; !differs && i < one.jobs.size(); ++i)
    differs = one.jobs[i].end != other.jobs[i].end;
  EXPECT_TRUE(differs);
}

TEST(Report, MissRateCountsOverdueAndDropped) {
  sim::SimResult r;
  r.tasks.resize(1);
  r.tasks[0] = sim::TaskTally{10, 6, 3, 1, {1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000}};
  r.initial_plan.node_of_task = r.final_plan.node_of_task = {0};
  const Scenario s = ScenarioBuilder().node("a").model(make_model("m", 1, 0)).task(
      "T", "a", "m", 100).build();
  const sim::RunSummary sum = summarize(s, r, "x");
  EXPECT_DOUBLE_EQ(sum.overall.miss_rate, 0.4);
  EXPECT_DOUBLE_EQ(sum.overall.mean_ms, 5.0);
  EXPECT_DOUBLE_EQ(sum.overall.p50_ms, 5.0);
  EXPECT_DOUBLE_EQ(sum.overall.p99_ms, 9.0);
  ASSERT_EQ(sum.model_names, std::vector<std::string>{"m"});
}

}  // namespace
}  // namespace coedge::sim

namespace coedge::sim {
namespace {

TEST(Simulator, ATransferTooLongForTheClockDropsTheJobAsUnreachable) {
  // 1e12 bytes at 0.001 Mbit/s: 8e15 us, past what the clock adds safely. The dispatcher
  // sees no way to b, and a plan that used b anyway would drop, never overflow.
  ScenarioBuilder b = ScenarioBuilder().node("a").node("b").link("a", "b", 0.001);
  b.model(make_model("m", 60, 0, 1'000'000'000'000)).task("T1", "a", "m", 100).task("T2", "a", "m", 100);
  const Scenario s = aligned(b);
  const sim::SimResult r = run(s, "coedge", "coedge");
  EXPECT_EQ(r.final_plan.node_of_task[1], kNone);  // not offloaded over the hopeless link
  for (const sim::TaskTally& t : r.tasks)
    for (int64_t latency : t.latencies_us) EXPECT_GE(latency, 0);
  expect_complete_accounting(r);
  // Spread ignores bandwidth: a has room for one 0.6 task, so T2 goes to b, over that link.
  const sim::SimResult spread = run(s, "spread", "coedge");
  ASSERT_EQ(spread.final_plan.node_of_task[1], 1u);
  expect_complete_accounting(spread);
  EXPECT_EQ(spread.tasks[1].released, 10u);
  EXPECT_EQ(spread.tasks[1].dropped, spread.tasks[1].released);
  for (const sim::JobRecord& j : spread.jobs) {
    if (j.task != 1) continue;
    EXPECT_EQ(j.outcome, JobOutcome::kDropped) << "job " << j.id;
    EXPECT_EQ(j.drop, DropCause::kUnreachable) << "job " << j.id;
    EXPECT_EQ(j.end, j.release) << "job " << j.id;  // at once, never after an overflowed wait
  }
}

TEST(Simulator, EndTimeIsWhenTheLastJobEndedAndLateLinkChangesAreIgnored) {
  Scenario s = aligned(ScenarioBuilder()
                           .node("a")
                           .node("b")
                           .link("a", "b", 100)
                           .model(make_model("m", 10, 0))
                           .task("T", "a", "m", 100),
                       1);
  const sim::SimResult without = run(s, "local", "coedge");
  s.link_changes.push_back({std::chrono::seconds(300), 0, 1, 10});  // after the run
  const sim::SimResult r = run(s, "local", "coedge");
  EXPECT_EQ(r.end_time, kEpoch + from_ms(910));  // the last job: released 900, ran 10 ms
  // Ignored: never even queued, so the run processed exactly the events it had without it.
  EXPECT_EQ(r.events, without.events);
  EXPECT_EQ(r.end_time, without.end_time);
}

TEST(Simulator, AShortWindowCostsNoMemoryUpFront) {
  const ScenarioBuilder b =
      ScenarioBuilder().node("a").model(make_model("m", 1, 0)).task("T", "a", "m", 100);
  const sim::SimResult r = run(aligned(b, 2, 0.001), "coedge", "coedge", false);
  EXPECT_EQ(r.windows.size(), 2000u);  // one report row per window and task
  // 2000 windows, yet the event queue never held more than one window event: as many
  // events at once as a run with no window at all (the default 120 s is past the end),
  // plus that one. Queuing every window up front would have made it 2000 and more.
  const sim::SimResult no_windows = run(aligned(b, 2), "coedge", "coedge", false);
  EXPECT_TRUE(no_windows.windows.empty());
  EXPECT_GT(r.peak_pending_events, 0u);
  EXPECT_LE(r.peak_pending_events, no_windows.peak_pending_events + 1);
  EXPECT_LT(r.peak_pending_events, 10u);
}

}  // namespace
}  // namespace coedge::sim

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/city_generator.h"

namespace coedge::sim {
namespace {

TEST(Report, CsvFieldsWithCommasQuotesOrLongNamesStayIntact) {
  Scenario s = aligned(ScenarioBuilder().node("a").model(make_model("m", 1, 0)).task(
      "T", "a", "m", 100));
  s.tasks[0].name = "say \"hi\", then " + std::string(600, 'x');
  const sim::SimResult r = run(s, "local", "coedge");
  const auto dir = std::filesystem::temp_directory_path() /
                   ("coedge-report-csv-" + std::to_string(::getpid()));
  ASSERT_TRUE(sim::write_run_files(dir.string(), s, r, sim::summarize(s, r, "x")).ok());
  std::ifstream in(dir / "tasks.csv");
  std::stringstream text;
  text << in.rdbuf();
  const std::string expected = "\"say \"\"hi\"\", then " + std::string(600, 'x') + "\",m,a,10,10,";
  EXPECT_NE(text.str().find(expected), std::string::npos) << text.str().substr(0, 200);
  std::ifstream windows(dir / "windows.csv");
  int lines = 0;
  for (std::string line; std::getline(windows, line);) ++lines;
  EXPECT_EQ(lines, 1);  // header only: the run is shorter than a window
  std::filesystem::remove_all(dir);
}

TEST(CityGenerator, MakesASparseReachableFleetAtTheRequestedLoad) {
  sim::CityOptions o;
  o.nodes = 400;
  o.load = 0.9;
  const std::vector<ModelProfile> models{make_model("a", 100, 10), make_model("b", 300, 30)};
  auto city = sim::generate_city(o, models);
  ASSERT_TRUE(city.ok());
  EXPECT_EQ(city->nodes.size(), 400u);
  double load = 0;
  for (const TaskSpec& t : city->tasks) load += to_s(models[t.model].exe(1)) / to_s(t.period);
  EXPECT_NEAR(load / 400, 0.9, 0.1);
  size_t links = 0;
  for (const auto& adjacency : city->network.adjacency) {
    EXPECT_FALSE(adjacency.empty()) << "a lamppost no task can be offloaded to or from";
    links += adjacency.size();
    for (const Link& l : adjacency) {
      EXPECT_GE(l.mbps, 50);
      EXPECT_LE(l.mbps, 100);
    }
  }
  EXPECT_GT(links / 400.0, 2.0);   // every lamppost has neighbours ...
  EXPECT_LT(links / 400.0, 20.0);  // ... but only a few
  EXPECT_EQ(city->network.default_mbps, 0);
}

TEST(CityGenerator, FixedTaskCountStretchesPeriodsToTheLoad) {
  sim::CityOptions o;
  o.nodes = 100;
  o.tasks = 1000;
  o.load = 0.5;
  const std::vector<ModelProfile> models{make_model("a", 100, 10)};
  auto city = sim::generate_city(o, models);
  ASSERT_TRUE(city.ok());
  ASSERT_EQ(city->tasks.size(), 1000u);
  EXPECT_EQ(city->tasks[0].period, from_ms(2000));  // 100 ms per task at 0.05 each
}

TEST(CityGenerator, RejectsLoadsThatMakeNoSense) {
  sim::CityOptions o;
  const std::vector<ModelProfile> models{make_model("a", 100, 10)};
  o.load = 0;
  EXPECT_FALSE(sim::generate_city(o, models).ok());
  o.load = 1e-12;
  o.tasks = 3;
  auto r = sim::generate_city(o, models);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("longer than a day"), std::string::npos);
}

}  // namespace
}  // namespace coedge::sim
