// Results as ROS 2 vision_msgs over DDS: Detection2DArrayWriter/Reader and
// ClassificationWriter/Reader, converting between the plain structs of dds.h and the types
// generated from idl/vision_msgs.idl (vision_msgs 4.1.1, Humble). QoS is ROS 2's default
// (reliable, KEEP_LAST 10, volatile); writers speak XCDR1 as ROS 2 does, readers accept
// XCDR1 and XCDR2. What the plain structs leave out is written as a ROS 2 node that never
// set it would: each Detection2D's header is a copy of its array's, bbox.center.theta is 0,
// each hypothesis' pose is the identity (position 0, orientation x=y=z=0, w=1: the .msg
// default of geometry_msgs/Quaternion) with a zero covariance. Readers ignore those fields.
// Writers borrow the caller's strings for the duration of dds_write (no copies); readers
// copy out of loaned samples and treat them as a peer's untrusted data (null strings and
// buffers read as empty). Thread-safety: Cyclone's write and take are thread-safe, and no
// object here has state of its own, so every call may run on any thread concurrently.
#include <vector>

#include "net/dds.h"
#include "net/dds_internal.h"
#include "vision_msgs.h"

namespace coedge::net {
namespace {

using internal::io_error;
using internal::str_or_empty;
using RosDetection2DArray = vision_msgs_msg_dds__Detection2DArray_;
using RosDetection2D = vision_msgs_msg_dds__Detection2D_;
using RosHypothesisWithPose = vision_msgs_msg_dds__ObjectHypothesisWithPose_;
using RosHypothesis = vision_msgs_msg_dds__ObjectHypothesis_;
using RosClassification = vision_msgs_msg_dds__Classification_;
using RosHeader = std_msgs_msg_dds__Header_;

constexpr int32_t kDepth = 10;  // ROS 2's default QoS profile

using internal::borrow;
using internal::borrow_seq;

// The elements of a received sequence (none when its buffer is null).
template <typename Seq>
auto elements(const Seq& seq) {
  using Elem = std::remove_pointer_t<decltype(seq._buffer)>;
  const Elem* b = seq._buffer;
  struct Range {
    const Elem* first;
    const Elem* last;
    const Elem* begin() const { return first; }
    const Elem* end() const { return last; }
  };
  return Range{b, b == nullptr ? b : b + seq._length};
}

RosHeader to_ros_header(int64_t stamp_ns, const std::string& frame_id) {
  const internal::RosStamp s = internal::to_ros_stamp(stamp_ns);
  RosHeader h{};
  h.stamp.sec = s.sec;
  h.stamp.nanosec = s.nanosec;
  h.frame_id = borrow(frame_id);
  return h;
}

RosHypothesis to_ros(const ObjectHypothesis& h) {
  RosHypothesis m{};
  m.class_id = borrow(h.class_id);
  m.score = h.score;
  return m;
}

ObjectHypothesis from_ros(const RosHypothesis& m) {
  return ObjectHypothesis{str_or_empty(m.class_id), m.score};
}

void apply_default_qos(dds_qos_t* q) {
  // A write never waits for a slow subscriber (max blocking time 0): results are written
  // from the agent's loop (node/cluster/result_publisher.h), which must not stall on a
  // peer; a write refused for a full history is the caller's to count.
  dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, 0);
  dds_qset_history(q, DDS_HISTORY_KEEP_LAST, kDepth);
  dds_qset_durability(q, DDS_DURABILITY_VOLATILE);
}

using internal::Created;

// A topic of `desc` for `ros_topic` and a writer (or reader) on it with ROS 2's default QoS.
Result<Created> make_endpoint(DdsDomain& domain, const dds_topic_descriptor_t* desc,
                              const std::string& ros_topic, bool writer) {
  if (auto c = internal::check_ros_topic(ros_topic); !c) return c.error();
  const std::string name = ros_to_dds_topic(ros_topic);
  auto topic = internal::create_topic(domain.participant_handle(), desc, name);
  if (!topic) return topic.error();
  internal::Qos qos;
  apply_default_qos(qos.get());
  if (writer) {
    internal::set_xcdr1(qos.get());
  } else {
    internal::accept_xcdr1_and_2(qos.get());
  }
  dds_entity_t e = writer
                       ? dds_create_writer(domain.participant_handle(), *topic, qos.get(), nullptr)
                       : dds_create_reader(domain.participant_handle(), *topic, qos.get(), nullptr);
  if (e < 0) {
    internal::delete_entity(*topic);
    return io_error(std::string("creating a DDS ") + (writer ? "writer" : "reader") + " of " +
                        desc->m_typename + " on '" + name + "'",
                    e);
  }
  return Created{*topic, e};
}

uint64_t matched(dds_entity_t writer) {
  dds_publication_matched_status_t st{};
  if (dds_get_publication_matched_status(writer, &st) < 0) return 0;
  return st.current_count;
}

Status written(dds_return_t rc, const char* what, dds_entity_t writer) {
  if (rc >= 0) return Ok{};
  char topic[256] = {};
  (void)dds_get_name(dds_get_topic(writer), topic, sizeof topic);
  return io_error(std::string("writing a ") + what + " on '" + topic + "'", rc);
}

template <typename Sample, typename Out, typename Convert>
std::vector<Out> take_converted(dds_entity_t reader, Convert convert) {
  std::vector<Out> out;
  (void)internal::take_all<Sample>(reader, [&](const Sample& m, const dds_sample_info_t& info) {
    if (info.valid_data) out.push_back(convert(m));
  });
  return out;
}

}  // namespace

// ---- Detection2DArray ----

Result<std::unique_ptr<Detection2DArrayWriter>> Detection2DArrayWriter::create(
    DdsDomain& domain, std::string ros_topic) {
  auto c = make_endpoint(domain, &vision_msgs_msg_dds__Detection2DArray__desc, ros_topic, true);
  if (!c) return c.error();
  return std::unique_ptr<Detection2DArrayWriter>(new Detection2DArrayWriter(c->topic, c->entity));
}

Detection2DArrayWriter::~Detection2DArrayWriter() {
  internal::delete_entity(writer_);
  internal::delete_entity(topic_);
}

Status Detection2DArrayWriter::write(const Detection2DArray& message) {
  RosDetection2DArray m{};
  m.header = to_ros_header(message.stamp_ns, message.frame_id);
  // Flattened: every detection's hypotheses in one vector, each detection borrowing its
  // slice (the vector is filled first, so its buffer no longer moves).
  size_t total = 0;
  for (const auto& d : message.detections) total += d.results.size();
  std::vector<RosHypothesisWithPose> hypotheses;
  hypotheses.reserve(total);
  for (const auto& d : message.detections) {
    for (const auto& h : d.results) {
      RosHypothesisWithPose r{};
      r.hypothesis = to_ros(h);
      r.pose.pose.orientation.w = 1.0;  // the identity, as a default-constructed ROS message
      hypotheses.push_back(r);
    }
  }
  std::vector<RosDetection2D> detections;
  detections.reserve(message.detections.size());
  size_t next = 0;
  for (const auto& d : message.detections) {
    RosDetection2D r{};
    r.header = m.header;
    r.results._length = r.results._maximum = static_cast<uint32_t>(d.results.size());
    r.results._buffer = d.results.empty() ? nullptr : hypotheses.data() + next;
    r.results._release = false;
    next += d.results.size();
    r.bbox.center.position.x = d.bbox.center_x;
    r.bbox.center.position.y = d.bbox.center_y;
    r.bbox.center.theta = 0;
    r.bbox.size_x = d.bbox.size_x;
    r.bbox.size_y = d.bbox.size_y;
    r.id = borrow(d.id);
    detections.push_back(r);
  }
  borrow_seq(m.detections, detections);
  return written(dds_write(writer_, &m), "vision_msgs/Detection2DArray", writer_);
}

uint64_t Detection2DArrayWriter::matched_readers() const { return matched(writer_); }

Result<std::unique_ptr<Detection2DArrayReader>> Detection2DArrayReader::create(
    DdsDomain& domain, std::string ros_topic) {
  auto c = make_endpoint(domain, &vision_msgs_msg_dds__Detection2DArray__desc, ros_topic, false);
  if (!c) return c.error();
  return std::unique_ptr<Detection2DArrayReader>(new Detection2DArrayReader(c->topic, c->entity));
}

Detection2DArrayReader::~Detection2DArrayReader() {
  internal::delete_entity(reader_);
  internal::delete_entity(topic_);
}

std::vector<Detection2DArray> Detection2DArrayReader::take() {
  return take_converted<RosDetection2DArray, Detection2DArray>(
      reader_, [](const RosDetection2DArray& m) {
        Detection2DArray a;
        a.stamp_ns = internal::from_ros_stamp(m.header.stamp.sec, m.header.stamp.nanosec);
        a.frame_id = str_or_empty(m.header.frame_id);
        for (const auto& rd : elements(m.detections)) {
          Detection2D d;
          for (const auto& rh : elements(rd.results)) d.results.push_back(from_ros(rh.hypothesis));
          d.bbox = BoundingBox2D{rd.bbox.center.position.x, rd.bbox.center.position.y,
                                 rd.bbox.size_x, rd.bbox.size_y};
          d.id = str_or_empty(rd.id);
          a.detections.push_back(std::move(d));
        }
        return a;
      });
}

// ---- Classification ----

Result<std::unique_ptr<ClassificationWriter>> ClassificationWriter::create(DdsDomain& domain,
                                                                           std::string ros_topic) {
  auto c = make_endpoint(domain, &vision_msgs_msg_dds__Classification__desc, ros_topic, true);
  if (!c) return c.error();
  return std::unique_ptr<ClassificationWriter>(new ClassificationWriter(c->topic, c->entity));
}

ClassificationWriter::~ClassificationWriter() {
  internal::delete_entity(writer_);
  internal::delete_entity(topic_);
}

Status ClassificationWriter::write(const Classification& message) {
  RosClassification m{};
  m.header = to_ros_header(message.stamp_ns, message.frame_id);
  std::vector<RosHypothesis> results;
  results.reserve(message.results.size());
  for (const auto& h : message.results) results.push_back(to_ros(h));
  borrow_seq(m.results, results);
  return written(dds_write(writer_, &m), "vision_msgs/Classification", writer_);
}

uint64_t ClassificationWriter::matched_readers() const { return matched(writer_); }

Result<std::unique_ptr<ClassificationReader>> ClassificationReader::create(DdsDomain& domain,
                                                                           std::string ros_topic) {
  auto c = make_endpoint(domain, &vision_msgs_msg_dds__Classification__desc, ros_topic, false);
  if (!c) return c.error();
  return std::unique_ptr<ClassificationReader>(new ClassificationReader(c->topic, c->entity));
}

ClassificationReader::~ClassificationReader() {
  internal::delete_entity(reader_);
  internal::delete_entity(topic_);
}

std::vector<Classification> ClassificationReader::take() {
  return take_converted<RosClassification, Classification>(
      reader_, [](const RosClassification& m) {
        Classification c;
        c.stamp_ns = internal::from_ros_stamp(m.header.stamp.sec, m.header.stamp.nanosec);
        c.frame_id = str_or_empty(m.header.frame_id);
        for (const auto& rh : elements(m.results)) c.results.push_back(from_ros(rh));
        return c;
      });
}

}  // namespace coedge::net
