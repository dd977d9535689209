// The command line's rough edges of issue 18, each case run through the real `coedge`
// binary with its exit code (0 ok, 1 I/O failure, 2 bad input, 3 a run with jobs
// unaccounted): unknown subcommands and options, optional values that must not swallow
// the scenario, our wording of ranges, paths and ports checked before anything starts,
// tables on stdout, progress without carriage returns off a terminal, --json documents.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/run_command.h"

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

fs::path temp_root() { return fs::temp_directory_path() / ("coedge-cli-table-" + std::to_string(::getpid())); }

class RemoveTempRoot : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(temp_root()); }
};
const auto* const kRemoveTempRoot = ::testing::AddGlobalTestEnvironment(new RemoveTempRoot);

fs::path temp_dir(const std::string& name) {
  const fs::path dir = temp_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `coedge ARGS` from the source folder (`env` before it, e.g. "NO_COLOR=1"), stdout and
// stderr apart; stdin and stderr are not terminals.
CliRun coedge(const std::string& args, const std::string& env = "") {
  static int serial = 0;
  const fs::path err = temp_root() / ("stderr-" + std::to_string(serial++) + ".txt");
  fs::create_directories(temp_root());
  const std::string command = "cd " COEDGE_SOURCE_DIR " && " + env + " " COEDGE_BINARY_DIR "/bin/coedge " + args +
                              " 2>'" + err.string() + "' </dev/null";
  CliRun run;
  const coedge::test::CommandRun done = coedge::test::run_command(command);
  run.out = done.out;
  run.code = done.code;
  run.err = slurp(err);
  return run;
}

// A whole shell command line from the source folder, its stdout only.
CliRun shell(const std::string& command_line) {
  CliRun run;
  const coedge::test::CommandRun done = coedge::test::run_command("cd " COEDGE_SOURCE_DIR " && " + command_line);
  run.out = done.out;
  run.code = done.code;
  return run;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string kTiny = COEDGE_BINARY_DIR "/models/fixtures/tiny-classifier.onnx";

// One row of the table: the arguments, the exit code, what stderr says.
struct Case {
  std::string args;
  int code;
  std::vector<std::string> says;      // each in stderr
  std::vector<std::string> not_says;  // none in stderr
};

TEST(CliTable, EachRoughEdgeWithItsExitCode) {
  const fs::path dir = temp_dir("table");
  std::ofstream(dir / "a-file") << "x";
  const std::vector<Case> cases = {
      // Unknown subcommands, with a suggestion when one is close.
      {"simm x.yaml", 2, {"coedge: unknown subcommand 'simm'; did you mean 'sim'?"}, {"A subcommand is required"}},
      {"calibrate --help", 2, {"unknown subcommand 'calibrate'", "subcommands: "}, {"Usage:"}},
      {"", 2, {"coedge: give a subcommand: "}, {}},
      // Unknown options, with a suggestion from the subcommand's own options.
      {"sim --comapre examples/lamppost.yaml", 2, {"coedge sim: unknown option '--comapre'; did you mean '--compare'?"}, {}},
      {"--verison", 2, {"coedge: unknown option '--verison'; did you mean '--version'?"}, {"give a subcommand"}},
      {"city --load 0", 2, {"--load: expected a number more than 0 and up to 100, got '0'"}, {"1e-06"}},
      {"node --config examples/node/detect-folder.yaml --worker README.md", 1, {"--worker: 'README.md' is not executable"}, {}},
      {"city --nodse 5", 2, {"coedge city: unknown option '--nodse'; did you mean '--nodes'?"}, {}},
      {"sweep --seed=3", 2, {"unknown option '--seed'; did you mean '--seeds'?"}, {}},
      {"sim examples/lamppost.yaml stray", 2, {"unexpected argument 'stray'"}, {}},
      {"sim", 2, {"coedge sim: missing the SCENARIO argument"}, {}},
      // --compare does not take the scenario file as its value.
      {"sim --compare no/such.yaml", 1, {"scenario: 'no/such.yaml' does not exist", "'no/such.yaml' after --compare was not taken"},
       {"scenario is required"}},
      {"sim examples/batching-yolo-3.yaml --no-files -q --compare everything", 2,
       {"unexpected argument 'everything'", "--compare takes 'paper' or 'all'"}, {}},
      {"sim examples/batching-yolo-3.yaml --no-files -q --compare=everything", 2,
       {"--compare: expected 'paper' or 'all', got 'everything'"}, {}},
      // Values in the user's words.
      {"sim examples/lamppost.yaml --seed -1", 2, {"--seed: expected a whole number, 0 or more, got '-1'"},
       {"4000000000000000000", "UINT", "FLOAT", "not in range"}},
      {"sim examples/lamppost.yaml --seeds 0", 2, {"--seeds: expected a whole number from 1 to 100000, got '0'"}, {}},
      {"sim examples/lamppost.yaml --seeds many", 2, {"--seeds: expected a whole number from 1 to 100000, got 'many'"}, {}},
      {"city --hotspot-share 2", 2, {"--hotspot-share: expected a number from 0 to 1, got '2'"}, {}},
      {"sim examples/lamppost.yaml --seed", 2, {"--seed needs a value"}, {"TEXT", "UINT"}},
      {"node --config examples/node/resnet-3.yaml --crash-target wroker --crash-every 1s", 2,
       {"--crash-target: expected 'worker' or 'server', got 'wroker'; did you mean 'worker'?"}, {}},
      // Ports are checked before anything starts.
      {"node --config examples/node/resnet-3.yaml --metrics-port 99999", 2,
       {"--metrics-port: expected a TCP port from 0 (off) to 65535, got '99999'"}, {"CivetServer"}},
      {"node --scenario examples/lamppost.yaml --name n1 --probe-port 0", 2,
       {"--probe-port: expected a TCP port from 1 to 65535, got '0'"}, {}},
      // A file that cannot be read is an I/O failure (1), wherever it is named.
      {"sim no/such/file.yaml", 1, {"coedge sim: scenario: 'no/such/file.yaml' does not exist"}, {}},
      {"sim examples/lamppost.yaml --profiles /no/such/profiles.yaml", 1, {"--profiles: '/no/such/profiles.yaml' does not exist"}, {}},
      {"sim examples", 1, {"'examples' is a folder, not a file"}, {}},
      {"node --config /no/such/node.yaml", 1, {"--config: '/no/such/node.yaml' does not exist"}, {}},
      {"master --scenario /no/such.yaml", 1, {"--scenario: '/no/such.yaml' does not exist"}, {}},
      {"profile /no/such/model.onnx", 1, {"models: '/no/such/model.onnx' does not exist"}, {}},
      // Output folders that cannot be created, before the run.
      {"sim examples/lamppost.yaml -o " + (dir / "a-file" / "out").string(), 1, {"--out: cannot create folder", "is a file"}, {"simulated"}},
      {"sweep -q -o " + (dir / "a-file").string(), 1, {"--out: '" + (dir / "a-file").string() + "' is a file, not a folder"}, {}},
      {"city --nodes 5 -o " + dir.string(), 1, {"is a folder, not a file"}, {}},
      // A profile file needs batch sizes 1-10: asking for one with fewer is refused up front.
      {"profile " + kTiny + " --batch 1-2 -q -o " + (dir / "p.yaml").string(), 2, {"needs batch sizes 1-10", "--batch 1-2"}, {}},
      // A vector option takes one value per occurrence when there is a positional.
      {"cluster --kill nosuch@1s examples/lamppost.yaml", 2, {"--kill nosuch: no such node"}, {"missing the scenario"}},
  };
  for (const Case& c : cases) {
    const CliRun r = coedge(c.args);
    EXPECT_EQ(r.code, c.code) << "coedge " << c.args << "\nstderr:\n" << r.err;
    for (const std::string& s : c.says) EXPECT_TRUE(has(r.err, s)) << "coedge " << c.args << ": no '" << s << "' in\n" << r.err;
    for (const std::string& s : c.not_says) EXPECT_FALSE(has(r.err, s)) << "coedge " << c.args << ": '" << s << "' in\n" << r.err;
    EXPECT_EQ(r.out, "") << "coedge " << c.args << ": an error prints nothing on stdout";
  }
  EXPECT_FALSE(fs::exists(dir / "p.yaml"));
  EXPECT_FALSE(fs::exists(dir / "a-file" / "out"));
}

TEST(CliTable, CompareLeavesTheScenarioToThePositional) {
  for (const char* args : {"sim --compare examples/batching-yolo-3.yaml --no-files -q --duration 20s",
                           "sim examples/batching-yolo-3.yaml --compare --no-files -q --duration 20s",
                           "sim --compare paper examples/batching-yolo-3.yaml --no-files -q --duration 20s"}) {
    const CliRun r = coedge(args);
    EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
    for (const char* label : {"CoEdge", "Naive", "Local+EDF"}) EXPECT_TRUE(has(r.out, label)) << args;
  }
  const CliRun all = coedge("sim --compare all examples/batching-yolo-3.yaml --no-files -q --duration 20s");
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_TRUE(has(all.out, "spread+triton")) << all.out;
  // A list option before the positional takes one value (commas within it).
  const CliRun triton = coedge("sim -s triton --triton-preferred 4,8 examples/batching-yolo-3.yaml --no-files -q --duration 10s");
  EXPECT_EQ(triton.code, 0) << triton.err;
  EXPECT_TRUE(has(triton.out, "scheduler triton:preferred=4,8")) << triton.out;
}

// Every subcommand's help speaks in our type names, and the main help says the exit codes.
TEST(CliTable, HelpHasNoInternalTypeNames) {
  const CliRun main_help = coedge("--help");
  EXPECT_EQ(main_help.code, 0);
  EXPECT_TRUE(has(main_help.out, "Exit status")) << main_help.out;
  for (const char* line : {"  0  success", "  1  an I/O failure", "  2  bad input", "  3  a run that completed"})
    EXPECT_TRUE(has(main_help.out, line)) << line;
  for (const char* sub : {"sim", "city", "profile", "sweep", "node", "master", "camera", "cluster", "demo",
                          "policies", "explain", "node-server", "keys"}) {
    const CliRun r = coedge(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub;
    for (const char* internal : {" TEXT", " UINT", " INT", " FLOAT", ":INT", ":FLOAT", "e+18", "- 4e", "IsMember"})
      EXPECT_FALSE(has(r.out, internal)) << sub << " --help shows '" << internal << "':\n" << r.out;
  }
  const CliRun sim = coedge("sim --help");
  EXPECT_TRUE(has(sim.out, "--compare [paper|all]")) << sim.out;
  EXPECT_TRUE(has(sim.out, "--duration DURATION")) << sim.out;
  EXPECT_TRUE(has(sim.out, "--progress")) << sim.out;
}

// Issue 18's acceptance: no carriage return when stderr is not a terminal, and --progress
// forces plain lines.
TEST(CliTable, ProgressOnlyOnATerminalUnlessForced) {
  const CliRun r = shell(COEDGE_BINARY_DIR "/bin/coedge sim --compare all examples/lamppost.yaml --no-files 2>&1 | cat");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "coedge+coedge")) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_FALSE(has(r.out, "] simulated"));  // no progress at all off a terminal
  const CliRun forced = coedge("sim --compare examples/batching-yolo-3.yaml --no-files --progress --duration 20s");
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_TRUE(has(forced.err, "[CoEdge] simulated 100%\n")) << forced.err;
  EXPECT_EQ(forced.err.find('\r'), std::string::npos);
  const CliRun sweep = coedge("sweep --nodes 6 --loads 1.0 --bandwidths 100 --seeds 1 --duration 20s --pairs coedge+coedge "
                           "--progress -o " + temp_dir("sweep-progress").string());
  EXPECT_EQ(sweep.code, 0) << sweep.err;
  EXPECT_TRUE(has(sweep.err, "sweep: 1 of 1 fleets simulated\n")) << sweep.err;
  EXPECT_EQ(sweep.err.find('\r'), std::string::npos);
  const CliRun quiet = coedge("sim examples/batching-yolo-3.yaml --no-files --progress -q --duration 20s");
  EXPECT_FALSE(has(quiet.err, "] simulated")) << quiet.err;
  // No colour off a terminal, whatever NO_COLOR says (CoEdge prints none anywhere; this
  // guards against escape sequences creeping into piped output): no ESC in either stream.
  for (const std::string env : {"NO_COLOR=1", ""}) {
    const CliRun plain = coedge("sim examples/batching-yolo-3.yaml --no-files --duration 20s --compare", env);
    EXPECT_EQ(plain.out.find('\x1b'), std::string::npos) << env << plain.out;
    EXPECT_EQ(plain.err.find('\x1b'), std::string::npos) << env << plain.err;
  }
}

nlohmann::json parse_json(const CliRun& r, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << what << " is not one JSON document:\n" << r.out;
  return j;
}

TEST(CliTable, JsonIsOneDocumentOnStdout) {
  const fs::path dir = temp_dir("json");
  CliRun r = coedge("sim examples/batching-yolo-3.yaml --json --duration 20s -o " + (dir / "one").string());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = parse_json(r, "sim --json");
  for (const char* key : {"scenario", "dispatcher", "scheduler", "seed", "overall", "tasks", "allocation", "why"})
    EXPECT_TRUE(j.contains(key)) << key;
  // The same document as the file.
  EXPECT_EQ(j, nlohmann::json::parse(slurp(dir / "one" / "summary.json")));

  r = coedge("sim examples/batching-yolo-3.yaml --json --compare --no-files --duration 20s");
  ASSERT_EQ(r.code, 0) << r.err;
  j = parse_json(r, "sim --json --compare");
  EXPECT_TRUE(j.contains("lower_bound"));
  for (const char* label : {"CoEdge", "Naive", "No offloading", "Local+EDF", "Local+Fixed"})
    EXPECT_TRUE(j["policies"].contains(label)) << label;
  EXPECT_TRUE(j["policies"]["CoEdge"]["overall"].contains("miss_rate"));

  r = coedge("sim examples/batching-yolo-3.yaml --json --seeds 2 --no-files --duration 20s");
  ASSERT_EQ(r.code, 0) << r.err;
  j = parse_json(r, "sim --json --seeds");
  EXPECT_EQ(j["policies"]["coedge+coedge"]["miss_rate"]["per_seed"].size(), 2u);

  r = coedge("sweep --nodes 6 --loads 0.8,1.2 --bandwidths 100 --seeds 1 --duration 20s --pairs coedge+coedge local+edf "
             "--json -q -o " + (dir / "sweep").string());
  ASSERT_EQ(r.code, 0) << r.err;
  j = parse_json(r, "sweep --json");
  for (const char* key : {"fleets", "nodes", "loads", "bandwidths_mbps", "seeds", "policies", "lower_bound", "by_load", "csv"})
    EXPECT_TRUE(j.contains(key)) << key;
  ASSERT_EQ(j["policies"].size(), 2u);
  EXPECT_EQ(j["policies"][1]["policy"], "local+edf");
  EXPECT_TRUE(j["policies"][0].contains("mean_miss_rate"));
  EXPECT_EQ(j["by_load"]["local+edf"].size(), 2u);
  EXPECT_TRUE(has(r.err, "Results written to"));  // diagnostics stay on stderr

  r = coedge("profile " + kTiny + " --runs 2 --warmup 1 --json -o " + (dir / "tiny.yaml").string());
  ASSERT_EQ(r.code, 0) << r.err;
  j = parse_json(r, "profile --json");
  ASSERT_EQ(j["models"].size(), 1u);
  EXPECT_EQ(j["models"][0]["name"], "tiny-classifier");
  EXPECT_EQ(j["models"][0]["batches"].size(), 10u);
  EXPECT_TRUE(j["models"][0]["batches"][0].contains("median_ms"));
  EXPECT_EQ(j["profile_file"], (dir / "tiny.yaml").string());
  EXPECT_TRUE(fs::exists(dir / "tiny.yaml"));
}

// A node with one synthetic camera, in one process (no root needed).
void write_node_config(const fs::path& file, const std::string& sensor) {
  std::ofstream(file) << "node: cli-table\nisolation: none\nduration: 2s\nmodels:\n  - {name: tiny, file: " << kTiny
                      << "}\nsensors:\n  - " << sensor << "\ntasks:\n  - {name: a, model: tiny, sensor: street, period: 200ms}\n";
}

TEST(CliTable, NodeTableOnStdoutAndItsSummaryAsJson) {
  const fs::path dir = temp_dir("node");
  write_node_config(dir / "node.yaml", "{name: street, kind: synthetic, width: 64, height: 64}");
  CliRun r = coedge("node --config " + (dir / "node.yaml").string() + " --run-dir " + (dir / "run").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "released")) << "the table goes to stdout:\n" << r.out;
  EXPECT_FALSE(has(r.err, "released")) << r.err;
  EXPECT_TRUE(has(r.err, "summary written to")) << "the log stays on stderr";
  r = coedge("node --json --config " + (dir / "node.yaml").string() + " --run-dir " + (dir / "run").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = parse_json(r, "node --json");
  for (const char* key : {"node", "run_id", "tasks", "totals", "dropped_by_cause"}) EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["tasks"][0]["task"], "a");
  EXPECT_EQ(j["totals"]["accounted"], true);
  EXPECT_EQ(j, nlohmann::json::parse(slurp(dir / "run" / "summary.json")));
}

// A port out of range in the node's config file is refused as the command line's is,
// before any server starts; so is a run folder that cannot be created.
TEST(CliTable, NodePortsAndFoldersAreCheckedBeforeItStarts) {
  const fs::path dir = temp_dir("node-port");
  std::ofstream(dir / "a-file") << "x";
  write_node_config(dir / "node.yaml", "{name: street, kind: synthetic, width: 64, height: 64}");
  std::ofstream(dir / "node.yaml", std::ios::app) << "metrics: {port: 99999}\n";
  CliRun r = coedge("node --config " + (dir / "node.yaml").string() + " --run-dir " + (dir / "run").string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "must be a TCP port from 0 (off) to 65535")) << r.err;
  EXPECT_FALSE(has(r.err, "CivetServer")) << r.err;
  EXPECT_FALSE(fs::exists(dir / "run"));
  write_node_config(dir / "node.yaml", "{name: street, kind: synthetic, width: 64, height: 64}");
  r = coedge("node --config " + (dir / "node.yaml").string() + " --run-dir " + (dir / "a-file" / "run").string());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(has(r.err, "--run-dir: cannot create folder")) << r.err;
  EXPECT_FALSE(has(r.err, "[node")) << "nothing started:\n" << r.err;
}

// "sensor street: sensor 'street': ..." said the sensor twice.
TEST(CliTable, ASensorErrorNamesTheSensorOnce) {
  const fs::path dir = temp_dir("sensor");
  fs::create_directories(dir / "empty");
  write_node_config(dir / "node.yaml", "{name: street, kind: folder, path: " + (dir / "empty").string() + "}");
  const CliRun r = coedge("node --config " + (dir / "node.yaml").string() + " --run-dir " + (dir / "run").string());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(has(r.err, "sensor 'street': folder ")) << r.err;
  EXPECT_FALSE(has(r.err, "sensor street: sensor")) << r.err;
}

}  // namespace
