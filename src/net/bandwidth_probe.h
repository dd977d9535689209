// Active bandwidth measurement with libiperf (iperf 3.12): a ProbeServer that answers
// iperf3 TCP tests on a port, and probe_mbps(), which runs one TCP test against such a
// server (or any iperf3 server) and returns the throughput the server received, in Mbit/s
// (10^6 bit/s). Node agents run one server and probe their peers at a low duty cycle.
//
// libiperf is not usable from several threads of one process: besides the global i_errno,
// its timer list (timer.c: tmr_create/tmr_run) is one process-wide unsynchronised linked
// list shared by every test, so a server test and a client test running in two threads of
// one process corrupt each other's timers. Hence libiperf never runs in the calling
// process here: the server, and each client probe, run in a child process, the small
// probe program `coedge-probe` (probe_program_main below), with stdin/stdout/stderr on
// /dev/null (libiperf prints nothing where we can see it) and no inherited descriptor but
// its answer pipe. The program is the one set_probe_program() named, else coedge-probe
// next to the calling program (as the build and installs place it); without it, starting
// a server or a probe fails with an error that says where it was looked for.
//
// Thread-safety: probe_mbps() may be called from any thread; probes are serialised by one
// process-wide mutex (concurrent probes from one node would share its uplink and measure
// each other), so a call waits for the probes before it. A ProbeServer is not thread-safe:
// one owner starts and stops it. A probe and a ProbeServer may run at the same time, also
// against each other (the test suite does). The process must not set SIGCHLD to SIG_IGN
// nor waitpid(-1) (the children are reaped by pid here).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/time.h"

namespace coedge::net {

inline constexpr const char* kProbeProgram = "coedge-probe";

// Names the probe program to start (a path); empty: coedge-probe next to this program.
// Set once, before any server or probe starts (apps/: the COEDGE_PROBE_PROGRAM variable).
void set_probe_program(std::string path);

// The probe program's main (apps/probe): `server PORT BIND_ADDRESS|- OWNER_PID` serves
// until OWNER_PID is gone or it is killed; `client NUMERIC_HOST PORT DURATION_US MAX_BYTES`
// runs one test. Each answers on descriptor 3 as described in bandwidth_probe.cc. Returns
// the exit code (2: bad arguments, with a usage message on stderr).
int probe_program_main(int argc, char** argv);

// An iperf3 server on a TCP port, serving tests one after another until stopped. It runs
// in a child process (see the file comment) that restarts iperf_run_server after each test.
// One test at a time: a probe arriving during another peer's test fails with iperf's "the
// server is busy running a test. try again later". iperf closes and reopens its listener
// between tests (as the iperf3 program does), so a connection attempt in that
// sub-millisecond gap is refused: a failed probe is retried at the next window. The child
// also restarts every 2 s when idle and then exits by itself if this process died; a test
// whose client goes silent is abandoned after 5 s (receive timeout, and a watchdog for the
// blocking control-channel reads with which a silent client hangs a stock 3.12 server).
class ProbeServer {
 public:
  // Starts serving on `port` (1..65535) on every address, or on `bind_address` when it is
  // not empty, in the network namespace of the calling thread. Returns once the server
  // listens (seen in /proc/<child>/net/tcp{,6}), or an error (kIo) when it cannot listen
  // (port in use, bad address: libiperf's message) or does not within 3 s.
  static Result<std::unique_ptr<ProbeServer>> start(int port, const std::string& bind_address = "");

  ~ProbeServer();  // stop()
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  // Kills the server process (SIGKILL; a test in progress is cut and its client gets an
  // error) and reaps it. Returns in milliseconds, never waits for a test. Idempotent.
  void stop();

  // True while the server process is alive (false after stop() or if it died).
  bool running();

  int port() const { return port_; }

 private:
  ProbeServer(int port, pid_t pid) : port_(port), pid_(pid) {}

  int port_;
  pid_t pid_;  // -1 once reaped
};

// Runs one iperf3 TCP test (client sends, server receives) to host:port, from the network
// namespace of the calling thread, for `duration`
// (sub-second durations work: see below), or until `max_bytes` were sent when it is not 0,
// whichever comes first, and returns end.sum_received.bits_per_second / 1e6 from iperf's
// JSON result: the throughput the server received over the test.
// Errors: kInvalidInput for a port outside 1..65535, duration <= 0 or > 1 h, or
// max_bytes < 0; kIo "bandwidth probe to HOST:PORT failed: <reason>" when the host does not
// resolve, nobody listens (iperf_strerror(i_errno), e.g. "unable to connect to server -
// server may have stopped running or use a different port, firewall issue, etc.:
// Connection refused"), the server is busy or fails, or no result came within
// duration + 3 s (silent peer: the probe is killed; the connect timeout is 3 s), or the
// server counted 0 bytes (iperf 3.12 may, for a test of a few ms: a small max_bytes on a
// fast link; its server only counts what it read before the client's end-of-test).
Result<double> probe_mbps(const std::string& host, int port, Duration duration, int64_t max_bytes = 0);

}  // namespace coedge::net
