// Reading the node agent's config file (`coedge node --config NODE.yaml`) into a
// NodeConfig. Every problem is reported as one Error "FILE:LINE: FIELD_PATH: REASON" for
// the first problem in the file, like scenario files; nothing is partially loaded. The
// format is documented in docs/NODE_CONFIG.md. Input paths in the file (models, profile
// set, sensor folders and videos, worker executables, root filesystems) are resolved
// against the file's own folder and checked to exist; output paths (run_dir,
// metrics.jobs) against the current working directory. All paths come back absolute.
// `scheduler` and `backend` are only checked to be non-empty: config does not link the
// policies or the backends, so the app validates those names. yaml-cpp stays behind this
// interface and no exception leaves it. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/node_config.h"
#include "core/result.h"

namespace coedge::config {

// Where a node keeps its run when its config names no run_dir: /var/tmp/coedge-<node>
// (not /tmp: the sandbox gives workers a private /tmp).
inline std::string default_run_dir(const std::string& node) { return "/var/tmp/coedge-" + node; }

// Loads and validates a node config file.
Result<NodeConfig> load_node_config(const std::string& path);

// The same from text; `file_name` is used in messages (and as source_file), `base_dir`
// to resolve the file's relative input paths.
Result<NodeConfig> parse_node_config(const std::string& yaml_text, const std::string& file_name,
                                     const std::string& base_dir);

// `model` takes `profile` (timings, shapes, profile_source) and keeps its own name.
void copy_profile(const ModelProfile& profile, ModelProfile& model);

// Gives every model of `config` its profile from `profiles` (matched by the model's
// name; `coedge node --profiles`) and sets config.profiles to `profile_file`. A model
// the set lacks is an error naming it and what the set has; then nothing is changed.
Status apply_profile_set(NodeConfig& config, const std::vector<ModelProfile>& profiles,
                         const std::string& profile_file);

// A model's labels file: one class name per line, class id = line number - 1 (so line 1
// names class 0). A CR before the newline and spaces or tabs around a name are dropped;
// blank lines at the end are ignored. Errors name FILE:LINE and why: an empty name (a
// blank line before the last name), a control character, text that is not UTF-8, a name
// over kMaxLabelBytes; and for the file: unreadable, no names, more than kMaxLabels names
// or kMaxLabelsBytes of names (all names travel to the task's workers, in the task's
// settings file RUN_DIR/tasks/TASK/coedge-settings, not on their command line). Duplicate names are allowed (some datasets have them).
inline constexpr size_t kMaxLabels = 100000;
inline constexpr size_t kMaxLabelBytes = 200;
inline constexpr size_t kMaxLabelsBytes = 100000;
Result<std::vector<std::string>> load_labels_file(const std::string& path);
// The same from text; `file_name` is used in messages.
Result<std::vector<std::string>> parse_labels(std::string_view text, const std::string& file_name);

// "sandbox" | "process" | "none"; the error lists the choices.
Result<Isolation> parse_isolation(std::string_view text);
std::string_view to_string(Isolation isolation);

// "folder" | "video" | "synthetic" | "stream".
std::string_view to_string(SensorKind kind);

// image_transport's convention: a sensor_msgs/CompressedImage topic's name ends in
// "/compressed" (a topic sensor's default `compressed`; a scenario task's `topic:` rule).
bool is_compressed_topic(std::string_view topic);

}  // namespace coedge::config
