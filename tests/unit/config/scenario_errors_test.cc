// One test per kind of mistake: each asserts the file name, the line, the field path and
// the reason of the single message the loader returns. Most change one line of the valid
// base scenario (see config_test_util.h for its numbered lines).
#include <gtest/gtest.h>

#include <filesystem>

#include "config/scenario_loader.h"
#include "config_test_util.h"

namespace coedge::config {
namespace {

using testing::fails_with;
using testing::kBase;
using testing::kDataDir;
using testing::replace_line;
using testing::replace_lines;

TEST(ScenarioErrors, BaseIsValid) {
  Result<Scenario> r = config::parse_scenario(kBase, "x.yaml", kDataDir);
  EXPECT_TRUE(r.ok()) << r.error().message;
}

// A name that is not UTF-8 would end in JSON files whose writers throw on it: refused at
// load with its line and column (review of issue 17: a task named with a raw 0xFF byte
// aborted `coedge sim`).
TEST(ScenarioErrors, TextThatIsNotUtf8IsRefusedWithLineAndColumn) {
  const std::string bad = std::string("name: ok\nrun: {duration: 10s}\n  # caf") + "\xE9" + "\n";
  Result<Scenario> r = config::parse_scenario(bad, "x.yaml", kDataDir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "x.yaml:3:8: not UTF-8 text (byte 0xE9); save the file as UTF-8");
  for (const std::string& invalid : {std::string("\xC0\xAF"), std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"),
                                     std::string("\xFF"), std::string("\xE2\x82")}) {
    Result<Scenario> e = config::parse_scenario("name: a" + invalid + "\n", "y.yaml", kDataDir);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("y.yaml:1:8: not UTF-8 text"), std::string::npos) << e.error().message;
  }
  // Multi-byte text is fine: the base scenario with an accented name still loads.
  Result<Scenario> ok = config::parse_scenario(std::string(kBase) + "\n# caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\xB7\n", "x.yaml", kDataDir);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST(ScenarioErrors, MissingFile) {
  const std::string path = kDataDir + "/no-such-scenario.yaml";
  Result<Scenario> r = config::load_scenario(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, path + ": cannot read: No such file or directory");
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  Result<std::vector<ModelProfile>> p = config::load_profile_set(path);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, path + ": cannot read: No such file or directory");
}

TEST(ScenarioErrors, DirectoryInsteadOfFile) {
  Result<Scenario> r = config::load_scenario(kDataDir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, kDataDir + ": cannot read: Is a directory");
}

TEST(ScenarioErrors, YamlSyntaxError) {
  EXPECT_TRUE(fails_with(replace_line(16, "    - between: [n1, n2"), 17, "",
                         "YAML syntax error: end of sequence flow not found"));
  EXPECT_TRUE(fails_with(replace_line(12, "     cpu_cores: 2"), 12, "", "YAML syntax error"));
}

TEST(ScenarioErrors, TopLevelNotAMap) {
  EXPECT_TRUE(fails_with("- n1\n- n2\n", 1, "", "the top level must be a map"));
  EXPECT_TRUE(fails_with("# nothing but a comment\n", 1, "", "the file is empty"));
  EXPECT_TRUE(fails_with(kBase + "---\nname: again\n", 33, "", "only one YAML document"));
}

TEST(ScenarioErrors, UnknownFieldSuggestsTheClosest) {
  // A typo of a required field is reported as the typo, not as "missing period".
  EXPECT_TRUE(fails_with(replace_line(22, "    peroid: 100ms"), 22, "tasks[0].peroid",
                         "unknown field; did you mean 'period'?"));
  EXPECT_TRUE(fails_with(replace_line(12, "    cores: 2"), 12, "nodes[1].cores",
                         "unknown field (known: cpu_cores, name)"));
  EXPECT_TRUE(fails_with(replace_line(13, "netwrok:"), 13, "netwrok",
                         "unknown field; did you mean 'network'?"));
  EXPECT_TRUE(fails_with(replace_line(17, "      mbsp: 100"), 17, "network.links[0].mbsp",
                         "did you mean 'mbps'?"));
}

TEST(ScenarioErrors, FieldGivenTwice) {
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 100ms\n    period: 1s"), 23,
                         "tasks[0].period", "given twice (first at line 22)"));
}

TEST(ScenarioErrors, MissingRequiredField) {
  EXPECT_TRUE(fails_with(replace_line(22, ""), 19, "tasks[0].period", "missing required field"));
  EXPECT_TRUE(fails_with(replace_line(5, ""), 3, "models[0].exe_ms", "missing required field"));
  EXPECT_TRUE(fails_with(replace_line(17, ""), 16, "network.links[0].mbps",
                         "missing required field"));
  EXPECT_TRUE(fails_with(replace_line(31, ""), 29, "events[0].mbps", "missing required field"));
  EXPECT_TRUE(fails_with(replace_lines(kBase, 9, 12, ""), 1, "nodes", "missing required field"));
  EXPECT_TRUE(fails_with(replace_lines(kBase, 18, 27, ""), 1, "tasks", "missing required field"));
}

TEST(ScenarioErrors, WrongType) {
  EXPECT_TRUE(fails_with(replace_line(22, "    period: [1, 2]"), 22, "tasks[0].period",
                         "expected a duration such as '700ms', got a list"));
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 100ms\n    priority: high"), 23,
                         "tasks[0].priority", "expected a whole number, got 'high'"));
  EXPECT_TRUE(fails_with(replace_line(14, "  default_mbps: fast"), 14, "network.default_mbps",
                         "expected a number, got 'fast'"));
  EXPECT_TRUE(fails_with(replace_lines(kBase, 28, 31, "events: {at: 1s}"), 28, "events",
                         "expected a list, got a map"));
  EXPECT_TRUE(fails_with(replace_lines(kBase, 13, 17, "network: [n1, n2]"), 13, "network",
                         "expected a map (field: value lines), got a list"));
  EXPECT_TRUE(fails_with(replace_line(10, "  - n1"), 10, "nodes[0]", "expected a map"));
  EXPECT_TRUE(fails_with(replace_line(4, "    input_shape: 3x32x32"), 4,
                         "models[0].input_shape", "expected a list, got '3x32x32'"));
  EXPECT_TRUE(fails_with(replace_line(1, "name: t\nrun:\n  random_phase: yes"), 3,
                         "run.random_phase", "expected true or false, got 'yes'"));
  EXPECT_TRUE(fails_with(replace_line(1, "name: t\nrun:\n  seed: -1"), 3, "run.seed",
                         "expected a whole number from 0"));
  EXPECT_TRUE(fails_with(replace_line(1, "name: [t]"), 1, "name", "expected a name, got a list"));
  EXPECT_TRUE(fails_with(replace_line(20, "    source:"), 20, "tasks[0].source",
                         "expected a name, got nothing"));
}

TEST(ScenarioErrors, UnknownNode) {
  EXPECT_TRUE(fails_with(replace_line(20, "    source: n3"), 20, "tasks[0].source",
                         "unknown node 'n3' (known: n1, n2)"));
  EXPECT_TRUE(fails_with(replace_line(16, "    - between: [n1, n7]"), 16,
                         "network.links[0].between[1]", "unknown node 'n7' (known: n1, n2)"));
}

TEST(ScenarioErrors, UnknownModelListsKnownOnesAndSuggests) {
  EXPECT_TRUE(fails_with(replace_line(21, "    model: yolo"), 21, "tasks[0].model",
                         "unknown model 'yolo' (known: m1, m2)"));
  const std::string with_profiles = "profiles: profiles/jetson-tx2.yaml\n" + kBase;
  EXPECT_TRUE(fails_with(replace_lines(with_profiles, 22, 22, "    model: resnet18-36"), 22,
                         "tasks[0].model",
                         "unknown model 'resnet18-36'; did you mean 'resnet18-360'? (known: m1, "
                         "m2, resnet18-360, vgg19-160, yolov5s-640)"));
}

TEST(ScenarioErrors, DuplicateNames) {
  EXPECT_TRUE(fails_with(replace_line(11, "  - name: n1"), 11, "nodes[1].name",
                         "duplicate node name 'n1' (first at line 10)"));
  EXPECT_TRUE(fails_with(replace_line(6, "  - name: m1"), 6, "models[1].name",
                         "duplicate model name 'm1' (first at line 3)"));
  EXPECT_TRUE(fails_with(replace_line(23, "  - name: a"), 23, "tasks[1].name",
                         "duplicate task name 'a' (first at line 19)"));
  // After expansion: a.2 is both a replica and an explicit task.
  EXPECT_TRUE(fails_with(replace_lines(kBase, 22, 23, "    period: 100ms\n    replicas: 2\n  - name: a.2"),
                         24, "tasks[1].name", "duplicate task name 'a.2' (first at line 19)"));
}

TEST(ScenarioErrors, NonPositivePeriodOrDeadline) {
  EXPECT_TRUE(fails_with(replace_line(22, "    period: -1s"), 22, "tasks[0].period",
                         "must be positive, got '-1s'"));
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 0ms"), 22, "tasks[0].period",
                         "must be positive, got '0ms'"));
  EXPECT_TRUE(fails_with(replace_line(27, "    deadline: 0s"), 27, "tasks[1].deadline",
                         "must be positive, got '0s'"));
}

TEST(ScenarioErrors, BadDurationStrings) {
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 100"), 22, "tasks[0].period",
                         "needs a unit, e.g. '100ms'"));
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 1.3sec"), 22, "tasks[0].period",
                         "unknown unit 'sec' (units: us, ms, s, min, h), got '1.3sec'"));
  EXPECT_TRUE(fails_with(replace_line(22, "    period: soon"), 22, "tasks[0].period",
                         "expected a duration"));
  EXPECT_TRUE(fails_with(replace_line(5, "    exe_ms: [10, 18, 25, 31, 36, 40, 44, 48, 52, 56]\n    pre: -2ms"),
                         6, "models[0].pre", "must not be negative, got '-2ms'"));
  EXPECT_TRUE(fails_with(replace_line(29, "  - at: -1s"), 29, "events[0].at",
                         "must not be negative, got '-1s'"));
  EXPECT_TRUE(fails_with(replace_line(1, "name: t\nrun:\n  window: 2"), 3, "run.window",
                         "needs a unit"));
}

TEST(ScenarioErrors, EpsilonOutOfRange) {
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 100ms\n    epsilon: 1.5"), 23,
                         "tasks[0].epsilon", "must be a miss-rate fraction in [0, 1], got '1.5'"));
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 100ms\n    epsilon: -0.1"), 23,
                         "tasks[0].epsilon", "in [0, 1], got '-0.1'"));
}

TEST(ScenarioErrors, TopicThatIsNotAnAbsoluteRosTopicName) {
  for (const char* bad : {"front/image_raw", "/front//image_raw", "/front/", "/front/1st", "/front cam", "/"}) {
    EXPECT_TRUE(fails_with(replace_line(22, std::string("    period: 100ms\n    topic: \"") + bad + "\""), 23,
                           "tasks[0].topic", "(e.g. /camera/image_raw)"))
        << bad;
  }
}

TEST(ScenarioErrors, TopicIsLoadedAndSharedByReplicas) {
  Result<Scenario> r = config::parse_scenario(
      replace_line(22, "    period: 100ms\n    topic: /gate/image_raw/compressed\n    replicas: 2"), "x.yaml",
      kDataDir);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_GE(r->tasks.size(), 2u);
  EXPECT_EQ(r->tasks[0].topic, "/gate/image_raw/compressed");
  EXPECT_EQ(r->tasks[1].topic, "/gate/image_raw/compressed");
}

TEST(ScenarioErrors, CpuCoresBelowOne) {
  EXPECT_TRUE(fails_with(replace_line(12, "    cpu_cores: 0"), 12, "nodes[1].cpu_cores",
                         "must be at least 1"));
  EXPECT_TRUE(fails_with(replace_line(12, "    cpu_cores: 1.5"), 12, "nodes[1].cpu_cores",
                         "expected a whole number, got '1.5'"));
}

TEST(ScenarioErrors, ReplicasBelowOne) {
  EXPECT_TRUE(fails_with(replace_line(22, "    period: 100ms\n    replicas: 0"), 23,
                         "tasks[0].replicas", "must be at least 1"));
}

TEST(ScenarioErrors, ExeMsCount) {
  EXPECT_TRUE(fails_with(replace_line(5, "    exe_ms: [10, 18, 25, 31, 36, 40, 44, 48, 52]"), 5,
                         "models[0].exe_ms",
                         "needs exactly 10 values (the whole-batch time in ms for batch 1..10), got 9"));
}

TEST(ScenarioErrors, ExeMsNonPositive) {
  EXPECT_TRUE(fails_with(replace_line(5, "    exe_ms: [10, 18, 0, 31, 36, 40, 44, 48, 52, 56]"), 5,
                         "models[0].exe_ms[2]", "must be positive, got '0'"));
  EXPECT_TRUE(fails_with(replace_line(5, "    exe_ms: [10, 18, x, 31, 36, 40, 44, 48, 52, 56]"), 5,
                         "models[0].exe_ms[2]", "expected a number, got 'x'"));
}

TEST(ScenarioErrors, ExeMsDecreasing) {
  EXPECT_TRUE(fails_with(
      replace_line(5, "    exe_ms: [100, 180, 310, 300, 360, 400, 440, 480, 520, 560]"), 5,
      "models[0].exe_ms[3]",
      "batch times must be non-decreasing in total: ExeTime(4)=300ms < ExeTime(3)=310ms"));
}

TEST(ScenarioErrors, BadInputShape) {
  EXPECT_TRUE(fails_with(replace_line(4, "    input_shape: [3, 0, 32]"), 4,
                         "models[0].input_shape[1]", "must be positive, got '0'"));
  EXPECT_TRUE(fails_with(replace_line(4, "    input_shape: []"), 4, "models[0].input_shape",
                         "must list the input dimensions"));
}

TEST(ScenarioErrors, MissingProfileFile) {
  EXPECT_TRUE(fails_with("profiles: profiles/nope.yaml\n" + kBase, 1, "profiles",
                         "cannot use profile set: " + kDataDir +
                             "/profiles/nope.yaml: cannot read: No such file or directory"));
  const std::string from = "  - name: big\n    from: profiles/gone.yaml\n";
  EXPECT_TRUE(fails_with(replace_line(2, "models:\n" + from), 4, "models[0].from",
                         "cannot use profile set: " + kDataDir + "/profiles/gone.yaml: cannot read"));
}

TEST(ScenarioErrors, ModelNotInProfileSet) {
  const std::string profile = kDataDir + "/profiles/jetson-tx2.yaml";
  EXPECT_TRUE(fails_with(
      replace_line(2, "models:\n  - name: big\n    from: profiles/jetson-tx2.yaml\n    model: yolov9"),
      5, "models[0].model",
      "profile set '" + profile + "' has no model 'yolov9' (it has: resnet18-360, vgg19-160, yolov5s-640)"));
  // Without `model:` the entry's own name is looked up.
  EXPECT_TRUE(fails_with(replace_line(2, "models:\n  - name: big\n    from: profiles/jetson-tx2.yaml"),
                         3, "models[0].name", "has no model 'big'"));
}

TEST(ScenarioErrors, BrokenProfileSetIsReportedWithItsOwnLocation) {
  EXPECT_TRUE(fails_with("profiles: profiles/bad-exe.yaml\n" + kBase, 1, "profiles",
                         "cannot use profile set: " + kDataDir +
                             "/profiles/bad-exe.yaml:5: models[0].exe_ms: needs exactly 10 values"));
  // The profile set's models are unknown then, but only the cause is reported.
  Result<Scenario> r = config::parse_scenario("profiles: profiles/bad-exe.yaml\n" + replace_line(21, "    model: resnet18-360"),
                                      "x.yaml", kDataDir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("x.yaml:1: profiles:", 0), 0u) << r.error().message;
}

TEST(ScenarioErrors, FromCombinedWithInlineFields) {
  EXPECT_TRUE(fails_with(replace_line(3, "  - name: m1\n    from: profiles/jetson-tx2.yaml"), 5,
                         "models[0].input_shape", "cannot be combined with 'from'"));
  EXPECT_TRUE(fails_with(replace_line(5, "    exe_ms: [10, 18, 25, 31, 36, 40, 44, 48, 52, 56]\n    model: m0"),
                         6, "models[0].model", "only goes with 'from'"));
}

TEST(ScenarioErrors, LinkBandwidthZeroOrNegative) {
  EXPECT_TRUE(fails_with(replace_line(17, "      mbps: 0"), 17, "network.links[0].mbps",
                         "must be positive, got '0'; to say that two nodes cannot talk, omit the link"));
  EXPECT_TRUE(fails_with(replace_line(17, "      mbps: -5"), 17, "network.links[0].mbps",
                         "must be positive, got '-5'"));
  EXPECT_TRUE(fails_with(replace_line(14, "  default_mbps: -1"), 14, "network.default_mbps",
                         "must be 0 (pairs without a link cannot talk) or at least 0.001"));
  // So slow that a frame's transfer could overflow the clock: a unit mistake.
  EXPECT_TRUE(fails_with(replace_line(17, "      mbps: 1e-300"), 17, "network.links[0].mbps",
                         "must be at least 0.001 (1 kbit/s)"));
  EXPECT_TRUE(fails_with(replace_line(14, "  default_mbps: 1e-9"), 14, "network.default_mbps",
                         "at least 0.001"));
}

TEST(ScenarioErrors, SelfLink) {
  EXPECT_TRUE(fails_with(replace_line(16, "    - between: [n2, n2]"), 16, "network.links[0].between",
                         "a link needs two different nodes, got 'n2' twice"));
  EXPECT_TRUE(fails_with(replace_line(16, "    - between: [n1, n2, n1]"), 16,
                         "network.links[0].between", "expected a list of two node names"));
}

TEST(ScenarioErrors, DuplicateLink) {
  EXPECT_TRUE(fails_with(replace_line(17, "      mbps: 100\n    - between: [n2, n1]\n      mbps: 5"), 18,
                         "network.links[1].between",
                         "the link between 'n1' and 'n2' is listed twice (first at line 16)"));
}

TEST(ScenarioErrors, EventWithUnknownNodeOrBadBandwidth) {
  EXPECT_TRUE(fails_with(replace_line(30, "    link: [n1, n9]"), 30, "events[0].link[1]",
                         "unknown node 'n9' (known: n1, n2)"));
  EXPECT_TRUE(fails_with(replace_line(30, "    link: [n1, n1]"), 30, "events[0].link",
                         "two different nodes"));
  EXPECT_TRUE(fails_with(replace_line(31, "    mbps: 0"), 31, "events[0].mbps",
                         "must be at least 0.001 (1 kbit/s), got '0'"));
}

TEST(ScenarioErrors, NoNodesOrNoTasks) {
  EXPECT_TRUE(fails_with(replace_lines(kBase, 9, 12, "nodes: []"), 9, "nodes",
                         "must list at least one node"));
  EXPECT_TRUE(fails_with(replace_lines(kBase, 18, 27, "tasks: []"), 18, "tasks",
                         "must list at least one task"));
}

TEST(ScenarioErrors, WindowBelowOneMillisecond) {
  EXPECT_TRUE(fails_with(replace_line(1, "name: t\nrun:\n  window: 500us"), 3, "run.window",
                         "must be at least 1ms, got '500us'"));
}

TEST(ScenarioErrors, ExecJitterOutOfRange) {
  EXPECT_TRUE(fails_with(replace_line(1, "name: t\nrun:\n  exec_jitter: 1"), 3, "run.exec_jitter",
                         "must be a fraction in [0, 1)"));
  EXPECT_TRUE(fails_with(replace_line(1, "name: t\nrun:\n  exec_jitter: -0.5"), 3, "run.exec_jitter",
                         "got '-0.5'"));
}

TEST(ScenarioErrors, FirstProblemInFileOrderWins) {
  // Two mistakes: the model section is read before the tasks that use it, but the
  // earlier line is what the user sees.
  std::string text = replace_line(20, "    source: nowhere");
  text = replace_lines(text, 26, 26, "    period: -5s");
  EXPECT_TRUE(fails_with(text, 20, "tasks[0].source", "unknown node 'nowhere'"));
  // Tasks written before nodes: the task's mistake comes first in the file.
  const std::string reordered =
      "tasks:\n"
      "  - {name: a, source: n1, model: m1, period: 0s}\n"
      "nodes:\n"
      "  - {name: n1, cpu_cores: 0}\n"
      "models:\n"
      "  - {name: m1, input_shape: [1], exe_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n";
  EXPECT_TRUE(fails_with(reordered, 2, "tasks[0].period", "must be positive"));
}

TEST(ProfileSetErrors, ReportsFileLineAndField) {
  const std::string path = kDataDir + "/profiles/bad-exe.yaml";
  Result<std::vector<ModelProfile>> r = config::load_profile_set(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            path + ":5: models[0].exe_ms: needs exactly 10 values (the whole-batch time in ms "
                   "for batch 1..10), got 9");
}

TEST(ProfileSetErrors, RequiresNameAndRejectsReferences) {
  const std::filesystem::path dir = std::filesystem::path(COEDGE_BINARY_DIR) / "config_test_tmp";
  std::filesystem::create_directories(dir);
  auto load = [&](const std::string& text) {
    const std::string file = (dir / "p.yaml").string();
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    Result<std::vector<ModelProfile>> r = config::load_profile_set(file);
    return r.ok() ? std::string("ok") : r.error().message.substr(file.size());
  };
  EXPECT_EQ(load("models:\n  - {name: a, input_shape: [1], exe_ms: [1,1,1,1,1,1,1,1,1,1]}\n"),
            ":1: profile_set: missing required field");
  EXPECT_EQ(load("profile_set: p\nmodels:\n  - name: a\n    from: x.yaml\n"),
            ":4: models[0].from: unknown field (known: backend, exe_ms, input_bytes, input_shape, name, "
            "post, pre)");
  EXPECT_EQ(load("profile_set: p\nmodels:\n  - {name: a, input_shape: [1], exe_ms: [1,1,1,1,1,1,1,1,1,1]}\n"
                 "  - {name: a, input_shape: [1], exe_ms: [1,1,1,1,1,1,1,1,1,1]}\n"),
            ":4: models[1].name: duplicate model name 'a' (first at line 3)");
}

}  // namespace
}  // namespace coedge::config
