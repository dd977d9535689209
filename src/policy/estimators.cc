#include "policy/estimators.h"

namespace coedge::policy {

Duration comm_time(const Network& network, int64_t bytes, NodeIndex source, NodeIndex node) {
  if (source == node) return Duration{0};
  const double mbps = network.mbps(source, node);
  if (!(mbps > 0)) return kNever;
  const Duration transfer = transfer_time(bytes, mbps);
  if (transfer == kNever) return kNever;
  return transfer + network.latency(source, node);
}

double task_load(const TaskSpec& task, const ModelProfile& model) {
  return static_cast<double>(model.exe(1).count()) / static_cast<double>(task.period.count());
}

namespace {
double pre_post_us(const ModelProfile& model) {
  return static_cast<double>((model.pre_time + model.post_time).count());
}
}  // namespace

double exec_estimate_us(const TaskSpec& task, const ModelProfile& model, double node_load,
                        double alpha) {
  const double period = static_cast<double>(task.period.count());
  return (1.0 + alpha) * (period * node_load + pre_post_us(model));
}

double load_capacity(const TaskSpec& task, const ModelProfile& model, Duration comm,
                     double alpha) {
  if (comm == kNever) return -1.0;
  const double budget = static_cast<double>((task.deadline - comm).count()) / (1.0 + alpha);
  return (budget - pre_post_us(model)) / static_cast<double>(task.period.count());
}

void fill_estimate(const TaskSpec& task, const ModelProfile& model, Duration comm,
                   double node_load, double own_inference_us, double alpha, NodeEstimate& out) {
  const double period = static_cast<double>(task.period.count());
  out.transfer = comm;
  out.alpha = alpha;
  out.load = node_load;
  out.deadline = task.deadline;
  out.inference_us = own_inference_us;
  out.queueing_us = period * node_load - own_inference_us;
  out.pre_post_us = pre_post_us(model);
  out.correction_us = alpha * (period * node_load + out.pre_post_us);
  out.total_us = static_cast<double>(comm.count()) + exec_estimate_us(task, model, node_load, alpha);
  out.alone_us = static_cast<double>(comm.count()) +
                 exec_estimate_us(task, model, own_inference_us / period, alpha);
}

}  // namespace coedge::policy
