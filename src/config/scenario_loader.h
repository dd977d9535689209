// Reading scenario and profile-set files (YAML). Every problem is reported as one Error
// whose message names the file, the line, the field and the reason; nothing is partially
// loaded. The format is documented in docs/SCENARIO_FORMAT.md. Scenario.models holds the
// file's `models:` entries in order, then the profile-set models that tasks use. yaml-cpp
// stays behind this interface and no exception leaves it. Thread-safe (no shared state).
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"

namespace coedge::config {

// Loads and validates a scenario file. Relative paths inside it (profile sets) are
// resolved against the file's own folder.
Result<Scenario> load_scenario(const std::string& path);

// The same from text; `file_name` is used in messages, `base_dir` to resolve paths.
Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& file_name,
                                const std::string& base_dir);

// Loads a profile-set file: the models it profiles.
Result<std::vector<ModelProfile>> load_profile_set(const std::string& path);

// The profile of each of `models` in `profiles`, matched by name (in the order of
// `models`). A model the set lacks is an error: "<profile_file>: has no profile for model
// 'M' <whose> (it has: ...)<hint>".
Result<std::vector<const ModelProfile*>> match_profiles(const std::vector<ModelProfile>& models,
                                                        const std::vector<ModelProfile>& profiles,
                                                        const std::string& profile_file, const std::string& whose,
                                                        const std::string& hint = "");

// Replaces the timing (exe_time, pre_time, post_time, profile_source) of every model of
// `scenario` that `profiles` has under the same name. Models it lacks are an error, so a
// run never mixes two machines' numbers without saying so.
Status apply_profile_set(Scenario& scenario, const std::vector<ModelProfile>& profiles,
                         const std::string& profile_file);

// "1.3s", "700ms", "250us", "2min", "1h". A bare number is an error: units are required.
Result<Duration> parse_duration(const std::string& text);

}  // namespace coedge::config
