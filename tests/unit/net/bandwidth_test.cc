// Tests of bandwidth measurement (src/net/bandwidth_probe.h, src/net/passive_rate.h):
// a real iperf3 probe against a ProbeServer on 127.0.0.1 (ports 20000 + pid % 20000, next
// ones on a clash, since tests run in parallel processes), failure and stop behaviour with
// generous time caps only, the pure estimators with exact values on a manual sequence of
// instants, and — as root only — a probe across a veth pair between two network
// namespaces shaped by tc tbf to 10 Mbit/s. Suites are named bandwidth* for
// `ctest -R bandwidth`. Single-threaded except where a test starts its own threads.
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "net/bandwidth_probe.h"
#include "net/passive_rate.h"

namespace coedge::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kCap = seconds(10);  // the only timing bound the tests assert

WallTime at_ms(double ms) { return WallTime{} + from_ms(ms); }

// The probe program as built: the test binary is not next to it, so name it (see
// bandwidth_probe.h). Set before any test runs.
const std::string kProbeProgramPath = COEDGE_BINARY_DIR "/bin/coedge-probe";
const bool kProbeProgramSet = (set_probe_program(kProbeProgramPath), true);

int base_port() { return 20000 + static_cast<int>(::getpid() % 20000); }

// A server on 127.0.0.1 at the first free port from base_port().
std::unique_ptr<ProbeServer> start_local_server() {
  std::string last_error;
  for (int i = 0; i < 20; ++i) {
    auto server = ProbeServer::start(base_port() + i * 997 % 20000, "127.0.0.1");
    if (server) return std::move(server.value());
    last_error = server.error().message;
  }
  ADD_FAILURE() << "no free port for a probe server: " << last_error;
  return nullptr;
}

// ---- ProbeServer / probe_mbps ------------------------------------------------------------

TEST(bandwidthProbe, ProbeAgainstLocalServerIsPositive) {
  auto server = start_local_server();
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->running());
  const auto mbps = probe_mbps("127.0.0.1", server->port(), milliseconds(300));
  ASSERT_TRUE(mbps.ok()) << mbps.error().message;
  EXPECT_GT(*mbps, 0.0);
  EXPECT_TRUE(std::isfinite(*mbps));

  // The server serves tests one after another; a byte limit also ends a test (large
  // enough to last well over a few ms on loopback: see probe_mbps's errors).
  const auto limited = probe_mbps("127.0.0.1", server->port(), seconds(2), int64_t{128} << 20);
  ASSERT_TRUE(limited.ok()) << limited.error().message;
  EXPECT_GT(*limited, 0.0);
}

TEST(bandwidthProbe, NoServerIsAnErrorQuickly) {
  // A bound, non-listening socket: the port is ours, so nobody listens there, and a
  // connection to it is refused.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  const auto start = SteadyClock::now();
  const auto mbps = probe_mbps("127.0.0.1", port, milliseconds(300));
  EXPECT_LT(SteadyClock::now() - start, kCap);
  ::close(fd);
  ASSERT_FALSE(mbps.ok());
  EXPECT_EQ(mbps.error().code, ErrorCode::kIo);
  const std::string prefix = "bandwidth probe to 127.0.0.1:" + std::to_string(port) + " failed: ";
  EXPECT_EQ(mbps.error().message.rfind(prefix, 0), 0u) << mbps.error().message;
  EXPECT_GT(mbps.error().message.size(), prefix.size());
}

TEST(bandwidthProbe, UnresolvableHostIsAnError) {
  const auto mbps = probe_mbps("no-such-host.invalid", 5201, milliseconds(300));
  ASSERT_FALSE(mbps.ok());
  EXPECT_EQ(mbps.error().code, ErrorCode::kIo);
  EXPECT_NE(mbps.error().message.find("no-such-host.invalid:5201"), std::string::npos);
}

TEST(bandwidthProbe, InvalidArguments) {
  EXPECT_EQ(probe_mbps("127.0.0.1", 0, milliseconds(300)).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(probe_mbps("127.0.0.1", 5201, Duration::zero()).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(probe_mbps("127.0.0.1", 5201, milliseconds(300), -1).error().code,
            ErrorCode::kInvalidInput);
  EXPECT_EQ(ProbeServer::start(70000).error().code, ErrorCode::kInvalidInput);
}

TEST(bandwidthProbe, AMissingProbeProgramIsAClearError) {
  ASSERT_TRUE(kProbeProgramSet);
  set_probe_program("/nonexistent/coedge-probe");
  const auto server = ProbeServer::start(base_port(), "127.0.0.1");
  const auto mbps = probe_mbps("127.0.0.1", base_port(), milliseconds(100));
  set_probe_program(kProbeProgramPath);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, ErrorCode::kNotFound);
  EXPECT_NE(server.error().message.find("/nonexistent/coedge-probe"), std::string::npos) << server.error().message;
  ASSERT_FALSE(mbps.ok());
  EXPECT_NE(mbps.error().message.find("/nonexistent/coedge-probe"), std::string::npos) << mbps.error().message;
}

TEST(bandwidthProbe, TheProbeProgramRefusesBadArguments) {
  // By hand, without its answer pipe, or with arguments it does not know: usage, exit 2.
  for (const std::string args : {" 3<&-", " 3<&- server 5201 - 1", " 3>/dev/null client 127.0.0.1 0 1000 0",
                                 " 3>/dev/null server 5201", " 3>/dev/null fly"}) {
    const std::string command = kProbeProgramPath + args + " 2>/dev/null";
    const int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
    ASSERT_TRUE(WIFEXITED(status)) << command;
    EXPECT_EQ(WEXITSTATUS(status), 2) << command;
  }
}

TEST(bandwidthProbe, SecondServerOnTheSamePortFails) {
  auto server = start_local_server();
  ASSERT_NE(server, nullptr);
  const auto second = ProbeServer::start(server->port(), "127.0.0.1");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kIo);
  EXPECT_NE(second.error().message.find(std::to_string(server->port())), std::string::npos);
  EXPECT_TRUE(server->running());  // the first one is unaffected
}

TEST(bandwidthProbe, DestructorReturnsAndFreesThePort) {
  auto server = start_local_server();
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  const auto start = SteadyClock::now();
  server.reset();
  EXPECT_LT(SteadyClock::now() - start, kCap);
  EXPECT_FALSE(probe_mbps("127.0.0.1", port, milliseconds(300)).ok());
  // The port can be served again at once.
  auto again = ProbeServer::start(port, "127.0.0.1");
  ASSERT_TRUE(again.ok()) << again.error().message;
  again.value()->stop();
  again.value()->stop();  // idempotent
  EXPECT_FALSE(again.value()->running());
}

TEST(bandwidthProbe, DestructorReturnsDuringATest) {
  auto server = start_local_server();
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  std::optional<Result<double>> result;
  std::thread client([&result, port] { result.emplace(probe_mbps("127.0.0.1", port, seconds(3))); });
  std::this_thread::sleep_for(milliseconds(500));  // let the test start running
  const auto start = SteadyClock::now();
  server.reset();
  EXPECT_LT(SteadyClock::now() - start, kCap);
  client.join();  // the cut test ends the probe (an error, or a partial result)
  ASSERT_TRUE(result.has_value());
  EXPECT_LT(SteadyClock::now() - start, kCap);
}

// ---- PassiveRate ---------------------------------------------------------------------------

TEST(bandwidthPassiveRate, MedianOfPerFrameThroughputsInTheWindow) {
  PassiveRate rate(seconds(10));
  // 125000 bytes = 1 Mbit.
  rate.record("b", 125000, at_ms(0), at_ms(100));      // 10 Mbit/s, received at 0.1 s
  EXPECT_EQ(rate.rate("b", at_ms(100)), 10.0);
  rate.record("b", 125000, at_ms(1000), at_ms(1050));  // 20
  rate.record("b", 125000, at_ms(2000), at_ms(2200));  // 5
  EXPECT_EQ(rate.rate("b", at_ms(3000)), 10.0);        // median of {10, 20, 5}
  rate.record("b", 125000, at_ms(3000), at_ms(3040));  // 25
  EXPECT_EQ(rate.rate("b", at_ms(4000)), 15.0);        // {5, 10, 20, 25}: (10 + 20) / 2
  EXPECT_EQ(rate.samples("b", at_ms(4000)), 4u);
  // Window (now - 10 s, now]: at 10.1 s the frame received at 0.1 s has left it.
  EXPECT_EQ(rate.samples("b", at_ms(10100)), 3u);
  EXPECT_EQ(rate.rate("b", at_ms(10100)), 20.0);       // {20, 5, 25}
  EXPECT_EQ(rate.rate("b", at_ms(10099)), 15.0);
  // Frames received after `now` are not counted.
  EXPECT_EQ(rate.rate("b", at_ms(1049)), 10.0);
  // Nothing in the window, or an unknown peer: no estimate.
  EXPECT_EQ(rate.rate("b", at_ms(13040)), std::nullopt);
  EXPECT_EQ(rate.rate("c", at_ms(4000)), std::nullopt);
  EXPECT_EQ(rate.rate("b", at_ms(50)), std::nullopt);
}

TEST(bandwidthPassiveRate, IgnoresUnusableFramesAndKeepsPeersApart) {
  PassiveRate rate(seconds(10));
  rate.record("b", 125000, at_ms(100), at_ms(100));  // zero transfer time
  rate.record("b", 125000, at_ms(200), at_ms(150));  // received before sent: clock skew
  rate.record("b", 0, at_ms(0), at_ms(100));         // empty
  EXPECT_EQ(rate.rate("b", at_ms(1000)), std::nullopt);
  EXPECT_EQ(rate.samples("b", at_ms(1000)), 0u);

  rate.record("b", 250000, at_ms(0), at_ms(500));  // 4 Mbit/s
  rate.record("c", 1000, at_ms(0), at_ms(0.1));    // 8000 bit / 100 us = 80 Mbit/s
  EXPECT_EQ(rate.rate("b", at_ms(1000)), 4.0);
  EXPECT_EQ(rate.rate("c", at_ms(1000)), 80.0);
}

TEST(bandwidthPassiveRate, DropsSamplesOutsideTheWindowOnRecord) {
  PassiveRate rate(seconds(1));
  for (int i = 0; i < 10; ++i) rate.record("b", 1000, at_ms(i * 1000), at_ms(i * 1000 + 1));
  EXPECT_EQ(rate.samples("b", at_ms(9001)), 1u);
  EXPECT_EQ(rate.rate("b", at_ms(9001)), 8.0);
  // Bounded memory at a high frame rate too.
  for (int i = 0; i < 10000; ++i) rate.record("c", 1000, at_ms(i * 0.05), at_ms(i * 0.05 + 1));
  EXPECT_LE(rate.samples("c", at_ms(501)), PassiveRate::kMaxSamplesPerPeer);
}

// ---- BandwidthEstimate ---------------------------------------------------------------------

TEST(bandwidthEstimate, ProbeWhileFreshThenPassive) {
  BandwidthEstimate est(seconds(5), seconds(10));
  EXPECT_EQ(est.estimate("b", at_ms(0)), std::nullopt);
  EXPECT_EQ(est.mbps("b", at_ms(0)), std::nullopt);

  est.record_frame("b", 125000, at_ms(0), at_ms(100));  // 10 Mbit/s
  auto r = est.estimate("b", at_ms(1000));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->mbps, 10.0);
  EXPECT_EQ(r->method, "passive");

  est.record_probe("b", 42.0, at_ms(2000));
  r = est.estimate("b", at_ms(3000));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->mbps, 42.0);
  EXPECT_EQ(r->method, "probe");
  EXPECT_EQ(est.mbps("b", at_ms(2000)), 42.0);   // age 0
  EXPECT_EQ(est.mbps("b", at_ms(6999.999)), 42.0);  // age 4.999999 s < 5 s
  r = est.estimate("b", at_ms(7000));                // age 5 s: too old
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->mbps, 10.0);
  EXPECT_EQ(r->method, "passive");
  EXPECT_EQ(est.mbps("b", at_ms(1999)), 10.0);  // a probe from the future does not count
  EXPECT_EQ(est.mbps("b", at_ms(10100)), std::nullopt);  // the frame left the window too

  // An older probe does not replace a newer one; useless values are ignored.
  est.record_probe("b", 7.0, at_ms(1500));
  est.record_probe("b", 0.0, at_ms(2500));
  est.record_probe("b", std::numeric_limits<double>::quiet_NaN(), at_ms(2600));
  EXPECT_EQ(est.mbps("b", at_ms(3000)), 42.0);
  est.record_probe("b", 50.0, at_ms(2500));
  EXPECT_EQ(est.mbps("b", at_ms(3000)), 50.0);
  EXPECT_EQ(est.mbps("c", at_ms(3000)), std::nullopt);
  EXPECT_EQ(est.passive().samples("b", at_ms(3000)), 1u);
}

// ---- Through a tc-shaped link (root only) ---------------------------------------------------

int sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

// Two namespaces joined by a veth pair; deleted (with the veth) on destruction.
struct NamespacePair {
  std::string a, b;
  bool made_a = false, made_b = false;
  ~NamespacePair() {
    if (made_a) sh("ip netns del " + a);
    if (made_b) sh("ip netns del " + b);
  }
};

// Runs f() in a thread that has joined network namespace `ns` (children it forks stay there).
template <typename F>
auto in_netns(const std::string& ns, F f) -> std::optional<decltype(f())> {
  std::optional<decltype(f())> out;
  std::thread t([&] {
    const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    const bool joined = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
    if (joined) out.emplace(f());
  });
  t.join();
  return out;
}

TEST(bandwidthShapedLink, ProbeMeasuresTheTbfRate) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, tc)";
  const std::string pid = std::to_string(::getpid());
  NamespacePair ns{"cbwa" + pid, "cbwb" + pid};
  if (sh("ip netns add " + ns.a) != 0) GTEST_SKIP() << "ip netns add failed";
  ns.made_a = true;
  ASSERT_EQ(sh("ip netns add " + ns.b), 0);
  ns.made_b = true;
  const std::string va = ns.a, vb = ns.b;  // interface names (<= 15 characters)
  ASSERT_EQ(sh("ip link add " + va + " netns " + ns.a + " type veth peer name " + vb + " netns " + ns.b), 0);
  ASSERT_EQ(sh("ip -n " + ns.a + " addr add 10.231.0.1/24 dev " + va), 0);
  ASSERT_EQ(sh("ip -n " + ns.b + " addr add 10.231.0.2/24 dev " + vb), 0);
  ASSERT_EQ(sh("ip -n " + ns.a + " link set " + va + " up"), 0);
  ASSERT_EQ(sh("ip -n " + ns.b + " link set " + vb + " up"), 0);
  ASSERT_EQ(sh("ip netns exec " + ns.a + " tc qdisc add dev " + va +
               " root tbf rate 10mbit burst 32kb latency 50ms"), 0);

  auto server = in_netns(ns.b, [] { return ProbeServer::start(5201); });
  ASSERT_TRUE(server.has_value()) << "cannot join " << ns.b;
  ASSERT_TRUE(server->ok()) << server->error().message;
  const auto mbps = in_netns(ns.a, [] { return probe_mbps("10.231.0.2", 5201, seconds(1)); });
  ASSERT_TRUE(mbps.has_value()) << "cannot join " << ns.a;
  ASSERT_TRUE(mbps->ok()) << mbps->error().message;
  // A measurement, and a shaped link is not faster than its rate (with tbf's burst); how
  // close to the rate it comes depends on the machine, so no lower bound is asserted.
  EXPECT_GT(mbps->value(), 0.0);
  EXPECT_LE(mbps->value(), 12.0);
  server->value()->stop();
}

}  // namespace
}  // namespace coedge::net
