#include "policy/local_scheduler.h"

#include <array>

#include "policy/coedge_scheduler.h"
#include "policy/single_queue_schedulers.h"

namespace coedge {
namespace {
constexpr std::array<std::string_view, 3> kNames = {"coedge", "edf", "fixed"};
}

std::span<const std::string_view> local_scheduler_names() { return kNames; }

Result<std::unique_ptr<LocalScheduler>> make_local_scheduler(
    std::string_view name, const std::vector<ModelProfile>& models) {
  std::unique_ptr<LocalScheduler> scheduler;
  if (name == "coedge") scheduler = std::make_unique<CoedgeScheduler>(models);
  if (name == "edf") scheduler = std::make_unique<EdfScheduler>(models);
  if (name == "fixed") scheduler = std::make_unique<FixedPriorityScheduler>(models);
  if (!scheduler) {
    return Error{ErrorCode::kInvalidInput,
                 "unknown local scheduler '" + std::string(name) +
                     "' (choose one of: coedge, edf, fixed)"};
  }
  return scheduler;
}

}  // namespace coedge
