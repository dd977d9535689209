// The node agent's account of every job it released: where each open job is (at its
// pre-processing worker, at the inference server, at its post-processing worker) and how
// each closed job ended. Every released job closes exactly once, as met, overdue or
// dropped (with a reason): when its post-processing reports it done; when a stage drops
// it; when the process holding it crashes; when it is still open long after its deadline
// (lost); or at shutdown. Late news about a closed job is ignored, so nothing is counted
// twice. Keeps per-task totals and a rolling miss rate over the jobs closed in the last
// window. Thread-safe (one mutex); time is passed in.
#pragma once

#include <cstdint>
#include <array>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "core/time.h"
#include "node/core/job_record.h"

namespace coedge::node {

enum class JobStage : uint8_t { kPre, kServer, kPost };

// What the ledger says about a result offered for a job (claim_result).
enum class ResultClaim : uint8_t {
  kOk,         // open, of the task, no result yet: now it has one
  kUnknown,    // never released (0, or beyond the last id)
  kClosed,     // released, but already closed
  kOtherTask,  // open, but another task's job
  kDuplicate,  // open, and it already has a result
};

struct TaskTotals {
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0;
  uint64_t closed() const { return met + overdue + dropped; }
  double miss_rate() const {
    return closed() == 0 ? 0.0 : static_cast<double>(overdue + dropped) / static_cast<double>(closed());
  }
};

class JobLedger {
 public:
  JobLedger(size_t tasks, Duration window);

  // A new job of `task`, released at `release`; returns its id (increasing from 1).
  // `frame`: the frame's identity, kept in the record (and so in the job and result lines).
  uint64_t release(uint32_t task, TimePoint release, TimePoint deadline, FrameIdentity frame = {});

  // Stage news. Each returns false when the job is unknown or already closed.
  bool pre_done(uint64_t id, TimePoint pre_start, TimePoint pre_end);
  bool inferred(uint64_t id, TimePoint infer_start, TimePoint infer_end, int batch);
  // Post-processing finished at `record.post_end`: met if that is by the deadline.
  // `stamps` carries every stage time the reporter knows; the ledger keeps what it has.
  std::optional<JobRecord> done(uint64_t id, const JobRecord& stamps, TimePoint now);
  std::optional<JobRecord> drop(uint64_t id, DropCause reason, TimePoint now);

  // A result for open job `id` of `task`: at most one per job, taken only while the job is
  // open (so its post worker sends it before kDone: worker_sdk.cc).
  ResultClaim claim_result(uint64_t id, uint32_t task);

  // Closes, as dropped, the open jobs held by a stage that failed: one task's pre or post
  // worker (task set), or the server (every task).
  std::vector<JobRecord> drop_stage(std::optional<uint32_t> task, JobStage stage,
                                    DropCause reason, TimePoint now);
  // Closes, as dropped (kLost), open jobs whose deadline passed more than `grace` ago.
  std::vector<JobRecord> expire(TimePoint now, Duration grace);
  // Closes every open job (e.g. kShutdown).
  std::vector<JobRecord> close_all(DropCause reason, TimePoint now);

  TaskTotals totals(uint32_t task) const;
  TaskTotals totals() const;  // all tasks
  // Miss rate of `task` over the jobs it closed in (now - window, now]; 0 when none.
  double window_miss_rate(uint32_t task, TimePoint now);
  size_t open() const;
  // When the oldest open job of `task` entered `stage` (release, pre end or inference
  // end), or nullopt when the stage holds none: how the agent notices a hung process.
  std::optional<TimePoint> oldest_in_stage(uint32_t task, JobStage stage) const;
  // Open jobs per task and stage: counts[task][stage].
  std::vector<std::array<size_t, 3>> open_by_stage() const;
  // The open job's stage, for tests and diagnostics.
  std::optional<JobStage> stage(uint64_t id) const;
  // The open job's task; nullopt when the job is not open (never released, or closed).
  std::optional<uint32_t> task_of(uint64_t id) const;
  // What the ledger knows of `id` in one look, for checking a worker's news of it
  // (ipc/worker_checks.h): released ever, open now, and if open its task, stage, release.
  struct Facts {
    bool released = false;
    bool open = false;
    uint32_t task = 0;
    JobStage stage = JobStage::kPre;
    TimePoint release{};
  };
  Facts facts(uint64_t id) const;

 private:
  struct Open {
    JobRecord record;
    JobStage stage = JobStage::kPre;
    TimePoint since{};  // when it entered `stage`
    bool result = false;  // a result was written for it (claim_result)
  };
  JobRecord close(std::map<uint64_t, Open>::iterator it, JobOutcome outcome, DropCause reason,
                  TimePoint now);

  mutable std::mutex mu_;
  Duration window_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Open> open_;  // by id: ordered, so sweeps are deterministic
  std::vector<TaskTotals> totals_;
  std::vector<std::deque<std::pair<TimePoint, bool>>> recent_;  // per task: (end, missed)
};

}  // namespace coedge::node
