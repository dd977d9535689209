// Writing a Scenario back out as a scenario file. The output is self-contained (every
// model inline, every link and every task field explicit, no profile-set reference) and
// deterministic: the same Scenario always gives the same bytes. load_scenario or
// parse_scenario read it back to an equal Scenario, exact to the microsecond, except
// source_file (the path it is read from) and an empty profile_source (read back as
// "inline"). Used by scenario generators for large fleets, so it builds the text directly
// instead of through a YAML emitter: 10,000 nodes and 100,000 tasks take well under a
// second. Pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/scenario.h"

namespace coedge::config {

// REQUIRES: `scenario` is valid as the loader would accept it (indices in range, names
// unique and non-empty, positive periods and link bandwidths, and so on).
std::string write_scenario_yaml(const Scenario& scenario);

// A profile-set file, as load_profile_set reads it, holding `models` (their timings,
// shapes and sizes; profile_source is not written). Each line of `notes` becomes a
// comment line at the top. REQUIRES: valid models, as for write_scenario_yaml.
std::string write_profile_set_yaml(const std::string& set_name, const std::string& description,
                                   const std::vector<ModelProfile>& models,
                                   const std::string& notes);

}  // namespace coedge::config
