// Images over DDS: ImageWriter and ImageReaderSet, converting between coedge::net::Image and
// the ROS 2 types sensor_msgs::msg::dds_::Image_ and ::CompressedImage_ generated from
// idl/ros_image.idl. A writer or reader has one kind, fixed at creation (a topic name carries
// one type); one ImageReaderSet may hold readers of both kinds. Writers serialize straight
// from the caller's buffer (no copy); readers copy each loaned sample into an Image. Thread-safety is described in dds.h: ImageWriter is fully thread-safe;
// ImageReaderSet has one waiting thread, and add/remove/wake from any thread, serialized
// with the waiter's takes by a mutex.
#include <cstring>

#include "net/dds.h"
#include "net/dds_convert.h"
#include "net/dds_internal.h"
#include "ros_image.h"

namespace coedge::net {
namespace {

using internal::io_error;
using internal::from_ros;
using RosImage = sensor_msgs_msg_dds__Image_;
using RosCompressedImage = sensor_msgs_msg_dds__CompressedImage_;

constexpr int32_t kReaderDepth = 4;
// How long a reliable write may wait for acknowledgements before giving up (Cyclone's
// default is 100 ms, too short for a 1.2 MB image on a slow link).
constexpr dds_duration_t kMaxBlockingTime = DDS_MSECS(500);

dds_reliability_kind_t to_dds(Reliability r) {
  return r == Reliability::kReliable ? DDS_RELIABILITY_RELIABLE : DDS_RELIABILITY_BEST_EFFORT;
}

const dds_topic_descriptor_t* descriptor(bool compressed) {
  return compressed ? &sensor_msgs_msg_dds__CompressedImage__desc
                    : &sensor_msgs_msg_dds__Image__desc;
}

const char* kind_name(bool compressed) {
  return compressed ? "sensor_msgs/CompressedImage" : "sensor_msgs/Image";
}

// Takes everything `reader` (of type Sample) holds into `out`, tagged with `id`; the
// reasons of images over a cap go to `rejected` (prefixed with `dds_topic`).
template <typename Sample, typename Taken>
void take_images(dds_entity_t reader, uint32_t id, const std::string& dds_topic,
                 std::vector<Taken>& out, std::vector<std::string>& rejected) {
  (void)internal::take_all<Sample>(reader, [&](const Sample& m, const dds_sample_info_t& info) {
    if (!info.valid_data) return;  // instance state changes carry no image
    auto image = from_ros(m);
    if (!image) {
      rejected.push_back(dds_topic + ": " + image.error().message);
      return;
    }
    out.push_back(Taken{id, std::move(*image), internal::realtime_ns()});
  });
}

}  // namespace

// ---- ImageWriter ----

Result<std::unique_ptr<ImageWriter>> ImageWriter::create(DdsDomain& domain,
                                                         std::string ros_topic,
                                                         Reliability reliability, bool compressed) {
  if (auto c = internal::check_ros_topic(ros_topic); !c) return c.error();
  std::string name = ros_to_dds_topic(ros_topic);
  auto topic = internal::create_topic(domain.participant_handle(), descriptor(compressed), name);
  if (!topic) return topic.error();
  internal::Qos qos;
  dds_qset_reliability(qos.get(), to_dds(reliability), kMaxBlockingTime);
  dds_qset_history(qos.get(), DDS_HISTORY_KEEP_LAST, 1);
  dds_qset_durability(qos.get(), DDS_DURABILITY_VOLATILE);
  internal::set_xcdr1(qos.get());
  dds_entity_t w = dds_create_writer(domain.participant_handle(), *topic, qos.get(), nullptr);
  if (w < 0) {
    internal::delete_entity(*topic);
    return io_error("creating a DDS image writer on '" + name + "'", w);
  }
  return std::unique_ptr<ImageWriter>(new ImageWriter(std::move(name), *topic, w, compressed));
}

ImageWriter::~ImageWriter() {
  internal::delete_entity(writer_);
  internal::delete_entity(topic_);
}

Status ImageWriter::write(const Image& image) {
  if (image.data.size() > UINT32_MAX) {
    return Error{ErrorCode::kInvalidInput, "image on '" + dds_topic_ + "' is too large"};
  }
  if (image.compressed != compressed_) {
    return Error{ErrorCode::kInvalidInput,
                 std::string(image.compressed ? "a compressed" : "a raw") + " image given to the " +
                     kind_name(compressed_) + " writer of '" + dds_topic_ + "'"};
  }
  const internal::RosStamp stamp = internal::to_ros_stamp(image.stamp_ns);
  const auto data_length = static_cast<uint32_t>(image.data.size());
  auto* data = const_cast<uint8_t*>(image.data.data());
  dds_return_t rc;
  if (compressed_) {
    RosCompressedImage m{};
    m.header.stamp.sec = stamp.sec;
    m.header.stamp.nanosec = stamp.nanosec;
    m.header.frame_id = const_cast<char*>(image.frame_id.c_str());
    m.format = const_cast<char*>(image.encoding.c_str());
    m.data._length = m.data._maximum = data_length;
    m.data._buffer = data;
    m.data._release = false;
    rc = dds_write(writer_, &m);
  } else {
    RosImage m{};
    m.header.stamp.sec = stamp.sec;
    m.header.stamp.nanosec = stamp.nanosec;
    m.header.frame_id = const_cast<char*>(image.frame_id.c_str());
    m.height = image.height;
    m.width = image.width;
    m.encoding = const_cast<char*>(image.encoding.c_str());
    m.is_bigendian = 0;
    m.step = image.step;
    m.data._length = m.data._maximum = data_length;
    m.data._buffer = data;
    m.data._release = false;
    rc = dds_write(writer_, &m);
  }
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
  if (auto c = internal::check_ros_topic(ros_topic); !c) return c.error();
  const std::string name = ros_to_dds_topic(ros_topic);
  auto topic = internal::create_topic(participant_, descriptor(compressed), name);
  if (!topic) return topic.error();
  internal::Qos qos;
  dds_qset_reliability(qos.get(), to_dds(reliability), kMaxBlockingTime);
  dds_qset_history(qos.get(), DDS_HISTORY_KEEP_LAST, kReaderDepth);
  dds_qset_durability(qos.get(), DDS_DURABILITY_VOLATILE);
  internal::accept_xcdr1_and_2(qos.get());
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
  subs_.emplace(id, Sub{*topic, rd, cond, compressed, name});
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
  std::vector<std::string> rejected;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, sub] : subs_) {
      if (sub.compressed) {
        take_images<RosCompressedImage>(sub.reader, id, sub.dds_topic, taken, rejected);
      } else {
        take_images<RosImage>(sub.reader, id, sub.dds_topic, taken, rejected);
      }
    }
  }
  if (!rejected.empty()) {
    std::lock_guard lock(rejections_mu_);
    rejected_ += rejected.size();
    for (auto& r : rejected) {
      if (rejections_.size() < kMaxKeptRejections) rejections_.push_back(std::move(r));
    }
  }
  for (auto& t : taken) on_image(t.id, std::move(t.image), t.received_ns);
  return taken.size();
}

uint64_t ImageReaderSet::rejected() const {
  std::lock_guard lock(rejections_mu_);
  return rejected_;
}

std::vector<std::string> ImageReaderSet::take_rejections() {
  std::lock_guard lock(rejections_mu_);
  std::vector<std::string> out;
  out.swap(rejections_);
  return out;
}

}  // namespace coedge::net
