// The CoEdge control topics over DDS: node reports (with node liveliness), the plan, source
// statistics and commands, converting between the plain structs of dds.h and the types
// generated from idl/coedge.idl. Writers borrow the caller's strings and vectors for the
// duration of dds_write (no copies); readers copy out of loaned samples. Thread-safety as
// in dds.h: writers are fully thread-safe; readers too (ReportReader keeps its queues under
// a mutex, and its Cyclone listener only appends to a separately locked list).
#include <algorithm>
#include <deque>
#include <map>

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

void apply(dds_qos_t* q, const ControlQos& c) {
  dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
  dds_qset_history(q, DDS_HISTORY_KEEP_LAST, 1);
  dds_qset_durability(q, c.transient_local ? DDS_DURABILITY_TRANSIENT_LOCAL
                                           : DDS_DURABILITY_VOLATILE);
}

struct Created {
  dds_entity_t topic;
  dds_entity_t entity;
};

Result<Created> make_writer(DdsDomain& domain, const dds_topic_descriptor_t* desc,
                            const char* name, const ControlQos& c) {
  auto topic = internal::create_topic(domain.participant_handle(), desc, name);
  if (!topic) return topic.error();
  internal::Qos qos;
  apply(qos.get(), c);
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
                            const dds_listener_t* listener = nullptr) {
  auto topic = internal::create_topic(domain.participant_handle(), desc, name);
  if (!topic) return topic.error();
  internal::Qos qos;
  apply(qos.get(), c);
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

// Takes all valid samples of `reader`, converted by `convert`.
template <typename Sample, typename T, typename Convert>
std::vector<T> take_valid(dds_entity_t reader, Convert convert) {
  std::vector<T> out;
  (void)internal::take_all<Sample>(reader, [&](const Sample& m, const dds_sample_info_t& info) {
    if (info.valid_data) out.push_back(convert(m));
  });
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

ControlReader::~ControlReader() {
  internal::delete_entity(reader_);
  internal::delete_entity(topic_);
}

}  // namespace detail

// ---- node reports ----

Result<std::unique_ptr<ReportWriter>> ReportWriter::create(DdsDomain& domain) {
  auto c = make_writer(domain, &coedge_msg_NodeReport_desc, kNodeReportTopic, kReportQos);
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
  std::vector<coedge_msg_ProfileReport> profiles;
  profiles.reserve(r.profiles.size());
  for (const auto& p : r.profiles) {
    coedge_msg_ProfileReport m{};
    m.model = borrow(p.model);
    borrow_seq(m.exe_ms, p.exe_ms);
    borrow_seq(m.batches, p.batches);
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
  std::map<dds_instance_handle_t, std::string> writers;    // publication handle -> node
  std::map<std::string, dds_instance_handle_t> current;   // node -> its latest writer

  // Liveliness changes recorded by the listener (on a Cyclone thread). Only ever locked
  // alone and without calling Cyclone, so it cannot deadlock with Cyclone's own locks.
  struct Change {
    dds_instance_handle_t writer;
    int32_t alive_change;
    int32_t not_alive_change;
  };
  std::mutex changes_mu;
  std::vector<Change> changes;

  void set_alive(const std::string& node, bool now_alive) {
    auto [it, inserted] = alive.try_emplace(node, !now_alive);
    if (!inserted && it->second == now_alive) return;
    if (inserted && !now_alive) return;  // never seen alive: nothing to report
    it->second = now_alive;
    events.push_back(LivelinessEvent{node, now_alive});
  }
};

namespace {
void on_liveliness_changed(dds_entity_t, const dds_liveliness_changed_status_t status,
                           void* arg) {
  auto* state = static_cast<ReportReader::State*>(arg);
  std::lock_guard lock(state->changes_mu);
  state->changes.push_back(ReportReader::State::Change{
      status.last_publication_handle, status.alive_count_change, status.not_alive_count_change});
}
}  // namespace

Result<std::unique_ptr<ReportReader>> ReportReader::create(DdsDomain& domain) {
  auto state = std::make_unique<State>();
  dds_listener_t* listener = dds_create_listener(state.get());
  dds_lset_liveliness_changed(listener, on_liveliness_changed);
  auto c = make_reader(domain, &coedge_msg_NodeReport_desc, kNodeReportTopic, kReportQos,
                       listener);
  dds_delete_listener(listener);
  if (!c) return c.error();
  return std::unique_ptr<ReportReader>(new ReportReader(c->topic, c->entity, std::move(state)));
}

ReportReader::ReportReader(int32_t topic, int32_t reader, std::unique_ptr<State> state)
    : ControlReader(topic, reader), state_(std::move(state)) {}

ReportReader::~ReportReader() {
  // Delete the reader (which waits for a running listener) before the state it points to.
  internal::delete_entity(reader_);
  reader_ = 0;
}

void ReportReader::pump() {
  State& s = *state_;
  // Liveliness changes first: a change recorded by now happened before any sample taken
  // below, so a node that died and came back ends alive.
  std::vector<State::Change> changes;
  {
    std::lock_guard lock(s.changes_mu);
    changes.swap(s.changes);
  }
  for (const auto& c : changes) {
    auto it = s.writers.find(c.writer);
    if (it == s.writers.end()) continue;  // a writer that has not reported yet
    const std::string& node = it->second;
    if (s.current[node] != c.writer) continue;  // an older writer of a node that came back
    if (c.alive_change < 0) {
      s.set_alive(node, false);  // lost liveliness, or deleted/unmatched
    } else if (c.alive_change > 0 && c.not_alive_change < 0) {
      s.set_alive(node, true);  // a known writer regained liveliness
    }
    // A writer that merely becomes alive has not said which node it is: its first report
    // does (below).
  }
  (void)internal::take_all<coedge_msg_NodeReport>(
      reader_, [&](const coedge_msg_NodeReport& m, const dds_sample_info_t& info) {
        if (info.valid_data) {
          NodeReport r = from_msg(m);
          s.instances[info.instance_handle] = r.node;
          s.writers[info.publication_handle] = r.node;
          s.current[r.node] = info.publication_handle;
          s.set_alive(r.node, true);
          s.reports.push_back(std::move(r));
          return;
        }
        if (info.instance_state == DDS_IST_ALIVE) return;
        // Disposed or no writers left: the node's report writer is gone.
        std::string node;
        if (auto it = s.instances.find(info.instance_handle); it != s.instances.end()) {
          node = it->second;
        } else {
          node = str_or_empty(m.node);  // invalid samples still carry the key
        }
        if (!node.empty()) s.set_alive(node, false);
      });
}

std::vector<NodeReport> ReportReader::take() {
  std::lock_guard lock(state_->mu);
  pump();
  std::vector<NodeReport> out(std::make_move_iterator(state_->reports.begin()),
                              std::make_move_iterator(state_->reports.end()));
  state_->reports.clear();
  return out;
}

std::vector<LivelinessEvent> ReportReader::take_liveliness() {
  std::lock_guard lock(state_->mu);
  pump();
  std::vector<LivelinessEvent> out(state_->events.begin(), state_->events.end());
  state_->events.clear();
  return out;
}

// ---- plan ----

Result<std::unique_ptr<PlanWriter>> PlanWriter::create(DdsDomain& domain) {
  auto c = make_writer(domain, &coedge_msg_Plan_desc, kPlanTopic, kPlanQos);
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
  auto c = make_reader(domain, &coedge_msg_Plan_desc, kPlanTopic, kPlanQos);
  if (!c) return c.error();
  return std::unique_ptr<PlanReader>(new PlanReader(c->topic, c->entity));
}

std::optional<Plan> PlanReader::take() {
  auto plans = take_valid<coedge_msg_Plan, Plan>(
      reader_, [](const coedge_msg_Plan& m) { return from_msg(m); });
  if (plans.empty()) return std::nullopt;
  return std::move(plans.back());
}

// ---- source statistics ----

Result<std::unique_ptr<SourceStatsWriter>> SourceStatsWriter::create(DdsDomain& domain) {
  auto c = make_writer(domain, &coedge_msg_SourceStats_desc, kSourceStatsTopic,
                       kSourceStatsQos);
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
  auto c = make_reader(domain, &coedge_msg_SourceStats_desc, kSourceStatsTopic,
                       kSourceStatsQos);
  if (!c) return c.error();
  return std::unique_ptr<SourceStatsReader>(new SourceStatsReader(c->topic, c->entity));
}

std::vector<SourceStats> SourceStatsReader::take() {
  return take_valid<coedge_msg_SourceStats, SourceStats>(
      reader_, [](const coedge_msg_SourceStats& m) { return from_msg(m); });
}

// ---- task acknowledgements ----

Result<std::unique_ptr<TaskAckWriter>> TaskAckWriter::create(DdsDomain& domain) {
  auto c = make_writer(domain, &coedge_msg_TaskAck_desc, kTaskAckTopic, kTaskAckQos);
  if (!c) return c.error();
  return std::unique_ptr<TaskAckWriter>(new TaskAckWriter(c->topic, c->entity));
}

Status TaskAckWriter::write(const TaskAck& ack) {
  if (ack.task.empty()) return Error{ErrorCode::kInvalidInput, "a task acknowledgement needs a task name"};
  coedge_msg_TaskAck m{borrow(ack.task), borrow(ack.node), ack.epoch, ack.version, ack.from_ns};
  return write_sample(writer_, m, "a task acknowledgement");
}

Result<std::unique_ptr<TaskAckReader>> TaskAckReader::create(DdsDomain& domain) {
  auto c = make_reader(domain, &coedge_msg_TaskAck_desc, kTaskAckTopic, kTaskAckQos);
  if (!c) return c.error();
  return std::unique_ptr<TaskAckReader>(new TaskAckReader(c->topic, c->entity));
}

std::vector<TaskAck> TaskAckReader::take() {
  return take_valid<coedge_msg_TaskAck, TaskAck>(
      reader_, [](const coedge_msg_TaskAck& m) { return from_msg(m); });
}

// ---- commands ----

Result<std::unique_ptr<CommandWriter>> CommandWriter::create(DdsDomain& domain) {
  auto c = make_writer(domain, &coedge_msg_Command_desc, kCommandTopic, kCommandQos);
  if (!c) return c.error();
  return std::unique_ptr<CommandWriter>(new CommandWriter(c->topic, c->entity));
}

Status CommandWriter::write(const Command& command) {
  coedge_msg_Command m{borrow(command.command), borrow(command.node)};
  return write_sample(writer_, m, "a command");
}

Result<std::unique_ptr<CommandReader>> CommandReader::create(DdsDomain& domain) {
  auto c = make_reader(domain, &coedge_msg_Command_desc, kCommandTopic, kCommandQos);
  if (!c) return c.error();
  return std::unique_ptr<CommandReader>(new CommandReader(c->topic, c->entity));
}

std::vector<Command> CommandReader::take() {
  return take_valid<coedge_msg_Command, Command>(
      reader_, [](const coedge_msg_Command& m) { return from_msg(m); });
}

}  // namespace coedge::net
