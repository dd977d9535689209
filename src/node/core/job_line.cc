// The node's job and result lines (node/core/job_line.h).
#include "node/core/job_line.h"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/job_outcome.h"
#include "node/core/metrics.h"

namespace coedge::node {
namespace {

// A JSON string. Text from outside (a folder's file names, a DDS peer's frame_id) need not
// be UTF-8, and dump() throws on invalid UTF-8 by default, which would end the agent on a
// sensor thread: invalid bytes become U+FFFD instead, so every line stays valid JSON.
std::string json_text(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string name_at(const std::vector<std::string>& names, uint32_t i) {
  return i < names.size() ? names[i] : std::to_string(i);
}

// Seconds since the run's epoch, 6 decimals (exact: integer microseconds), or null.
void append_time(std::string& out, std::string_view key, const RunContext& run, TimePoint t) {
  out += ",\"";
  out += key;
  out += "\":";
  if (!JobRecord::reached(t)) {
    out += "null";
    return;
  }
  const int64_t us = (t - run.epoch).count();
  const uint64_t mag = us < 0 ? static_cast<uint64_t>(-(us + 1)) + 1 : static_cast<uint64_t>(us);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%06llu", us < 0 ? "-" : "",
                static_cast<unsigned long long>(mag / 1000000), static_cast<unsigned long long>(mag % 1000000));
  out += buf;
}

void append_identity(std::string& out, const RunContext& run) {
  out += "{\"schema\":";
  out += std::to_string(kLineSchema);
  out += ",\"run\":";
  out += json_text(run.run_id);
}

}  // namespace

std::string bounded_frame_id(std::string_view raw) {
  if (raw.size() <= kMaxFrameIdBytes) return std::string(raw);
  size_t n = kMaxFrameIdBytes;
  // Back off over UTF-8 continuation bytes (10xxxxxx) so a character is not cut in half;
  // at most 3 (a character is at most 4 bytes), so arbitrary bytes cannot empty it.
  for (int i = 0; i < 3 && n > 0 && (static_cast<unsigned char>(raw[n]) & 0xC0) == 0x80; ++i) --n;
  return std::string(raw.substr(0, n));
}

std::string make_run_id(WallTime start, uint32_t random) {
  const int64_t s = wall_ns(start) / 1000000000;
  const std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ-%06x", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, random & 0xffffffu);
  return buf;
}

std::string utc_iso8601_ms(int64_t unix_us) {
  const int64_t ms = unix_us >= 0 ? unix_us / 1000 : -((-unix_us + 999) / 1000);
  int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const int64_t frac = ms - s * 1000;
  const std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(frac));
  return buf;
}

std::string frame_json(const RunContext& run, const FrameIdentity& frame) {
  std::string out = "{\"sensor\":";
  out += json_text(name_at(run.sensors, frame.sensor));
  out += ",\"sequence\":" + std::to_string(frame.sequence);
  out += ",\"file\":";
  out += frame.file.empty() ? std::string("null") : json_text(frame.file);
  out += ",\"index\":";
  out += frame.index >= 0 ? std::to_string(frame.index) : "null";
  out += ",\"stamp_ns\":";
  out += frame.stamp_ns >= 0 ? std::to_string(frame.stamp_ns) : "null";
  out += ",\"frame_id\":";
  out += frame.frame_id.empty() ? std::string("null") : json_text(frame.frame_id);
  out += ",\"capture_utc\":";
  out += frame.capture_unix_us > 0 ? "\"" + utc_iso8601_ms(frame.capture_unix_us) + "\"" : "null";
  out += "}";
  return out;
}

std::string job_line(const RunContext& run, const JobRecord& job) {
  // job_json's fields with its times on the run's epoch: the per-job file's historical
  // fields stay as they were (readers such as `coedge explain` use them).
  JobRecord shifted = job;
  for (TimePoint* t : {&shifted.release, &shifted.deadline, &shifted.pre_start, &shifted.pre_end,
                       &shifted.infer_start, &shifted.infer_end, &shifted.post_start, &shifted.post_end,
                       &shifted.end}) {
    if (JobRecord::reached(*t)) *t = TimePoint(*t - run.epoch);
  }
  const std::string fields = job_json(shifted, run.node, name_at(run.tasks, job.task));
  std::string out;
  out.reserve(fields.size() + 256);
  append_identity(out, run);
  out += ",";
  out.append(fields, 1, fields.size() - 2);  // without its braces
  out += ",\"frame\":";
  out += frame_json(run, job.frame);
  out += "}";
  return out;
}

std::string result_line(const RunContext& run, const JobRecord& job, std::string_view result) {
  std::string out;
  out.reserve(result.size() + 512);
  append_identity(out, run);
  out += ",\"node\":";
  out += json_text(run.node);
  out += ",\"task\":";
  out += json_text(name_at(run.tasks, job.task));
  out += ",\"job\":" + std::to_string(job.id);
  out += ",\"frame\":";
  out += frame_json(run, job.frame);
  append_time(out, "release_s", run, job.release);
  append_time(out, "deadline_s", run, job.deadline);
  append_time(out, "end_s", run, job.end);
  out += ",\"outcome\":\"";
  out += to_string(job.outcome);
  out += "\",\"reason\":\"";
  out += to_string(job.reason);
  out += "\",\"latency_ms\":";
  if (JobRecord::reached(job.end)) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3f", to_ms(job.end - job.release));
    out += buf;
  } else {
    out += "null";
  }
  out += ",\"result\":";
  out += result;
  out += "}";
  return out;
}

}  // namespace coedge::node
