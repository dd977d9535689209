#include "sim/simulator.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <queue>
#include <unordered_map>

#include "core/rng.h"
#include "policy/local_scheduler.h"

namespace coedge::sim {

namespace {

constexpr TimePoint kUnset = TimePoint::min();
// A job id carries its in-flight slot in the low bits, so a Job returned by a scheduler
// leads straight to its state; the high bits keep ids increasing in release order.
constexpr int kSlotBits = 28;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;

enum class Ev : uint8_t {
  kRelease, kArrive, kCpuDone, kAccelDone, kWake, kWindow, kLinkChange, kDecide
};

struct Event {
  TimePoint t;
  // Decisions run after everything else at the same instant, so that a scheduler sees
  // every job that became ready at that instant (and not an artefact of event order).
  bool late;
  uint64_t seq;  // insertion order: other ties run first-scheduled first
  uint32_t a;
  uint32_t b;
  Ev kind;
  bool operator>(const Event& o) const {
    if (t != o.t) return t > o.t;
    if (late != o.late) return late;
    return seq > o.seq;
  }
};

struct Flight {
  JobRecord rec;
  policy::Job job;
};

struct CpuWork {
  uint32_t slot;
  bool post;
};

struct NodeRuntime {
  std::unique_ptr<policy::LocalScheduler> scheduler;
  int free_cores = 0;
  std::deque<CpuWork> cpu_queue;
  bool accel_busy = false;
  bool decision_pending = false;
  std::vector<policy::Job> running;
  uint32_t wake_generation = 0;
};

struct TaskRuntime {
  Duration phase{};
  uint64_t next_release_index = 0;
  policy::TaskWindow window;
  int64_t window_latency_sum = 0, window_node_latency_sum = 0;
};

class Simulation {
 public:
  Simulation(const Scenario& scenario, const SimOptions& options,
             std::unique_ptr<policy::Dispatcher> dispatcher)
      : s_(scenario),
        opt_(options),
        dispatcher_(std::move(dispatcher)),
        rng_(scenario.run.seed),
        net_(scenario.network),
        nodes_(scenario.nodes.size()),
        tasks_(scenario.tasks.size()) {}

  void init() {
    for (NodeIndex k = 0; k < nodes_.size(); ++k) {
      nodes_[k].scheduler = make_local_scheduler(opt_.policy.scheduler, s_);
      nodes_[k].free_cores = s_.nodes[k].cpu_cores;
    }
    result_.dispatcher = opt_.policy.dispatcher.text();
    result_.scheduler = opt_.policy.scheduler.text();
    result_.tasks.resize(s_.tasks.size());
    result_.accelerator_busy.assign(s_.nodes.size(), Duration{0});
  }

  SimResult run() {
    std::vector<policy::PlanRecord> records;
    plan_ = dispatcher_->initial(records);
    result_.initial_plan = plan_;
    note(records);
    for (TaskIndex t = 0; t < s_.tasks.size(); ++t) {
      const Duration period = s_.tasks[t].period;
      tasks_[t].phase = s_.run.random_phase
                            ? Duration(static_cast<int64_t>(rng_.below(
                                  static_cast<uint64_t>(period.count()))))
                            : Duration{0};
      schedule_release(t);
    }
    if (s_.run.window <= s_.run.duration) push(kEpoch + s_.run.window, Ev::kWindow, 0, 0);
    for (uint32_t i = 0; i < s_.link_changes.size(); ++i)  // later ones cannot matter
      if (s_.link_changes[i].at < s_.run.duration)
        push(kEpoch + s_.link_changes[i].at, Ev::kLinkChange, i, 0);

    while (!events_.empty()) {
      const Event e = events_.top();
      events_.pop();
      now_ = e.t;
      ++result_.events;
      switch (e.kind) {
        case Ev::kRelease: on_release(e.a); break;
        case Ev::kArrive: start_cpu(e.a, false); break;
        case Ev::kCpuDone: on_cpu_done(e.a, e.b != 0); break;
        case Ev::kAccelDone: on_accel_done(e.a); break;
        case Ev::kWake:
          if (e.b == nodes_[e.a].wake_generation) request_decision(e.a);
          break;
        case Ev::kDecide:
          nodes_[e.a].decision_pending = false;
          if (!nodes_[e.a].accel_busy) run_decision(e.a);
          break;
        case Ev::kWindow: on_window(); break;
        case Ev::kLinkChange: on_link_change(e.a); break;
      }
    }
    COEDGE_CHECK(in_flight_ == 0);
    result_.final_plan = plan_;
    for (TaskIndex t = 0; t < s_.tasks.size(); ++t) result_.explanations.push_back(dispatcher_->explain(t));
    result_.end_time = last_end_;
    if (opt_.progress) opt_.progress(1.0);
    return std::move(result_);
  }

 private:
  void push(TimePoint t, Ev kind, uint32_t a, uint32_t b) {
    events_.push(Event{t, kind == Ev::kDecide, seq_++, a, b, kind});
    result_.peak_pending_events = std::max<uint64_t>(result_.peak_pending_events, events_.size());
  }

  void request_decision(NodeIndex k) {
    NodeRuntime& node = nodes_[k];
    if (node.decision_pending || node.accel_busy) return;
    node.decision_pending = true;
    push(now_, Ev::kDecide, k, 0);
  }

  void note(std::vector<policy::PlanRecord>& records) {
    for (const policy::PlanRecord& r : records) result_.plan_records.push_back({now_, r});
    records.clear();
    dispatcher_->take_waiting_notes(records);
    for (policy::PlanRecord& r : records) result_.waiting_notes.push_back({now_, std::move(r)});
    records.clear();
  }

  void schedule_release(TaskIndex t) {
    const TaskSpec& task = s_.tasks[t];
    TaskRuntime& tr = tasks_[t];
    Duration offset = tr.phase + task.period * static_cast<int64_t>(tr.next_release_index);
    if (s_.run.release_jitter.count() > 0) {
      // Bounded by the period so releases of one task never overtake each other.
      const int64_t bound = std::min(s_.run.release_jitter, task.period).count();
      offset += Duration(static_cast<int64_t>(rng_.below(static_cast<uint64_t>(bound))));
    }
    if (offset >= s_.run.duration) return;
    ++tr.next_release_index;
    push(kEpoch + offset, Ev::kRelease, t, 0);
  }

  uint32_t allocate_slot() {
    if (!free_slots_.empty()) {
      const uint32_t slot = free_slots_.back();
      free_slots_.pop_back();
      return slot;
    }
    COEDGE_CHECK(flights_.size() < kSlotMask);
    flights_.emplace_back();
    return static_cast<uint32_t>(flights_.size() - 1);
  }

  void on_release(TaskIndex t) {
    schedule_release(t);
    const TaskSpec& task = s_.tasks[t];
    const uint32_t slot = allocate_slot();
    ++in_flight_;
    ++result_.jobs_released;
    ++result_.tasks[t].released;
    Flight& f = flights_[slot];
    COEDGE_CHECK(next_seq_ < (uint64_t{1} << (64 - kSlotBits)));  // ids stay in release order
    f.job = policy::Job{(next_seq_++ << kSlotBits) | slot, t, task.model, now_, now_ + task.deadline,
                task.priority};
    f.rec = JobRecord{};
    f.rec.id = f.job.id >> kSlotBits;
    f.rec.task = t;
    f.rec.release = now_;
    f.rec.deadline = f.job.deadline;
    f.rec.arrive = f.rec.pre_start = f.rec.pre_end = f.rec.infer_start = f.rec.infer_end =
        f.rec.post_start = f.rec.end = kUnset;

    const NodeIndex node = plan_.node_of_task[t];
    if (node == kNone) return finish(slot, JobOutcome::kDropped, DropCause::kUnplaced);
    f.rec.node = node;
    if (node == task.source) return start_cpu(slot, false);
    const double mbps = net_.mbps(task.source, node);
    const Duration transfer =
        mbps > 0 ? transfer_time(s_.models[task.model].input_bytes, mbps) : kNever;
    if (transfer == kNever) return finish(slot, JobOutcome::kDropped, DropCause::kUnreachable);
    // Directed link: one transfer at a time, first come first served.
    TimePoint& link_free = link_free_[(uint64_t{task.source} << 32) | node];
    const TimePoint start = std::max(now_, link_free);
    link_free = start + transfer;
    push(link_free + net_.latency(task.source, node), Ev::kArrive, slot, 0);
  }

  void start_cpu(uint32_t slot, bool post) {
    Flight& f = flights_[slot];
    NodeRuntime& node = nodes_[f.rec.node];
    if (!post) f.rec.arrive = now_;
    if (node.free_cores == 0) {
      node.cpu_queue.push_back({slot, post});
      return;
    }
    run_cpu(slot, post, node);
  }

  void run_cpu(uint32_t slot, bool post, NodeRuntime& node) {
    --node.free_cores;
    Flight& f = flights_[slot];
    const ModelProfile& model = s_.models[f.job.model];
    (post ? f.rec.post_start : f.rec.pre_start) = now_;
    push(now_ + (post ? model.post_time : model.pre_time), Ev::kCpuDone, slot, post ? 1 : 0);
  }

  void on_cpu_done(uint32_t slot, bool post) {
    Flight& f = flights_[slot];
    const NodeIndex k = f.rec.node;
    NodeRuntime& node = nodes_[k];
    ++node.free_cores;
    if (!node.cpu_queue.empty()) {
      const CpuWork next = node.cpu_queue.front();
      node.cpu_queue.pop_front();
      run_cpu(next.slot, next.post, node);
    }
    if (post) {
      f.rec.end = now_;
      return finish(slot, now_ <= f.job.deadline ? JobOutcome::kMet : JobOutcome::kOverdue,
                    DropCause::kNone);
    }
    f.rec.pre_end = now_;
    node.scheduler->on_ready(f.job, now_);
    request_decision(k);
  }

  void run_decision(NodeIndex k) {
    NodeRuntime& node = nodes_[k];
    node.scheduler->decide(now_, decision_);
    for (const policy::Job& job : decision_.dropped)
      finish(static_cast<uint32_t>(job.id & kSlotMask), JobOutcome::kDropped, DropCause::kScheduler);
    if (!decision_.batch.empty()) {
      Duration exe = decision_.expected;
      if (s_.run.exec_jitter > 0) {
        const double factor = 1.0 + rng_.uniform(-s_.run.exec_jitter, s_.run.exec_jitter);
        exe = Duration(static_cast<int64_t>(static_cast<double>(exe.count()) * factor));
      }
      const uint16_t size = static_cast<uint16_t>(decision_.batch.size());
      for (const policy::Job& job : decision_.batch) {
        JobRecord& rec = flights_[job.id & kSlotMask].rec;
        rec.infer_start = now_;
        rec.batch = size;
      }
      node.running.swap(decision_.batch);
      node.accel_busy = true;
      result_.accelerator_busy[k] += exe;
      push(now_ + exe, Ev::kAccelDone, k, 0);
    } else if (decision_.wake_at != TimePoint::max()) {
      push(std::max(decision_.wake_at, now_), Ev::kWake, k, ++node.wake_generation);
    }
  }

  void on_accel_done(NodeIndex k) {
    NodeRuntime& node = nodes_[k];
    node.accel_busy = false;
    for (const policy::Job& job : node.running) {
      const uint32_t slot = static_cast<uint32_t>(job.id & kSlotMask);
      flights_[slot].rec.infer_end = now_;
      start_cpu(slot, true);
    }
    node.running.clear();
    request_decision(k);
  }

  void finish(uint32_t slot, JobOutcome outcome, DropCause reason) {
    Flight& f = flights_[slot];
    f.rec.outcome = outcome;
    f.rec.drop = reason;
    if (outcome == JobOutcome::kDropped) f.rec.end = now_;
    TaskTally& tally = result_.tasks[f.rec.task];
    TaskRuntime& tr = tasks_[f.rec.task];
    ++tr.window.finished;
    switch (outcome) {
      case JobOutcome::kMet: ++tally.met; break;
      case JobOutcome::kOverdue: ++tally.overdue; break;
      case JobOutcome::kDropped: ++tally.dropped; break;
      case JobOutcome::kOpen: COEDGE_CHECK(!"a job ends met, overdue or dropped"); break;
    }
    if (outcome != JobOutcome::kMet) ++tr.window.missed;
    if (outcome != JobOutcome::kDropped) {
      const int64_t latency = (f.rec.end - f.rec.release).count();
      tally.latencies_us.push_back(latency);
      ++tr.window.completed;
      tr.window_latency_sum += latency;
      tr.window_node_latency_sum += (f.rec.end - f.rec.arrive).count();
    }
    if (opt_.record_jobs) result_.jobs.push_back(f.rec);
    last_end_ = std::max(last_end_, now_);
    free_slots_.push_back(slot);
    --in_flight_;
  }

  void on_window() {
    policy::WindowReport report;
    report.now = now_;
    report.tasks.resize(tasks_.size());
    for (TaskIndex t = 0; t < tasks_.size(); ++t) {
      TaskRuntime& tr = tasks_[t];
      policy::TaskWindow w = tr.window;
      if (w.completed) {
        const auto n = static_cast<int64_t>(w.completed);
        w.mean_latency = Duration(tr.window_latency_sum / n);
        w.mean_node_latency = Duration(tr.window_node_latency_sum / n);
      }
      report.tasks[t] = w;
      result_.windows.push_back({now_, t, plan_.node_of_task[t], w});
      tr.window = policy::TaskWindow{};
      tr.window_latency_sum = tr.window_node_latency_sum = 0;
    }
    report.links.swap(changed_links_);
    std::vector<policy::PlanRecord> records;
    plan_ = dispatcher_->update(report, records);
    COEDGE_CHECK(plan_.node_of_task.size() == s_.tasks.size());
    note(records);
    if (opt_.progress) opt_.progress(to_s(now_) / to_s(s_.run.duration));
    // One window at a time, so that a short window costs no memory up front.
    if (now_ + s_.run.window <= kEpoch + s_.run.duration) push(now_ + s_.run.window, Ev::kWindow, 0, 0);
  }

  void on_link_change(uint32_t index) {
    const LinkChange& change = s_.link_changes[index];
    net_.set(change.a, change.b, change.mbps, net_.latency(change.a, change.b));
    // The nodes measure the new bandwidth; it reaches the dispatcher with the next report.
    changed_links_.push_back({change.a, change.b, change.mbps});
  }

  const Scenario& s_;
  const SimOptions& opt_;
  std::unique_ptr<policy::Dispatcher> dispatcher_;
  Rng rng_;
  Network net_;
  std::vector<NodeRuntime> nodes_;
  std::vector<TaskRuntime> tasks_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::vector<Flight> flights_;
  std::vector<uint32_t> free_slots_;
  std::unordered_map<uint64_t, TimePoint> link_free_;
  std::vector<policy::MeasuredLink> changed_links_;
  policy::Plan plan_;
  policy::Decision decision_;
  SimResult result_;
  TimePoint now_ = kEpoch;
  TimePoint last_end_ = kEpoch;
  uint64_t seq_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t in_flight_ = 0;
};

}  // namespace

SimResult simulate(const Scenario& scenario, const SimOptions& options) {
  Simulation sim(scenario, options, make_dispatcher(options.policy.dispatcher, scenario));
  sim.init();
  return sim.run();
}

}  // namespace coedge::sim
