// Helpers shared by the DDS adapter's .cc files (never included outside src/net): Cyclone
// error conversion, RAII for QoS objects, topic creation, time conversion and a loaned
// take-everything loop. Everything here is stateless or owns only its own object, so it is
// safe to use from any thread.
#pragma once

#include <dds/dds.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/time.h"

namespace coedge::net::internal {

// Error{kIo, "<what> failed: <Cyclone's name for rc>"}.
inline Error io_error(const std::string& what, dds_return_t rc) {
  return Error{ErrorCode::kIo, what + " failed: " + dds_strretcode(rc)};
}

// Deletes a Cyclone entity, ignoring "already deleted" (the participant deletes its
// children when a DdsDomain goes first).
inline void delete_entity(dds_entity_t e) {
  if (e > 0) (void)dds_delete(e);
}

// Owns a dds_qos_t.
class Qos {
 public:
  Qos() : q_(dds_create_qos()) {}
  ~Qos() { dds_delete_qos(q_); }
  Qos(const Qos&) = delete;
  Qos& operator=(const Qos&) = delete;
  dds_qos_t* get() const { return q_; }

 private:
  dds_qos_t* q_;
};

inline dds_duration_t to_dds_duration(Duration d) {
  if (d == kNever || d.count() >= INT64_MAX / 1000) return DDS_INFINITY;
  if (d.count() <= 0) return 0;
  return static_cast<dds_duration_t>(d.count()) * 1000;
}

inline int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A topic of `desc` named `name` on `participant`.
inline Result<dds_entity_t> create_topic(dds_entity_t participant,
                                         const dds_topic_descriptor_t* desc,
                                         const std::string& name) {
  dds_entity_t t = dds_create_topic(participant, desc, name.c_str(), nullptr, nullptr);
  if (t < 0) return io_error("creating DDS topic '" + name + "'", t);
  return t;
}

// Takes every sample `reader` holds (loaned, in batches) and calls
// fn(const Sample&, const dds_sample_info_t&) for each, valid or not.
template <typename Sample, typename Fn>
Status take_all(dds_entity_t reader, Fn&& fn) {
  constexpr size_t kBatch = 16;
  for (;;) {
    void* samples[kBatch] = {};
    dds_sample_info_t infos[kBatch];
    dds_return_t n = dds_take(reader, samples, infos, kBatch, kBatch);
    if (n < 0) return io_error("taking DDS samples", n);
    for (dds_return_t i = 0; i < n; ++i) fn(*static_cast<const Sample*>(samples[i]), infos[i]);
    if (n > 0) (void)dds_return_loan(reader, samples, n);
    if (static_cast<size_t>(n) < kBatch) return Ok{};
  }
}

// A C string for a DDS string member (never null).
inline const char* str_or_empty(const char* s) { return s ? s : ""; }

}  // namespace coedge::net::internal
