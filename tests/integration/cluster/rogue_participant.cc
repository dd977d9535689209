// coedge-test-rogue: a hostile participant on a CoEdge cluster's DDS domain, for the
// rogue-participant test (rogue_participant_test.cc) and for trying an attack by hand
// (docs/SECURITY.md). It joins the domain, without credentials or with an SROS2-style
// enclave folder (--enclave: a stolen, a valid or a revoked identity), and for --duration
// publishes what a peer must not be able to steer the cluster with:
//   --plan NODE      a plan moving every --task to NODE, of a newer epoch than the master's
//   --stop           {"stop", ""} on rt/coedge/command
//   --report-about N forged node reports about N: NaN latencies, decreasing and absurd
//                    counters, written in node_partition(--report-as, default N)
//   --frames TOPIC   frames on a camera's ROS image topic, every other one malformed
//                    (height x step far beyond its data)
// It prints one JSON document on stdout saying what it managed to do, per attack: whether
// the topic and writer could be created (a participant's own permissions refuse a writer
// locally: "not allowed by security"), the most readers its writer ever matched, the samples
// written and write errors. So a test tells "refused" (created, but matched no reader, or
// not allowed) from "never tried" (the participant could not even be created). Exit code 0
// whenever the JSON was printed, whatever the attacks achieved; 2 for bad arguments.
//
// It uses the generated IDL types and Cyclone's C API directly (not net/'s writers): an
// attacker chooses its partitions, QoS and field values freely, which the typed writers do
// not allow. net::DdsDomain only creates the participant, with DdsOptions::security.
#include <dds/dds.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "coedge.h"
#include "net/dds.h"
#include "ros_image.h"

namespace {

using nlohmann::json;
using coedge::net::DdsDomain;
using coedge::net::DdsOptions;
using coedge::net::DdsSecurityFiles;

int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

char* borrow(const std::string& s) { return const_cast<char*>(s.c_str()); }

// One attack's writer and what happened to it.
struct Attack {
  Attack(std::string n, std::string t, std::string p)
      : name(std::move(n)), topic(std::move(t)), partition(std::move(p)) {}
  std::string name;
  std::string topic;
  std::string partition;  // "" = the default partition
  dds_entity_t publisher = 0, writer = 0;
  std::string error;      // why the topic, publisher or writer could not be created
  uint32_t matched_max = 0;
  uint64_t written = 0, write_errors = 0;
  std::string last_write_error;

  json to_json() const {
    json j = {{"topic", topic}, {"partition", partition}, {"created", writer > 0},
              {"matched_readers_max", matched_max}, {"written", written}, {"write_errors", write_errors}};
    if (!error.empty()) j["error"] = error;
    if (!last_write_error.empty()) j["last_write_error"] = last_write_error;
    return j;
  }
  void poll_matched() {
    dds_publication_matched_status_t st{};
    if (writer > 0 && dds_get_publication_matched_status(writer, &st) >= 0)
      matched_max = std::max(matched_max, st.current_count);
  }
  void record(dds_return_t rc) {
    if (rc >= 0) {
      ++written;
    } else {
      ++write_errors;
      last_write_error = dds_strretcode(rc);
    }
  }
};

// Creates a writer of `desc` on `attack.topic` in `attack.partition`: reliable, KEEP_LAST 1,
// transient-local when `durable` (what a plan or a command reader asks for), automatic
// liveliness with a 1 s lease (what a report reader accepts).
void create_writer(dds_entity_t participant, const dds_topic_descriptor_t* desc, bool durable, Attack& attack) {
  const dds_entity_t topic = dds_create_topic(participant, desc, attack.topic.c_str(), nullptr, nullptr);
  if (topic < 0) {
    attack.error = std::string("creating the topic: ") + dds_strretcode(topic);
    return;
  }
  dds_qos_t* pq = dds_create_qos();
  if (!attack.partition.empty()) {
    const char* parts[] = {attack.partition.c_str()};
    dds_qset_partition(pq, 1, parts);
  }
  attack.publisher = dds_create_publisher(participant, pq, nullptr);
  dds_delete_qos(pq);
  if (attack.publisher < 0) {
    attack.error = std::string("creating the publisher: ") + dds_strretcode(attack.publisher);
    attack.publisher = 0;
    return;
  }
  dds_qos_t* q = dds_create_qos();
  dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
  dds_qset_history(q, DDS_HISTORY_KEEP_LAST, 1);
  dds_qset_durability(q, durable ? DDS_DURABILITY_TRANSIENT_LOCAL : DDS_DURABILITY_VOLATILE);
  dds_qset_liveliness(q, DDS_LIVELINESS_AUTOMATIC, DDS_SECS(1));
  dds_data_representation_id_t rep[] = {DDS_DATA_REPRESENTATION_XCDR1};
  dds_qset_data_representation(q, 1, rep);
  const dds_entity_t w = dds_create_writer(attack.publisher, topic, q, nullptr);
  dds_delete_qos(q);
  if (w < 0) {
    attack.error = std::string("creating the writer: ") + dds_strretcode(w);
    return;
  }
  attack.writer = w;
}

// The files of an SROS2 enclave folder (what `coedge keys` makes per identity, or a copy of
// one); the CRL is the verifier's business, not the rogue's.
DdsSecurityFiles enclave_files(const std::string& dir) {
  const std::string d = std::filesystem::absolute(dir).string() + "/";
  return DdsSecurityFiles{d + "identity_ca.cert.pem", d + "cert.pem",      d + "key.pem", d + "permissions_ca.cert.pem",
                          d + "governance.p7s",       d + "permissions.p7s", ""};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coedge-test-rogue: a hostile DDS participant (tests/integration/cluster/rogue_participant.cc)"};
  uint32_t domain = 0;
  std::string interface_address, enclave, plan_node, report_about, report_as, frames_topic, control_partition;
  std::vector<std::string> peers, tasks;
  double duration_s = 10, every_s = 0.1;
  bool stop = false;
  app.add_option("--domain", domain, "DDS domain id")->check(CLI::Range(0, 232));
  app.add_option("--dds-interface", interface_address, "the interface address DDS uses");
  app.add_option("--dds-peer", peers, "unicast discovery peer (repeat)");
  app.add_option("--enclave", enclave, "credentials: an SROS2 enclave folder (cert.pem, key.pem, permissions.p7s, "
                                       "identity_ca.cert.pem, permissions_ca.cert.pem, governance.p7s); default none")
      ->check(CLI::ExistingDirectory);
  app.add_option("--duration", duration_s, "seconds of attack")->check(CLI::Range(0.0, 3600.0));
  app.add_option("--every", every_s, "seconds between two writes of each attack")->check(CLI::Range(0.001, 60.0));
  app.add_option("--plan", plan_node, "publish a plan moving every --task to this node");
  app.add_option("--task", tasks, "a task the plan moves (repeat)");
  app.add_flag("--stop", stop, "publish {\"stop\", \"\"} on rt/coedge/command");
  control_partition = coedge::net::kMasterPartition;  // where the master writes them (readers subscribe there)
  app.add_option("--control-partition", control_partition, "partition of the plan and command writers")
      ->capture_default_str();
  app.add_option("--report-about", report_about, "publish forged node reports about this node");
  app.add_option("--report-as", report_as, "write them in this node's partition (default: --report-about's)");
  app.add_option("--frames", frames_topic, "publish frames on this ROS image topic, e.g. /coedge/n1/A/image_raw");
  CLI11_PARSE(app, argc, argv);
  if (!plan_node.empty() && tasks.empty()) {
    std::fprintf(stderr, "coedge-test-rogue: --plan needs the tasks to move (--task)\n");
    return 2;
  }
  if (report_as.empty()) report_as = report_about;

  json out = {{"credentials", enclave.empty() ? "none" : "enclave " + enclave}};
  DdsOptions options;
  options.domain = domain;
  options.interface_address = interface_address;
  options.peers = peers;
  if (!enclave.empty()) options.security = enclave_files(enclave);
  auto dds = DdsDomain::create(options);
  if (!dds.ok()) {
    out["participant"] = "error: " + dds.error().message;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  out["participant"] = "created";
  const dds_entity_t participant = (*dds)->participant_handle();

  std::vector<Attack> attacks;
  Attack plan{"plan", coedge::net::kPlanTopic, control_partition};
  Attack command{"stop", coedge::net::kCommandTopic, control_partition};
  Attack report{"reports", coedge::net::kNodeReportTopic,
                report_as.empty() ? "" : coedge::net::node_partition(report_as)};
  Attack frames{"frames", frames_topic.empty() ? "" : coedge::net::ros_to_dds_topic(frames_topic), ""};
  if (!plan_node.empty()) create_writer(participant, &coedge_msg_Plan_desc, true, plan);
  if (stop) create_writer(participant, &coedge_msg_Command_desc, true, command);
  if (!report_about.empty()) create_writer(participant, &coedge_msg_NodeReport_desc, false, report);
  if (!frames_topic.empty()) create_writer(participant, &sensor_msgs_msg_dds__Image__desc, false, frames);

  // The samples. The plan's epoch is the rogue's start, so that it supersedes the running
  // master's (a master's epoch is its own start), as a restarted master's would.
  const uint64_t epoch = static_cast<uint64_t>(realtime_ns());
  std::vector<coedge_msg_Assignment> assignments;
  for (const std::string& t : tasks) assignments.push_back(coedge_msg_Assignment{borrow(t), borrow(plan_node)});
  const std::string stop_text = "stop", all_nodes;
  const std::string bgr8 = "bgr8", frame_id = "rogue";
  std::vector<uint8_t> pixels(64 * 48 * 3, 0x55);
  const double nan = std::numeric_limits<double>::quiet_NaN();

  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration_s);
  uint64_t round = 0;
  while (std::chrono::steady_clock::now() < until) {
    ++round;
    if (plan.writer > 0) {
      coedge_msg_Plan m{};
      m.version = 1000000 + round;
      m.effective_ns = realtime_ns();
      m.epoch = epoch;
      m.assignments._buffer = assignments.data();
      m.assignments._length = m.assignments._maximum = static_cast<uint32_t>(assignments.size());
      m.assignments._release = false;
      plan.record(dds_write(plan.writer, &m));
    }
    if (command.writer > 0) {
      coedge_msg_Command m{borrow(stop_text), borrow(all_nodes)};
      command.record(dds_write(command.writer, &m));
    }
    if (report.writer > 0) {
      // Counters that go down every round, absurd ones, and NaN latencies.
      std::vector<coedge_msg_TaskReport> reports;
      for (const std::string& t : tasks) {
        const uint64_t released = round % 2 == 0 ? 1000000 - round : std::numeric_limits<uint64_t>::max();
        reports.push_back(coedge_msg_TaskReport{borrow(t), released, released / 2, 0, 0, nan, -1.0, 1u << 30});
      }
      const std::string any_task = "A";
      if (reports.empty()) reports.push_back(coedge_msg_TaskReport{borrow(any_task), 1000000 - round, 0, 0, 0, nan, nan, 0});
      coedge_msg_NodeReport m{};
      m.node = borrow(report_about);
      m.seq = 1000000 - round;  // decreasing
      m.stamp_ns = realtime_ns();
      m.tasks._buffer = reports.data();
      m.tasks._length = m.tasks._maximum = static_cast<uint32_t>(reports.size());
      m.tasks._release = false;
      report.record(dds_write(report.writer, &m));
    }
    if (frames.writer > 0) {
      sensor_msgs_msg_dds__Image_ m{};
      const int64_t now = realtime_ns();
      m.header.stamp.sec = static_cast<int32_t>(now / 1000000000);
      m.header.stamp.nanosec = static_cast<uint32_t>(now % 1000000000);
      m.header.frame_id = borrow(frame_id);
      m.encoding = borrow(bgr8);
      m.data._buffer = pixels.data();
      m.data._release = false;
      if (round % 2 == 0) {  // a well-formed small frame
        m.height = 48;
        m.width = 64;
        m.step = 64 * 3;
        m.data._length = m.data._maximum = static_cast<uint32_t>(pixels.size());
      } else {  // malformed: height x step is 4 GB, the data 16 bytes
        m.height = 65536;
        m.width = 21845;
        m.step = 65535;
        m.data._length = m.data._maximum = 16;
      }
      frames.record(dds_write(frames.writer, &m));
    }
    for (Attack* a : {&plan, &command, &report, &frames}) a->poll_matched();
    std::this_thread::sleep_for(std::chrono::duration<double>(every_s));
  }
  json j = json::object();
  if (!plan_node.empty()) j["plan"] = plan.to_json();
  if (stop) j["stop"] = command.to_json();
  if (!report_about.empty()) j["reports"] = report.to_json();
  if (!frames_topic.empty()) j["frames"] = frames.to_json();
  out["attacks"] = j;
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
