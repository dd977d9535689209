// The CoEdge control topics over DDS: node reports (with node liveliness), the plan, source
// statistics and commands, converting between the plain structs of dds.h and the types
// generated from idl/coedge.idl. Writers borrow the caller's strings and vectors for the
// duration of dds_write (no copies); readers copy out of loaned samples, after
// dds_convert.h has checked them against the caps of dds.h (over-cap samples are dropped and
// counted in the reader's ReaderState). Writers of the per-identity topics (node reports,
// task claims, source statistics) write in their node's or camera's partition (the plan and
// commands: kMasterPartition); their
// readers learn each sample's sender from the partition of the writer that sent it
// (dds_get_matched_publication_data, cached per publication handle when the writer matches,
// so that a writer that leaves right after its last sample is still known).
// Thread-safety as in dds.h: writers are fully thread-safe; readers too (a reader's
// ReaderState has its own locks, ReportReader keeps its queues under a mutex, and the Cyclone
// listeners only touch separately locked members).
#include <algorithm>
#include <deque>
#include <map>
#include <unordered_map>

#include "coedge.h"
#include "net/dds.h"
#include "net/dds_convert.h"
#include "net/dds_internal.h"

namespace coedge::net {
namespace {

using internal::io_error;
using internal::str_or_empty;

using internal::borrow;
using internal::borrow_seq;
using internal::from_msg;

template <typename Seq, typename T>
void borrow_seq(Seq& seq, const std::vector<T>& items) {
  borrow_seq(seq, const_cast<std::vector<T>&>(items));
}


// QoS of one control topic.
struct ControlQos {
  bool transient_local = false;
  bool liveliness = false;  // writer: AUTOMATIC with the domain's lease
};

constexpr ControlQos kReportQos{false, true};
constexpr ControlQos kPlanQos{true, false};
constexpr ControlQos kSourceStatsQos{false, false};
constexpr ControlQos kCommandQos{true, false};
constexpr ControlQos kTaskAckQos{true, false};

// History of the readers of the per-identity topics (node reports, task claims, source
// statistics): KEEP_ALL within these resource limits, not KEEP_LAST 1. Their key (node,
// task) is a field the sender writes, so with KEEP_LAST 1 a credentialed peer writing
// samples about another node's key would replace that node's genuine unread samples (the
// master refuses the forgeries, and would never see the genuine one); a forged
// transient-local claim would hide the real one from a late joiner. With KEEP_ALL every
// sample is delivered and checked. When a limit is reached Cyclone rejects further samples
// and the reliable writers resend them after the next take (history is not part of
// matching: the writers keep KEEP_LAST 1). Readers take everything on every poll.
constexpr int32_t kMaxReaderInstances = 4096;
constexpr int32_t kMaxSamplesPerInstance = 64;
constexpr int32_t kMaxReaderSamples = 16384;

// How many nodes a ReportReader tracks the liveliness of.
constexpr size_t kMaxTrackedNodes = 4096;

// The prefixes of node_partition and camera_partition (a sender's name follows them).
constexpr const char* kNodePrefix = "coedge.node.";
constexpr const char* kCameraPrefix = "coedge.camera.";

void apply(dds_qos_t* q, const ControlQos& c) {
  dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
  dds_qset_history(q, DDS_HISTORY_KEEP_LAST, 1);
  dds_qset_durability(q, c.transient_local ? DDS_DURABILITY_TRANSIENT_LOCAL
                                           : DDS_DURABILITY_VOLATILE);
}

using internal::Created;

// A writer (in `partition` unless it is empty: then the default partition). The partition
// goes into the QoS of the implicit publisher Cyclone creates for the writer (and deletes
// with it).
Result<Created> make_writer(DdsDomain& domain, const dds_topic_descriptor_t* desc,
                            const char* name, const ControlQos& c,
                            const std::string& partition = "") {
  auto topic = internal::create_topic(domain.participant_handle(), desc, name);
  if (!topic) return topic.error();
  internal::Qos qos;
  apply(qos.get(), c);
  if (!partition.empty()) dds_qset_partition1(qos.get(), partition.c_str());
  if (c.liveliness) {
    dds_qset_liveliness(qos.get(), DDS_LIVELINESS_AUTOMATIC,
                        internal::to_dds_duration(domain.options().lease));
  }
  dds_data_representation_id_t rep[] = {DDS_DATA_REPRESENTATION_XCDR1};
  dds_qset_data_representation(qos.get(), 1, rep);
  dds_entity_t w = dds_create_writer(domain.participant_handle(), *topic, qos.get(), nullptr);
  if (w < 0) {
    internal::delete_entity(*topic);
    return io_error(std::string("creating a DDS writer on '") + name + "'", w);
  }
  return Created{*topic, w};
}

Result<Created> make_reader(DdsDomain& domain, const dds_topic_descriptor_t* desc,
                            const char* name, const ControlQos& c,
                            const dds_listener_t* listener, const char* partition,
                            bool keep_all) {
  auto topic = internal::create_topic(domain.participant_handle(), desc, name);
  if (!topic) return topic.error();
  internal::Qos qos;
  apply(qos.get(), c);
  if (keep_all) {
    dds_qset_history(qos.get(), DDS_HISTORY_KEEP_ALL, 0);
    dds_qset_resource_limits(qos.get(), kMaxReaderSamples, kMaxReaderInstances,
                             kMaxSamplesPerInstance);
  }
  if (partition != nullptr) dds_qset_partition1(qos.get(), partition);
  // Requested liveliness AUTOMATIC/infinite accepts any offered lease.
  dds_qset_liveliness(qos.get(), DDS_LIVELINESS_AUTOMATIC, DDS_INFINITY);
  dds_entity_t r = dds_create_reader(domain.participant_handle(), *topic, qos.get(), listener);
  if (r < 0) {
    internal::delete_entity(*topic);
    return io_error(std::string("creating a DDS reader on '") + name + "'", r);
  }
  return Created{*topic, r};
}

template <typename Sample>
Status write_sample(dds_entity_t writer, const Sample& m, const char* what) {
  dds_return_t rc = dds_write(writer, &m);
  if (rc < 0) return io_error(std::string("writing ") + what, rc);
  return Ok{};
}

}  // namespace

// ---- what every control reader keeps ----

namespace detail {

struct ReaderState {
  ReaderState(const char* topic, const char* sender_prefix)
      : topic(topic), sender_prefix(sender_prefix) {}
  const std::string topic;          // DDS topic name, for rejection reasons
  const std::string sender_prefix;  // kNodePrefix, kCameraPrefix, or "" (no sender)

  // The sender of each matched writer, by publication handle; filled only by the
  // subscription-matched listener (on a Cyclone thread), which also marks `gone` the writers
  // that unmatched: they are forgotten after the next take, which takes their last samples.
  // Only the listener adds entries: had the take path cached a miss, a writer unmatching
  // between its lookup and its insert would stay cached, never marked gone, for ever (and
  // enough of them would fill the cache). Bounded by kMaxSenders (beyond it, or when the
  // listener's lookup failed, senders are looked up per sample, uncached).
  static constexpr size_t kMaxSenders = 1024;
  struct Sender {
    std::string name;
    bool gone = false;
  };
  std::mutex senders_mu;  // locked alone, never while calling Cyclone
  std::unordered_map<dds_instance_handle_t, Sender> senders;

  std::mutex rejections_mu;  // guards the two below
  uint64_t rejected = 0;
  std::vector<std::string> rejections;

  // ReportReader only: liveliness changes recorded by its listener (on a Cyclone thread).
  // Only ever locked alone and without calling Cyclone, so it cannot deadlock with
  // Cyclone's own locks.
  struct Change {
    dds_instance_handle_t writer;
    int32_t alive_change;
    int32_t not_alive_change;
  };
  std::mutex changes_mu;
  std::vector<Change> changes;

  // The sender name in the partitions of publication `handle` as `reader` sees it: the
  // part after sender_prefix of its only partition with that prefix, if that is a valid
  // name; "" otherwise (none, several, a wildcard, or the writer is no longer known).
  std::string lookup(dds_entity_t reader, dds_instance_handle_t handle) const {
    dds_builtintopic_endpoint_t* ep = dds_get_matched_publication_data(reader, handle);
    if (ep == nullptr) return "";
    std::string found;
    int matches = 0;
    uint32_t n = 0;
    char** ps = nullptr;
    if (ep->qos != nullptr && dds_qget_partition(ep->qos, &n, &ps)) {
      for (uint32_t i = 0; i < n; ++i) {
        std::string p = ps[i] != nullptr ? ps[i] : "";
        if (p.size() > sender_prefix.size() &&
            p.compare(0, sender_prefix.size(), sender_prefix) == 0) {
          std::string name = p.substr(sender_prefix.size());
          if (matches == 0 || name != found) ++matches;
          found = std::move(name);
        }
        dds_free(ps[i]);
      }
      dds_free(ps);
    }
    dds_builtintopic_free_endpoint(ep);
    if (matches != 1 || !check_partition_name("sender", found)) return "";
    return found;
  }

  // The sender of a sample from `handle`.
  std::string sender(dds_entity_t reader, dds_instance_handle_t handle) {
    if (sender_prefix.empty()) return "";
    {
      std::lock_guard lock(senders_mu);
      if (auto it = senders.find(handle); it != senders.end()) return it->second.name;
    }
    return lookup(reader, handle);  // not cached: see `senders`
  }

  // The handles of writers gone by now (forget() them after the take that follows).
  std::vector<dds_instance_handle_t> gone() {
    std::vector<dds_instance_handle_t> out;
    std::lock_guard lock(senders_mu);
    for (const auto& [h, s] : senders) {
      if (s.gone) out.push_back(h);
    }
    return out;
  }
  void forget(const std::vector<dds_instance_handle_t>& handles) {
    if (handles.empty()) return;
    std::lock_guard lock(senders_mu);
    for (auto h : handles) senders.erase(h);
  }

  void reject(const std::string& sender_name, const Error& error) {
    std::lock_guard lock(rejections_mu);
    ++rejected;
    if (rejections.size() < kMaxKeptRejections) {
      rejections.push_back(topic + " sample from " +
                           (sender_name.empty() ? std::string("an unnamed writer")
                                                : "'" + sender_name + "'") +
                           " dropped: " + error.message);
    }
  }
};

}  // namespace detail

namespace {

using detail::ReaderState;

void on_subscription_matched(dds_entity_t reader, const dds_subscription_matched_status_t st,
                             void* arg) {
  auto* s = static_cast<ReaderState*>(arg);
  if (s->sender_prefix.empty()) return;
  if (st.current_count_change > 0) {
    // Looked up now, while the writer is surely known; calling Cyclone from this listener
    // is safe: Cyclone invokes it without the reader's locks held.
    std::string name = s->lookup(reader, st.last_publication_handle);
    if (name.empty()) return;
    std::lock_guard lock(s->senders_mu);
    if (s->senders.size() < ReaderState::kMaxSenders) {
      s->senders[st.last_publication_handle] = ReaderState::Sender{name, false};
    }
  } else if (st.current_count_change < 0) {
    std::lock_guard lock(s->senders_mu);
    if (auto it = s->senders.find(st.last_publication_handle); it != s->senders.end()) {
      it->second.gone = true;
    }
  }
}

void on_liveliness_changed(dds_entity_t, const dds_liveliness_changed_status_t status,
                           void* arg) {
  auto* state = static_cast<ReaderState*>(arg);
  std::lock_guard lock(state->changes_mu);
  state->changes.push_back(ReaderState::Change{
      status.last_publication_handle, status.alive_count_change, status.not_alive_count_change});
}

// A control reader's entities and state: `partition` is the wildcard partition of a
// per-identity topic (senders named after `sender_prefix`), or null (default partition).
struct CreatedReader {
  Created entities;
  std::unique_ptr<ReaderState> state;
};
Result<CreatedReader> make_control_reader(DdsDomain& domain, const dds_topic_descriptor_t* desc,
                                          const char* name, const ControlQos& c,
                                          const char* partition, const char* sender_prefix,
                                          bool liveliness = false) {
  auto state = std::make_unique<ReaderState>(name, sender_prefix);
  dds_listener_t* listener = dds_create_listener(state.get());
  if (sender_prefix[0] != '\0') dds_lset_subscription_matched(listener, on_subscription_matched);
  if (liveliness) dds_lset_liveliness_changed(listener, on_liveliness_changed);
  // The per-identity topics (a sender prefix) keep all samples: see kMaxReaderInstances.
  auto r = make_reader(domain, desc, name, c, listener, partition, sender_prefix[0] != '\0');
  dds_delete_listener(listener);
  if (!r) return r.error();
  return CreatedReader{*r, std::move(state)};
}

// Takes all valid samples of `reader`, converted (dds_convert.h) and with their sender;
// over-cap samples go to `state`'s rejections.
template <typename Sample, typename T>
std::vector<T> take_converted(dds_entity_t reader, ReaderState& state) {
  std::vector<T> out;
  std::vector<dds_instance_handle_t> gone = state.gone();
  (void)internal::take_all<Sample>(reader, [&](const Sample& m, const dds_sample_info_t& info) {
    if (!info.valid_data) return;
    std::string sender = state.sender(reader, info.publication_handle);
    Result<T> v = from_msg(m);
    if (!v) {
      state.reject(sender, v.error());
      return;
    }
    if constexpr (requires { v->sender; }) v->sender = std::move(sender);
    out.push_back(std::move(*v));
  });
  state.forget(gone);
  return out;
}

}  // namespace

// ---- shared bases ----

namespace detail {

ControlWriter::~ControlWriter() {
  internal::delete_entity(writer_);
  internal::delete_entity(topic_);
}

uint64_t ControlWriter::matched_readers() const {
  dds_publication_matched_status_t st{};
  if (dds_get_publication_matched_status(writer_, &st) < 0) return 0;
  return st.current_count;
}

ControlReader::ControlReader(int32_t topic, int32_t reader, std::unique_ptr<ReaderState> state)
    : topic_(topic), reader_(reader), state_(std::move(state)) {}

ControlReader::~ControlReader() {
  // The reader goes first (deleting it waits for a running listener), then the state its
  // listener points to (a member, destroyed after this body).
  internal::delete_entity(reader_);
  internal::delete_entity(topic_);
}

uint64_t ControlReader::rejected() const {
  std::lock_guard lock(state_->rejections_mu);
  return state_->rejected;
}

std::vector<std::string> ControlReader::take_rejections() {
  std::lock_guard lock(state_->rejections_mu);
  std::vector<std::string> out;
  out.swap(state_->rejections);
  return out;
}

}  // namespace detail

// ---- node reports ----

Result<std::unique_ptr<ReportWriter>> ReportWriter::create(DdsDomain& domain,
                                                           const std::string& node) {
  if (auto v = check_partition_name("node name of a report writer", node); !v) return v.error();
  auto c = make_writer(domain, &coedge_msg_NodeReport_desc, kNodeReportTopic, kReportQos,
                       node_partition(node));
  if (!c) return c.error();
  return std::unique_ptr<ReportWriter>(new ReportWriter(c->topic, c->entity));
}

Status ReportWriter::write(const NodeReport& r) {
  if (r.node.empty()) {
    return Error{ErrorCode::kInvalidInput, "a node report needs a node name"};
  }
  std::vector<coedge_msg_TaskReport> tasks;
  tasks.reserve(r.tasks.size());
  for (const auto& t : r.tasks) {
    tasks.push_back(coedge_msg_TaskReport{borrow(t.task), t.released, t.met, t.overdue,
                                          t.dropped, t.latency_sum_ms, t.node_latency_sum_ms,
                                          t.queue_length});
  }
  std::vector<coedge_msg_LinkReport> links;
  links.reserve(r.links.size());
  for (const auto& l : r.links) {
    links.push_back(coedge_msg_LinkReport{borrow(l.peer), l.mbps, borrow(l.method)});
  }
  // The wire has float times and 32-bit batch counts (idl/coedge.idl says why): narrowed
  // copies, kept alive until dds_write returns. Counts above 2^32-1 saturate.
  std::vector<std::vector<float>> exe_ms(r.profiles.size());
  std::vector<std::vector<uint32_t>> batches(r.profiles.size());
  std::vector<coedge_msg_ProfileReport> profiles;
  profiles.reserve(r.profiles.size());
  for (size_t i = 0; i < r.profiles.size(); ++i) {
    const auto& p = r.profiles[i];
    for (double x : p.exe_ms) exe_ms[i].push_back(static_cast<float>(x));
    for (uint64_t b : p.batches) {
      batches[i].push_back(static_cast<uint32_t>(std::min<uint64_t>(b, UINT32_MAX)));
    }
    coedge_msg_ProfileReport m{};
    m.model = borrow(p.model);
    borrow_seq(m.exe_ms, exe_ms[i]);
    borrow_seq(m.batches, batches[i]);
    m.pre_ms = p.pre_ms;
    m.post_ms = p.post_ms;
    profiles.push_back(m);
  }
  coedge_msg_NodeReport m{};
  m.node = borrow(r.node);
  m.seq = r.seq;
  m.stamp_ns = r.stamp_ns;
  m.plan_epoch = r.plan_epoch;
  m.plan_version = r.plan_version;
  m.final_report = r.final_report;
  borrow_seq(m.tasks, tasks);
  borrow_seq(m.links, links);
  borrow_seq(m.profiles, profiles);
  return write_sample(writer_, m, "a node report");
}

// Everything ReportReader has taken from Cyclone but not yet handed out, and what it knows
// about each node.
struct ReportReader::State {
  std::mutex mu;  // guards everything below except `changes`
  std::deque<NodeReport> reports;
  std::deque<LivelinessEvent> events;
  std::map<std::string, bool> alive;                      // node -> last reported state
  std::map<dds_instance_handle_t, std::string> instances;  // instance -> node
  // The current writer of each node (the last one that sent a report about its own node)
  // both ways. Only current writers are kept: an older writer of a node (a restarted
  // process, a failover) is dropped when a newer one reports, so `writers` never holds
  // more entries than `current`, which has one per node (at most kMaxTrackedNodes).
  std::map<dds_instance_handle_t, std::string> writers;    // publication handle -> node
  std::map<std::string, dds_instance_handle_t> current;   // node -> its latest writer

  void set_alive(const std::string& node, bool now_alive) {
    auto [it, inserted] = alive.try_emplace(node, !now_alive);
    if (!inserted && it->second == now_alive) return;
    if (inserted && !now_alive) return;  // never seen alive: nothing to report
    it->second = now_alive;
    events.push_back(LivelinessEvent{node, now_alive});
  }
};

Result<std::unique_ptr<ReportReader>> ReportReader::create(DdsDomain& domain) {
  auto c = make_control_reader(domain, &coedge_msg_NodeReport_desc, kNodeReportTopic,
                               kReportQos, kAllNodePartitions, kNodePrefix, true);
  if (!c) return c.error();
  return std::unique_ptr<ReportReader>(new ReportReader(
      c->entities.topic, c->entities.entity, std::move(c->state), std::make_unique<State>()));
}

ReportReader::ReportReader(int32_t topic, int32_t reader,
                           std::unique_ptr<detail::ReaderState> base,
                           std::unique_ptr<State> state)
    : ControlReader(topic, reader, std::move(base)), report_(std::move(state)) {}

ReportReader::~ReportReader() {
  // Delete the reader (which waits for a running listener) before the state it points to.
  internal::delete_entity(reader_);
  reader_ = 0;
}

void ReportReader::pump() {
  State& s = *report_;
  ReaderState& base = *state_;
  // Liveliness changes first: a change recorded by now happened before any sample taken
  // below, so a node that died and came back ends alive.
  std::vector<ReaderState::Change> changes;
  {
    std::lock_guard lock(base.changes_mu);
    changes.swap(base.changes);
  }
  for (const auto& c : changes) {
    auto it = s.writers.find(c.writer);
    if (it == s.writers.end()) continue;  // not a node's current writer (or not yet)
    const std::string& node = it->second;
    if (auto cur = s.current.find(node); cur == s.current.end() || cur->second != c.writer) {
      continue;
    }  // an older writer of a node that came back
    if (c.alive_change < 0) {
      s.set_alive(node, false);  // lost liveliness, or deleted/unmatched
    } else if (c.alive_change > 0 && c.not_alive_change < 0) {
      s.set_alive(node, true);  // a known writer regained liveliness
    }
    // A writer that merely becomes alive has not said which node it is: its first report
    // does (below).
  }
  std::vector<dds_instance_handle_t> gone = base.gone();
  (void)internal::take_all<coedge_msg_NodeReport>(
      reader_, [&](const coedge_msg_NodeReport& m, const dds_sample_info_t& info) {
        if (info.valid_data) {
          std::string sender = base.sender(reader_, info.publication_handle);
          Result<NodeReport> r = from_msg(m);
          if (!r) {
            base.reject(sender, r.error());
            return;
          }
          r->sender = std::move(sender);
          // Only a report about its own sender's node counts for liveliness: one about
          // another node (a forgery the master refuses), without a node name, or whose
          // sender is unknown is handed up and says nothing about any node's liveliness.
          // Bounded: beyond kMaxTrackedNodes distinct instances (only a hostile peer makes
          // them) new nodes are delivered but their liveliness is not tracked.
          bool room = s.instances.size() < kMaxTrackedNodes ||
                      s.instances.count(info.instance_handle) > 0;
          if (room && !r->node.empty() && r->sender == r->node) {
            s.instances[info.instance_handle] = r->node;
            auto [cur, inserted] = s.current.try_emplace(r->node, info.publication_handle);
            if (!inserted && cur->second != info.publication_handle) {
              s.writers.erase(cur->second);  // no longer the node's writer: forgotten
              cur->second = info.publication_handle;
            }
            s.writers[info.publication_handle] = r->node;
            s.set_alive(r->node, true);
          }
          s.reports.push_back(std::move(*r));
          return;
        }
        if (info.instance_state == DDS_IST_ALIVE) return;
        // Disposed or no writers left: the node's report writer is gone, but only if the
        // writer that disposed or unregistered the instance is the node's current one (and
        // so named after the node, see above). Another writer (node n1 writing a report
        // about n2, then disposing it or just deleting its writer, which auto-disposes) says
        // nothing about n2: ignored. A node's own writer leaving is also seen by the
        // liveliness listener above.
        auto it = s.instances.find(info.instance_handle);
        if (it == s.instances.end()) return;
        const std::string& node = it->second;
        auto cur = s.current.find(node);
        if (cur == s.current.end() || cur->second != info.publication_handle) return;
        s.set_alive(node, false);
      });
  base.forget(gone);
}

std::vector<NodeReport> ReportReader::take() {
  std::lock_guard lock(report_->mu);
  pump();
  std::vector<NodeReport> out(std::make_move_iterator(report_->reports.begin()),
                              std::make_move_iterator(report_->reports.end()));
  report_->reports.clear();
  return out;
}

std::vector<LivelinessEvent> ReportReader::take_liveliness() {
  std::lock_guard lock(report_->mu);
  pump();
  std::vector<LivelinessEvent> out(report_->events.begin(), report_->events.end());
  report_->events.clear();
  return out;
}

// ---- plan ----

Result<std::unique_ptr<PlanWriter>> PlanWriter::create(DdsDomain& domain) {
  auto c = make_writer(domain, &coedge_msg_Plan_desc, kPlanTopic, kPlanQos, kMasterPartition);
  if (!c) return c.error();
  return std::unique_ptr<PlanWriter>(new PlanWriter(c->topic, c->entity));
}

Status PlanWriter::write(const Plan& plan) {
  std::vector<coedge_msg_Assignment> as;
  as.reserve(plan.assignments.size());
  for (const auto& a : plan.assignments) {
    as.push_back(coedge_msg_Assignment{borrow(a.task), borrow(a.node)});
  }
  coedge_msg_Plan m{};
  m.version = plan.version;
  m.effective_ns = plan.effective_ns;
  m.epoch = plan.epoch;
  borrow_seq(m.assignments, as);
  return write_sample(writer_, m, "the plan");
}

Result<std::unique_ptr<PlanReader>> PlanReader::create(DdsDomain& domain) {
  auto c = make_control_reader(domain, &coedge_msg_Plan_desc, kPlanTopic, kPlanQos,
                               kMasterPartition, "");
  if (!c) return c.error();
  return std::unique_ptr<PlanReader>(
      new PlanReader(c->entities.topic, c->entities.entity, std::move(c->state)));
}

std::optional<Plan> PlanReader::take() {
  auto plans = take_converted<coedge_msg_Plan, Plan>(reader_, *state_);
  if (plans.empty()) return std::nullopt;
  return std::move(plans.back());
}

// ---- source statistics ----

Result<std::unique_ptr<SourceStatsWriter>> SourceStatsWriter::create(DdsDomain& domain,
                                                                     const std::string& camera) {
  if (auto v = check_partition_name("camera name of a source statistics writer", camera); !v) {
    return v.error();
  }
  auto c = make_writer(domain, &coedge_msg_SourceStats_desc, kSourceStatsTopic,
                       kSourceStatsQos, camera_partition(camera));
  if (!c) return c.error();
  return std::unique_ptr<SourceStatsWriter>(new SourceStatsWriter(c->topic, c->entity));
}

Status SourceStatsWriter::write(const SourceStats& s) {
  if (s.task.empty()) {
    return Error{ErrorCode::kInvalidInput, "source statistics need a task name"};
  }
  coedge_msg_SourceStats m{borrow(s.task), borrow(s.node), s.published, s.last_stamp_ns};
  return write_sample(writer_, m, "source statistics");
}

Result<std::unique_ptr<SourceStatsReader>> SourceStatsReader::create(DdsDomain& domain) {
  auto c = make_control_reader(domain, &coedge_msg_SourceStats_desc, kSourceStatsTopic,
                               kSourceStatsQos, kAllCameraPartitions, kCameraPrefix);
  if (!c) return c.error();
  return std::unique_ptr<SourceStatsReader>(
      new SourceStatsReader(c->entities.topic, c->entities.entity, std::move(c->state)));
}

std::vector<SourceStats> SourceStatsReader::take() {
  return take_converted<coedge_msg_SourceStats, SourceStats>(reader_, *state_);
}

// ---- task acknowledgements ----

Result<std::unique_ptr<TaskAckWriter>> TaskAckWriter::create(DdsDomain& domain,
                                                             const std::string& node) {
  if (auto v = check_partition_name("node name of a task acknowledgement writer", node); !v) {
    return v.error();
  }
  auto c = make_writer(domain, &coedge_msg_TaskAck_desc, kTaskAckTopic, kTaskAckQos,
                       node_partition(node));
  if (!c) return c.error();
  return std::unique_ptr<TaskAckWriter>(new TaskAckWriter(c->topic, c->entity));
}

Status TaskAckWriter::write(const TaskAck& ack) {
  if (ack.task.empty()) return Error{ErrorCode::kInvalidInput, "a task acknowledgement needs a task name"};
  coedge_msg_TaskAck m{borrow(ack.task), borrow(ack.node), ack.epoch, ack.version, ack.from_ns};
  return write_sample(writer_, m, "a task acknowledgement");
}

Result<std::unique_ptr<TaskAckReader>> TaskAckReader::create(DdsDomain& domain) {
  auto c = make_control_reader(domain, &coedge_msg_TaskAck_desc, kTaskAckTopic, kTaskAckQos,
                               kAllNodePartitions, kNodePrefix);
  if (!c) return c.error();
  return std::unique_ptr<TaskAckReader>(
      new TaskAckReader(c->entities.topic, c->entities.entity, std::move(c->state)));
}

std::vector<TaskAck> TaskAckReader::take() {
  return take_converted<coedge_msg_TaskAck, TaskAck>(reader_, *state_);
}

// ---- commands ----

Result<std::unique_ptr<CommandWriter>> CommandWriter::create(DdsDomain& domain) {
  auto c = make_writer(domain, &coedge_msg_Command_desc, kCommandTopic, kCommandQos,
                       kMasterPartition);
  if (!c) return c.error();
  return std::unique_ptr<CommandWriter>(new CommandWriter(c->topic, c->entity));
}

Status CommandWriter::write(const Command& command) {
  coedge_msg_Command m{borrow(command.command), borrow(command.node)};
  return write_sample(writer_, m, "a command");
}

Result<std::unique_ptr<CommandReader>> CommandReader::create(DdsDomain& domain) {
  auto c = make_control_reader(domain, &coedge_msg_Command_desc, kCommandTopic, kCommandQos,
                               kMasterPartition, "");
  if (!c) return c.error();
  return std::unique_ptr<CommandReader>(
      new CommandReader(c->entities.topic, c->entities.entity, std::move(c->state)));
}

std::vector<Command> CommandReader::take() {
  return take_converted<coedge_msg_Command, Command>(reader_, *state_);
}

}  // namespace coedge::net
