// Valid files: defaults, profile sets, `from:`, replicas, events, durations, and applying
// a profile set to a loaded scenario.
#include "config/scenario_loader.h"

#include <gtest/gtest.h>

#include "config_test_util.h"

namespace coedge::config {
namespace {

using namespace std::chrono_literals;
using testing::kBase;
using testing::kDataDir;

TEST(ScenarioLoader, BaseScenarioParsesWithDefaults) {
  Result<Scenario> r = config::parse_scenario(kBase, "dir/x.yaml", kDataDir);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Scenario& s = *r;
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(s.source_file, "dir/x.yaml");

  // run: nothing given, everything default.
  EXPECT_EQ(s.run.duration, 600s);
  EXPECT_EQ(s.run.window, 120s);
  EXPECT_EQ(s.run.seed, 1u);
  EXPECT_EQ(s.run.release_jitter, 0us);
  EXPECT_TRUE(s.run.random_phase);
  EXPECT_EQ(s.run.exec_jitter, 0.0);

  ASSERT_EQ(s.models.size(), 2u);
  EXPECT_EQ(s.models[0].name, "m1");
  EXPECT_EQ(s.models[0].input_shape, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(s.models[0].input_bytes, 3 * 32 * 32);  // default: one uint8 frame
  EXPECT_EQ(s.models[0].exe(1), 10ms);
  EXPECT_EQ(s.models[0].exe(10), 56ms);
  EXPECT_EQ(s.models[0].pre_time, 0us);
  EXPECT_EQ(s.models[0].post_time, 0us);
  EXPECT_EQ(s.models[0].profile_source, "inline");

  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_EQ(s.nodes[0].name, "n1");
  EXPECT_EQ(s.nodes[0].cpu_cores, 4);
  EXPECT_EQ(s.nodes[1].cpu_cores, 2);

  ASSERT_EQ(s.network.adjacency.size(), 2u);
  EXPECT_EQ(s.network.default_mbps, 50);
  EXPECT_EQ(s.network.mbps(0, 1), 100);
  EXPECT_EQ(s.network.latency(0, 1), 0us);  // default_latency defaults to 0

  ASSERT_EQ(s.tasks.size(), 2u);
  const TaskSpec& a = s.tasks[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.source, 0u);
  EXPECT_EQ(a.model, 0u);
  EXPECT_EQ(a.period, 100ms);
  EXPECT_EQ(a.deadline, 100ms);  // defaults to the period
  EXPECT_EQ(a.priority, 0);
  EXPECT_DOUBLE_EQ(a.epsilon, 0.10);
  EXPECT_EQ(s.tasks[1].deadline, 150ms);
  EXPECT_EQ(s.tasks[1].model, 1u);

  ASSERT_EQ(s.link_changes.size(), 1u);
  EXPECT_EQ(s.link_changes[0].at, 10s);
  EXPECT_EQ(s.link_changes[0].a, 0u);
  EXPECT_EQ(s.link_changes[0].b, 1u);
  EXPECT_EQ(s.link_changes[0].mbps, 10);
}

TEST(ScenarioLoader, ExplicitValuesOverrideDefaults) {
  const std::string text =
      "run:\n"
      "  duration: 1300s\n"
      "  window: 1.5min\n"
      "  seed: 18446744073709551615\n"
      "  release_jitter: 250us\n"
      "  random_phase: false\n"
      "  exec_jitter: 0.05\n"
      "models:\n"
      "  - name: yolo\n"
      "    input_shape: [3, 640, 640]\n"
      "    input_bytes: 4096\n"
      "    exe_ms: [650, 1170.25, 1170.25, 2000, 2000, 2000, 2000, 2000, 2000, 9e3]\n"
      "    pre: 30ms\n"
      "    post: 0.04s\n"
      "    source: bench run 7\n"
      "nodes:\n"
      "  - {name: n1, cpu_cores: 1}\n"
      "  - name: n2\n"
      "  - name: n3\n"
      "network:\n"
      "  links:\n"
      "    - between: [n3, n1]\n"
      "      mbps: 2.5\n"
      "      latency: 3ms\n"
      "    - between: [n2, n1]\n"
      "      mbps: 100\n"
      "  default_latency: 1ms\n"
      "tasks:\n"
      "  - name: Y\n"
      "    source: n2\n"
      "    model: yolo\n"
      "    period: 1.3s\n"
      "    deadline: 1h\n"
      "    priority: -3\n"
      "    epsilon: 1\n";
  Result<Scenario> r = config::parse_scenario(text, "examples/city.yaml", "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Scenario& s = *r;
  EXPECT_EQ(s.name, "city");  // the file stem
  EXPECT_EQ(s.run.duration, 1300s);
  EXPECT_EQ(s.run.window, 90s);
  EXPECT_EQ(s.run.seed, 18446744073709551615u);
  EXPECT_EQ(s.run.release_jitter, 250us);
  EXPECT_FALSE(s.run.random_phase);
  EXPECT_DOUBLE_EQ(s.run.exec_jitter, 0.05);
  const ModelProfile& m = s.models.at(0);
  EXPECT_EQ(m.input_bytes, 4096);
  EXPECT_EQ(m.exe(2), 1170250us);  // decimal milliseconds are exact
  EXPECT_EQ(m.exe(10), 9s);
  EXPECT_EQ(m.pre_time, 30ms);
  EXPECT_EQ(m.post_time, 40ms);
  EXPECT_EQ(m.profile_source, "bench run 7");
  EXPECT_EQ(s.nodes[0].cpu_cores, 1);
  // Adjacency: one sorted list per node; latency falls back to default_latency even
  // when it is given after the links.
  ASSERT_EQ(s.network.adjacency.size(), 3u);
  ASSERT_EQ(s.network.adjacency[0].size(), 2u);
  EXPECT_EQ(s.network.adjacency[0][0].peer, 1u);
  EXPECT_EQ(s.network.adjacency[0][1].peer, 2u);
  EXPECT_EQ(s.network.mbps(2, 0), 2.5);
  EXPECT_EQ(s.network.latency(0, 2), 3ms);
  EXPECT_EQ(s.network.latency(1, 0), 1ms);
  EXPECT_EQ(s.network.mbps(1, 2), 0);  // no link, default_mbps 0: cannot talk
  EXPECT_EQ(s.tasks[0].period, 1300ms);
  EXPECT_EQ(s.tasks[0].deadline, 3600s);
  EXPECT_EQ(s.tasks[0].priority, -3);
  EXPECT_EQ(s.tasks[0].epsilon, 1.0);
  EXPECT_TRUE(s.link_changes.empty());
}

TEST(ScenarioLoader, EmptyOptionalSectionsMeanNone) {
  // Everything under run:, links: and events: commented out.
  std::string text = testing::replace_lines(kBase, 28, 31, "events:\n#  - at: 10s");
  text = testing::replace_lines(text, 15, 17, "  links:");
  text = "run:\n" + text;
  Result<Scenario> r = config::parse_scenario(text, "x.yaml", "");
  ASSERT_TRUE(r.ok()) << r.error().message << "\n" << text;
  EXPECT_EQ(r->run.duration, 600s);
  EXPECT_TRUE(r->link_changes.empty());
  EXPECT_EQ(r->network.find(0, 1), nullptr);
  EXPECT_EQ(r->network.mbps(0, 1), 50);
}

TEST(ScenarioLoader, ReplicasExpandIntoNumberedTasks) {
  const std::string text = testing::replace_line(22, "    period: 100ms\n    replicas: 3\n    priority: 2");
  Result<Scenario> r = config::parse_scenario(text, "x.yaml", "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->tasks.size(), 4u);
  EXPECT_EQ(r->tasks[0].name, "a.1");
  EXPECT_EQ(r->tasks[1].name, "a.2");
  EXPECT_EQ(r->tasks[2].name, "a.3");
  EXPECT_EQ(r->tasks[3].name, "b");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r->tasks[i].source, 0u);
    EXPECT_EQ(r->tasks[i].period, 100ms);
    EXPECT_EQ(r->tasks[i].priority, 2);
  }
}

TEST(ScenarioLoader, EventsAreSortedByTimeStably) {
  const std::string events =
      "events:\n"
      "  - {at: 300s, link: [n1, n2], mbps: 1}\n"
      "  - {at: 0s, link: [n2, n1], mbps: 2}\n"
      "  - {at: 300s, link: [n1, n2], mbps: 3}\n"
      "  - {at: 5min, link: [n1, n2], mbps: 4}\n"
      "  - {at: 100ms, link: [n1, n2], mbps: 5}";
  Result<Scenario> r = config::parse_scenario(testing::replace_lines(kBase, 28, 31, events), "x.yaml", "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<double> order;
  for (const LinkChange& c : r->link_changes) order.push_back(c.mbps);
  EXPECT_EQ(order, (std::vector<double>{2, 5, 1, 3, 4}));
  EXPECT_EQ(r->link_changes[0].a, 1u);  // as written: [n2, n1]
  EXPECT_EQ(r->link_changes[0].b, 0u);
}

TEST(ScenarioLoader, ProfileSetAndFromFile) {
  Result<Scenario> r = config::load_scenario(kDataDir + "/lamppost.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Scenario& s = *r;
  EXPECT_EQ(s.name, "lamppost");
  EXPECT_EQ(s.source_file, kDataDir + "/lamppost.yaml");
  EXPECT_EQ(s.run.duration, 1300s);
  // Inline and `from:` models in file order, then the profile-set models that tasks use,
  // in the profile file's order (resnet18-360 before vgg19-160, though used later).
  ASSERT_EQ(s.models.size(), 4u);
  EXPECT_EQ(s.models[0].name, "tiny");
  EXPECT_EQ(s.models[0].exe(2), 1500us);
  EXPECT_EQ(s.models[1].name, "yolo-big");
  EXPECT_EQ(s.models[2].name, "resnet18-360");
  EXPECT_EQ(s.models[3].name, "vgg19-160");
  const std::string profile = kDataDir + "/profiles/jetson-tx2.yaml";
  EXPECT_EQ(s.models[0].profile_source, "inline");
  EXPECT_EQ(s.models[1].profile_source, profile);
  EXPECT_EQ(s.models[3].profile_source, profile);
  EXPECT_EQ(s.models[1].exe(1), 650ms);  // yolov5s-640's numbers under the new name
  EXPECT_EQ(s.models[1].input_bytes, 3 * 640 * 640);
  EXPECT_EQ(s.models[1].pre_time, 30ms);
  EXPECT_EQ(s.models[1].post_time, 40ms);
  EXPECT_EQ(s.models[3].input_bytes, 76800);
  EXPECT_EQ(s.models[3].exe(10), 370500us);

  ASSERT_EQ(s.tasks.size(), 5u);
  EXPECT_EQ(s.tasks[0].model, 3u);  // cam: vgg19-160
  EXPECT_EQ(s.tasks[1].name, "det.1");
  EXPECT_EQ(s.tasks[2].name, "det.2");
  EXPECT_EQ(s.tasks[1].model, 1u);
  EXPECT_EQ(s.tasks[3].model, 2u);  // cls: resnet18-360
  EXPECT_EQ(s.tasks[4].model, 0u);
  EXPECT_EQ(s.network.default_latency, 1ms);
  EXPECT_EQ(s.network.latency(0, 1), 1ms);
}

TEST(ScenarioLoader, InlineModelShadowsProfileSetModel) {
  const std::string text =
      "profiles: profiles/jetson-tx2.yaml\n"
      "models:\n"
      "  - name: resnet18-360\n"
      "    input_shape: [3, 8, 8]\n"
      "    exe_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "nodes: [{name: n1}]\n"
      "tasks:\n"
      "  - {name: t, source: n1, model: resnet18-360, period: 1s}\n";
  Result<Scenario> r = config::parse_scenario(text, "x.yaml", kDataDir);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->models.size(), 1u);
  EXPECT_EQ(r->models[0].exe(1), 1ms);
  EXPECT_EQ(r->models[0].profile_source, "inline");
}

TEST(ProfileSet, LoadsAllModels) {
  const std::string path = kDataDir + "/profiles/jetson-tx2.yaml";
  Result<std::vector<ModelProfile>> r = config::load_profile_set(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].name, "resnet18-360");
  EXPECT_EQ((*r)[0].pre_time, 5ms);
  EXPECT_EQ((*r)[0].post_time, 1ms);
  EXPECT_EQ((*r)[1].post_time, 0us);
  EXPECT_EQ((*r)[2].exe(10), 5330ms);
  for (const ModelProfile& m : *r) EXPECT_EQ(m.profile_source, path);
}

TEST(ProfileSet, ApplyReplacesTimingOfEveryModel) {
  Result<Scenario> s = config::load_scenario(kDataDir + "/lamppost.yaml");
  ASSERT_TRUE(s.ok()) << s.error().message;
  const std::string desktop = kDataDir + "/profiles/desktop.yaml";
  Result<std::vector<ModelProfile>> profiles = config::load_profile_set(desktop);
  ASSERT_TRUE(profiles.ok()) << profiles.error().message;

  // lamppost uses models the desktop set lacks: an error naming file and model, and the
  // scenario is left as it was.
  Scenario before = *s;
  Status st = config::apply_profile_set(*s, *profiles, desktop);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(desktop), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("'tiny'"), std::string::npos) << st.error().message;
  testing::expect_same_scenario(before, *s);

  // Keep only models the desktop set has: timing replaced, shapes untouched.
  Scenario& sc = *s;
  sc.models = {sc.models[2], sc.models[1]};  // resnet18-360, and yolo-big under its set name
  sc.models[0].input_bytes = 7;
  sc.models[1].name = "yolov5s-640";
  ASSERT_TRUE(config::apply_profile_set(sc, *profiles, desktop).ok());
  EXPECT_EQ(sc.models[0].exe(1), 4ms);
  EXPECT_EQ(sc.models[0].pre_time, 1ms);
  EXPECT_EQ(sc.models[0].post_time, 0us);
  EXPECT_EQ(sc.models[0].input_bytes, 7);
  EXPECT_EQ(sc.models[0].profile_source, desktop);
  // Every model, not only the first.
  EXPECT_EQ(sc.models[1].exe(1), 20ms);
  EXPECT_EQ(sc.models[1].exe(10), 155ms);
  EXPECT_EQ(sc.models[1].pre_time, 2ms);
  EXPECT_EQ(sc.models[1].post_time, 3ms);
  EXPECT_EQ(sc.models[1].input_bytes, 3 * 640 * 640);
  EXPECT_EQ(sc.models[1].profile_source, desktop);
}

TEST(Duration, ParsesUnitsAndRoundsToMicroseconds) {
  EXPECT_EQ(*config::parse_duration("1.3s"), 1300ms);
  EXPECT_EQ(*config::parse_duration("700ms"), 700ms);
  EXPECT_EQ(*config::parse_duration("250us"), 250us);
  EXPECT_EQ(*config::parse_duration("2min"), 120s);
  EXPECT_EQ(*config::parse_duration("1h"), 3600s);
  EXPECT_EQ(*config::parse_duration("0.5h"), 1800s);
  EXPECT_EQ(*config::parse_duration(".5ms"), 500us);
  EXPECT_EQ(*config::parse_duration("0.0015ms"), 2us);  // 1.5us rounds to nearest (half up)
  EXPECT_EQ(*config::parse_duration("0.0014ms"), 1us);
  EXPECT_EQ(*config::parse_duration("0.1234567s"), 123457us);
  EXPECT_EQ(*config::parse_duration("100 ms"), 100ms);
  EXPECT_EQ(*config::parse_duration("0s"), 0us);
}

TEST(Duration, RejectsMissingOrUnknownUnitsAndNegatives) {
  auto message = [](const std::string& text) {
    Result<Duration> d = config::parse_duration(text);
    return d.ok() ? std::string("ok") : d.error().message;
  };
  EXPECT_NE(message("700").find("needs a unit, e.g. '700ms'"), std::string::npos) << message("700");
  EXPECT_NE(message("1sec").find("unknown unit 'sec'"), std::string::npos) << message("1sec");
  EXPECT_NE(message("-1s").find("negative"), std::string::npos) << message("-1s");
  EXPECT_NE(message("fast").find("expected a duration"), std::string::npos) << message("fast");
  EXPECT_NE(message("").find("expected a duration"), std::string::npos);
  EXPECT_NE(message("1e3ms").find("unknown unit"), std::string::npos);
  EXPECT_NE(message("99999999999999999h").find("too large"), std::string::npos);
}

}  // namespace
}  // namespace coedge::config
