// The `coedge` program as a user runs it: exit codes, messages, files written.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/run_command.h"

namespace {

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr together, or stdout alone (coedge_split)
  std::string error;   // stderr, with coedge_split only
};

// Runs `coedge ARGS` from the source folder. `stderr_to` empty: stderr joins stdout.
CliRun run_coedge(const std::string& args, const std::string& stderr_to) {
  const std::string command = "cd " COEDGE_SOURCE_DIR " && " COEDGE_BINARY_DIR "/bin/coedge " +
                              args + (stderr_to.empty() ? " 2>&1" : " 2>'" + stderr_to + "'");
  CliRun run;
  const coedge::test::CommandRun done = coedge::test::run_command(command);
  run.output = done.out;
  run.code = done.code;
  return run;
}

CliRun coedge(const std::string& args) { return run_coedge(args, ""); }

// Every test's files go under one folder per process, so that two builds' tests can run
// at once; it is removed when the tests end.
std::filesystem::path temp_root() {
  return std::filesystem::temp_directory_path() / ("coedge-cli-" + std::to_string(::getpid()));
}

class RemoveTempRoot : public ::testing::Environment {
 public:
  void TearDown() override { std::filesystem::remove_all(temp_root()); }
};
const auto* const kRemoveTempRoot = ::testing::AddGlobalTestEnvironment(new RemoveTempRoot);

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = temp_root() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The same, with stdout in `output` and stderr in `error`.
CliRun coedge_split(const std::string& args) {
  const auto dir = temp_dir("stderr");
  CliRun run = run_coedge(args, (dir / "stderr.txt").string());
  std::ifstream in(dir / "stderr.txt");
  std::stringstream text;
  text << in.rdbuf();
  run.error = text.str();
  std::filesystem::remove_all(dir);
  return run;
}

// Whether `text` has a line that starts with `indent` then `word` then a space: how help
// texts and `coedge policies` list names.
bool lists(const std::string& text, const std::string& indent, const std::string& word) {
  return ("\n" + text).find("\n" + indent + word + " ") != std::string::npos;
}

TEST(Cli, HelpListsTheSubcommands) {
  const CliRun r = coedge("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("sim"), std::string::npos);
  EXPECT_NE(r.output.find("city"), std::string::npos);
  // Every subcommand that apps/coedge/main.cc adds, but the internal node-server.
  for (const char* name : {"sim", "city", "profile", "sweep", "node", "master", "camera",
                           "cluster", "demo", "policies"}) {
    EXPECT_TRUE(lists(r.output, "  ", name)) << name << " is not listed:\n" << r.output;
    EXPECT_EQ(coedge(std::string(name) + " --help").code, 0) << name;
  }
  // node-server is a subcommand (the node agent starts it), kept out of the list.
  EXPECT_FALSE(lists(r.output, "  ", "node-server")) << r.output;
  EXPECT_EQ(coedge("node-server --help").code, 0);
  const CliRun sim = coedge("sim --help");
  EXPECT_EQ(sim.code, 0);
  EXPECT_NE(sim.output.find("--compare"), std::string::npos);
}

// The server takes its config from the agent on stdin (node_config_wire.h); anything
// else is bad input, said in one line, never a crash.
TEST(Cli, NodeServerRefusesAConfigThatIsNotTheAgents) {
  const auto dir = temp_dir("node-server");
  std::ofstream(dir / "garbled.json") << "{\"format\": \"coedge-node-config\", \"version\": 1, \"name\": ";
  CliRun r = coedge("node-server --config-digest 0123456789abcdef < '" + (dir / "garbled.json").string() + "'");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("coedge node-server: the node config from the agent (descriptor 0): its digest is "),
            std::string::npos)
      << r.output;
  r = coedge("node-server --config-digest 0123456789abcdef < /dev/null");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("): empty (`coedge node` starts the server"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
}

TEST(Cli, PoliciesListsEveryBasePolicyAndOption) {
  const CliRun r = coedge_split("policies");
  EXPECT_EQ(r.code, 0) << r.error;
  EXPECT_EQ(r.error, "");
  // policy::policy_catalogue(), which this test does not link: the bases, then the options.
  for (const char* base : {"coedge", "local", "naive", "spread", "edf", "fixed", "triton",
                           "deadline-drop"})
    EXPECT_TRUE(lists(r.output, "  ", base)) << base << ":\n" << r.output;
  for (const char* option : {":batch-aware", ":blocking-aware", ":useful-evictions",
                             ":wait-for-batch", ":preferred=", ":max-queue-delay=", ":timeout="})
    EXPECT_NE(r.output.find("\n    " + std::string(option)), std::string::npos)
        << option << ":\n" << r.output;
  // The old names, with what they stand for.
  for (const char* alias : {"coedge+", "coedge++", "coedge-wait"})
    EXPECT_TRUE(lists(r.output, "  ", alias)) << alias;
}

TEST(Cli, AnOldPolicyNameRunsWithAOneLineNotice) {
  const CliRun r = coedge_split("sim examples/lamppost.yaml -d coedge+ --no-files -q");
  EXPECT_EQ(r.code, 0) << r.error;
  EXPECT_NE(r.error.find("coedge:batch-aware"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("deprecated"), std::string::npos) << r.error;
  ASSERT_FALSE(r.error.empty());
  EXPECT_EQ(r.error.find('\n'), r.error.size() - 1) << "one line: " << r.error;
  EXPECT_NE(r.output.find("dispatcher coedge:batch-aware"), std::string::npos) << r.output;
}

// A node of its own joins DDS only for topic sensors: the DDS options with a config that
// has none are bad input (exit 2), before anything starts; the cluster-only ones always.
TEST(Cli, NodeDdsOptionsNeedTopicSensorsOrAScenario) {
  for (const char* option : {"--domain 3", "--dds-interface 127.0.0.1", "--dds-peer 127.0.0.1"}) {
    const CliRun r = coedge(std::string("node --config examples/node/resnet-3.yaml ") + option);
    EXPECT_EQ(r.code, 2) << option << ": " << r.output;
    EXPECT_NE(r.output.find("--domain, --dds-interface and --dds-peer go with --scenario, or with a config "
                            "whose tasks read topic sensors (kind: topic); examples/node/resnet-3.yaml has none"),
              std::string::npos)
        << r.output;
  }
  for (const char* option : {"--peer n2=127.0.0.1", "--best-effort-frames"}) {
    const CliRun r = coedge(std::string("node --config examples/node/ros-camera.yaml ") + option);
    EXPECT_EQ(r.code, 2) << option;
    EXPECT_NE(r.output.find("--name, --peer, --keystore and --best-effort-frames go with --scenario"), std::string::npos)
        << r.output;
  }
}

TEST(Cli, AnUnknownSchedulerIsBadInputNamingIt) {
  const CliRun r = coedge("sim examples/lamppost.yaml --no-files -q -s nosuch");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("'nosuch'"), std::string::npos) << r.output;
}

// The --triton-* options are the triton spec's options: the same run, the same label.
TEST(Cli, TritonOptionsAreTheSchedulerSpecsOptions) {
  const CliRun flags = coedge("sim examples/batching-yolo-3.yaml --no-files -q -s triton "
                              "--triton-preferred 4,2 --triton-timeout none");
  ASSERT_EQ(flags.code, 0) << flags.output;
  EXPECT_NE(flags.output.find("scheduler triton:preferred=2,4,timeout=none"), std::string::npos)
      << flags.output;
  const CliRun spec = coedge("sim examples/batching-yolo-3.yaml --no-files -q -s "
                             "triton:timeout=none,preferred=2,4");
  ASSERT_EQ(spec.code, 0) << spec.output;
  EXPECT_EQ(flags.output, spec.output);
  const CliRun unused = coedge("sim examples/batching-yolo-3.yaml --no-files -q --triton-preferred 2");
  EXPECT_EQ(unused.code, 2);
  EXPECT_NE(unused.output.find("no policy pair of this run uses"), std::string::npos) << unused.output;
}

// A file that cannot be read is an I/O failure (exit 1), checked before anything runs.
TEST(Cli, AMissingScenarioIsAnIoFailureNamingTheFile) {
  const CliRun r = coedge("sim no/such/file.yaml");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("no/such/file.yaml"), std::string::npos);
}

TEST(Cli, AnInvalidScenarioNamesFileLineAndFieldAndRunsNothing) {
  const auto dir = temp_dir("invalid");
  const auto file = dir / "bad.yaml";
  std::ofstream(file) << "nodes:\n  - name: a\ntasks:\n  - name: t\n    source: a\n"
                         "    model: nosuch\n    period: 100ms\n";
  const CliRun r = coedge("sim " + file.string() + " --out " + (dir / "out").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("bad.yaml:6"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tasks[0].model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nosuch"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));  // no partial run
}

TEST(Cli, AnUnknownPolicyIsBadInput) {
  const CliRun r = coedge("sim examples/batching-resnet-3.yaml --no-files -q -s fifo");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unknown scheduler 'fifo'"), std::string::npos) << r.output;
}

TEST(Cli, SimPrintsTablesAndWritesFiles) {
  const auto dir = temp_dir("sim");
  const CliRun r = coedge("sim examples/batching-resnet-3.yaml -q --out " + dir.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("overall"), std::string::npos);
  EXPECT_NE(r.output.find("allocation at start"), std::string::npos);
  for (const char* f : {"tasks.csv", "models.csv", "allocation.csv", "windows.csv",
                        "plan_changes.csv", "summary.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
}

TEST(Cli, CompareRunsThePapersPairs) {
  const CliRun r = coedge("sim examples/indoor-1g.yaml -q --no-files --compare --duration 240s");
  EXPECT_EQ(r.code, 0) << r.output;
  for (const char* label : {"CoEdge", "Naive", "No offloading", "Local+EDF", "Local+Fixed"})
    EXPECT_NE(r.output.find(label), std::string::npos) << label;
}

TEST(Cli, CityWritesAScenarioThatSimRuns) {
  const auto dir = temp_dir("city");
  const auto file = dir / "city.yaml";
  CliRun r = coedge("city --nodes 30 --load 0.9 --seed 3 -o " + file.string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = coedge("sim " + file.string() + " -q --no-files --duration 120s");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("30 nodes"), std::string::npos) << r.output;
}

}  // namespace

namespace {

TEST(Cli, ProfileWritesAProfileSetThatSimReads) {
  const auto dir = temp_dir("profile");
  const auto profile = dir / "tiny.yaml";
  CliRun r = coedge("profile " COEDGE_BINARY_DIR "/models/fixtures/tiny-classifier.onnx --runs 2 "
                    "--warmup 1 -q -o " + profile.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("per image ms"), std::string::npos);
  // A scenario using that model, simulated with the measured profile.
  const auto scenario = dir / "scenario.yaml";
  std::ofstream(scenario) << "profiles: tiny.yaml\nnodes:\n  - name: a\ntasks:\n"
                             "  - {name: t, source: a, model: tiny-classifier, period: 100ms}\n";
  r = coedge("sim " + scenario.string() + " -q --no-files --duration 10s");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("tiny-classifier"), std::string::npos);
}

TEST(Cli, ProfileOfAScenarioMakesAMachineSet) {
  const auto dir = temp_dir("profile-scenario");
  const auto scenario = dir / "s.yaml";
  std::ofstream(scenario)
      << "models:\n  - {name: tiny-classifier, input_shape: [3, 32, 32], "
         "exe_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n"
         "nodes:\n  - name: a\ntasks:\n"
         "  - {name: t, source: a, model: tiny-classifier, period: 100ms}\n";
  const auto machine = dir / "machine.yaml";
  CliRun r = coedge("profile --scenario " + scenario.string() +
                    " --models-dir " COEDGE_BINARY_DIR "/models/fixtures --runs 2 -q -o " +
                    machine.string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = coedge("sim " + scenario.string() + " --profiles " + machine.string() +
             " -q --no-files --duration 10s");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(Cli, ProfileRejectsBadInputClearly) {
  CliRun r = coedge("profile /no/such/model.onnx -q");
  EXPECT_EQ(r.code, 1);  // cannot be read
  EXPECT_NE(r.output.find("/no/such/model.onnx"), std::string::npos) << r.output;
  r = coedge("profile " COEDGE_BINARY_DIR "/models/fixtures/tiny-classifier.onnx --batch 0-12");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--batch"), std::string::npos) << r.output;
  r = coedge("profile " COEDGE_BINARY_DIR "/models/fixtures/tiny-unsupported.onnx -q");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("NoSuchOperator"), std::string::npos) << r.output;
  r = coedge("profile --scenario examples/lamppost.yaml --models-dir /nowhere -q");
  EXPECT_EQ(r.code, 1);  // a folder that does not exist
  EXPECT_NE(r.output.find("/nowhere"), std::string::npos) << r.output;
}

}  // namespace

namespace {

TEST(Cli, CompareAllRunsEveryDispatcherWithEveryScheduler) {
  const CliRun r = coedge("sim examples/batching-yolo-3.yaml -q --no-files --compare all --duration 60s");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* pair : {"coedge+coedge", "coedge:batch-aware+coedge:wait-for-batch",
                           "spread+triton", "naive+deadline-drop", "local+fixed"})
    EXPECT_NE(r.output.find(pair), std::string::npos) << pair;
  EXPECT_NE(r.output.find("Lower bound on the miss rate"), std::string::npos);
  const CliRun bad = coedge("sim examples/batching-yolo-3.yaml -q --no-files --compare everything");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("--compare takes 'paper' or 'all' (default 'paper')"), std::string::npos) << bad.output;
}

TEST(Cli, SweepWritesOneRowPerFleetAndPolicy) {
  const auto dir = temp_dir("sweep");
  const CliRun r = coedge("sweep --nodes 6,12 --loads 0.8,1.2 --bandwidths 100 --seeds 2 "
                          "--duration 60s --pairs coedge/coedge,coedge+/coedge -q -o " +
                          dir.string());
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream csv(dir / "sweep.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 1 + 2 * 2 * 1 * 2 * 2);  // header + nodes x loads x bandwidths x seeds x pairs
  EXPECT_NE(r.output.find("lower bound"), std::string::npos);
  EXPECT_EQ(coedge("sweep --loads 0,1 -q -o " + dir.string()).code, 2);
  EXPECT_EQ(coedge("sweep --pairs coedge/nosuch -q -o " + dir.string()).code, 2);
}

}  // namespace

namespace {

TEST(Cli, PlotDrawsLatencyAndLoadFiguresWithGnuplot) {
  const auto dir = temp_dir("plot");
  const CliRun r = coedge("sim examples/batching-yolo-3.yaml -q --compare --plot --duration 60s --out " +
                          dir.string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* png : {"latency_cdf.png", "miss_vs_load.png"}) {
    ASSERT_TRUE(std::filesystem::exists(dir / png)) << png;
    std::ifstream in(dir / png, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << png;
  }
}

// Issue 17's acceptance: the small fleet (tests/data/explain/small-fleet.yaml), where Y2's
// best case, 650 ms inference + 70 ms pre/post = 720 ms, exceeds its 700 ms deadline.
std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CliExplain, TheSmallFleetNamesEachUnplacedTasksCauseWithItsTermsAndTheBestPolicy) {
  const auto dir = temp_dir("small-fleet");
  const CliRun r = coedge("sim tests/data/explain/small-fleet.yaml --compare -q --out " + dir.string());
  ASSERT_EQ(r.code, 0) << r.output;
  // The table: every unplaced task of CoEdge, with its estimate term by term.
  const nlohmann::json summary = nlohmann::json::parse(slurp_file(dir / "coedge+coedge" / "summary.json"));
  const std::string unplaced = summary.at("unplaced").get<std::string>();
  ASSERT_FALSE(unplaced.empty()) << "the fleet was built to leave a task unplaced";
  ASSERT_TRUE(summary.at("why").contains("Y2"));
  for (const auto& [task, why] : summary.at("why").items()) {
    if (why.at("status") != "unplaced") continue;
    EXPECT_NE(r.output.find("  " + task + " unplaced: best node "), std::string::npos) << task << "\n" << r.output;
    // The JSON: the terms, and the verdict of every candidate.
    const auto& best = why.at("explanation").at("candidates").at(0);
    for (const char* key : {"transfer_ms", "queueing_ms", "inference_ms", "pre_post_ms", "total_ms", "deadline_ms"})
      EXPECT_TRUE(best.contains(key)) << task << " " << key;
    EXPECT_NE(best.at("verdict"), "fits") << task;
  }
  const auto& y2 = summary.at("why").at("Y2").at("explanation").at("candidates").at(0);
  EXPECT_EQ(y2.at("verdict"), "misses_deadline");
  EXPECT_DOUBLE_EQ(y2.at("inference_ms").get<double>(), 650.0);
  EXPECT_DOUBLE_EQ(y2.at("pre_post_ms").get<double>(), 70.0);
  EXPECT_DOUBLE_EQ(y2.at("deadline_ms").get<double>(), 700.0);
  // The root cause: Y2's estimate alone on the node (from the profile, not a timing) holds
  // its own inference and pre/post, 720 ms, already over its 700 ms deadline; transfer and
  // the alpha correction only add to it.
  EXPECT_GE(y2.at("alone_ms").get<double>(),
            y2.at("inference_ms").get<double>() + y2.at("pre_post_ms").get<double>());
  EXPECT_NE(r.output.find("Y2 unplaced: best node n2: transfer 0 ms + queueing "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("inference 650 ms + pre/post 70 ms"), std::string::npos) << r.output;
  // Stage 1's record, in plan_changes.csv: the best case itself.
  EXPECT_NE(slurp_file(dir / "coedge+coedge" / "plan_changes.csv")
                .find("Y2,-,-,unplaceable,best node n2: transfer 0 ms + queueing 0 ms + inference 650 ms + "
                      "pre/post 70 ms = 720 ms > deadline 700 ms (misses by 20 ms"),
            std::string::npos);

  // The headline names the best policy of the run, from the run's own numbers.
  const nlohmann::json compare = nlohmann::json::parse(slurp_file(dir / "compare.json"));
  std::string best;
  double best_rate = 2, coedge_rate = -1;
  for (const auto& [label, entry] : compare.at("policies").items()) {
    const double rate = entry.at("overall").at("miss_rate").get<double>();
    if (label == "CoEdge") coedge_rate = rate;
    else if (rate < best_rate) best = label, best_rate = rate;
  }
  ASSERT_GE(coedge_rate, 0);
  if (coedge_rate > best_rate) {
    EXPECT_NE(r.output.find("CoEdge is NOT the best policy here: " + best + " (the best other policy) is"), std::string::npos) << r.output;
  } else {
    EXPECT_NE(r.output.find("than the best other policy, " + best), std::string::npos) << r.output;
  }
  EXPECT_EQ(r.output.find("Local+EDF's"), std::string::npos) << "the old one-baseline headline";
  EXPECT_EQ(r.output.find("-0.00 pp"), std::string::npos) << r.output;
}

TEST(CliExplain, CompareAllNamesTheBestOfAllPairs) {
  const CliRun r = coedge("sim tests/data/explain/small-fleet.yaml --compare all -q --no-files --duration 120s");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Why, for coedge+coedge:"), std::string::npos) << r.output;
  EXPECT_TRUE(r.output.find("coedge+coedge is NOT the best policy here: ") != std::string::npos ||
              r.output.find("coedge+coedge has the lowest overall miss rate") != std::string::npos ||
              r.output.find("share the lowest overall miss rate") != std::string::npos)
      << r.output;
}

TEST(CliExplain, ExplainAnswersFromASimulationsFolder) {
  const auto dir = temp_dir("explain-run");
  ASSERT_EQ(coedge("sim tests/data/explain/small-fleet.yaml -q --jobs --duration 60s --out " + dir.string()).code, 0);
  const CliRun y2 = coedge("explain " + dir.string() + " Y2");
  ASSERT_EQ(y2.code, 0) << y2.output;
  EXPECT_NE(y2.output.find("Why: Y2 unplaced: best node n2: transfer 0 ms"), std::string::npos) << y2.output;
  EXPECT_NE(y2.output.find("drop causes: unplaced"), std::string::npos) << y2.output;
  const CliRun v1 = coedge("explain " + dir.string() + " V1");
  ASSERT_EQ(v1.code, 0) << v1.output;
  EXPECT_NE(v1.output.find("inference (its batch)"), std::string::npos) << v1.output;  // stage by stage
  EXPECT_NE(v1.output.find("shares its model vgg19-160 there with"), std::string::npos) << v1.output;

  const CliRun unknown = coedge("explain " + dir.string() + " Nope");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("no task 'Nope'"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("Y2"), std::string::npos) << "lists the tasks there";
  const CliRun missing = coedge("explain " + (dir / "no-such").string() + " Y2");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("no such folder"), std::string::npos) << missing.output;

  // Without --jobs: which option records the timelines.
  std::filesystem::remove(dir / "jobs.csv");
  const CliRun bare = coedge("explain " + dir.string() + " V1");
  ASSERT_EQ(bare.code, 0) << bare.output;
  EXPECT_NE(bare.output.find("--jobs"), std::string::npos) << bare.output;
}

TEST(CliExplain, ExplainReadsANodesJobLinesTolerantly) {
  const auto dir = temp_dir("explain-node");
  std::ofstream(dir / "jobs.jsonl")
      << R"({"node":"n1","task":"T","job":1,"outcome":"met","reason":"none","release_s":1.0,"pre_start_s":1.0,)"
         R"("pre_end_s":1.01,"infer_start_s":1.05,"infer_end_s":1.25,"post_start_s":1.25,"post_end_s":1.26,)"
         R"("end_s":1.26,"batch":1,"latency_ms":260.0,"a_new_field":{"x":1}})" "\n"
      << R"({"node":"n1","task":"T","job":2,"outcome":"dropped","reason":"scheduler","release_s":2.0})" "\n"
      << "not json\n";
  const CliRun r = coedge("explain " + dir.string() + " T");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 in all"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scheduler 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("queue for the accelerator"), std::string::npos) << r.output;
  EXPECT_EQ(coedge("explain " + dir.string() + " Other").code, 2);
}

TEST(CliExplain, ExplainReadsANodesRunFolder) {
  const auto dir = temp_dir("explain-node-run");
  std::ofstream(dir / "summary.json")
      << R"({"node":"n1","scheduler":"coedge","tasks":[)"
         R"({"task":"A","model":"resnet","released":10,"met":7,"overdue":2,"dropped":1,"miss_rate":0.3,)"
         R"("stage_ms":{"pre":5.0,"queue":40.0,"inference":300.0,"post":2.0}},)"
         R"({"task":"B","model":"resnet","released":10,"met":10,"overdue":0,"dropped":0,"miss_rate":0.0}]})";
  const CliRun r = coedge("explain " + dir.string() + " A");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("node n1's run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("shares its model resnet there with: B"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("inference 300.0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("coedge node --jobs"), std::string::npos) << r.output;
  std::ofstream(dir / "other.txt") << "x";
  EXPECT_EQ(coedge("explain " + (dir / "other.txt").string() + " A").code, 2);  // not a folder
}

// A node's jobs file is appended run after run: explain counts the run its summary.json
// names (run_id), reads the jobs file the summary names, and shows the profile warning.
TEST(CliExplain, ExplainCountsOnlyTheRunTheNodesSummaryNames) {
  const auto dir = temp_dir("explain-node-runs");
  const auto jobs = temp_dir("explain-node-runs-jobs") / "node-jobs.jsonl";
  std::ofstream(jobs)
      << R"({"run":"20261202T100000Z-aaaaaa","node":"n1","task":"A","job":1,"outcome":"dropped","reason":"scheduler","release_s":1.0})" "\n"
      << R"({"run":"20261202T100000Z-aaaaaa","node":"n1","task":"A","job":2,"outcome":"dropped","reason":"scheduler","release_s":2.0})" "\n"
      << R"({"run":"20261202T110000Z-bbbbbb","node":"n1","task":"A","job":1,"outcome":"met","reason":"none","release_s":1.0,"end_s":1.3})" "\n";
  auto summary = [&](const std::string& run) {
    std::ofstream(dir / "summary.json")
        << R"({"node":"n1","scheduler":"edf","run_id":")" << run << R"(","jobs_file":")" << jobs.string()
        << R"(","tasks":[{"task":"A","model":"yolo","released":1,"met":1,"overdue":0,"dropped":0,"miss_rate":0.0}],)"
        << R"("profile_check":{"warnings":[{"model":"yolo","batch":1,"measured_ms":300.0,"profiled_ms":200.0,"ratio":1.5}],)"
        << R"("reprofile":"coedge profile yolo.onnx -o p.yaml"}})";
  };
  summary("20261202T110000Z-bbbbbb");
  CliRun r = coedge("explain " + dir.string() + " A");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("1 in all, met 1"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("dropped 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("profile warning: yolo at batch 1 took 300.0 ms"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("re-profile: coedge profile yolo.onnx"), std::string::npos) << r.output;
  summary("20261202T100000Z-aaaaaa");
  r = coedge("explain " + dir.string() + " A");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 in all"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scheduler 2"), std::string::npos) << r.output;
}

// Without a summary, the latest run of the whole folder counts, in every file: a node that
// ran nothing in the latest run adds none of its older lines.
TEST(CliExplain, ExplainTakesTheFoldersLatestRunInEveryFile) {
  const auto dir = temp_dir("explain-latest-run");
  std::ofstream(dir / "jobs.jsonl")
      << R"({"run":"20261202T100000Z-aaaaaa","node":"n1","task":"T","job":1,"outcome":"dropped","reason":"lost","release_s":1.0})" "\n"
      << R"({"run":"20261202T110000Z-bbbbbb","node":"n1","task":"T","job":1,"outcome":"met","reason":"none","release_s":1.0,"end_s":1.2})" "\n";
  std::ofstream(dir / "jobs-n2.jsonl")
      << R"({"run":"20261202T100000Z-aaaaaa","node":"n2","task":"T","job":2,"outcome":"dropped","reason":"lost","release_s":2.0})" "\n";
  const CliRun r = coedge("explain " + dir.string() + " T");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("1 in all, met 1"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("lost"), std::string::npos) << r.output;
}

// A cluster run's folder (master/summary.json, nodes/NODE/summary.json): explain names the
// tasks sharing the node and model, and the node's own profile warning for the model.
TEST(CliExplain, ExplainReadsAClusterRunAndItsNodesProfileWarning) {
  const auto dir = temp_dir("explain-cluster");
  std::filesystem::create_directories(dir / "master");
  std::filesystem::create_directories(dir / "nodes" / "n5");
  std::ofstream(dir / "master" / "summary.json")
      << R"({"scenario":"lamppost","dispatcher":"coedge","tasks":[)"
         R"({"task":"R1","model":"resnet","source":"n5","node":"n5","released":10,"met":1,"overdue":0,"dropped":9,"miss_rate":0.9},)"
         R"({"task":"R2","model":"resnet","source":"n6","node":"n5","released":10,"met":10,"overdue":0,"dropped":0,"miss_rate":0.0},)"
         R"({"task":"Y1","model":"yolo","source":"n1","node":"n1","released":10,"met":10,"overdue":0,"dropped":0,"miss_rate":0.0}]})";
  std::ofstream(dir / "nodes" / "n5" / "summary.json")
      << R"({"node":"n5","profile_check":{"warnings":[)"
         R"({"model":"resnet","batch":1,"measured_ms":643.1,"profiled_ms":405.0,"ratio":1.588},)"
         R"({"model":"other","batch":1,"measured_ms":9.0,"profiled_ms":1.0,"ratio":9.0}],)"
         R"("reprofile":"coedge profile resnet.onnx -o n5.yaml"}})";
  const CliRun r = coedge("explain " + dir.string() + " R1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("shares n5 with: R2 (resnet)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("profile warning on n5: resnet at batch 1 took 643.1 ms (median) against 405.0 ms"),
            std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("other at batch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("re-profile: coedge profile resnet.onnx"), std::string::npos) << r.output;
  const CliRun y = coedge("explain " + dir.string() + " Y1");
  ASSERT_EQ(y.code, 0) << y.output;
  EXPECT_EQ(y.output.find("profile warning"), std::string::npos) << y.output;
}

}  // namespace
