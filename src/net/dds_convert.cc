// Received DDS samples -> plain structs (net/dds_convert.h).
#include "net/dds_convert.h"

#include "net/dds_internal.h"

namespace coedge::net::internal {
namespace {

template <typename Seq>
auto seq_span(const Seq& seq) {
  using Elem = std::remove_pointer_t<decltype(seq._buffer)>;
  const Elem* b = seq._buffer;
  return std::make_pair(b, b == nullptr ? b : b + seq._length);
}

}  // namespace

NodeReport from_msg(const coedge_msg_NodeReport& m) {
  NodeReport r;
  r.node = str_or_empty(m.node);
  r.seq = m.seq;
  r.stamp_ns = m.stamp_ns;
  r.plan_epoch = m.plan_epoch;
  r.plan_version = m.plan_version;
  r.final_report = m.final_report;
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
  for (auto [b, e] = seq_span(m.links); b != e; ++b) {
    r.links.push_back(LinkReport{str_or_empty(b->peer), b->mbps, str_or_empty(b->method)});
  }
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

Plan from_msg(const coedge_msg_Plan& m) {
  Plan p;
  p.version = m.version;
  p.effective_ns = m.effective_ns;
  p.epoch = m.epoch;
  for (auto [b, e] = seq_span(m.assignments); b != e; ++b) {
    p.assignments.push_back(Assignment{str_or_empty(b->task), str_or_empty(b->node)});
  }
  return p;
}

SourceStats from_msg(const coedge_msg_SourceStats& m) {
  return SourceStats{str_or_empty(m.task), str_or_empty(m.node), m.published,
                     m.last_stamp_ns, ""};
}

TaskAck from_msg(const coedge_msg_TaskAck& m) {
  return TaskAck{str_or_empty(m.task), str_or_empty(m.node), m.epoch, m.version, m.from_ns, ""};
}

Command from_msg(const coedge_msg_Command& m) {
  return Command{str_or_empty(m.command), str_or_empty(m.node)};
}

Image from_ros(const sensor_msgs_msg_dds__Image_& m) {
  Image img;
  img.stamp_ns = from_ros_stamp(m.header.stamp.sec, m.header.stamp.nanosec);
  img.frame_id = str_or_empty(m.header.frame_id);
  img.height = m.height;
  img.width = m.width;
  img.encoding = str_or_empty(m.encoding);
  img.step = m.step;
  if (m.data._length > 0 && m.data._buffer != nullptr) {
    img.data.assign(m.data._buffer, m.data._buffer + m.data._length);
  }
  return img;
}

Image from_ros(const sensor_msgs_msg_dds__CompressedImage_& m) {
  Image img;
  img.stamp_ns = from_ros_stamp(m.header.stamp.sec, m.header.stamp.nanosec);
  img.frame_id = str_or_empty(m.header.frame_id);
  img.encoding = str_or_empty(m.format);
  if (m.data._length > 0 && m.data._buffer != nullptr) {
    img.data.assign(m.data._buffer, m.data._buffer + m.data._length);
  }
  img.compressed = true;
  return img;
}

}  // namespace coedge::net::internal
