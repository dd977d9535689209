// Passive bandwidth estimation from the sensor frames a node receives anyway, and the
// per-peer combination of that with active probes (bandwidth_probe.h) that a node agent
// reports to the master each window. Both classes are pure: no clock reads, no I/O — the
// caller passes every instant, on the wall clock (WallTime: a frame's capture stamp is the
// sender's, its reception ours) — so they behave identically in the simulator and in tests.
//
// What PassiveRate measures: for each frame received from a peer, the frame's throughput
// bytes * 8 / (received - sent), in Mbit/s (10^6 bit/s); rate() is the median of these over
// the frames received in the last `window`. A frame's transfer time includes the
// serialisation and queueing behind the frames (and any other traffic) sent before it, the
// sender's own send path and the receiver's wake-up latency, so each sample is a lower
// bound of the link's capacity and the estimate is biased low: it is close to the capacity
// only when frames are large compared to the link's latency and are sent back to back,
// and for small frames on a high-latency link it measures size / latency instead. It also
// needs the sender's and the receiver's clocks to agree (true when every node runs on one
// machine, as in the tc-shaped emulation; across hosts it needs PTP/NTP, and any offset
// becomes a bias in the transfer times). Frames whose transfer time is not positive
// (clock skew) or whose size is not positive are ignored.
//
// Thread-safety: none; each instance belongs to one thread (or is guarded by its owner).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/time.h"

namespace coedge::net {

class PassiveRate {
 public:
  // At most this many samples are kept per peer (the oldest go first).
  static constexpr std::size_t kMaxSamplesPerPeer = 4096;

  // `window` > 0: how far back rate() looks.
  explicit PassiveRate(Duration window = std::chrono::seconds(10));

  // A frame of `bytes` from `peer`, sent at `sent` (the sender's clock) and fully received
  // at `received` (ours). Samples older than the window behind the newest reception from
  // the peer are dropped here, so memory stays bounded.
  void record(const std::string& peer, int64_t bytes, WallTime sent, WallTime received);

  // The median per-frame throughput (Mbit/s) over the frames from `peer` received in
  // (now - window, now]; with an even count, the mean of the two middle values. nullopt
  // when there is none. Meant for `now` at or after the latest reception.
  std::optional<double> rate(const std::string& peer, WallTime now) const;

  // How many frames rate(peer, now) would use.
  std::size_t samples(const std::string& peer, WallTime now) const;

  Duration window() const { return window_; }

 private:
  struct Sample {
    WallTime received;
    double mbps;
  };
  bool in_window(const Sample& s, WallTime now) const {
    return s.received <= now && s.received > now - window_;
  }

  struct Peer {
    std::deque<Sample> samples;  // in recording order
    WallTime newest{WallTime::min()};  // latest reception recorded
  };

  Duration window_;
  std::map<std::string, Peer, std::less<>> peers_;
};

// A bandwidth value and where it came from: "probe" or "passive".
struct BandwidthReading {
  double mbps = 0.0;
  std::string method;
};

// Per peer: the latest probe result (with the time it was measured) and a PassiveRate.
// The estimate is the probe's value while it is younger than `probe_max_age` (0 <= now -
// measured_at < probe_max_age), else the passive rate, else nothing.
class BandwidthEstimate {
 public:
  explicit BandwidthEstimate(Duration probe_max_age,
                             Duration passive_window = std::chrono::seconds(10));

  // A probe result; a value that is not finite and > 0 is ignored (no information). An
  // older result than the one kept (by measured_at) is ignored too.
  void record_probe(const std::string& peer, double mbps, WallTime measured_at);
  // A received frame: see PassiveRate::record.
  void record_frame(const std::string& peer, int64_t bytes, WallTime sent, WallTime received);

  std::optional<BandwidthReading> estimate(const std::string& peer, WallTime now) const;
  std::optional<double> mbps(const std::string& peer, WallTime now) const;

  const PassiveRate& passive() const { return passive_; }

 private:
  struct Probe {
    double mbps;
    WallTime at;
  };

  Duration probe_max_age_;
  PassiveRate passive_;
  std::map<std::string, Probe, std::less<>> probes_;
};

}  // namespace coedge::net
