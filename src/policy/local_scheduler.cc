#include "policy/local_scheduler.h"

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

Result<std::unique_ptr<LocalScheduler>> make_local_scheduler(std::string_view name,
                                                            const Scenario& scenario) {
  const std::vector<ModelProfile>& models = scenario.models;
  std::unique_ptr<LocalScheduler> scheduler;
  if (name == "coedge") scheduler = std::make_unique<CoedgeScheduler>(models);
  if (name == "coedge-wait")
    scheduler = std::make_unique<CoedgeScheduler>(models, CoedgeSchedulerOptions{true});
  if (name == "edf") scheduler = std::make_unique<EdfScheduler>(models);
  if (name == "fixed") scheduler = std::make_unique<FixedPriorityScheduler>(models);
  if (name == "triton")
    scheduler = std::make_unique<TritonScheduler>(models, careful_triton_config(scenario));
  if (name == "deadline-drop") scheduler = std::make_unique<DeadlineDropScheduler>(models);
  if (!scheduler) {
    return Error{ErrorCode::kInvalidInput,
                 "unknown local scheduler '" + std::string(name) +
                     "' (choose one of: coedge, coedge-wait, edf, fixed, triton, deadline-drop)"};
  }
  return scheduler;
}

}  // namespace coedge
