// Typed readers over yaml-cpp nodes; see yaml_reader.h for the contract.
#include "config/yaml_reader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace coedge::config::internal {
namespace {

std::string got(const YAML::Node& node) { return ", got " + describe(node); }

bool is_scalar(const YAML::Node& node) { return node.IsDefined() && node.IsScalar(); }

}  // namespace

void Problems::add(const YAML::Mark& mark, std::string_view path, std::string_view reason) {
  const int line = mark.is_null() ? 1 : mark.line + 1;
  const int column = mark.is_null() ? 0 : mark.column;
  // Keep the earliest; on a tie the one found first (so a message about a whole entry
  // wins over one about a value further along the same line only if found first).
  ++count_;
  if (has_ && (line > line_ || (line == line_ && column >= column_))) return;
  has_ = true;
  line_ = line;
  column_ = column;
  message_ = file_ + ":" + std::to_string(line) + ": ";
  if (!path.empty()) message_ += std::string(path) + ": ";
  message_ += reason;
}

Error Problems::error() const { return Error{ErrorCode::kInvalidInput, message_}; }

YAML::Mark Field::mark() const { return mark_or(value, key_node.Mark()); }

std::string child_path(std::string_view base, std::string_view key) {
  if (base.empty()) return std::string(key);
  std::string path;
  path.reserve(base.size() + 1 + key.size());
  path.append(base).append(".").append(key);
  return path;
}

std::string index_path(std::string_view base, size_t index) {
  return std::string(base) + "[" + std::to_string(index) + "]";
}

YAML::Mark mark_or(const YAML::Node& node, const YAML::Mark& fallback) {
  // yaml-cpp gives an empty value the position of whatever follows it (often the next
  // line), which would point the user at the wrong line.
  if (!node.IsDefined() || node.IsNull()) return fallback;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  // Qualified: std::quoted is found by argument-dependent lookup where <iomanip> is in.
  return coedge::quoted(node.Scalar());
}

Fields read_fields(const YAML::Node& map, std::string_view path,
                   std::span<const std::string_view> known, Problems& problems) {
  Fields result;
  result.problems_before = problems.count();
  std::vector<Field>& fields = result.list;
  fields.reserve(map.size());
  // By value: yaml-cpp's iterators hand out temporaries (`it->first` would dangle).
  for (const auto& pair : map) {
    const YAML::Node key = pair.first;
    if (!is_scalar(key)) {
      problems.add(mark_or(key, map.Mark()), path,
                   "field names must be plain words, got " + describe(key) + " as a key");
      continue;
    }
    Field f{key.Scalar(), child_path(path, key.Scalar()), key, pair.second};
    if (std::find(known.begin(), known.end(), f.key) == known.end()) {
      std::vector<std::string> candidates(known.begin(), known.end());
      const std::string hint = closest(f.key, candidates);
      problems.add(key.Mark(), f.path,
                   hint.empty() ? "unknown field (known: " + known_list(candidates, 99) + ")"
                                : "unknown field; did you mean '" + hint + "'?");
      continue;
    }
    auto twin = std::find_if(fields.begin(), fields.end(),
                             [&](const Field& g) { return g.key == f.key; });
    if (twin != fields.end()) {
      problems.add(key.Mark(), f.path,
                   "given twice (first at line " +
                       std::to_string(twin->key_node.Mark().line + 1) + ")");
      continue;
    }
    fields.push_back(std::move(f));
  }
  return result;
}

bool Fields::has(std::string_view key) const {
  return std::any_of(list.begin(), list.end(), [&](const Field& f) { return f.key == key; });
}

void Fields::require(std::string_view key, const YAML::Mark& map_mark, std::string_view base,
                     Problems& problems) const {
  if (has(key) || problems.count() > problems_before) return;
  problems.add(map_mark, child_path(base, key), "missing required field");
}

bool expect_map(const YAML::Node& node, const YAML::Mark& mark, std::string_view path,
                Problems& problems) {
  if (node.IsDefined() && node.IsMap()) return true;
  problems.add(mark, path, "expected a map (field: value lines)" + got(node));
  return false;
}

bool expect_list(const YAML::Node& node, const YAML::Mark& mark, std::string_view path,
                 Problems& problems) {
  if (node.IsDefined() && node.IsSequence()) return true;
  problems.add(mark, path, "expected a list" + got(node));
  return false;
}

std::optional<std::string> read_name(const YAML::Node& node, const YAML::Mark& mark,
                                     std::string_view path, Problems& problems) {
  if (!is_scalar(node)) {
    problems.add(mark, path, "expected a name" + got(node));
    return std::nullopt;
  }
  if (node.Scalar().empty()) {
    problems.add(mark, path, "must not be empty");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::string> read_name(const Field& f, Problems& problems) {
  return read_name(f.value, f.mark(), f.path, problems);
}

std::optional<std::string> read_text(const Field& f, Problems& problems) {
  if (f.value.IsDefined() && f.value.IsNull()) return std::string();
  if (!is_scalar(f.value)) {
    problems.add(f.mark(), f.path, "expected text" + got(f.value));
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::string ros_topic_problem(std::string_view topic) {
  if (topic.empty() || topic.front() != '/') return "must be an absolute ROS 2 topic, starting with '/'";
  if (topic.size() == 1 || topic.back() == '/') return "must not end with '/'";
  bool token_start = true;
  for (char c : topic.substr(1)) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (c == '/') {
      if (token_start) return "must not contain '//'";
      token_start = true;
      continue;
    }
    if (!word) return std::string("may hold only letters, digits, '_' and '/', not '") + c + "'";
    if (token_start && c >= '0' && c <= '9') return "a name between '/' must not start with a digit";
    token_start = false;
  }
  if (topic.size() > 200) return "is longer than 200 characters";
  return "";
}

std::optional<std::string> read_ros_topic(const Field& f, Problems& problems) {
  std::optional<std::string> text = read_name(f, problems);
  if (!text) return std::nullopt;
  if (const std::string why = ros_topic_problem(*text); !why.empty()) {
    problems.add(f.mark(), f.path, why + got(f.value) + " (e.g. /camera/image_raw)");
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> read_int(const YAML::Node& node, const YAML::Mark& mark,
                                std::string_view path, Problems& problems) {
  if (is_scalar(node)) {
    std::string_view text = node.Scalar();
    if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) return value;
    if (ec == std::errc::result_out_of_range) {
      problems.add(mark, path, "is too large" + got(node));
      return std::nullopt;
    }
  }
  problems.add(mark, path, "expected a whole number" + got(node));
  return std::nullopt;
}

std::optional<int64_t> read_int(const Field& f, Problems& problems) {
  return read_int(f.value, f.mark(), f.path, problems);
}

std::optional<uint64_t> read_unsigned(const Field& f, Problems& problems) {
  if (is_scalar(f.value)) {
    std::string_view text = f.value.Scalar();
    if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) return value;
  }
  problems.add(f.mark(), f.path,
               "expected a whole number from 0 to 18446744073709551615" + got(f.value));
  return std::nullopt;
}

std::optional<double> read_number(const YAML::Node& node, const YAML::Mark& mark,
                                  std::string_view path, Problems& problems) {
  if (is_scalar(node)) {
    std::string_view text = node.Scalar();
    if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(value))
      return value;
  }
  problems.add(mark, path, "expected a number" + got(node));
  return std::nullopt;
}

std::optional<double> read_number(const Field& f, Problems& problems) {
  return read_number(f.value, f.mark(), f.path, problems);
}

std::optional<bool> read_bool(const Field& f, Problems& problems) {
  if (is_scalar(f.value)) {
    const std::string& t = f.value.Scalar();
    // YAML 1.2's core schema; "yes"/"on" are YAML 1.1 and surprise people.
    if (t == "true" || t == "True" || t == "TRUE") return true;
    if (t == "false" || t == "False" || t == "FALSE") return false;
  }
  problems.add(f.mark(), f.path, "expected true or false" + got(f.value));
  return std::nullopt;
}

std::optional<Duration> read_duration(const Field& f, Problems& problems) {
  if (!is_scalar(f.value)) {
    problems.add(f.mark(), f.path, "expected a duration such as '700ms'" + got(f.value));
    return std::nullopt;
  }
  Result<Duration> d = parse_signed_duration(f.value.Scalar());
  if (!d) {
    problems.add(f.mark(), f.path, d.error().message + got(f.value));
    return std::nullopt;
  }
  return *d;
}

std::optional<Duration> read_positive_duration(const Field& f, Problems& problems) {
  std::optional<Duration> d = read_duration(f, problems);
  if (d && d->count() <= 0) {
    problems.add(f.mark(), f.path, "must be positive" + got(f.value));
    return std::nullopt;
  }
  return d;
}

std::optional<Duration> read_nonnegative_duration(const Field& f, Problems& problems) {
  std::optional<Duration> d = read_duration(f, problems);
  if (d && d->count() < 0) {
    problems.add(f.mark(), f.path, "must not be negative" + got(f.value));
    return std::nullopt;
  }
  return d;
}

std::optional<Duration> read_ms(const YAML::Node& node, const YAML::Mark& mark,
                                std::string_view path, Problems& problems) {
  if (is_scalar(node)) {
    const std::string& text = node.Scalar();
    if (is_plain_decimal(text)) {
      if (std::optional<Duration> ms = parse_plain_ms(text)) return *ms;
      problems.add(mark, path, "is too large" + got(node));
      return std::nullopt;
    }
    // Exponent forms ("6.5e2") are valid YAML numbers; convert them through double.
    std::optional<double> ms = read_number(node, mark, path, problems);
    if (!ms) return std::nullopt;
    if (std::abs(*ms) > 1e12) {
      problems.add(mark, path, "is too large" + got(node));
      return std::nullopt;
    }
    return from_ms(*ms);
  }
  problems.add(mark, path, "expected a number of milliseconds" + got(node));
  return std::nullopt;
}

std::string format_ms_number(Duration d) {
  const int64_t us = d.count();
  const uint64_t mag = us < 0 ? 0 - static_cast<uint64_t>(us) : static_cast<uint64_t>(us);
  std::string out = (us < 0 ? "-" : "") + std::to_string(mag / 1000);
  if (uint64_t frac = mag % 1000; frac != 0) {
    char digits[4];
    std::snprintf(digits, sizeof digits, "%03u", static_cast<unsigned>(frac));
    std::string_view f(digits, 3);
    while (f.back() == '0') f.remove_suffix(1);
    out.append(".").append(f);
  }
  return out;
}

Status check_utf8(std::string_view text, const std::string& file_name) {
  size_t line = 1, line_start = 0, i = 0;
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  while (i < text.size()) {
    const unsigned char c = b[i];
    size_t n = 0;  // continuation bytes
    uint32_t min = 0, cp = 0;
    if (c < 0x80) {
      if (c == '\n') {
        ++line;
        line_start = i + 1;
      }
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, min = 0x10000, cp = c & 0x07;
    }
    bool ok = n > 0;  // 0x80-0xBF lead bytes and 0xF8-0xFF are never valid
    for (size_t k = 1; ok && k <= n; ++k) {
      if (i + k >= text.size() || (b[i + k] & 0xC0) != 0x80)
        ok = false;
      else
        cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    if (!ok || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", c);
      return Error{ErrorCode::kInvalidInput, file_name + ":" + std::to_string(line) + ":" +
                                                 std::to_string(i - line_start + 1) + ": not UTF-8 text (byte " + byte +
                                                 "); save the file as UTF-8"};
    }
    i += n + 1;
  }
  return Ok{};
}

Result<std::string> read_file(const std::string& path) {
  auto io_error = [&](int err) {
    return Error{ErrorCode::kIo, path + ": cannot read: " + std::strerror(err)};
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return io_error(errno);
  std::string text;
  char buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) return io_error(err);
  return text;
}

std::vector<std::string> replica_names(const std::string& name, int64_t replicas, int line,
                                       const Field& name_field,
                                       std::unordered_map<std::string, int>& seen,
                                       Problems& problems) {
  std::vector<std::string> names;
  for (int64_t r = 1; r <= replicas; ++r) {
    std::string copy = replicas == 1 ? name : name + "." + std::to_string(r);
    auto [it, fresh] = seen.emplace(copy, line);
    if (!fresh) {
      problems.add(name_field.mark(), name_field.path,
                   "duplicate task name '" + copy + "' (first at line " + std::to_string(it->second) +
                       ")" + (replicas > 1 ? "; replicas: N names the copies NAME.1 ... NAME.N" : ""));
      return {};
    }
    names.push_back(std::move(copy));
  }
  return names;
}

std::optional<int64_t> read_priority(const Field& f, Problems& problems) {
  std::optional<int64_t> p = read_int(f, problems);
  if (p && (*p < -1'000'000 || *p > 1'000'000)) {
    problems.add(f.mark(), f.path, "must be between -1000000 and 1000000, got " + describe(f.value));
    p.reset();
  }
  return p;
}

std::optional<double> read_fraction(const Field& f, Problems& problems) {
  std::optional<double> e = read_number(f, problems);
  if (e && (*e < 0 || *e > 1)) {
    problems.add(f.mark(), f.path, "must be a miss-rate fraction in [0, 1], got " + describe(f.value));
    e.reset();
  }
  return e;
}

std::optional<int64_t> read_replicas(const Field& f, Problems& problems, int64_t max) {
  std::optional<int64_t> r = read_int(f, problems);
  if (r && (*r < 1 || *r > max)) {
    problems.add(f.mark(), f.path,
                 "must be at least 1 (and at most " + std::to_string(max) + "), got " +
                     describe(f.value));
    r.reset();
  }
  return r;
}

}  // namespace coedge::config::internal
