// The node's two JSON-lines formats, in one place so that they cannot drift apart: the
// job line (the per-job file, `metrics: {jobs: FILE}`) and the result line
// (RUN_DIR/results/<task>.jsonl). Both are documented by JSON Schemas in docs/schema/
// (job-line.schema.json, result-line.schema.json), version kLineSchema, and carry the same
// identity: the schema version, the run id, the node, the task, the job id and the frame.
// Every value comes from the agent's own records (its ledger); the only text of a worker's
// is a result line's "result" object, which ResultLog checked to be one JSON object.
//
// Times: release_s, deadline_s, the stage times and end_s are seconds since the run's epoch
// (the agent's start), 6 decimals; frame.capture_utc is the wall clock in ISO 8601 UTC with
// milliseconds ("2026-12-02T17:01:38.123Z"). Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "node/core/job_record.h"

namespace coedge::node {

// The version in every line's "schema" field. Fields may be added within a version; a
// field renamed, removed or changed in meaning takes a new version (docs/WORKER_SDK.md).
inline constexpr int kLineSchema = 1;

// A frame_id longer than this (a DDS peer's image header; ROS sets no limit) is cut to it
// where it enters the node (FrameIdentity), so a peer cannot make every line huge.
inline constexpr size_t kMaxFrameIdBytes = 256;
// `raw` cut to at most kMaxFrameIdBytes, not inside a UTF-8 character. Bytes that are not
// UTF-8 are kept here; the lines write them as U+FFFD (as any text from outside).
std::string bounded_frame_id(std::string_view raw);

// What every line of one run shares.
struct RunContext {
  std::string run_id;                // make_run_id
  std::string node;                  // the node's name
  TimePoint epoch{};                 // the agent's start: line times are seconds since it
  std::vector<std::string> tasks;    // task names, by index
  std::vector<std::string> sensors;  // sensor names, by index
};

// "20261202T170138Z-3fa9c1": the start's UTC time to the second, then the low 24 bits of
// `random` in hex, so two runs started within one second still differ. Sorts by start time.
std::string make_run_id(WallTime start, uint32_t random);

// ISO 8601 UTC with milliseconds, e.g. "2026-12-02T17:01:38.123Z".
std::string utc_iso8601_ms(int64_t unix_us);

// {"sensor":"cam","sequence":3,"file":"a.jpg","index":null,"stamp_ns":null,"frame_id":null,
//  "capture_utc":"..."}: every key always present, null where the source has no such value.
std::string frame_json(const RunContext& run, const FrameIdentity& frame);

// One closed job, without newline: {"schema":1,"run":..,} then job_json's fields (metrics.h),
// times shifted to the run's epoch, then "frame":{...}.
std::string job_line(const RunContext& run, const JobRecord& job);

// One result, without newline: {"schema":1,"run":..,"node":..,"task":..,"job":N,"frame":{..},
// "release_s":..,"deadline_s":..,"end_s":..,"outcome":..,"reason":..,"latency_ms":..,
// "result":<result>}. `result` is inserted as it is: REQUIRES it is one JSON object.
std::string result_line(const RunContext& run, const JobRecord& job, std::string_view result);

}  // namespace coedge::node
