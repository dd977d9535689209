// Helpers that read typed values out of yaml-cpp nodes for the config loaders and report
// what is wrong as "FILE:LINE: FIELD_PATH: REASON". Internal to src/config.
//
// A loader reads the whole file and records every problem it meets in a `Problems`;
// only the first one in file order (line, then column, then the order found) is kept and
// shown, so the user fixes the top of the file first and never sees cascades of later,
// derived complaints. Nothing here throws for bad input: yaml-cpp calls that can throw
// are only made on nodes whose type was checked first. Not thread-safe; one per load.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/result.h"
#include "core/text.h"
#include "core/time.h"

namespace coedge::config::internal {

// The first problem in file order, formatted for the user.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  // `mark` is yaml-cpp's (0-based); a null mark (line -1) is reported as line 1.
  void add(const YAML::Mark& mark, std::string_view path, std::string_view reason);
  bool any() const { return has_; }
  // How many problems were added so far (all of them, not only the one kept).
  size_t count() const { return count_; }
  Error error() const;  // REQUIRES: any()
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  bool has_ = false;
  size_t count_ = 0;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

// One key: value pair of a map, in file order.
struct Field {
  std::string key;
  std::string path;  // full field path, e.g. "tasks[2].period"
  YAML::Node key_node;
  YAML::Node value;
  // Where to point for this value: the value itself, or the key when the value is empty.
  YAML::Mark mark() const;
};

// "tasks" + 2 -> "tasks[2]"; "" + "run" -> "run"; "run" + "seed" -> "run.seed".
std::string child_path(std::string_view base, std::string_view key);
std::string index_path(std::string_view base, size_t index);

// The mark of `node`, or `fallback` when the node has none (null nodes).
YAML::Mark mark_or(const YAML::Node& node, const YAML::Mark& fallback);

// "a map", "a list", "nothing", "'text'": what the user wrote, for messages.
std::string describe(const YAML::Node& node);

// The fields of a map in file order.
struct Fields {
  std::vector<Field> list;
  size_t problems_before = 0;  // Problems::count() when the map was first looked at

  std::vector<Field>::const_iterator begin() const { return list.begin(); }
  std::vector<Field>::const_iterator end() const { return list.end(); }
  bool has(std::string_view key) const;
  // Reports `key` as missing from the map at `map_mark` (path `base`.`key`) unless it is
  // present, or the map already had a problem: a wrong or misspelt field further down the
  // same entry says more than "missing" at its top, and the user fixes that first.
  // Call after all of the map's fields were read.
  void require(std::string_view key, const YAML::Mark& map_mark, std::string_view base,
               Problems& problems) const;
};

// Reads the fields of a map. Unknown keys (with a "did you mean" hint) and keys given
// twice are reported and left out. REQUIRES: map.IsMap().
Fields read_fields(const YAML::Node& map, std::string_view path,
                   std::span<const std::string_view> known, Problems& problems);

// Typed readers: on a problem they record it and return nullopt / false.
bool expect_map(const YAML::Node& node, const YAML::Mark& mark, std::string_view path,
                Problems& problems);
bool expect_list(const YAML::Node& node, const YAML::Mark& mark, std::string_view path,
                 Problems& problems);
std::optional<std::string> read_name(const Field& f, Problems& problems);
std::optional<std::string> read_name(const YAML::Node& node, const YAML::Mark& mark,
                                     std::string_view path, Problems& problems);
std::optional<std::string> read_text(const Field& f, Problems& problems);
// An absolute ROS 2 topic name ("/front/image_raw"): '/' then tokens of letters, digits and
// '_' separated by single '/', none starting with a digit, no trailing '/', at most 200
// characters (ROS 2's rules for a fully qualified name, without the ~ and {} substitutions
// a node's own topics use). Empty when `topic` is one, else why not.
std::string ros_topic_problem(std::string_view topic);
// A field holding such a name; a problem names the field, the value and why.
std::optional<std::string> read_ros_topic(const Field& f, Problems& problems);
std::optional<int64_t> read_int(const YAML::Node& node, const YAML::Mark& mark,
                                std::string_view path, Problems& problems);
std::optional<int64_t> read_int(const Field& f, Problems& problems);
std::optional<uint64_t> read_unsigned(const Field& f, Problems& problems);
std::optional<double> read_number(const YAML::Node& node, const YAML::Mark& mark,
                                  std::string_view path, Problems& problems);
std::optional<double> read_number(const Field& f, Problems& problems);
std::optional<bool> read_bool(const Field& f, Problems& problems);
// A task's `priority`: an integer in -1000000..1000000.
std::optional<int64_t> read_priority(const Field& f, Problems& problems);
// A miss-rate fraction (a task's `epsilon`): a number in [0, 1].
std::optional<double> read_fraction(const Field& f, Problems& problems);
// `replicas: N` of a task: an integer in 1..max (the copies are named NAME.1 ... NAME.N).
std::optional<int64_t> read_replicas(const Field& f, Problems& problems, int64_t max);
// The names of a task's copies: NAME itself, or NAME.1 ... NAME.N. Each is recorded in
// `seen` (name -> line) at `line`; a name seen before is reported at `name_field` and
// the result is empty (nothing of the task should be kept).
std::vector<std::string> replica_names(const std::string& name, int64_t replicas, int line,
                                       const Field& name_field,
                                       std::unordered_map<std::string, int>& seen,
                                       Problems& problems);

// Durations: any sign is read; these check the range the field allows.
std::optional<Duration> read_positive_duration(const Field& f, Problems& problems);
std::optional<Duration> read_nonnegative_duration(const Field& f, Problems& problems);
std::optional<Duration> read_duration(const Field& f, Problems& problems);

// Milliseconds as a plain number ("650", "1170.25"), rounded to the microsecond. Decimal
// text is converted exactly so that values the writer prints read back unchanged.
std::optional<Duration> read_ms(const YAML::Node& node, const YAML::Mark& mark,
                                std::string_view path, Problems& problems);

// Milliseconds as the shortest exact decimal: 650ms -> "650", 650125us -> "650.125".
std::string format_ms_number(Duration d);

// The contents of a file, or an Error "PATH: cannot read: <strerror>".
Result<std::string> read_file(const std::string& path);

// Ok when `text` is valid UTF-8 (YAML is Unicode text, and the names in it end up in JSON
// files, whose writers throw on anything else); otherwise an Error naming FILE:LINE:COLUMN
// and the first offending byte. Overlong forms, surrogates and code points above U+10FFFF
// are invalid.
Status check_utf8(std::string_view text, const std::string& file_name);

}  // namespace coedge::config::internal
