#include "node/cluster/cluster_feed.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "net/bandwidth_probe.h"
#include "net/dds.h"
#include "net/passive_rate.h"
#include "node/cluster/handover_table.h"
#include "node/cluster/sample_checks.h"
#include "node/cluster/topic_frames.h"
#include "node/core/topic_sampler.h"

namespace coedge::node {
namespace {

// A node that loses a task keeps its subscription this long after the hand-over, for
// the frames captured before it that are still in flight.
constexpr int64_t kUnsubscribeAfterNs = 3'000'000'000;
// A node claims a task this long after it is ready, so that its acknowledgement reaches
// the node losing the task (and the camera) before the first frame it claims: DDS
// delivers in milliseconds on a LAN; the margin covers a loaded host.
constexpr int64_t kAckLeadNs = 300'000'000;
// The topics a cluster node reads whose refused samples it counts (coedge_node_rejected_
// samples_total, every series at zero from the start): the control topics, and images (a
// frame its DDS reader refused over its caps: poll()).
constexpr SampleTopic kNodeTopics[] = {SampleTopic::kPlan, SampleTopic::kTaskAck, SampleTopic::kCommand,
                                       SampleTopic::kImage};

}  // namespace

std::string camera_topic(const std::string& source_node, const std::string& task) {
  return "/coedge/" + source_node + "/" + task + "/image_raw";
}

struct ClusterFeed::Impl {
  ClusterOptions options;
  const Scenario& scenario;
  FeedContext context;
  const config::NodeConfig& config;
  Accounting& accounting;
  Pipeline& pipeline;
  const Clock& clock;
  NodeIndex self = kNone;

  std::unique_ptr<net::DdsDomain> domain;
  std::unique_ptr<net::ImageReaderSet> readers;
  std::unique_ptr<net::PlanReader> plans;
  std::unique_ptr<net::ReportWriter> reports;
  std::unique_ptr<net::CommandReader> commands;
  std::unique_ptr<net::TaskAckWriter> ack_writer;
  std::unique_ptr<net::TaskAckReader> ack_reader;
  std::unique_ptr<net::ProbeServer> probe_server;
  std::unique_ptr<ResultSink> publisher;  // the node's results on the bus; null: off

  // Guarded by mu: which frames this node accepts and when to (un)subscribe (the
  // hand-over table decides; this driver carries out its actions), and per task its
  // subscription and logs.
  HandOverTable handover{0};
  struct TaskState {
    bool subscribed = false;         // to its sensor's topic (TopicSub)
    std::unique_ptr<TopicSampler> sampler;  // a driver's topic (TaskSpec::topic) only
    bool active = false;             // the pipeline runs it (from subscribe to unsubscribe)
    bool ready_told = false;         // the hand-over table was told it is ready
    int64_t claimed_from = 0;        // the last claim logged (a later plan re-claims)
    int64_t gained_from = 0;         // the capture stamp from which the task came here
    bool ever_active = false;        // reported from then on
    uint64_t sequence = 0;
    uint64_t met_at_gain = 0;        // met count when the task last came here
    bool first_met_logged = true;    // the first job met since it came here was logged
    bool first_frame_logged = true;  // the same for its first frame accepted
  };
  std::mutex mu;
  std::vector<TaskState> tasks;
  // Tasks to start (true) or stop in the pipeline, in order: carried out by the loop
  // thread once it has let go of mu (start_and_stop_tasks), as starting a task forks its
  // workers and backs its shared memory, which must not hold up the feeder thread.
  std::vector<std::pair<HandOverTask, bool>> pipeline_changes;
  // One subscription per distinct topic (its sensor's path), shared by the tasks on it
  // that are subscribed; made for every topic at start, so the map never changes after.
  struct TopicSub {
    uint32_t reader = 0;             // 0: no task subscribed
    uint32_t sensor = 0;             // its first task's sensor: where its counts go
    std::vector<uint32_t> tasks;     // subscribed, in subscription order
    TopicCounters counters;
  };
  std::map<std::string, TopicSub> topics;
  std::map<uint32_t, TopicSub*> topic_of_reader;
  std::vector<std::atomic<uint64_t>> skipped;  // per task: frames its sampler skipped
  // The newest plan applied (loop thread only), for the reports: by (master epoch,
  // version), net::plan_supersedes. The hand-over table orders plans by one number: the
  // rank of their epoch among the epochs this node followed, then the version.
  uint64_t plan_epoch = 0, plan_version = 0;
  uint64_t epoch_rank = 0;
  std::map<uint64_t, uint64_t> epoch_ranks;  // master epoch -> its rank here
  // At most this many epochs are ranked (the newest): each is a master's start, so more
  // within the hand-over table's history are fail-overs no cluster has, or a peer's
  // forged epochs; an older one's plans and claims are then unordered (stale).
  static constexpr size_t kMaxEpochs = 16;
  // "a new master" lines: the first, then at most one per 10 s, with the count since.
  int64_t new_master_logged_ns = 0;
  uint64_t new_masters_unlogged = 0;
  bool accepting = true;
  bool driver_frames_stopped = false;  // guarded by mu: after the master's "stop-sources"

  // Bandwidth, guarded by bw_mu: the last probe per peer and the passive rates.
  std::mutex bw_mu;
  // A probe result is trusted for two rounds of probes; then the passive rate, if any.
  std::unique_ptr<net::BandwidthEstimate> bandwidth;

  std::atomic<bool> stopping{false};
  std::thread feeder, prober;
  std::mutex probe_mu;
  std::condition_variable probe_cv;
  uint64_t report_seq = 0;
  TimePoint next_report{};
  bool stop_requested = false;
  // Loop thread only (its counts also read by counts()): the checks of received control
  // samples, with the plans admitted and what was refused (sample_checks.h).
  std::optional<ControlGate> gate;
  // What the DDS readers refused over their caps, at the last look (take_reader_refusals).
  uint64_t plans_refused = 0, commands_refused = 0, acks_refused = 0, images_refused = 0;

  Impl(const ClusterOptions& o, const Scenario& s, const FeedContext& c)
      : options(o), scenario(s), context(c), config(*c.config), accounting(*c.accounting), pipeline(*c.pipeline),
        clock(*c.clock), skipped(c.config->tasks.size()) {}

  void log(const std::string& text) const {
    std::fprintf(stderr, "[node %s] %s\n", options.node.c_str(), text.c_str());
  }

  // Loop thread: whether the gate admitted a control sample; a refused one is counted in
  // the metrics too, and the gate's log lines are written.
  bool admitted(SampleTopic topic, const SampleVerdict& verdict) {
    if (!verdict.ok() && context.metrics != nullptr) context.metrics->on_sample_rejected(topic, verdict.reason);
    for (const std::string& line : gate->take_logs()) log(line);
    return verdict.ok();
  }

  void feed_loop() {
    while (!stopping.load()) {
      readers->wait(std::chrono::milliseconds(200),
                    [this](uint32_t id, net::Image&& image, int64_t received_ns) {
                      on_image(id, std::move(image), received_ns);
                    });
    }
  }

  void on_image(uint32_t reader, net::Image&& image, int64_t received_ns) {
    // A driver that stamps nothing: the frame is as old as its arrival.
    const int64_t stamp = image.stamp_ns > 0 ? image.stamp_ns : received_ns;
    std::vector<FrameTaker> takers;
    TopicSub* sub = nullptr;
    {
      std::lock_guard lock(mu);
      auto it = topic_of_reader.find(reader);
      if (it == topic_of_reader.end() || !accepting) return;
      sub = it->second;
      sub->counters.received.fetch_add(1);
      if (const int32_t m = metrics_index(sub->sensor); m >= 0) {
        SensorDelta delta;
        delta.frames = 1;
        context.metrics->on_sensor(static_cast<uint32_t>(m), delta);
      }
      for (const uint32_t t : sub->tasks) {
        TaskState& state = tasks[t];
        // A driver's topic: one frame per period (the cluster's own cameras publish at
        // the task's period, and every frame they send is a job). The period rule sees
        // every frame the node receives, before the hand-over decides whose it is: its
        // grid is the same on every node (node/core/topic_sampler.h), so the node losing
        // a task and the node gaining it pick the same frames, and each is taken once.
        if (state.sampler) {
          if (driver_frames_stopped) continue;  // the master stopped the sources
          if (!state.sampler->offer(stamp)) {
            skipped[t].fetch_add(1);
            if (context.metrics != nullptr) context.metrics->on_frame_skipped(t);
            continue;
          }
        }
        if (!handover.take(t, stamp)) continue;  // counted there as ignored
        takers.push_back({t, config.task_runtime[t].sensor, state.sequence++});
        if (!state.first_frame_logged) {
          state.first_frame_logged = true;
          char line[160];
          std::snprintf(line, sizeof line, "%s: first frame accepted here at unix %.3f s, %.2f s after the plan took effect",
                        scenario.tasks[t].name.c_str(), static_cast<double>(received_ns) / 1e9,
                        static_cast<double>(received_ns - state.gained_from) / 1e9);
          log(line);
        }
      }
    }
    if (takers.empty()) return;
    const TaskSpec& task = scenario.tasks[takers.front().task];
    // A frame's stamp is its send time only for the cluster's own cameras: a driver's is
    // its exposure, and its latency would read as transfer time.
    if (task.source != self && task.topic.empty()) {
      std::lock_guard lock(bw_mu);
      bandwidth->record_frame(scenario.nodes[task.source].name, static_cast<int64_t>(image.data.size()),
                              from_wall_ns(stamp), from_wall_ns(received_ns));
    }
    // Decoded once, published once for every task that took it (under their sensor: the
    // tasks on one driver topic share it and its frame pool; a camera topic has one task).
    const config::SensorConfig& sensor = config.sensors[takers.front().sensor];
    const PublishedFrame published = release_and_publish(image, stamp, takers, sensor, takers.front().sensor, config,
                                                         accounting, pipeline, clock);
    note_published(published, sub->counters, "topic " + sensor.path, context.metrics, metrics_index(sub->sensor),
                   [this](const std::string& line) { log(line); });
  }

  int32_t metrics_index(uint32_t sensor) const {
    if (context.metrics == nullptr || sensor >= context.metrics_sensor.size()) return -1;
    return context.metrics_sensor[sensor];
  }

  void probe_loop() {
    std::vector<std::pair<NodeIndex, std::string>> peers;
    for (const auto& [name, address] : options.peer_addresses) {
      const NodeIndex k = scenario.find_node(name);
      if (k != kNone && k != self) peers.emplace_back(k, address);
    }
    size_t next = 0;
    while (!stopping.load() && !peers.empty()) {
      {
        std::unique_lock lock(probe_mu);
        probe_cv.wait_for(lock, options.probe_every, [this] { return stopping.load(); });
      }
      if (stopping.load()) return;
      const auto& [k, address] = peers[next++ % peers.size()];
      auto mbps = net::probe_mbps(address, options.probe_port, options.probe_length, 0);
      std::lock_guard lock(bw_mu);
      // A failed probe (the peer busy with another probe, or gone) keeps nothing: the
      // last good value ages out and the passive rate takes over.
      if (mbps.ok()) bandwidth->record_probe(scenario.nodes[k].name, *mbps, wall_now());
    }
  }

  // The hand-over table's order of plan (epoch, version): the rank of its epoch among
  // those followed here, then the version (one master's versions fit 32 bits: one plan
  // per window or lost node). An epoch newer than any seen gets the next rank (its plan
  // may arrive after another node's acknowledgement of it); an older one, none.
  std::optional<uint64_t> order_of(uint64_t epoch, uint64_t version) const {
    uint64_t rank = 0;
    if (auto it = epoch_ranks.find(epoch); it != epoch_ranks.end()) rank = it->second;
    else if (epoch > plan_epoch) rank = epoch_rank + 1;
    else return std::nullopt;
    return rank << 32 | (version & 0xffffffffu);
  }

  void apply(const net::Plan& plan) {
    if (plan.epoch < plan_epoch) return;  // a master older than the one followed
    if (plan.epoch > plan_epoch) {
      if (plan_epoch != 0) {
        ++new_masters_unlogged;
        const int64_t wall = realtime_ns();
        if (new_master_logged_ns == 0 || wall - new_master_logged_ns >= 10'000'000'000) {
          log("a new master (epoch " + std::to_string(plan.epoch) + ", was " + std::to_string(plan_epoch) +
              "): following its plans from version " + std::to_string(plan.version) +
              (new_masters_unlogged > 1 ? " (and " + std::to_string(new_masters_unlogged - 1) +
                                              " more new masters since the last line)"
                                        : ""));
          new_master_logged_ns = wall;
          new_masters_unlogged = 0;
        }
      }
      epoch_ranks[plan.epoch] = ++epoch_rank;
      // Epochs only go up here (older ones are refused above), so the lowest is the oldest.
      while (epoch_ranks.size() > kMaxEpochs) epoch_ranks.erase(epoch_ranks.begin());
    }
    if (net::plan_supersedes(plan_epoch, plan_version, plan.epoch, plan.version)) {
      plan_epoch = plan.epoch;
      plan_version = plan.version;
    }

    const uint64_t order = *order_of(plan.epoch, plan.version);
    std::lock_guard lock(mu);
    if (handover.knows(order)) return;
    HandOverPlan p;
    p.version = order;
    p.effective_ns = plan.effective_ns;
    p.mine.assign(tasks.size(), false);
    p.unplaced.assign(tasks.size(), false);
    for (const net::Assignment& a : plan.assignments) {
      const TaskIndex t = scenario.find_task(a.task);
      if (t == kNone) continue;  // not a task of this node's scenario
      if (a.node == options.node) p.mine[t] = true;
      if (a.node.empty()) p.unplaced[t] = true;
    }
    std::string gained, lost;
    carry_out(handover.on_plan(p, realtime_ns()), gained, lost);
    log("plan " + std::to_string(plan.version) + (gained.empty() ? "" : ": runs" + gained) +
        (lost.empty() ? "" : "; hands over" + lost));
  }

  // REQUIRES: mu held.
  void carry_out(const HandOverActions& actions, std::string& gained, std::string& lost) {
    for (const HandOverTask t : actions.subscribe) {
      TaskState& state = tasks[t];
      // Lean nodes: the task runs here while it is subscribed; the table hears when it
      // is ready (poll) and then claims it.
      if (!state.active) {
        pipeline_changes.emplace_back(t, true);
        state.active = true;
      }
      if (state.subscribed) continue;
      const TaskSpec& task = scenario.tasks[t];
      const config::SensorConfig& sensor = config.sensors[config.task_runtime[t].sensor];
      TopicSub& sub = topics.at(sensor.path);
      if (sub.reader == 0) {
        auto id = readers->add(sensor.path,
                               options.best_effort_frames ? net::Reliability::kBestEffort : net::Reliability::kReliable,
                               sensor.compressed);
        if (!id.ok()) {
          // Not ours after all: the next plan tries again (the master sees it missing).
          log("cannot subscribe to task " + task.name + ": " + id.error().message);
          handover.on_subscribe_failed(t);
          continue;
        }
        sub.reader = *id;
        topic_of_reader[*id] = &sub;
      }
      sub.tasks.push_back(t);
      state.subscribed = true;
    }
    for (const HandOverTask t : actions.unsubscribe) {
      TaskState& state = tasks[t];
      if (state.active) {
        pipeline_changes.emplace_back(t, false);
        state.active = false;
        if (state.ready_told) handover.on_not_ready(t);
        state.ready_told = false;
      }
      if (!state.subscribed) continue;
      state.subscribed = false;
      TopicSub& sub = topics.at(config.sensors[config.task_runtime[t].sensor].path);
      std::erase(sub.tasks, t);
      if (!sub.tasks.empty()) continue;  // another task here still reads the topic
      readers->remove(sub.reader);
      topic_of_reader.erase(sub.reader);
      sub.reader = 0;
    }
    for (const HandOverAck& a : actions.acks) send_ack(a);
    for (const HandOverActions::Change& c : actions.gained) {
      TaskState& state = tasks[c.task];
      state.gained_from = c.at_ns;
      state.ever_active = true;
      state.met_at_gain = accounting.ledger().totals(c.task).met;
      state.first_met_logged = false;
      state.first_frame_logged = false;
      gained += " " + scenario.tasks[c.task].name;
    }
    for (const HandOverActions::Change& c : actions.lost) lost += " " + scenario.tasks[c.task].name;
  }

  // Loop thread, without mu.
  void start_and_stop_tasks() {
    std::vector<std::pair<HandOverTask, bool>> changes;
    {
      std::lock_guard lock(mu);
      changes.swap(pipeline_changes);
    }
    for (const auto& [t, start] : changes) {
      if (start) pipeline.activate(t);
      else pipeline.deactivate(t);
    }
  }

  // REQUIRES: mu held. The claim goes to every other node and the cameras.
  void send_ack(const HandOverAck& a) {
    net::TaskAck ack;
    ack.task = scenario.tasks[a.task].name;
    ack.node = options.node;
    // The claim names the plan the table ordered as a.version: the followed epoch whose
    // rank is its high half.
    for (const auto& [epoch, rank] : epoch_ranks) {
      if (rank == a.version >> 32) ack.epoch = epoch;
    }
    ack.version = a.version & 0xffffffffu;
    ack.from_ns = a.from_ns;
    if (Status st = ack_writer->write(ack); !st.ok()) log("acknowledgement not sent: " + st.error().message);
    if (tasks[a.task].claimed_from == a.from_ns) return;
    tasks[a.task].claimed_from = a.from_ns;
    char line[160];
    std::snprintf(line, sizeof line, "%s: ready; takes its frames from unix %.3f s", ack.task.c_str(),
                  static_cast<double>(a.from_ns) / 1e9);
    log(line);
  }

  void unsubscribe_finished(int64_t now_ns) {
    std::lock_guard lock(mu);
    std::string gained, lost;
    carry_out(handover.poll(now_ns), gained, lost);
  }

  // Tells the table which active tasks became ready (or stopped being: a worker or the
  // server restarting), and what other nodes claimed.
  void follow_readiness_and_acks(int64_t now_ns) {
    std::vector<net::TaskAck> claims = ack_reader->take();
    std::lock_guard lock(mu);
    std::string gained, lost;
    for (uint32_t t = 0; t < tasks.size(); ++t) {
      TaskState& state = tasks[t];
      if (!state.active) continue;
      const bool ready = pipeline.ready(t);
      if (ready && !state.ready_told) {
        state.ready_told = true;
        carry_out(handover.on_ready(t, now_ns), gained, lost);
      } else if (!ready && state.ready_told) {
        state.ready_told = false;
        handover.on_not_ready(t);
      }
    }
    for (const net::TaskAck& c : claims) {
      if (!admitted(SampleTopic::kTaskAck, gate->admit_ack(c, now_ns, clock.now()))) continue;
      if (c.node == options.node) continue;  // our own, back from DDS
      const TaskIndex t = scenario.find_task(c.task);
      const auto order = order_of(c.epoch, c.version);
      if (t == kNone || !order) continue;  // not a task or a master we know
      carry_out(handover.on_ack(HandOverAck{t, *order, c.from_ns}, now_ns), gained, lost);
    }
    if (!gained.empty() || !lost.empty()) {
      log(std::string("hand-over:") + (gained.empty() ? "" : " runs" + gained) + (lost.empty() ? "" : "; hands over" + lost));
    }
  }

  void report(bool final_report = false) {
    net::NodeReport r;
    r.final_report = final_report;
    r.node = options.node;
    r.seq = ++report_seq;
    r.stamp_ns = realtime_ns();
    r.plan_epoch = plan_epoch;
    r.plan_version = plan_version;
    const auto sums = accounting.latency_sums();
    {
      std::lock_guard lock(mu);
      for (uint32_t t = 0; t < tasks.size(); ++t) {
        if (!tasks[t].ever_active) continue;
        const TaskTotals tot = accounting.ledger().totals(t);
        if (!tasks[t].first_met_logged && tot.met > tasks[t].met_at_gain) {
          // When a moved task really runs here (the acceptance of a lost node's tasks).
          tasks[t].first_met_logged = true;
          char line[160];
          std::snprintf(line, sizeof line, "%s: first job met here at unix %.3f s, %.2f s after the plan took effect",
                        scenario.tasks[t].name.c_str(), static_cast<double>(r.stamp_ns) / 1e9,
                        static_cast<double>(r.stamp_ns - tasks[t].gained_from) / 1e9);
          log(line);
        }
        net::TaskReport task;
        task.task = scenario.tasks[t].name;
        task.released = tot.released;
        task.met = tot.met;
        task.overdue = tot.overdue;
        task.dropped = tot.dropped;
        task.latency_sum_ms = sums[t].latency_ms;
        task.node_latency_sum_ms = sums[t].node_latency_ms;
        task.queue_length = static_cast<uint32_t>(tot.released - tot.closed());
        r.tasks.push_back(std::move(task));
      }
    }
    {
      std::lock_guard lock(bw_mu);
      const WallTime now = wall_now();
      for (NodeIndex k = 0; k < scenario.nodes.size(); ++k) {
        if (k == self) continue;
        const std::string& peer = scenario.nodes[k].name;
        // Only a rate the master accepts (master/report_checks.h): a passive reading over
        // kMaxReportedMbps is a frame stamped a moment before it arrived (clocks), not a link.
        auto reading = bandwidth->estimate(peer, now);
        if (reading && std::isfinite(reading->mbps) && reading->mbps > 0)
          r.links.push_back({peer, std::min(reading->mbps, kMaxReportedMbps), reading->method});
      }
    }
    // The profiles as measured here: per batch size, the mean inference time of the
    // batches run so far and how many (0: no batch of that size yet).
    const auto measured = accounting.batch_times();
    for (ModelIndex m = 0; m < scenario.models.size() && m < measured.size(); ++m) {
      net::ProfileReport p;
      p.model = scenario.models[m].name;
      uint64_t batches = 0;
      for (const Accounting::BatchTime& b : measured[m]) {
        p.exe_ms.push_back(b.count ? b.sum_ms / static_cast<double>(b.count) : 0.0);
        p.batches.push_back(b.count);
        batches += b.count;
      }
      if (batches == 0) continue;
      p.pre_ms = to_ms(scenario.models[m].pre_time);
      p.post_ms = to_ms(scenario.models[m].post_time);
      r.profiles.push_back(std::move(p));
    }
    if (Status st = reports->write(r); !st.ok()) log("report not sent: " + st.error().message);
  }
};

Result<std::unique_ptr<ClusterFeed>> ClusterFeed::start(const ClusterOptions& options,
                                                        const Scenario& scenario,
                                                        const FeedContext& context) {
  const config::NodeConfig& config = *context.config;
  const Clock& clock = *context.clock;
  auto impl = std::make_unique<Impl>(options, scenario, context);
  impl->self = scenario.find_node(options.node);
  impl->gate.emplace(scenario, SampleCheckOptions{options.security.has_value()});
  if (impl->self == kNone) {
    return Error{ErrorCode::kInvalidInput, "node '" + options.node + "' is not in scenario " + scenario.source_file};
  }
  COEDGE_CHECK(config.task_runtime.size() == scenario.tasks.size());
  impl->tasks.resize(scenario.tasks.size());
  for (uint32_t t = 0; t < scenario.tasks.size(); ++t) {
    const uint32_t s = config.task_runtime[t].sensor;
    auto [it, fresh] = impl->topics.try_emplace(config.sensors[s].path);
    if (fresh) it->second.sensor = s;
    if (!scenario.tasks[t].topic.empty()) {
      impl->tasks[t].sampler = std::make_unique<TopicSampler>(std::chrono::nanoseconds(scenario.tasks[t].period).count());
    }
  }
  HandOverOptions handover;
  handover.mode = HandOverMode::kOnReady;
  handover.unsubscribe_grace_ns = kUnsubscribeAfterNs;
  handover.ack_lead_ns = kAckLeadNs;
  impl->handover = HandOverTable(scenario.tasks.size(), handover);
  size_t peers = 0;
  for (const auto& peer : options.peer_addresses) peers += peer.first != options.node ? 1 : 0;
  impl->bandwidth = std::make_unique<net::BandwidthEstimate>(
      2 * static_cast<int64_t>(std::max<size_t>(peers, 1)) * options.probe_every, std::chrono::seconds(10));
  auto dds = join_dds(options.domain, options.interface_address, options.dds_peers, options.security);
  if (!dds.ok()) return dds.error();
  impl->domain = std::move(dds->domain);
  impl->readers = std::move(dds->readers);
  auto plans = net::PlanReader::create(*impl->domain);
  if (!plans.ok()) return plans.error();
  impl->plans = std::move(*plans);
  auto reports = net::ReportWriter::create(*impl->domain, options.node);
  if (!reports.ok()) return reports.error();
  impl->reports = std::move(*reports);
  auto commands = net::CommandReader::create(*impl->domain);
  if (!commands.ok()) return commands.error();
  impl->commands = std::move(*commands);
  auto ack_writer = net::TaskAckWriter::create(*impl->domain, options.node);
  if (!ack_writer.ok()) return ack_writer.error();
  impl->ack_writer = std::move(*ack_writer);
  auto ack_reader = net::TaskAckReader::create(*impl->domain);
  if (!ack_reader.ok()) return ack_reader.error();
  impl->ack_reader = std::move(*ack_reader);
  if (!options.peer_addresses.empty()) {
    auto server = net::ProbeServer::start(options.probe_port);
    if (!server.ok()) return server.error();
    impl->probe_server = std::move(*server);
  }
  // Last (nothing can fail after it: the agent's ResultLog keeps the sink), and before
  // any frame, so that no result goes unpublished.
  auto publisher = start_result_publisher(*impl->domain, context);
  if (!publisher.ok()) return publisher.error();
  impl->publisher = std::move(*publisher);
  Impl* raw = impl.get();
  impl->feeder = std::thread([raw] { raw->feed_loop(); });
  impl->prober = std::thread([raw] { raw->probe_loop(); });
  impl->next_report = clock.now();
  if (context.metrics != nullptr) context.metrics->declare_rejected_samples(kNodeTopics);
  return std::unique_ptr<ClusterFeed>(new ClusterFeed(std::move(impl)));
}

ClusterFeed::ClusterFeed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClusterFeed::~ClusterFeed() { stop_accepting(); }

bool ClusterFeed::poll(TimePoint now) {
  Impl& d = *impl_;
  // Samples the readers refused over their caps (net/dds.h) count with the gate's; an
  // image's too (its jobs were never released: the frame never reached the feed).
  for (auto [topic, refusals] :
       {std::pair{SampleTopic::kPlan, take_reader_refusals(*d.plans, d.plans_refused)},
        std::pair{SampleTopic::kCommand, take_reader_refusals(*d.commands, d.commands_refused)},
        std::pair{SampleTopic::kTaskAck, take_reader_refusals(*d.ack_reader, d.acks_refused)},
        std::pair{SampleTopic::kImage, take_reader_refusals(*d.readers, d.images_refused)}}) {
    if (refusals.count == 0) continue;
    d.gate->refused_by_reader(topic, refusals, now);
    if (d.context.metrics != nullptr) d.context.metrics->on_sample_rejected(topic, SampleRejection::kOversized, refusals.count);
    for (const std::string& line : d.gate->take_logs()) d.log(line);
  }
  if (auto plan = d.plans->take()) {
    if (d.admitted(SampleTopic::kPlan, d.gate->admit_plan(*plan, realtime_ns(), now))) d.apply(*plan);
  }
  d.follow_readiness_and_acks(realtime_ns());
  d.unsubscribe_finished(realtime_ns());
  d.start_and_stop_tasks();
  for (const net::Command& c : d.commands->take()) {
    if (!d.admitted(SampleTopic::kCommand, d.gate->admit_command(c, now))) continue;
    if (c.command == "stop-sources" && (c.node.empty() || c.node == d.options.node)) {
      // The master stops the cameras before the nodes, so that the jobs in flight finish:
      // a driver does not listen, so its frames stop being taken here.
      std::lock_guard lock(d.mu);
      if (!d.driver_frames_stopped) d.log("the master stopped the sources: no more frames taken from drivers' topics");
      d.driver_frames_stopped = true;
    }
    if (c.command == "stop" && (c.node.empty() || c.node == d.options.node)) {
      if (!d.stop_requested) d.log("the master asked this node to stop");
      d.stop_requested = true;
    }
  }
  if (now >= d.next_report) {
    d.report();
    d.next_report = now + d.options.report_every;
  }
  return d.stop_requested;
}

void ClusterFeed::stop_accepting() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->accepting = false;
  }
  impl_->stopping.store(true);
  impl_->readers->wake();
  impl_->probe_cv.notify_all();
  if (impl_->feeder.joinable()) impl_->feeder.join();
  if (impl_->prober.joinable()) impl_->prober.join();
}

void ClusterFeed::final_report() { impl_->report(/*final_report=*/true); }

Feed::Counts ClusterFeed::counts() const {
  Counts c;
  for (const auto& [path, sub] : impl_->topics) c.sensors.push_back(sub.counters.counts(sub.sensor));
  for (const auto& s : impl_->skipped) c.skipped.push_back(s.load());
  impl_->gate->rejections().for_each([&](SampleTopic topic, SampleRejection reason, uint64_t n) {
    c.rejected_samples.push_back({std::string(to_string(topic)), std::string(to_string(reason)), n});
  });
  return c;
}

}  // namespace coedge::node
