// Helpers shared by the DDS adapter's .cc files (never included outside src/net): Cyclone
// error conversion, RAII for QoS objects, ROS topic names and their topics, ROS stamps, the
// data representations, borrowed sample fields, time conversion and a loaned
// take-everything loop. Everything here is stateless or owns only its own object, so it is
// safe to use from any thread.
#pragma once

#include <dds/dds.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

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

// A topic of `desc` named `name` on `participant`. One CoEdge process uses one type per
// topic name: Cyclone 0.10 itself accepts a second type on a name (and then matches neither
// with the other, so e.g. a CompressedImage writer on the name of an Image reader would
// silently deliver nothing), so it is refused here with kInvalidInput saying why. Two
// threads creating different types on one new name at the same moment are not caught.
inline Result<dds_entity_t> create_topic(dds_entity_t participant,
                                         const dds_topic_descriptor_t* desc,
                                         const std::string& name) {
  dds_entity_t found = dds_find_topic(DDS_FIND_SCOPE_PARTICIPANT, participant, name.c_str(),
                                      nullptr, 0);
  if (found > 0) {
    char type[256] = {};
    dds_return_t rc = dds_get_type_name(found, type, sizeof type);
    delete_entity(found);
    if (rc >= 0 && std::string(type) != desc->m_typename) {
      return Error{ErrorCode::kInvalidInput,
                   "DDS topic '" + name + "' is already used with type " + type +
                       " in this process, so it cannot also carry " + desc->m_typename +
                       " (one topic name carries one type; an Image and a CompressedImage "
                       "need different topics, e.g. .../image_raw and "
                       ".../image_raw/compressed)"};
    }
  }
  dds_entity_t t = dds_create_topic(participant, desc, name.c_str(), nullptr, nullptr);
  if (t < 0) return io_error("creating DDS topic '" + name + "' of type " + desc->m_typename, t);
  return t;
}

// A writer's sample points into the caller's strings and vectors instead of copying them
// (Cyclone only reads them in dds_write; _release = false: it never frees them).
inline char* borrow(const std::string& s) { return const_cast<char*>(s.c_str()); }

template <typename Seq, typename T>
void borrow_seq(Seq& seq, std::vector<T>& items) {
  seq._length = seq._maximum = static_cast<uint32_t>(items.size());
  seq._buffer = items.empty() ? nullptr : items.data();
  seq._release = false;
}

// Checks that `ros_topic` is an absolute ROS topic name ("/a/b").
inline Status check_ros_topic(const std::string& ros_topic) {
  if (ros_topic.size() < 2 || ros_topic.front() != '/' || ros_topic.back() == '/' ||
      ros_topic.find("//") != std::string::npos) {
    return Error{ErrorCode::kInvalidInput,
                 "ROS topic '" + ros_topic +
                     "' is not an absolute topic name (expected e.g. /coedge/n1/Y1/image_raw)"};
  }
  return Ok{};
}

// Writers speak XCDR1 only: ROS 2 (rmw_cyclonedds, rmw_fastrtps) does for its final types.
inline void set_xcdr1(dds_qos_t* q) {
  dds_data_representation_id_t rep[] = {DDS_DATA_REPRESENTATION_XCDR1};
  dds_qset_data_representation(q, 1, rep);
}

// Readers accept both, so a peer that writes XCDR2 still matches.
inline void accept_xcdr1_and_2(dds_qos_t* q) {
  dds_data_representation_id_t rep[] = {DDS_DATA_REPRESENTATION_XCDR1,
                                        DDS_DATA_REPRESENTATION_XCDR2};
  dds_qset_data_representation(q, 2, rep);
}

// A topic and the writer or reader just created on it (the caller owns both).
struct Created {
  dds_entity_t topic;
  dds_entity_t entity;
};

// builtin_interfaces/Time <-> nanoseconds. Floor division so negative stamps keep
// 0 <= nanosec < 1e9, as ROS requires; sec is int32 as in ROS (it wraps after 2038).
struct RosStamp {
  int32_t sec;
  uint32_t nanosec;
};
inline RosStamp to_ros_stamp(int64_t ns) {
  int64_t sec = ns / 1'000'000'000;
  int64_t nsec = ns % 1'000'000'000;
  if (nsec < 0) {
    nsec += 1'000'000'000;
    sec -= 1;
  }
  return RosStamp{static_cast<int32_t>(sec), static_cast<uint32_t>(nsec)};
}
inline int64_t from_ros_stamp(int32_t sec, uint32_t nanosec) {
  return static_cast<int64_t>(sec) * 1'000'000'000 + static_cast<int64_t>(nanosec);
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
    {
      // The loan goes back even when fn throws (e.g. bad_alloc copying a large image).
      struct ReturnLoan {
        dds_entity_t reader;
        void** samples;
        dds_return_t n;
        ~ReturnLoan() {
          if (n > 0) (void)dds_return_loan(reader, samples, n);
        }
      } loan{reader, samples, n};
      for (dds_return_t i = 0; i < n; ++i) fn(*static_cast<const Sample*>(samples[i]), infos[i]);
    }
    if (static_cast<size_t>(n) < kBatch) return Ok{};
  }
}

// A C string for a DDS string member (never null).
inline const char* str_or_empty(const char* s) { return s ? s : ""; }

}  // namespace coedge::net::internal
