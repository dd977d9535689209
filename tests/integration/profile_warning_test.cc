// The node warns when reality leaves the profile (docs/NODE_CONFIG.md, `profile_margin`):
// a real `coedge node` whose profile set claims that YOLOv5s-160 runs in 1 ms per batch (it
// takes tens of ms on any CPU) must say so within its first window — on stderr, with the
// command that re-profiles, in its metrics and in summary.json. "Within the first window"
// is read from the node's own clock (the time it stamps on the warning, since the sensors'
// start), never from the test's: nothing here asserts how fast anything ran.
//
// The run writes into its own folder under /var/tmp (not /tmp: see node_runtime_test.cc),
// removed when the test passes and kept when it fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";
const std::string kModel = COEDGE_BINARY_DIR "/models/yolov5s-160.onnx";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ProfileWarningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/var/tmp") / ("coedge-profile-warning-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::printf("kept %s for inspection\n", dir_.c_str());
    }
  }
  fs::path dir_;
};

TEST_F(ProfileWarningTest, AProfileFarFasterThanRealityIsReportedWithinTheFirstWindow) {
  // ExeTime(b) = b ms: optimistic by more than an order of magnitude on any machine here.
  std::ofstream(dir_ / "fast-profile.yaml")
      << "profile_set: too-fast\n"
         "description: \"a profile far faster than reality, for the profile warning\"\n"
         "models:\n"
         "  - name: yolov5s-160\n"
         "    input_shape: [3, 160, 160]\n"
         "    input_bytes: 76800\n"
         "    exe_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
         "    pre: 5ms\n"
         "    post: 0s\n";
  // edf: batch 1 only, so the judged batch size fills at once (one batch every 100 ms).
  std::ofstream(dir_ / "node.yaml") << "node: slow-machine\n"
                                       "isolation: none\n"
                                       "scheduler: edf\n"
                                       "window: 10s\n"
                                       "duration: 4s\n"
                                       "run_dir: " << (dir_ / "run").string() << "\n"
                                    << "profiles: fast-profile.yaml\n"
                                       "models:\n  - {name: yolov5s-160, file: " << kModel << "}\n"
                                    << "sensors:\n  - {name: cam0, kind: synthetic, width: 320, height: 240}\n"
                                       "tasks:\n  - {name: t, model: yolov5s-160, sensor: cam0, period: 100ms}\n";
  const fs::path log = dir_ / "node.log";
  // `timeout` is a hang guard for a broken node, not a timing assertion.
  const std::string command = "cd " + dir_.string() + " && timeout -s KILL 300 " + kCoedge +
                              " node --config node.yaml > " + log.string() + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string output = read_text(log);
  ASSERT_EQ(status, 0) << output;

  // stderr: the warning, naming the model, the batch size, both figures, the ratio and the
  // command that re-profiles exactly this node's model.
  const std::regex line(
      R"(\[node slow-machine\] ([0-9.]+)s: profile warning: model yolov5s-160 at batch 1 took ([0-9.]+) ms )"
      R"(\(median of its first 3 batches\) against 1\.0 ms in its profile: ([0-9.]+)x, over the 1\.25x margin)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(output, m, line)) << output;
  const double logged_at_s = std::stod(m[1]);
  EXPECT_GT(std::stod(m[2]), 1.25);
  EXPECT_GT(std::stod(m[3]), 1.25);
  EXPECT_NE(output.find("Re-profile on this machine: " + kCoedge + " profile " + kModel +
                        " -o results/profiles/slow-machine.yaml; then run with --profiles "
                        "results/profiles/slow-machine.yaml"),
            std::string::npos)
      << output;
  // Before the first window's end, by the node's clock; and before the run's summary table.
  EXPECT_LT(logged_at_s, 10.0);
  EXPECT_LT(output.find("profile warning"), output.find("miss     mean ms")) << output;

  // summary.json: the same finding, stamped within the window it reports.
  const auto summary = nlohmann::json::parse(read_text(dir_ / "run" / "summary.json"));
  const auto& check = summary.at("profile_check");
  EXPECT_DOUBLE_EQ(check.at("margin").get<double>(), 0.25);
  const double window_s = check.at("window_s").get<double>();
  EXPECT_DOUBLE_EQ(window_s, 10.0);
  ASSERT_EQ(check.at("warnings").size(), 1u) << check.dump(2);
  const auto& w = check.at("warnings")[0];
  EXPECT_EQ(w.at("model"), "yolov5s-160");
  EXPECT_EQ(w.at("batch"), 1);
  EXPECT_EQ(w.at("batches"), 3);  // the model's first batches (kProfilePooledBatches)
  EXPECT_EQ(w.at("pooled"), true);  // the model's judgment, over sizes
  EXPECT_EQ(w.at("kind"), "slower");
  EXPECT_DOUBLE_EQ(w.at("profiled_ms").get<double>(), 1.0);
  EXPECT_GT(w.at("ratio").get<double>(), 1.25);
  EXPECT_DOUBLE_EQ(w.at("ratio").get<double>(), w.at("measured_ms").get<double>() / 1.0);
  EXPECT_GE(w.at("at_s").get<double>(), 0.0);
  EXPECT_LT(w.at("at_s").get<double>(), window_s);
  EXPECT_GT(check.at("ratio_by_model").at("yolov5s-160").get<double>(), 1.25);
  EXPECT_NE(check.at("reprofile").get<std::string>().find(" profile " + kModel), std::string::npos);

  // The metrics the run leaves (run_dir/metrics.prom): the warning counted, the ratio set.
  const std::string prom = read_text(dir_ / "run" / "metrics.prom");
  EXPECT_NE(prom.find("coedge_profile_warnings_total{node=\"slow-machine\",model=\"yolov5s-160\"} 1"),
            std::string::npos)
      << prom;
  const std::regex gauge(R"(coedge_model_profile_ratio\{node="slow-machine",model="yolov5s-160"\} ([0-9.e+]+))");
  ASSERT_TRUE(std::regex_search(prom, m, gauge)) << prom;
  EXPECT_GT(std::stod(m[1]), 1.25);
}

TEST_F(ProfileWarningTest, AMarginOutOfRangeIsAnErrorAtItsLine) {
  std::ofstream(dir_ / "node.yaml") << "node: n\nisolation: none\nprofile_margin: -1\n"
                                       "models:\n  - {name: yolov5s-160, file: " << kModel << "}\n"
                                    << "sensors:\n  - {name: cam0, kind: synthetic}\n"
                                       "tasks:\n  - {name: t, model: yolov5s-160, sensor: cam0, period: 100ms}\n";
  const fs::path log = dir_ / "node.log";
  const std::string command = "cd " + dir_.string() + " && timeout -s KILL 60 " + kCoedge +
                              " node --config node.yaml > " + log.string() + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string output = read_text(log);
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("node.yaml:3: profile_margin: must be a number from 0 to 100"), std::string::npos)
      << output;
}

}  // namespace
