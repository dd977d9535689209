// The agent's writer of the results files (node/core/result_log.h).
#include "node/core/result_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "ipc/messages.h"
#include "ipc/node_topology.h"

namespace coedge::node {

const char* result_rejection_name(ResultRejection why) {
  switch (why) {
    case ResultRejection::kBadChunk: return "bad_chunk";
    case ResultRejection::kBadLength: return "bad_length";
    case ResultRejection::kUnknownJob: return "unknown_job";
    case ResultRejection::kClosedJob: return "closed_job";
    case ResultRejection::kOtherTask: return "other_task";
    case ResultRejection::kDuplicate: return "duplicate";
    case ResultRejection::kLineBreak: return "line_break";
    case ResultRejection::kNotJsonObject: return "not_json_object";
    case ResultRejection::kWriteFailed: return "write_failed";
    case ResultRejection::kNotSent: return "not_sent";
  }
  return "unknown";
}

std::unique_ptr<ResultLog> ResultLog::create(const std::string& run_dir, const std::vector<std::string>& tasks,
                                             JobLedger& ledger) {
  std::unique_ptr<ResultLog> log(new ResultLog(run_dir, ledger));
  for (const std::string& name : tasks) {
    auto t = std::make_unique<Task>();
    t->name = name;
    // Outside the task's own folder, which its sandboxed workers can write: there a worker
    // could append lines of its own or leave a symbolic link for the agent to follow.
    t->file = run_dir + "/results/" + name + ".jsonl";
    log->tasks_.push_back(std::move(t));
  }
  return log;
}

Result<std::unique_ptr<ResultLog>> ResultLog::open(const std::string& run_dir, const std::vector<std::string>& tasks,
                                                   JobLedger& ledger, RunContext run) {
  auto log = create(run_dir, tasks, ledger);
  if (Status st = log->open_files(std::move(run)); !st.ok()) return st.error();
  return log;
}

Status ResultLog::open_files(RunContext run) {
  run_ = std::move(run);
  const std::string dir = run_dir_ + "/results";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + dir + ": " + ec.message()};
  for (auto& t : tasks_) {
    std::lock_guard lock(t->mu);
    t->fd = ::open(t->file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (t->fd < 0) {
      return Error{ErrorCode::kIo, "cannot open " + t->file + " for appending: " + std::strerror(errno)};
    }
  }
  return Ok{};
}

ResultLog::~ResultLog() {
  for (auto& t : tasks_) {
    if (t->fd >= 0) ::close(t->fd);
  }
}

namespace {

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool ResultLog::accept(uint32_t task, uint64_t job, std::string_view json) {
  COEDGE_CHECK(task < tasks_.size());
  Task& t = *tasks_[task];
  std::lock_guard lock(t.mu);
  if (json.empty() || json.size() > ipc::kMaxResultBytes) {
    refuse_locked(t, job, ResultRejection::kBadLength, std::to_string(json.size()) + " bytes");
    return false;
  }
  if (json.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
    refuse_locked(t, job, ResultRejection::kLineBreak, "a NUL, CR or LF in the result");
    return false;
  }
  // Exactly one JSON object: anything else would make the line something else than
  // {"job":N,"result":{...}} (e.g. `{},"job":7` would add a key of its own).
  const size_t first = json.find_first_not_of(" \t");
  if (first == std::string_view::npos || json[first] != '{' || !nlohmann::json::accept(json)) {
    refuse_locked(t, job, ResultRejection::kNotJsonObject, "not one JSON object");
    return false;
  }
  // The job last: a refused text does not use up the job's one result.
  switch (ledger_.claim_result(job, task)) {
    case ResultClaim::kOk: break;
    case ResultClaim::kUnknown:
      refuse_locked(t, job, ResultRejection::kUnknownJob, "no such job");
      return false;
    case ResultClaim::kClosed:
      refuse_locked(t, job, ResultRejection::kClosedJob, "the job is already closed");
      return false;
    case ResultClaim::kOtherTask:
      refuse_locked(t, job, ResultRejection::kOtherTask, "the job is another task's");
      return false;
    case ResultClaim::kDuplicate:
      refuse_locked(t, job, ResultRejection::kDuplicate, "the job already has a result");
      return false;
  }
  t.held.emplace(job, std::string(json));
  return true;
}

void ResultLog::job_closed(const JobRecord& record) {
  COEDGE_CHECK(record.task < tasks_.size());
  Task& t = *tasks_[record.task];
  std::lock_guard lock(t.mu);
  auto it = t.held.find(record.id);
  if (it == t.held.end()) return;
  const std::string result = std::move(it->second);
  t.held.erase(it);
  std::string line = result_line(run_, record, result);
  line += '\n';
  if (t.fd < 0 || !write_all(t.fd, line)) {
    refuse_locked(t, record.id, ResultRejection::kWriteFailed,
                  t.file + ": " + (t.fd < 0 ? std::string("not open") : std::string(std::strerror(errno))));
    return;
  }
  ++t.counts.written;
  for (ResultSink* sink : sinks_) sink->on_result(record, result);
}

size_t ResultLog::held() const {
  size_t n = 0;
  for (const auto& t : tasks_) {
    std::lock_guard lock(t->mu);
    n += t->held.size();
  }
  return n;
}

size_t ResultLog::drain(uint32_t task, ipc::Ring& ring, ipc::Pool& pool) {
  COEDGE_CHECK(task < tasks_.size());
  size_t taken = 0;
  // At most one ring's worth per call: a worker that keeps pushing (the same chunk, over
  // and over) cannot hold the agent here; the rest waits for the next call.
  while (taken < ipc::kResultRing) {
    auto r = ipc::take_result(ring, pool);
    if (!r) break;
    ++taken;
    switch (r->status) {
      case ipc::ReceivedResult::Status::kOk: break;
      case ipc::ReceivedResult::Status::kBadChunk:
        refuse(task, 0, ResultRejection::kBadChunk, r->error);
        continue;
      case ipc::ReceivedResult::Status::kBadLength:
        refuse(task, r->ref.job, ResultRejection::kBadLength, r->error);
        continue;
    }
    // The ring is the task's own: a result naming another task is not this worker's to send.
    if (r->ref.task != task) {
      refuse(task, r->ref.job, ResultRejection::kOtherTask, "the result names task index " + std::to_string(r->ref.task));
      continue;
    }
    accept(task, r->ref.job, r->json);
  }
  return taken;
}

void ResultLog::refuse(uint32_t task, uint64_t job, ResultRejection why, const std::string& detail) {
  COEDGE_CHECK(task < tasks_.size());
  Task& t = *tasks_[task];
  std::lock_guard lock(t.mu);
  refuse_locked(t, job, why, detail);
}

void ResultLog::refuse_locked(Task& t, uint64_t job, ResultRejection why, const std::string& detail) {
  ++t.counts.refused;
  ++t.counts.by_reason[static_cast<size_t>(why)];
  // A worker that sends garbage for every job must not flood the node's log.
  const uint64_t n = t.counts.refused;
  if (n <= 20 || n % 1000 == 0) {
    std::fprintf(stderr, "coedge node: task %s: result of job %llu refused (%s): %s%s\n", t.name.c_str(),
                 static_cast<unsigned long long>(job), result_rejection_name(why), detail.c_str(),
                 n == 20 ? " (further refusals of this task reported every 1000th)" : "");
  }
}

ResultLog::Counts ResultLog::counts(uint32_t task) const {
  COEDGE_CHECK(task < tasks_.size());
  std::lock_guard lock(tasks_[task]->mu);
  return tasks_[task]->counts;
}

ResultLog::Counts ResultLog::counts() const {
  Counts sum;
  for (uint32_t i = 0; i < tasks_.size(); ++i) {
    const Counts c = counts(i);
    sum.written += c.written;
    sum.refused += c.refused;
    for (size_t k = 0; k < kResultRejections; ++k) sum.by_reason[k] += c.by_reason[k];
  }
  return sum;
}

}  // namespace coedge::node
