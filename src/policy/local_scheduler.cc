#include "policy/local_scheduler.h"

#include "policy/coedge_scheduler.h"
#include "policy/deadline_drop_scheduler.h"
#include "policy/single_queue_schedulers.h"
#include "policy/triton_scheduler.h"

namespace coedge::policy {
namespace {
// What a careful operator would set (careful_triton_config), with the spec's knobs on top.
TritonConfig triton_config(const Scenario& scenario, const SchedulerSpec& spec) {
  TritonConfig config = careful_triton_config(scenario);
  for (TritonModelConfig& m : config.models) {
    if (auto sizes = spec.batch_sizes("preferred")) m.preferred_batch_sizes = *sizes;
    if (auto delay = spec.duration("max-queue-delay")) m.max_queue_delay = *delay;
    if (auto timeout = spec.duration("timeout")) m.timeout = *timeout;
  }
  return config;
}
}  // namespace

std::unique_ptr<LocalScheduler> make_local_scheduler(const SchedulerSpec& spec,
                                                     const Scenario& scenario) {
  const std::vector<ModelProfile>& models = scenario.models;
  const std::string_view base = spec.base();
  if (base == "edf") return std::make_unique<EdfScheduler>(models);
  if (base == "fixed") return std::make_unique<FixedPriorityScheduler>(models);
  if (base == "triton")
    return std::make_unique<TritonScheduler>(models, triton_config(scenario, spec));
  if (base == "deadline-drop") return std::make_unique<DeadlineDropScheduler>(models);
  COEDGE_CHECK(base == "coedge");
  return std::make_unique<CoedgeScheduler>(
      models, CoedgeSchedulerOptions{.wait_for_batch = spec.has("wait-for-batch")});
}

}  // namespace coedge::policy
