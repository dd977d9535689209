// Why a sample received from the network was refused, and on which topic: the one
// vocabulary of the master's and the nodes' sample checks (master/report_checks.h,
// node/cluster/sample_checks.h), of their logs, of the Prometheus counters
// coedge_{master,node}_rejected_samples_total{topic,reason} and of the summaries'
// "rejected_samples" (docs/METRICS.md). A fixed, small set: the names are what files and
// metrics carry. Header-only.
//
// Images are here only as what a node's DDS reader refused over its caps (topic "image",
// kOversized: the frame never reached the node, no job was released). A frame refused by
// its decoder keeps its own reasons (node/cluster/ros_frame.h) and counters
// (coedge_sensor_frames_rejected_total), because its jobs were released and are accounted
// as dropped (kBadFrame).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"

namespace coedge {

enum class SampleTopic : uint8_t { kNodeReport, kPlan, kSourceStats, kTaskAck, kCommand, kImage };
inline constexpr int kSampleTopicCount = 6;

enum class SampleRejection : uint8_t {
  kNone = 0,
  kSenderMismatch,   // the writer's partition names another node or camera than the sample
                     // (or none, in a secure domain): a node writing about another
  kUnknownNode,      // names a node the scenario does not have (or none)
  kUnknownTask,      // names a task the scenario does not have
  kUnknownModel,     // a profile of a model the scenario does not have
  kDuplicate,        // the same task, model or peer twice in one sample
  kBadNumber,        // NaN, infinite or negative where a time, a sum or a rate is expected
  kAbsurdValue,      // beyond what a run can produce (closed > released, counters over 2^53,
                     // a queue beyond its cap, profile vectors longer than the batch sizes,
                     // a version beyond 32 bits, an unknown link method)
  kAbsurdTime,       // a time of 0 or less, or more than an hour ahead of the receiver's clock
  kCounterDecreased, // a cumulative counter below the sender's last accepted one, without a
                     // restart of the sender
  kStale,            // older than what was accepted from the sender (a sequence number that
                     // went back without a newer stamp, an older master's plan)
  kNotSource,        // source statistics from a camera that is not the task's source
  kNotAssigned,      // a claim for a task by a node that the plan it names did not give it
  kUnknownCommand,   // a command other than "stop" and "stop-sources"
  kOversized,        // refused by the DDS reader: a sequence or string beyond its cap
                     // (net/dds.h kMaxSample*)
};
inline constexpr int kSampleRejectionCount = 15;

// The fastest link a report may carry (Mbit/s: 1 Tbit/s). A node never reports more (a
// passive reading above it is a clock artifact: node/cluster/cluster_feed.cc clamps it), so
// a report that does is refused (kAbsurdValue).
inline constexpr double kMaxReportedMbps = 1e6;

constexpr std::string_view to_string(SampleTopic topic) {
  switch (topic) {
    case SampleTopic::kNodeReport: return "node_report";
    case SampleTopic::kPlan: return "plan";
    case SampleTopic::kSourceStats: return "source_stats";
    case SampleTopic::kTaskAck: return "task_ack";
    case SampleTopic::kCommand: return "command";
    case SampleTopic::kImage: return "image";
  }
  return "?";
}

constexpr std::string_view to_string(SampleRejection reason) {
  switch (reason) {
    case SampleRejection::kNone: return "none";
    case SampleRejection::kSenderMismatch: return "sender_mismatch";
    case SampleRejection::kUnknownNode: return "unknown_node";
    case SampleRejection::kUnknownTask: return "unknown_task";
    case SampleRejection::kUnknownModel: return "unknown_model";
    case SampleRejection::kDuplicate: return "duplicate";
    case SampleRejection::kBadNumber: return "bad_number";
    case SampleRejection::kAbsurdValue: return "absurd_value";
    case SampleRejection::kAbsurdTime: return "absurd_time";
    case SampleRejection::kCounterDecreased: return "counter_decreased";
    case SampleRejection::kStale: return "stale";
    case SampleRejection::kNotSource: return "not_source";
    case SampleRejection::kNotAssigned: return "not_assigned";
    case SampleRejection::kUnknownCommand: return "unknown_command";
    case SampleRejection::kOversized: return "oversized";
  }
  return "?";
}

// The verdict of a check: kNone (accepted) or why not, with a one-line message naming the
// field and the value (a peer's text in it is printable and cut short: shown_text).
struct SampleVerdict {
  SampleRejection reason = SampleRejection::kNone;
  std::string why;  // empty when accepted
  bool ok() const { return reason == SampleRejection::kNone; }
};

// A peer's text in a message: quoted, printable ASCII, at most 40 characters ("..." after).
inline std::string shown_text(std::string_view text) {
  std::string out = "'";
  for (char c : text.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (text.size() > 40 ? "...'" : "'");
}

inline SampleVerdict refuse(SampleRejection reason, std::string why) { return SampleVerdict{reason, std::move(why)}; }

// Per (topic, reason): the samples refused, and a log throttle. Every refusal is counted;
// the first of each (topic, reason) is logged, then at most one line per `every` per
// (topic, reason), saying how many were refused since the last line. Time passed in; not
// thread-safe (each process's driver owns one, or guards it).
class RejectionCounter {
 public:
  explicit RejectionCounter(Duration every = std::chrono::seconds(10)) : every_(every) {}

  // Counts `n` (one by default); returns how many refusals a log line now stands for (these
  // and those of its (topic, reason) not logged since the last line), or 0: not to be logged.
  uint64_t count(SampleTopic topic, SampleRejection reason, TimePoint now, uint64_t n = 1) {
    Slot& s = slot(topic, reason);
    s.total += n;
    s.unlogged += n;
    if (s.logged && now - s.last_log < every_) return 0;
    s.logged = true;
    s.last_log = now;
    const uint64_t lines = s.unlogged;
    s.unlogged = 0;
    return lines;
  }
  // Adds `n` refusals counted elsewhere (e.g. by a DDS reader), without logging.
  void add(SampleTopic topic, SampleRejection reason, uint64_t n) { slot(topic, reason).total += n; }
  uint64_t total(SampleTopic topic, SampleRejection reason) const { return slots_[index(topic)][index(reason)].total; }
  uint64_t total() const {
    uint64_t n = 0;
    for (const auto& row : slots_)
      for (const Slot& s : row) n += s.total;
    return n;
  }
  // Calls f(topic, reason, count) for every (topic, reason) counted (count > 0), in enum
  // order.
  template <typename F>
  void for_each(F&& f) const {
    for (size_t t = 0; t < slots_.size(); ++t)
      for (size_t r = 1; r < slots_[t].size(); ++r)
        if (const uint64_t n = slots_[t][r].total; n > 0) f(static_cast<SampleTopic>(t), static_cast<SampleRejection>(r), n);
  }

 private:
  struct Slot {
    uint64_t total = 0, unlogged = 0;
    bool logged = false;
    TimePoint last_log{};
  };
  template <typename E>
  static size_t index(E e) { return static_cast<size_t>(e); }
  Slot& slot(SampleTopic topic, SampleRejection reason) { return slots_[index(topic)][index(reason)]; }

  Duration every_;
  std::array<std::array<Slot, kSampleRejectionCount>, kSampleTopicCount> slots_{};
};

// What a DDS reader refused over its caps since the last call (net/dds.h: a reader's
// rejected(), the total since its creation, and take_rejections(), the reasons since the
// last call). `seen`: the caller's copy of the total at the last call. A reader without
// them (an older src/net) refuses nothing.
struct ReaderRefusals {
  uint64_t count = 0;
  std::vector<std::string> reasons;  // at most the reader's few kept, in order
};
template <typename Reader>
ReaderRefusals take_reader_refusals(Reader& reader, uint64_t& seen) {
  ReaderRefusals out;
  if constexpr (requires { reader.rejected(); reader.take_rejections(); }) {
    const uint64_t total = reader.rejected();
    out.count = total > seen ? total - seen : 0;
    seen = total;
    for (auto& why : reader.take_rejections()) out.reasons.emplace_back(std::move(why));
  }
  return out;
}

}  // namespace coedge
