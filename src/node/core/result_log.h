// The agent's one writer of every task's results (RUN_DIR/results/<task>.jsonl), in
// every isolation mode: a post worker process sends its results through the segment (the
// task's result ring, drained here by drain()), and with --isolation none the agent's own
// post thread hands them to accept(). A result is checked when it arrives and held until
// its job closes (job_closed(), from the accounting): the job's outcome is known only
// then, and the line is self-contained — job_line.h's result_line: the run id, the task,
// the job, the frame's identity, release, deadline, outcome and the worker's JSON object
// as "result" (docs/schema/result-line.schema.json). Each line is written with one
// write() and so flushed per job, then goes to every ResultSink (node/cluster/result_publisher.h
// publishes them over DDS). A job closed as dropped after its
// result came (its post worker crashed before kDone, the run stopped) still has its line,
// with that outcome.
//
// The files are opened (appending: a run never truncates an earlier run's lines, which
// its run id tells apart) by open_files(), which the agent calls only once the run has
// started, so a run that fails to start leaves them as they were.
//
// Everything a worker writes is untrusted. A result is held only if
//  - its chunk and length are sound (ipc::take_result: the pool, 1 to kMaxResultBytes);
//  - its job is open in the ledger, of this task, and has no result yet
//    (JobLedger::claim_result): a post worker sends the result before the job's kDone, and
//    the agent takes a task's results before it applies that task's kDone
//    (node/ipc_pipeline.cc), so a job counted met or overdue never loses its result;
//  - its text holds no NUL, CR or LF and is exactly one JSON object (parsed, so the line
//    cannot carry keys of its own).
// A refused result is counted per task and reason and logged on stderr (per task: the first
// 20, then every 1000th); it never closes or changes the job, and never affects other tasks.
// Held results cost at most one result (ipc::kMaxResultBytes) per open job.
//
// Thread-safety: accept(), drain(), refuse() and job_closed() may be called from any
// threads; each task has its own lock (its file, its held results, its sinks' order).
// add_sink() and open_files() only before results flow.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ipc/shm_segment.h"
#include "node/core/job_ledger.h"
#include "node/core/job_line.h"

namespace coedge::node {

enum class ResultRejection : uint8_t {
  kBadChunk,       // a chunk reference outside the task's result pool
  kBadLength,      // empty, or longer than ipc::kMaxResultBytes / its chunk
  kUnknownJob,     // a job id never released
  kClosedJob,      // its job already closed (e.g. dropped as lost before the result came)
  kOtherTask,      // a job of another task
  kDuplicate,      // a second result for one job
  kLineBreak,      // a NUL, CR or LF in the text
  kNotJsonObject,  // not exactly one JSON object
  kWriteFailed,    // the results file could not be written
  kNotSent,        // the worker had a result but the result ring stayed full
};
inline constexpr size_t kResultRejections = 10;
// "bad_chunk", "bad_length", ..., as in summary.json.
const char* result_rejection_name(ResultRejection why);

// Receives every result after it is written (the seam for publishing results: a node on
// DDS publishes them as ROS 2 messages, node/cluster/result_publisher.h).
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // `record`: the closed job (its task, id, outcome and frame identity: the camera's stamp
  // and frame_id); `result`: the worker's JSON object, as checked. Called on the writer's
  // thread under the task's lock, in the order of the lines: be quick.
  virtual void on_result(const JobRecord& record, std::string_view result) = 0;
};

class ResultLog {
 public:
  // A writer for RUN_DIR/results/<task>.jsonl; no file is touched until open_files().
  // `tasks`: the node's task names, by index. REQUIRES: `ledger` outlives this.
  static std::unique_ptr<ResultLog> create(const std::string& run_dir, const std::vector<std::string>& tasks,
                                           JobLedger& ledger);
  // create() then open_files(run).
  static Result<std::unique_ptr<ResultLog>> open(const std::string& run_dir, const std::vector<std::string>& tasks,
                                                 JobLedger& ledger, RunContext run);
  // Creates RUN_DIR/results/ and opens <task>.jsonl there for every task, for appending
  // (not through a symbolic link). Outside RUN_DIR/tasks/<task>/, which the task's
  // sandboxed workers can write. `run` names every line's run, node, tasks and sensors.
  // REQUIRES: called once, before any job closes.
  Status open_files(RunContext run);
  ~ResultLog();
  ResultLog(const ResultLog&) = delete;
  ResultLog& operator=(const ResultLog&) = delete;

  // REQUIRES: `sink` outlives this; called before any result.
  void add_sink(ResultSink& sink) { sinks_.push_back(&sink); }

  // One result (the worker's JSON text) for `job` of `task`: true if taken (held until the
  // job closes); otherwise counted and logged as refused. REQUIRES task < tasks.
  bool accept(uint32_t task, uint64_t job, std::string_view json);
  // `record` closed (met, overdue or dropped): writes its held result's line, if it has
  // one (counted written, or refused as kWriteFailed). REQUIRES record.task < tasks.
  void job_closed(const JobRecord& record);
  // Results taken but not yet written (their jobs still open).
  size_t held() const;
  // Takes the results waiting in `task`'s result ring (its post worker's; `pool` is the
  // task's result pool), at most one ring's worth (ipc::kResultRing, all a ring holds at
  // once), and accepts or refuses each. Returns how many it took.
  size_t drain(uint32_t task, ipc::Ring& ring, ipc::Pool& pool);
  // Counts and logs a refusal decided elsewhere (e.g. kNotSent).
  void refuse(uint32_t task, uint64_t job, ResultRejection why, const std::string& detail);

  struct Counts {
    uint64_t written = 0, refused = 0;
    std::array<uint64_t, kResultRejections> by_reason{};
  };
  Counts counts(uint32_t task) const;
  Counts counts() const;  // all tasks

 private:
  struct Task {
    std::string name, file;
    int fd = -1;
    mutable std::mutex mu;
    Counts counts;
    std::map<uint64_t, std::string> held;  // by job: results waiting for their job to close
  };
  ResultLog(std::string run_dir, JobLedger& ledger) : run_dir_(std::move(run_dir)), ledger_(ledger) {}
  void refuse_locked(Task& t, uint64_t job, ResultRejection why, const std::string& detail);

  std::string run_dir_;
  JobLedger& ledger_;
  RunContext run_;  // set by open_files, before results flow
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<ResultSink*> sinks_;
};

}  // namespace coedge::node
