// libFuzzer target: every control sample a CoEdge process receives over DDS, as a peer on
// the domain sends it. The first byte picks the type (modulo 5):
//   0 NodeReport  (the master reads it: rt/coedge/node_report, from every node's partition)
//   1 Plan        (nodes and cameras read it: rt/coedge/plan)
//   2 SourceStats (the master reads it: rt/coedge/source_stats, from every camera's partition)
//   3 TaskAck     (nodes and cameras read it: rt/coedge/task_ack)
//   4 Command     (nodes and cameras read it: rt/coedge/command)
// The rest is the serialized payload, encapsulation header included (XCDR1 or XCDR2, either
// byte order: readers accept both representations). It goes through Cyclone's own receive
// path (dds_receive.h: normalize, key extraction, read into the generated C type), and
// what Cyclone accepts through our conversion, net::internal::from_msg
// (net/dds_convert.h). The sample is freed as a returned loan is, so leaks are caught.
// Besides "no crash, hang, leak or sanitizer report", the conversion's promise is checked:
// it is total and faithful (every element and string of the sample, none invented).
// FUZZ_DDS_VERBOSE=1 in the environment prints what became of each input
// (build-fuzz/bin/fuzz_dds_control FILE).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dds_receive.h"
#include "net/dds_convert.h"

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

void node_report(const ReceivedType& type, const uint8_t* data, size_t size) {
  Sample<coedge_msg_NodeReport> s(type);
  if (!receive(s, "NodeReport", data, size)) return;
  const coedge_msg_NodeReport& m = s.get();
  const net::NodeReport r = net::internal::from_msg(m);
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
}

void plan(const ReceivedType& type, const uint8_t* data, size_t size) {
  Sample<coedge_msg_Plan> s(type);
  if (!receive(s, "Plan", data, size)) return;
  const coedge_msg_Plan& m = s.get();
  const net::Plan p = net::internal::from_msg(m);
  expect(p.version == m.version && p.epoch == m.epoch && p.effective_ns == m.effective_ns, "Plan fields");
  expect(p.assignments.size() == length(m.assignments), "Plan assignments");
  for (size_t i = 0; i < p.assignments.size(); ++i) {
    expect(same(p.assignments[i].task, m.assignments._buffer[i].task) &&
               same(p.assignments[i].node, m.assignments._buffer[i].node),
           "Assignment fields");
  }
}

void source_stats(const ReceivedType& type, const uint8_t* data, size_t size) {
  Sample<coedge_msg_SourceStats> s(type);
  if (!receive(s, "SourceStats", data, size)) return;
  const coedge_msg_SourceStats& m = s.get();
  const net::SourceStats st = net::internal::from_msg(m);
  expect(same(st.task, m.task) && same(st.node, m.node) && st.published == m.published &&
             st.last_stamp_ns == m.last_stamp_ns && st.sender.empty(),
         "SourceStats fields");
}

void task_ack(const ReceivedType& type, const uint8_t* data, size_t size) {
  Sample<coedge_msg_TaskAck> s(type);
  if (!receive(s, "TaskAck", data, size)) return;
  const coedge_msg_TaskAck& m = s.get();
  const net::TaskAck a = net::internal::from_msg(m);
  expect(same(a.task, m.task) && same(a.node, m.node) && a.epoch == m.epoch && a.version == m.version &&
             a.from_ns == m.from_ns && a.sender.empty(),
         "TaskAck fields");
}

void command(const ReceivedType& type, const uint8_t* data, size_t size) {
  Sample<coedge_msg_Command> s(type);
  if (!receive(s, "Command", data, size)) return;
  const coedge_msg_Command& m = s.get();
  const net::Command c = net::internal::from_msg(m);
  expect(same(c.command, m.command) && same(c.node, m.node), "Command fields");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ReceivedType kNodeReport(&coedge_msg_NodeReport_desc);
  static const ReceivedType kPlan(&coedge_msg_Plan_desc);
  static const ReceivedType kSourceStats(&coedge_msg_SourceStats_desc);
  static const ReceivedType kTaskAck(&coedge_msg_TaskAck_desc);
  static const ReceivedType kCommand(&coedge_msg_Command_desc);
  if (size < 1) return 0;
  const uint8_t* payload = data + 1;
  const size_t n = size - 1;
  switch (data[0] % 5) {
    case 0: node_report(kNodeReport, payload, n); break;
    case 1: plan(kPlan, payload, n); break;
    case 2: source_stats(kSourceStats, payload, n); break;
    case 3: task_ack(kTaskAck, payload, n); break;
    default: command(kCommand, payload, n); break;
  }
  return 0;
}
