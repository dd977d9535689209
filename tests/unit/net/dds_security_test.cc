// Tests of DDS Security through the adapter (net/dds.h, DdsOptions::security): secure
// participants exchange control samples and a reader learns each sample's sender from the
// writer's partition; a participant without credentials neither receives nor injects
// anything; an identity from another CA, or a revoked one, cannot create a participant; a
// missing file or plugin is named. The keystores are the product's (security/keystore.h,
// `coedge keys`), made once per test process in a fresh temporary folder: the cluster's,
// with the master, nodes n1, n2 and n3 (n3 then revoked, its key kept as a thief would), and
// another cluster's, whose node n1 plays the stranger.
// One DdsDomain per domain id and process, so each peer with other credentials is a child
// process: this binary re-executed (a static initializer runs the child's part before
// GoogleTest starts; a forked copy of a process running Cyclone's threads could not use
// DDS). Each test process uses its own domain id (from its pid) on the loopback interface
// with unicast discovery to 127.0.0.1. Waiting is always a poll against a deadline.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/dds.h"
#include "security/keystore.h"

extern char** environ;

namespace coedge::net {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kChildEnv = "COEDGE_DDS_SECURITY_TEST_CHILD";
constexpr auto kCap = 20s;  // the most any poll waits (a secure handshake takes ~0.1-1 s)

uint32_t test_domain() { return 1 + static_cast<uint32_t>(getpid()) % 200; }

template <typename F>
bool poll_until(F done, std::chrono::steady_clock::duration cap = kCap) {
  const auto deadline = SteadyClock::now() + cap;
  for (;;) {
    if (done()) return true;
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

DdsOptions loopback(uint32_t domain) {
  DdsOptions o;
  o.domain = domain;
  o.interface_address = "127.0.0.1";
  o.peers = {"127.0.0.1"};
  o.lease = 1s;
  return o;
}

// The options of the identity ("master" or a node's name) of the keystore in `dir`, with
// the keystore's CRL when `crl`. Fails the test (and returns plain options) when the
// keystore refuses.
DdsOptions secure(uint32_t domain, const std::string& dir, const std::string& name,
                  bool crl = false) {
  DdsOptions o = loopback(domain);
  auto files = name == "master" ? security::identity_files(dir, security::Role::kMaster, "")
                                : security::identity_files(dir, security::Role::kNode, name);
  EXPECT_TRUE(files) << files.error().message;
  if (!files) return o;
  o.security = *files;
  if (!crl) o.security->crl = "";
  return o;
}

// ---- child processes ----

// "node <domain> <keystore> <name>": a secure participant of identity <name> writes a
//   report about itself and one about "n2" (a forgery its permissions cannot prevent), then
//   exits 0 once it has received a plan (4 if none came).
// "rogue <domain>": a participant without credentials writes reports (partition of "n1",
//   about "n1") and stop commands every 100 ms until killed; exits 9 at once if it ever
//   receives a plan.
int run_child(const std::string& spec) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  std::istringstream in(spec);
  std::string kind;
  uint32_t domain = 0;
  in >> kind >> domain;
  if (kind == "node") {
    std::string dir, name;
    in >> dir >> name;
    auto dds = DdsDomain::create(secure(domain, dir, name));
    if (!dds) {
      std::fprintf(stderr, "child: %s\n", dds.error().message.c_str());
      return 2;
    }
    auto w = ReportWriter::create(**dds, name);
    auto plans = PlanReader::create(**dds);
    if (!w || !plans) return 3;
    if (!poll_until([&] { return (*w)->matched_readers() > 0; })) return 5;
    NodeReport r;
    r.node = name;
    r.seq = 1;
    if (!(*w)->write(r)) return 6;
    r.node = "n2";
    if (!(*w)->write(r)) return 6;
    return poll_until([&] { return (*plans)->take().has_value(); }) ? 0 : 4;
  }
  if (kind == "rogue") {
    auto dds = DdsDomain::create(loopback(domain));
    if (!dds) return 2;
    auto reports = ReportWriter::create(**dds, "n1");
    auto commands = CommandWriter::create(**dds);
    auto plans = PlanReader::create(**dds);
    if (!reports || !commands || !plans) return 3;
    NodeReport r;
    r.node = "n1";
    for (uint64_t seq = 1;; ++seq) {
      r.seq = seq;
      (void)(*reports)->write(r);
      (void)(*commands)->write(Command{"stop", ""});
      if ((*plans)->take()) return 9;
      std::this_thread::sleep_for(100ms);
    }
  }
  return 7;
}

[[maybe_unused]] const bool kIsChild = [] {
  if (const char* spec = std::getenv(kChildEnv)) std::_Exit(run_child(spec));
  return false;
}();

pid_t spawn_child(const std::string& spec) {
  char exe[4096] = {};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  std::string env_entry = std::string(kChildEnv) + "=" + spec;
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(env_entry.data());
  envp.push_back(nullptr);
  char* argv[] = {exe, nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, exe, nullptr, nullptr, argv, envp.data()) != 0) return -1;
  return pid;
}

// Waits up to `cap` for `pid` to exit, then kills it; returns its exit status (-1: killed).
int reap(pid_t pid, std::chrono::steady_clock::duration cap) {
  int status = 0;
  bool exited = poll_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, cap);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The test keystores of this process (made on first use, removed at exit): DIR/cluster and
// DIR/other. The revoked n3's files, with its key saved before the revocation deleted it.
struct Keystores {
  std::string dir, cluster, other;
  DdsSecurityFiles revoked;  // n3, crl set
  std::string error;
};
// Never destroyed: the atexit cleanup below runs after static destructors registered later.
const Keystores& keystores() {
  static const Keystores& k = *new Keystores([] {
    Keystores k;
    std::string tmpl = (std::filesystem::temp_directory_path() / "coedge-ks-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return k.error = "mkdtemp failed", k;
    k.dir = tmpl;
    k.cluster = k.dir + "/cluster";
    k.other = k.dir + "/other";
    auto step = [&](const Status& s) {
      if (!s && k.error.empty()) k.error = s.error().message;
    };
    using security::Role;
    step(security::create_keystore(k.cluster, security::KeystoreOptions{}));
    step(security::add_identity(k.cluster, Role::kMaster, ""));
    for (const char* n : {"n1", "n2", "n3"}) step(security::add_identity(k.cluster, Role::kNode, n));
    step(security::create_keystore(k.other, security::KeystoreOptions{}));
    step(security::add_identity(k.other, Role::kNode, "n1"));
    if (!k.error.empty()) return k;
    auto n3 = security::identity_files(k.cluster, Role::kNode, "n3");
    if (!n3) return k.error = n3.error().message, k;
    k.revoked = *n3;
    k.revoked.private_key = k.dir + "/n3.stolen.key.pem";
    std::filesystem::copy_file(n3->private_key, k.revoked.private_key);
    step(security::revoke_identity(k.cluster, Role::kNode, "n3"));
    std::atexit([] { std::filesystem::remove_all(keystores().dir); });
    return k;
  }());
  return k;
}
const std::string& keystore() { return keystores().cluster; }

class DdsSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(keystores().error.empty()) << "could not make the test keystores: "
                                           << keystores().error;
  }
};

// ---- tests ----

TEST_F(DdsSecurity, SecurePeersExchangeSamplesAndTheSenderIsTheWritersPartition) {
  const uint32_t domain = test_domain();
  auto dds = DdsDomain::create(secure(domain, keystore(), "master"));
  ASSERT_TRUE(dds) << dds.error().message;
  auto reports = ReportReader::create(**dds);
  auto plans = PlanWriter::create(**dds);
  ASSERT_TRUE(reports && plans);
  const auto spawned = SteadyClock::now();
  pid_t child = spawn_child("node " + std::to_string(domain) + " " + keystore() + " n1");
  ASSERT_GT(child, 0);

  std::vector<NodeReport> got;
  bool both = poll_until([&] {
    for (auto& r : (*reports)->take()) got.push_back(std::move(r));
    return got.size() >= 2;
  });
  if (!both) reap(child, 0s);
  ASSERT_TRUE(both) << "the secure node's reports did not arrive (" << got.size() << ")";
  // A figure, not an assertion: from the child's start to its reports (process start,
  // participant creation, discovery, authentication handshake, permissions exchange).
  const double took = std::chrono::duration<double>(SteadyClock::now() - spawned).count();
  std::printf("secure node: first reports %.3f s after its start\n", took);
  RecordProperty("first_report_seconds", std::to_string(took));
  ASSERT_EQ(got.size(), 2u);
  for (const auto& r : got) {
    // The report about n2 is n1's forgery: it still arrives, and its sender is the truth.
    EXPECT_TRUE(r.node == "n1" || r.node == "n2") << r.node;
    EXPECT_EQ(r.sender, "n1") << "report about " << r.node;
  }
  EXPECT_EQ((*reports)->rejected(), 0u);

  ASSERT_TRUE((*plans)->write(Plan{1, 0, {Assignment{"Y1", "n1"}}, 1}));
  EXPECT_EQ(reap(child, kCap), 0) << "the secure node did not receive the master's plan";
}

TEST_F(DdsSecurity, AParticipantWithoutCredentialsNeitherReceivesNorInjects) {
  const uint32_t domain = test_domain();
  auto dds = DdsDomain::create(secure(domain, keystore(), "master"));
  ASSERT_TRUE(dds) << dds.error().message;
  auto reports = ReportReader::create(**dds);
  auto commands = CommandReader::create(**dds);
  auto plans = PlanWriter::create(**dds);
  ASSERT_TRUE(reports && commands && plans);
  ASSERT_TRUE((*plans)->write(Plan{1, 0, {Assignment{"Y1", "n2"}}, 1}));  // transient-local

  pid_t rogue = spawn_child("rogue " + std::to_string(domain));
  ASSERT_GT(rogue, 0);
  // A secure witness joining at the same time: once its report is in, the rogue has had as
  // long to be discovered and matched as a peer with credentials needs.
  pid_t witness = spawn_child("node " + std::to_string(domain) + " " + keystore() + " n2");
  ASSERT_GT(witness, 0);

  std::vector<NodeReport> got;
  std::vector<Command> stops;
  auto collect = [&] {
    for (auto& r : (*reports)->take()) got.push_back(std::move(r));
    for (auto& c : (*commands)->take()) stops.push_back(std::move(c));
  };
  bool witnessed = poll_until([&] {
    collect();
    for (const auto& r : got) {
      if (r.sender == "n2") return true;
    }
    return false;
  });
  EXPECT_TRUE(witnessed) << "the secure witness's report did not arrive";
  // Then as long again (at least 2 s) for anything the rogue might get through.
  poll_until([&] { collect(); return false; }, 2s);
  for (const auto& r : got) {
    EXPECT_EQ(r.sender, "n2") << "a report from " << r.sender << " about " << r.node
                              << " got in";
  }
  EXPECT_TRUE(stops.empty()) << "the rogue's stop command got in";
  int status = 0;
  EXPECT_EQ(waitpid(rogue, &status, WNOHANG), 0) << "the rogue exited (9: it received the plan)";
  EXPECT_EQ(reap(witness, kCap), 0) << "the witness did not receive the plan";
  reap(rogue, 0s);
}

TEST_F(DdsSecurity, AnIdentityOfAnotherCaIsRefusedNamingItsFiles) {
  // Another cluster's n1, with this cluster's CA and documents.
  DdsOptions o = secure(test_domain(), keystore(), "n1");
  DdsOptions stranger = secure(test_domain(), keystores().other, "n1");
  ASSERT_TRUE(o.security && stranger.security);
  o.security->certificate = stranger.security->certificate;
  o.security->private_key = stranger.security->private_key;
  auto dds = DdsDomain::create(o);
  ASSERT_FALSE(dds);
  const std::string& m = dds.error().message;
  EXPECT_EQ(dds.error().code, ErrorCode::kIo);
  EXPECT_NE(m.find("could not authenticate"), std::string::npos) << m;
  EXPECT_NE(m.find(o.security->certificate), std::string::npos) << m;
  EXPECT_NE(m.find(o.security->identity_ca), std::string::npos) << m;
  EXPECT_NE(m.find("Cyclone says:"), std::string::npos) << m;
  std::printf("refusal: %s\n", m.c_str());
}

TEST_F(DdsSecurity, ARevokedIdentityCannotCreateAParticipant) {
  // The CRL itself is good: an identity it does not list starts with it.
  {
    auto ok = DdsDomain::create(secure(test_domain(), keystore(), "n1", true));
    ASSERT_TRUE(ok) << ok.error().message;
  }
  DdsOptions o = loopback(test_domain());
  o.security = keystores().revoked;  // n3's stolen key, the cluster's current CRL
  auto revoked = DdsDomain::create(o);
  ASSERT_FALSE(revoked);
  EXPECT_NE(revoked.error().message.find(o.security->crl), std::string::npos)
      << revoked.error().message;
  EXPECT_NE(revoked.error().message.find("revoked"), std::string::npos) << revoked.error().message;
  std::printf("refusal: %s\n", revoked.error().message.c_str());
  // Without the CRL, the same identity is valid: the CRL is what refuses it (so a revoked
  // identity is kept out by the OTHER participants' CRL, docs/SECURITY.md).
  o.security->crl = "";
  auto without = DdsDomain::create(o);
  EXPECT_TRUE(without) << without.error().message;
}

TEST_F(DdsSecurity, AMissingFileOrPluginIsNamed) {
  DdsOptions o = secure(test_domain(), keystore(), "n1");
  o.security->permissions = keystore() + "/nobody.permissions.p7s";
  auto r = DdsDomain::create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("permissions document"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(o.security->permissions), std::string::npos) << r.error().message;

  o = secure(test_domain(), keystore(), "n1");
  ASSERT_EQ(setenv("COEDGE_DDS_SECURITY_PLUGIN_DIR", "/nonexistent/plugins", 1), 0);
  r = DdsDomain::create(o);
  unsetenv("COEDGE_DDS_SECURITY_PLUGIN_DIR");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("/nonexistent/plugins/libdds_security_auth.so"),
            std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace coedge::net
