// PassiveRate and BandwidthEstimate (see passive_rate.h for what they measure, their bias
// and the thread-safety contract). Pure functions of the recorded samples and `now`.
#include "net/passive_rate.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/result.h"

namespace coedge::net {

PassiveRate::PassiveRate(Duration window) : window_(window) { COEDGE_CHECK(window > Duration::zero()); }

void PassiveRate::record(const std::string& peer, int64_t bytes, WallTime sent, WallTime received) {
  if (bytes <= 0 || received <= sent) return;
  const double transfer_us = std::chrono::duration<double, std::micro>(received - sent).count();
  // bits per microsecond == Mbit/s
  const double mbps = static_cast<double>(bytes) * 8.0 / transfer_us;

  auto it = peers_.find(peer);
  if (it == peers_.end()) it = peers_.emplace(peer, Peer{}).first;
  Peer& p = it->second;
  p.samples.push_back(Sample{received, mbps});
  p.newest = std::max(p.newest, received);
  // Out-of-order receptions behind the front are dropped later, or skipped by rate().
  while (!p.samples.empty() && p.samples.front().received <= p.newest - window_) p.samples.pop_front();
  while (p.samples.size() > kMaxSamplesPerPeer) p.samples.pop_front();
}

std::optional<double> PassiveRate::rate(const std::string& peer, WallTime now) const {
  const auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  std::vector<double> values;
  for (const Sample& s : it->second.samples) {
    if (in_window(s, now)) values.push_back(s.mbps);
  }
  if (values.empty()) return std::nullopt;
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2.0;
}

std::size_t PassiveRate::samples(const std::string& peer, WallTime now) const {
  const auto it = peers_.find(peer);
  if (it == peers_.end()) return 0;
  const auto& samples = it->second.samples;
  return static_cast<std::size_t>(std::count_if(samples.begin(), samples.end(),
                                                [&](const Sample& s) { return in_window(s, now); }));
}

BandwidthEstimate::BandwidthEstimate(Duration probe_max_age, Duration passive_window)
    : probe_max_age_(probe_max_age), passive_(passive_window) {
  COEDGE_CHECK(probe_max_age > Duration::zero());
}

void BandwidthEstimate::record_probe(const std::string& peer, double mbps, WallTime measured_at) {
  if (!std::isfinite(mbps) || mbps <= 0.0) return;
  const auto it = probes_.find(peer);
  if (it == probes_.end()) {
    probes_.emplace(peer, Probe{mbps, measured_at});
  } else if (measured_at >= it->second.at) {
    it->second = Probe{mbps, measured_at};
  }
}

void BandwidthEstimate::record_frame(const std::string& peer, int64_t bytes, WallTime sent,
                                     WallTime received) {
  passive_.record(peer, bytes, sent, received);
}

std::optional<BandwidthReading> BandwidthEstimate::estimate(const std::string& peer, WallTime now) const {
  const auto it = probes_.find(peer);
  if (it != probes_.end()) {
    const auto age = std::chrono::duration_cast<Duration>(now - it->second.at);
    if (age >= Duration::zero() && age < probe_max_age_) return BandwidthReading{it->second.mbps, "probe"};
  }
  if (const auto passive = passive_.rate(peer, now)) return BandwidthReading{*passive, "passive"};
  return std::nullopt;
}

std::optional<double> BandwidthEstimate::mbps(const std::string& peer, WallTime now) const {
  const auto reading = estimate(peer, now);
  if (!reading) return std::nullopt;
  return reading->mbps;
}

}  // namespace coedge::net
