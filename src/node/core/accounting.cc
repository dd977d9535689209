#include "node/core/accounting.h"

#include <utility>

namespace coedge::node {

Accounting::Accounting(const config::NodeConfig& config, const Scenario& scenario, NodeMetrics& metrics,
                       JobLog* log, TimePoint epoch)
    : config_(config),
      scenario_(scenario),
      metrics_(metrics),
      log_(log),
      ledger_(scenario.tasks.size(), config.window),
      stats_(scenario.tasks.size()),
      sums_(scenario.tasks.size()),
      last_batch_start_(scenario.models.size()),
      batch_times_(scenario.models.size()) {
  run_.node = config.name;
  run_.epoch = epoch;
  for (const TaskSpec& t : config.tasks) run_.tasks.push_back(t.name);
  for (const config::SensorConfig& s : config.sensors) run_.sensors.push_back(s.name);
}

void Accounting::start_writing(RunContext run, JobLog* jobs, ResultLog* results) {
  run_ = std::move(run);
  log_ = jobs;
  results_ = results;
}

std::vector<uint64_t> Accounting::drops_by_cause() const {
  std::lock_guard lock(stats_mu_);
  return drops_by_cause_;
}

std::vector<Accounting::TaskStats> Accounting::task_stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

std::vector<Accounting::LatencySums> Accounting::latency_sums() const {
  std::lock_guard lock(stats_mu_);
  return sums_;
}

uint64_t Accounting::release(uint32_t task, TimePoint release, TimePoint deadline, FrameIdentity frame) {
  metrics_.on_released(task);
  return ledger_.release(task, release, deadline, std::move(frame));
}

void Accounting::pre_done(uint64_t id, TimePoint pre_start, TimePoint pre_end) {
  ledger_.pre_done(id, pre_start, pre_end);
}

void Accounting::inferred(uint64_t id, uint32_t task, TimePoint start, TimePoint end, int batch) {
  // The batch ran whatever became of this job (it may have expired while queued): its
  // time is observed either way, so a node too slow to finish any job in time still
  // feeds the profile check (profile_check.h).
  ledger_.inferred(id, start, end, batch);
  const ModelIndex model = scenario_.tasks.at(task).model;
  std::lock_guard lock(batch_mu_);
  // Every job of a batch reports the same start; count the batch once.
  if (last_batch_start_[model] != start) {
    last_batch_start_[model] = start;
    metrics_.on_batch(model, batch, end - start);
    if (batch >= 1 && batch <= kMaxBatch) {
      BatchTime& b = batch_times_[model][static_cast<size_t>(batch - 1)];
      b.sum_ms += to_ms(end - start);
      ++b.count;
    }
  }
}

std::vector<std::array<Accounting::BatchTime, kMaxBatch>> Accounting::batch_times() const {
  std::lock_guard lock(batch_mu_);
  return batch_times_;
}

void Accounting::done(uint64_t id, const JobRecord& stamps, TimePoint now) {
  if (auto record = ledger_.done(id, stamps, now)) closed(*record);
}

void Accounting::drop(uint64_t id, DropCause reason, TimePoint now) {
  // A cause outside the vocabulary is a caller's bug: what a worker writes is checked
  // where it is read (node/ipc_pipeline.cc), never passed through.
  COEDGE_CHECK(static_cast<int>(reason) < kDropCauseCount);
  if (auto record = ledger_.drop(id, reason, now)) closed(*record);
}

void Accounting::drop_stage(std::optional<uint32_t> task, JobStage stage, DropCause reason,
                            TimePoint now) {
  for (const JobRecord& r : ledger_.drop_stage(task, stage, reason, now)) closed(r);
}

void Accounting::expire(TimePoint now, Duration grace) {
  for (const JobRecord& r : ledger_.expire(now, grace)) closed(r);
}

void Accounting::close_all(DropCause reason, TimePoint now) {
  for (const JobRecord& r : ledger_.close_all(reason, now)) closed(r);
}

void Accounting::refresh_gauges(TimePoint now) {
  for (uint32_t t = 0; t < scenario_.tasks.size(); ++t) {
    metrics_.set_window_miss_rate(t, ledger_.window_miss_rate(t, now));
  }
  std::vector<size_t> queued(scenario_.models.size(), 0);
  const auto counts = ledger_.open_by_stage();
  for (size_t t = 0; t < counts.size(); ++t) {
    queued[scenario_.tasks[t].model] += counts[t][static_cast<size_t>(JobStage::kServer)];
  }
  for (size_t m = 0; m < queued.size(); ++m) metrics_.set_queue_length(static_cast<uint32_t>(m), queued[m]);
}

void Accounting::closed(const JobRecord& record) {
  metrics_.on_finished(record);
  if (record.outcome == JobOutcome::kDropped) {
    std::lock_guard lock(stats_mu_);
    ++drops_by_cause_.at(static_cast<size_t>(record.reason));
  }
  if (record.outcome == JobOutcome::kMet || record.outcome == JobOutcome::kOverdue) {
    std::lock_guard lock(stats_mu_);
    TaskStats& s = stats_[record.task];
    s.latency_ms.push_back(to_ms(record.end - record.release));
    sums_[record.task].latency_ms += to_ms(record.end - record.release);
    sums_[record.task].node_latency_ms +=
        to_ms(record.end - (JobRecord::reached(record.pre_start) ? record.pre_start : record.release));
    s.pre_ms += to_ms(record.pre_end - record.pre_start);
    s.queue_ms += to_ms(record.infer_start - record.pre_end);
    s.inference_ms += to_ms(record.infer_end - record.infer_start);
    s.post_ms += to_ms(record.post_end - record.post_start);
    s.batch_sum += static_cast<uint64_t>(record.batch);
    ++s.finished;
  }
  if (results_ != nullptr) results_->job_closed(record);
  if (log_ != nullptr) log_->write(job_line(run_, record));
}

}  // namespace coedge::node
