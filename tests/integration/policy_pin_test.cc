// Pins every shipped scenario's `coedge sim --compare all` numbers. tests/data/compare_all/
// holds, per scenario, compare.csv as written before the policies got their spec names
// (commit 294ea12, labels translated: coedge+/coedge-wait became
// coedge:batch-aware+coedge:wait-for-batch, and so on). Each pair is named explicitly by
// its label in that file, parsed as a PolicySpec, simulated, and its rows must come out
// byte for byte the same: renaming the policies and layers changed no decision.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "config/scenario_loader.h"
#include "policy/policy_spec.h"
#include "sim/lower_bound.h"
#include "sim/report.h"
#include "sim/simulator.h"

namespace coedge::sim {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first CSV field of a line: the pair's label, quoted when it holds a comma.
std::string first_field(const std::string& line) {
  if (line.empty() || line[0] != '"') return line.substr(0, line.find(','));
  std::string out;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out += '"';
      ++i;
    } else if (line[i] == '"') {
      break;
    } else {
      out += line[i];
    }
  }
  return out;
}

class ComparePin : public ::testing::TestWithParam<std::string> {};

TEST_P(ComparePin, EveryPairGivesThePinnedNumbers) {
  const std::string name = GetParam();
  const fs::path golden = fs::path(COEDGE_SOURCE_DIR) / "tests/data/compare_all" / (name + ".csv");
  auto scenario = config::load_scenario(std::string(COEDGE_SOURCE_DIR) + "/examples/" + name + ".yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  const std::string expected = slurp(golden);
  std::vector<std::string> labels;
  std::istringstream lines(expected);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    const std::string label = first_field(line);
    if (labels.empty() || labels.back() != label) labels.push_back(label);
  }
  ASSERT_EQ(labels.size(), 36u) << "every dispatcher variant with every scheduler variant";

  std::vector<RunSummary> summaries;
  for (const std::string& label : labels) {
    auto pair = policy::PolicySpec::parse(label);
    ASSERT_TRUE(pair.ok()) << pair.error().message;
    ASSERT_EQ(pair->label(), label) << "the pinned label is canonical";
    SimOptions options;
    options.policy = *pair;
    summaries.push_back(summarize(*scenario, simulate(*scenario, options), label));
  }
  const fs::path dir = fs::temp_directory_path() /
                       ("coedge-pin-" + std::to_string(::getpid()) + "-" + name);
  ASSERT_TRUE(write_comparison_files(dir.string(), *scenario, summaries,
                                     miss_rate_lower_bound(*scenario)).ok());
  EXPECT_EQ(slurp(dir / "compare.csv"), expected);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(ShippedScenarios, ComparePin,
                         ::testing::Values("lamppost", "indoor-100m", "indoor-1g",
                                           "batching-resnet-3", "batching-resnet-6",
                                           "batching-yolo-3", "batching-yolo-6"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// Every shipped scenario is pinned: a new example needs its file here too.
TEST(ComparePin, EveryShippedScenarioHasAPin) {
  for (const auto& entry : fs::directory_iterator(fs::path(COEDGE_SOURCE_DIR) / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_TRUE(fs::exists(fs::path(COEDGE_SOURCE_DIR) / "tests/data/compare_all" /
                           (entry.path().stem().string() + ".csv")))
        << entry.path();
  }
}

}  // namespace
}  // namespace coedge::sim
