#include "policy_options.h"

#include <cstdio>

namespace coedge::app {
namespace {

void print_notice(const std::string& notice) {
  std::fprintf(stderr, "coedge: note: %s\n", notice.c_str());
}

template <typename Spec>
Result<Spec> spec_option(std::string_view option, const std::string& text) {
  std::string notice;
  auto spec = Spec::parse(text, &notice);
  if (!spec.ok()) return Error{spec.error().code, std::string(option) + ": " + spec.error().message};
  if (!notice.empty()) print_notice(std::string(option) + ": " + notice);
  return spec;
}

}  // namespace

Result<policy::DispatcherSpec> dispatcher_option(std::string_view option, const std::string& text) {
  return spec_option<policy::DispatcherSpec>(option, text);
}

Result<policy::SchedulerSpec> scheduler_option(std::string_view option, const std::string& text) {
  return spec_option<policy::SchedulerSpec>(option, text);
}

Result<std::vector<policy::PolicySpec>> pairs_option(std::string_view option,
                                                     const std::vector<std::string>& items) {
  std::vector<std::string> labels;
  for (const std::string& item : items) {
    if (item.find('/') == std::string::npos) {
      labels.push_back(item);
      continue;
    }
    // The form of earlier releases: "d/s,d/s". No spec contains '/', so it is unambiguous.
    print_notice(std::string(option) + ": '" + item + "' uses the old DISPATCHER/SCHEDULER form; " +
                 "pairs now read DISPATCHER" + policy::kPairSeparator + "SCHEDULER, one per word");
    size_t start = 0;
    while (start <= item.size()) {
      const size_t comma = std::min(item.find(',', start), item.size());
      std::string one = item.substr(start, comma - start);
      const size_t slash = one.find('/');
      if (slash == std::string::npos)
        return Error{ErrorCode::kInvalidInput,
                     std::string(option) + ": '" + one + "' is not DISPATCHER/SCHEDULER"};
      one[slash] = policy::kPairSeparator;
      labels.push_back(one);
      start = comma + 1;
    }
  }
  std::vector<policy::PolicySpec> pairs;
  for (const std::string& label : labels) {
    std::vector<std::string> notices;
    auto pair = policy::PolicySpec::parse(label, &notices);
    if (!pair.ok()) return Error{pair.error().code, std::string(option) + ": " + pair.error().message};
    for (const std::string& n : notices) print_notice(std::string(option) + ": " + n);
    pairs.push_back(std::move(pair.value()));
  }
  if (pairs.empty()) return Error{ErrorCode::kInvalidInput, std::string(option) + ": no policy pair given"};
  return pairs;
}

std::string dispatcher_help() {
  return "a dispatcher spec: " + policy::base_names(policy::PolicyRole::kDispatcher) +
         ", with options such as coedge:batch-aware,useful-evictions ('coedge policies' lists them)";
}

std::string scheduler_help() {
  return "a local scheduler spec: " + policy::base_names(policy::PolicyRole::kScheduler) +
         ", with options such as triton:preferred=4,8 ('coedge policies' lists them)";
}

}  // namespace coedge::app
