// The master's logic as a passive core (DESIGN: control loops as passive cores): it takes
// the nodes' reports, the cameras' counts, the nodes' liveliness, a stop request and the
// time, and returns what to do: plans to publish, commands to send, window records and
// log lines to write, the phase it entered, when it wants to be woken, and at the end the
// accounting of every released job. No threads, no DDS, no clock reads, no sleeping, no
// output of its own; run_master (master_service.h) is its driver over DDS and the real
// clocks, and the unit tests drive it on a manual clock.
//
// Phases:
//  - kWaiting: until every node of the scenario has reported once (its models are loaded,
//    its workers up). A node that goes away before the start is waited for again. Gives up
//    after wait_for_nodes, naming the nodes that never reported, or on a stop request.
//  - kRunning: stage 1 once all are up (the first plan; windows count from it), then
//    stage 2 every `window` on a fixed grid from the first plan (no drift: a late tick
//    does not move the next window). A node whose liveliness lapses is given to the
//    dispatcher's on_node_lost at once (the next tick, which the driver calls right after
//    feeding the event), not at the window's end; a node back, to on_node_back. A progress
//    line every progress_every. Ends on a stop request or after `duration`.
//  - kSettling: "stop-sources" is sent (the cameras stop); reports are still absorbed for
//    1 s + the longest deadline, so the last frames arrive and close.
//  - kDraining: "stop" is sent (the nodes finish and send a final report); until every
//    node has sent its final report or is gone, or 15 s + 2 x the longest deadline have
//    passed.
// A final report (NodeReport::final_report) is counted like any report, and then the node
// is done: gone, as if its liveliness had lapsed (while running, its tasks are moved at
// once), and it need not be waited for while draining; a liveliness "alive" after it is
// ignored, and only a later report (the node started again) brings it back. Before the
// start, a node that stops is waited for again.
//  - kDone: the final summary (or, when the nodes never came up, the error) was returned.
//
// Every report and source statistics sample is checked before use (master/report_checks.h):
// one refused changes nothing — not the accounting, not the node's liveliness or up state,
// not its plan — and is counted per (topic, reason) (rejections(), the summary's
// rejected_samples, the metrics) and logged: the first of each (topic, reason), then at
// most one line per 10 s with the count since. A node's restart (a new lifetime of its
// counters) is recognised there; ClusterState keeps what its earlier lifetime reported.
//
// Plans are de-duplicated: an assignment equal to the last published one is not published
// again. Published plans have versions 1, 2, ... (one per published plan), the master's
// epoch, and effective_ns = wall_now + plan_lead, where wall_now is the CLOCK_REALTIME the
// driver passes to tick() (the clock of camera stamps, shared across hosts); `now` is the
// driver's monotonic clock and is used for every duration.
//
// Usage: feed every input as it arrives, then call tick(); carry out the Actions; call
// tick() again by Actions::wake_at at the latest (earlier is harmless). Inputs only record
// (and may queue log lines); every decision and output comes from tick(). Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/sample_rejection.h"
#include "core/scenario.h"
#include "core/time.h"
#include "master/cluster_state.h"
#include "master/report_checks.h"
#include "net/dds.h"
#include "policy/dispatcher.h"
#include "policy/policy_spec.h"

namespace coedge::master {

struct MasterConfig {
  policy::DispatcherSpec dispatcher;  // default: the paper's
  Duration window = std::chrono::seconds(120);  // stage-2 period; REQUIRES > 0
  Duration duration{};                          // from the first plan; 0: until stopped
  Duration plan_lead = std::chrono::milliseconds(500);
  Duration wait_for_nodes = std::chrono::seconds(120);
  Duration progress_every = std::chrono::seconds(10);  // 0: no progress lines
  Duration waiting_note_every = std::chrono::seconds(5);
  uint64_t epoch = 0;  // this master's epoch (the driver: its start in CLOCK_REALTIME ns)
  // Appended to the error when nodes never report, e.g. "are their agents running, on DDS
  // domain 7?".
  std::string missing_nodes_hint;
  // A secure DDS domain: a report or source statistics sample from a writer in no node's
  // partition (an empty sender) is refused (report_checks.h).
  bool require_sender = false;
};

// Samples refused, per (topic, reason) (core/sample_rejection.h names), for summary.json.
struct RejectedSamples {
  std::string topic, reason;
  uint64_t count = 0;
};

// At most one new lifetime (restart: report_checks.h) per node, and per task's camera, per
// this; another within it is refused as stale (its later reports are taken after it).
inline constexpr Duration kMinLifetime = std::chrono::seconds(5);
// At most one "restarted" log line per this, per nodes and per cameras (the others counted).
inline constexpr Duration kRestartLogEvery = std::chrono::seconds(10);
// After stop-sources, reports are absorbed this long plus the longest deadline.
inline constexpr Duration kSettleTime = std::chrono::seconds(1);
// After stop, the nodes are waited for at most this long plus twice the longest deadline.
inline constexpr Duration kDrainTime = std::chrono::seconds(15);

enum class Phase { kWaiting, kRunning, kSettling, kDraining, kDone };
std::string_view to_string(Phase phase);

// A plan to publish, with when it was decided (seconds since the first plan: plans.jsonl's
// "t").
struct PublishedPlan {
  net::Plan plan;  // every task in scenario order; node "" = unplaced
  double t = 0;
};

// One stage-2 window (a line of windows.jsonl).
struct WindowRecord {
  int window = 0;   // 1, 2, ...
  double t = 0;     // seconds since the first plan, when it closed
  policy::WindowReport report;            // per task (scenario order) and measured links
  std::vector<policy::PlanRecord> changes;  // what stage 2 changed
  // Stage 2's word on tasks it could not re-admit, when the reason changed
  // (Dispatcher::take_waiting_notes); each with `why`.
  std::vector<policy::PlanRecord> waiting;
};

// Why a task did not do well at the end of the run (summary.json's "why"): unplaced,
// missing its epsilon, or evicted during the run.
struct TaskWhy {
  std::string task;
  std::string status;  // "unplaced", "misses_epsilon" or "evicted"
  std::string text;    // one line, the task's name first
  std::string explanation_json;  // policy::to_json of the dispatcher's explain()
  uint32_t evictions = 0;
};

// Per task, the final accounting (a "tasks" entry of summary.json).
struct TaskSummary {
  std::string task, model, source;
  std::string node;  // where the last plan put it; "-" for none
  std::string topic;  // a camera driver's topic (TaskSpec::topic); empty: the cluster's camera
  TaskAccount account;
  double mean_latency_ms = 0;  // over met + overdue
};

// Per node, what the master last heard from it.
struct NodeSummary {
  std::string node;
  uint64_t reports = 0;                        // reports received
  uint64_t plan_epoch = 0, plan_version = 0;   // the plan it runs, from its last report
  bool stopped = false;                        // gone at the end (final report, or liveliness lost)
  bool final_report = false;                   // it sent its final report
  std::vector<std::string> tasks;              // what the last plan gave it
  // Start-up, in seconds since the master started (-1: never): its first report, and the
  // first report counting a job it met.
  double up_s = -1, first_met_s = -1;
  bool ever_given_tasks = false;               // some plan gave it a task
};

struct MasterSummary {
  std::string scenario, dispatcher;
  double duration_s = 0;  // from the first plan to the stop
  double window_s = 0;
  uint64_t epoch = 0;
  uint64_t plan_versions = 0;  // plans published
  double first_plan_s = -1;    // since the master started; -1: none
  // Start-up: when the last node that some plan gave a task met its first job (seconds
  // since the master started); -1 when one of them never did.
  double all_first_met_s() const {
    double latest = -1;
    for (const NodeSummary& n : nodes) {
      if (!n.ever_given_tasks) continue;
      if (n.first_met_s < 0) return -1;
      latest = std::max(latest, n.first_met_s);
    }
    return latest;
  }
  std::vector<TaskSummary> tasks;                                  // scenario order
  std::vector<std::pair<std::string, TaskAccount>> models;         // those that released jobs
  TaskAccount totals;
  std::vector<std::pair<std::string, ClusterState::MeasuredProfile>> measured_profiles;  // measured ones
  std::vector<NodeSummary> nodes;  // scenario order
  std::vector<TaskWhy> why;        // scenario order, only the tasks that need one
  std::vector<RejectedSamples> rejected_samples;  // every (topic, reason) counted, enum order
  // Every released job ended met, overdue or dropped, and no node closed more than released.
  bool accounted() const {
    return totals.surplus == 0 && totals.met + totals.overdue + totals.dropped() == totals.released;
  }
};

struct Actions {
  std::vector<std::string> logs;        // in order, without a prefix
  std::vector<PublishedPlan> plans;     // to publish, in order
  std::vector<WindowRecord> windows;
  std::vector<net::Command> commands;   // {"stop-sources", ""}, {"stop", ""}
  std::vector<Phase> phases;            // phases entered, in order
  TimePoint wake_at = TimePoint::max(); // call tick() again by then
  // Set once, by the tick that ends the run: the accounting, or why it could not run
  // (kNotFound: nodes that never reported, or a stop before they did).
  std::optional<Result<MasterSummary>> finished;
};

class MasterCore {
 public:
  // REQUIRES: `scenario` outlives the core; config.window > 0. `now`: the start, from which
  // wait_for_nodes counts.
  MasterCore(const Scenario& scenario, MasterConfig config, TimePoint now);
  ~MasterCore();
  MasterCore(const MasterCore&) = delete;
  MasterCore& operator=(const MasterCore&) = delete;

  // A node's report (cumulative counters). Before the start, it marks the node up. Checked
  // first (report_checks.h): a refused one is only counted and logged. `wall_now_ns`:
  // CLOCK_REALTIME at `now` (the bound on the sender's stamps).
  void on_report(const net::NodeReport& report, TimePoint now, int64_t wall_now_ns);
  // A camera's count of a task's frames; checked the same way.
  void on_source_stats(const net::SourceStats& stats, TimePoint now, int64_t wall_now_ns);
  // `n` samples of `topic` refused before they reached the core (the DDS reader's caps:
  // kOversized; `why`: one of their reasons, or ""), counted and logged with the others.
  void on_refused_elsewhere(SampleTopic topic, SampleRejection reason, uint64_t n, const std::string& why,
                            TimePoint now);
  // A node's liveliness changed (net::LivelinessEvent). Unknown nodes are ignored.
  void on_liveliness(const std::string& node, bool alive, TimePoint now);
  // Stop (SIGINT, SIGTERM): the stop sequence starts at the next tick. Idempotent.
  void request_stop(TimePoint now);
  // Makes the decisions due at `now`; `wall_now_ns` is CLOCK_REALTIME at the same moment.
  Actions tick(TimePoint now, int64_t wall_now_ns);

  Phase phase() const { return phase_; }
  const ClusterState& state() const { return state_; }
  uint64_t plan_version() const { return version_; }  // of the last plan published; 0: none
  const std::vector<NodeIndex>& assignment() const { return current_; }  // per task; empty before stage 1
  bool node_alive(NodeIndex k) const { return alive_[k]; }
  const RejectionCounter& rejections() const { return rejections_; }
  // New lifetimes accepted so far (report_checks.h): of nodes, and of cameras.
  uint64_t node_restarts() const { return restarts_[0].total; }
  uint64_t camera_restarts() const { return restarts_[1].total; }

 private:
  struct NodeInfo {
    uint64_t reports = 0;
    uint64_t plan_epoch = 0, plan_version = 0;
    std::optional<TimePoint> up_at, first_met_at;
    bool ever_given_tasks = false;
    bool final_report = false;
  };
  struct Change {  // a liveliness change, for the dispatcher at the next tick
    NodeIndex node;
    bool alive;
  };

  double since_start(TimePoint now) const { return to_s(now - run_start_); }
  void tick_waiting(TimePoint now, int64_t wall_now_ns, Actions& out);
  void start_running(TimePoint now, int64_t wall_now_ns, Actions& out);
  void tick_running(TimePoint now, int64_t wall_now_ns, Actions& out);
  void close_window(TimePoint now, int64_t wall_now_ns, Actions& out);
  void progress(TimePoint now, Actions& out);
  void begin_stopping(TimePoint now, Actions& out);
  void finish(Actions& out);
  void enter(Phase phase, Actions& out);
  void refused(SampleTopic topic, const SampleVerdict& verdict, TimePoint now, uint64_t count = 1);
  void restarted(size_t which, std::string line, TimePoint now);
  void publish(const policy::Plan& plan, TimePoint now, int64_t wall_now_ns, Actions& out);
  MasterSummary summary() const;
  TimePoint wake_at(TimePoint now) const;

  const Scenario& scenario_;
  const MasterConfig config_;
  Duration longest_deadline_{0};
  ClusterState state_;
  std::unique_ptr<policy::Dispatcher> dispatcher_;
  Phase phase_ = Phase::kWaiting;
  std::vector<bool> alive_;      // per node
  std::vector<NodeInfo> nodes_;  // per node
  // Per node: its last accepted report, and whether it was gone (liveliness lost, final
  // report) since; per task, its camera's last accepted statistics (report_checks.h).
  std::vector<std::optional<AcceptedReport>> accepted_;
  std::vector<bool> gone_since_;
  std::vector<std::optional<AcceptedStats>> accepted_stats_;
  // Per node, per task's camera: when its last new lifetime was accepted (kMinLifetime).
  std::vector<std::optional<TimePoint>> lifetime_at_, stats_lifetime_at_;
  RejectionCounter rejections_;
  // Restarts of nodes [0] and cameras [1]: counted, and logged like refusals (the first,
  // then at most one line per kRestartLogEvery) — a peer can claim restarts at will.
  struct RestartLog {
    uint64_t total = 0, unlogged = 0;
    bool logged = false;
    TimePoint last_log{};
  };
  std::array<RestartLog, 2> restarts_{};
  std::vector<Change> changes_;  // liveliness changes the dispatcher has not seen (running)
  std::vector<std::string> queued_logs_;  // from the inputs, handed out by the next tick
  bool stop_requested_ = false;

  TimePoint started_;       // the core's creation: wait_for_nodes counts from it
  TimePoint next_note_;     // the next "waiting: k/n nodes up"
  TimePoint run_start_;     // the first plan
  TimePoint next_window_, next_progress_;
  TimePoint settle_until_, drain_until_;
  double ran_s_ = 0;
  int windows_ = 0;
  uint64_t version_ = 0;
  std::vector<NodeIndex> current_;  // the last plan published
  std::vector<uint32_t> evictions_;  // per task, kEvicted records so far
};

// "T1 a -> b (evicted)": a plan change, for logs and windows.jsonl.
std::string describe(const Scenario& scenario, const policy::PlanRecord& record);
// The same with its explanation, when it has one: "T1 a -> - (evicted): on a: transfer ...".
std::string describe_with_why(const Scenario& scenario, const policy::PlanRecord& record);

}  // namespace coedge::master
