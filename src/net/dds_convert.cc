// Received DDS samples -> plain structs (net/dds_convert.h). Each converter first checks
// every length it will copy (strings with strnlen bounded by the cap, so a string is never
// scanned past cap + 1 bytes; sequences by _length), then copies.
#include "net/dds_convert.h"

#include <cstring>

#include "net/dds_internal.h"

namespace coedge::net::internal {
namespace {

template <typename Seq>
auto seq_span(const Seq& seq) {
  using Elem = std::remove_pointer_t<decltype(seq._buffer)>;
  const Elem* b = seq._buffer;
  return std::make_pair(b, b == nullptr ? b : b + seq._length);
}

// The first error found while checking one sample; later checks are skipped.
class Checker {
 public:
  explicit Checker(const char* what) : what_(what) {}
  // A string member of at most `cap` characters.
  void str(const char* field, const char* s, size_t cap) {
    if (!ok() || s == nullptr) return;
    size_t n = strnlen(s, cap + 1);
    if (n > cap) {
      fail(std::string(field) + " is longer than the cap of " + std::to_string(cap) +
           " characters");
    }
  }
  // A sequence member of at most `cap` elements.
  template <typename Seq>
  void seq(const char* field, const Seq& s, size_t cap) {
    if (!ok()) return;
    if (s._length > 0 && s._buffer == nullptr) {
      fail(std::string(field) + " has length " + std::to_string(s._length) + " but no data");
    } else if (s._length > cap) {
      fail(std::string(field) + " has " + std::to_string(s._length) +
           " entries, more than the cap " + std::to_string(cap));
    }
  }
  bool ok() const { return error_.empty(); }
  Error error() const { return Error{ErrorCode::kInvalidInput, std::string(what_) + ": " + error_}; }

 private:
  void fail(std::string why) { error_ = std::move(why); }
  const char* what_;
  std::string error_;
};

}  // namespace

Result<NodeReport> from_msg(const coedge_msg_NodeReport& m) {
  Checker c("node report");
  c.str("node", m.node, kMaxSampleName);
  c.seq("tasks", m.tasks, kMaxSampleTasks);
  c.seq("links", m.links, kMaxSampleLinks);
  c.seq("profiles", m.profiles, kMaxSampleProfiles);
  for (auto [b, e] = seq_span(m.tasks); c.ok() && b != e; ++b) {
    c.str("tasks[].task", b->task, kMaxSampleName);
  }
  for (auto [b, e] = seq_span(m.links); c.ok() && b != e; ++b) {
    c.str("links[].peer", b->peer, kMaxSampleName);
    c.str("links[].method", b->method, kMaxSampleName);
  }
  for (auto [b, e] = seq_span(m.profiles); c.ok() && b != e; ++b) {
    c.str("profiles[].model", b->model, kMaxSampleName);
    c.seq("profiles[].exe_ms", b->exe_ms, kMaxSampleBatchSizes);
    c.seq("profiles[].batches", b->batches, kMaxSampleBatchSizes);
  }
  if (!c.ok()) return c.error();

  NodeReport r;
  r.node = str_or_empty(m.node);
  r.seq = m.seq;
  r.stamp_ns = m.stamp_ns;
  r.plan_epoch = m.plan_epoch;
  r.plan_version = m.plan_version;
  r.final_report = m.final_report;
  r.tasks.reserve(m.tasks._length);
  for (auto [b, e] = seq_span(m.tasks); b != e; ++b) {
    TaskReport t;
    t.task = str_or_empty(b->task);
    t.released = b->released;
    t.met = b->met;
    t.overdue = b->overdue;
    t.dropped = b->dropped;
    t.latency_sum_ms = b->latency_sum_ms;
    t.node_latency_sum_ms = b->node_latency_sum_ms;
    t.queue_length = b->queue_length;
    r.tasks.push_back(std::move(t));
  }
  r.links.reserve(m.links._length);
  for (auto [b, e] = seq_span(m.links); b != e; ++b) {
    r.links.push_back(LinkReport{str_or_empty(b->peer), b->mbps, str_or_empty(b->method)});
  }
  r.profiles.reserve(m.profiles._length);
  for (auto [b, e] = seq_span(m.profiles); b != e; ++b) {
    ProfileReport p;
    p.model = str_or_empty(b->model);
    auto [xb, xe] = seq_span(b->exe_ms);
    p.exe_ms.assign(xb, xe);
    auto [cb, ce] = seq_span(b->batches);
    p.batches.assign(cb, ce);
    p.pre_ms = b->pre_ms;
    p.post_ms = b->post_ms;
    r.profiles.push_back(std::move(p));
  }
  return r;
}

Result<Plan> from_msg(const coedge_msg_Plan& m) {
  Checker c("plan");
  c.seq("assignments", m.assignments, kMaxSampleAssignments);
  for (auto [b, e] = seq_span(m.assignments); c.ok() && b != e; ++b) {
    c.str("assignments[].task", b->task, kMaxSampleName);
    c.str("assignments[].node", b->node, kMaxSampleName);
  }
  if (!c.ok()) return c.error();
  Plan p;
  p.version = m.version;
  p.effective_ns = m.effective_ns;
  p.epoch = m.epoch;
  p.assignments.reserve(m.assignments._length);
  for (auto [b, e] = seq_span(m.assignments); b != e; ++b) {
    p.assignments.push_back(Assignment{str_or_empty(b->task), str_or_empty(b->node)});
  }
  return p;
}

Result<SourceStats> from_msg(const coedge_msg_SourceStats& m) {
  Checker c("source statistics");
  c.str("task", m.task, kMaxSampleName);
  c.str("node", m.node, kMaxSampleName);
  if (!c.ok()) return c.error();
  return SourceStats{str_or_empty(m.task), str_or_empty(m.node), m.published,
                     m.last_stamp_ns, ""};
}

Result<TaskAck> from_msg(const coedge_msg_TaskAck& m) {
  Checker c("task acknowledgement");
  c.str("task", m.task, kMaxSampleName);
  c.str("node", m.node, kMaxSampleName);
  if (!c.ok()) return c.error();
  return TaskAck{str_or_empty(m.task), str_or_empty(m.node), m.epoch, m.version, m.from_ns, ""};
}

Result<Command> from_msg(const coedge_msg_Command& m) {
  Checker c("command");
  c.str("command", m.command, kMaxSampleName);
  c.str("node", m.node, kMaxSampleName);
  if (!c.ok()) return c.error();
  return Command{str_or_empty(m.command), str_or_empty(m.node)};
}

Result<Image> from_ros(const sensor_msgs_msg_dds__Image_& m) {
  Checker c("image");
  c.str("header.frame_id", m.header.frame_id, kMaxSampleText);
  c.str("encoding", m.encoding, kMaxSampleText);
  c.seq("data", m.data, kMaxImageBytes);
  if (!c.ok()) return c.error();
  Image img;
  img.stamp_ns = from_ros_stamp(m.header.stamp.sec, m.header.stamp.nanosec);
  img.frame_id = str_or_empty(m.header.frame_id);
  img.height = m.height;
  img.width = m.width;
  img.encoding = str_or_empty(m.encoding);
  img.step = m.step;
  if (m.data._length > 0) img.data.assign(m.data._buffer, m.data._buffer + m.data._length);
  return img;
}

Result<Image> from_ros(const sensor_msgs_msg_dds__CompressedImage_& m) {
  Checker c("compressed image");
  c.str("header.frame_id", m.header.frame_id, kMaxSampleText);
  c.str("format", m.format, kMaxSampleText);
  c.seq("data", m.data, kMaxImageBytes);
  if (!c.ok()) return c.error();
  Image img;
  img.stamp_ns = from_ros_stamp(m.header.stamp.sec, m.header.stamp.nanosec);
  img.frame_id = str_or_empty(m.header.frame_id);
  img.encoding = str_or_empty(m.format);
  if (m.data._length > 0) img.data.assign(m.data._buffer, m.data._buffer + m.data._length);
  img.compressed = true;
  return img;
}

}  // namespace coedge::net::internal
