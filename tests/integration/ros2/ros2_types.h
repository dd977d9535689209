// ROS 2 Humble messages as rmw_fastrtps_cpp puts them on the wire, for the Fast DDS test
// peer (coedge-ros2-peer): sensor_msgs/msg/Image and CompressedImage (published),
// vision_msgs/msg/Detection2DArray and Classification (vision_msgs 4.1.1, subscribed).
// Each is a hand-written Fast DDS TopicDataType, as rmw_fastrtps' typesupport registers
// them: DDS type name "<pkg>::msg::dds_::<Name>_", keyless, plain CDR (XCDR1) with the
// 4-byte encapsulation header, fields in .msg order with nested messages inline, and NO
// TypeObject (Cyclone 0.10 refuses a Fast DDS reader that announces type information:
// docs/DDS.md). Written against Debian's Fast CDR 1.0 API (libfastcdr-dev 1.0.26) and
// Fast DDS 2.9. These are NOT CoEdge's types: CoEdge's side is Cyclone's IDL
// (src/net/idl), written separately from the same .msg files; the end-to-end tests are
// what shows that both agree.
//
// The .msg files (ROS 2 Humble; vision_msgs tag 4.1.1):
//   std_msgs/Header: builtin_interfaces/Time stamp {int32 sec, uint32 nanosec}; string frame_id
//   sensor_msgs/Image: Header header; uint32 height; uint32 width; string encoding;
//     uint8 is_bigendian; uint32 step; uint8[] data
//   sensor_msgs/CompressedImage: Header header; string format; uint8[] data
//   vision_msgs/Detection2DArray: Header header; Detection2D[] detections
//   vision_msgs/Detection2D: Header header; ObjectHypothesisWithPose[] results;
//     BoundingBox2D bbox; string id
//   vision_msgs/ObjectHypothesisWithPose: ObjectHypothesis hypothesis;
//     geometry_msgs/PoseWithCovariance pose
//   vision_msgs/ObjectHypothesis: string class_id; float64 score
//   geometry_msgs/PoseWithCovariance: Pose pose {Point position {float64 x, y, z};
//     Quaternion orientation {float64 x, y, z, w}}; float64[36] covariance
//   vision_msgs/BoundingBox2D: Pose2D center {Point2D position {float64 x, y};
//     float64 theta}; float64 size_x; float64 size_y
//   vision_msgs/Classification: Header header; ObjectHypothesis[] results
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <fastcdr/Cdr.h>
#include <fastcdr/FastBuffer.h>
#include <fastcdr/exceptions/Exception.h>
#include <fastdds/dds/topic/TopicDataType.hpp>

namespace coedge::ros2peer {

struct Header {
  int32_t sec = 0;
  uint32_t nanosec = 0;
  std::string frame_id;
};

struct Image {
  Header header;
  uint32_t height = 0, width = 0;
  std::string encoding;
  uint8_t is_bigendian = 0;
  uint32_t step = 0;
  std::vector<uint8_t> data;
};

struct CompressedImage {
  Header header;
  std::string format;
  std::vector<uint8_t> data;
};

struct ObjectHypothesis {
  std::string class_id;
  double score = 0;
};

struct ObjectHypothesisWithPose {
  ObjectHypothesis hypothesis;
  std::array<double, 3> position{};     // geometry_msgs/Point
  std::array<double, 4> orientation{};  // geometry_msgs/Quaternion x, y, z, w
  std::array<double, 36> covariance{};
};

struct BoundingBox2D {
  double center_x = 0, center_y = 0, theta = 0;
  double size_x = 0, size_y = 0;
};

struct Detection2D {
  Header header;
  std::vector<ObjectHypothesisWithPose> results;
  BoundingBox2D bbox;
  std::string id;
};

struct Detection2DArray {
  Header header;
  std::vector<Detection2D> detections;
};

struct Classification {
  Header header;
  std::vector<ObjectHypothesis> results;
};

// ---- field-by-field CDR (Fast CDR aligns each primitive to its size, from the start of
// the data after the encapsulation header, as XCDR1 does) ----
using eprosima::fastcdr::Cdr;

inline void put(Cdr& c, const Header& h) { c << h.sec << h.nanosec << h.frame_id; }
inline void get(Cdr& c, Header& h) { c >> h.sec >> h.nanosec >> h.frame_id; }

inline void put(Cdr& c, const Image& m) {
  put(c, m.header);
  c << m.height << m.width << m.encoding << m.is_bigendian << m.step << m.data;
}
inline void get(Cdr& c, Image& m) {
  get(c, m.header);
  c >> m.height >> m.width >> m.encoding >> m.is_bigendian >> m.step >> m.data;
}
inline void put(Cdr& c, const CompressedImage& m) {
  put(c, m.header);
  c << m.format << m.data;
}
inline void get(Cdr& c, CompressedImage& m) {
  get(c, m.header);
  c >> m.format >> m.data;
}
inline void put(Cdr& c, const ObjectHypothesis& h) { c << h.class_id << h.score; }
inline void get(Cdr& c, ObjectHypothesis& h) { c >> h.class_id >> h.score; }
inline void put(Cdr& c, const ObjectHypothesisWithPose& h) {
  put(c, h.hypothesis);
  for (double v : h.position) c << v;
  for (double v : h.orientation) c << v;
  for (double v : h.covariance) c << v;
}
inline void get(Cdr& c, ObjectHypothesisWithPose& h) {
  get(c, h.hypothesis);
  for (double& v : h.position) c >> v;
  for (double& v : h.orientation) c >> v;
  for (double& v : h.covariance) c >> v;
}
inline void put(Cdr& c, const Detection2D& d) {
  put(c, d.header);
  c << static_cast<uint32_t>(d.results.size());
  for (const auto& r : d.results) put(c, r);
  c << d.bbox.center_x << d.bbox.center_y << d.bbox.theta << d.bbox.size_x << d.bbox.size_y << d.id;
}
inline void get(Cdr& c, Detection2D& d) {
  get(c, d.header);
  uint32_t n = 0;
  c >> n;
  d.results.resize(n);
  for (auto& r : d.results) get(c, r);
  c >> d.bbox.center_x >> d.bbox.center_y >> d.bbox.theta >> d.bbox.size_x >> d.bbox.size_y >> d.id;
}
inline void put(Cdr& c, const Detection2DArray& m) {
  put(c, m.header);
  c << static_cast<uint32_t>(m.detections.size());
  for (const auto& d : m.detections) put(c, d);
}
inline void get(Cdr& c, Detection2DArray& m) {
  get(c, m.header);
  uint32_t n = 0;
  c >> n;
  m.detections.resize(n);
  for (auto& d : m.detections) get(c, d);
}
inline void put(Cdr& c, const Classification& m) {
  put(c, m.header);
  c << static_cast<uint32_t>(m.results.size());
  for (const auto& r : m.results) put(c, r);
}
inline void get(Cdr& c, Classification& m) {
  get(c, m.header);
  uint32_t n = 0;
  c >> n;
  m.results.resize(n);
  for (auto& r : m.results) get(c, r);
}

// The serialized size of a message with its encapsulation header: a dry run of put() into
// a buffer that grows (Fast CDR's FastBuffer without a fixed buffer reallocates).
template <class M>
uint32_t serialized_size(const M& m) {
  eprosima::fastcdr::FastBuffer fb;  // dynamic
  Cdr c(fb, Cdr::DEFAULT_ENDIAN, Cdr::DDS_CDR);
  c.serialize_encapsulation();
  put(c, m);
  return static_cast<uint32_t>(c.getSerializedDataLength());
}

// One TopicDataType per message: M with put()/get() above, under ROS 2's DDS type name.
template <class M>
class RosType : public eprosima::fastdds::dds::TopicDataType {
 public:
  explicit RosType(const char* dds_type_name) {
    setName(dds_type_name);
    // Unbounded types: a small preallocated size; the real size comes from the size
    // provider (with PREALLOCATED_WITH_REALLOC history memory, as rmw_fastrtps uses).
    m_typeSize = 4 + 64;
    m_isGetKeyDefined = false;
  }
  bool serialize(void* data, eprosima::fastrtps::rtps::SerializedPayload_t* payload) override {
    eprosima::fastcdr::FastBuffer fb(reinterpret_cast<char*>(payload->data), payload->max_size);
    Cdr ser(fb, Cdr::DEFAULT_ENDIAN, Cdr::DDS_CDR);
    payload->encapsulation = ser.endianness() == Cdr::BIG_ENDIANNESS ? CDR_BE : CDR_LE;
    try {
      ser.serialize_encapsulation();
      put(ser, *static_cast<const M*>(data));
    } catch (eprosima::fastcdr::exception::Exception&) {
      return false;
    }
    payload->length = static_cast<uint32_t>(ser.getSerializedDataLength());
    return true;
  }
  bool deserialize(eprosima::fastrtps::rtps::SerializedPayload_t* payload, void* data) override {
    eprosima::fastcdr::FastBuffer fb(reinterpret_cast<char*>(payload->data), payload->length);
    Cdr deser(fb, Cdr::DEFAULT_ENDIAN, Cdr::DDS_CDR);
    try {
      deser.read_encapsulation();
      payload->encapsulation = deser.endianness() == Cdr::BIG_ENDIANNESS ? CDR_BE : CDR_LE;
      *static_cast<M*>(data) = M{};
      get(deser, *static_cast<M*>(data));
    } catch (eprosima::fastcdr::exception::Exception&) {
      return false;
    }
    return true;
  }
  std::function<uint32_t()> getSerializedSizeProvider(void* data) override {
    return [data] { return serialized_size(*static_cast<const M*>(data)); };
  }
  void* createData() override { return new M(); }
  void deleteData(void* data) override { delete static_cast<M*>(data); }
  bool getKey(void*, eprosima::fastrtps::rtps::InstanceHandle_t*, bool) override { return false; }
};

inline RosType<Image>* image_type() { return new RosType<Image>("sensor_msgs::msg::dds_::Image_"); }
inline RosType<CompressedImage>* compressed_image_type() {
  return new RosType<CompressedImage>("sensor_msgs::msg::dds_::CompressedImage_");
}
inline RosType<Detection2DArray>* detection2d_array_type() {
  return new RosType<Detection2DArray>("vision_msgs::msg::dds_::Detection2DArray_");
}
inline RosType<Classification>* classification_type() {
  return new RosType<Classification>("vision_msgs::msg::dds_::Classification_");
}

}  // namespace coedge::ros2peer
