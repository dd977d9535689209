// Accounting and the protocol_violation drop cause: a job dropped as protocol_violation
// (one by one, or a killed worker's whole stage) is counted under that cause in
// drops_by_cause (summary.json's dropped_by_cause) and in the finished-jobs metric, and
// every released job is still closed exactly once.
#include "node/core/accounting.h"

#include <gtest/gtest.h>

namespace coedge::node {
namespace {

using std::chrono::milliseconds;

TEST(AccountingDrops, ProtocolViolationsAreCountedUnderTheirCause) {
  Scenario scenario;
  ModelProfile model;
  model.name = "a";
  scenario.models.push_back(model);
  TaskSpec task;
  task.model = 0;
  task.period = milliseconds(100);
  task.deadline = milliseconds(100);
  task.name = "honest";
  scenario.tasks.push_back(task);
  task.name = "hostile";
  scenario.tasks.push_back(task);
  config::NodeConfig config;
  config.name = "n";
  config.tasks = scenario.tasks;
  NodeMetrics metrics("n", {{"honest", "a", 0.1}, {"hostile", "a", 0.1}}, {"a"});
  const TimePoint t0{};
  Accounting accounting(config, scenario, metrics, nullptr, t0);

  const uint64_t named = accounting.release(1, t0, t0 + milliseconds(100));  // the job a bad event names
  const uint64_t held1 = accounting.release(1, t0, t0 + milliseconds(100));  // held by the killed worker
  const uint64_t held2 = accounting.release(1, t0, t0 + milliseconds(100));
  const uint64_t other = accounting.release(0, t0, t0 + milliseconds(100));  // the honest task's
  accounting.drop(named, DropCause::kProtocolViolation, t0 + milliseconds(5));
  accounting.drop_stage(1u, JobStage::kPre, DropCause::kProtocolViolation, t0 + milliseconds(6));
  accounting.drop(held1, DropCause::kWorkerCrash, t0 + milliseconds(7));  // closed already: ignored
  (void)held2;

  const std::vector<uint64_t> drops = accounting.drops_by_cause();
  ASSERT_EQ(drops.size(), kDropCauseCount);
  EXPECT_EQ(drops[static_cast<size_t>(DropCause::kProtocolViolation)], 3u);
  EXPECT_EQ(drops[static_cast<size_t>(DropCause::kWorkerCrash)], 0u);
  EXPECT_EQ(to_string(DropCause::kProtocolViolation), "protocol_violation");
  const TaskTotals hostile = accounting.ledger().totals(1);
  EXPECT_EQ(hostile.released, 3u);
  EXPECT_EQ(hostile.dropped, 3u);
  EXPECT_EQ(accounting.ledger().totals(0).dropped, 0u);  // the honest task's job is untouched
  accounting.done(other, JobRecord{}, t0 + milliseconds(50));
  EXPECT_EQ(accounting.ledger().totals().closed(), accounting.ledger().totals().released);
  const std::string text = metrics.text();
  EXPECT_NE(text.find("coedge_jobs_finished_total{node=\"n\",outcome=\"dropped\",reason=\"protocol_violation\","
                      "task=\"hostile\"} 3"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace coedge::node
