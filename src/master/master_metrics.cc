// MasterMetrics. Every series exists from the start, at zero, as on the nodes (rate() and
// absent() then behave), and an update is a pass over the tasks and nodes.
#include "master/master_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>

#include "core/build_info.h"
#include "core/sample_rejection.h"
#include "master/master_core.h"

namespace coedge::master {
namespace {

constexpr Phase kPhases[] = {Phase::kWaiting, Phase::kRunning, Phase::kSettling, Phase::kDraining, Phase::kDone};
// The topics the master reads, whose refused samples it counts.
constexpr SampleTopic kMasterTopics[] = {SampleTopic::kNodeReport, SampleTopic::kSourceStats};

}  // namespace

MasterMetrics::MasterMetrics(const Scenario& scenario)
    : scenario_(scenario), registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  const BuildInfo build = build_info();
  prometheus::BuildGauge()
      .Name("coedge_build_info")
      .Help("The CoEdge build this process runs (value 1; version and git revision in labels)")
      .Register(r)
      .Add({{"version", std::string(build.version)}, {"revision", std::string(build.revision)}})
      .Set(1);
  plan_version_ = &prometheus::BuildGauge()
                       .Name("coedge_master_plan_version")
                       .Help("Version of the last plan the master published (1, 2, ...; 0 before the first)")
                       .Register(r)
                       .Add({});
  plans_published_ = &prometheus::BuildCounter()
                          .Name("coedge_master_plans_published_total")
                          .Help("Plans the master published: the first, and each one that changed a placement")
                          .Register(r)
                          .Add({});
  nodes_up_ = &prometheus::BuildGauge()
                   .Name("coedge_master_nodes_up")
                   .Help("Nodes of the scenario the master counts as up (reporting, liveliness not lost)")
                   .Register(r)
                   .Add({});
  auto& node_up = prometheus::BuildGauge()
                      .Name("coedge_master_node_up")
                      .Help("1 while the master counts the node as up, 0 before its first report and "
                            "once it is lost or stopped")
                      .Register(r);
  for (const NodeSpec& n : scenario_.nodes) node_up_.push_back(&node_up.Add({{"node", n.name}}));
  auto& phase = prometheus::BuildGauge()
                    .Name("coedge_master_phase")
                    .Help("1 for the master's present phase (waiting, running, settling, draining, done), "
                          "0 for the others")
                    .Register(r);
  for (Phase p : kPhases) phase_.push_back(&phase.Add({{"phase", std::string(to_string(p))}}));
  phase_.front()->Set(1);

  auto& rejected = prometheus::BuildCounter()
                      .Name("coedge_master_rejected_samples_total")
                      .Help("Samples the master received and refused (dropped unused), by topic and reason "
                            "(docs/METRICS.md lists the reasons)")
                      .Register(r);
  rejected_.assign(kSampleTopicCount, std::vector<prometheus::Counter*>(kSampleRejectionCount, nullptr));
  for (SampleTopic topic : kMasterTopics) {
    for (int reason = 1; reason < kSampleRejectionCount; ++reason) {
      rejected_[static_cast<size_t>(topic)][static_cast<size_t>(reason)] =
          &rejected.Add({{"topic", std::string(to_string(topic))},
                         {"reason", std::string(to_string(static_cast<SampleRejection>(reason)))}});
    }
  }

  auto& info = prometheus::BuildGauge()
                   .Name("coedge_cluster_task_info")
                   .Help("A task of the scenario (value 1), its model and the node whose camera releases its jobs")
                   .Register(r);
  auto& target = prometheus::BuildGauge()
                     .Name("coedge_cluster_task_miss_ratio_target")
                     .Help("The task's tolerable miss ratio (its epsilon)")
                     .Register(r);
  auto& window_ratio = prometheus::BuildGauge()
                           .Name("coedge_cluster_task_miss_ratio")
                           .Help("The task's miss ratio (overdue + dropped over finished) in the last "
                                 "stage-2 window, cluster-wide")
                           .Register(r);
  auto& placement = prometheus::BuildGauge()
                        .Name("coedge_cluster_task_placement")
                        .Help("1 on the node the last published plan gives the task, 0 on the others")
                        .Register(r);
  auto& changes = prometheus::BuildCounter()
                      .Name("coedge_master_placement_changes_total")
                      .Help("Published plans that changed the task's node (placed, moved or unplaced)")
                      .Register(r);
  auto& released = prometheus::BuildCounter()
                       .Name("coedge_cluster_jobs_released_total")
                       .Help("Jobs of the task its camera released (frames published), cluster-wide")
                       .Register(r);
  auto& finished = prometheus::BuildCounter()
                       .Name("coedge_cluster_jobs_finished_total")
                       .Help("Jobs of the task closed, by outcome, summed over the nodes' reports; at the "
                             "end, jobs no node closed are added as dropped")
                       .Register(r);
  for (const TaskSpec& t : scenario_.tasks) {
    const std::string source = t.source < scenario_.nodes.size() ? scenario_.nodes[t.source].name : "";
    const std::string model = t.model < scenario_.models.size() ? scenario_.models[t.model].name : "";
    info.Add({{"task", t.name}, {"model", model}, {"source", source}}).Set(1);
    target.Add({{"task", t.name}}).Set(t.epsilon);
    TaskSeries s;
    s.released = &released.Add({{"task", t.name}});
    s.met = &finished.Add({{"task", t.name}, {"outcome", "met"}});
    s.overdue = &finished.Add({{"task", t.name}, {"outcome", "overdue"}});
    s.dropped = &finished.Add({{"task", t.name}, {"outcome", "dropped"}});
    s.placement_changes = &changes.Add({{"task", t.name}});
    s.window_miss_ratio = &window_ratio.Add({{"task", t.name}});
    for (const NodeSpec& n : scenario_.nodes) s.placed.push_back(&placement.Add({{"task", t.name}, {"node", n.name}}));
    tasks_.push_back(std::move(s));
  }
}

// The exposer first: its HTTP thread reads the registry.
MasterMetrics::~MasterMetrics() { exposer_.reset(); }

Status MasterMetrics::serve(const std::string& listen) {
  if (exposer_) return Error{ErrorCode::kInvalidInput, "metrics: already serving"};
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(listen, 1);
    exposer->RegisterCollectable(registry_);
    exposer_ = std::move(exposer);
  } catch (const std::exception& e) {
    return Error{ErrorCode::kIo, "metrics: cannot serve /metrics on '" + listen + "': " + e.what() +
                                     " (is the port in use, or the address not one of this machine's?)"};
  }
  return Ok{};
}

int MasterMetrics::port() const {
  if (!exposer_) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void MasterMetrics::raise_to(prometheus::Counter& counter, double value) {
  const double now = counter.Value();
  if (value > now) counter.Increment(value - now);
}

void MasterMetrics::update(const MasterCore& core) {
  const std::vector<TaskAccount> accounts = core.state().accounts();
  for (size_t t = 0; t < tasks_.size() && t < accounts.size(); ++t) {
    TaskSeries& s = tasks_[t];
    const TaskAccount& a = accounts[t];
    raise_to(*s.released, static_cast<double>(a.released));
    raise_to(*s.met, static_cast<double>(a.met));
    raise_to(*s.overdue, static_cast<double>(a.overdue));
    raise_to(*s.dropped, static_cast<double>(a.dropped_by_nodes));
  }
  if (core.plan_version() != last_version_) {
    plans_published_->Increment(static_cast<double>(core.plan_version() - last_version_));
    last_version_ = core.plan_version();
    plan_version_->Set(static_cast<double>(last_version_));
    const std::vector<NodeIndex>& assignment = core.assignment();
    for (size_t t = 0; t < tasks_.size() && t < assignment.size(); ++t) {
      TaskSeries& s = tasks_[t];
      if (assignment[t] == s.node) continue;
      s.placement_changes->Increment();
      for (size_t k = 0; k < s.placed.size(); ++k) s.placed[k]->Set(k == assignment[t] ? 1 : 0);
      s.node = assignment[t];
    }
  }
  int up = 0;
  for (size_t k = 0; k < node_up_.size(); ++k) {
    const bool alive = core.node_alive(static_cast<NodeIndex>(k));
    node_up_[k]->Set(alive ? 1 : 0);
    up += alive ? 1 : 0;
  }
  nodes_up_->Set(up);
  for (size_t p = 0; p < phase_.size(); ++p) phase_[p]->Set(kPhases[p] == core.phase() ? 1 : 0);
  core.rejections().for_each([&](SampleTopic topic, SampleRejection reason, uint64_t n) {
    if (prometheus::Counter* c = rejected_[static_cast<size_t>(topic)][static_cast<size_t>(reason)]) {
      raise_to(*c, static_cast<double>(n));
    }
  });
}

void MasterMetrics::finish(const MasterSummary& summary) {
  for (size_t t = 0; t < tasks_.size() && t < summary.tasks.size(); ++t) {
    const TaskAccount& a = summary.tasks[t].account;
    raise_to(*tasks_[t].released, static_cast<double>(a.released));
    raise_to(*tasks_[t].met, static_cast<double>(a.met));
    raise_to(*tasks_[t].overdue, static_cast<double>(a.overdue));
    raise_to(*tasks_[t].dropped, static_cast<double>(a.dropped()));
  }
  for (size_t p = 0; p < phase_.size(); ++p) phase_[p]->Set(kPhases[p] == Phase::kDone ? 1 : 0);
}

void MasterMetrics::set_window_miss_ratio(TaskIndex t, double ratio) {
  if (t < tasks_.size()) tasks_[t].window_miss_ratio->Set(ratio);
}

std::string MasterMetrics::text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace coedge::master
