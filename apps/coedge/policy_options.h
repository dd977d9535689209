// Policy specs given on the command line (--dispatcher, --scheduler, --pairs): parsed once
// with policy_spec.h, with the option's name in every error, and the one-line notice of a
// deprecated name (coedge+, coedge++, coedge-wait) printed to stderr. The help texts of
// those options come from here too, so every subcommand describes them alike.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "policy/policy_spec.h"

namespace coedge::app {

// `option` is the flag as the user typed it, e.g. "--dispatcher", for messages.
Result<policy::DispatcherSpec> dispatcher_option(std::string_view option, const std::string& text);
Result<policy::SchedulerSpec> scheduler_option(std::string_view option, const std::string& text);
// DISPATCHER+SCHEDULER labels, e.g. {"coedge+coedge", "local+edf"}. One item of the old
// form "d/s,d/s" is read too, with a notice.
Result<std::vector<policy::PolicySpec>> pairs_option(std::string_view option,
                                                     const std::vector<std::string>& items);

// "a spec: coedge, local, naive or spread, with options such as coedge:batch-aware
// ('coedge policies' lists them)".
std::string dispatcher_help();
std::string scheduler_help();

}  // namespace coedge::app
