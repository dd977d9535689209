// The agent's writer of results.jsonl (node/core/result_log.h): what it writes (once the
// job closes, with its outcome), what it refuses from an untrusted worker (each refusal
// counted by reason, the job untouched, the other tasks undisturbed), its sinks, that it
// touches no file before open_files and appends after an earlier run's lines, and — over a
// real segment, from another process — a post worker's result reaching the file through
// the result ring.
#include "node/core/result_log.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"

namespace coedge::node {
namespace {

namespace fs = std::filesystem;

TimePoint at(int ms) { return TimePoint{} + std::chrono::milliseconds(ms); }

struct Recorder : ResultSink {
  std::vector<std::string> seen;
  void on_result(const JobRecord& record, std::string_view result) override {
    seen.push_back(std::to_string(record.task) + "/" + std::to_string(record.id) + " " + std::string(result));
  }
};

RunContext run_context(const std::string& id = "run-1") {
  RunContext run;
  run.run_id = id;
  run.node = "n";
  run.epoch = at(0);
  run.tasks = {"a", "b"};
  run.sensors = {"cam"};
  return run;
}

class ResultLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() / ("coedge-result-log-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++));
    fs::remove_all(dir_);
    auto log = ResultLog::open(dir_.string(), {"a", "b"}, ledger_, run_context());
    ASSERT_TRUE(log.ok()) << log.error().message;
    log_ = std::move(*log);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The job closes (met): its held result, if any, is written.
  void close(uint64_t job) {
    auto record = ledger_.done(job, JobRecord{}, at(50));
    ASSERT_TRUE(record.has_value());
    log_->job_closed(*record);
  }
  // Per line: {"job":N,"result":<the result's text as the worker sent it>}, the line's
  // other fields left out (job_line_test checks them).
  std::vector<std::string> lines(const std::string& task) const {
    std::ifstream in(dir_ / "results" / (task + ".jsonl"));
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) {
      const auto j = nlohmann::json::parse(l);  // throws (fails the test) on a torn line
      const size_t at = l.find(",\"result\":");
      out.push_back("{\"job\":" + j["job"].dump() + l.substr(at, l.size() - at));
    }
    return out;
  }
  uint64_t refused(uint32_t task, ResultRejection why) const {
    return log_->counts(task).by_reason[static_cast<size_t>(why)];
  }

  fs::path dir_;
  JobLedger ledger_{2, std::chrono::seconds(120)};
  std::unique_ptr<ResultLog> log_;
};

TEST_F(ResultLogTest, WritesOneLinePerResultOfAnOpenJobAndTellsItsSinks) {
  Recorder sink;
  log_->add_sink(sink);
  const uint64_t j1 = ledger_.release(0, at(0), at(100));
  const uint64_t j2 = ledger_.release(1, at(0), at(100));
  EXPECT_TRUE(log_->accept(0, j1, R"({"top_class":3,"s":"a\"b"})"));
  EXPECT_TRUE(log_->accept(1, j2, R"( {"n":[1,2,{"x":null}]} )"));
  EXPECT_TRUE(lines("a").empty()) << "held until the job closes";
  EXPECT_EQ(log_->held(), 2u);
  EXPECT_EQ(ledger_.open(), 2u) << "a result does not close its job";
  close(j1);
  close(j2);
  EXPECT_EQ(log_->held(), 0u);
  EXPECT_EQ(lines("a"), std::vector<std::string>{"{\"job\":1,\"result\":{\"top_class\":3,\"s\":\"a\\\"b\"}}"});
  EXPECT_EQ(lines("b"), std::vector<std::string>{"{\"job\":2,\"result\": {\"n\":[1,2,{\"x\":null}]} }"});
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"0/1 {\"top_class\":3,\"s\":\"a\\\"b\"}",
                                                 "1/2  {\"n\":[1,2,{\"x\":null}]} "}));
  EXPECT_EQ(log_->counts().written, 2u);
  EXPECT_EQ(log_->counts().refused, 0u);
}

TEST_F(ResultLogTest, AJobDroppedAfterItsResultStillHasItsLineWithThatOutcome) {
  const uint64_t job = ledger_.release(0, at(0), at(100));
  EXPECT_TRUE(log_->accept(0, job, "{\"k\":1}"));
  auto record = ledger_.drop(job, DropCause::kWorkerCrash, at(60));
  ASSERT_TRUE(record.has_value());
  log_->job_closed(*record);
  std::ifstream in(dir_ / "results" / "a.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["outcome"], "dropped");
  EXPECT_EQ(j["reason"], "worker_crash");
  EXPECT_EQ(j["run"], "run-1");
  EXPECT_EQ(j["result"]["k"], 1);
  // A job without a result writes nothing.
  const uint64_t other = ledger_.release(0, at(0), at(100));
  close(other);
  EXPECT_EQ(log_->counts(0).written, 1u);
}

TEST(ResultLogFiles, NoFileBeforeOpenFilesThenAppendedAfterAnEarlierRun) {
  const fs::path dir = fs::temp_directory_path() / ("coedge-result-append-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  JobLedger ledger(1, std::chrono::seconds(1));
  auto first = ResultLog::open(dir.string(), {"a"}, ledger, run_context("first"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  const uint64_t j1 = ledger.release(0, at(0), at(100));
  ASSERT_TRUE((*first)->accept(0, j1, "{}"));
  (*first)->job_closed(*ledger.done(j1, JobRecord{}, at(10)));
  first->reset();

  // A second writer touches nothing until open_files (the run has started).
  JobLedger ledger2(1, std::chrono::seconds(1));
  auto second = ResultLog::create(dir.string(), {"a"}, ledger2);
  fs::remove_all(dir / "results");
  EXPECT_FALSE(fs::exists(dir / "results")) << "create() made the folder";
  fs::create_directories(dir / "results");
  std::ofstream(dir / "results" / "a.jsonl") << "{\"earlier\":true}\n";
  ASSERT_TRUE(second->open_files(run_context("second")).ok());
  const uint64_t j2 = ledger2.release(0, at(0), at(100));
  ASSERT_TRUE(second->accept(0, j2, "{}"));
  second->job_closed(*ledger2.done(j2, JobRecord{}, at(10)));
  std::ifstream in(dir / "results" / "a.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["run"], "second");
  fs::remove_all(dir);
}

TEST_F(ResultLogTest, RefusesUnknownClosedOtherTasksAndDuplicateJobs) {
  const uint64_t a1 = ledger_.release(0, at(0), at(100));
  const uint64_t b1 = ledger_.release(1, at(0), at(100));
  const uint64_t a2 = ledger_.release(0, at(0), at(100));
  ASSERT_TRUE(ledger_.drop(a2, DropCause::kLost, at(200)).has_value());
  EXPECT_FALSE(log_->accept(0, 0, "{}"));
  EXPECT_FALSE(log_->accept(0, 99, "{}"));
  EXPECT_FALSE(log_->accept(0, a2, "{}"));
  EXPECT_FALSE(log_->accept(0, b1, "{}"));  // task b's job, from task a's worker
  EXPECT_TRUE(log_->accept(0, a1, "{\"n\":1}"));
  EXPECT_FALSE(log_->accept(0, a1, "{\"n\":2}"));
  close(a1);
  EXPECT_EQ(refused(0, ResultRejection::kUnknownJob), 2u);
  EXPECT_EQ(refused(0, ResultRejection::kClosedJob), 1u);
  EXPECT_EQ(refused(0, ResultRejection::kOtherTask), 1u);
  EXPECT_EQ(refused(0, ResultRejection::kDuplicate), 1u);
  EXPECT_EQ(log_->counts(0).refused, 5u);
  EXPECT_EQ(lines("a"), std::vector<std::string>{"{\"job\":1,\"result\":{\"n\":1}}"});
  // Task b is undisturbed: its job can still have its result.
  EXPECT_EQ(log_->counts(1).refused, 0u);
  EXPECT_TRUE(log_->accept(1, b1, "{}"));
}

TEST_F(ResultLogTest, RefusesLineBreaksOversizedAndAnythingButOneJsonObject) {
  const uint64_t job = ledger_.release(0, at(0), at(100));
  using namespace std::string_literals;
  for (const std::string& text : {"{\"a\":\n1}"s, "{\"a\":1}\r"s, "{\"a\":\"x\0y\"}"s}) {
    EXPECT_FALSE(log_->accept(0, job, text)) << text;
  }
  EXPECT_EQ(refused(0, ResultRejection::kLineBreak), 3u);
  for (const std::string& text : {"[1,2]"s, "42"s, "\"s\""s, "{"s, "{\"a\":1"s, "{}{}"s,
                                  "{},\"job\":7,\"x\":{}"s, "{\"a\":nan}"s, "{\"a\":\"\xff\"}"s, " "s}) {
    EXPECT_FALSE(log_->accept(0, job, text)) << text;
  }
  EXPECT_EQ(refused(0, ResultRejection::kNotJsonObject), 10u);
  EXPECT_FALSE(log_->accept(0, job, ""));
  const std::string big = "{\"x\":\"" + std::string(ipc::kMaxResultBytes, 'x') + "\"}";
  EXPECT_FALSE(log_->accept(0, job, big));
  EXPECT_EQ(refused(0, ResultRejection::kBadLength), 2u);
  EXPECT_TRUE(lines("a").empty());
  // None of them used up the job's one result.
  EXPECT_TRUE(log_->accept(0, job, "{}"));
  close(job);
  EXPECT_EQ(lines("a").size(), 1u);
}

TEST_F(ResultLogTest, ARefusalDecidedElsewhereIsCountedByItsReason) {
  log_->refuse(1, 5, ResultRejection::kNotSent, "the ring stayed full");
  EXPECT_EQ(refused(1, ResultRejection::kNotSent), 1u);
  EXPECT_EQ(log_->counts().refused, 1u);
  EXPECT_STREQ(result_rejection_name(ResultRejection::kNotSent), "not_sent");
  EXPECT_STREQ(result_rejection_name(ResultRejection::kNotJsonObject), "not_json_object");
}

TEST(ResultLogOpen, AnUnwritableRunDirIsAnErrorNamingThePath) {
  JobLedger ledger(1, std::chrono::seconds(1));
  auto log = ResultLog::open("/proc/coedge-no-such-dir", {"t"}, ledger, run_context());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("/proc/coedge-no-such-dir"), std::string::npos) << log.error().message;
}

TEST(ResultLogOpen, DoesNotFollowASymbolicLinkLeftWhereItsFileGoes) {
  const fs::path dir = fs::temp_directory_path() / ("coedge-result-link-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "results");
  const fs::path target = dir / "elsewhere.txt";
  std::ofstream(target) << "keep\n";
  fs::create_symlink(target, dir / "results" / "t.jsonl");
  JobLedger ledger(1, std::chrono::seconds(1));
  auto log = ResultLog::open(dir.string(), {"t"}, ledger, run_context());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find((dir / "results" / "t.jsonl").string()), std::string::npos) << log.error().message;
  std::ifstream in(target);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "keep\n");
  fs::remove_all(dir);
}

// The whole channel across processes: a child process plays a post worker (the SDK's
// send_result on its own mapping of the segment), the agent drains the task's result ring
// into the log. Good results reach the file; a hostile entry is refused.
TEST_F(ResultLogTest, APostWorkersResultReachesResultsJsonlThroughTheSegment) {
  const ipc::TaskChannels task_a{"a", 64, 64};
  auto segment = ipc::Segment::create_sealed(ipc::task_segment("a"), ipc::task_segment_plan(task_a));
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  const uint64_t j1 = ledger_.release(0, at(0), at(100));
  const uint64_t j2 = ledger_.release(0, at(0), at(100));
  const uint64_t other = ledger_.release(1, at(0), at(100));

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto s = ipc::Segment::map((*segment)->fd(), ipc::task_segment_plan(task_a), ipc::Access::kReadWrite);
    if (!s.ok()) ::_exit(10);
    auto pool = (*s)->pool(ipc::result_pool("a"));
    auto ring = (*s)->ring(ipc::result_ring("a"));
    if (!pool.ok() || !ring.ok()) ::_exit(11);
    ipc::JobRef ref;
    ref.task = 0;
    ref.job = j1;
    bool ok = ipc::send_result(*pool, *ring, ref, "{\"k\":1}", "child");
    ref.job = other;  // task b's job, from task a's worker
    ok = ipc::send_result(*pool, *ring, ref, "{\"k\":2}", "child") && ok;
    ref.job = j2;
    ok = ipc::send_result(*pool, *ring, ref, "{\"k\":3}\n{\"job\":9}", "child") && ok;  // a line of its own
    ref.task = 1;  // naming another task
    ok = ipc::send_result(*pool, *ring, ref, "{\"k\":4}", "child") && ok;
    ref.task = 0;
    ok = ipc::send_result(*pool, *ring, ref, "{\"k\":5}", "child") && ok;
    ::_exit(ok ? 0 : 12);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  ipc::Ring ring = *(*segment)->ring(ipc::result_ring("a"));
  ipc::Pool pool = *(*segment)->pool(ipc::result_pool("a"));
  EXPECT_EQ(log_->drain(0, ring, pool), 5u);
  close(j1);
  close(j2);
  EXPECT_EQ(lines("a"), (std::vector<std::string>{"{\"job\":1,\"result\":{\"k\":1}}",
                                                  "{\"job\":2,\"result\":{\"k\":5}}"}));
  EXPECT_TRUE(lines("b").empty());
  EXPECT_EQ(refused(0, ResultRejection::kOtherTask), 2u);
  EXPECT_EQ(refused(0, ResultRejection::kLineBreak), 1u);
  EXPECT_EQ(pool.in_use(), 0u) << "every chunk taken is released";
  EXPECT_EQ(log_->drain(0, ring, pool), 0u);
}

}  // namespace
}  // namespace coedge::node
