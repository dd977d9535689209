// The job and result lines (node/core/job_line.h): the run id's shape, the UTC time text,
// every identity field of both lines, the frame's nulls, the job line keeping every field
// job_json always had, and times on the run's epoch.
#include "node/core/job_line.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "node/core/metrics.h"

namespace coedge::node {
namespace {

using nlohmann::json;

TimePoint zero_plus_ms(int64_t ms) { return TimePoint{} + std::chrono::milliseconds(ms); }

RunContext run() {
  RunContext r;
  r.run_id = "20261202T170138Z-00abcd";
  r.node = "edge \"1\"";
  r.epoch = zero_plus_ms(1000);
  r.tasks = {"det", "cls"};
  r.sensors = {"cam0", "cam1"};
  return r;
}

JobRecord met_job() {
  JobRecord job;
  job.id = 7;
  job.task = 0;
  job.release = zero_plus_ms(1500);
  job.deadline = zero_plus_ms(1700);
  job.pre_start = zero_plus_ms(1501);
  job.pre_end = zero_plus_ms(1502);
  job.infer_start = zero_plus_ms(1503);
  job.infer_end = zero_plus_ms(1520);
  job.post_start = zero_plus_ms(1521);
  job.post_end = zero_plus_ms(1522);
  job.end = zero_plus_ms(1522);
  job.batch = 1;
  job.outcome = JobOutcome::kMet;
  job.frame.sensor = 1;
  job.frame.sequence = 41;
  job.frame.file = "img_0041.jpg";
  job.frame.capture_unix_us = 1764694898123456;  // 2025-12-02T17:01:38.123Z
  return job;
}

TEST(RunId, TimeThenRandomHexAndDistinct) {
  const WallTime t = from_wall_ns(int64_t{1764694898} * 1000000000 + 999);
  EXPECT_EQ(make_run_id(t, 0x3fa9c1), "20251202T170138Z-3fa9c1");
  EXPECT_EQ(make_run_id(t, 0xff000001), "20251202T170138Z-000001") << "the low 24 bits";
  EXPECT_NE(make_run_id(t, 1), make_run_id(t, 2));
}

TEST(UtcText, MillisecondsAndZ) {
  EXPECT_EQ(utc_iso8601_ms(1764694898123456), "2025-12-02T17:01:38.123Z");
  EXPECT_EQ(utc_iso8601_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(utc_iso8601_ms(999), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(utc_iso8601_ms(1000), "1970-01-01T00:00:00.001Z");
}

TEST(ResultLine, CarriesIdentityFrameTimesOutcomeAndTheResultVerbatim) {
  const std::string line = result_line(run(), met_job(), R"( {"detections":[{"class":2,"name":"car"}]} )");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json j = json::parse(line);
  EXPECT_EQ(j["schema"], kLineSchema);
  EXPECT_EQ(j["run"], "20261202T170138Z-00abcd");
  EXPECT_EQ(j["node"], "edge \"1\"");
  EXPECT_EQ(j["task"], "det");
  EXPECT_EQ(j["job"], 7);
  EXPECT_EQ(j["frame"]["sensor"], "cam1");
  EXPECT_EQ(j["frame"]["sequence"], 41);
  EXPECT_EQ(j["frame"]["file"], "img_0041.jpg");
  EXPECT_TRUE(j["frame"]["index"].is_null());
  EXPECT_TRUE(j["frame"]["stamp_ns"].is_null());
  EXPECT_TRUE(j["frame"]["frame_id"].is_null());
  EXPECT_EQ(j["frame"]["capture_utc"], "2025-12-02T17:01:38.123Z");
  EXPECT_DOUBLE_EQ(j["release_s"].get<double>(), 0.5);  // since the run's epoch
  EXPECT_DOUBLE_EQ(j["deadline_s"].get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(j["end_s"].get<double>(), 0.522);
  EXPECT_EQ(j["outcome"], "met");
  EXPECT_EQ(j["reason"], "none");
  EXPECT_DOUBLE_EQ(j["latency_ms"].get<double>(), 22.0);
  EXPECT_EQ(j["result"]["detections"][0]["name"], "car");
  const std::string tail = R"(,"result": {"detections":[{"class":2,"name":"car"}]} })";
  EXPECT_EQ(line.substr(line.size() - tail.size()), tail) << "the worker's text, as it sent it";
}

TEST(ResultLine, ATopicFramesStampAndFrameId) {
  JobRecord job = met_job();
  job.frame = {};
  job.frame.stamp_ns = 1764694898123456789;
  job.frame.frame_id = "camera_optical";
  job.frame.capture_unix_us = 1764694898123456;
  job.frame.index = 12;
  const json j = json::parse(result_line(run(), job, "{}"));
  EXPECT_EQ(j["frame"]["sensor"], "cam0");
  EXPECT_EQ(j["frame"]["stamp_ns"], 1764694898123456789);
  EXPECT_EQ(j["frame"]["frame_id"], "camera_optical");
  EXPECT_EQ(j["frame"]["index"], 12);
  EXPECT_TRUE(j["frame"]["file"].is_null());
  job.frame.capture_unix_us = 0;  // unknown
  EXPECT_TRUE(json::parse(result_line(run(), job, "{}"))["frame"]["capture_utc"].is_null());
}

TEST(ResultLine, AFileNameThatIsNotUtf8GivesValidLines) {
  // A folder image named in Latin-1 ("café.jpg" as bytes 63 61 66 E9): the lines must be
  // valid JSON (the byte becomes U+FFFD), not an exception on the sensor's thread.
  JobRecord job = met_job();
  job.frame.file = "caf\xe9.jpg";
  json r, j;
  ASSERT_NO_THROW(r = json::parse(result_line(run(), job, "{}")));
  ASSERT_NO_THROW(j = json::parse(job_line(run(), job)));
  EXPECT_EQ(r["frame"]["file"], "caf\xef\xbf\xbd.jpg");
  EXPECT_EQ(j["frame"]["file"], "caf\xef\xbf\xbd.jpg");
  EXPECT_EQ(r["job"], 7);
}

TEST(ResultLine, AFrameIdThatIsNotUtf8OrTooLongGivesValidBoundedLines) {
  JobRecord job = met_job();
  job.frame = {};
  job.frame.stamp_ns = 1;
  job.frame.frame_id = "cam\xff\xfe";
  json r;
  ASSERT_NO_THROW(r = json::parse(result_line(run(), job, "{}")));
  EXPECT_EQ(r["frame"]["frame_id"], "cam\xef\xbf\xbd\xef\xbf\xbd");
  ASSERT_NO_THROW(json::parse(job_line(run(), job)));

  // A peer's 100 000-byte frame_id, cut where it enters (FrameIdentity) and still valid.
  job.frame.frame_id = bounded_frame_id(std::string(100000, '\xe9'));
  EXPECT_LE(job.frame.frame_id.size(), kMaxFrameIdBytes);
  EXPECT_GE(job.frame.frame_id.size(), kMaxFrameIdBytes - 3);
  ASSERT_NO_THROW(r = json::parse(result_line(run(), job, "{}")));
  EXPECT_LT(result_line(run(), job, "{}").size(), 2000u);
}

TEST(BoundedFrameId, KeepsShortIdsAndCutsLongOnesBetweenCharacters) {
  EXPECT_EQ(bounded_frame_id("camera_optical"), "camera_optical");
  EXPECT_EQ(bounded_frame_id(std::string(kMaxFrameIdBytes, 'a')), std::string(kMaxFrameIdBytes, 'a'));
  EXPECT_EQ(bounded_frame_id(std::string(kMaxFrameIdBytes + 1, 'a')), std::string(kMaxFrameIdBytes, 'a'));
  // "é" is 2 bytes (C3 A9): 255 'a' then é would be cut inside it at 256, so it goes whole.
  const std::string id = std::string(kMaxFrameIdBytes - 1, 'a') + "\xc3\xa9" + "bbb";
  EXPECT_EQ(bounded_frame_id(id), std::string(kMaxFrameIdBytes - 1, 'a'));
  EXPECT_NO_THROW(json(bounded_frame_id(id)).dump());  // valid UTF-8 left
}

TEST(JobLine, KeepsEveryJobJsonFieldAndAddsTheIdentity) {
  const JobRecord job = met_job();
  JobRecord shifted = job;  // job_json's own times are what the caller gives it
  for (TimePoint* t : {&shifted.release, &shifted.deadline, &shifted.pre_start, &shifted.pre_end, &shifted.infer_start,
                       &shifted.infer_end, &shifted.post_start, &shifted.post_end, &shifted.end}) {
    *t = TimePoint(*t - zero_plus_ms(1000));
  }
  const json old = json::parse(job_json(shifted, "edge \"1\"", "det"));
  const json j = json::parse(job_line(run(), job));
  for (const auto& item : old.items()) EXPECT_EQ(j[item.key()], item.value()) << item.key();
  EXPECT_EQ(j["schema"], kLineSchema);
  EXPECT_EQ(j["run"], "20261202T170138Z-00abcd");
  EXPECT_EQ(j["frame"]["file"], "img_0041.jpg");
  EXPECT_EQ(j.size(), old.size() + 3);

  JobRecord dropped = job;
  dropped.outcome = JobOutcome::kDropped;
  dropped.reason = DropCause::kBadFrame;
  dropped.infer_start = dropped.infer_end = dropped.post_start = dropped.post_end = TimePoint{};
  const json d = json::parse(job_line(run(), dropped));
  EXPECT_EQ(d["reason"], "bad_frame");
  EXPECT_TRUE(d["infer_start_s"].is_null());
}

}  // namespace
}  // namespace coedge::node
