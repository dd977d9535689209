// Images over DDS: ImageWriter and ImageReaderSet, converting between coedge::net::Image and
// the ROS 2 type sensor_msgs::msg::dds_::Image_ generated from idl/ros_image.idl. Writers
// serialize straight from the caller's buffer (no copy); readers copy each loaned sample
// into an Image. Thread-safety is described in dds.h: ImageWriter is fully thread-safe;
// ImageReaderSet has one waiting thread, and add/remove/wake from any thread, serialized
// with the waiter's takes by a mutex.
#include <cstring>

#include "net/dds.h"
#include "net/dds_internal.h"
#include "ros_image.h"

namespace coedge::net {
namespace {

using internal::io_error;
using RosImage = sensor_msgs_msg_dds__Image_;

constexpr int32_t kReaderDepth = 4;
// How long a reliable write may wait for acknowledgements before giving up (Cyclone's
// default is 100 ms, too short for a 1.2 MB image on a slow link).
constexpr dds_duration_t kMaxBlockingTime = DDS_MSECS(500);

dds_reliability_kind_t to_dds(Reliability r) {
  return r == Reliability::kReliable ? DDS_RELIABILITY_RELIABLE : DDS_RELIABILITY_BEST_EFFORT;
}

Status check_ros_topic(const std::string& ros_topic) {
  if (ros_topic.size() < 2 || ros_topic.front() != '/' || ros_topic.back() == '/' ||
      ros_topic.find("//") != std::string::npos) {
    return Error{ErrorCode::kInvalidInput,
                 "ROS topic '" + ros_topic +
                     "' is not an absolute topic name (expected e.g. /coedge/n1/Y1/image_raw)"};
  }
  return Ok{};
}

void set_xcdr1(dds_qos_t* q) {
  // ROS 2 (rmw_cyclonedds) speaks XCDR1 for its final types; say so explicitly.
  dds_data_representation_id_t rep[] = {DDS_DATA_REPRESENTATION_XCDR1};
  dds_qset_data_representation(q, 1, rep);
}

Image from_ros(const RosImage& m) {
  Image img;
  img.stamp_ns = static_cast<int64_t>(m.header.stamp.sec) * 1'000'000'000 +
                 static_cast<int64_t>(m.header.stamp.nanosec);
  img.frame_id = internal::str_or_empty(m.header.frame_id);
  img.height = m.height;
  img.width = m.width;
  img.encoding = internal::str_or_empty(m.encoding);
  img.step = m.step;
  if (m.data._length > 0 && m.data._buffer != nullptr) {
    img.data.assign(m.data._buffer, m.data._buffer + m.data._length);
  }
  return img;
}

}  // namespace

// ---- ImageWriter ----

Result<std::unique_ptr<ImageWriter>> ImageWriter::create(DdsDomain& domain,
                                                         std::string ros_topic,
                                                         Reliability reliability, bool compressed) {
  if (compressed) return Error{ErrorCode::kUnsupported, "compressed images are not supported yet"};
  if (auto c = check_ros_topic(ros_topic); !c) return c.error();
  std::string name = ros_to_dds_topic(ros_topic);
  auto topic = internal::create_topic(domain.participant_handle(),
                                      &sensor_msgs_msg_dds__Image__desc, name);
  if (!topic) return topic.error();
  internal::Qos qos;
  dds_qset_reliability(qos.get(), to_dds(reliability), kMaxBlockingTime);
  dds_qset_history(qos.get(), DDS_HISTORY_KEEP_LAST, 1);
  dds_qset_durability(qos.get(), DDS_DURABILITY_VOLATILE);
  set_xcdr1(qos.get());
  dds_entity_t w = dds_create_writer(domain.participant_handle(), *topic, qos.get(), nullptr);
  if (w < 0) {
    internal::delete_entity(*topic);
    return io_error("creating a DDS image writer on '" + name + "'", w);
  }
  return std::unique_ptr<ImageWriter>(new ImageWriter(std::move(name), *topic, w));
}

ImageWriter::~ImageWriter() {
  internal::delete_entity(writer_);
  internal::delete_entity(topic_);
}

Status ImageWriter::write(const Image& image) {
  if (image.data.size() > UINT32_MAX) {
    return Error{ErrorCode::kInvalidInput, "image on '" + dds_topic_ + "' is too large"};
  }
  RosImage m{};
  // Floor division so negative stamps keep 0 <= nanosec < 1e9, as ROS requires.
  int64_t sec = image.stamp_ns / 1'000'000'000;
  int64_t nsec = image.stamp_ns % 1'000'000'000;
  if (nsec < 0) {
    nsec += 1'000'000'000;
    sec -= 1;
  }
  m.header.stamp.sec = static_cast<int32_t>(sec);
  m.header.stamp.nanosec = static_cast<uint32_t>(nsec);
  m.header.frame_id = const_cast<char*>(image.frame_id.c_str());
  m.height = image.height;
  m.width = image.width;
  m.encoding = const_cast<char*>(image.encoding.c_str());
  m.is_bigendian = 0;
  m.step = image.step;
  m.data._length = m.data._maximum = static_cast<uint32_t>(image.data.size());
  m.data._buffer = const_cast<uint8_t*>(image.data.data());
  m.data._release = false;
  dds_return_t rc = dds_write(writer_, &m);
  if (rc < 0) return io_error("writing an image on '" + dds_topic_ + "'", rc);
  return Ok{};
}

uint64_t ImageWriter::matched_readers() const {
  dds_publication_matched_status_t st{};
  if (dds_get_publication_matched_status(writer_, &st) < 0) return 0;
  return st.current_count;
}

// ---- ImageReaderSet ----

Result<std::unique_ptr<ImageReaderSet>> ImageReaderSet::create(DdsDomain& domain) {
  dds_entity_t pp = domain.participant_handle();
  dds_entity_t ws = dds_create_waitset(pp);
  if (ws < 0) return io_error("creating a DDS waitset", ws);
  dds_entity_t gc = dds_create_guardcondition(pp);
  if (gc < 0) {
    internal::delete_entity(ws);
    return io_error("creating a DDS guard condition", gc);
  }
  if (dds_return_t rc = dds_waitset_attach(ws, gc, 0); rc < 0) {
    internal::delete_entity(gc);
    internal::delete_entity(ws);
    return io_error("attaching a DDS guard condition", rc);
  }
  return std::unique_ptr<ImageReaderSet>(new ImageReaderSet(pp, ws, gc));
}

ImageReaderSet::~ImageReaderSet() {
  std::lock_guard lock(mu_);
  for (auto& [id, sub] : subs_) {
    internal::delete_entity(sub.reader);  // also deletes its read condition
    internal::delete_entity(sub.topic);
  }
  subs_.clear();
  internal::delete_entity(waitset_);
  internal::delete_entity(guard_);
}

Result<uint32_t> ImageReaderSet::add(std::string ros_topic, Reliability reliability, bool compressed) {
  if (compressed) return Error{ErrorCode::kUnsupported, "compressed images are not supported yet"};
  if (auto c = check_ros_topic(ros_topic); !c) return c.error();
  const std::string name = ros_to_dds_topic(ros_topic);
  auto topic = internal::create_topic(participant_, &sensor_msgs_msg_dds__Image__desc, name);
  if (!topic) return topic.error();
  internal::Qos qos;
  dds_qset_reliability(qos.get(), to_dds(reliability), kMaxBlockingTime);
  dds_qset_history(qos.get(), DDS_HISTORY_KEEP_LAST, kReaderDepth);
  dds_qset_durability(qos.get(), DDS_DURABILITY_VOLATILE);
  dds_data_representation_id_t rep[] = {DDS_DATA_REPRESENTATION_XCDR1,
                                        DDS_DATA_REPRESENTATION_XCDR2};
  dds_qset_data_representation(qos.get(), 2, rep);
  dds_entity_t rd = dds_create_reader(participant_, *topic, qos.get(), nullptr);
  if (rd < 0) {
    internal::delete_entity(*topic);
    return io_error("creating a DDS image reader on '" + name + "'", rd);
  }
  dds_entity_t cond = dds_create_readcondition(rd, DDS_ANY_STATE);
  if (cond < 0) {
    internal::delete_entity(rd);
    internal::delete_entity(*topic);
    return io_error("creating a DDS read condition on '" + name + "'", cond);
  }
  std::lock_guard lock(mu_);
  const uint32_t id = next_id_++;
  if (dds_return_t rc = dds_waitset_attach(waitset_, cond, static_cast<dds_attach_t>(id));
      rc < 0) {
    internal::delete_entity(rd);
    internal::delete_entity(*topic);
    return io_error("attaching the DDS reader of '" + name + "' to the waitset", rc);
  }
  subs_.emplace(id, Sub{*topic, rd, cond});
  (void)dds_set_guardcondition(guard_, true);  // let the waiter see the new reader
  return id;
}

void ImageReaderSet::remove(uint32_t id) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  (void)dds_waitset_detach(waitset_, it->second.condition);
  internal::delete_entity(it->second.reader);
  internal::delete_entity(it->second.topic);
  subs_.erase(it);
  (void)dds_set_guardcondition(guard_, true);
}

void ImageReaderSet::wake() { (void)dds_set_guardcondition(guard_, true); }

size_t ImageReaderSet::wait(Duration timeout, const OnImage& on_image) {
  dds_return_t rc = dds_waitset_wait(waitset_, nullptr, 0, internal::to_dds_duration(timeout));
  bool woken = false;
  (void)dds_take_guardcondition(guard_, &woken);
  if (rc <= 0) return 0;  // timeout (0) or error (<0)

  struct Taken {
    uint32_t id;
    Image image;
    int64_t received_ns;
  };
  std::vector<Taken> taken;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, sub] : subs_) {
      const uint32_t sub_id = id;
      (void)internal::take_all<RosImage>(
          sub.reader, [&](const RosImage& m, const dds_sample_info_t& info) {
            if (!info.valid_data) return;  // instance state changes carry no image
            taken.push_back(Taken{sub_id, from_ros(m), internal::realtime_ns()});
          });
    }
  }
  for (auto& t : taken) on_image(t.id, std::move(t.image), t.received_ns);
  return taken.size();
}

}  // namespace coedge::net
