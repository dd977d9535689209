// libFuzzer target: every control sample a CoEdge process receives over DDS, as a peer on
// the domain sends it, through everything the product does with it before using it. The
// first byte picks the type (modulo 5) and, above that, who sent it and how the domain is
// set up (byte / 5 % 3: the writer's partition names the sample's own node, none, or
// another node; byte / 15 % 2: a secure domain, where a sample without a sender is
// refused; byte / 30 % 2: the node was gone since its last report):
//   0 NodeReport  (the master reads it: rt/coedge/node_report, from every node's partition)
//   1 Plan        (nodes and cameras read it: rt/coedge/plan)
//   2 SourceStats (the master reads it: rt/coedge/source_stats, from every camera's partition)
//   3 TaskAck     (nodes and cameras read it: rt/coedge/task_ack)
//   4 Command     (nodes and cameras read it: rt/coedge/command)
// The rest is the serialized payload, encapsulation header included (XCDR1 or XCDR2, either
// byte order: readers accept both representations). It goes through Cyclone's own receive
// path (dds_receive.h: normalize, key extraction, read into the generated C type), what
// Cyclone accepts through our conversion, net::internal::from_msg (net/dds_convert.h: the
// caps on lengths), and what that accepts through the receiver's checks against the
// scenario of examples/lamppost.yaml: master::check_report / check_source_stats
// (master/report_checks.h), against no history and against a node's earlier report;
// node::ControlGate's admit_plan / admit_ack / admit_command (node/cluster/sample_checks.h),
// after a plan of its own. The sample is freed as a returned loan is, so leaks are caught.
// Besides "no crash, hang, leak or sanitizer report", the promises are checked: the
// conversion refuses exactly the samples over a cap and copies the others faithfully; a
// report accepted and remembered is refused when it comes again (stale); a refused sample
// says why; an admitted plan's epoch is followed; a claim for a task that the plan it names
// gives to another node is refused; only "stop" and "stop-sources" are accepted commands.
// FUZZ_DDS_VERBOSE=1 in the environment prints what became of each input
// (build-fuzz/bin/fuzz_dds_control FILE).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "config/scenario_loader.h"
#include "core/scenario.h"
#include "dds_receive.h"
#include "master/report_checks.h"
#include "net/dds_convert.h"
#include "node/cluster/sample_checks.h"

namespace {

using coedge::fuzz::ReceivedType;
using coedge::fuzz::Sample;
namespace net = coedge::net;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_dds_control: broken promise: %s\n", what);
  std::abort();
}

void expect(bool ok, const char* what) {
  if (!ok) fail(what);
}

const bool kVerbose = std::getenv("FUZZ_DDS_VERBOSE") != nullptr;

// Reads the payload into `s`; false (said when verbose) when Cyclone refuses it.
template <typename T>
bool receive(Sample<T>& s, const char* type, const uint8_t* data, size_t size) {
  const uint64_t overruns = s.type().cyclone_overruns();
  const bool ok = s.read(data, size);
  if (kVerbose) {
    std::fprintf(stderr, "fuzz_dds_control: %s %s\n", type,
                 ok ? "accepted by Cyclone"
                 : s.type().cyclone_overruns() > overruns
                     ? "refused: Cyclone 0.10.2 steps past its buffer on it (fuzz/README.md)"
                     : "refused by Cyclone");
  }
  return ok;
}

// A converted string is the sample's C string (a null one reads as empty).
bool same(const std::string& s, const char* c) { return c == nullptr ? s.empty() : s == c; }

template <typename Seq>
uint32_t length(const Seq& seq) {
  return seq._buffer == nullptr ? 0 : seq._length;
}

// The receiver's clock (CLOCK_REALTIME, ns) for every check: fixed, so that runs are
// reproducible; after every time in the seeds (write_dds_seeds.cc).
constexpr int64_t kNowNs = 1764748810'000'000'000;

const coedge::Scenario& scenario() {
  static const coedge::Scenario s = [] {
    auto loaded = coedge::config::load_scenario(COEDGE_FUZZ_SCENARIO);
    if (!loaded.ok()) {
      std::fprintf(stderr, "fuzz_dds_control: %s\n", loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return s;
}

// How the sample arrived (the selector byte's upper part).
struct Arrival {
  int sender;    // 0: the writer's partition names the sample's node; 1: none; 2: another node
  bool secure;   // a secure domain (require_sender)
  bool gone;     // the node's liveliness was lost since its last report
};

std::string sender_for(const Arrival& a, const std::string& own) {
  if (a.sender == 0) return own;
  if (a.sender == 1) return "";
  return own == "n2" ? "n3" : "n2";
}

template <typename T>
void verbose_verdict(const char* what, const T& v) {
  if (kVerbose) std::fprintf(stderr, "fuzz_dds_control: %s: %s %s\n", what, v.ok() ? "accepted" : "refused", v.why.c_str());
}

void refused_says_why(const coedge::SampleVerdict& v) {
  expect(v.ok() == v.why.empty(), "a verdict has a reason exactly when it refuses");
}

template <typename T>
void conversion_refused(const coedge::Result<T>& r) {
  expect(!r.error().message.empty(), "a refused conversion says why");
  if (kVerbose) std::fprintf(stderr, "fuzz_dds_control: conversion refused: %s\n", r.error().message.c_str());
}

bool over(const char* s, size_t cap) { return s != nullptr && std::strlen(s) > cap; }

template <typename Seq>
  requires requires(const Seq& q) { q._length; }
bool over(const Seq& q, size_t cap) {
  return q._length > cap || (q._length > 0 && q._buffer == nullptr);
}

bool over_caps(const coedge_msg_NodeReport& m) {
  if (over(m.node, net::kMaxSampleName) || over(m.tasks, net::kMaxSampleTasks) ||
      over(m.links, net::kMaxSampleLinks) || over(m.profiles, net::kMaxSampleProfiles))
    return true;
  for (uint32_t i = 0; i < length(m.tasks); ++i)
    if (over(m.tasks._buffer[i].task, net::kMaxSampleName)) return true;
  for (uint32_t i = 0; i < length(m.links); ++i)
    if (over(m.links._buffer[i].peer, net::kMaxSampleName) || over(m.links._buffer[i].method, net::kMaxSampleName))
      return true;
  for (uint32_t i = 0; i < length(m.profiles); ++i) {
    const coedge_msg_ProfileReport& p = m.profiles._buffer[i];
    if (over(p.model, net::kMaxSampleName) || over(p.exe_ms, net::kMaxSampleBatchSizes) ||
        over(p.batches, net::kMaxSampleBatchSizes))
      return true;
  }
  return false;
}

// The report of node n1 the master accepted before (for the history checks): seq 10.
coedge::master::AcceptedReport earlier_n1_report() {
  net::NodeReport r;
  r.node = r.sender = "n1";
  r.seq = 10;
  r.stamp_ns = kNowNs - 60'000'000'000;
  r.tasks = {{"Y1", 60, 55, 2, 1, 2600.0, 2000.0, 2}, {"V1", 20, 20, 0, 0, 900.0, 700.0, 0}};
  coedge::master::AcceptedReport last;
  coedge::master::remember(scenario(), r, last);
  return last;
}

void node_report(const ReceivedType& type, const uint8_t* data, size_t size, const Arrival& a) {
  Sample<coedge_msg_NodeReport> s(type);
  if (!receive(s, "NodeReport", data, size)) return;
  const coedge_msg_NodeReport& m = s.get();
  auto converted = net::internal::from_msg(m);
  expect(converted.ok() != over_caps(m), "NodeReport: refused exactly when over a cap");
  if (!converted.ok()) return conversion_refused(converted);
  net::NodeReport& r = *converted;
  expect(same(r.node, m.node) && r.seq == m.seq && r.stamp_ns == m.stamp_ns && r.final_report == m.final_report,
         "NodeReport fields");
  expect(r.sender.empty(), "NodeReport sender is not set by the conversion");
  expect(r.tasks.size() == length(m.tasks) && r.links.size() == length(m.links) &&
             r.profiles.size() == length(m.profiles),
         "NodeReport sequence lengths");
  for (size_t i = 0; i < r.tasks.size(); ++i) {
    expect(same(r.tasks[i].task, m.tasks._buffer[i].task) && r.tasks[i].released == m.tasks._buffer[i].released,
           "TaskReport fields");
  }
  for (size_t i = 0; i < r.links.size(); ++i) {
    expect(same(r.links[i].peer, m.links._buffer[i].peer) && same(r.links[i].method, m.links._buffer[i].method),
           "LinkReport fields");
  }
  for (size_t i = 0; i < r.profiles.size(); ++i) {
    const coedge_msg_ProfileReport& p = m.profiles._buffer[i];
    expect(same(r.profiles[i].model, p.model) && r.profiles[i].exe_ms.size() == length(p.exe_ms) &&
               r.profiles[i].batches.size() == length(p.batches),
           "ProfileReport fields");
  }

  // The master's checks (master_core: the reader sets the sender from the partition).
  r.sender = sender_for(a, r.node);
  const coedge::master::CheckOptions options{a.secure};
  const auto first = coedge::master::check_report(scenario(), r, nullptr, a.gone, options);
  verbose_verdict("check_report (first report)", first);
  refused_says_why(first);
  if (first.ok()) {
    coedge::master::AcceptedReport last;
    coedge::master::remember(scenario(), r, last);
    const auto again = coedge::master::check_report(scenario(), r, &last, a.gone, options);
    verbose_verdict("check_report (the same again)", again);
    expect(again.reason == coedge::SampleRejection::kStale, "an accepted report sent again is stale");
  }
  if (r.node == "n1") {
    const coedge::master::AcceptedReport earlier = earlier_n1_report();
    const auto next = coedge::master::check_report(scenario(), r, &earlier, a.gone, options);
    verbose_verdict("check_report (after seq 10)", next);
    refused_says_why(next);
  }
}

void plan(const ReceivedType& type, const uint8_t* data, size_t size, const Arrival&) {
  Sample<coedge_msg_Plan> s(type);
  if (!receive(s, "Plan", data, size)) return;
  const coedge_msg_Plan& m = s.get();
  auto converted = net::internal::from_msg(m);
  bool caps = over(m.assignments, net::kMaxSampleAssignments);
  for (uint32_t i = 0; !caps && i < length(m.assignments); ++i)
    caps = over(m.assignments._buffer[i].task, net::kMaxSampleName) || over(m.assignments._buffer[i].node, net::kMaxSampleName);
  expect(converted.ok() != caps, "Plan: refused exactly when over a cap");
  if (!converted.ok()) return conversion_refused(converted);
  const net::Plan& p = *converted;
  expect(p.version == m.version && p.epoch == m.epoch && p.effective_ns == m.effective_ns, "Plan fields");
  expect(p.assignments.size() == length(m.assignments), "Plan assignments");
  for (size_t i = 0; i < p.assignments.size(); ++i) {
    expect(same(p.assignments[i].task, m.assignments._buffer[i].task) &&
               same(p.assignments[i].node, m.assignments._buffer[i].node),
           "Assignment fields");
  }

  coedge::node::ControlGate gate(scenario());
  const auto v = gate.admit_plan(p, kNowNs, coedge::kEpoch);
  verbose_verdict("admit_plan", v);
  refused_says_why(v);
  if (v.ok()) {
    expect(gate.followed_epoch() == p.epoch, "an admitted plan's epoch is followed");
    expect(!gate.applied().empty(), "an admitted plan is remembered");
  } else {
    expect(gate.followed_epoch() == 0 && gate.applied().empty(), "a refused plan changes nothing");
    expect(!gate.take_logs().empty(), "a refused plan is logged (the first of its reason)");
  }
}

void source_stats(const ReceivedType& type, const uint8_t* data, size_t size, const Arrival& a) {
  Sample<coedge_msg_SourceStats> s(type);
  if (!receive(s, "SourceStats", data, size)) return;
  const coedge_msg_SourceStats& m = s.get();
  auto converted = net::internal::from_msg(m);
  expect(converted.ok() != (over(m.task, net::kMaxSampleName) || over(m.node, net::kMaxSampleName)),
         "SourceStats: refused exactly when over a cap");
  if (!converted.ok()) return conversion_refused(converted);
  net::SourceStats& st = *converted;
  expect(same(st.task, m.task) && same(st.node, m.node) && st.published == m.published &&
             st.last_stamp_ns == m.last_stamp_ns && st.sender.empty(),
         "SourceStats fields");

  st.sender = sender_for(a, st.node);
  const coedge::master::CheckOptions options{a.secure};
  const auto first = coedge::master::check_source_stats(scenario(), st, nullptr, options);
  verbose_verdict("check_source_stats (first)", first);
  refused_says_why(first);
  const coedge::master::AcceptedStats earlier{250, kNowNs - 30'000'000'000};
  const auto next = coedge::master::check_source_stats(scenario(), st, &earlier, options);
  verbose_verdict("check_source_stats (after 250)", next);
  refused_says_why(next);
}

// The plan a node applied before a claim arrives: epoch kPlanEpoch, version 4.
constexpr uint64_t kPlanEpoch = 1764748790'000'000'000;

net::Plan applied_plan() {
  net::Plan p;
  p.version = 4;
  p.epoch = kPlanEpoch;
  p.effective_ns = kNowNs - 9'000'000'000;
  p.assignments = {{"Y1", "n1"}, {"V1", "n2"}, {"R1", ""}};
  return p;
}

void task_ack(const ReceivedType& type, const uint8_t* data, size_t size, const Arrival& a) {
  Sample<coedge_msg_TaskAck> s(type);
  if (!receive(s, "TaskAck", data, size)) return;
  const coedge_msg_TaskAck& m = s.get();
  auto converted = net::internal::from_msg(m);
  expect(converted.ok() != (over(m.task, net::kMaxSampleName) || over(m.node, net::kMaxSampleName)),
         "TaskAck: refused exactly when over a cap");
  if (!converted.ok()) return conversion_refused(converted);
  net::TaskAck& ack = *converted;
  expect(same(ack.task, m.task) && same(ack.node, m.node) && ack.epoch == m.epoch && ack.version == m.version &&
             ack.from_ns == m.from_ns && ack.sender.empty(),
         "TaskAck fields");

  ack.sender = sender_for(a, ack.node);
  coedge::node::ControlGate gate(scenario(), coedge::node::SampleCheckOptions{a.secure});
  const net::Plan before = applied_plan();
  expect(gate.admit_plan(before, kNowNs, coedge::kEpoch).ok(), "the gate admits its own plan");
  const auto v = gate.admit_ack(ack, kNowNs, coedge::kEpoch);
  verbose_verdict("admit_ack", v);
  refused_says_why(v);
  if (v.ok() && ack.epoch == before.epoch && ack.version == before.version) {
    bool assigned = false;
    for (const auto& as : before.assignments) assigned = assigned || (as.task == ack.task && as.node == ack.node);
    expect(assigned, "a claim for a task the named plan gives to another node is refused");
  }
}

void command(const ReceivedType& type, const uint8_t* data, size_t size, const Arrival&) {
  Sample<coedge_msg_Command> s(type);
  if (!receive(s, "Command", data, size)) return;
  const coedge_msg_Command& m = s.get();
  auto converted = net::internal::from_msg(m);
  expect(converted.ok() != (over(m.command, net::kMaxSampleName) || over(m.node, net::kMaxSampleName)),
         "Command: refused exactly when over a cap");
  if (!converted.ok()) return conversion_refused(converted);
  const net::Command& c = *converted;
  expect(same(c.command, m.command) && same(c.node, m.node), "Command fields");

  coedge::node::ControlGate gate(scenario());
  const auto v = gate.admit_command(c, coedge::kEpoch);
  verbose_verdict("admit_command", v);
  refused_says_why(v);
  if (v.ok()) expect(c.command == "stop" || c.command == "stop-sources", "only stop and stop-sources are commands");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ReceivedType kNodeReport(&coedge_msg_NodeReport_desc);
  static const ReceivedType kPlan(&coedge_msg_Plan_desc);
  static const ReceivedType kSourceStats(&coedge_msg_SourceStats_desc);
  static const ReceivedType kTaskAck(&coedge_msg_TaskAck_desc);
  static const ReceivedType kCommand(&coedge_msg_Command_desc);
  if (size < 1) return 0;
  const Arrival a{data[0] / 5 % 3, data[0] / 15 % 2 == 1, data[0] / 30 % 2 == 1};
  const uint8_t* payload = data + 1;
  const size_t n = size - 1;
  switch (data[0] % 5) {
    case 0: node_report(kNodeReport, payload, n, a); break;
    case 1: plan(kPlan, payload, n, a); break;
    case 2: source_stats(kSourceStats, payload, n, a); break;
    case 3: task_ack(kTaskAck, payload, n, a); break;
    default: command(kCommand, payload, n, a); break;
  }
  return 0;
}
