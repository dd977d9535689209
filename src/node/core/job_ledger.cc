#include "node/core/job_ledger.h"

#include <utility>

#include "core/result.h"

namespace coedge::node {

JobLedger::JobLedger(size_t tasks, Duration window)
    : window_(window), totals_(tasks), recent_(tasks) {}

uint64_t JobLedger::release(uint32_t task, TimePoint release, TimePoint deadline, FrameIdentity frame) {
  std::lock_guard lock(mu_);
  COEDGE_CHECK(task < totals_.size());
  const uint64_t id = next_id_++;
  Open job;
  job.record.id = id;
  job.record.task = task;
  job.record.release = release;
  job.record.deadline = deadline;
  job.record.frame = std::move(frame);
  job.since = release;
  open_.emplace(id, job);
  ++totals_[task].released;
  return id;
}

bool JobLedger::pre_done(uint64_t id, TimePoint pre_start, TimePoint pre_end) {
  std::lock_guard lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return false;
  it->second.record.pre_start = pre_start;
  it->second.record.pre_end = pre_end;
  if (it->second.stage == JobStage::kPre) {
    it->second.stage = JobStage::kServer;
    it->second.since = pre_end;
  }
  return true;
}

bool JobLedger::inferred(uint64_t id, TimePoint infer_start, TimePoint infer_end, int batch) {
  std::lock_guard lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return false;
  it->second.record.infer_start = infer_start;
  it->second.record.infer_end = infer_end;
  it->second.record.batch = batch;
  it->second.stage = JobStage::kPost;
  it->second.since = infer_end;
  return true;
}

JobRecord JobLedger::close(std::map<uint64_t, Open>::iterator it, JobOutcome outcome,
                           DropCause reason, TimePoint now) {
  JobRecord record = it->second.record;
  record.outcome = outcome;
  record.reason = outcome == JobOutcome::kDropped ? reason : DropCause::kNone;
  record.end = now;
  open_.erase(it);
  TaskTotals& t = totals_[record.task];
  switch (outcome) {
    case JobOutcome::kMet: ++t.met; break;
    case JobOutcome::kOverdue: ++t.overdue; break;
    case JobOutcome::kDropped: ++t.dropped; break;
    case JobOutcome::kOpen: COEDGE_CHECK(false);
  }
  recent_[record.task].emplace_back(now, outcome != JobOutcome::kMet);
  return record;
}

std::optional<JobRecord> JobLedger::done(uint64_t id, const JobRecord& stamps, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return std::nullopt;
  JobRecord& r = it->second.record;
  auto keep = [](TimePoint& mine, TimePoint theirs) {
    if (JobRecord::reached(theirs)) mine = theirs;
  };
  keep(r.pre_start, stamps.pre_start);
  keep(r.pre_end, stamps.pre_end);
  keep(r.infer_start, stamps.infer_start);
  keep(r.infer_end, stamps.infer_end);
  keep(r.post_start, stamps.post_start);
  keep(r.post_end, stamps.post_end);
  if (stamps.batch > 0) r.batch = stamps.batch;
  const TimePoint finished = JobRecord::reached(r.post_end) ? r.post_end : now;
  const JobOutcome outcome = finished <= r.deadline ? JobOutcome::kMet : JobOutcome::kOverdue;
  JobRecord closed = close(it, outcome, DropCause::kNone, now);
  closed.end = finished;
  return closed;
}

std::optional<JobRecord> JobLedger::drop(uint64_t id, DropCause reason, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return std::nullopt;
  return close(it, JobOutcome::kDropped, reason, now);
}

JobLedger::Facts JobLedger::facts(uint64_t id) const {
  std::lock_guard lock(mu_);
  Facts f;
  f.released = id != 0 && id < next_id_;
  auto it = open_.find(id);
  if (it == open_.end()) return f;
  f.open = true;
  f.task = it->second.record.task;
  f.stage = it->second.stage;
  f.release = it->second.record.release;
  return f;
}

ResultClaim JobLedger::claim_result(uint64_t id, uint32_t task) {
  std::lock_guard lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return id == 0 || id >= next_id_ ? ResultClaim::kUnknown : ResultClaim::kClosed;
  if (it->second.record.task != task) return ResultClaim::kOtherTask;
  if (it->second.result) return ResultClaim::kDuplicate;
  it->second.result = true;
  return ResultClaim::kOk;
}

std::vector<JobRecord> JobLedger::drop_stage(std::optional<uint32_t> task, JobStage stage,
                                             DropCause reason, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<JobRecord> closed;
  for (auto it = open_.begin(); it != open_.end();) {
    auto next = std::next(it);
    if (it->second.stage == stage && (!task || it->second.record.task == *task)) {
      closed.push_back(close(it, JobOutcome::kDropped, reason, now));
    }
    it = next;
  }
  return closed;
}

std::vector<JobRecord> JobLedger::expire(TimePoint now, Duration grace) {
  std::lock_guard lock(mu_);
  std::vector<JobRecord> closed;
  for (auto it = open_.begin(); it != open_.end();) {
    auto next = std::next(it);
    if (it->second.record.deadline + grace < now) {
      closed.push_back(close(it, JobOutcome::kDropped, DropCause::kLost, now));
    }
    it = next;
  }
  return closed;
}

std::vector<JobRecord> JobLedger::close_all(DropCause reason, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<JobRecord> closed;
  while (!open_.empty()) closed.push_back(close(open_.begin(), JobOutcome::kDropped, reason, now));
  return closed;
}

TaskTotals JobLedger::totals(uint32_t task) const {
  std::lock_guard lock(mu_);
  COEDGE_CHECK(task < totals_.size());
  return totals_[task];
}

TaskTotals JobLedger::totals() const {
  std::lock_guard lock(mu_);
  TaskTotals sum;
  for (const TaskTotals& t : totals_) {
    sum.released += t.released;
    sum.met += t.met;
    sum.overdue += t.overdue;
    sum.dropped += t.dropped;
  }
  return sum;
}

double JobLedger::window_miss_rate(uint32_t task, TimePoint now) {
  std::lock_guard lock(mu_);
  COEDGE_CHECK(task < recent_.size());
  auto& recent = recent_[task];
  while (!recent.empty() && recent.front().first <= now - window_) recent.pop_front();
  if (recent.empty()) return 0.0;
  size_t missed = 0;
  for (const auto& [end, miss] : recent) missed += miss ? 1 : 0;
  return static_cast<double>(missed) / static_cast<double>(recent.size());
}

size_t JobLedger::open() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

std::optional<TimePoint> JobLedger::oldest_in_stage(uint32_t task, JobStage stage) const {
  std::lock_guard lock(mu_);
  std::optional<TimePoint> oldest;
  for (const auto& [id, job] : open_) {
    if (job.record.task == task && job.stage == stage && (!oldest || job.since < *oldest)) {
      oldest = job.since;
    }
  }
  return oldest;
}

std::vector<std::array<size_t, 3>> JobLedger::open_by_stage() const {
  std::lock_guard lock(mu_);
  std::vector<std::array<size_t, 3>> counts(totals_.size(), {0, 0, 0});
  for (const auto& [id, job] : open_) ++counts[job.record.task][static_cast<size_t>(job.stage)];
  return counts;
}

std::optional<uint32_t> JobLedger::task_of(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return std::nullopt;
  return it->second.record.task;
}

std::optional<JobStage> JobLedger::stage(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return std::nullopt;
  return it->second.stage;
}

}  // namespace coedge::node
