// The rogue-participant test (issue 15's acceptance, docs/SECURITY.md): a two-node emulated
// cluster (`coedge cluster`, 20 s) runs while coedge-test-rogue (rogue_participant.cc),
// started in the master's network namespace once the master has placed the tasks,
// publishes a plan moving every task, {"stop", ""}, forged node reports and frames.
//   - Plain (`--plain`, no DDS Security): the attack is real — the nodes obey the rogue's
//     stop, the master loses them before the end of the run.
//   - Secure (the default; here with a given keystore, `--secure --keystore`), three rogues
//     at once:
//     (a) without credentials: every writer is created and writes; its control writers
//         match no reader, and no node receives its frames (none more than n1's camera
//         published); the run completes its full duration, every job is accounted, no
//         node obeyed a foreign plan (their last plan is the master's epoch) or stopped
//         early;
//     (b) with node n2's valid credentials: its own permissions refuse a plan, command or
//         image writer (or no reader matches it), while its report about n1, written in
//         its own partition, arrives and the master refuses it (rejected_samples
//         node_report/sender_mismatch > 0), n1's accounting untouched;
//     (c) with node n3's certificate revoked in the keystore before the cluster started
//         (the CRL is read when a participant starts): matches no reader, the master
//         never hears of n3; its log shows Cyclone refusing the handshake ("certificate
//         revoked").
// A rogue without credentials leaves no trace in the secure programs' logs (Cyclone ignores
// an unauthenticated participant silently at its default verbosity): the run's sentry
// (`coedge sentry`, OUT/sentry.json) sees its writers, and its own report shows they never
// matched a reader.
// Assertions are on what was accounted, matched and refused, never on timing. Needs root
// (namespaces, tc, cgroups); skips itself otherwise.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "security/keystore.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCoedge = COEDGE_BINARY_DIR "/bin/coedge";
const std::string kRogue = COEDGE_BINARY_DIR "/bin/coedge-test-rogue";
constexpr int kRunSeconds = 20;

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command line, returns its exit code; output goes to `log`.
int run(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " > '" + log.string() + "' 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool can_make_namespaces() {
  if (geteuid() != 0) return false;
  const std::string name = "rpt-probe-" + std::to_string(getpid());
  if (std::system(("ip netns add " + name + " 2>/dev/null").c_str()) != 0) return false;
  return std::system(("ip netns del " + name).c_str()) == 0;
}

// Copies an identity's files into `to` under the names of an SROS2 enclave, which
// coedge-test-rogue --enclave reads.
void copy_identity(const coedge::net::DdsSecurityFiles& files, const fs::path& to) {
  fs::create_directories(to);
  for (auto [from, name] : {std::pair{files.identity_ca, "identity_ca.cert.pem"}, std::pair{files.certificate, "cert.pem"},
                            std::pair{files.private_key, "key.pem"},
                            std::pair{files.permissions_ca, "permissions_ca.cert.pem"},
                            std::pair{files.governance, "governance.p7s"},
                            std::pair{files.permissions, "permissions.p7s"}}) {
    fs::copy_file(from, to / name, fs::copy_options::overwrite_existing);
  }
  fs::permissions(to / "key.pem", fs::perms::owner_read | fs::perms::owner_write);
}

class RogueParticipant : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!can_make_namespaces()) GTEST_SKIP() << "needs root and network namespaces";
    dir_ = fs::path("/var/tmp") / ("coedge-rogue-test-" + std::to_string(getpid()) + "-" +
                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    prefix_ = "rpt" + std::to_string(getpid() % 100000);
    domain_ = 100 + getpid() % 50;
    // Two nodes; yolov5s-160 at a 1 s period is light for half a core.
    std::ofstream(dir_ / "s.yaml") << "name: rogue-test\n"
                                      "profiles: " COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml\n"
                                      "run: {duration: 20s, window: 5s, seed: 3}\n"
                                      "nodes:\n  - {name: n1}\n  - {name: n2}\n"
                                      "network:\n  default_mbps: 50\n"
                                      "tasks:\n"
                                      "  - {name: A, source: n1, model: yolov5s-160, period: 1s, priority: 2}\n"
                                      "  - {name: B, source: n2, model: yolov5s-160, period: 1s, priority: 1}\n";
  }
  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
      for (const char* log : {"out.log", "out/logs/master.log", "out/logs/node-n1.log"})
        std::fprintf(stderr, "---- %s\n%s\n", log, read_text(dir_ / log).c_str());
    } else if (!dir_.empty()) {
      fs::remove_all(dir_);
    }
  }

  std::string cluster_command(const std::string& extra) const {
    return kCoedge + " cluster " + (dir_ / "s.yaml").string() + " -o " + (dir_ / "out").string() + " --prefix " +
           prefix_ + " --domain " + std::to_string(domain_) + " --isolation process --node-cores 0.5 --duration " +
           std::to_string(kRunSeconds) + "s --window 5s --models-dir " COEDGE_BINARY_DIR "/models " + extra;
  }

  // A rogue in the master's namespace, on the cluster's domain; its JSON report.
  std::string rogue_command(const std::string& name, const std::string& args) const {
    return "timeout 120 ip netns exec " + prefix_ + "-master " + kRogue + " --domain " + std::to_string(domain_) +
           " --dds-interface 10.77.0.254 --duration 8 " + args + " > '" + (dir_ / (name + ".json")).string() +
           "' 2> '" + (dir_ / (name + ".err")).string() + "'";
  }
  json rogue_report(const std::string& name) const {
    const std::string text = read_text(dir_ / (name + ".json"));
    auto j = json::parse(text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << name << ": " << text << read_text(dir_ / (name + ".err"));
    return j.is_discarded() ? json::object() : j;
  }

  // Runs the cluster with `extra`; once the master has placed the tasks, runs every rogue
  // command (concurrently) and waits for them. Returns the cluster's exit code.
  int run_attacked_cluster(const std::string& extra, const std::vector<std::string>& rogues) {
    int rc = -1;
    std::atomic<bool> done{false};
    std::thread cluster([&] {
      rc = run(cluster_command(extra), dir_ / "out.log");
      done = true;
    });
    const fs::path plans = dir_ / "out/master/plans.jsonl";
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    std::error_code ec;
    while (!done && std::chrono::steady_clock::now() < give_up && !(fs::file_size(plans, ec) > 0 && !ec)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    const bool placed = fs::file_size(plans, ec) > 0 && !ec;
    if (placed) {
      std::string all;
      for (const std::string& r : rogues) all += r + " & ";
      std::system((all + "wait").c_str());
    }
    cluster.join();
    EXPECT_TRUE(placed) << "the master placed no task";
    return rc;
  }

  // What camera `node` logged at its end: "stopped after N frames" (node/cluster/camera.cc).
  uint64_t camera_frames_published(const std::string& node) const {
    const std::string log = read_text(dir_ / ("out/logs/camera-" + node + ".log"));
    const std::string marker = "stopped after ";
    const size_t at = log.rfind(marker);
    EXPECT_NE(at, std::string::npos) << "camera-" << node << ".log has no final count:\n" << log;
    return at == std::string::npos ? 0 : std::strtoull(log.c_str() + at + marker.size(), nullptr, 10);
  }
  // frames_received of a node summary's sensor on `topic`.
  static uint64_t frames_received(const json& summary, const std::string& topic) {
    if (summary.is_object() && summary.contains("sensors"))
      for (const json& s : summary["sensors"])
        if (s.value("topic", "") == topic) return s.value("frames_received", uint64_t{0});
    ADD_FAILURE() << "no sensor on " << topic << " in " << summary.dump();
    return 0;
  }

  static uint64_t rejected(const json& summary, const char* topic, const char* reason) {
    const json& r = summary.value("rejected_samples", json::object());
    return r.contains(topic) && r[topic].contains(reason) ? r[topic][reason].get<uint64_t>() : 0;
  }

  fs::path dir_;
  std::string prefix_;
  int domain_ = 0;
};

constexpr const char* kAllAttacks =
    "--plan n1 --task A --task B --stop --report-about n2 --frames /coedge/n1/A/image_raw";

// Without DDS Security, a participant without credentials stops the cluster: the threat
// the secure test below shows refused.
TEST_F(RogueParticipant, PlainClusterIsStoppedByARogueWithoutCredentials) {
  run_attacked_cluster("--plain", {rogue_command("rogue", kAllAttacks)});
  const json rogue = rogue_report("rogue");
  EXPECT_EQ(rogue.value("participant", ""), "created") << rogue.dump();
  EXPECT_GE(rogue["attacks"]["stop"].value("matched_readers_max", 0u), 1u) << rogue.dump();
  // The nodes obeyed the rogue's stop while the master was still running: it lost them.
  const std::string master_log = read_text(dir_ / "out/logs/master.log");
  EXPECT_NE(master_log.find(" is lost (liveliness)"), std::string::npos) << master_log;
  EXPECT_NE(read_text(dir_ / "out/logs/node-n1.log").find("the master asked this node to stop"), std::string::npos);
}

TEST_F(RogueParticipant, SecureClusterRefusesRoguesWithoutWithAndWithRevokedCredentials) {
  namespace sec = coedge::security;
  const std::string ks = (dir_ / "keystore").string();
  ASSERT_TRUE(sec::create_keystore(ks, sec::KeystoreOptions{}).ok());
  ASSERT_TRUE(sec::add_identity(ks, sec::Role::kMaster, "").ok());
  for (const char* n : {"n1", "n2", "n3"}) {
    ASSERT_TRUE(sec::add_identity(ks, sec::Role::kNode, n).ok()) << n;
    ASSERT_TRUE(sec::add_identity(ks, sec::Role::kCamera, n).ok()) << n;
  }
  // n2's credentials, stolen (or a node gone bad); n3's, kept from before its revocation.
  auto n2 = sec::identity_files(ks, sec::Role::kNode, "n2");
  auto n3 = sec::identity_files(ks, sec::Role::kNode, "n3");
  ASSERT_TRUE(n2.ok() && n3.ok());
  copy_identity(*n2, dir_ / "n2-creds");
  copy_identity(*n3, dir_ / "n3-creds");
  ASSERT_TRUE(sec::revoke_identity(ks, sec::Role::kNode, "n3").ok());

  const int rc = run_attacked_cluster(
      "--secure --keystore " + ks,
      {rogue_command("rogue", kAllAttacks),
       rogue_command("rogue-n2", "--enclave " + (dir_ / "n2-creds").string() +
                                     " --plan n1 --task A --task B --stop --report-about n1 --report-as n2"
                                     " --frames /coedge/n1/A/image_raw"),
       rogue_command("rogue-n3", "--enclave " + (dir_ / "n3-creds").string() + " --report-about n3 --stop")});
  ASSERT_EQ(rc, 0) << read_text(dir_ / "out.log");
  EXPECT_NE(read_text(dir_ / "out.log").find("DDS Security: on"), std::string::npos);
  const json summary = json::parse(read_text(dir_ / "out/master/summary.json"));
  const std::string master_log = read_text(dir_ / "out/logs/master.log");

  {  // (a) the cluster ran on, unaffected: no node lost or stopped early, every job accounted
    SCOPED_TRACE("(a) no credentials");
    EXPECT_TRUE(summary["totals"]["accounted"].get<bool>());
    for (const json& task : summary["tasks"]) {
      EXPECT_EQ(task["met"].get<uint64_t>() + task["overdue"].get<uint64_t>() + task["dropped"].get<uint64_t>(),
                task["released"].get<uint64_t>())
          << task.dump();
      EXPECT_GE(task["met"].get<uint64_t>(), 1u) << task.dump();
    }
    EXPECT_EQ(master_log.find(" is lost (liveliness)"), std::string::npos) << master_log;
    for (const char* n : {"n1", "n2"}) {
      const json& node = summary["nodes"][n];
      EXPECT_TRUE(node["final_report"].get<bool>()) << n << node.dump();
      EXPECT_EQ(node["plan_epoch"], summary["epoch"]) << n << " applied a plan of another epoch: " << node.dump();
    }
    // The attempts are visible: the run's sentry (coedge sentry, no credentials) saw the
    // rogue's writers on the plan, command, report and image topics.
    const json sentry = json::parse(read_text(dir_ / "out/sentry.json"), nullptr, false);
    ASSERT_FALSE(sentry.is_discarded()) << read_text(dir_ / "out/logs/sentry.log");
    const json& seen = sentry.value("unauthenticated_writers", json::object());
    for (const char* topic : {"rt/coedge/plan", "rt/coedge/command", "rt/coedge/node_report", "rt/coedge/n1/A/image_raw"})
      EXPECT_GE(seen.value(topic, 0u), 1u) << topic << " " << sentry.dump();
    EXPECT_NE(read_text(dir_ / "out.log").find("Unauthenticated writers: "), std::string::npos);
    // The attempts: every writer was created and wrote; no reader of a control topic ever
    // matched it (their discovery is protected, so the rogue never even learns of them).
    const json rogue = rogue_report("rogue");
    EXPECT_EQ(rogue.value("participant", ""), "created") << rogue.dump();
    for (const char* attack : {"plan", "stop", "reports", "frames"}) {
      const json& a = rogue["attacks"][attack];
      EXPECT_TRUE(a.value("created", false)) << attack << a.dump();
      EXPECT_GE(a.value("written", 0u), 1u) << attack << a.dump();
      if (std::string(attack) != "frames") {
        EXPECT_EQ(a.value("matched_readers_max", 1u), 0u) << attack << a.dump();
      }
    }
    // The image topics' discovery is not protected (governance "*": signed data, clear
    // discovery), so the rogue can hear n1's reader announced and count it as matched on
    // its side (seen once in CI: matched_readers_max 1); n1, which never authenticated the
    // rogue, drops what it sends. So the frames are checked where they would land: no node
    // received on A's topic more frames than n1's camera (A's) published (the rogue wrote
    // dozens there, ten a second; a node that never ran A received none).
    const uint64_t rogue_frames = rogue["attacks"]["frames"].value("written", 0u);
    const uint64_t camera_frames = camera_frames_published("n1");
    EXPECT_GT(rogue_frames, camera_frames) << "the rogue wrote too few frames to tell its own from the camera's";
    for (const char* n : {"n1", "n2"}) {
      const json node = json::parse(read_text(dir_ / "out/nodes" / n / "summary.json"), nullptr, false);
      EXPECT_LE(frames_received(node, "/coedge/n1/A/image_raw"), camera_frames)
          << n << " received frames n1's camera never published: " << rogue.dump();
    }
  }
  {  // (b) a node's valid credentials: no plan, command or foreign frames; its report about
     // another node arrives and is refused
    SCOPED_TRACE("(b) node n2's credentials");
    const json rogue = rogue_report("rogue-n2");
    EXPECT_EQ(rogue.value("participant", ""), "created") << rogue.dump();
    for (const char* attack : {"plan", "stop", "frames"}) {
      const json& a = rogue["attacks"][attack];
      EXPECT_TRUE(!a.value("created", true) || a.value("matched_readers_max", 1u) == 0u) << attack << a.dump();
    }
    const json& report = rogue["attacks"]["reports"];
    EXPECT_TRUE(report.value("created", false)) << report.dump();
    EXPECT_GE(report.value("matched_readers_max", 0u), 1u) << report.dump();
    EXPECT_GT(rejected(summary, "node_report", "sender_mismatch"), 0u) << summary["rejected_samples"].dump();
    // ... arriving with its true sender, the node whose partition its permissions grant.
    EXPECT_NE(master_log.find("report about 'n1' written by 'n2'"), std::string::npos) << master_log;
    // n1's accounting is its own: nothing near the forged counters (the rogue reports about
    // a million released jobs, coedge-test-rogue's --report-about).
    constexpr uint64_t kForgedReleased = 1000000;
    for (const json& task : summary["tasks"])
      EXPECT_LT(task["released"].get<uint64_t>(), kForgedReleased / 2) << task.dump();
  }
  {  // (c) a revoked identity cannot rejoin
    SCOPED_TRACE("(c) node n3's revoked credentials");
    const json rogue = rogue_report("rogue-n3");
    if (rogue.value("participant", "") == "created") {
      for (const char* attack : {"reports", "stop"})
        EXPECT_EQ(rogue["attacks"][attack].value("matched_readers_max", 1u), 0u) << attack << rogue.dump();
    }
    // The attempt is visible: Cyclone logs each refused handshake (the master's log has
    // its stderr), naming the revoked certificate's subject; nothing of CoEdge's own ever
    // heard of n3.
    bool handshake_refused = false;
    std::istringstream lines(master_log);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("n3") == std::string::npos) continue;
      if (line.find("certificate revoked") != std::string::npos) handshake_refused = true;
      EXPECT_NE(line.rfind("[master]", 0), 0u) << "the master heard of n3: " << line;
    }
    EXPECT_TRUE(handshake_refused) << master_log;
    EXPECT_EQ(rejected(summary, "node_report", "unknown_node"), 0u) << summary["rejected_samples"].dump();
  }
}

}  // namespace

namespace {

// Checked before anything starts, and without root: a keystore that cannot serve the run
// is named, with exit code 2.
TEST(SecureOptions, ABadKeystoreOrAMisplacedOptionIsNamedWithExitCode2) {
  namespace sec = coedge::security;
  const fs::path dir = fs::path("/var/tmp") / ("coedge-secure-options-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "s.yaml") << "name: options\n"
                                   "profiles: " COEDGE_SOURCE_DIR "/examples/profiles/generated-models-cpu.yaml\n"
                                   "nodes:\n  - {name: n1}\n"
                                   "tasks:\n  - {name: A, source: n1, model: yolov5s-160, period: 1s}\n";
  const std::string ks = (dir / "keystore").string();
  ASSERT_TRUE(sec::create_keystore(ks, sec::KeystoreOptions{}).ok());
  ASSERT_TRUE(sec::add_identity(ks, sec::Role::kNode, "n1").ok());  // no master, no camera
  const std::string scenario = (dir / "s.yaml").string(), log = (dir / "out.log").string();
  const std::string cluster = kCoedge + " cluster " + scenario + " -o " + (dir / "out").string() + " ";
  EXPECT_EQ(run(cluster + "--plain --images sign", log), 2);
  EXPECT_NE(read_text(log).find("--images and --keystore are for a secure run, not with --plain"), std::string::npos)
      << read_text(log);
  EXPECT_EQ(run(cluster + "--plain --secure", log), 2);
  EXPECT_NE(read_text(log).find("excludes"), std::string::npos) << read_text(log);  // CLI11's words
  EXPECT_EQ(run(cluster + "--secure --keystore " + ks + " --images encrypt", log), 2);
  EXPECT_NE(read_text(log).find("--images"), std::string::npos) << read_text(log);
  // Secure is the default, so a domain it cannot take is refused without --secure too.
  for (const char* secure : {"--secure ", ""}) {
    EXPECT_EQ(run(cluster + secure + "--domain 231", log), 2);
    EXPECT_NE(read_text(log).find("--domain 231: DDS Security takes domain ids 0-230"), std::string::npos)
        << read_text(log);
    EXPECT_NE(read_text(log).find("--plain runs without it"), std::string::npos) << read_text(log);
  }
  // The keystore lacks the master's identity: named before anything starts.
  EXPECT_EQ(run(cluster + "--secure --keystore " + ks, log), 2);
  EXPECT_NE(read_text(log).find("--keystore: keystore " + ks), std::string::npos) << read_text(log);
  EXPECT_NE(read_text(log).find("master"), std::string::npos) << read_text(log);
  EXPECT_EQ(run(kCoedge + " master --scenario " + scenario + " --keystore " + ks + " --duration 1s", log), 2);
  EXPECT_NE(read_text(log).find("coedge master: --keystore: keystore " + ks), std::string::npos) << read_text(log);
  EXPECT_EQ(run(kCoedge + " camera --scenario " + scenario + " --node n1 --keystore " + ks, log), 2);
  EXPECT_NE(read_text(log).find("coedge camera: --keystore: keystore " + ks), std::string::npos) << read_text(log);
  // A node's private key readable by others: refused.
  auto n1 = sec::identity_files(ks, sec::Role::kNode, "n1");
  ASSERT_TRUE(n1.ok()) << n1.error().message;
  fs::permissions(n1->private_key, fs::perms::others_read, fs::perm_options::add);
  EXPECT_EQ(run(kCoedge + " node --scenario " + scenario + " --name n1 --keystore " + ks, log), 2);
  EXPECT_NE(read_text(log).find("coedge node: --keystore: keystore " + ks), std::string::npos) << read_text(log);
  EXPECT_NE(read_text(log).find(n1->private_key), std::string::npos) << read_text(log);
  // --keystore is for a cluster node.
  EXPECT_EQ(run(kCoedge + " node --config " COEDGE_SOURCE_DIR "/examples/node/resnet-3.yaml --keystore " + ks, log), 2);
  fs::remove_all(dir);
}

}  // namespace
