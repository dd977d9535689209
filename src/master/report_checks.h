// The master's checks of what the nodes and cameras send it (DESIGN: trust boundaries): a
// node report or a camera's source statistics is a network peer's untrusted input, and
// is used only once these functions accepted it. Pure: no I/O, no clock reads, no state
// of their own (the caller keeps what was accepted before and passes it in); the fuzz
// targets call them too. Reasons: core/sample_rejection.h.
//
// Sender. The DDS reader names the writer's partition (NodeReport::sender,
// SourceStats::sender: net/dds.h); with DDS Security a node's permissions allow it only
// its own partition, so a report whose `node` differs from its sender is another node's
// forgery, refused (kSenderMismatch). An EMPTY sender means a writer in no node's
// partition: refused when `require_sender` (a secure domain, where every legitimate writer
// has one), accepted otherwise — in an open domain any participant can write any
// partition, so the check there only catches mistakes; it is not a protection.
//
// Content. A report is refused, whole, when it names an unknown node, task, model or link
// peer, the same task/model/peer twice, a NaN/infinite/negative time, sum or rate, or an
// absurd value: met + overdue + dropped > released, a counter over 2^53 (beyond what a
// double holds exactly: no run gets there), a queue over kMaxQueueLength or over its
// open jobs, a latency sum over an hour per job, a link over kMaxLinkMbps, a link method
// other than "probe"/"passive", profile vectors longer than kMaxBatch or of two lengths.
//
// Time and order. A seq over 2^53 (kAbsurdValue), a stamp of 0 or less, or more than
// kMaxAheadNs ahead of the master's wall clock (kAbsurdTime) is refused: one accepted
// report with a far-future stamp or the highest seq would make every later one stale.
//
// History, per node: its counters are cumulative over one run of the node process (a
// LIFETIME), and its seq goes 1, 2, ... within it (node/cluster/cluster_feed.cc). Against
// the last accepted report of the node:
//   - seq higher: the same lifetime; a counter of a task both reported that went down is
//     refused (kCounterDecreased) — unless the node was gone since (liveliness lost or
//     its final report: `gone_since`), when it is a restart whose first report the master
//     missed: a new lifetime;
//   - seq not higher and a newer stamp, or the node gone since whatever the stamp (its
//     clock may have been stepped back): the node restarted (its seq began again at 1): a
//     new lifetime, whose counters start again (the master keeps the earlier lifetime's:
//     ClusterState);
//   - seq not higher and a stamp not newer: an old or repeated sample (kStale).
// Limits (what these checks cannot tell):
//   - a restart whose first report the master missed, while the node's liveliness never
//     lapsed, reads as a decrease and is refused until the node's counters pass the old
//     ones (or its liveliness lapses);
//   - restarts are told by the sender's seq and wall-clock stamp: a node with its own
//     credentials (or any participant of an open domain) can claim one — MasterCore takes
//     at most one new lifetime per node per kMinLifetime and sums saturate, but each
//     accepted one adds up to a lifetime's counters; two processes of one node writing in
//     turn (an old one back after a fail-over) do the same;
//   - numbers are checked for consistency, not truth: a node may under- or over-report
//     its own jobs within the bounds (met + overdue + dropped <= released, 2^53, an hour);
//   - a stamp may lag the master's clock by any amount (only the future is bounded); a
//     replayed old report of a node seen gone reads as a restart;
//   - a camera's count is its source node's word: that node may inflate or hide it.
//
// Source statistics (one camera per task, its source node, named in the sample):
// unknown task or node, a sender other than the node, a node that is not the task's
// source, a task fed by a camera driver (TaskSpec::topic: no camera count), a count over
// 2^53, a last stamp more than kMaxAheadNs ahead of the master's clock (kAbsurdTime), or a
// count below the last accepted one (kCounterDecreased) — unless its last stamp is newer:
// the camera restarted, a new lifetime whose count adds to the old one. A sample with no
// frame yet (published 0, last stamp 0) is empty: accepted, ignored (StatsVerdict::empty),
// not refused — a restarted camera sends one every second until its first frame.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/sample_rejection.h"
#include "core/scenario.h"
#include "net/dds.h"

namespace coedge::master {

inline constexpr uint64_t kMaxCounter = uint64_t{1} << 53;
inline constexpr uint32_t kMaxQueueLength = 1u << 20;
inline constexpr double kMaxLinkMbps = kMaxReportedMbps;  // 1 Tbit/s
inline constexpr double kMaxTimeMs = 3'600'000.0;      // an hour: per job, or per batch
// How far ahead of the master's wall clock a sender's stamp may be (clocks of a cluster
// agree far better): a stamp beyond it would make every later report or count look stale.
inline constexpr int64_t kMaxAheadNs = int64_t{3'600} * 1'000'000'000;  // an hour

struct CheckOptions {
  bool require_sender = false;  // a secure domain: a sample without a sender is refused
};

// What the master keeps of a node's last accepted report.
struct AcceptedReport {
  uint64_t seq = 0;
  int64_t stamp_ns = 0;
  std::vector<std::optional<net::TaskReport>> tasks;  // per scenario task: its last counters
};

struct ReportVerdict : SampleVerdict {
  bool new_lifetime = false;  // accepted as the first report of a restarted node
};

// `last`: the node's last accepted report (null: none yet); `gone_since`: its liveliness
// was lost, or it sent its final report, after that report; `wall_now_ns`: the master's
// CLOCK_REALTIME, against which a stamp more than kMaxAheadNs ahead is refused (null: no
// such bound, for callers without a clock, e.g. the fuzz targets).
ReportVerdict check_report(const Scenario& scenario, const net::NodeReport& report, const AcceptedReport* last,
                           bool gone_since, const CheckOptions& options,
                           std::optional<int64_t> wall_now_ns = std::nullopt);
// Records an accepted report as the node's last. REQUIRES: check_report accepted it, with
// `new_lifetime` its verdict's: then the earlier lifetime's counters are forgotten, every
// task's (the next report's counters are compared with this lifetime's only).
void remember(const Scenario& scenario, const net::NodeReport& report, AcceptedReport& last,
              bool new_lifetime = false);

struct AcceptedStats {
  uint64_t published = 0;
  int64_t last_stamp_ns = 0;
};

struct StatsVerdict : SampleVerdict {
  bool new_lifetime = false;  // the camera restarted: its count started again
  // Accepted but empty (published 0, no frame yet: a camera started or restarted, before its
  // first frame, says so every second): it changes nothing, and is not remembered.
  bool empty = false;
};

// `last`: the task's last accepted statistics (null: none yet); `wall_now_ns`: as for
// check_report (a last_stamp_ns more than kMaxAheadNs ahead is refused).
StatsVerdict check_source_stats(const Scenario& scenario, const net::SourceStats& stats, const AcceptedStats* last,
                                const CheckOptions& options, std::optional<int64_t> wall_now_ns = std::nullopt);

}  // namespace coedge::master
