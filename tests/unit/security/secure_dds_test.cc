// End to end: the keystore's documents work with Cyclone DDS's own security plugins
// (libdds_security_{auth,ac,crypto}, as Debian ships them). Separate processes (fork, each
// with its own Cyclone domain configured by this test's own XML, unicast over loopback, on
// a domain id drawn from the pid) play the master, node n1, and a revoked node:
//  - n1 may create a node_report writer in its own partition, and its reports reach the
//    master's reader (which subscribes to every node's partition, "coedge.node.*");
//  - n1 may not create a plan writer, nor a node_report writer in node n2's partition:
//    Cyclone refuses them locally (dds_create_writer fails);
//  - a participant without credentials, writing "n1's" reports, is matched by nobody;
//  - the revoked node, still holding its key and the CRL from before its revocation, starts
//    (its own CRL does not list it) but the master, which has the current CRL, never
//    authenticates it: nothing it writes arrives, its writer matches no reader.
// The XML here is test-only; the product's is net::dds_config_xml.
#include <dds/dds.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "coedge.h"  // the generated C types (build/src/net)
#include "ros_image.h"
#include "vision_msgs.h"
#include "net/dds.h"
#include "security/crypto.h"
#include "security/dds_documents.h"
#include "security/keystore.h"

namespace coedge::security {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kPlugins = "/usr/lib/x86_64-linux-gnu/libddsc0debian/";

std::string file_uri(const std::string& path) { return "file:" + path; }

std::string config_xml(const net::DdsSecurityFiles& f) {
  std::ostringstream x;
  x << "<CycloneDDS xmlns=\"https://cdds.io/config\"><Domain Id=\"any\">"
    << "<General><Interfaces><NetworkInterface address=\"127.0.0.1\"/></Interfaces>"
    << "<AllowMulticast>false</AllowMulticast></General>"
    << "<Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>12</MaxAutoParticipantIndex>"
    << "<Peers><Peer Address=\"127.0.0.1\"/></Peers></Discovery>"
    << "<Security>"
    << "<Authentication><Library path=\"" << kPlugins << "libdds_security_auth.so\" initFunction=\"init_authentication\" "
    << "finalizeFunction=\"finalize_authentication\"/>"
    << "<IdentityCA>" << file_uri(f.identity_ca) << "</IdentityCA>"
    << "<IdentityCertificate>" << file_uri(f.certificate) << "</IdentityCertificate>"
    << "<PrivateKey>" << file_uri(f.private_key) << "</PrivateKey>";
  if (!f.crl.empty()) x << "<CRL>" << file_uri(f.crl) << "</CRL>";
  x << "</Authentication>"
    << "<AccessControl><Library path=\"" << kPlugins << "libdds_security_ac.so\" initFunction=\"init_access_control\" "
    << "finalizeFunction=\"finalize_access_control\"/>"
    << "<PermissionsCA>" << file_uri(f.permissions_ca) << "</PermissionsCA>"
    << "<Governance>" << file_uri(f.governance) << "</Governance>"
    << "<Permissions>" << file_uri(f.permissions) << "</Permissions></AccessControl>"
    << "<Cryptographic><Library path=\"" << kPlugins << "libdds_security_crypto.so\" initFunction=\"init_crypto\" "
    << "finalizeFunction=\"finalize_crypto\"/></Cryptographic>"
    << "</Security></Domain></CycloneDDS>";
  return x.str();
}

// The same discovery, without DDS Security: a participant with no credentials.
std::string open_config_xml() {
  return "<CycloneDDS xmlns=\"https://cdds.io/config\"><Domain Id=\"any\">"
         "<General><Interfaces><NetworkInterface address=\"127.0.0.1\"/></Interfaces>"
         "<AllowMulticast>false</AllowMulticast></General>"
         "<Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>12</MaxAutoParticipantIndex>"
         "<Peers><Peer Address=\"127.0.0.1\"/></Peers></Discovery></Domain></CycloneDDS>";
}

// A participant on `domain` with `files` (none: without security); returns its handle or
// a negative return code.
dds_entity_t join(uint32_t domain, const std::optional<net::DdsSecurityFiles>& files) {
  const std::string xml = files ? config_xml(*files) : open_config_xml();
  const dds_entity_t d = dds_create_domain(domain, xml.c_str());
  if (d < 0) return d;
  return dds_create_participant(domain, nullptr, nullptr);
}

dds_entity_t writer_in(dds_entity_t participant, dds_entity_t topic, const char* partition) {
  dds_qos_t* qos = dds_create_qos();
  dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(1));
  dds_entity_t publisher = participant;
  if (partition != nullptr) {
    dds_qset_partition1(qos, partition);
    publisher = dds_create_publisher(participant, qos, nullptr);
  }
  const dds_entity_t w = publisher < 0 ? publisher : dds_create_writer(publisher, topic, qos, nullptr);
  dds_delete_qos(qos);
  return w;
}

// True when the parent closed the stop pipe (or after `limit`, a guard).
bool stopped(int stop_fd, Clock::time_point limit) {
  pollfd p{.fd = stop_fd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 100) > 0 || Clock::now() > limit;
}

void report(int fd, const std::string& line) {
  const std::string l = line + "\n";
  if (::write(fd, l.data(), l.size()) < 0) _exit(2);
}

// A node: writes reports about `name` in `partition` until told to stop; first reports
// the return codes of its writers' creation. `try_forbidden`: also tries the writers its
// permissions deny.
void run_node(uint32_t domain, const std::optional<net::DdsSecurityFiles>& files, const std::string& name,
              const std::string& partition, bool try_forbidden, int out_fd, int stop_fd) {
  const Clock::time_point limit = Clock::now() + std::chrono::seconds(90);
  std::ostringstream r;
  const dds_entity_t participant = join(domain, files);
  r << "participant=" << (participant < 0 ? participant : 0);
  if (participant < 0) {
    report(out_fd, r.str());
    _exit(0);
  }
  const dds_entity_t reports = dds_create_topic(participant, &coedge_msg_NodeReport_desc, net::kNodeReportTopic, nullptr, nullptr);
  const dds_entity_t own = writer_in(participant, reports, partition.c_str());
  r << " own=" << (own < 0 ? own : 0);
  if (try_forbidden) {
    const dds_entity_t plans = dds_create_topic(participant, &coedge_msg_Plan_desc, net::kPlanTopic, nullptr, nullptr);
    r << " plan_topic=" << (plans < 0 ? plans : 0);
    const dds_entity_t plan = plans < 0 ? plans : writer_in(participant, plans, nullptr);
    r << " plan=" << (plan < 0 ? plan : 0);
    const dds_entity_t other = writer_in(participant, reports, net::node_partition("n2").c_str());
    r << " other=" << (other < 0 ? other : 0);
    const dds_entity_t both = writer_in(participant, reports, "coedge.node.*");
    r << " wildcard=" << (both < 0 ? both : 0);
  }
  report(out_fd, r.str());
  uint32_t max_matched = 0;
  std::string node_name = name;
  coedge_msg_NodeReport sample;
  std::memset(&sample, 0, sizeof sample);
  sample.node = node_name.data();
  while (own >= 0 && !stopped(stop_fd, limit)) {
    ++sample.seq;
    dds_write(own, &sample);
    dds_publication_matched_status_t m;
    if (dds_get_publication_matched_status(own, &m) == DDS_RETCODE_OK && m.current_count > max_matched)
      max_matched = m.current_count;
  }
  report(out_fd, "matched=" + std::to_string(max_matched));
  dds_delete(DDS_CYCLONEDDS_HANDLE);
  _exit(0);
}

// The master: reads reports from every node's partition; reports how many came from each
// node once n1's have arrived and `extra` has passed (the revoked node has been writing
// all along), or at the guard.
void run_master(uint32_t domain, const net::DdsSecurityFiles& files, int out_fd) {
  const dds_entity_t participant = join(domain, files);
  if (participant < 0) {
    report(out_fd, "participant=" + std::to_string(participant));
    _exit(0);
  }
  const dds_entity_t topic = dds_create_topic(participant, &coedge_msg_NodeReport_desc, net::kNodeReportTopic, nullptr, nullptr);
  dds_qos_t* qos = dds_create_qos();
  dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(1));
  dds_qset_partition1(qos, "coedge.node.*");
  const dds_entity_t subscriber = dds_create_subscriber(participant, qos, nullptr);
  const dds_entity_t reader = dds_create_reader(subscriber, topic, qos, nullptr);
  dds_delete_qos(qos);
  if (reader < 0) {
    report(out_fd, "participant=0 reader=" + std::to_string(reader));
    _exit(0);
  }
  std::map<std::string, int> received;
  const Clock::time_point limit = Clock::now() + std::chrono::seconds(60);
  Clock::time_point until = limit;
  uint32_t max_matched = 0;
  while (Clock::now() < until) {
    void* samples[16] = {nullptr};
    dds_sample_info_t infos[16];
    const int n = dds_take(reader, samples, infos, 16, 16);
    for (int i = 0; i < n; ++i) {
      if (!infos[i].valid_data) continue;
      const auto* s = static_cast<const coedge_msg_NodeReport*>(samples[i]);
      ++received[s->node ? s->node : ""];
    }
    if (n > 0) dds_return_loan(reader, samples, n);
    dds_subscription_matched_status_t m;
    if (dds_get_subscription_matched_status(reader, &m) == DDS_RETCODE_OK && m.current_count > max_matched)
      max_matched = m.current_count;
    if (received.count("n1") && until == limit) until = Clock::now() + std::chrono::seconds(5);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ostringstream r;
  r << "participant=0 n1=" << received["n1"] << " gone=" << received["gone"] << " rogue=" << received["rogue"]
    << " others=" << received.size() - 3 << " matched=" << max_matched;
  report(out_fd, r.str());
  dds_delete(DDS_CYCLONEDDS_HANDLE);
  _exit(0);
}

std::string read_line(FILE* f) {
  char buf[512];
  if (std::fgets(buf, sizeof buf, f) == nullptr) return "<none>";
  std::string s = buf;
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// Each role's endpoints, checked locally: Cyclone's access control decides when the
// writer or reader is created (and a topic no rule names cannot even be created). One
// domain per identity in this process (DDS Security is configured per domain).
struct Endpoint {
  bool writer;
  const char* topic;
  const dds_topic_descriptor_t* type;
  const char* partition;  // nullptr: the default partition
  bool allowed;
};

std::string endpoint_text(const Endpoint& e) {
  return std::string(e.writer ? "writer " : "reader ") + e.topic + " in " + (e.partition ? e.partition : "\"\"");
}

dds_entity_t create_endpoint(dds_entity_t participant, const Endpoint& e) {
  const dds_entity_t topic = dds_create_topic(participant, e.type, e.topic, nullptr, nullptr);
  if (topic < 0) return topic;
  if (e.writer) return writer_in(participant, topic, e.partition);
  dds_qos_t* qos = dds_create_qos();
  dds_entity_t subscriber = participant;
  if (e.partition != nullptr) {
    dds_qset_partition1(qos, e.partition);
    subscriber = dds_create_subscriber(participant, qos, nullptr);
  }
  const dds_entity_t r = subscriber < 0 ? subscriber : dds_create_reader(subscriber, topic, qos, nullptr);
  dds_delete_qos(qos);
  return r;
}

TEST(SecureDdsPermissions, EveryRoleMayCreateExactlyItsEndpoints) {
  if (!fs::exists(std::string(kPlugins) + "libdds_security_ac.so")) GTEST_SKIP() << "no Cyclone security plugins";
  char tmpl[] = "/tmp/coedge-secure-perm-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path root = tmpl;
  const std::string ks = (root / "ks").string();
  ASSERT_TRUE(create_keystore(ks, KeystoreOptions{}).ok());
  const auto* report = &coedge_msg_NodeReport_desc;
  const auto* plan = &coedge_msg_Plan_desc;
  const auto* command = &coedge_msg_Command_desc;
  const auto* ack = &coedge_msg_TaskAck_desc;
  const auto* stats = &coedge_msg_SourceStats_desc;
  const auto* image = &sensor_msgs_msg_dds__Image__desc;
  const auto* detections = &vision_msgs_msg_dds__Detection2DArray__desc;
  const auto* classification = &vision_msgs_msg_dds__Classification__desc;
  struct Case {
    Role role;
    const char* name;
    std::vector<Endpoint> endpoints;
  };
  std::vector<Case> cases = {
      {Role::kMaster, "",
       {{true, net::kPlanTopic, plan, nullptr, false},
        {true, net::kCommandTopic, command, nullptr, false},
        {true, net::kPlanTopic, plan, "coedge.node.n1", false},
        {true, net::kPlanTopic, plan, net::kMasterPartition, true},
        {true, net::kCommandTopic, command, net::kMasterPartition, true},
        {true, net::kNodeReportTopic, report, "coedge.node.n1", false},
        {true, "rt/coedge/n1/t1/image_raw", image, nullptr, false},
        {false, net::kNodeReportTopic, report, "coedge.node.*", true},
        {false, net::kSourceStatsTopic, stats, "coedge.camera.*", true},
        {false, net::kTaskAckTopic, ack, "coedge.node.*", true}}},
      {Role::kNode, "n1",
       {{true, net::kNodeReportTopic, report, "coedge.node.n1", true},
        {true, net::kTaskAckTopic, ack, "coedge.node.n1", true},
        {true, net::kTaskAckTopic, ack, "coedge.node.n2", false},
        {true, net::kTaskAckTopic, ack, nullptr, false},
        {true, net::kNodeReportTopic, report, nullptr, false},
        {true, net::kCommandTopic, command, nullptr, false},
        {true, net::kCommandTopic, command, net::kMasterPartition, false},
        {true, net::kSourceStatsTopic, stats, "coedge.camera.n1", false},
        {true, "rt/coedge/t1/detections", detections, nullptr, true},
        {true, "rt/coedge/t2/classification", classification, nullptr, true},
        {true, "rt/coedge/n1/t1/image_raw", image, nullptr, false},
        {false, net::kPlanTopic, plan, nullptr, true},
        {false, net::kPlanTopic, plan, net::kMasterPartition, true},
        {false, net::kCommandTopic, command, nullptr, true},
        {false, net::kTaskAckTopic, ack, "coedge.node.*", true},
        {false, "rt/coedge/n1/t1/image_raw", image, nullptr, true},
        {false, "rt/front/image_raw", image, nullptr, true}}},
      {Role::kCamera, "n1",
       {{true, "rt/coedge/n1/t1/image_raw", image, nullptr, true},
        {true, "rt/coedge/n1/t1/image_raw", image, "coedge.camera.n1", true},
        {true, "rt/coedge/n2/t1/image_raw", image, nullptr, false},
        {true, "rt/coedge/n10/t1/image_raw", image, nullptr, false},
        {true, net::kSourceStatsTopic, stats, "coedge.camera.n1", true},
        {true, net::kSourceStatsTopic, stats, "coedge.camera.n2", false},
        {true, net::kSourceStatsTopic, stats, nullptr, false},
        {true, net::kNodeReportTopic, report, "coedge.node.n1", false},
        {true, net::kPlanTopic, plan, nullptr, false},
        {true, net::kPlanTopic, plan, net::kMasterPartition, false},
        {false, net::kPlanTopic, plan, nullptr, true},
        {false, net::kCommandTopic, command, net::kMasterPartition, true},
        {false, net::kTaskAckTopic, ack, "coedge.node.*", true},
        {false, net::kNodeReportTopic, report, "coedge.node.*", false}}},
  };
  // What SROS2's `ros2 security create_enclave` grants by default (policy "/*": publish
  // and subscribe "rt/*", no partitions, so the default partition only), here given to
  // the identity "camera ros": it may write a plan in the default partition, but not in
  // the master's partition.
  cases.push_back({Role::kCamera, "ros",
                   {{true, net::kPlanTopic, plan, nullptr, true},
                    {true, net::kPlanTopic, plan, net::kMasterPartition, false},
                    {true, net::kCommandTopic, command, net::kMasterPartition, false},
                    {true, "rt/front/image_raw", image, nullptr, true}}});
  auto sros2_default = [&]() {
    const fs::path e = fs::path(ks) / "enclaves/coedge/camera/ros";
    std::ifstream cert_in(e / "cert.pem"), ca_in(fs::path(ks) / "public/ca.cert.pem"),
        key_in(fs::path(ks) / "private/ca.key.pem");
    std::stringstream cert_text, ca_text, key_text;
    cert_text << cert_in.rdbuf();
    ca_text << ca_in.rdbuf();
    key_text << key_in.rdbuf();
    auto cert = internal::read_cert_pem(cert_text.str(), "cert");
    auto ca = internal::read_cert_pem(ca_text.str(), "ca");
    auto key = internal::read_key_pem(key_text.str(), "key");
    ASSERT_TRUE(cert.ok() && ca.ok() && key.ok());
    Grant g = role_grant(Role::kCamera, "ros", *internal::subject_rfc2253(cert->get()),
                         internal::iso8601(X509_get0_notBefore(cert->get())),
                         internal::iso8601(X509_get0_notAfter(cert->get())));
    g.publish = {{.topics = {"rt/*"}, .partitions = {""}}};
    g.subscribe = {{.topics = {"rt/*"}, .partitions = {""}}};
    auto p7s = internal::smime_sign(permissions_xml({g}), ca->get(), key->get());
    ASSERT_TRUE(p7s.ok());
    std::ofstream(e / "permissions.p7s") << *p7s;
  };
  const uint32_t base = 1 + static_cast<uint32_t>(::getpid()) % 200;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(std::string(role_name(c.role)) + " " + c.name);
    ASSERT_TRUE(add_identity(ks, c.role, c.name).ok());
    if (std::string(c.name) == "ros") sros2_default();
    auto files = identity_files(ks, c.role, c.name);
    ASSERT_TRUE(files.ok()) << files.error().message;
    const dds_entity_t participant = join((base + static_cast<uint32_t>(i)) % 231, *files);
    ASSERT_GT(participant, 0) << dds_strretcode(participant);
    for (const Endpoint& e : c.endpoints) {
      const dds_entity_t got = create_endpoint(participant, e);
      if (e.allowed) {
        EXPECT_GT(got, 0) << endpoint_text(e) << ": " << dds_strretcode(got);
      } else {
        EXPECT_EQ(got, DDS_RETCODE_NOT_ALLOWED_BY_SECURITY) << endpoint_text(e) << ": " << dds_strretcode(got);
      }
    }
  }
  dds_delete(DDS_CYCLONEDDS_HANDLE);
  fs::remove_all(root);
}

}  // namespace

void PrintTo(TopicProtection p, std::ostream* os) { *os << (p == TopicProtection::kSign ? "sign" : "encrypt"); }

namespace {

// Both governance variants (images signed, or encrypted) are run: Cyclone must parse each.
class SecureDds : public ::testing::TestWithParam<TopicProtection> {};

TEST_P(SecureDds, PermissionsAndRevocationHoldWithCyclonesPlugins) {
  if (!fs::exists(std::string(kPlugins) + "libdds_security_ac.so")) GTEST_SKIP() << "no Cyclone security plugins";
  char tmpl[] = "/tmp/coedge-secure-dds-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path root = tmpl;
  const std::string ks = (root / "ks").string();
  ASSERT_TRUE(create_keystore(ks, KeystoreOptions{.images = GetParam(), .validity_days = 10}).ok());
  for (auto [role, name] : {std::pair{Role::kMaster, ""}, std::pair{Role::kNode, "n1"}, std::pair{Role::kNode, "gone"}})
    ASSERT_TRUE(add_identity(ks, role, name).ok()) << name;
  auto master = identity_files(ks, Role::kMaster, "");
  auto n1 = identity_files(ks, Role::kNode, "n1");
  auto gone = identity_files(ks, Role::kNode, "gone");
  ASSERT_TRUE(master.ok() && n1.ok() && gone.ok());
  // What a revoked node's host still has: its key and the CRL from before the revocation.
  fs::copy_file(gone->private_key, root / "gone.key.pem");
  fs::copy_file(gone->crl, root / "old-crl.pem");
  gone->private_key = (root / "gone.key.pem").string();
  gone->crl = (root / "old-crl.pem").string();
  ASSERT_TRUE(revoke_identity(ks, Role::kNode, "gone").ok());

  const uint32_t domain = 1 + static_cast<uint32_t>(::getpid()) % 200;
  int stop[2], out_master[2], out_n1[2], out_gone[2], out_rogue[2];
  ASSERT_EQ(::pipe(stop), 0);
  ASSERT_EQ(::pipe(out_master), 0);
  ASSERT_EQ(::pipe(out_n1), 0);
  ASSERT_EQ(::pipe(out_gone), 0);
  ASSERT_EQ(::pipe(out_rogue), 0);
  std::vector<pid_t> children;
  auto spawn = [&](auto body, int out) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(stop[1]);
      body(out);
      _exit(0);
    }
    children.push_back(pid);
    ::close(out);
  };
  spawn([&](int out) { run_master(domain, *master, out); }, out_master[1]);
  spawn([&](int out) { run_node(domain, *n1, "n1", net::node_partition("n1"), true, out, stop[0]); }, out_n1[1]);
  spawn([&](int out) { run_node(domain, *gone, "gone", net::node_partition("gone"), false, out, stop[0]); },
        out_gone[1]);
  // No credentials at all, pretending to be n1.
  spawn([&](int out) { run_node(domain, std::nullopt, "rogue", net::node_partition("n1"), false, out, stop[0]); },
        out_rogue[1]);
  FILE* from_master = ::fdopen(out_master[0], "r");
  FILE* from_n1 = ::fdopen(out_n1[0], "r");
  FILE* from_gone = ::fdopen(out_gone[0], "r");
  FILE* from_rogue = ::fdopen(out_rogue[0], "r");
  const std::string n1_writers = read_line(from_n1);
  const std::string gone_writers = read_line(from_gone);
  const std::string rogue_writers = read_line(from_rogue);
  const std::string master_result = read_line(from_master);
  ::close(stop[1]);  // the nodes stop writing
  const std::string n1_matched = read_line(from_n1);
  const std::string gone_matched = read_line(from_gone);
  const std::string rogue_matched = read_line(from_rogue);
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << pid << " status " << status;
  }
  std::fclose(from_master);
  std::fclose(from_n1);
  std::fclose(from_gone);
  std::fclose(from_rogue);
  fs::remove_all(root);

  const std::string refused = std::to_string(DDS_RETCODE_NOT_ALLOWED_BY_SECURITY);
  // n1 may write its own reports; it may create the plan topic (it reads plans) but not a
  // plan writer; nor a report writer in n2's partition or in the wildcard partition.
  EXPECT_EQ(n1_writers, "participant=0 own=0 plan_topic=0 plan=" + refused + " other=" + refused +
                            " wildcard=" + refused);
  // The revoked node starts (its old CRL does not list it) and creates its writer...
  EXPECT_EQ(gone_writers, "participant=0 own=0");
  // ...but the master authenticates only n1: n1's reports arrive, the revoked node's never.
  EXPECT_EQ(master_result.substr(0, 16), "participant=0 n1") << master_result;
  EXPECT_EQ(master_result.find(" n1=0 "), std::string::npos) << master_result;
  EXPECT_NE(master_result.find(" gone=0 rogue=0 others=0 matched=1"), std::string::npos) << master_result;
  EXPECT_EQ(n1_matched, "matched=1");
  EXPECT_EQ(gone_matched, "matched=0");
  // A participant without credentials runs, but is matched by no secure participant.
  EXPECT_EQ(rogue_writers, "participant=0 own=0");
  EXPECT_EQ(rogue_matched, "matched=0");
}

INSTANTIATE_TEST_SUITE_P(Images, SecureDds, ::testing::Values(TopicProtection::kSign, TopicProtection::kEncrypt),
                         [](const auto& info) { return info.param == TopicProtection::kSign ? "Signed" : "Encrypted"; });

}  // namespace
}  // namespace coedge::security
