// `coedge node` as a user runs it: the real node runtime (sensors, workers, the shared
// inference server) in each isolation mode, with fault injection, SIGTERM and bad input.
// Assertions are on what the run accounts for and leaves behind, never on how fast it was.
//
// Each test writes its config into its own folder /var/tmp/coedge-test-<pid>-<n> (not
// /tmp: the agent gives its workers a private /tmp), runs the binary with stdout and
// stderr in a file there, and prints that file when an assertion fails. The folder is
// removed when the test passes and kept when it fails.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/node_test_inputs.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";
const std::string kModel = COEDGE_BINARY_DIR "/models/yolov5s-160.onnx";  // 24 ms per inference
const std::string kProfiles = COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml";

using coedge::test::read_lines;
using coedge::test::read_text;

bool is_root() { return geteuid() == 0; }

// Processes whose command line mentions `needle` (the test's unique folder).
std::vector<std::string> processes_mentioning(const std::string& needle) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_text(it->path() / "cmdline");
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    if (cmdline.find(needle) != std::string::npos) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

struct NodeRun {
  int code = -1;         // exit code, or -1 when it did not exit normally
  int signal = 0;        // the signal that ended it, if any
  bool timed_out = false;
  std::string output;    // stdout and stderr together
};

// A running `coedge node` (or any coedge subcommand): forked, in its own process group,
// stdout and stderr into `log`.
class Child {
 public:
  Child(const std::vector<std::string>& args, const fs::path& log, std::optional<uid_t> run_as = {})
      : log_(log) {
    std::vector<std::string> argv_strings{kCoedge};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      if (chdir(COEDGE_SOURCE_DIR) != 0) _exit(126);
      if (run_as) {
        if (setgroups(0, nullptr) != 0 || setgid(*run_as) != 0 || setuid(*run_as) != 0) _exit(125);
      }
      std::vector<char*> argv;
      for (auto& s : argv_strings) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  std::string output() const { return read_text(log_); }

  // Waits for the exit; a hang guard (not a timing assertion) kills the whole group.
  NodeRun wait(std::chrono::seconds guard) {
    NodeRun run;
    if (pid_ <= 0) {
      run.output = "fork failed";
      return run;
    }
    const auto give_up = std::chrono::steady_clock::now() + guard;
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (r < 0) {
        run.output = "waitpid failed";
        reaped_ = true;
        return run;
      }
      if (std::chrono::steady_clock::now() > give_up) {
        run.timed_out = true;
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    reaped_ = true;
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    run.output = read_text(log_);
    return run;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

std::string describe(const NodeRun& run) {
  std::string text = "exit code " + std::to_string(run.code);
  if (run.signal != 0) text += ", killed by signal " + std::to_string(run.signal);
  if (run.timed_out) text += ", TIMED OUT (hang guard)";
  return text + "\n--- coedge output ---\n" + run.output + "--- end of output ---";
}

struct TaskLine {
  std::string name, sensor, period;
};

class NodeRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::path("/var/tmp") /
           ("coedge-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
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

  fs::path run_dir() const { return dir_ / "run"; }

  // A node in isolation `process` with one YOLO-160 model and one synthetic camera cam0,
  // `extra` lines at the top level, and `tasks` (YAML list items), written to dir_/FILE.
  fs::path write_process_config(const std::string& file, const std::string& extra, const std::string& tasks) const {
    std::ostringstream y;
    y << "node: test-node\nisolation: process\n" << extra
      << "run_dir: " << run_dir().string() << "\n"
      << "profiles: " << kProfiles << "\n"
      << "models:\n  - {name: yolov5s-160, file: " << kModel << "}\n"
      << "sensors:\n  - {name: cam0, kind: synthetic, width: 320, height: 240}\n"
      << "tasks:\n" << tasks;
    const fs::path config = dir_ / file;
    std::ofstream(config) << y.str();
    return config;
  }
  fs::path summary_file() const { return dir_ / "summary.json"; }
  fs::path jobs_file() const { return dir_ / "jobs.jsonl"; }

  // A node config with the YOLOv5s-160 model, the given sensors and tasks, in dir_. With
  // `frames`, every sensor replays that folder (looping), and the scheduler is edf (batch
  // 1: each item's inference alone, so its output does not depend on how jobs batched).
  fs::path write_config(const std::string& isolation, const std::vector<std::string>& sensors,
                        const std::vector<TaskLine>& tasks, const std::string& name = "node.yaml",
                        const fs::path& frames = {}) {
    std::ostringstream y;
    y << "node: test-node\n"
      << "isolation: " << isolation << "\n"
      << "run_dir: " << run_dir().string() << "\n"
      << "profiles: " << kProfiles << "\n";
    if (!frames.empty()) y << "scheduler: edf\n";
    y << "models:\n"
      << "  - {name: yolov5s-160, file: " << kModel << "}\n"
      << "sensors:\n";
    for (const auto& s : sensors) {
      if (frames.empty()) {
        y << "  - {name: " << s << ", kind: synthetic, width: 320, height: 240}\n";
      } else {
        y << "  - {name: " << s << ", kind: folder, path: " << frames.string() << ", loop: true}\n";
      }
    }
    y << "tasks:\n";
    for (const auto& t : tasks) {
      y << "  - {name: " << t.name << ", model: yolov5s-160, sensor: " << t.sensor
        << ", period: " << t.period << "}\n";
    }
    const fs::path file = dir_ / name;
    std::ofstream(file) << y.str();
    return file;
  }

  // The usual three tasks: two sharing cam0, one on cam1.
  fs::path write_three_task_config(const std::string& isolation, const fs::path& frames = {}) {
    return write_config(isolation, {"cam0", "cam1"},
                        {{"a", "cam0", "200ms"}, {"b", "cam0", "400ms"}, {"c", "cam1", "300ms"}},
                        "node.yaml", frames);
  }

  std::vector<std::string> node_args(const fs::path& config, const std::vector<std::string>& extra) {
    std::vector<std::string> args{"node", "--config", config.string(), "--summary",
                                  summary_file().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  NodeRun run_node(const fs::path& config, const std::vector<std::string>& extra,
                   std::chrono::seconds guard = std::chrono::seconds(120)) {
    Child child(node_args(config, extra), dir_ / "output.txt");
    return child.wait(guard);
  }

  NodeRun run_coedge(const std::vector<std::string>& args, std::optional<uid_t> run_as = {}) {
    Child child(args, dir_ / "output.txt", run_as);
    return child.wait(std::chrono::seconds(60));
  }

  json read_summary() const {
    const std::string text = read_text(summary_file());
    return json::parse(text, nullptr, /*allow_exceptions=*/false);
  }

  fs::path dir_;
};

// Totals add up and something was released.
void expect_accounted(const json& s, const std::string& why) {
  ASSERT_TRUE(s.is_object()) << "no readable summary\n" << why;
  const json& t = s["totals"];
  EXPECT_TRUE(t["accounted"].get<bool>()) << why;
  const auto released = t["released"].get<uint64_t>();
  EXPECT_EQ(released, t["met"].get<uint64_t>() + t["overdue"].get<uint64_t>() +
                          t["dropped"].get<uint64_t>())
      << why;
  EXPECT_GT(released, 0u) << why;
}

[[maybe_unused]] void expect_every_task_ran(const json& s, size_t tasks, const std::string& why) {
  ASSERT_EQ(s["tasks"].size(), tasks) << why;
  for (const json& task : s["tasks"]) {
    EXPECT_GT(task["released"].get<uint64_t>(), 0u) << task["task"] << "\n" << why;
    EXPECT_GT(task["met"].get<uint64_t>(), 0u) << task["task"] << "\n" << why;
  }
}

[[maybe_unused]] void expect_job_lines(const fs::path& jobs, uint64_t released, const std::string& why) {
  const auto lines = read_lines(jobs);
  EXPECT_EQ(lines.size(), released) << why;
  const std::set<std::string> outcomes{"met", "overdue", "dropped"};
  size_t bad = 0;
  for (const std::string& line : lines) {
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool ok = j.is_object() && j.contains("outcome") && j["outcome"].is_string() &&
                    outcomes.count(j["outcome"].get<std::string>()) == 1;
    if (!ok && bad++ < 3) ADD_FAILURE() << "bad job line: " << line;
  }
  EXPECT_EQ(bad, 0u);
}

// A jobs file's lines counted per task: outcome ("met", "overdue") or, for a dropped job,
// its drop cause -> jobs. A line that is not a JSON object fails the test.
[[maybe_unused]] std::map<std::string, std::map<std::string, uint64_t>> jobs_by_task(
    const fs::path& jobs) {
  std::map<std::string, std::map<std::string, uint64_t>> by_task;
  for (const std::string& line : read_lines(jobs)) {
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << line;
    if (!j.is_object()) continue;
    const std::string outcome = j.value("outcome", "");
    ++by_task[j.value("task", "")][outcome == "dropped" ? j.value("reason", "") : outcome];
  }
  return by_task;
}

void expect_no_leftovers(const fs::path& dir) {
  const auto left = processes_mentioning(dir.string());
  std::string list;
  for (const auto& p : left) list += p + "\n";
  EXPECT_TRUE(left.empty()) << "processes left behind:\n" << list;
}

[[maybe_unused]] void expect_shared_memory_released(const json& s, const std::string& why) {
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["health"]["chunks_in_use"]["end"].get<int64_t>(), 0) << why;
  EXPECT_EQ(s["health"]["frame_chunks_in_use"]["end"].get<int64_t>(), 0) << why;
  EXPECT_EQ(s["health"]["shm_files"]["end"].get<int64_t>(), 0) << why;
}

#ifdef COEDGE_NODE_SLOW_TESTS  // the `slow` binary: only the long crash test
// --- fault injection: many worker crashes -----------------------------------------------

// After a worker crash every 150 ms for 40 s nothing has leaked, no job is lost (each is
// accounted, as dropped with cause worker_crash), and work goes on: jobs are met in the
// last 10 s, free of crashes. A crash is injected only into a live worker, so how many
// happen depends on the machine's speed (about 266 here, docs/PERFORMANCE.md §8), and so
// does whether any job fits between two crashes: the test requires crashes, not a count,
// and met jobs only after the crashes stopped.
TEST_F(NodeRuntimeTest, SurvivesRepeatedWorkerCrashesWithoutLeaks) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const auto config =
      write_config("process", {"cam0"}, {{"d1", "cam0", "200ms"}, {"d2", "cam0", "200ms"}});
  const NodeRun run = run_node(config, {"--duration", "50s", "--crash-every", "150ms", "--crash-for", "40s",
                                        "--restart-backoff-max", "100ms"},
                               std::chrono::seconds(240));
  const std::string why = describe(run);
  ASSERT_EQ(run.code, 0) << why;
  expect_no_leftovers(dir_);
  const json s = read_summary();
  expect_accounted(s, why);
  const json& h = s["health"];
  EXPECT_GE(h["crashes_injected"].get<int>(), 1) << why;
  std::fprintf(stderr, "crashes injected: %d\n", h["crashes_injected"].get<int>());
  ASSERT_TRUE(s["dropped_by_cause"].contains("worker_crash")) << s.dump(2) << "\n" << why;
  EXPECT_GT(s["dropped_by_cause"]["worker_crash"].get<uint64_t>(), 0u) << why;
  EXPECT_EQ(h["chunks_in_use"]["end"].get<int64_t>(), 0) << s.dump(2);
  EXPECT_EQ(h["frame_chunks_in_use"]["end"].get<int64_t>(), 0) << s.dump(2);
  EXPECT_EQ(h["shm_files"]["end"].get<int64_t>(), 0) << s.dump(2);
  EXPECT_EQ(h["agent_fds"]["start"].get<int64_t>(), h["agent_fds"]["end"].get<int64_t>()) << s.dump(2);
  const auto server_start = h["server_fds"]["start"].get<int64_t>();
  const auto server_end = h["server_fds"]["end"].get<int64_t>();
  if (server_start >= 0 && server_end >= 0) {
    EXPECT_EQ(server_start, server_end) << s.dump(2);
  }
  EXPECT_GT(s["totals"]["met"].get<uint64_t>(), 0u) << "no work after the crashes\n" << why;
}

#else  // the `integration` binary: everything else

// --- isolation none: everything in one process -----------------------------------------

TEST_F(NodeRuntimeTest, NoneModeRunsAndAccountsEveryJob) {
  const auto config = write_three_task_config("none");
  const NodeRun run = run_node(config, {"--duration", "6s", "--jobs", jobs_file().string()});
  const std::string why = describe(run);
  ASSERT_EQ(run.code, 0) << why;
  const json s = read_summary();
  expect_accounted(s, why);
  expect_every_task_ran(s, 3, why);
  expect_job_lines(jobs_file(), s["totals"]["released"].get<uint64_t>(), why);
}

// --- one worker-invocation path: the same results in every isolation mode --------------

// Per task: the distinct results of its results.jsonl, without the job id and the rest of
// the line (docs/schema/result-line.schema.json; the result depends only on the frame).
std::map<std::string, std::set<std::string>> read_results(const fs::path& run_dir, std::string& bad) {
  std::map<std::string, std::set<std::string>> out;
  for (const char* task : {"a", "b", "c"}) {
    for (const std::string& line : read_lines(run_dir / "results" / (std::string(task) + ".jsonl"))) {
      const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("job") || !j["job"].is_number_unsigned() ||
          !j.contains("result") || !j["result"].is_object() || j.value("schema", 0) != 1) {
        bad += std::string(task) + ": " + line + "\n";
        continue;
      }
      out[task].insert(j["result"].dump());
    }
  }
  return out;
}

// Post-processing runs through one path (the SDK's WorkerInvoker) in every mode, and the
// agent alone writes results.jsonl (node/core/result_log.h; from worker processes through
// the task's result ring): the same frames give the same results.jsonl payloads with
// --isolation none as in worker processes (sets per task: how many jobs each mode
// finished, and their ids, may differ), every line is one the agent counted as written,
// and nothing the stock worker sends is refused.
TEST_F(NodeRuntimeTest, EveryIsolationModeWritesTheSameResults) {
  const fs::path frames = dir_ / "frames";
  coedge::test::write_test_frames(frames);
  std::vector<std::string> modes{"none"};
  if (is_root()) {
    modes.push_back("process");
    if (coedge::test::bwrap_available()) modes.push_back("sandbox");
  }
  std::map<std::string, std::map<std::string, std::set<std::string>>> results;
  for (const std::string& mode : modes) {
    fs::remove_all(run_dir());
    const auto config = write_three_task_config(mode, frames);
    const NodeRun run = run_node(config, {"--duration", "4s"});
    const std::string why = mode + ": " + describe(run);
    ASSERT_EQ(run.code, 0) << why;
    std::string bad;
    results[mode] = read_results(run_dir(), bad);
    EXPECT_TRUE(bad.empty()) << mode << ": malformed result lines:\n" << bad;
    const json s = read_summary();
    ASSERT_TRUE(s.is_object()) << why;
    for (const json& task : s["tasks"]) {
      const std::string name = task["task"].get<std::string>();
      EXPECT_EQ(task["results"]["refused"].get<uint64_t>(), 0u) << mode << ": " << name << "\n" << why;
      EXPECT_EQ(task["results"]["written"].get<uint64_t>(),
                read_lines(run_dir() / "results" / (name + ".jsonl")).size())
          << mode << ": " << name;
      // A job counted met or overdue had its result taken before it closed.
      EXPECT_GE(task["results"]["written"].get<uint64_t>(),
                task["met"].get<uint64_t>() + task["overdue"].get<uint64_t>())
          << mode << ": " << name;
    }
    for (const char* task : {"a", "b", "c"}) {
      EXPECT_FALSE(results[mode][task].empty()) << mode << ": task " << task << " wrote no results\n" << why;
    }
  }
  for (const std::string& mode : modes) {
    for (const char* task : {"a", "b", "c"}) {
      EXPECT_EQ(results[mode][task], results["none"][task]) << "task " << task << ": " << mode << " vs none";
    }
  }
  if (modes.size() == 1) GTEST_SKIP() << "compared none alone: process and sandbox need root";
}

// --- process and sandbox modes: workers and server as separate processes ----------------

class NodeRuntimeIsolationTest : public NodeRuntimeTest,
                                 public ::testing::WithParamInterface<std::string> {};

TEST_P(NodeRuntimeIsolationTest, RunsAccountsAndLeavesNothingBehind) {
  const std::string mode = GetParam();
  if (!is_root()) GTEST_SKIP() << "isolation " << mode << " needs root (private /dev/shm)";
  if (mode == "sandbox" && !coedge::test::bwrap_available()) GTEST_SKIP() << "bwrap (bubblewrap) is not in PATH";
  const auto config = write_three_task_config(mode);
  const NodeRun run = run_node(config, {"--duration", "6s", "--jobs", jobs_file().string()});
  const std::string why = describe(run);
  ASSERT_EQ(run.code, 0) << why;
  expect_no_leftovers(dir_);
  const json s = read_summary();
  expect_accounted(s, why);
  expect_every_task_ran(s, 3, why);
  expect_job_lines(jobs_file(), s["totals"]["released"].get<uint64_t>(), why);
  for (const char* task : {"a", "b", "c"}) {
    const fs::path results = run_dir() / "results" / (std::string(task) + ".jsonl");
    EXPECT_FALSE(read_lines(results).empty()) << results << " has no lines\n" << why;
  }
  expect_shared_memory_released(s, why);
}

INSTANTIATE_TEST_SUITE_P(Modes, NodeRuntimeIsolationTest, ::testing::Values("process", "sandbox"),
                         [](const auto& info) { return info.param; });

// A scheduler spec with options (here triton's knobs) reaches the inference server process
// as parsed, so a simulated `-s triton:preferred=2,...` run can be reproduced on a node.
TEST_F(NodeRuntimeTest, ASchedulerSpecWithOptionsReachesTheServer) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const auto config = write_three_task_config("process");
  const NodeRun run = run_node(config, {"--duration", "3s", "--scheduler",
                                        "triton:max-queue-delay=5ms,preferred=2"});
  const std::string why = describe(run);
  ASSERT_EQ(run.code, 0) << why;
  const json s = read_summary();
  expect_accounted(s, why);
  const std::string canonical = "triton:preferred=2,max-queue-delay=5ms";
  EXPECT_EQ(s["scheduler"].get<std::string>(), canonical) << why;
  std::ifstream log(run_dir() / "logs" / "server.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("scheduler " + canonical), std::string::npos) << text;
}

// --- fault injection: server crashes ----------------------------------------------------

TEST_F(NodeRuntimeTest, RestartsACrashedInferenceServer) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const auto config =
      write_config("process", {"cam0"}, {{"d1", "cam0", "200ms"}, {"d2", "cam0", "200ms"}});
  const NodeRun run = run_node(config, {"--duration", "10s", "--crash-target", "server",
                                        "--crash-every", "3s"});
  const std::string why = describe(run);
  ASSERT_EQ(run.code, 0) << why;
  expect_no_leftovers(dir_);
  const json s = read_summary();
  expect_accounted(s, why);
  EXPECT_GE(s["health"]["server_restarts"].get<int>(), 1) << s.dump(2) << "\n" << why;
  // Jobs the server held, and frames released while it restarts, are dropped as
  // server_crash; late arrivals after a restart may be dropped by the scheduler
  // (deadline). No worker crashed, so no job may be blamed on one.
  ASSERT_TRUE(s["dropped_by_cause"].contains("server_crash")) << s.dump(2);
  for (const auto& [cause, count] : s["dropped_by_cause"].items()) {
    EXPECT_TRUE(cause == "server_crash" || cause == "scheduler" || cause == "shutdown" ||
                cause == "lost")
        << "unexpected drop cause " << cause << " (" << count << ")\n" << s.dump(2);
  }
  EXPECT_GT(s["totals"]["met"].get<uint64_t>(), 0u) << why;
}

// --- a hung worker ----------------------------------------------------------------------

// A worker stuck inside its pre-processing (tests/integration/hang_worker.cc: every 8th
// job, deaf to SIGTERM) holds a job without progress: the agent kills it after
// hang_timeout, counts what it held as dropped and restarts it; work goes on.
TEST_F(NodeRuntimeTest, KillsAndRestartsAHungWorker) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const fs::path worker = fs::path(COEDGE_BINARY_DIR) / "tests/integration/coedge-test-hang-worker";
  ASSERT_TRUE(fs::exists(worker)) << worker;
  const fs::path config = write_process_config(
      "hang.yaml", "hang_timeout: 1s\n",
      "  - {name: h, model: yolov5s-160, sensor: cam0, period: 100ms, worker: " + worker.string() + "}\n");
  const NodeRun run = run_node(config, {"--duration", "12s", "--restart-backoff-max", "200ms"});
  const std::string why = describe(run);
  ASSERT_EQ(run.code, 0) << why;
  expect_no_leftovers(dir_);
  const json s = read_summary();
  expect_accounted(s, why);
  EXPECT_GE(s["health"]["worker_restarts"].get<int>(), 1) << s.dump(2) << "\n" << why;
  ASSERT_TRUE(s["dropped_by_cause"].contains("worker_crash")) << s.dump(2);
  EXPECT_GT(s["totals"]["met"].get<uint64_t>(), 0u) << why;
  EXPECT_NE(run.output.find("without progress: killing it"), std::string::npos) << why;
}

// --- a worker built against an older SDK -------------------------------------------------

// A worker that speaks worker ABI 1 (tests/integration/abi1_worker.cc: its kReady carries
// no protocol version) is refused: the node does not start and says which task, which
// worker file and which versions; the worker does not outlive the node.
TEST_F(NodeRuntimeTest, RefusesAWorkerBuiltAgainstAnOlderWorkerAbi) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const fs::path worker = fs::path(COEDGE_BINARY_DIR) / "tests/integration/coedge-test-abi1-worker";
  ASSERT_TRUE(fs::exists(worker)) << worker;
  const fs::path config = write_process_config(
      "abi1.yaml", "", "  - {name: old, model: yolov5s-160, sensor: cam0, period: 100ms, worker: " + worker.string() + "}\n");
  const NodeRun run = run_node(config, {"--duration", "5s"});
  const std::string why = describe(run);
  EXPECT_NE(run.code, 0) << why;
  EXPECT_FALSE(run.timed_out) << why;
  EXPECT_NE(run.output.find("task old: worker " + worker.string()), std::string::npos) << why;
  EXPECT_NE(run.output.find("built against worker ABI 1, this node needs ABI 3"), std::string::npos) << why;
  expect_no_leftovers(dir_);
}

// A worker's events speak for its own task only: the same old worker, made hostile, first
// says "ready, ABI 1" in the name of the task before it (index 0, a stock task), from both
// its pre and its post worker. That event is a protocol violation (foreign_task): never
// applied, logged, and the worker is killed (so the node's start fails, naming the rogue
// task's worker); the victim task is neither refused nor made ready by it.
TEST_F(NodeRuntimeTest, AWorkersEventForAnotherTaskIsAViolation) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const fs::path worker = fs::path(COEDGE_BINARY_DIR) / "tests/integration/coedge-test-abi1-worker";
  ASSERT_TRUE(fs::exists(worker)) << worker;
  const fs::path config = write_process_config(
      "forge.yaml", "",
      "  - {name: victim, model: yolov5s-160, sensor: cam0, period: 100ms}\n"
      "  - {name: rogue, model: yolov5s-160, sensor: cam0, period: 100ms, worker: " + worker.string() +
          ", env: {COEDGE_TEST_FORGE_TASK: \"0\"}}\n");
  const NodeRun run = run_node(config, {"--duration", "5s"});
  const std::string why = describe(run);
  EXPECT_NE(run.code, 0) << why;  // the rogue task's worker is killed while starting
  EXPECT_FALSE(run.timed_out) << why;
  // Both of its workers forge before they say ready; whichever the agent reads first is
  // killed (and stops the node's start), so only that one's violation is sure to be read.
  const bool pre = run.output.find("task rogue's pre worker broke the worker protocol (foreign_task") != std::string::npos;
  const bool post = run.output.find("task rogue's post worker broke the worker protocol (foreign_task") != std::string::npos;
  EXPECT_TRUE(pre || post) << why;
  EXPECT_EQ(run.output.find("task victim's"), std::string::npos) << why;
  EXPECT_EQ(run.output.find("task victim: worker"), std::string::npos) << why;
  expect_no_leftovers(dir_);
}

// A running worker that breaks the protocol (tests/integration/abi1_worker.cc with
// COEDGE_TEST_ATTACK): a kDropped with drop cause 200 (once a throw in the agent's
// accounting), or a kDropped of another task's jobs. Each is a violation, never applied:
// the agent does not crash, the rogue's worker is killed (its jobs dropped as
// protocol_violation), the task is quarantined after violations.limit kills, the node
// runs to its duration, every job is accounted, and the victim task on the same camera
// loses no job to it.
class NodeRuntimeAttackTest : public NodeRuntimeTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(NodeRuntimeAttackTest, AViolatingWorkerIsKilledAndQuarantinedAndHarmsNoOtherTask) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const std::string attack = GetParam();
  const fs::path worker = fs::path(COEDGE_BINARY_DIR) / "tests/integration/coedge-test-abi1-worker";
  ASSERT_TRUE(fs::exists(worker)) << worker;
  const fs::path config = write_process_config(
      "attack.yaml", "violations: {limit: 2, window: 60s}\n",
      "  - {name: victim, model: yolov5s-160, sensor: cam0, period: 100ms}\n"
      "  - {name: rogue, model: yolov5s-160, sensor: cam0, period: 100ms, worker: " + worker.string() +
          ", env: {COEDGE_TEST_ATTACK: " + attack + "}}\n");
  const NodeRun run = run_node(config, {"--duration", "6s", "--restart-backoff-max", "200ms", "--jobs",
                                        jobs_file().string()});
  const std::string why = describe(run);
  ASSERT_EQ(run.code, 0) << why;
  ASSERT_FALSE(run.timed_out) << why;
  const std::string code = attack == "reason200" ? "bad_reason" : "foreign_task";
  EXPECT_NE(run.output.find("task rogue's pre worker broke the worker protocol (" + code), std::string::npos) << why;
  EXPECT_NE(run.output.find("task rogue quarantined"), std::string::npos) << why;
  EXPECT_EQ(run.output.find("task victim's"), std::string::npos) << why;
  expect_no_leftovers(dir_);
  const json s = read_summary();
  expect_accounted(s, why);
  ASSERT_TRUE(s["dropped_by_cause"].contains("protocol_violation")) << s.dump(2) << "\n" << why;
  EXPECT_GE(s["health"]["protocol_violations"].get<uint64_t>(), 2u) << s.dump(2);  // at least the limit's kills
  EXPECT_EQ(s["health"]["quarantined_tasks"].get<uint32_t>(), 1u) << s.dump(2);
  auto by_task = jobs_by_task(jobs_file());
  EXPECT_GT(by_task["victim"]["met"], 0u) << why;
  EXPECT_EQ(by_task["victim"].count("protocol_violation"), 0u) << why;
  EXPECT_EQ(by_task["victim"].count("worker_crash"), 0u) << why;
  EXPECT_GT(by_task["rogue"]["protocol_violation"], 0u) << why;
  EXPECT_EQ(by_task["rogue"].count("met"), 0u) << why;
}

INSTANTIATE_TEST_SUITE_P(Attacks, NodeRuntimeAttackTest, ::testing::Values("reason200", "foreign"));

// The hostile worker (tests/integration/hostile_worker.cc; docs/SECURITY.md), sandboxed with
// seccomp and its task's limits, behaves for 10 frames, then attacks through everything it
// can reach: forged chunk references and tensors (refs), garbage and forged events
// (events), full rings and bell floods (flood), random bytes over its whole task segment
// and attempts to write its camera's frames (scribble), the CPU (spin). Whatever it does,
// the node runs to its duration and stops, every job is accounted, the victim on the same
// camera loses no job to it, its frames are all released, and nothing is left behind.
// (bench/hostile_bench.py measures the same attacks against a baseline, for the miss rates.)
class NodeRuntimeHostileTest : public NodeRuntimeTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(NodeRuntimeHostileTest, AHostileSandboxedWorkerHarmsOnlyItsOwnTask) {
  if (!is_root()) GTEST_SKIP() << "isolation sandbox needs root";
  if (!coedge::test::bwrap_available()) GTEST_SKIP() << "bwrap (bubblewrap) is not in PATH";
  const std::string attack = GetParam();
  const fs::path worker = fs::path(COEDGE_BINARY_DIR) / "bin/coedge-test-hostile-worker";
  ASSERT_TRUE(fs::exists(worker)) << worker;
  const fs::path config = write_process_config(
      "hostile.yaml", "violations: {limit: 2, window: 60s}\n",
      "  - {name: victim, model: yolov5s-160, sensor: cam0, period: 150ms}\n"
      "  - {name: rogue, model: yolov5s-160, sensor: cam0, period: 150ms, worker: " + worker.string() +
          ", limits: {cpus: 0.5}, env: {COEDGE_HOSTILE_ATTACK: " + attack + ", COEDGE_HOSTILE_AFTER: \"10\"}}\n");
  {  // the same node, sandboxed
    std::ifstream in(config);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("isolation: process"), std::string("isolation: process").size(), "isolation: sandbox");
    std::ofstream(config) << text;
  }
  const NodeRun run = run_node(config, {"--duration", "8s", "--restart-backoff-max", "200ms", "--jobs",
                                        jobs_file().string()});
  const std::string why = describe(run);
  ASSERT_FALSE(run.timed_out) << why;
  ASSERT_EQ(run.code, 0) << why;
  EXPECT_EQ(run.output.find("task victim's"), std::string::npos) << why;
  expect_no_leftovers(dir_);
  const json s = read_summary();
  expect_accounted(s, why);
  EXPECT_EQ(s["health"]["frame_chunks_in_use"]["end"].get<int64_t>(), 0) << why;
  EXPECT_EQ(s["health"]["shm_files"]["end"].get<int64_t>(), 0) << why;
  EXPECT_EQ(s["health"]["agent_fds"]["start"], s["health"]["agent_fds"]["end"]) << why;
  auto by_task = jobs_by_task(jobs_file());
  EXPECT_GT(by_task["victim"]["met"], 0u) << why;
  for (const char* cause : {"protocol_violation", "worker_crash", "bad_frame", "lost"}) {
    EXPECT_EQ(by_task["victim"].count(cause), 0u) << cause << "\n" << why;
  }
  // The rogue's own jobs end with a cause once it attacks: a violation for the attacks the
  // checks see, a kill as hung (worker_crash) for spin, a ring it corrupted (lost) for scribble.
  uint64_t rogue_dropped = 0;
  for (const auto& [outcome, n] : by_task["rogue"]) rogue_dropped += outcome == "met" || outcome == "overdue" ? 0 : n;
  EXPECT_GT(rogue_dropped, 0u) << why;
  if (attack == "refs" || attack == "events") {
    EXPECT_GT(by_task["rogue"]["protocol_violation"], 0u) << why;
    EXPECT_NE(run.output.find("task rogue quarantined"), std::string::npos) << why;
  }
  if (attack == "scribble") {
    for (const char* attempt : {"mmap PROT_WRITE", "pwrite", "ftruncate", "mprotect PROT_WRITE"}) {
      EXPECT_EQ(run.output.find(std::string("frames: ") + attempt + " ALLOWED"), std::string::npos) << attempt;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Hostile, NodeRuntimeHostileTest,
                         ::testing::Values("refs", "events", "flood", "scribble", "spin"));

// --- stopping on SIGTERM ---------------------------------------------------------------

TEST_F(NodeRuntimeTest, StopsCleanlyOnSigterm) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  // No duration in the file or on the command line: it runs until a signal.
  const auto config = write_three_task_config("process");
  Child child(node_args(config, {"--jobs", jobs_file().string()}), dir_ / "output.txt");
  // Wait until it says it is running (a guard, not a timing assertion), then a little longer
  // so that jobs are in flight when the signal arrives.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (child.output().find("running until") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    int status = 0;
    if (waitpid(child.pid(), &status, WNOHANG) == child.pid()) {
      FAIL() << "coedge node exited before running (status " << status << ")\n" << child.output();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(child.output().find("running until"), std::string::npos)
      << "never started running\n" << child.output();
  std::this_thread::sleep_for(std::chrono::seconds(4));
  // The leftover check below can see the node's processes: the agent, server and workers.
  EXPECT_GT(processes_mentioning(dir_.string()).size(), 2u);
  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  const NodeRun run = child.wait(std::chrono::seconds(30));
  const std::string why = describe(run);
  ASSERT_FALSE(run.timed_out) << why;
  ASSERT_EQ(run.code, 0) << why;
  expect_no_leftovers(dir_);
  const json s = read_summary();
  expect_accounted(s, why);
  expect_job_lines(jobs_file(), s["totals"]["released"].get<uint64_t>(), why);
  expect_shared_memory_released(s, why);
}

// --- bad input -------------------------------------------------------------------------

TEST_F(NodeRuntimeTest, AnUnknownModelReferenceIsBadInputWithFileAndLine) {
  // The task (line 10 of the file) names a model that is not in `models`.
  std::ostringstream y;
  y << "node: bad\n"                                               // 1
    << "isolation: none\n"                                         // 2
    << "run_dir: " << run_dir().string() << "\n"                   // 3
    << "profiles: " << kProfiles << "\n"                           // 4
    << "models:\n"                                                 // 5
    << "  - {name: yolov5s-160, file: " << kModel << "}\n"         // 6
    << "sensors:\n"                                                // 7
    << "  - {name: cam0, kind: synthetic}\n"                       // 8
    << "tasks:\n"                                                  // 9
    << "  - {name: t, model: nosuch-model, sensor: cam0, period: 200ms}\n";  // 10
  const fs::path file = dir_ / "bad.yaml";
  std::ofstream(file) << y.str();
  const NodeRun run = run_node(file, {"--duration", "1s"});
  EXPECT_EQ(run.code, 2) << describe(run);
  EXPECT_NE(run.output.find("bad.yaml:10"), std::string::npos) << describe(run);
  EXPECT_NE(run.output.find("nosuch-model"), std::string::npos) << describe(run);
  EXPECT_FALSE(fs::exists(run_dir())) << "a bad config must run nothing";
}

// A file that cannot be read is an I/O failure (exit 1; apps/coedge/cli.h).
TEST_F(NodeRuntimeTest, AMissingConfigFileIsAnIoFailure) {
  const std::string missing = (dir_ / "no-such-node.yaml").string();
  const NodeRun run = run_coedge({"node", "--config", missing, "--duration", "1s"});
  EXPECT_EQ(run.code, 1) << describe(run);
  EXPECT_NE(run.output.find("no-such-node.yaml"), std::string::npos) << describe(run);
}

TEST_F(NodeRuntimeTest, AnUnknownSchedulerIsBadInputListingTheSchedulers) {
  const auto config = write_three_task_config("none");
  const NodeRun run = run_node(config, {"--duration", "1s", "--scheduler", "fifo"});
  EXPECT_EQ(run.code, 2) << describe(run);
  EXPECT_NE(run.output.find("unknown scheduler 'fifo'"), std::string::npos) << describe(run);
  for (const char* name : {"coedge", "edf", "fixed"}) {
    EXPECT_NE(run.output.find(name), std::string::npos) << name << "\n" << describe(run);
  }
  EXPECT_FALSE(fs::exists(run_dir())) << "a bad scheduler must run nothing";
}

// Process isolation mounts a private /dev/shm, which needs root. As root, the test runs
// the node as `nobody` to see the message; it skips when that user cannot run the binary.
TEST_F(NodeRuntimeTest, ProcessIsolationWithoutRootSaysItNeedsRoot) {
  std::optional<uid_t> run_as;
  if (is_root()) {
    constexpr uid_t kNobody = 65534;
    // `nobody` must be able to reach the binary, the model and the config.
    fs::permissions(dir_, fs::perms::all, fs::perm_options::add);
    std::vector<std::string> args{"--version"};
    const NodeRun probe = run_coedge(args, kNobody);
    if (probe.code != 0) {
      GTEST_SKIP() << "running as root, and user nobody cannot run " << kCoedge << " ("
                   << describe(probe) << ")";
    }
    run_as = kNobody;
  }
  const auto config = write_three_task_config("process");
  fs::permissions(config, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::add);
  Child child(node_args(config, {"--duration", "1s"}), dir_ / "output.txt", run_as);
  const NodeRun run = child.wait(std::chrono::seconds(60));
  if (run_as && ((run.code == 2 && run.output.find("does not exist") != std::string::npos) ||
                 (run.code == 1 && run.output.find("cannot read") != std::string::npos))) {
    GTEST_SKIP() << "user nobody cannot read the model or profiles:\n" << run.output;
  }
  EXPECT_EQ(run.code, 1) << describe(run);
  EXPECT_NE(run.output.find("need root"), std::string::npos) << describe(run);
  expect_no_leftovers(dir_);
}

// --- the result contract (docs/schema/, docs/NODE_CONFIG.md "Results") -----------------

const std::string kSchemaDir = COEDGE_SOURCE_DIR "/docs/schema";

// Validates every line of `files` against docs/schema/`schema` with Debian's python3 and
// python3-jsonschema (tests/integration/validate_lines.py), and with `result_schema` each
// line's "result" too; "" when all are valid, else what the validator said.
std::string schema_problems(const std::string& schema, const std::vector<fs::path>& files, const fs::path& out,
                            const std::string& result_schema = "") {
  std::string command = "/usr/bin/python3 " COEDGE_SOURCE_DIR "/tests/integration/validate_lines.py ";
  if (!result_schema.empty()) command += "--result " + kSchemaDir + "/" + result_schema + " ";
  command += kSchemaDir + "/" + schema;
  for (const fs::path& f : files) command += " '" + f.string() + "'";
  command += " > '" + out.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return command + "\nexit status " + std::to_string(status) + ":\n" + read_text(out);
}

std::vector<json> read_json_lines(const fs::path& file) {
  std::vector<json> out;
  for (const std::string& line : read_lines(file)) out.push_back(json::parse(line, nullptr, false));
  return out;
}

// The largest intersection over union of two boxes ([x, y, w, h]) of one class.
double largest_same_class_iou(const json& detections) {
  double most = 0;
  for (size_t i = 0; i < detections.size(); ++i) {
    for (size_t k = i + 1; k < detections.size(); ++k) {
      const json &a = detections[i], &b = detections[k];
      if (a["class"] != b["class"]) continue;
      const double ax = a["box"][0], ay = a["box"][1], aw = a["box"][2], ah = a["box"][3];
      const double bx = b["box"][0], by = b["box"][1], bw = b["box"][2], bh = b["box"][3];
      const double iw = std::max(0.0, std::min(ax + aw, bx + bw) - std::max(ax, bx));
      const double ih = std::max(0.0, std::min(ay + ah, by + bh) - std::max(ay, by));
      const double inter = iw * ih, uni = aw * ah + bw * bh - inter;
      if (uni > 0) most = std::max(most, inter / uni);
    }
  }
  return most;
}

class ResultContractTest : public NodeRuntimeTest {
 protected:
  // A folder of three images (coedge::test::write_test_frames), a labels file naming YOLO's 80 classes
  // "label-0".."label-79", and a node in `isolation` with two detection tasks on those
  // images: `loose` keeps every box (confidence 0, nms_iou 1: nothing suppressed) and
  // `strict` keeps every score but suppresses any overlap of two boxes of one class
  // (nms_iou 0). The seeded YOLO scores are near 0: at the default confidence (0.25)
  // nothing would be detected, so boxes in the results show the confidence reached the
  // worker; same-class boxes overlapping more than the default nms_iou (0.45) in `loose`,
  // and none overlapping in `strict`, show nms_iou did.
  fs::path write_detect_config(const std::string& isolation, const std::string& labels_name = "labels.txt",
                               int label_count = 80, const std::string& frames_name = "frames") {
    if (frames_name == "frames") coedge::test::write_test_frames(dir_ / frames_name);
    std::ofstream labels(dir_ / labels_name);
    for (int i = 0; i < label_count; ++i) labels << "label-" << i << "\n";
    labels.close();
    std::ostringstream y;
    y << "node: test-node\nisolation: " << isolation << "\nscheduler: edf\n"
      << "run_dir: " << run_dir().string() << "\n"
      << "profiles: " << kProfiles << "\n"
      << "metrics: {jobs: " << jobs_file().string() << "}\n"
      << "models:\n  - {name: yolov5s-160, file: " << kModel << ", labels: " << labels_name << "}\n"
      << "sensors:\n  - {name: cam0, kind: folder, path: " << (dir_ / frames_name).string() << ", loop: true}\n"
      << "tasks:\n"
      << "  - {name: loose, model: yolov5s-160, sensor: cam0, period: 250ms, confidence: 0, nms_iou: 1}\n"
      << "  - {name: strict, model: yolov5s-160, sensor: cam0, period: 250ms, confidence: 0, nms_iou: 0}\n";
    const fs::path file = dir_ / ("detect-" + isolation + "-" + labels_name + "-" + frames_name + ".yaml");
    std::ofstream(file) << y.str();
    return file;
  }
  fs::path results_of(const std::string& task) const { return run_dir() / "results" / (task + ".jsonl"); }
};

// The acceptance test of a result line: a detection task on a folder of images writes
// lines that name the image file, the class names from the labels file and boxes inside
// the frame, in every isolation mode (the thresholds and names reach the stock worker by
// each mode's path), and every line of the results and jobs files is valid against the
// documented schemas. A result line and its job line agree on the frame.
TEST_F(ResultContractTest, ResultLinesNameTheImageTheClassesAndTheBoxesInTheSchema) {
  std::vector<std::string> modes{"none"};
  if (is_root()) {
    modes.push_back("process");
    if (coedge::test::bwrap_available()) modes.push_back("sandbox");
  }
  const std::set<std::string> images{"frame0.ppm", "frame1.ppm", "frame2.ppm"};
  for (const std::string& mode : modes) {
    fs::remove_all(run_dir());
    fs::remove(jobs_file());
    const NodeRun run = run_node(write_detect_config(mode), {"--duration", "2s"});
    const std::string why = mode + ": " + describe(run);
    ASSERT_EQ(run.code, 0) << why;
    const json s = read_summary();
    ASSERT_TRUE(s.is_object()) << why;
    const std::string run_id = s["run_id"].get<std::string>();

    std::map<std::pair<std::string, uint64_t>, json> frames_of_jobs;  // (task, job) -> frame
    for (const json& j : read_json_lines(jobs_file())) {
      frames_of_jobs[std::make_pair(j["task"].get<std::string>(), j["job"].get<uint64_t>())] = j["frame"];
    }
    std::map<std::string, double> most_overlap;  // per task: the largest IoU of two same-class boxes
    for (const std::string task : {"loose", "strict"}) {
      const auto lines = read_json_lines(results_of(task));
      ASSERT_FALSE(lines.empty()) << mode << ": " << task << " wrote no results\n" << why;
      for (const json& j : lines) {
        ASSERT_TRUE(j.is_object()) << mode;
        EXPECT_EQ(j["run"], run_id) << mode;
        EXPECT_EQ(j["task"], task) << mode;
        EXPECT_EQ(j["frame"]["sensor"], "cam0") << mode;
        EXPECT_EQ(images.count(j["frame"]["file"].get<std::string>()), 1u) << mode << ": " << j["frame"].dump();
        const json& job_frame = frames_of_jobs[std::make_pair(task, j["job"].get<uint64_t>())];
        EXPECT_EQ(j["frame"], job_frame) << mode << ": job line vs result line";
        const json& detections = j["result"]["detections"];
        ASSERT_TRUE(detections.is_array()) << mode << ": " << j.dump();
        most_overlap[task] = std::max(most_overlap[task], largest_same_class_iou(detections));
        for (const json& d : detections) {
          EXPECT_EQ(d["name"], "label-" + std::to_string(d["class"].get<int>())) << mode << ": " << d.dump();
          const json& box = d["box"];
          ASSERT_EQ(box.size(), 4u) << d.dump();
          EXPECT_LE(box[0].get<double>() + box[2].get<double>(), 320.05) << mode << ": inside the 320x240 frame";
          EXPECT_LE(box[1].get<double>() + box[3].get<double>(), 240.05) << mode << ": inside the 320x240 frame";
        }
      }
    }
    EXPECT_GT(most_overlap["loose"], 0.45) << mode << ": nms_iou 1 keeps overlapping boxes\n" << why;
    // Boxes are written to 0.1 px: two that merely touch may seem to overlap a little.
    EXPECT_LT(most_overlap["strict"], 0.01) << mode << ": nms_iou 0 keeps no overlapping boxes\n" << why;
    // The stock worker's results, strictly: the line schema accepts any result object.
    EXPECT_EQ(schema_problems("result-line.schema.json", {results_of("loose"), results_of("strict")},
                              dir_ / "validate-results.txt", "stock-result.schema.json"),
              "")
        << mode;
    EXPECT_EQ(schema_problems("job-line.schema.json", {jobs_file()}, dir_ / "validate-jobs.txt"), "") << mode;
    expect_job_lines(jobs_file(), s["totals"]["released"].get<uint64_t>(), why);
  }
}

// Every line names its run: a second run of one config appends its own lines after the
// first's (job ids start again at 1, so (run, job) is the key), in the results and in the
// jobs file alike, and summary.json names each run.
TEST_F(ResultContractTest, TwoRunsOfOneConfigGiveTwoDistinguishableResultSets) {
  const fs::path config = write_detect_config("none");
  std::vector<std::string> run_ids;
  std::vector<std::string> results_after, jobs_after;
  for (int i = 0; i < 2; ++i) {
    const NodeRun run = run_node(config, {"--duration", "1s"});
    ASSERT_EQ(run.code, 0) << describe(run);
    run_ids.push_back(read_summary()["run_id"].get<std::string>());
    results_after.push_back(read_text(results_of("loose")));
    jobs_after.push_back(read_text(jobs_file()));
  }
  EXPECT_NE(run_ids[0], run_ids[1]);
  EXPECT_TRUE(results_after[1].rfind(results_after[0], 0) == 0) << "the first run's results are kept as they were";
  EXPECT_TRUE(jobs_after[1].rfind(jobs_after[0], 0) == 0) << "the first run's job lines are kept as they were";
  EXPECT_GT(results_after[1].size(), results_after[0].size());
  for (const fs::path& file : {results_of("loose"), jobs_file()}) {
    std::map<std::string, std::set<uint64_t>> jobs_by_run;
    size_t lines = 0;
    for (const json& j : read_json_lines(file)) {
      ++lines;
      jobs_by_run[j["run"].get<std::string>()].insert(j["job"].get<uint64_t>());
    }
    ASSERT_EQ(jobs_by_run.size(), 2u) << file;
    size_t keys = 0;
    for (const auto& [run, ids] : jobs_by_run) {
      EXPECT_TRUE(run == run_ids[0] || run == run_ids[1]) << run;
      EXPECT_EQ(*ids.begin(), 1u) << file << ": each run's job ids start at 1";
      keys += ids.size();
    }
    EXPECT_EQ(keys, lines) << file << ": (run, job) names one line";
  }
  EXPECT_EQ(schema_problems("result-line.schema.json", {results_of("loose")}, dir_ / "validate.txt",
                            "stock-result.schema.json"),
            "");
  EXPECT_EQ(schema_problems("job-line.schema.json", {jobs_file()}, dir_ / "validate.txt"), "");
}

// A run that fails to start — an empty image folder, a labels file that does not name
// every class, a missing model, nms_iou on a classifier — leaves the previous run's results, jobs and summary
// byte for byte as they were.
TEST_F(ResultContractTest, ARunThatFailsToStartLeavesThePreviousFilesIntact) {
  const NodeRun first = run_node(write_detect_config("none"), {"--duration", "1s"});
  ASSERT_EQ(first.code, 0) << describe(first);
  const std::vector<fs::path> files{results_of("loose"), results_of("strict"), jobs_file(), summary_file()};
  std::vector<std::string> before;
  for (const fs::path& f : files) {
    before.push_back(read_text(f));
    ASSERT_FALSE(before.back().empty()) << f;
  }
  struct Case {
    std::string what, expected;
    fs::path config;
  };
  fs::create_directories(dir_ / "empty");
  std::vector<Case> cases;
  cases.push_back({"an empty image folder", "no images", write_detect_config("none", "labels.txt", 80, "empty")});
  cases.push_back({"79 names for 80 classes", "names 79 classes, but", write_detect_config("none", "short.txt", 79)});
  {
    const fs::path config = write_detect_config("none");
    std::string text = read_text(config);
    text.replace(text.find(kModel), kModel.size(), (dir_ / "gone.onnx").string());
    std::ofstream(dir_ / "gone.yaml") << text;
    cases.push_back({"a missing model", "gone.onnx", dir_ / "gone.yaml"});
    // nms_iou on a classifier (ResNet-18), found when the node reads the model file.
    text = read_text(config);
    text.replace(text.find(kModel), kModel.size(), COEDGE_BINARY_DIR "/models/resnet18-360.onnx");
    text.replace(text.find(", labels: labels.txt"), std::string(", labels: labels.txt").size(), "");
    std::ofstream(dir_ / "classifier.yaml") << text;
    cases.push_back({"nms_iou on a classifier", "nms_iou is for detection models", dir_ / "classifier.yaml"});
  }
  {
    // Without `profiles:` the node would measure its models (minutes) and write
    // RUN_DIR/profiles.yaml: an empty folder must fail before that, leaving the file.
    const fs::path config = write_detect_config("none", "labels.txt", 80, "empty");
    std::string text = read_text(config);
    const std::string profiles_line = "profiles: " + kProfiles + "\n";
    ASSERT_NE(text.find(profiles_line), std::string::npos) << text;
    text.erase(text.find(profiles_line), profiles_line.size());
    std::ofstream(dir_ / "unprofiled.yaml") << text;
    cases.push_back({"an empty image folder, no profiles", "no images", dir_ / "unprofiled.yaml"});
  }
  const fs::path profiles_yaml = run_dir() / "profiles.yaml";
  std::ofstream(profiles_yaml) << "# the previous run's measured profiles\n";
  const std::string profiles_before = read_text(profiles_yaml);
  for (const Case& c : cases) {
    const NodeRun run = run_node(c.config, {"--duration", "1s"});
    EXPECT_NE(run.code, 0) << c.what << ": " << describe(run);
    EXPECT_NE(run.output.find(c.expected), std::string::npos) << c.what << ": " << describe(run);
    EXPECT_EQ(run.output.find("measuring the models"), std::string::npos)
        << c.what << ": profiled before failing\n" << describe(run);
    EXPECT_EQ(run.output.find("profiled "), std::string::npos) << c.what << ": " << describe(run);
    for (size_t i = 0; i < files.size(); ++i) {
      EXPECT_TRUE(read_text(files[i]) == before[i]) << c.what << ": " << files[i] << " changed";
    }
    EXPECT_EQ(read_text(profiles_yaml), profiles_before) << c.what << ": " << profiles_yaml << " changed";
  }
}

// A worker built against an SDK from before the task settings refuses any option it does
// not know (exit 2, "unknown option"): the agent gives the thresholds and class names in
// TASK_DIR/coedge-settings instead, which such a worker ignores and this SDK reads. The
// "old" worker here is a wrapper that refuses those options as an old SDK did, then runs
// the stock worker: the run starts, and the stock worker behind it still applies the
// thresholds (boxes at confidence 0, overlapping ones at nms_iou 1) and names the classes.
TEST_F(ResultContractTest, AWorkerThatRefusesUnknownOptionsStartsAndSettingsReachTheSdk) {
  if (!is_root()) GTEST_SKIP() << "isolation process needs root (private /dev/shm)";
  const fs::path stock = fs::path(COEDGE_BINARY_DIR) / "bin/coedge-worker";
  ASSERT_TRUE(fs::exists(stock)) << stock;
  const fs::path old_worker = dir_ / "old-sdk-worker.sh";
  std::ofstream(old_worker) << "#!/bin/sh\n"
                               "for a in \"$@\"; do case \"$a\" in --confidence|--nms-iou|--labels)\n"
                               "  echo \"coedge worker: unknown option $a\" >&2; exit 2;; esac; done\n"
                               "exec " << stock.string() << " \"$@\"\n";
  fs::permissions(old_worker, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  const fs::path config = write_detect_config("process");
  std::string text = read_text(config);
  const std::string loose = "confidence: 0, nms_iou: 1}";
  ASSERT_NE(text.find(loose), std::string::npos) << text;
  text.replace(text.find(loose), loose.size(), "confidence: 0, nms_iou: 1, worker: " + old_worker.string() + "}");
  std::ofstream(dir_ / "old-worker.yaml") << text;
  const NodeRun run = run_node(dir_ / "old-worker.yaml", {"--duration", "2s"});
  ASSERT_EQ(run.code, 0) << describe(run);
  EXPECT_FALSE(run.timed_out) << describe(run);
  const auto lines = read_json_lines(results_of("loose"));
  ASSERT_FALSE(lines.empty()) << describe(run);
  double most_overlap = 0;
  size_t boxes = 0;
  for (const json& j : lines) {
    const json& detections = j["result"]["detections"];
    ASSERT_TRUE(detections.is_array()) << j.dump();
    most_overlap = std::max(most_overlap, largest_same_class_iou(detections));
    for (const json& d : detections) {
      ++boxes;
      EXPECT_EQ(d["name"], "label-" + std::to_string(d["class"].get<int>())) << d.dump();
    }
  }
  EXPECT_GT(boxes, 0u) << "confidence 0 reached the worker";
  EXPECT_GT(most_overlap, 0.45) << "nms_iou 1 reached the worker";
}

// The SDK reads TASK_DIR/coedge-settings: a worker started by hand on a task folder with a
// good file gets past its arguments and init (then finds no shared memory behind its
// descriptor: exit 1); a bad value
// there is refused at once, exit 2, naming the file, the line and the value.
TEST_F(NodeRuntimeTest, TheSdkReadsTheTaskSettingsFileAndNamesABadValue) {
  const fs::path stock = fs::path(COEDGE_BINARY_DIR) / "bin/coedge-worker";
  ASSERT_TRUE(fs::exists(stock)) << stock;
  const fs::path task_dir = dir_ / "task";
  fs::create_directories(task_dir);
  auto run_worker = [&](const std::string& settings, std::string& output) {
    std::ofstream(task_dir / "coedge-settings") << settings;
    const fs::path out = dir_ / "worker.txt";
    const std::string command = "'" + stock.string() + "' --role post --node n --task t --task-index 0 --model m" +
                                " --kind detection --sensor cam0 --task-dir '" + task_dir.string() +
                                "' --input-shape 3,160,160 --output-shape 1575,85 --shm-task-fd 9 9<&- > '" + out.string() + "' 2>&1";
    const int status = std::system(command.c_str());
    output = read_text(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string output;
  EXPECT_EQ(run_worker("# settings\nconfidence 0.5\nnms_iou 0\nlabel a b\nfuture_key 1\n", output), 1) << output;
  EXPECT_NE(output.find("shared memory"), std::string::npos) << output;
  EXPECT_EQ(run_worker("# settings\nconfidence 2\n", output), 2) << output;
  EXPECT_NE(output.find((task_dir / "coedge-settings").string() + ":2: bad confidence '2'"), std::string::npos)
      << output;
}

// A folder with a corrupt image and an image whose file name is not UTF-8 (Latin-1 "café"):
// the node runs through both (once the agent died on the name, writing its line), every
// job and result line is valid JSON in the schema (the odd byte written as U+FFFD), the
// corrupt image's jobs are dropped as bad_frame, and every frame taken from the source has
// its own sequence number: no two files ever share one (a bad frame's number was reused).
TEST_F(ResultContractTest, BadFramesAndFileNamesThatAreNotUtf8KeepLinesValidAndSequencesUnique) {
  const fs::path folder = dir_ / "odd";
  coedge::test::write_test_frames(folder);
  fs::rename(folder / "frame1.ppm", folder / "caf\xe9.ppm");
  std::ofstream(folder / "bad.ppm") << "P6\n320 240\n255\nnot enough pixels";
  const NodeRun run = run_node(write_detect_config("none", "labels.txt", 80, "odd"), {"--duration", "2s"});
  ASSERT_EQ(run.code, 0) << describe(run);
  const std::string run_id = read_summary()["run_id"].get<std::string>();
  std::map<uint64_t, std::string> file_of_sequence;
  size_t bad_frame_jobs = 0, cafe_jobs = 0;
  for (const std::string& line : read_lines(jobs_file())) {
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << "not JSON: " << line;
    ASSERT_EQ(j["run"], run_id);
    const std::string file = j["frame"]["file"].get<std::string>();
    const uint64_t sequence = j["frame"]["sequence"].get<uint64_t>();
    const auto [it, inserted] = file_of_sequence.emplace(sequence, file);
    EXPECT_EQ(it->second, file) << "sequence " << sequence << " names two frames";
    if (file == "bad.ppm") {
      EXPECT_EQ(j["reason"], "bad_frame") << line;
      ++bad_frame_jobs;
    }
    if (file == "caf\xef\xbf\xbd.ppm") ++cafe_jobs;
  }
  EXPECT_GT(bad_frame_jobs, 0u) << describe(run);
  EXPECT_GT(cafe_jobs, 0u) << describe(run);
  EXPECT_EQ(schema_problems("job-line.schema.json", {jobs_file()}, dir_ / "validate-jobs.txt"), "");
  EXPECT_EQ(schema_problems("result-line.schema.json", {results_of("loose")}, dir_ / "validate-results.txt",
                            "stock-result.schema.json"),
            "");
}

#endif  // COEDGE_NODE_SLOW_TESTS

}  // namespace
