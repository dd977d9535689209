// Model entries and profile-set files: the part of the format that both a scenario and a
// profile set share (name, input_shape, input_bytes, exe_ms, pre, post). Internal to
// src/config; problems go to the caller's `Problems`, nothing throws for bad input.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/yaml_reader.h"
#include "core/result.h"
#include "core/scenario.h"

namespace coedge::config::internal {

struct ProfileSet {
  std::string name;         // the file's `profile_set:`
  std::string path;         // as opened; also each model's profile_source
  std::vector<ModelProfile> models;

  const ModelProfile* find(const std::string& model) const;
  std::vector<std::string> names() const;
};

// One entry of a `models:` list. Either an inline model or a reference into a profile
// file (`from:`, optional `model:`); which one is decided by the presence of `from`.
struct ModelEntry {
  std::optional<std::string> name;  // set whenever the entry has a usable name
  YAML::Mark mark;                  // of the entry, for messages about it as a whole
  std::optional<ModelProfile> model;  // inline and valid: profile_source still unset
  bool is_reference = false;
  bool valid = false;      // no problem in the entry: a reference is worth resolving
  std::string from;        // as written, relative to the scenario
  YAML::Mark from_mark;
  std::string from_path;   // "models[3].from"
  std::string model_name;  // name inside the profile file (defaults to `name`)
  YAML::Mark model_mark;
  std::string model_path;
  std::string source;      // inline `source:`, "" when absent
};

// Reads one `models:` entry at `path`. `allow_reference` is false inside profile sets,
// which must be self-contained.
ModelEntry read_model_entry(const YAML::Node& node, const YAML::Mark& mark,
                            const std::string& path, bool allow_reference,
                            Problems& problems);

// Parses a profile-set document; every model's profile_source is `file_name`.
Result<ProfileSet> parse_profile_set_text(const std::string& text, const std::string& file_name);
Result<ProfileSet> load_profile_set_file(const std::string& path);

// Loads the YAML documents of `text`, or reports a syntax error (or a second document)
// as "FILE:LINE: ..." in `problems`. Returns a null node on failure.
YAML::Node load_document(const std::string& text, Problems& problems);

}  // namespace coedge::config::internal
