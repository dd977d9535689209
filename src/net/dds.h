// The DDS adapter: CoEdge's typed, plain-C++ view of Cyclone DDS 0.10. A DdsDomain owns one
// Cyclone domain (configured from DdsOptions: interface, unicast peers, message sizes for
// 1.2 MB images) and one participant; writers and readers are created on it for the ROS 2
// compatible image topics ("rt" + ROS topic, type sensor_msgs::msg::dds_::Image_ or
// ::CompressedImage_), the ROS 2 vision_msgs result topics (Detection2DArray_,
// Classification_) and the CoEdge control topics
// (rt/coedge/{node_report,plan,source_stats,command,task_ack}, each in its partition:
// node_partition, camera_partition or kMasterPartition, so that DDS Security permissions
// can say who writes what). Received samples are checked against the caps below and carry
// their sender (the writer's partition). With DdsOptions::security the participant uses
// DDS Security (Cyclone's plugins). No Cyclone type appears here; the
// generated IDL types stay in the .cc files. Library errors become Error{kIo, "<what>
// failed: <Cyclone return code>"}; nothing aborts on a library error.
// See docs/DDS.md for the topics, their QoS and how a ROS 2 camera driver publishes to us.
//
// Thread-safety: Cyclone itself is thread-safe, so every writer may be used from one thread
// while a reader of the same DdsDomain is used from another. Each class says which of its
// own calls may run concurrently. Every writer and reader must be destroyed before the
// DdsDomain it was created on (they are children of its participant).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge::net {

// DDS topic names of the control topics.
inline constexpr const char* kNodeReportTopic = "rt/coedge/node_report";
inline constexpr const char* kPlanTopic = "rt/coedge/plan";
inline constexpr const char* kSourceStatsTopic = "rt/coedge/source_stats";
inline constexpr const char* kCommandTopic = "rt/coedge/command";
inline constexpr const char* kTaskAckTopic = "rt/coedge/task_ack";

// The DDS topic of a ROS 2 topic: "/a/b" -> "rt/a/b".
std::string ros_to_dds_topic(const std::string& ros_topic);

// The DDS Security files of one participant (OMG DDS Security 1.1, as SROS2 lays them
// out: security/keystore.h makes them). Absolute paths; `crl` may be empty (no revocations
// known). Cyclone reads them all once, when the participant is created: a revocation takes
// effect in a participant only when it restarts.
struct DdsSecurityFiles {
  std::string identity_ca;      // identity CA certificate (PEM)
  std::string certificate;      // this participant's identity certificate (PEM)
  std::string private_key;      // its private key (PEM)
  std::string permissions_ca;   // permissions CA certificate (PEM)
  std::string governance;       // signed governance document (S/MIME, .p7s)
  std::string permissions;      // signed permissions document of this identity (.p7s)
  std::string crl;              // certificate revocation list of the identity CA (PEM) or ""
};

// Partitions of the topics a participant writes only about itself (node reports and task
// claims: node_partition; a camera's source statistics: camera_partition). DDS Security
// grants topics per partition, not per key value, so a node's permissions allow it exactly
// its own partition, and a reader learns the sender's name from the writer's partition
// (NodeReport::sender, ...). Readers subscribe to every such partition with a wildcard.
std::string node_partition(const std::string& node);      // "coedge.node.<node>"
std::string camera_partition(const std::string& camera);  // "coedge.camera.<camera>"
// The partition of the master's topics (plan, command), writers and readers alike: only the
// master's permissions grant writing there. In the default partition, any identity whose
// permissions allow "rt/*" (SROS2's default for `ros2 security create_enclave`) could write
// a plan or a stop.
inline constexpr const char* kMasterPartition = "coedge.master";

// The highest domain id a secure participant may use: Cyclone 0.10's access control
// refuses governance and permissions documents naming ids above 230 (the RTPS port formula
// alone would allow 232).
inline constexpr uint32_t kMaxSecureDomainId = 230;
// The partitions the readers of those topics subscribe to (DDS partition wildcards).
inline constexpr const char* kAllNodePartitions = "coedge.node.*";
inline constexpr const char* kAllCameraPartitions = "coedge.camera.*";
// Checks a name used in a partition: not empty, at most kMaxSampleName characters, and none
// of DDS's partition wildcard characters * ? [ ] \ (a node named "*" would otherwise write
// in, and be granted, every node's partition). kInvalidInput naming `what` and the name.
Status check_partition_name(const std::string& what, const std::string& name);

// Caps on what a received control or image sample may hold. Cyclone has already
// deserialized a sample when we see it (its own limit is the 64 kB..MaxMessageSize-bounded
// reassembly of one sample); these caps bound the work and memory of converting it and of
// everything downstream that iterates over it. They are far above anything CoEdge writes
// (a cluster of tens of nodes, tens of tasks, ten batch sizes, 1920x1080 frames), so only
// a broken or hostile peer reaches them. A sample over a cap is dropped whole and counted
// (ControlReader::rejected, ImageReaderSet::rejected), never truncated.
inline constexpr size_t kMaxSampleTasks = 4096;        // TaskReport per NodeReport
inline constexpr size_t kMaxSampleLinks = 1024;        // LinkReport per NodeReport
inline constexpr size_t kMaxSampleProfiles = 1024;     // ProfileReport per NodeReport
inline constexpr size_t kMaxSampleBatchSizes = 64;     // exe_ms / batches per profile
inline constexpr size_t kMaxSampleAssignments = 4096;  // Assignment per Plan
inline constexpr size_t kMaxSampleName = 256;          // node, task, camera, model, peer names
inline constexpr size_t kMaxSampleText = 1024;         // other strings (frame_id, encoding, ...)
inline constexpr size_t kMaxImageBytes = size_t{64} << 20;  // Image::data (64 MiB)
// How many rejection reasons a reader keeps between two take_rejections() calls (the
// counter counts them all).
inline constexpr size_t kMaxKeptRejections = 16;

// The folder of Cyclone's DDS Security plugins (libdds_security_{auth,ac,crypto}.so):
// $COEDGE_DDS_SECURITY_PLUGIN_DIR when set and not empty, else the folder CMake found next
// to libddsc at configure time (Debian: <libdir>/libddsc0debian), else "".
std::string dds_security_plugin_dir();

struct DdsOptions {
  // 0..232 (the RTPS port formula limits the id); with `security`, 0..kMaxSecureDomainId
  // (230: Cyclone's access control refuses higher ids).
  uint32_t domain = 0;
  std::string interface_address;  // e.g. "10.77.0.3"; empty = Cyclone's default choice
  std::vector<std::string> peers;  // unicast discovery peers (IP addresses); empty = multicast
  Duration lease = std::chrono::seconds(1);  // liveliness lease of ReportWriter
  // DDS Security (authentication, access control, encryption) with these files; none =
  // an open domain that any participant may join.
  std::optional<DdsSecurityFiles> security;
};

// The Cyclone XML configuration DdsDomain::create uses for `options` (for docs and logs).
// With `security`, a <Security> element: the three plugins by full path (in
// dds_security_plugin_dir()), the files as file: URIs (XML-escaped), <CRL> only when set.
std::string dds_config_xml(const DdsOptions& options);

// One Cyclone domain and one participant. Thread-safe (it is immutable after create()).
class DdsDomain {
 public:
  // Errors: kInvalidInput for a bad domain id, lease or interface address (naming it);
  // with security, kNotFound for a missing security plugin or a missing or unreadable
  // security file (naming it); kIo when Cyclone refuses (e.g. the domain already exists in
  // this process), and with security, when the participant cannot be created because its
  // identity does not validate (a certificate not signed by the identity CA, expired or
  // revoked, a key that does not match) or its permissions are refused (a bad signature,
  // or no grant for this domain): the message names the files and quotes Cyclone's reason.

  static Result<std::unique_ptr<DdsDomain>> create(const DdsOptions& options);
  ~DdsDomain();  // deletes the participant and the domain (and anything left on them)
  DdsDomain(const DdsDomain&) = delete;
  DdsDomain& operator=(const DdsDomain&) = delete;

  const DdsOptions& options() const { return options_; }
  int32_t participant_handle() const { return participant_; }  // internal to src/net

 private:
  DdsDomain(DdsOptions options, int32_t domain, int32_t participant)
      : options_(std::move(options)), domain_(domain), participant_(participant) {}
  DdsOptions options_;
  int32_t domain_;       // Cyclone entity handles (dds_entity_t is int32_t)
  int32_t participant_;
};

enum class Reliability { kReliable, kBestEffort };

// sensor_msgs/msg/Image, or sensor_msgs/msg/CompressedImage, without the ROS types.
// stamp_ns is header.stamp in nanoseconds (CLOCK_REALTIME by ROS convention); is_bigendian
// is always written as 0. A compressed image (`compressed`) is a CompressedImage: `encoding`
// holds its `format` (e.g. "jpeg", "png", "rgb8; jpeg compressed bgr8"), `data` the encoded
// file, and height, width and step are 0. Nothing here is checked: a received image is a
// peer's untrusted bytes (node/cluster/ros_frame.h decodes and checks them).
struct Image {
  int64_t stamp_ns = 0;
  std::string frame_id;
  uint32_t height = 0, width = 0;
  std::string encoding;  // ROS encoding, e.g. "bgr8"; CompressedImage: its format
  uint32_t step = 0;     // bytes per row
  std::vector<uint8_t> data;
  bool compressed = false;
};

// Publishes images on one ROS topic, as sensor_msgs/Image, or as
// sensor_msgs/CompressedImage when created `compressed` (then write() takes only compressed
// images, and the other writer only raw ones: kInvalidInput). QoS: the given reliability,
// KEEP_LAST 1 (a slow reader gets the newest frame, not a backlog), volatile.
// Thread-safety: write() and matched_readers() may be called from any threads concurrently.
class ImageWriter {
 public:
  static Result<std::unique_ptr<ImageWriter>> create(DdsDomain& domain, std::string ros_topic,
                                                     Reliability reliability, bool compressed = false);
  ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  Status write(const Image& image);
  uint64_t matched_readers() const;  // 0 on error
  const std::string& dds_topic() const { return dds_topic_; }

 private:
  ImageWriter(std::string dds_topic, int32_t topic, int32_t writer, bool compressed)
      : dds_topic_(std::move(dds_topic)), topic_(topic), writer_(writer), compressed_(compressed) {}
  std::string dds_topic_;
  int32_t topic_;
  int32_t writer_;
  bool compressed_;  // writes sensor_msgs/CompressedImage
};

// A set of image subscriptions served by ONE thread that calls wait(). add(), remove() and
// wake() may be called from any other thread at any time (a mutex protects the set and a
// guard condition wakes the waiter). QoS per reader: the given reliability (kBestEffort
// also matches reliable writers; kReliable matches only reliable ones), KEEP_LAST 4,
// volatile.
class ImageReaderSet {
 public:
  using OnImage = std::function<void(uint32_t id, Image&& image, int64_t received_ns)>;

  static Result<std::unique_ptr<ImageReaderSet>> create(DdsDomain& domain);
  ~ImageReaderSet();  // only once no wait() is running
  ImageReaderSet(const ImageReaderSet&) = delete;
  ImageReaderSet& operator=(const ImageReaderSet&) = delete;

  // Subscribes to `ros_topic` (type sensor_msgs/CompressedImage when `compressed`, else
  // sensor_msgs/Image; the images it reports say which); returns the id that wait()
  // reports its images with.
  Result<uint32_t> add(std::string ros_topic, Reliability reliability, bool compressed = false);
  // Deletes the reader of `id` (unknown ids are ignored); no image of it is reported after.
  void remove(uint32_t id);
  // Blocks up to `timeout` (kNever = forever) for data, then calls on_image for every sample
  // taken, outside the lock (on_image may call add/remove). received_ns is CLOCK_REALTIME at
  // take time, the clock of Image::stamp_ns. Returns the number of images delivered
  // (0 on timeout, wake() or a Cyclone error).
  size_t wait(Duration timeout, const OnImage& on_image);
  // Makes a concurrent (or the next) wait() return early.
  void wake();
  // Images dropped since creation because they were over a cap (kMaxImageBytes,
  // kMaxSampleText), and why, for those since the last call (at most kMaxKeptRejections),
  // as ControlReader's. Any thread.
  uint64_t rejected() const;
  std::vector<std::string> take_rejections();

 private:
  ImageReaderSet(int32_t participant, int32_t waitset, int32_t guard)
      : participant_(participant), waitset_(waitset), guard_(guard) {}
  struct Sub {
    int32_t topic;
    int32_t reader;
    int32_t condition;
    bool compressed;  // a sensor_msgs/CompressedImage reader
    std::string dds_topic;
  };
  int32_t participant_;
  int32_t waitset_;
  int32_t guard_;
  std::mutex mu_;  // guards subs_ and next_id_, and serializes takes with remove()
  std::unordered_map<uint32_t, Sub> subs_;
  uint32_t next_id_ = 1;
  mutable std::mutex rejections_mu_;  // guards the two below
  uint64_t rejected_ = 0;
  std::vector<std::string> rejections_;
};

// ---- Results as ROS 2 vision_msgs (Humble, vision_msgs 4.x; idl/vision_msgs.idl) ----
// Plain C++ views of vision_msgs/msg/{ObjectHypothesis, Detection2D, Detection2DArray,
// Classification}. What they leave out is written as a ROS 2 node that never set it would:
// every Detection2D's own header is a copy of its array's, bbox.center.theta is 0, each
// hypothesis' pose is the identity (position 0, orientation w=1, the .msg default) with a
// zero covariance.

struct ObjectHypothesis {
  std::string class_id;  // the class's name, or its number as text when it has none
  double score = 0;
};

struct BoundingBox2D {  // pixels of the frame the results are for
  double center_x = 0, center_y = 0;
  double size_x = 0, size_y = 0;
};

struct Detection2D {
  std::vector<ObjectHypothesis> results;
  BoundingBox2D bbox;
  std::string id;
};

struct Detection2DArray {
  int64_t stamp_ns = 0;  // header: the stamp and frame_id of the frame it is for
  std::string frame_id;
  std::vector<Detection2D> detections;
};

struct Classification {
  int64_t stamp_ns = 0;  // header, as above
  std::string frame_id;
  std::vector<ObjectHypothesis> results;
};

// Writers of one ROS topic each, with ROS 2's default QoS (reliable, KEEP_LAST 10,
// volatile), XCDR1. Thread-safety: any threads, concurrently.
class Detection2DArrayWriter {
 public:
  static Result<std::unique_ptr<Detection2DArrayWriter>> create(DdsDomain& domain, std::string ros_topic);
  ~Detection2DArrayWriter();
  Detection2DArrayWriter(const Detection2DArrayWriter&) = delete;
  Detection2DArrayWriter& operator=(const Detection2DArrayWriter&) = delete;
  Status write(const Detection2DArray& message);
  uint64_t matched_readers() const;  // 0 on error

 private:
  Detection2DArrayWriter(int32_t topic, int32_t writer) : topic_(topic), writer_(writer) {}
  int32_t topic_;
  int32_t writer_;
};

class ClassificationWriter {
 public:
  static Result<std::unique_ptr<ClassificationWriter>> create(DdsDomain& domain, std::string ros_topic);
  ~ClassificationWriter();
  ClassificationWriter(const ClassificationWriter&) = delete;
  ClassificationWriter& operator=(const ClassificationWriter&) = delete;
  Status write(const Classification& message);
  uint64_t matched_readers() const;  // 0 on error

 private:
  ClassificationWriter(int32_t topic, int32_t writer) : topic_(topic), writer_(writer) {}
  int32_t topic_;
  int32_t writer_;
};

// Readers of the same (same QoS), for tests and tools: take() returns the messages
// received since the last call, oldest first. Thread-safety: any threads.
class Detection2DArrayReader {
 public:
  static Result<std::unique_ptr<Detection2DArrayReader>> create(DdsDomain& domain, std::string ros_topic);
  ~Detection2DArrayReader();
  Detection2DArrayReader(const Detection2DArrayReader&) = delete;
  Detection2DArrayReader& operator=(const Detection2DArrayReader&) = delete;
  std::vector<Detection2DArray> take();

 private:
  Detection2DArrayReader(int32_t topic, int32_t reader) : topic_(topic), reader_(reader) {}
  int32_t topic_;
  int32_t reader_;
};

class ClassificationReader {
 public:
  static Result<std::unique_ptr<ClassificationReader>> create(DdsDomain& domain, std::string ros_topic);
  ~ClassificationReader();
  ClassificationReader(const ClassificationReader&) = delete;
  ClassificationReader& operator=(const ClassificationReader&) = delete;
  std::vector<Classification> take();

 private:
  ClassificationReader(int32_t topic, int32_t reader) : topic_(topic), reader_(reader) {}
  int32_t topic_;
  int32_t reader_;
};

// ---- CoEdge control messages (module coedge::msg in idl/coedge.idl) ----

struct TaskReport {
  std::string task;
  uint64_t released = 0, met = 0, overdue = 0, dropped = 0;  // cumulative since the node
                                                              // started running the task
  double latency_sum_ms = 0;       // cumulative over met + overdue jobs
  double node_latency_sum_ms = 0;  // cumulative; arrival at the executing node to end
  uint32_t queue_length = 0;
};

struct LinkReport {
  std::string peer;
  double mbps = 0;
  std::string method;  // "probe" or "passive"
};

struct ProfileReport {
  std::string model;
  std::vector<double> exe_ms;  // batch 1..10 (sent as float: ~7 significant digits)
  // Per batch size, how many batches exe_ms[b - 1] is the mean of, when the node measured
  // it; empty when exe_ms is a profile. Sent as 32-bit counts (saturating at 2^32 - 1).
  std::vector<uint64_t> batches;
  double pre_ms = 0;
  double post_ms = 0;
};

struct NodeReport {  // key: node
  std::string node;
  uint64_t seq = 0;
  int64_t stamp_ns = 0;  // CLOCK_REALTIME
  // The plan the node runs: the epoch and version of the last plan it applied (0, 0: none).
  uint64_t plan_epoch = 0;
  uint64_t plan_version = 0;
  std::vector<TaskReport> tasks;
  std::vector<LinkReport> links;
  std::vector<ProfileReport> profiles;
  // The node's last report, sent after its drain: every job it released is closed and
  // counted in `tasks`; the node stops. A master needs no more from it.
  bool final_report = false;
  // Received only: the name in the sending writer's partition (node_partition), i.e. the
  // node whose permissions let it write; "" when the writer has no such partition or its
  // discovery data could not be read. A report whose `node` differs is another node's
  // forgery (the master refuses it).
  std::string sender;
};

struct Assignment {
  std::string task;
  std::string node;  // empty = unplaced
};

struct Plan {  // no key: a single instance
  uint64_t version = 0;      // 1, 2, ... within one epoch
  int64_t effective_ns = 0;  // CLOCK_REALTIME
  std::vector<Assignment> assignments;
  // The publishing master's epoch: its start (CLOCK_REALTIME ns), so that a restarted
  // master, whose versions start again at 1, is recognised as newer (plan_supersedes).
  uint64_t epoch = 0;
};

// Whether a node that last applied plan (last_epoch, last_version) takes plan (epoch,
// version): a plan of a newer epoch (a restarted master) whatever its version; within one
// epoch, only a higher version; never one of an older epoch (a stale master's).
constexpr bool plan_supersedes(uint64_t last_epoch, uint64_t last_version, uint64_t epoch, uint64_t version) {
  return epoch != last_epoch ? epoch > last_epoch : version > last_version;
}

struct SourceStats {  // key: task
  std::string task;
  std::string node;
  uint64_t published = 0;
  int64_t last_stamp_ns = 0;
  std::string sender;  // received only: the camera named by the writer's camera_partition
};

// A node's claim of a task it was given (ready-based hand-over, node/cluster/handover_table.h):
// its workers and model are ready, and it takes the frames captured from from_ns on.
struct TaskAck {  // key: task (the newest claim per task)
  std::string task;
  std::string node;
  uint64_t epoch = 0;    // of the plan that gave the task (Plan::epoch, Plan::version)
  uint64_t version = 0;
  int64_t from_ns = 0;   // CLOCK_REALTIME
  std::string sender;    // received only: the node named by the writer's node_partition
};

struct Command {  // no key. {"stop", ""} stops every agent
  std::string command;
  std::string node;  // "" = all
};

// A node's report writer became alive (alive=true) or lost liveliness / went away
// (alive=false).
struct LivelinessEvent {
  std::string node;
  bool alive = false;
};

namespace detail {
// A writer of one control topic (the shared part of the typed writers below).
class ControlWriter {
 public:
  ControlWriter(const ControlWriter&) = delete;
  ControlWriter& operator=(const ControlWriter&) = delete;
  uint64_t matched_readers() const;  // 0 on error

 protected:
  ~ControlWriter();
  ControlWriter(int32_t topic, int32_t writer) : topic_(topic), writer_(writer) {}
  int32_t topic_;
  int32_t writer_;
};

// What a control reader keeps besides its Cyclone entities: the senders of its matched
// writers, its rejections (internal to src/net).
struct ReaderState;

// A reader of one control topic. A sample that cannot be converted (over a cap of dds.h)
// is dropped and counted here; the readers' take() never returns it.
class ControlReader {
 public:
  ControlReader(const ControlReader&) = delete;
  ControlReader& operator=(const ControlReader&) = delete;
  // Samples dropped since creation because they were over a cap.
  uint64_t rejected() const;
  // Why, for those dropped since the last call (at most kMaxKeptRejections; the counter
  // has them all), oldest first: "node report from writer partition 'coedge.node.n1':
  // tasks has 5000 entries, more than the cap 4096".
  std::vector<std::string> take_rejections();

 protected:
  ~ControlReader();
  ControlReader(int32_t topic, int32_t reader, std::unique_ptr<ReaderState> state);
  int32_t topic_;
  int32_t reader_;
  std::unique_ptr<ReaderState> state_;
};
}  // namespace detail

// Thread-safety of all control writers: any threads, concurrently. Of all control
// readers: any threads (take() and take_liveliness() lock internally); every sample is
// returned by exactly one take().

// rt/coedge/node_report: reliable, KEEP_LAST 1 per node, volatile, liveliness AUTOMATIC
// with lease = DdsOptions::lease, so the master sees a killed node within about a lease.
// The writer of node `node` writes in node_partition(node) only (its permissions grant it
// that partition); kInvalidInput when check_partition_name refuses `node`. Its readers
// subscribe to kAllNodePartitions.
class ReportWriter : public detail::ControlWriter {
 public:
  static Result<std::unique_ptr<ReportWriter>> create(DdsDomain& domain, const std::string& node);
  Status write(const NodeReport& report);

 private:
  using ControlWriter::ControlWriter;
};

class ReportReader : public detail::ControlReader {
 public:
  static Result<std::unique_ptr<ReportReader>> create(DdsDomain& domain);
  ~ReportReader();
  // The reports received since the last call, oldest first, each with its `sender`.
  std::vector<NodeReport> take();
  // Liveliness changes since the last call, in order: alive=true when a node's first
  // report arrives or it comes back after being reported dead; alive=false when its writer
  // lost liveliness, was deleted (disposed) or vanished (no writers). Each change once.
  std::vector<LivelinessEvent> take_liveliness();

  struct State;  // internal

 private:
  ReportReader(int32_t topic, int32_t reader, std::unique_ptr<detail::ReaderState> base,
               std::unique_ptr<State> state);
  void pump();  // moves everything Cyclone holds into report_ (with report_->mu held)
  std::unique_ptr<State> report_;
};

// rt/coedge/plan: reliable, TRANSIENT_LOCAL, KEEP_LAST 1, so a reader created after the
// write still gets the current plan. Partition kMasterPartition (writer and readers).
class PlanWriter : public detail::ControlWriter {
 public:
  static Result<std::unique_ptr<PlanWriter>> create(DdsDomain& domain);
  Status write(const Plan& plan);

 private:
  using ControlWriter::ControlWriter;
};

class PlanReader : public detail::ControlReader {
 public:
  static Result<std::unique_ptr<PlanReader>> create(DdsDomain& domain);
  // The newest plan received since the last call, if any.
  std::optional<Plan> take();

 private:
  using ControlReader::ControlReader;
};

// rt/coedge/source_stats: reliable, KEEP_LAST 1 per task, volatile. The writer of camera
// `camera` writes in camera_partition(camera) only; readers subscribe to
// kAllCameraPartitions.
class SourceStatsWriter : public detail::ControlWriter {
 public:
  static Result<std::unique_ptr<SourceStatsWriter>> create(DdsDomain& domain,
                                                           const std::string& camera);
  Status write(const SourceStats& stats);

 private:
  using ControlWriter::ControlWriter;
};

class SourceStatsReader : public detail::ControlReader {
 public:
  static Result<std::unique_ptr<SourceStatsReader>> create(DdsDomain& domain);
  // New samples, oldest first (at most one per task), each with its `sender`.
  std::vector<SourceStats> take();

 private:
  using ControlReader::ControlReader;
};

// rt/coedge/task_ack: reliable, TRANSIENT_LOCAL, KEEP_LAST 1 per task (a node or camera
// that starts late still sees every task's newest claim). The writer of node `node` writes
// in node_partition(node) only; readers subscribe to kAllNodePartitions.
class TaskAckWriter : public detail::ControlWriter {
 public:
  static Result<std::unique_ptr<TaskAckWriter>> create(DdsDomain& domain, const std::string& node);
  Status write(const TaskAck& ack);

 private:
  using ControlWriter::ControlWriter;
};

class TaskAckReader : public detail::ControlReader {
 public:
  static Result<std::unique_ptr<TaskAckReader>> create(DdsDomain& domain);
  // New claims, oldest first (at most one per task), each with its `sender`.
  std::vector<TaskAck> take();

 private:
  using ControlReader::ControlReader;
};

// rt/coedge/command: reliable, TRANSIENT_LOCAL, KEEP_LAST 1 (an agent that starts late still
// sees the last command). Partition kMasterPartition (writer and readers).
class CommandWriter : public detail::ControlWriter {
 public:
  static Result<std::unique_ptr<CommandWriter>> create(DdsDomain& domain);
  Status write(const Command& command);

 private:
  using ControlWriter::ControlWriter;
};

class CommandReader : public detail::ControlReader {
 public:
  static Result<std::unique_ptr<CommandReader>> create(DdsDomain& domain);
  std::vector<Command> take();  // new commands (at most the newest one)

 private:
  using ControlReader::ControlReader;
};

}  // namespace coedge::net
