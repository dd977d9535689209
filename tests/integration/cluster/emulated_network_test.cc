// The cluster emulation for real: namespaces, veths, a bridge, htb/tbf shaping and cgroup v1
// CPU quotas on this machine. Needs root and a working `ip netns add`; otherwise the tests
// that need them are skipped (plan validation and the non-root error run anywhere; the
// command runner is tested in tests/unit/os). Each test process uses its own prefix
// "cet<pid>", tears down what it made in TearDown even when an assertion failed, checks
// that nothing with its prefix is left (no namespace, no cgroup), and then runs
// cleanup_stale as a safety net. Children are forked into the namespaces/cgroups and
// report through exit codes and pipes; every child has an alarm so that a failure cannot
// hang the test. Shaping is checked by reading tc's configuration back and with a lower
// bound on a transfer's duration (a shaped link cannot be faster than its rate); the CPU
// limit with the child's own CPU time — correctness checks with generous bounds, not
// speed goals.
#include <arpa/inet.h>
#include <dirent.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <functional>
#include <string>
#include <vector>

#include "cluster/cpu_limit.h"
#include "cluster/emulated_network.h"
#include "cluster/host.h"
#include "os/command.h"

namespace {

using coedge::ErrorCode;
using namespace coedge::cluster;
using coedge::os::run_checked;
using coedge::os::run_command;

const std::string kRootMessage =
    "coedge cluster needs root to create network namespaces, links and CPU limits; run it with sudo";

std::string test_prefix() { return "cet" + std::to_string(::getpid()); }

bool path_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// Empty when namespaces can be made here, else why not.
std::string netns_skip_reason() {
  if (::geteuid() != 0) return "needs root";
  const std::string probe = test_prefix() + "-probe";
  auto r = run_command({"ip", "netns", "add", probe});
  if (!r) return "cannot run ip: " + r.error().message;
  if (!r->succeeded()) return "`ip netns add` is not permitted here: " + r->err;
  (void)run_command({"ip", "netns", "del", probe});
  return "";
}

// Everything with this prefix that is still on the machine.
std::vector<std::string> leftovers(const std::string& prefix) {
  std::vector<std::string> left;
  if (DIR* d = ::opendir("/run/netns")) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind(prefix + "-", 0) == 0) left.push_back("/run/netns/" + name);
    }
    ::closedir(d);
  }
  for (const char* root : {"/sys/fs/cgroup/cpu/", "/sys/fs/cgroup/cpuacct/"})
    if (path_exists(root + prefix)) left.push_back(root + prefix);
  return left;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

// Exit code of a child, or 128 + signal.
int wait_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Forks a child that joins the network namespace at netns_path (when not empty) and exits
// with fn()'s value; 90 when it could not join.
pid_t fork_child(const std::string& netns_path, const std::function<int()>& fn) {
  const char* path = netns_path.empty() ? nullptr : netns_path.c_str();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(10);
    if (path != nullptr && EmulatedNetwork::enter_netns(path) != 0) ::_exit(90);
    ::_exit(fn());
  }
  return pid;
}

sockaddr_in socket_address(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

constexpr int kPort = 7077;

// A one-connection TCP server on ip:kPort: signals `ready_fd` once listening, then reads
// until EOF and answers with the byte count (8 bytes).
int serve(const std::string& ip, int ready_fd) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = socket_address(ip, kPort);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 10;
  if (::listen(s, 1) != 0) return 11;
  if (::write(ready_fd, "r", 1) != 1) return 12;
  int c = ::accept(s, nullptr, nullptr);
  if (c < 0) return 13;
  uint64_t total = 0;
  char buf[65536];
  for (ssize_t r; (r = ::read(c, buf, sizeof buf)) > 0;) total += static_cast<uint64_t>(r);
  if (::write(c, &total, sizeof total) != sizeof total) return 14;
  ::close(c);
  return 0;
}

// Sends `bytes` to ip:kPort, waits for the server's count; writes the elapsed microseconds
// to result_fd. 0 when the server counted every byte.
int send_bytes(const std::string& ip, size_t bytes, int result_fd) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = socket_address(ip, kPort);
  timespec t0{}, t1{};
  ::clock_gettime(CLOCK_MONOTONIC, &t0);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 20;
  std::vector<char> data(bytes, 'x');
  for (size_t sent = 0; sent < bytes;) {
    ssize_t w = ::write(s, data.data() + sent, bytes - sent);
    if (w <= 0) return 21;
    sent += static_cast<size_t>(w);
  }
  ::shutdown(s, SHUT_WR);
  uint64_t total = 0;
  if (::read(s, &total, sizeof total) != sizeof total) return 22;
  ::clock_gettime(CLOCK_MONOTONIC, &t1);
  int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
  if (::write(result_fd, &us, sizeof us) != sizeof us) return 23;
  return total == bytes ? 0 : 24;
}

struct Transfer {
  int server_exit = -1, client_exit = -1;
  double seconds = -1;
};

// A server in one namespace, a client in another, `bytes` between them.
Transfer transfer(const std::string& server_ns, const std::string& server_ip, const std::string& client_ns,
                  size_t bytes) {
  Transfer t;
  int ready[2], result[2];
  if (::pipe(ready) != 0 || ::pipe(result) != 0) return t;
  pid_t server = fork_child(server_ns, [&] { return serve(server_ip, ready[1]); });
  ::close(ready[1]);
  char c = 0;
  if (::read(ready[0], &c, 1) != 1) {  // the server died before listening
    ::close(ready[0]);
    t.server_exit = wait_child(server);
    return t;
  }
  ::close(ready[0]);
  pid_t client = fork_child(client_ns, [&] { return send_bytes(server_ip, bytes, result[1]); });
  ::close(result[1]);
  int64_t us = -1;
  if (::read(result[0], &us, sizeof us) == sizeof us) t.seconds = static_cast<double>(us) / 1e6;
  ::close(result[0]);
  t.client_exit = wait_child(client);
  if (t.client_exit != 0) ::kill(server, SIGKILL);
  t.server_exit = wait_child(server);
  return t;
}

std::string tc_show(const std::string& ns, const std::string& what) {
  auto r = run_checked({"tc", "-n", ns, what, "show", "dev", "eth0"});
  return r ? *r : "error: " + r.error().message;
}

NetworkPlan three_nodes(const std::string& prefix) {
  NetworkPlan plan;
  plan.prefix = prefix;
  plan.nodes = {{"alpha"}, {"beta"}, {"gamma"}};
  plan.links = {{0, 1, 10}, {1, 2, 20}};
  return plan;
}

// Suite names start with "emulated" so that `ctest -R emulated` selects them.
class Emulation : public ::testing::Test {
 protected:
  explicit Emulation(bool needs_netns) : needs_netns_(needs_netns) {}
  void SetUp() override {
    std::string reason = needs_netns_ ? netns_skip_reason() : ::geteuid() == 0 ? "" : "needs root";
    if (!reason.empty()) GTEST_SKIP() << reason;
    active_ = true;
    prefix_ = test_prefix();
    ASSERT_TRUE(leftovers(prefix_).empty()) << joined(leftovers(prefix_));
  }
  void TearDown() override {
    if (!active_) return;
    limits_.clear();
    if (net_) {
      auto s = net_->teardown();
      EXPECT_TRUE(s.ok()) << s.error().message;
      net_.reset();
    }
    EXPECT_TRUE(leftovers(prefix_).empty()) << "left behind: " << joined(leftovers(prefix_));
    auto s = EmulatedNetwork::cleanup_stale(prefix_);  // safety net after a failure
    EXPECT_TRUE(s.ok()) << s.error().message;
    EXPECT_TRUE(leftovers(prefix_).empty()) << "cleanup_stale left: " << joined(leftovers(prefix_));
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  const bool needs_netns_;
  bool active_ = false;
  std::string prefix_;
  std::unique_ptr<EmulatedNetwork> net_;
  std::vector<std::unique_ptr<CpuLimit>> limits_;
};

class emulatedNetwork : public Emulation {
 protected:
  emulatedNetwork() : Emulation(true) {}
};

class emulatedCpuLimit : public Emulation {
 protected:
  emulatedCpuLimit() : Emulation(false) {}
};

TEST_F(emulatedNetwork, NodesReachEachOtherAndLinksAreShaped) {
  auto created = EmulatedNetwork::create(three_nodes(prefix_));
  ASSERT_TRUE(created.ok()) << created.error().message;
  net_ = std::move(created.value());
  EXPECT_EQ(net_->address(0), "10.77.0.1");
  EXPECT_EQ(net_->address(2), "10.77.0.3");
  EXPECT_EQ(net_->master_address(), "10.77.0.254");
  EXPECT_EQ(net_->netns_name(1), prefix_ + "-1");
  EXPECT_EQ(net_->master_netns_path(), "/run/netns/" + prefix_ + "-master");
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(path_exists(net_->netns_path(i)));

  // TCP over a shaped pair, an unshaped pair, and from the master.
  Transfer t = transfer(net_->netns_path(1), net_->address(1), net_->netns_path(0), 1000);
  EXPECT_EQ(t.server_exit, 0);
  EXPECT_EQ(t.client_exit, 0);
  t = transfer(net_->netns_path(0), net_->address(0), net_->netns_path(2), 1000);
  EXPECT_EQ(t.server_exit, 0);
  EXPECT_EQ(t.client_exit, 0);
  t = transfer(net_->netns_path(2), net_->address(2), net_->master_netns_path(), 1000);
  EXPECT_EQ(t.server_exit, 0);
  EXPECT_EQ(t.client_exit, 0);
  t = transfer(net_->master_netns_path(), net_->master_address(), net_->netns_path(1), 1000);
  EXPECT_EQ(t.server_exit, 0);
  EXPECT_EQ(t.client_exit, 0);

  // The configured rates, read back.
  std::string q0 = tc_show(net_->netns_name(0), "qdisc");
  std::string q1 = tc_show(net_->netns_name(1), "qdisc");
  std::string q2 = tc_show(net_->netns_name(2), "qdisc");
  EXPECT_NE(q0.find("qdisc htb 1: root"), std::string::npos) << q0;
  EXPECT_NE(q0.find("tbf"), std::string::npos) << q0;
  EXPECT_NE(q0.find("rate 10Mbit"), std::string::npos) << q0;
  EXPECT_EQ(q0.find("rate 20Mbit"), std::string::npos) << q0;
  EXPECT_NE(q1.find("rate 10Mbit"), std::string::npos) << q1;
  EXPECT_NE(q1.find("rate 20Mbit"), std::string::npos) << q1;
  EXPECT_NE(q2.find("rate 20Mbit"), std::string::npos) << q2;
  EXPECT_EQ(net_->link_mbps(0, 2), 0);

  // Mid-run changes, both directions.
  ASSERT_TRUE(net_->set_link_mbps(0, 1, 40).ok());
  q0 = tc_show(net_->netns_name(0), "qdisc");
  q1 = tc_show(net_->netns_name(1), "qdisc");
  EXPECT_NE(q0.find("rate 40Mbit"), std::string::npos) << q0;
  EXPECT_EQ(q0.find("rate 10Mbit"), std::string::npos) << q0;
  EXPECT_NE(q1.find("rate 40Mbit"), std::string::npos) << q1;
  EXPECT_EQ(net_->link_mbps(1, 0), 40);

  // The link is really shaped: 1 MiB at 40 Mbit/s cannot take less than (1 MiB - burst) / rate
  // = 0.2 s; 0.15 s leaves room for rounding.
  t = transfer(net_->netns_path(1), net_->address(1), net_->netns_path(0), 1 << 20);
  EXPECT_EQ(t.client_exit, 0);
  EXPECT_EQ(t.server_exit, 0);
  EXPECT_GE(t.seconds, 0.15);

  // Unshaped -> shaped -> unshaped.
  auto s = net_->set_link_mbps(2, 0, 5);
  ASSERT_TRUE(s.ok()) << s.error().message;
  q0 = tc_show(net_->netns_name(0), "qdisc");
  q2 = tc_show(net_->netns_name(2), "qdisc");
  EXPECT_NE(q0.find("rate 5Mbit"), std::string::npos) << q0;
  EXPECT_NE(q2.find("rate 5Mbit"), std::string::npos) << q2;
  std::string f0 = tc_show(net_->netns_name(0), "filter");
  EXPECT_NE(f0.find("flowid 1:4"), std::string::npos) << f0;  // peer 2 -> class 1:(2+2)
  s = net_->set_link_mbps(0, 2, 0);
  ASSERT_TRUE(s.ok()) << s.error().message;
  f0 = tc_show(net_->netns_name(0), "filter");
  EXPECT_EQ(f0.find("flowid 1:4"), std::string::npos) << f0;
  EXPECT_NE(f0.find("flowid 1:1"), std::string::npos) << f0;
  t = transfer(net_->netns_path(0), net_->address(0), net_->netns_path(2), 1000);
  EXPECT_EQ(t.client_exit, 0);

  EXPECT_FALSE(net_->set_link_mbps(0, 3, 5).ok());
  EXPECT_FALSE(net_->set_link_mbps(1, 1, 5).ok());
  EXPECT_FALSE(net_->set_link_mbps(0, 1, -1).ok());

  // Teardown kills what is still inside and is idempotent.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t sleeper = fork_child(net_->netns_path(2), [&] {
    (void)::write(ready[1], "r", 1);
    ::pause();
    return 0;
  });
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  s = net_->teardown();
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(wait_child(sleeper), 128 + SIGKILL);
  EXPECT_TRUE(net_->teardown().ok());
  EXPECT_TRUE(leftovers(prefix_).empty()) << joined(leftovers(prefix_));
}

// A run that "crashes" (exits without any destructor) with a process inside a namespace and a
// cgroup. Returns that process's pid (reparented to us: we are a child subreaper), -1 on error.
pid_t crashed_run(const std::string& prefix) {
  int out[2];
  if (::pipe(out) != 0) return -1;
  pid_t run = ::fork();
  if (run == 0) {
    ::alarm(10);
    NetworkPlan plan;
    plan.prefix = prefix;
    plan.nodes = {{"a"}, {"b"}};
    plan.links = {{0, 1, 10}};
    auto net = EmulatedNetwork::create(plan);
    if (!net) ::_exit(30);
    auto limit = CpuLimit::create(prefix, "n0", 0.5);
    if (!limit) ::_exit(31);
    std::string ns = (*net)->netns_path(0), procs = (*limit)->procs_path();
    int ready[2];
    if (::pipe(ready) != 0) ::_exit(32);
    pid_t inside = ::fork();
    if (inside == 0) {
      ::alarm(0);
      if (EmulatedNetwork::enter_netns(ns.c_str()) != 0 || CpuLimit::join(procs.c_str()) != 0) ::_exit(33);
      (void)::write(ready[1], "r", 1);
      ::pause();
      ::_exit(0);
    }
    char c = 0;
    if (::read(ready[0], &c, 1) != 1) ::_exit(34);
    (void)::write(out[1], &inside, sizeof inside);
    ::_exit(0);  // the crash: nothing is torn down
  }
  ::close(out[1]);
  pid_t inside = -1;
  if (::read(out[0], &inside, sizeof inside) != sizeof inside) inside = -1;
  ::close(out[0]);
  int code = wait_child(run);
  return code == 0 ? inside : -1;
}

TEST_F(emulatedNetwork, CleanupStaleRemovesWhatACrashedRunLeft) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t inside = crashed_run(prefix_);
  ASSERT_GT(inside, 0);
  EXPECT_TRUE(path_exists("/run/netns/" + prefix_ + "-0"));
  EXPECT_TRUE(path_exists("/run/netns/" + prefix_ + "-hub"));
  EXPECT_TRUE(path_exists("/sys/fs/cgroup/cpu/" + prefix_ + "/n0"));
  EXPECT_EQ(::kill(inside, 0), 0);
  auto s = EmulatedNetwork::cleanup_stale(prefix_);
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(wait_child(inside), 128 + SIGKILL);
  EXPECT_TRUE(leftovers(prefix_).empty()) << joined(leftovers(prefix_));

  // create() does the same on its own.
  inside = crashed_run(prefix_);
  ASSERT_GT(inside, 0);
  NetworkPlan plan = three_nodes(prefix_);
  plan.with_master = false;
  auto created = EmulatedNetwork::create(plan);
  ASSERT_TRUE(created.ok()) << created.error().message;
  net_ = std::move(created.value());
  EXPECT_EQ(wait_child(inside), 128 + SIGKILL);
  EXPECT_FALSE(path_exists("/sys/fs/cgroup/cpu/" + prefix_));
  EXPECT_FALSE(path_exists("/run/netns/" + prefix_ + "-master"));
  EXPECT_TRUE(path_exists(net_->netns_path(2)));

  // A prefix that merely starts the same is not touched.
  EXPECT_TRUE(EmulatedNetwork::cleanup_stale(prefix_.substr(0, prefix_.size() - 1)).ok());
  EXPECT_TRUE(path_exists(net_->netns_path(2)));
}

TEST_F(emulatedCpuLimit, ThrottlesAChild) {
  auto created = CpuLimit::create(prefix_, "spin", 0.25);
  ASSERT_TRUE(created.ok()) << created.error().message;
  CpuLimit& limit = *limits_.emplace_back(std::move(created.value()));
  EXPECT_EQ(limit.period(), std::chrono::milliseconds(10));
  const std::string procs = limit.procs_path();
  EXPECT_EQ(procs, "/sys/fs/cgroup/cpu/" + prefix_ + "/spin/cgroup.procs");

  int joined_pipe[2], result[2];
  ASSERT_EQ(::pipe(joined_pipe), 0);
  ASSERT_EQ(::pipe(result), 0);
  pid_t child = fork_child("", [&] {
    if (CpuLimit::join(procs.c_str()) != 0) return 40;
    (void)::write(joined_pipe[1], "j", 1);
    timespec start{}, now{}, cpu0{}, cpu1{};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
    volatile uint64_t spin = 0;
    do {
      for (int i = 0; i < 10000; ++i) spin = spin + 1;
      ::clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 400000000L);
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
    int64_t ns = (cpu1.tv_sec - cpu0.tv_sec) * 1000000000L + (cpu1.tv_nsec - cpu0.tv_nsec);
    return ::write(result[1], &ns, sizeof ns) == sizeof ns ? 0 : 41;
  });
  ::close(joined_pipe[1]);
  ::close(result[1]);
  char c = 0;
  ASSERT_EQ(::read(joined_pipe[0], &c, 1), 1);
  ::close(joined_pipe[0]);
  std::vector<pid_t> inside = limit.pids();
  EXPECT_NE(std::find(inside.begin(), inside.end(), child), inside.end());
  int64_t ns = -1;
  EXPECT_EQ(::read(result[0], &ns, sizeof ns), static_cast<ssize_t>(sizeof ns));
  ::close(result[0]);
  EXPECT_EQ(wait_child(child), 0);
  // 0.25 core for 0.4 s is 0.1 s of CPU; unlimited it would be ~0.4 s.
  EXPECT_GT(ns, 0);
  EXPECT_LT(ns, 300000000L) << "a child limited to 0.25 core used " << ns / 1e9 << " s of CPU in 0.4 s";
  auto used = limit.cpu_used();
  if (used.ok()) {
    EXPECT_GT(used->count(), 0);
    EXPECT_LT(used->count(), 350000) << "cpuacct.usage";
  } else {
    EXPECT_EQ(used.error().code, ErrorCode::kUnsupported) << used.error().message;
  }
}

TEST_F(emulatedCpuLimit, DestructorKillsWhatIsInside) {
  auto created = CpuLimit::create(prefix_, "n0", 0.5);
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::unique_ptr<CpuLimit> limit = std::move(created.value());
  const std::string procs = limit->procs_path();
  const std::string dir = limit->path();
  EXPECT_FALSE(CpuLimit::create(prefix_, "n0", 0.5).ok());  // the name is taken

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t joined_child = fork_child("", [&] {
    if (CpuLimit::join(procs.c_str()) != 0) return 40;
    (void)::write(ready[1], "r", 1);
    ::pause();
    return 0;
  });
  pid_t added_child = fork_child("", [&] {
    (void)::write(ready[1], "r", 1);
    ::pause();
    return 0;
  });
  ::close(ready[1]);
  char c[2];
  ASSERT_EQ(::read(ready[0], c, 1), 1);
  ASSERT_EQ(::read(ready[0], c + 1, 1), 1);
  ::close(ready[0]);
  auto s = limit->add(added_child);
  EXPECT_TRUE(s.ok()) << s.error().message;
  std::vector<pid_t> inside = limit->pids();
  std::sort(inside.begin(), inside.end());
  std::vector<pid_t> expected = {joined_child, added_child};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(inside, expected);

  limit.reset();
  EXPECT_EQ(wait_child(joined_child), 128 + SIGKILL);
  EXPECT_EQ(wait_child(added_child), 128 + SIGKILL);
  EXPECT_FALSE(path_exists(dir));
}

TEST(emulatedWithoutRoot, CreateSaysRootIsNeeded) {
  NetworkPlan plan = three_nodes("cetnr" + std::to_string(::getpid()));
  auto check = [&]() -> int {
    auto net = EmulatedNetwork::create(plan);
    if (net.ok() || net.error().code != ErrorCode::kUnsupported || net.error().message != kRootMessage) return 50;
    auto limit = CpuLimit::create(plan.prefix, "n0", 0.5);
    if (limit.ok() || limit.error().code != ErrorCode::kUnsupported || limit.error().message != kRootMessage)
      return 51;
    return 0;
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(check(), 0);
    return;
  }
  pid_t child = fork_child("", [&] {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) return 52;
    return check();
  });
  EXPECT_EQ(wait_child(child), 0);
}

TEST(emulatedPlan, InvalidPlansAreRejectedBeforeAnythingIsMade) {
  auto rejects = [](NetworkPlan plan, const std::string& needle) {
    auto r = EmulatedNetwork::create(std::move(plan));
    if (r.ok()) return ::testing::AssertionFailure() << "accepted";
    if (r.error().code != ErrorCode::kInvalidInput || r.error().message.find(needle) == std::string::npos)
      return ::testing::AssertionFailure() << r.error().message;
    return ::testing::AssertionSuccess();
  };
  NetworkPlan good = three_nodes("cetbad");
  NetworkPlan p = good;
  p.nodes[1].name = "has space";
  EXPECT_TRUE(rejects(p, "has space"));
  p = good;
  p.nodes[1].name = std::string(41, 'x');
  EXPECT_TRUE(rejects(p, "at most 40"));
  p = good;
  p.nodes[2].name = "alpha";
  EXPECT_TRUE(rejects(p, "used twice"));
  p = good;
  p.links.push_back({0, 3, 10});
  EXPECT_TRUE(rejects(p, "only 3 nodes"));
  p = good;
  p.links.push_back({1, 0, 10});
  EXPECT_TRUE(rejects(p, "given twice"));
  p = good;
  p.links.push_back({2, 2, 10});
  EXPECT_TRUE(rejects(p, "itself"));
  p = good;
  p.default_mbps = -3;
  EXPECT_TRUE(rejects(p, "default link rate"));
  p = good;
  p.prefix = "a/b";
  EXPECT_TRUE(rejects(p, "prefix"));
  p = good;
  p.nodes.clear();
  EXPECT_TRUE(rejects(p, "no nodes"));
  p = good;
  p.nodes.resize(254);
  for (size_t i = 0; i < p.nodes.size(); ++i) p.nodes[i].name = "n" + std::to_string(i);
  EXPECT_TRUE(rejects(p, "at most 253"));

  EXPECT_EQ(CpuLimit::create("cetbad", "n0", 0).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(CpuLimit::create("cetbad", "n/0", 1).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(CpuLimit::create("cetbad", "n0", 1, std::chrono::microseconds(10)).error().code,
            ErrorCode::kInvalidInput);
}

}  // namespace
