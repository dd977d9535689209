// ProbeServer and probe_mbps(): libiperf 3.12 run in child processes (see
// bandwidth_probe.h for why, and for the thread-safety contract). The parent never calls
// into libiperf: it starts the probe program (coedge-probe, apps/probe: a few MB, where a
// forked copy of a node agent would count the agent's whole memory once more), which does
// the iperf work and writes one framed answer on descriptor 3, a pipe ('R' + iperf's
// JSON, or 'E' + iperf_strerror(i_errno); the server writes only a failure to listen), and
// the parent parses it, enforcing its own deadline (SIGKILL) so that no peer can make it
// wait forever. probe_program_main() below is that program.
//
// libiperf 3.12 notes (why the code looks like this):
// - iperf_set_test_idle_timeout(), iperf_set_test_rcv_timeout() and tmr_create() are
//   exported by libiperf.so.0 but not declared in the installed iperf_api.h: they are
//   declared below, with the 3.12 ABI (checked against the disassembly of 3.12).
// - The server reads its control connection with blocking reads: a silent client blocks
//   it forever (also the stock iperf3 3.12 server). See on_server_heartbeat().
// - Test durations are whole seconds (iperf_set_test_duration(int)). A sub-second probe
//   adds a 5 ms periodic timer to iperf's (process-global) timer list; once `duration` has
//   passed since the test started running, it sets the test's byte limit to 1, which makes
//   iperf's own "bytes sent >= limit" check end the test normally (results exchanged).
// - There is no setter for the output FILE: in the child, stdout/stderr are /dev/null and
//   the JSON is read with iperf_get_test_json_output_string().
// - With one_off set, an idle timeout makes iperf_run_server call exit(0): not used.
#include "net/bandwidth_probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <iperf_api.h>
#include <nlohmann/json.hpp>

#include "os/spawn.h"

// Exported by libiperf 3.12, missing from its header.
extern "C" {
void iperf_set_test_idle_timeout(struct iperf_test* ipt, int to);
struct iperf_time {
  uint32_t secs;
  uint32_t usecs;
};
void iperf_set_test_rcv_timeout(struct iperf_test* ipt, struct iperf_time* to);
struct Timer;
union TimerClientData {
  void* p;
  int i;
  long l;
};
typedef void TimerProc(union TimerClientData client_data, struct iperf_time* nowP);
struct Timer* tmr_create(struct iperf_time* nowP, TimerProc* timer_proc,
                         union TimerClientData client_data, int64_t usecs, int periodic);
}

namespace coedge::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kServerIdleRestartS = 2;         // server child checks for an orphaned state
constexpr uint32_t kServerRcvTimeoutS = 5;     // a running test that receives nothing ends
constexpr unsigned kServerStallS = 5;          // main loop blocked this long: interrupt it
constexpr int kConnectTimeoutMs = 3000;        // client connect timeout
constexpr Duration kDeadlineMargin = std::chrono::seconds(3);
constexpr Duration kServerStartTimeout = std::chrono::seconds(3);
constexpr int64_t kTickUs = 5000;              // sub-second stop timer period
constexpr Duration kMaxDuration = std::chrono::hours(1);

std::mutex& probe_mutex() {
  static std::mutex m;
  return m;
}

int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

void write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// The server's stall watchdog. libiperf 3.12 reads the control connection with blocking
// reads (the cookie in iperf_accept, the parameters, the results): a client that connects
// and then goes silent (crashed host, cut link) blocks iperf_run_server forever. A 1 s
// periodic iperf timer, which only runs while the server's select loop turns, re-arms
// alarm(kServerStallS); if the loop stops turning, SIGALRM (handler without SA_RESTART)
// interrupts the blocked read and iperf sees a short read. One interruption is not always
// enough (after a short read of the parameters' length, JSON_read blocks again on a body
// of garbage length), so the handler re-arms a 1 s alarm until the loop turns again and
// its heartbeat pushes the alarm back to kServerStallS; iperf then fails that test and the
// server restarts. A healthy server never gets SIGALRM.
void on_server_heartbeat(union TimerClientData /*data*/, struct iperf_time* /*now*/) {
  ::alarm(kServerStallS);
}

void on_sigalrm(int /*sig*/) { ::alarm(1); }  // async-signal-safe

// The probe program's server: serves tests until its owner (`parent`) is gone.
[[noreturn]] void run_server(int port, const std::string& bind_address, int out, pid_t parent) {
  struct sigaction sa {};
  sa.sa_handler = &on_sigalrm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the point is to make a blocked read return EINTR
  ::sigaction(SIGALRM, &sa, nullptr);
  union TimerClientData none;
  none.p = nullptr;
  if (tmr_create(nullptr, &on_server_heartbeat, none, 1000000, 1) == nullptr) {
    write_all(out, "cannot create the watchdog timer");
    ::_exit(2);
  }
  ::alarm(kServerStallS);

  iperf_test* test = iperf_new_test();
  if (test == nullptr) {
    write_all(out, "out of memory");
    ::_exit(2);
  }
  iperf_defaults(test);
  iperf_set_test_role(test, 's');
  iperf_set_test_server_port(test, port);
  if (!bind_address.empty()) iperf_set_test_bind_address(test, bind_address.c_str());
  iperf_set_test_idle_timeout(test, kServerIdleRestartS);
  iperf_time rcv_timeout{kServerRcvTimeoutS, 0};
  iperf_set_test_rcv_timeout(test, &rcv_timeout);
  for (;;) {
    const int rc = iperf_run_server(test);
    if (rc < 0 && i_errno == IELISTEN) {
      write_all(out, iperf_strerror(i_errno));
      ::_exit(2);
    }
    if (::getppid() != parent) ::_exit(0);  // orphaned: the owner died without stop()
    if (rc < 0) ::usleep(1000);            // a failed test: do not spin on a broken state
    iperf_reset_test(test);
  }
}

// Ends a client test `duration_us` after it started running (see the file comment).
struct ProbeStop {
  iperf_test* test = nullptr;
  int64_t duration_us = 0;
  int64_t start_us = -1;
};

void on_probe_tick(union TimerClientData data, struct iperf_time* /*now*/) {
  auto* stop = static_cast<ProbeStop*>(data.p);
  const int64_t now = steady_us();
  if (stop->start_us < 0) stop->start_us = now;
  if (now - stop->start_us >= stop->duration_us) iperf_set_test_bytes(stop->test, 1);
}

// The probe program's client: one test, its answer on `out`.
[[noreturn]] void run_client(const std::string& numeric_host, int port, Duration duration,
                             int64_t max_bytes, int out) {
  iperf_test* test = iperf_new_test();
  if (test == nullptr) {
    write_all(out, "Eout of memory");
    ::_exit(1);
  }
  iperf_defaults(test);
  iperf_set_test_role(test, 'c');
  iperf_set_test_server_hostname(test, numeric_host.c_str());
  iperf_set_test_server_port(test, port);
  // Whole seconds, as a backstop only: the tick below ends the test at `duration`.
  iperf_set_test_duration(test, static_cast<int>(duration.count() / 1000000) + 2);
  if (max_bytes > 0) iperf_set_test_bytes(test, static_cast<uint64_t>(max_bytes));
  iperf_set_test_json_output(test, 1);
  iperf_set_test_connect_timeout(test, kConnectTimeoutMs);

  ProbeStop stop;  // lives until _exit: the timer keeps a pointer to it
  stop.test = test;
  stop.duration_us = duration.count();
  union TimerClientData data;
  data.p = &stop;
  if (tmr_create(nullptr, &on_probe_tick, data, kTickUs, 1) == nullptr) {
    write_all(out, "Ecannot create the probe timer");
    ::_exit(1);
  }
  if (iperf_run_client(test) < 0) {
    write_all(out, std::string("E") + iperf_strerror(i_errno));
    ::_exit(1);
  }
  const char* json = iperf_get_test_json_output_string(test);
  if (json == nullptr) {
    write_all(out, "Eiperf produced no JSON result");
    ::_exit(1);
  }
  write_all(out, std::string("R") + json);
  ::_exit(0);
}

std::string& probe_program_set() {
  static std::string path;
  return path;
}

// Where the probe program is: the one set_probe_program() named, else coedge-probe in this
// program's folder (where the build and an install put it).
Result<std::string> probe_program() {
  if (const std::string& set = probe_program_set(); !set.empty()) {
    if (os::is_executable_file(set)) return set;
    return Error{ErrorCode::kNotFound, "the bandwidth probe program " + set + " is not an executable file"};
  }
  const std::string beside = os::sibling_executable(kProbeProgram);
  if (os::is_executable_file(beside)) return beside;
  return Error{ErrorCode::kNotFound, std::string("the bandwidth probe program ") + kProbeProgram +
                                         " is not at " + beside +
                                         " (it is built and installed next to coedge; or name it in "
                                         "the COEDGE_PROBE_PROGRAM variable)"};
}

// Starts the probe program with `args`, its 0-2 on /dev/null and the write end of a pipe
// as its descriptor 3. Returns its pid and the pipe's read end.
Result<std::pair<pid_t, os::Fd>> start_probe_program(const std::vector<std::string>& args,
                                                     bool die_with_parent) {
  auto program = probe_program();
  if (!program.ok()) return program.error();
  auto pipe = os::make_pipe();
  if (!pipe.ok()) return pipe.error();
  const os::Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return Error{ErrorCode::kIo, "cannot open /dev/null: " + os::errno_text(errno)};
  std::vector<std::string> argv{*program};
  argv.insert(argv.end(), args.begin(), args.end());
  os::SpawnOptions options;
  options.stdin_fd = options.stdout_fd = options.stderr_fd = devnull.get();
  options.fd3 = pipe->write.get();
  options.die_with_parent = die_with_parent;
  auto pid = os::spawn(argv, options);
  if (!pid.ok()) return Error{pid.error().code, "cannot start " + *program + ": " + pid.error().message};
  return std::pair<pid_t, os::Fd>{*pid, std::move(pipe->read)};
}

void reap(pid_t pid) { (void)os::wait_for_exit(pid); }

// Has pid exited? Reaps it if so (also true when already reaped by someone else).
bool exited(pid_t pid) { return os::reap_if_exited(pid).has_value(); }

// Reads what is available on a non-blocking fd; returns false at EOF.
bool drain(int fd, std::string& into) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n != 0;  // 0: EOF; <0: EAGAIN (or an error, treated as "nothing more now")
  }
}

struct ChildOutput {
  std::string data;
  bool timed_out = false;
};

// Collects the child's answer until it exits or `deadline` passes (then kills it). Does
// not rely on EOF alone: another thread's fork may briefly hold a copy of the write end.
ChildOutput collect(pid_t pid, int fd, SteadyClock::time_point deadline) {
  ChildOutput out;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  bool open = true;
  for (;;) {
    if (open) open = drain(fd, out.data);
    if (exited(pid)) {
      if (open) drain(fd, out.data);
      return out;
    }
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      ::kill(pid, SIGKILL);
      reap(pid);
      out.timed_out = true;
      return out;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const int wait_ms = static_cast<int>(std::min<int64_t>(10, left.count() + 1));
    pollfd p{open ? fd : -1, POLLIN, 0};
    ::poll(&p, 1, wait_ms);
  }
}

// The socket inodes open in process pid.
std::set<unsigned long> socket_inodes(pid_t pid) {
  std::set<unsigned long> inodes;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return inodes;
  while (const dirent* e = ::readdir(d)) {
    char target[128];
    const std::string path = dir + "/" + e->d_name;
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    unsigned long inode = 0;
    if (std::sscanf(target, "socket:[%lu]", &inode) == 1) inodes.insert(inode);
  }
  ::closedir(d);
  return inodes;
}

// Does process pid hold a TCP socket in LISTEN state on `port` (in its network namespace)?
bool listens(pid_t pid, int port) {
  const std::set<unsigned long> inodes = socket_inodes(pid);
  if (inodes.empty()) return false;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout;
      unsigned long inode = 0;
      if (!(fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
            timeout >> inode)) {
        continue;
      }
      const size_t colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;
      if (std::strtol(local.c_str() + colon + 1, nullptr, 16) == port && inodes.count(inode) > 0) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

// ---- ProbeServer --------------------------------------------------------------------------

Result<std::unique_ptr<ProbeServer>> ProbeServer::start(int port, const std::string& bind_address) {
  const std::string where = "bandwidth probe server on port " + std::to_string(port);
  if (port < 1 || port > 65535) {
    return Error{ErrorCode::kInvalidInput, where + ": the port must be in 1..65535"};
  }
  // Not die_with_parent: that would fire when the starting *thread* ends; the server
  // notices instead that its owner is gone (see run_server).
  auto child = start_probe_program(
      {"server", std::to_string(port), bind_address.empty() ? "-" : bind_address, std::to_string(::getpid())},
      /*die_with_parent=*/false);
  if (!child.ok()) return Error{child.error().code, where + ": " + child.error().message};
  const pid_t pid = child->first;
  const int status = child->second.get();  // closed with `child`
  ::fcntl(status, F_SETFL, ::fcntl(status, F_GETFL) | O_NONBLOCK);

  const auto deadline = SteadyClock::now() + kServerStartTimeout;
  std::string message;
  for (;;) {
    pollfd p{status, POLLIN, 0};
    if (::poll(&p, 1, 2) > 0) {
      const bool open = drain(status, message);
      if (!message.empty() || !open) {  // the child failed, or died
        ::kill(pid, SIGKILL);
        reap(pid);
        return Error{ErrorCode::kIo, where + " failed: " +
                                         (message.empty() ? "the server process exited" : message)};
      }
    }
    if (listens(pid, port)) break;
    if (SteadyClock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      reap(pid);
      return Error{ErrorCode::kIo, where + " failed: not listening after " +
                                       format_duration(kServerStartTimeout)};
    }
  }
  return std::unique_ptr<ProbeServer>(new ProbeServer(port, pid));
}

ProbeServer::~ProbeServer() { stop(); }

void ProbeServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap(pid_);
  pid_ = -1;
}

bool ProbeServer::running() {
  if (pid_ <= 0) return false;
  if (exited(pid_)) {
    pid_ = -1;
    return false;
  }
  return true;
}

// ---- probe_mbps -----------------------------------------------------------------------------

Result<double> probe_mbps(const std::string& host, int port, Duration duration, int64_t max_bytes) {
  const std::string where = "bandwidth probe to " + host + ":" + std::to_string(port) + " failed: ";
  if (port < 1 || port > 65535) {
    return Error{ErrorCode::kInvalidInput, where + "the port must be in 1..65535"};
  }
  if (duration <= Duration::zero() || duration > kMaxDuration) {
    return Error{ErrorCode::kInvalidInput,
                 where + "the duration must be in (0, 1h], not " + format_duration(duration)};
  }
  if (max_bytes < 0) {
    return Error{ErrorCode::kInvalidInput,
                 where + "max_bytes must be >= 0 (0: unlimited), not " + std::to_string(max_bytes)};
  }

  // Resolve here, so that the child only handles a numeric address.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int gai = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (gai != 0 || res == nullptr) {
    return Error{ErrorCode::kIo, where + "cannot resolve the host: " + ::gai_strerror(gai)};
  }
  char numeric[NI_MAXHOST];
  const int ni = ::getnameinfo(res->ai_addr, res->ai_addrlen, numeric, sizeof numeric, nullptr, 0,
                               NI_NUMERICHOST);
  ::freeaddrinfo(res);
  if (ni != 0) {
    return Error{ErrorCode::kIo, where + "cannot resolve the host: " + ::gai_strerror(ni)};
  }
  const std::string numeric_host = numeric;

  std::lock_guard<std::mutex> lock(probe_mutex());
  // die_with_parent is safe here: this thread waits for the child.
  auto child = start_probe_program({"client", numeric_host, std::to_string(port),
                                    std::to_string(duration.count()), std::to_string(max_bytes)},
                                   /*die_with_parent=*/true);
  if (!child.ok()) return Error{child.error().code, where + child.error().message};
  const pid_t pid = child->first;
  const ChildOutput out =
      collect(pid, child->second.get(), SteadyClock::now() + duration + kDeadlineMargin);
  child->second.reset();

  if (out.timed_out) {
    return Error{ErrorCode::kIo,
                 where + "no result within " + format_duration(duration + kDeadlineMargin) +
                     " (the peer is silent or the link is stalled)"};
  }
  if (out.data.empty()) {
    return Error{ErrorCode::kIo, where + "the probe process ended without a result"};
  }
  const std::string payload = out.data.substr(1);
  if (out.data[0] != 'R') return Error{ErrorCode::kIo, where + payload};

  try {
    const nlohmann::json j = nlohmann::json::parse(payload);
    if (j.contains("error") && j["error"].is_string()) {
      return Error{ErrorCode::kIo, where + j["error"].get<std::string>()};
    }
    const auto ptr = nlohmann::json::json_pointer("/end/sum_received/bits_per_second");
    if (!j.contains(ptr) || !j.at(ptr).is_number()) {
      return Error{ErrorCode::kIo, where + "iperf's result has no end.sum_received.bits_per_second"};
    }
    const double bps = j.at(ptr).get<double>();
    // iperf 3.12 servers count only what they read before the client's TEST_END: a test
    // of a few milliseconds (a small byte limit on a fast link) can report 0 received.
    if (!(bps > 0.0)) {
      return Error{ErrorCode::kIo, where + "the server counted no received data (the test was "
                                           "too short for this link: probe longer or with more bytes)"};
    }
    return bps / 1e6;
  } catch (const nlohmann::json::exception& e) {
    return Error{ErrorCode::kIo, where + "unreadable iperf result: " + e.what()};
  }
}

namespace {

bool parse_int(const char* text, int64_t min, int64_t max, int64_t& out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return false;
  out = v;
  return true;
}

int probe_usage(const char* why) {
  std::fprintf(stderr,
               "%s: %s\n"
               "The bandwidth probe program of CoEdge's node agents (which start it; not meant to be\n"
               "run by hand). It answers on descriptor 3:\n"
               "  %s server PORT BIND_ADDRESS|- OWNER_PID\n"
               "  %s client NUMERIC_HOST PORT DURATION_US MAX_BYTES\n",
               kProbeProgram, why, kProbeProgram, kProbeProgram);
  return 2;
}

}  // namespace

void set_probe_program(std::string path) { probe_program_set() = std::move(path); }

int probe_program_main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a peer that goes away is iperf's error, not our death
  if (::fcntl(3, F_GETFD) < 0) return probe_usage("descriptor 3 (the answer pipe) is not open");
  const std::string mode = argc > 1 ? argv[1] : "";
  int64_t port = 0, pid = 0, duration_us = 0, max_bytes = 0;
  if (mode == "server" && argc == 5) {
    if (!parse_int(argv[2], 1, 65535, port)) return probe_usage("bad PORT");
    if (!parse_int(argv[4], 1, INT32_MAX, pid)) return probe_usage("bad OWNER_PID");
    const std::string bind = argv[3];
    run_server(static_cast<int>(port), bind == "-" ? "" : bind, 3, static_cast<pid_t>(pid));
  }
  if (mode == "client" && argc == 6) {
    if (!parse_int(argv[3], 1, 65535, port)) return probe_usage("bad PORT");
    if (!parse_int(argv[4], 1, std::chrono::duration_cast<std::chrono::microseconds>(kMaxDuration).count(),
                   duration_us)) {
      return probe_usage("bad DURATION_US");
    }
    if (!parse_int(argv[5], 0, INT64_MAX, max_bytes)) return probe_usage("bad MAX_BYTES");
    run_client(argv[2], static_cast<int>(port), std::chrono::microseconds(duration_us), max_bytes, 3);
  }
  return probe_usage("expected `server PORT BIND_ADDRESS|- OWNER_PID` or "
                     "`client NUMERIC_HOST PORT DURATION_US MAX_BYTES`");
}

}  // namespace coedge::net
