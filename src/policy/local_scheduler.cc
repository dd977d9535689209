#include "policy/local_scheduler.h"

#include <algorithm>
#include <array>

#include "policy/coedge_scheduler.h"
#include "policy/deadline_drop_scheduler.h"
#include "policy/single_queue_schedulers.h"
#include "policy/triton_scheduler.h"

namespace coedge {
namespace {
constexpr std::array<std::string_view, 6> kNames = {"coedge", "coedge-wait",   "edf",
                                                    "fixed",  "triton",        "deadline-drop"};
}

std::span<const std::string_view> local_scheduler_names() { return kNames; }

namespace {
Result<TritonConfig> triton_config(const Scenario& scenario, const SchedulerParams& params) {
  TritonConfig config = careful_triton_config(scenario);
  for (TritonModelConfig& m : config.models) {
    if (params.triton_preferred_batch_sizes) {
      std::vector<int> sizes = *params.triton_preferred_batch_sizes;
      std::sort(sizes.begin(), sizes.end());
      if (sizes.empty() || sizes.front() < 1 || sizes.back() > kMaxBatch)
        return Error{ErrorCode::kInvalidInput, "triton preferred batch sizes must lie within 1-10"};
      m.preferred_batch_sizes = sizes;
    }
    if (params.triton_max_queue_delay) m.max_queue_delay = *params.triton_max_queue_delay;
    if (params.triton_timeout) m.timeout = *params.triton_timeout;
  }
  return config;
}
}  // namespace

Result<std::unique_ptr<LocalScheduler>> make_local_scheduler(std::string_view name,
                                                            const Scenario& scenario,
                                                            const SchedulerParams& params) {
  const std::vector<ModelProfile>& models = scenario.models;
  std::unique_ptr<LocalScheduler> scheduler;
  if (name == "coedge") scheduler = std::make_unique<CoedgeScheduler>(models);
  if (name == "coedge-wait")
    scheduler = std::make_unique<CoedgeScheduler>(models, CoedgeSchedulerOptions{true});
  if (name == "edf") scheduler = std::make_unique<EdfScheduler>(models);
  if (name == "fixed") scheduler = std::make_unique<FixedPriorityScheduler>(models);
  if (name == "triton") {
    auto config = triton_config(scenario, params);
    if (!config.ok()) return config.error();
    scheduler = std::make_unique<TritonScheduler>(models, std::move(config.value()));
  }
  if (name == "deadline-drop") scheduler = std::make_unique<DeadlineDropScheduler>(models);
  if (!scheduler) {
    return Error{ErrorCode::kInvalidInput,
                 "unknown local scheduler '" + std::string(name) +
                     "' (choose one of: coedge, coedge-wait, edf, fixed, triton, deadline-drop)"};
  }
  return scheduler;
}

}  // namespace coedge
