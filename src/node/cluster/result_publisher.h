// A node's results on the ROS 2 bus: every task's results, as its post worker wrote them
// (the stock worker's JSON, docs/schema/stock-result.schema.json), published as ROS 2
// vision_msgs with the header of the frame they are for (the camera's stamp and frame_id,
// from the job's identity in the agent's ledger, never from the worker):
//   - a detection task's on /coedge/<task>/detections as vision_msgs/Detection2DArray
//     (one Detection2D per box: center and size in frame pixels, one hypothesis with the
//     class's name, or its number as text, and the score);
//   - a classification task's on /coedge/<task>/classification as
//     vision_msgs/Classification (its top classes, with their probabilities as scores).
// A job's results are published when its result line is written (ResultLog, when the job
// closes), whatever its outcome: an overdue job's detections still describe its frame.
// A result that is not in the stock format (a custom worker's own JSON) is not published,
// and is counted: custom workers do not publish through this (docs/WORKER_SDK.md).
//
// Writers are created for every task at start (so that subscribers match before the first
// result); QoS is ROS 2's default (net::Detection2DArrayWriter). Thread-safety: on_result
// may be called from any threads (ResultLog calls it under a task's lock); counts() too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/dds.h"
#include "node/core/result_log.h"

namespace coedge::node {

// The ROS topic of a task's results: "/coedge/<task>/detections" for kind "detection",
// "/coedge/<task>/classification" for "classification", "" for any other kind (no ROS
// message: such a task's results are not published).
std::string result_topic(const std::string& task, const std::string& kind);

// What a stock result becomes (exactly one of the two is set), or why it cannot be:
// kInvalidInput naming what is not in the stock format. The stock format is exactly
// docs/schema/stock-result.schema.json (its keys, types, ranges and list lengths, nothing
// else); `{"truncated":true}` alone is not. Never throws. Pure: for tests and the publisher.
struct RosResult {
  std::unique_ptr<net::Detection2DArray> detections;
  std::unique_ptr<net::Classification> classification;
};
Result<RosResult> stock_result_to_ros(std::string_view json, int64_t stamp_ns, const std::string& frame_id);

class RosResultPublisher final : public ResultSink {
 public:
  // `tasks`: the node's task names by index; `kinds`: per task "detection" or
  // "classification" (PipelineContext::task_kinds); a task of any other kind gets no
  // writer, and its results count as not_stock. Errors: a writer DDS refuses (naming the
  // task and topic). REQUIRES: `domain` outlives this; tasks.size() == kinds.size().
  static Result<std::unique_ptr<RosResultPublisher>> create(net::DdsDomain& domain,
                                                            const std::vector<std::string>& tasks,
                                                            const std::vector<std::string>& kinds);
  ~RosResultPublisher() override;
  void on_result(const JobRecord& record, std::string_view result) override;

  struct Counts {
    uint64_t published = 0;   // messages written
    uint64_t not_stock = 0;   // results not in the stock format of the task's kind, or
                              // of a task of another kind (not published; the first logged)
    uint64_t failed = 0;      // DDS refused the write (logged)
  };
  Counts counts(uint32_t task) const;

  struct Impl;

 private:
  explicit RosResultPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coedge::node
