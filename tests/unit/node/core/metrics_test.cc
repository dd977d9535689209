// NodeMetrics (series and values in the exposition text, parsed line by line; /metrics over
// HTTP on an ephemeral port), job_json (round trip through nlohmann::json) and JobLog.
#include "node/core/metrics.h"

#include "core/build_info.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace coedge::node {
namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// Parses the sample lines of Prometheus text exposition: name{k="v",...} value.
std::vector<Sample> parse(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = line.find_first_of("{ ");
    s.name = line.substr(0, i);
    if (i != std::string::npos && line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        const size_t eq = line.find('=', i);
        std::string key = line.substr(i, eq - i);
        size_t j = eq + 2;  // past ="
        std::string value;
        for (; line[j] != '"'; ++j) {
          if (line[j] == '\\') ++j;
          value += line[j];
        }
        s.labels[key] = value;
        i = j + 1;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    s.value = std::stod(line.substr(line.find_first_not_of(' ', i)));
    out.push_back(s);
  }
  return out;
}

// The value of the one sample with exactly this name and these labels (node="edge1" is
// added); NaN, with a test failure, if there is not exactly one.
double value(const std::vector<Sample>& samples, const std::string& name, Labels labels,
             double le = NAN) {
  labels["node"] = "edge1";
  int found = 0;
  double v = NAN;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    Labels l = s.labels;
    if (!std::isnan(le)) {  // compare bucket bounds as numbers, not as formatted text
      if (!l.count("le") || l["le"] == "+Inf" || std::abs(std::stod(l["le"]) - le) > 1e-12) continue;
      l.erase("le");
    }
    if (l != labels) continue;
    ++found;
    v = s.value;
  }
  EXPECT_EQ(found, 1) << name << " with " << labels.size() << " labels";
  return found == 1 ? v : NAN;
}

TimePoint at_ms(double ms) { return kEpoch + from_ms(ms); }

JobRecord full_job(uint64_t id, uint32_t task, double release_ms, double latency_ms) {
  JobRecord j;
  j.id = id;
  j.task = task;
  j.release = at_ms(release_ms);
  j.deadline = at_ms(release_ms + 100);
  j.pre_start = at_ms(release_ms + 1);
  j.pre_end = at_ms(release_ms + 3);      // pre 2 ms
  j.infer_start = at_ms(release_ms + 5);  // queue 2 ms
  j.infer_end = at_ms(release_ms + 10);   // inference 5 ms
  j.post_start = at_ms(release_ms + 10);
  j.post_end = at_ms(release_ms + 11);    // post 1 ms
  j.end = at_ms(release_ms + latency_ms);
  j.batch = 2;
  j.outcome = latency_ms <= 100 ? JobOutcome::kMet : JobOutcome::kOverdue;
  return j;
}

class MetricsTest : public ::testing::Test {
 protected:
  node::NodeMetrics metrics_{"edge1", {{"det", "yolo", 0.05}, {"cls", "yolo", 0.1}}, {"yolo"}};
};

TEST_F(MetricsTest, FreshMetricsExportEveryKnownSeriesAtZeroWithHelp) {
  const std::string text = "\n" + metrics_.text();
  const auto samples = parse(text);
  EXPECT_EQ(value(samples, "coedge_jobs_released_total", {{"task", "det"}}), 0);
  EXPECT_EQ(value(samples, "coedge_jobs_finished_total", {{"task", "cls"}, {"outcome", "met"}}), 0);
  EXPECT_EQ(value(samples, "coedge_jobs_finished_total",
                  {{"task", "cls"}, {"outcome", "dropped"}, {"reason", "overload"}}),
            0);
  // Info metrics: the build, each task with its model, and each task's ε.
  const BuildInfo build = build_info();
  EXPECT_EQ(value(samples, "coedge_build_info",
                  {{"version", std::string(build.version)}, {"revision", std::string(build.revision)}}),
            1);
  EXPECT_EQ(value(samples, "coedge_task_info", {{"task", "det"}, {"model", "yolo"}}), 1);
  EXPECT_EQ(value(samples, "coedge_task_miss_ratio_target", {{"task", "det"}}), 0.05);
  EXPECT_EQ(value(samples, "coedge_task_miss_ratio_target", {{"task", "cls"}}), 0.1);
  // One family counts every closed job: no separate dropped counter, no finished series
  // for "dropped" without its reason.
  EXPECT_EQ(text.find("coedge_jobs_dropped_total"), std::string::npos);
  for (const Sample& s : samples) {
    if (s.name != "coedge_jobs_finished_total") continue;
    EXPECT_EQ(s.labels.count("reason"), s.labels.at("outcome") == "dropped" ? 1u : 0u);
  }
  EXPECT_EQ(value(samples, "coedge_queue_jobs", {{"model", "yolo"}}), 0);
  EXPECT_EQ(value(samples, "coedge_server_restarts_total", {}), 0);
  EXPECT_EQ(value(samples, "coedge_worker_restarts_total", {{"task", "det"}, {"role", "post"}}), 0);
  for (const char* family :
       {"coedge_jobs_released_total", "coedge_jobs_finished_total", "coedge_build_info",
        "coedge_task_info", "coedge_task_miss_ratio_target", "coedge_job_latency_seconds",
        "coedge_job_stage_seconds", "coedge_batch_size_jobs", "coedge_inference_seconds",
        "coedge_queue_jobs", "coedge_task_miss_ratio", "coedge_worker_restarts_total",
        "coedge_server_restarts_total", "coedge_model_profile_ratio",
        "coedge_profile_warnings_total", "coedge_node_protocol_violations_total",
        "coedge_node_task_quarantined"}) {
    EXPECT_NE(text.find(std::string("\n# HELP ") + family + " "), std::string::npos) << family;
  }
  EXPECT_NE(text.find("# TYPE coedge_job_latency_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE coedge_queue_jobs gauge"), std::string::npos);
  // "none" is not a drop reason, so it is not exported until a drop without one happens.
  EXPECT_EQ(text.find("reason=\"none\""), std::string::npos);
}

TEST_F(MetricsTest, CountsOutcomesReasonsAndOnlyTheStagesReached) {
  for (int i = 0; i < 3; ++i) metrics_.on_released(0);
  metrics_.on_released(1);

  metrics_.on_finished(full_job(1, 0, 1000, 12));   // met, 12 ms
  metrics_.on_finished(full_job(2, 0, 2000, 150));  // overdue, 150 ms
  node::JobRecord pre_only;  // dropped by the scheduler after pre-processing
  pre_only.id = 3;
  pre_only.task = 0;
  pre_only.release = at_ms(3000);
  pre_only.pre_start = at_ms(3001);
  pre_only.pre_end = at_ms(3004);
  pre_only.end = at_ms(3005);
  pre_only.outcome = JobOutcome::kDropped;
  pre_only.reason = DropCause::kScheduler;
  metrics_.on_finished(pre_only);
  node::JobRecord nothing;  // a corrupt frame on the other task: no stage reached
  nothing.id = 4;
  nothing.task = 1;
  nothing.release = at_ms(4000);
  nothing.end = at_ms(4000.5);
  nothing.outcome = JobOutcome::kDropped;
  nothing.reason = DropCause::kBadFrame;
  metrics_.on_finished(nothing);

  const auto s = parse(metrics_.text());
  EXPECT_EQ(value(s, "coedge_jobs_released_total", {{"task", "det"}}), 3);
  EXPECT_EQ(value(s, "coedge_jobs_released_total", {{"task", "cls"}}), 1);
  EXPECT_EQ(value(s, "coedge_jobs_finished_total", {{"task", "det"}, {"outcome", "met"}}), 1);
  EXPECT_EQ(value(s, "coedge_jobs_finished_total", {{"task", "det"}, {"outcome", "overdue"}}), 1);
  EXPECT_EQ(value(s, "coedge_jobs_finished_total", {{"task", "cls"}, {"outcome", "met"}}), 0);
  auto dropped = [&](const char* task, const char* reason) {
    return value(s, "coedge_jobs_finished_total", {{"task", task}, {"outcome", "dropped"}, {"reason", reason}});
  };
  EXPECT_EQ(dropped("det", "scheduler"), 1);
  EXPECT_EQ(dropped("det", "bad_frame"), 0);
  EXPECT_EQ(dropped("cls", "bad_frame"), 1);
  // Summed over outcomes and reasons, each task's series count each closed job once.
  std::map<std::string, double> closed;
  for (const Sample& x : s) {
    if (x.name == "coedge_jobs_finished_total") closed[x.labels.at("task")] += x.value;
  }
  EXPECT_EQ(closed["det"], 3);
  EXPECT_EQ(closed["cls"], 1);

  // End-to-end latency: the met and the overdue job, not the dropped ones.
  const Labels det = {{"task", "det"}};
  EXPECT_EQ(value(s, "coedge_job_latency_seconds_count", det), 2);
  EXPECT_NEAR(value(s, "coedge_job_latency_seconds_sum", det), 0.162, 1e-9);
  EXPECT_EQ(value(s, "coedge_job_latency_seconds_bucket", det, 0.01), 0);
  EXPECT_EQ(value(s, "coedge_job_latency_seconds_bucket", det, 0.025), 1);
  EXPECT_EQ(value(s, "coedge_job_latency_seconds_bucket", det, 0.25), 2);
  EXPECT_EQ(value(s, "coedge_job_latency_seconds_count", {{"task", "cls"}}), 0);

  // Stages: pre for all three det jobs, the rest only for the two that ran.
  auto stage = [&](const char* task, const char* name, const char* suffix) {
    return value(s, std::string("coedge_job_stage_seconds_") + suffix,
                 {{"task", task}, {"stage", name}});
  };
  EXPECT_EQ(stage("det", "pre", "count"), 3);
  EXPECT_NEAR(stage("det", "pre", "sum"), 0.002 + 0.002 + 0.003, 1e-9);
  EXPECT_EQ(stage("det", "queue", "count"), 2);
  EXPECT_NEAR(stage("det", "queue", "sum"), 0.004, 1e-9);
  EXPECT_EQ(stage("det", "inference", "count"), 2);
  EXPECT_NEAR(stage("det", "inference", "sum"), 0.010, 1e-9);
  EXPECT_EQ(stage("det", "post", "count"), 2);
  EXPECT_NEAR(stage("det", "post", "sum"), 0.002, 1e-9);
  for (const char* name : {"pre", "queue", "inference", "post"}) {
    EXPECT_EQ(stage("cls", name, "count"), 0) << name;
  }
}

TEST_F(MetricsTest, BatchesQueuesMissRatesAndRestarts) {
  metrics_.on_batch(0, 3, std::chrono::milliseconds(8));
  metrics_.on_batch(0, 1, std::chrono::milliseconds(4));
  metrics_.set_queue_length(0, 5);
  metrics_.set_queue_length(0, 2);
  metrics_.set_window_miss_rate(0, 0.25);
  metrics_.on_worker_restart(0, "pre");
  metrics_.on_worker_restart(1, "post");
  metrics_.on_worker_restart(1, "post");
  metrics_.on_server_restart();

  const auto s = parse(metrics_.text());
  const Labels yolo = {{"model", "yolo"}};
  EXPECT_EQ(value(s, "coedge_batch_size_jobs_count", yolo), 2);
  EXPECT_EQ(value(s, "coedge_batch_size_jobs_sum", yolo), 4);
  EXPECT_EQ(value(s, "coedge_batch_size_jobs_bucket", yolo, 1), 1);
  EXPECT_EQ(value(s, "coedge_batch_size_jobs_bucket", yolo, 2), 1);
  EXPECT_EQ(value(s, "coedge_batch_size_jobs_bucket", yolo, 3), 2);
  EXPECT_EQ(value(s, "coedge_batch_size_jobs_bucket", yolo, 10), 2);
  EXPECT_EQ(value(s, "coedge_inference_seconds_count", yolo), 2);
  EXPECT_NEAR(value(s, "coedge_inference_seconds_sum", yolo), 0.012, 1e-9);
  EXPECT_EQ(value(s, "coedge_queue_jobs", yolo), 2);
  EXPECT_EQ(value(s, "coedge_task_miss_ratio", {{"task", "det"}}), 0.25);
  EXPECT_EQ(value(s, "coedge_task_miss_ratio", {{"task", "cls"}}), 0);
  EXPECT_EQ(value(s, "coedge_worker_restarts_total", {{"task", "det"}, {"role", "pre"}}), 1);
  EXPECT_EQ(value(s, "coedge_worker_restarts_total", {{"task", "det"}, {"role", "post"}}), 0);
  EXPECT_EQ(value(s, "coedge_worker_restarts_total", {{"task", "cls"}, {"role", "post"}}), 2);
  EXPECT_EQ(value(s, "coedge_server_restarts_total", {}), 1);
}

// Protocol violations: every task x role x kind at zero from the start (so that a rate or
// an alert sees the first one), counted by exactly their labels; quarantine a 0/1 gauge;
// and a job dropped as protocol_violation counted under that reason of the finished jobs.
TEST_F(MetricsTest, ProtocolViolationsQuarantineAndTheirDrops) {
  auto s = parse(metrics_.text());
  size_t series = 0;
  for (const Sample& x : s) series += x.name == "coedge_node_protocol_violations_total" ? 1 : 0;
  EXPECT_EQ(series, 2 * 2 * kViolationKindCount);  // tasks x roles x kinds
  EXPECT_EQ(value(s, "coedge_node_protocol_violations_total",
                  {{"task", "cls"}, {"role", "post"}, {"kind", "corrupt_ring"}}),
            0);
  EXPECT_EQ(value(s, "coedge_node_task_quarantined", {{"task", "det"}}), 0);
  EXPECT_EQ(value(s, "coedge_jobs_finished_total",
                  {{"task", "det"}, {"outcome", "dropped"}, {"reason", "protocol_violation"}}),
            0);

  metrics_.on_protocol_violation(0, WorkerRole::kPre, ViolationKind::kForeignTask);
  metrics_.on_protocol_violation(0, WorkerRole::kPre, ViolationKind::kForeignTask);
  metrics_.on_protocol_violation(0, WorkerRole::kPost, ViolationKind::kBadResult);
  metrics_.on_protocol_violation(1, WorkerRole::kPre, ViolationKind::kFlood);
  metrics_.set_quarantined(1, true);
  JobRecord dropped;
  dropped.id = 9;
  dropped.task = 1;
  dropped.release = at_ms(100);
  dropped.end = at_ms(100);
  dropped.outcome = JobOutcome::kDropped;
  dropped.reason = DropCause::kProtocolViolation;
  metrics_.on_finished(dropped);

  s = parse(metrics_.text());
  auto violations = [&](const char* task, const char* role, const char* kind) {
    return value(s, "coedge_node_protocol_violations_total", {{"task", task}, {"role", role}, {"kind", kind}});
  };
  EXPECT_EQ(violations("det", "pre", "foreign_task"), 2);
  EXPECT_EQ(violations("det", "post", "foreign_task"), 0);
  EXPECT_EQ(violations("det", "post", "bad_result"), 1);
  EXPECT_EQ(violations("cls", "pre", "flood"), 1);
  EXPECT_EQ(violations("cls", "pre", "foreign_task"), 0);
  double total = 0;
  for (const Sample& x : s) total += x.name == "coedge_node_protocol_violations_total" ? x.value : 0;
  EXPECT_EQ(total, 4);
  EXPECT_EQ(value(s, "coedge_node_task_quarantined", {{"task", "cls"}}), 1);
  EXPECT_EQ(value(s, "coedge_node_task_quarantined", {{"task", "det"}}), 0);
  EXPECT_EQ(value(s, "coedge_jobs_finished_total",
                  {{"task", "cls"}, {"outcome", "dropped"}, {"reason", "protocol_violation"}}),
            1);
  metrics_.set_quarantined(1, false);  // a new plan activated it again
  EXPECT_EQ(value(parse(metrics_.text()), "coedge_node_task_quarantined", {{"task", "cls"}}), 0);
}

// Sensors: every sensor has frames and ticks without a frame; a stream also has stalls,
// reconnections and its connection state. Deltas add up; a replayed source has no stream
// series (and a node without streams no stream families at all).
TEST(MetricsSensorTest, SensorCountersAddDeltasAndOnlyStreamsHaveStreamSeries) {
  NodeMetrics metrics("edge1", {{"det", "yolo", 0.05}}, {"yolo"}, {{"gate", true}, {"files", false}});
  auto s = parse(metrics.text());
  const Labels gate = {{"sensor", "gate"}}, files = {{"sensor", "files"}};
  EXPECT_EQ(value(s, "coedge_sensor_frames_total", gate), 0) << "exported at zero from the start";
  EXPECT_EQ(value(s, "coedge_sensor_stalls_total", gate), 0);
  EXPECT_EQ(value(s, "coedge_sensor_connected", gate), 0);

  metrics.on_sensor(0, {.frames = 5, .ticks_without_frame = 2, .stalls = 0, .reconnects = 0, .connected = true});
  metrics.on_sensor(0, {.frames = 0, .ticks_without_frame = 7, .stalls = 1, .reconnects = 0, .connected = false});
  metrics.on_sensor(0, {.frames = 3, .ticks_without_frame = 0, .stalls = 0, .reconnects = 1, .connected = true});
  metrics.on_sensor(1, {.frames = 4, .ticks_without_frame = 0, .stalls = 9, .reconnects = 9, .connected = true});
  s = parse(metrics.text());
  EXPECT_EQ(value(s, "coedge_sensor_frames_total", gate), 8);
  EXPECT_EQ(value(s, "coedge_sensor_ticks_without_frame_total", gate), 9);
  EXPECT_EQ(value(s, "coedge_sensor_stalls_total", gate), 1);
  EXPECT_EQ(value(s, "coedge_sensor_reconnects_total", gate), 1);
  EXPECT_EQ(value(s, "coedge_sensor_connected", gate), 1);
  EXPECT_EQ(value(s, "coedge_sensor_frames_total", files), 4);
  EXPECT_EQ(value(s, "coedge_sensor_ticks_without_frame_total", files), 0);
  for (const Sample& sample : s) {
    if (sample.labels.count("sensor") && sample.labels.at("sensor") == "files") {
      EXPECT_TRUE(sample.name == "coedge_sensor_frames_total" || sample.name == "coedge_sensor_ticks_without_frame_total")
          << sample.name << ": a stream series for a replayed source";
    }
  }

  NodeMetrics no_streams("edge1", {{"det", "yolo", 0.05}}, {"yolo"}, {{"files", false}});
  const std::string text = no_streams.text();
  EXPECT_EQ(text.find("coedge_sensor_stalls_total"), std::string::npos) << text;
  EXPECT_EQ(text.find("coedge_sensor_connected"), std::string::npos) << text;
  EXPECT_NE(text.find("coedge_sensor_frames_total"), std::string::npos) << text;
}

TEST(MetricsSamplesTest, RefusedControlSamplesByTopicAndReason) {
  NodeMetrics metrics("edge1", {{"det", "yolo", 0.05}}, {"yolo"});
  // Not a cluster node's until its feed declares the topics it reads: no series yet.
  EXPECT_EQ(metrics.text().find("coedge_node_rejected_samples_total"), std::string::npos);
  const SampleTopic topics[] = {SampleTopic::kPlan, SampleTopic::kCommand};
  metrics.declare_rejected_samples(topics);
  auto s = parse(metrics.text());
  EXPECT_EQ(value(s, "coedge_node_rejected_samples_total", {{"topic", "plan"}, {"reason", "unknown_task"}}), 0);
  EXPECT_EQ(value(s, "coedge_node_rejected_samples_total", {{"topic", "command"}, {"reason", "unknown_command"}}), 0);
  metrics.on_sample_rejected(SampleTopic::kPlan, SampleRejection::kUnknownTask);
  metrics.on_sample_rejected(SampleTopic::kPlan, SampleRejection::kUnknownTask);
  metrics.on_sample_rejected(SampleTopic::kImage, SampleRejection::kOversized, 5);
  s = parse(metrics.text());
  EXPECT_EQ(value(s, "coedge_node_rejected_samples_total", {{"topic", "plan"}, {"reason", "unknown_task"}}), 2);
  EXPECT_EQ(value(s, "coedge_node_rejected_samples_total", {{"topic", "image"}, {"reason", "oversized"}}), 5);
}

TEST(MetricsSensorTest, TopicSensorsCountRejectionsByReasonAndSampledTasksTheirSkips) {
  NodeMetrics metrics("edge1", {{"det", "yolo", 0.05, true}, {"cls", "yolo", 0.05, false}}, {"yolo"},
                      {{"files", false}, {"front", false, true}});
  auto s = parse(metrics.text());
  const Labels front = {{"sensor", "front"}};
  for (const char* reason : {"encoding", "size", "too_large", "corrupt"}) {
    EXPECT_EQ(value(s, "coedge_sensor_frames_rejected_total", {{"sensor", "front"}, {"reason", reason}}), 0)
        << reason << ": exported at zero from the start";
  }
  EXPECT_EQ(value(s, "coedge_task_frames_skipped_total", {{"task", "det"}}), 0);
  metrics.on_sensor(1, {.frames = 3});
  metrics.on_frame_rejected(1, "encoding");
  metrics.on_frame_rejected(1, "encoding");
  metrics.on_frame_rejected(1, "too_large");
  metrics.on_frame_skipped(0);
  s = parse(metrics.text());
  EXPECT_EQ(value(s, "coedge_sensor_frames_total", front), 3);
  EXPECT_EQ(value(s, "coedge_sensor_frames_rejected_total", {{"sensor", "front"}, {"reason", "encoding"}}), 2);
  EXPECT_EQ(value(s, "coedge_sensor_frames_rejected_total", {{"sensor", "front"}, {"reason", "too_large"}}), 1);
  EXPECT_EQ(value(s, "coedge_task_frames_skipped_total", {{"task", "det"}}), 1);
  for (const Sample& sample : s) {
    const bool front_sample = sample.labels.count("sensor") && sample.labels.at("sensor") == "front";
    EXPECT_FALSE(front_sample && sample.name == "coedge_sensor_ticks_without_frame_total") << "a topic has no ticks";
    EXPECT_FALSE(sample.labels.count("sensor") && sample.labels.at("sensor") == "files" &&
                 sample.name == "coedge_sensor_frames_rejected_total");
    EXPECT_FALSE(sample.labels.count("task") && sample.labels.at("task") == "cls" &&
                 sample.name == "coedge_task_frames_skipped_total")
        << "only a task on a topic has skips";
  }
  // Without topic sensors or sampled tasks, neither family is exported.
  NodeMetrics plain("edge1", {{"det", "yolo", 0.05}}, {"yolo"}, {{"files", false}});
  const std::string text = plain.text();
  EXPECT_EQ(text.find("coedge_sensor_frames_rejected_total"), std::string::npos) << text;
  EXPECT_EQ(text.find("coedge_task_frames_skipped_total"), std::string::npos) << text;
}

TEST_F(MetricsTest, ProfileRatioWarningsAndTheBatchObserver) {
  std::vector<std::pair<uint32_t, int>> seen;
  metrics_.set_batch_observer([&](uint32_t m, int b, Duration d) {
    EXPECT_EQ(d, std::chrono::milliseconds(8));
    seen.emplace_back(m, b);
  });
  metrics_.on_batch(0, 3, std::chrono::milliseconds(8));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_pair(0u, 3));
  auto s = parse(metrics_.text());
  const Labels yolo = {{"model", "yolo"}};
  EXPECT_EQ(value(s, "coedge_model_profile_ratio", yolo), 0);
  EXPECT_EQ(value(s, "coedge_profile_warnings_total", yolo), 0);
  metrics_.set_profile_ratio(0, 2.5);
  metrics_.on_profile_warning(0);
  s = parse(metrics_.text());
  EXPECT_EQ(value(s, "coedge_model_profile_ratio", yolo), 2.5);
  EXPECT_EQ(value(s, "coedge_profile_warnings_total", yolo), 1);
  const std::string text = metrics_.text();
  EXPECT_NE(text.find("# TYPE coedge_model_profile_ratio gauge"), std::string::npos);
  EXPECT_NE(text.find("# TYPE coedge_profile_warnings_total counter"), std::string::npos);
}

TEST_F(MetricsTest, ConcurrentEventsAreAllCounted) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < 1000; ++i) {
        metrics_.on_released(1);
        metrics_.on_finished(full_job(i, 1, 10, 20));
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto s = parse(metrics_.text());
  EXPECT_EQ(value(s, "coedge_jobs_released_total", {{"task", "cls"}}), 4000);
  EXPECT_EQ(value(s, "coedge_job_stage_seconds_count", {{"task", "cls"}, {"stage", "post"}}), 4000);
}

TEST(MetricsDeathTest, UnknownTaskOrOpenJobIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  node::NodeMetrics m("edge1", {{"det", "yolo", 0.1}}, {});
  EXPECT_DEATH(m.on_released(1), "index < task_series_.size");
  EXPECT_DEATH(m.on_finished(node::JobRecord{}), "kOpen");
}

// GET /metrics from 127.0.0.1:port with a plain socket; the whole response.
std::string http_get(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, n);
  ::close(fd);
  return response;
}

TEST(MetricsServeTest, ServesOnAnEphemeralPortAndReportsAPortInUse) {
  node::NodeMetrics metrics("edge1", {{"det", "yolo", 0.1}}, {"yolo"});
  EXPECT_EQ(metrics.port(), 0);
  const Status served = metrics.serve("127.0.0.1:0");
  ASSERT_TRUE(served.ok()) << served.error().message;
  const int port = metrics.port();
  ASSERT_GT(port, 0);

  metrics.on_released(0);
  const std::string response = http_get(port);
  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  EXPECT_NE(response.find("coedge_jobs_released_total{node=\"edge1\",task=\"det\"} 1"),
            std::string::npos)
      << response;

  const std::string address = "127.0.0.1:" + std::to_string(port);
  node::NodeMetrics other("edge2", {}, {});
  const Status clash = other.serve(address);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.error().message.find(address), std::string::npos) << clash.error().message;
  EXPECT_NE(clash.error().message.find("in use"), std::string::npos) << clash.error().message;
  EXPECT_EQ(other.port(), 0);

  const Status again = metrics.serve("127.0.0.1:0");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already serving"), std::string::npos);
}

TEST(MetricsFileTest, WritesTheExpositionAtomicallyAndReplacesTheLastOne) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("coedge-metrics-file-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "metrics.prom").string();
  node::NodeMetrics metrics("edge1", {{"det", "yolo", 0.1}}, {"yolo"});
  auto read = [&] {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_TRUE(metrics.write_file(path).ok());
  EXPECT_EQ(read(), metrics.text());
  metrics.on_released(0);
  const Status again = metrics.write_file(path);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(read(), metrics.text());
  EXPECT_NE(read().find("coedge_jobs_released_total{node=\"edge1\",task=\"det\"} 1"), std::string::npos);
  // Only the file itself is left: the temporary one was renamed over it.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);
  // A folder that does not exist: an error naming the file, nothing written.
  const Status missing = metrics.write_file((dir / "no" / "metrics.prom").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find((dir / "no" / "metrics.prom").string()), std::string::npos)
      << missing.error().message;
  std::filesystem::remove_all(dir);
}

TEST(JobJsonTest, RoundTripsWithNullForStagesNotReached) {
  node::JobRecord job = full_job(42, 0, 1500.25, 12);
  const std::string line = node::job_json(job, "edge1", "det \"main\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("\"release_s\":1.500250,"), std::string::npos) << line;  // 6 decimals

  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["node"], "edge1");
  EXPECT_EQ(j["task"], "det \"main\"");
  EXPECT_EQ(j["job"], 42);
  EXPECT_EQ(j["outcome"], "met");
  EXPECT_EQ(j["reason"], "none");
  EXPECT_DOUBLE_EQ(j["release_s"].get<double>(), 1.50025);
  EXPECT_DOUBLE_EQ(j["deadline_s"].get<double>(), 1.60025);
  EXPECT_DOUBLE_EQ(j["pre_start_s"].get<double>(), 1.50125);
  EXPECT_DOUBLE_EQ(j["pre_end_s"].get<double>(), 1.50325);
  EXPECT_DOUBLE_EQ(j["infer_start_s"].get<double>(), 1.50525);
  EXPECT_DOUBLE_EQ(j["infer_end_s"].get<double>(), 1.51025);
  EXPECT_DOUBLE_EQ(j["post_start_s"].get<double>(), 1.51025);
  EXPECT_DOUBLE_EQ(j["post_end_s"].get<double>(), 1.51125);
  EXPECT_DOUBLE_EQ(j["end_s"].get<double>(), 1.51225);
  EXPECT_EQ(j["batch"], 2);
  EXPECT_DOUBLE_EQ(j["latency_ms"].get<double>(), 12.0);

  node::JobRecord dropped;
  dropped.id = 7;
  dropped.release = at_ms(2000);
  dropped.deadline = at_ms(2100);
  dropped.pre_start = at_ms(2001);
  dropped.pre_end = at_ms(2002);
  dropped.end = at_ms(2003);
  dropped.outcome = JobOutcome::kDropped;
  dropped.reason = DropCause::kWorkerCrash;
  const auto d = nlohmann::json::parse(node::job_json(dropped, "edge1", "det"));
  EXPECT_EQ(d["outcome"], "dropped");
  EXPECT_EQ(d["reason"], "worker_crash");
  EXPECT_DOUBLE_EQ(d["pre_end_s"].get<double>(), 2.002);
  for (const char* key : {"infer_start_s", "infer_end_s", "post_start_s", "post_end_s"}) {
    EXPECT_TRUE(d[key].is_null()) << key;
  }
  EXPECT_EQ(d["batch"], 0);
  EXPECT_DOUBLE_EQ(d["latency_ms"].get<double>(), 3.0);

  node::JobRecord open;  // never ended: no end, no latency
  open.release = at_ms(1);
  const auto o = nlohmann::json::parse(node::job_json(open, "n", "t"));
  EXPECT_TRUE(o["end_s"].is_null());
  EXPECT_TRUE(o["latency_ms"].is_null());
  EXPECT_TRUE(o["pre_start_s"].is_null());
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("coedge-metrics-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(JobLogTest, CreatesDirectoriesAndWritesOneParsableLinePerJob) {
  const auto dir = temp_dir("log");
  const std::string path = (dir / "a" / "b" / "jobs.jsonl").string();
  auto log = node::JobLog::open(path);
  ASSERT_TRUE(log.ok()) << log.error().message;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) (*log)->write(full_job(t * 100 + i, 0, 10, 20), "edge1", "det");
    });
  }
  for (auto& t : threads) t.join();
  (*log)->flush();

  std::ifstream in(path);
  std::string line;
  int lines = 0;
  std::set<uint64_t> ids;
  while (std::getline(in, line)) {
    ++lines;
    const auto j = nlohmann::json::parse(line);  // throws (fails the test) on a torn line
    ids.insert(j["job"].get<uint64_t>());
  }
  EXPECT_EQ(lines, 100);
  EXPECT_EQ(ids.size(), 100u);
  log->reset();

  // Reopening appends: an earlier run's lines stay (every line names its run).
  auto again = node::JobLog::open(path);
  ASSERT_TRUE(again.ok());
  (*again)->write(full_job(1, 0, 10, 20), "edge1", "det");
  again->reset();
  std::ifstream in2(path);
  lines = 0;
  while (std::getline(in2, line)) ++lines;
  EXPECT_EQ(lines, 101);
  std::filesystem::remove_all(dir);
}

TEST(JobLogTest, EachLineIsOnDiskBeforeTheLogIsFlushedOrClosed) {
  // A crash loses no finished job: each line is in the file as soon as write() returns,
  // with no flush and the log still open (a stdio buffer would hold them back).
  const auto dir = temp_dir("ondisk");
  const std::string path = (dir / "jobs.jsonl").string();
  auto log = node::JobLog::open(path);
  ASSERT_TRUE(log.ok()) << log.error().message;
  for (int i = 1; i <= 3; ++i) {
    (*log)->write(full_job(i, 0, 10, 20), "edge1", "det");
    std::ifstream in(path);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      ++lines;
      EXPECT_EQ(nlohmann::json::parse(line)["job"].get<int>(), lines);
    }
    EXPECT_EQ(lines, i) << "line " << i << " not on disk before flush/close";
  }
  EXPECT_EQ((*log)->failed_writes(), 0u);
  log->reset();
  std::filesystem::remove_all(dir);
}

TEST(JobLogTest, ErrorNamesThePathAndTheReason) {
  const auto dir = temp_dir("logerr");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "file") << "x";
  const std::string path = (dir / "file" / "jobs.jsonl").string();  // parent is a file
  auto log = node::JobLog::open(path);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find(path), std::string::npos) << log.error().message;
  EXPECT_NE(log.error().message.find("directory"), std::string::npos) << log.error().message;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace coedge::node
