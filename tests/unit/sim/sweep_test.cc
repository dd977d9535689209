// run_sweep (sim/sweep.h): results by cell and pair that do not depend on the number of
// threads, a lower bound below every run, progress once per cell, and a bad cell named.
// `make tsan` runs these under ThreadSanitizer: the only threads of the sweep are here.
#include "sim/sweep.h"

#include <gtest/gtest.h>

#include "../scenario_builder.h"

namespace coedge::sim {
namespace {

using testing::make_model;

std::vector<policy::PolicySpec> pairs(std::initializer_list<const char*> texts) {
  std::vector<policy::PolicySpec> out;
  for (const char* text : texts) {
    auto spec = policy::PolicySpec::parse(text);
    EXPECT_TRUE(spec.ok()) << text;
    if (spec.ok()) out.push_back(*spec);
  }
  return out;
}

const std::vector<ModelProfile> kModels{make_model("small", 20, 4), make_model("large", 120, 30)};

std::vector<SweepCell> grid() {
  std::vector<SweepCell> cells;
  for (uint32_t nodes : {4u, 9u})
    for (double load : {0.6, 1.3})
      for (uint64_t seed : {1u, 2u}) cells.push_back({nodes, load, 100, seed});
  return cells;
}

TEST(Sweep, FourThreadsGiveWhatOneThreadGives) {
  const auto policies = pairs({"coedge+coedge", "local+edf", "spread+triton"});
  ASSERT_EQ(policies.size(), 3u);
  SweepOptions options;
  options.duration = std::chrono::seconds(60);
  options.threads = 1;
  auto one = run_sweep(grid(), policies, kModels, options);
  options.threads = 4;
  size_t calls = 0, last = 0;
  options.progress = [&](size_t finished, size_t total) {
    ++calls;
    EXPECT_EQ(finished, last + 1);  // one call at a time, in order
    EXPECT_EQ(total, grid().size());
    last = finished;
  };
  auto four = run_sweep(grid(), policies, kModels, options);
  ASSERT_TRUE(one.ok() && four.ok());
  EXPECT_EQ(calls, grid().size());
  ASSERT_EQ(one->outcomes.size(), grid().size() * policies.size());
  EXPECT_EQ(one->outcomes, four->outcomes);
  EXPECT_EQ(one->lower_bounds, four->lower_bounds);
  bool some_miss = false;
  for (size_t c = 0; c < grid().size(); ++c) {
    for (size_t p = 0; p < policies.size(); ++p) {
      const SweepOutcome& o = one->outcomes[c * policies.size() + p];
      EXPECT_GT(o.released, 0u) << c << " " << p;
      EXPECT_LE(one->lower_bounds[c], o.miss + 1e-9) << c << " " << p;
      some_miss = some_miss || o.miss > 0;
    }
  }
  EXPECT_TRUE(some_miss) << "a load of 1.3 misses somewhere: otherwise the grid checks little";
}

TEST(Sweep, ACellWhoseCityCannotBeMadeIsAnError) {
  std::vector<SweepCell> cells = grid();
  cells.push_back({0, 1.0, 100, 1});  // no nodes
  SweepOptions options;
  options.duration = std::chrono::seconds(10);
  options.threads = 2;
  auto r = run_sweep(cells, pairs({"local+edf"}), kModels, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message.find("the fleet of 0 nodes at load 1, 100 Mbit/s, seed 1: "), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace coedge::sim
