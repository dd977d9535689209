// The paper's experiments on the shipped scenarios, end to end through the loader, the
// policies and the simulator. These pin the acceptance figures of the foundation issue;
// they are deterministic (seeded), not timing-dependent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/scenario_loader.h"
#include "sim/report.h"
#include "sim/simulator.h"

namespace coedge::sim {
namespace {

Scenario load(const std::string& name) {
  auto s = config::load_scenario(std::string(COEDGE_SOURCE_DIR) + "/examples/" + name);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return std::move(s.value());
}

// `pair` is DISPATCHER+SCHEDULER, e.g. "local+edf".
sim::RunSummary run(const Scenario& s, const char* pair, sim::SimResult* keep = nullptr) {
  sim::SimOptions o;
  auto spec = policy::PolicySpec::parse(pair);
  EXPECT_TRUE(spec.ok()) << pair;
  o.policy = *spec;
  sim::SimResult r = sim::simulate(s, o);
  sim::RunSummary summary = sim::summarize(s, r, o.policy.label());
  uint64_t accounted = 0;
  for (const sim::TaskTally& t : r.tasks) accounted += t.met + t.overdue + t.dropped;
  EXPECT_EQ(accounted, r.jobs_released);  // nothing lost
  if (keep) *keep = std::move(r);
  return summary;
}

TEST(Lamppost, CoedgeKeepsEveryModelWithinTenPercentAndBeatsLocalEdfByThreeQuarters) {
  const Scenario s = load("lamppost.yaml");
  sim::SimResult coedge_result;
  const sim::RunSummary coedge = run(s, "coedge+coedge", &coedge_result);
  const sim::RunSummary local_edf = run(s, "local+edf");
  for (size_t i = 0; i < coedge.models.size(); ++i) {
    SCOPED_TRACE(coedge.model_names[i]);
    EXPECT_LE(coedge.models[i].miss_rate, 0.10);
  }
  EXPECT_GT(local_edf.overall.miss_rate, 0.0);
  EXPECT_LE(coedge.overall.miss_rate, 0.25 * local_edf.overall.miss_rate);
}

TEST(Lamppost, Stage1ReproducesThePapersTable4) {
  const Scenario s = load("lamppost.yaml");
  sim::SimResult r;
  run(s, "coedge+coedge", &r);
  const auto cells = sim::allocation_by_node(s, r.initial_plan);
  EXPECT_EQ(cells[0], "Y1");
  EXPECT_EQ(cells[1], "V1,V2,V3");
  EXPECT_EQ(cells[2], "V4,V5,V6");
  EXPECT_EQ(cells[3], "Y2");
  EXPECT_EQ(cells[4], "R1,R2");
  EXPECT_EQ(cells[5], "Y3");
}

class Indoor : public ::testing::TestWithParam<const char*> {};

TEST_P(Indoor, CoedgeMissesLessThanNaiveWhichMissesLessThanNoOffloading) {
  const Scenario s = load(GetParam());
  const double coedge = run(s, "coedge+coedge").overall.miss_rate;
  const double naive = run(s, "naive+coedge").overall.miss_rate;
  const double local = run(s, "local+coedge").overall.miss_rate;
  EXPECT_LT(coedge, naive);
  EXPECT_LT(naive, local);
}
INSTANTIATE_TEST_SUITE_P(Bandwidths, Indoor,
                         ::testing::Values("indoor-100m.yaml", "indoor-1g.yaml"));

TEST(Batching, CoedgeMissesAtMostOnePercentWhereEdfAndFixedMissFifteen) {
  for (const char* name : {"batching-resnet-6.yaml", "batching-yolo-6.yaml"}) {
    SCOPED_TRACE(name);
    const Scenario s = load(name);
    EXPECT_LE(run(s, "local+coedge").overall.miss_rate, 0.01);
    EXPECT_GE(run(s, "local+edf").overall.miss_rate, 0.15);
    EXPECT_GE(run(s, "local+fixed").overall.miss_rate, 0.15);
  }
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Determinism, SameScenarioAndSeedGiveByteIdenticalFiles) {
  const Scenario s = load("lamppost.yaml");
  const auto base = std::filesystem::temp_directory_path() /
                    ("coedge-determinism-" + std::to_string(::getpid()));
  std::vector<std::filesystem::path> dirs = {base / "one", base / "two"};
  for (const auto& dir : dirs) {
    sim::SimOptions o;
    o.record_jobs = true;
    const sim::SimResult r = sim::simulate(s, o);
    ASSERT_TRUE(sim::write_run_files(dir.string(), s, r, sim::summarize(s, r, "x")).ok());
  }
  size_t compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dirs[0])) {
    const auto name = entry.path().filename();
    EXPECT_EQ(slurp(entry.path()), slurp(dirs[1] / name)) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 7u);  // tasks, models, allocation, windows, plan_changes, jobs, summary
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace coedge::sim

#include "sim/city_generator.h"

namespace coedge::sim {
namespace {

TEST(CoedgePlus, NeverWorseThanThePapersCoedgeOnTheShippedScenarios) {
  for (const char* name : {"lamppost.yaml", "indoor-100m.yaml", "indoor-1g.yaml",
                           "batching-resnet-3.yaml", "batching-resnet-6.yaml",
                           "batching-yolo-3.yaml", "batching-yolo-6.yaml"}) {
    SCOPED_TRACE(name);
    const Scenario s = load(name);
    EXPECT_LE(run(s, "coedge:batch-aware+coedge").overall.miss_rate,
              run(s, "coedge+coedge").overall.miss_rate);
  }
}

TEST(CoedgePlus, MissesAtLeastAThirdLessThanCoedgeOnAnOverloadedCity) {
  const Scenario jetson = load("lamppost.yaml");  // for the jetson-tx2 profile set
  sim::CityOptions city;
  city.nodes = 30;
  city.load = 1.0;
  city.duration = std::chrono::seconds(300);
  const Scenario s = sim::generate_city(city, jetson.models).value();
  const double paper = run(s, "coedge+coedge").overall.miss_rate;
  const double plus = run(s, "coedge:batch-aware+coedge").overall.miss_rate;
  EXPECT_GT(paper, 0.05);
  EXPECT_LE(plus, 0.7 * paper);
  EXPECT_LE(plus, paper * 2 / 3);  // a third less, as the name says (0.13 against 0.21)
}

}  // namespace
}  // namespace coedge::sim
