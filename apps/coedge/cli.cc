#include "cli.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "commands.h"
#include "core/text.h"

namespace coedge::app::cli {
namespace {

namespace fs = std::filesystem;

struct OptionalValue {
  std::string subcommand, name, default_value;
  std::vector<std::string> values;
};

struct PathCheck {
  CLI::Option* option;
  const std::string* value;                // or
  const std::vector<std::string>* values;  // several
  PathKind kind;
};

// Registered while the subcommands are added (once, single-threaded, before parsing).
std::vector<OptionalValue>& optional_values() {
  static std::vector<OptionalValue> v;
  return v;
}
std::vector<PathCheck>& path_checks() {
  static std::vector<PathCheck> v;
  return v;
}
// Words after an optional-value option that were not taken as its value, for the notes
// of a later error: (option, word).
std::vector<std::pair<std::string, std::string>>& untaken_words() {
  static std::vector<std::pair<std::string, std::string>> v;
  return v;
}

std::string trim_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string or_list(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += i + 1 == values.size() ? " or " : ", ";
    out += "'" + values[i] + "'";
  }
  return out;
}

// The option as the user typed it, or a positional's name.
std::string display_name(const CLI::Option* option) {
  if (!option->get_lnames().empty()) return "--" + option->get_lnames().front();
  if (!option->get_snames().empty()) return "-" + option->get_snames().front();
  return option->get_name();
}

std::string command_name(const CLI::App* sub) {
  return sub == nullptr || sub->get_parent() == nullptr ? "coedge" : "coedge " + sub->get_name();
}

// The notes on words that an optional-value option did not take.
std::string untaken_notes() {
  std::string out;
  for (const auto& [option, word] : untaken_words()) {
    for (const OptionalValue& o : optional_values()) {
      if (o.name != option) continue;
      out += "note: '" + word + "' after " + option + " was not taken as its value: " + option + " takes " +
             or_list(o.values) + " (default '" + o.default_value + "'); write " + option + "=VALUE to be plain\n";
      break;
    }
  }
  return out;
}

int report(const CLI::App* sub, const std::string& message, int code) {
  std::fprintf(stderr, "%s: %s\n%s", command_name(sub).c_str(), message.c_str(), untaken_notes().c_str());
  if (code == kExitBadInput)
    std::fprintf(stderr, "Run '%s --help' for the %s.\n", command_name(sub).c_str(),
                 sub == nullptr || sub->get_parent() == nullptr ? "subcommands" : "options");
  return code;
}

// Every name a subcommand's options answer to, for "did you mean".
std::vector<std::string> option_names(const CLI::App* sub) {
  std::vector<std::string> names;
  for (const CLI::Option* o : sub->get_options()) {
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : o->get_snames()) names.push_back("-" + s);
  }
  return names;
}

std::vector<std::string> subcommand_names(const CLI::App& app, bool listed_only) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (!listed_only || !sub->get_group().empty()) names.push_back(sub->get_name());
  return names;
}

std::string unknown_option_message(const CLI::App* sub, const std::string& arg) {
  const std::string word = arg.substr(0, arg.find('='));
  std::string message = "unknown option '" + word + "'";
  const std::vector<std::string> names = option_names(sub);
  if (const std::string guess = closest(word, names); !guess.empty()) message += "; did you mean '" + guess + "'?";
  return message;
}

// CLI11's messages, in our words; its type names (TEXT, UINT) are not the user's.
// A positional's name as help and usage lines write it: run_dir -> RUN_DIR.
std::string upper_name(std::string name) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::string reword(const CLI::ParseError& e) {
  const std::string what = e.what();
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    const std::string name = what.substr(0, what.find(" is required"));
    if (name.rfind("-", 0) != 0 && what.find(" is required") != std::string::npos)
      return "missing the " + upper_name(name) + " argument";
    return what;
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    if (const auto colon = what.find(": "); colon != std::string::npos && what.find(" required ") != std::string::npos)
      return what.substr(0, colon) + " needs a value";
    return what;
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e) != nullptr) {
    // "The value X is not an allowed value for NAME", "Could not convert: NAME = X".
    if (auto at = what.find(" is not an allowed value for "); at != std::string::npos && what.rfind("The value ", 0) == 0)
      return what.substr(at + 29) + ": '" + what.substr(10, at - 10) + "' is not a valid value";
    if (what.rfind("Could not convert: ", 0) == 0) {
      const std::string rest = what.substr(19);
      const auto eq = rest.find(" = ");
      if (eq != std::string::npos) return rest.substr(0, eq) + ": '" + rest.substr(eq + 3) + "' is not a valid value";
    }
    return what;
  }
  return what;
}

// The user's name for the kind of value an option takes, by its long name (or a
// positional's name); a subcommand may say otherwise ("city --out" is a file).
std::string type_name_for(const std::string& sub, const std::string& name, const std::string& cli11_type) {
  static const std::map<std::string, std::string> by_subcommand = {
      {"city out", "FILE"},        {"profile out", "FILE"},      {"sweep nodes", "N,N,..."},
      {"sweep loads", "LOAD,..."}, {"sweep bandwidths", "MBPS,..."}, {"city nodes", "N"},
      {"explain task", "TASK"},    {"profile models", "MODEL.onnx"}, {"keys action", "ACTION"},
      {"keys dir", "DIR"},         {"keys identity", "ROLE [NAME]"}};
  static const std::map<std::string, std::string> by_name = {
      {"duration", "DURATION"},    {"window", "DURATION"},        {"plan-lead", "DURATION"},
      {"wait-for-nodes", "DURATION"}, {"probe-every", "DURATION"}, {"crash-every", "DURATION"},
      {"crash-for", "DURATION"},   {"restart-backoff-max", "DURATION"}, {"triton-max-queue-delay", "DURATION"},
      {"triton-timeout", "DURATION|none"}, {"seed", "N"},         {"seeds", "N"},
      {"tasks", "N"},              {"runs", "N"},                 {"warmup", "N"},
      {"threads", "N"},            {"backend-threads", "N"},      {"load", "LOAD"},
      {"hotspot-share", "FRACTION"}, {"hotspot-weight", "TIMES"}, {"node-cores", "CORES"},
      {"domain", "ID"},            {"metrics-port", "PORT"},      {"probe-port", "PORT"},
      {"dispatcher", "SPEC"},      {"scheduler", "SPEC"},         {"pairs", "PAIR"},
      {"scenario", "FILE"},        {"profiles", "FILE"},          {"config", "FILE"},
      {"jobs", "FILE"},            {"summary", "FILE"},           {"worker", "FILE"},
      {"out", "DIR"},              {"run-dir", "DIR"},            {"models-dir", "DIR"},
      {"frames", "DIR"},           {"run_dir", "DIR"},            {"name", "NAME"},
      {"node", "NODE"},            {"isolation", "MODE"},         {"crash-target", "WHAT"},
      {"backend", "NAME"},         {"batch", "B|LO-HI"},          {"kill", "NODE@TIME"},
      {"peer", "NODE=ADDRESS"},    {"dds-peer", "ADDRESS"},       {"dds-interface", "ADDRESS"},
      {"prefix", "NAME"},          {"config-digest", "HEX"},      {"triton-preferred", "SIZES"},
      {"metrics-address", "ADDRESS"}, {"metrics-linger", "DURATION"}};
  if (auto it = by_subcommand.find(sub + " " + name); it != by_subcommand.end()) return it->second;
  if (auto it = by_name.find(name); it != by_name.end()) return it->second;
  if (cli11_type == "INT" || cli11_type == "UINT") return "N";
  if (cli11_type == "FLOAT") return "NUMBER";
  return "VALUE";
}

void rewrite_optional_values(std::vector<std::string>& args, const CLI::App& app) {
  const std::vector<std::string> subs = subcommand_names(app, false);
  std::string sub;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return;
    if (sub.empty()) {
      if (!a.empty() && a[0] != '-') sub = a;
      continue;
    }
    for (const OptionalValue& o : optional_values()) {
      if (o.subcommand != sub || a != o.name) continue;
      const bool next_is_value = i + 1 < args.size() &&
                                 std::find(o.values.begin(), o.values.end(), args[i + 1]) != o.values.end();
      if (next_is_value) break;
      if (i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-')
        untaken_words().emplace_back(o.name, args[i + 1]);
      args[i] = o.name + "=" + o.default_value;
      break;
    }
  }
}

Status check_path(const std::string& value, PathKind kind) {
  std::error_code ec;
  const fs::path p(value);
  switch (kind) {
    case PathKind::kInputFile:
    case PathKind::kExecutable:
    case PathKind::kInputDir: {
      const auto status = fs::status(p, ec);
      if (!fs::exists(status)) return Error{ErrorCode::kNotFound, "'" + value + "' does not exist"};
      const bool want_dir = kind == PathKind::kInputDir;
      if (want_dir && !fs::is_directory(status)) return Error{ErrorCode::kIo, "'" + value + "' is not a folder"};
      if (!want_dir && fs::is_directory(status))
        return Error{ErrorCode::kIo, "'" + value + "' is a folder, not a file"};
      if (::access(value.c_str(), want_dir ? (R_OK | X_OK) : R_OK) != 0)
        return Error{ErrorCode::kIo, "cannot read '" + value + "': " + std::strerror(errno)};
      if (kind == PathKind::kExecutable && ::access(value.c_str(), X_OK) != 0)
        return Error{ErrorCode::kIo, "'" + value + "' is not executable: " + std::strerror(errno)};
      return Ok{};
    }
    case PathKind::kOutputFile: {
      if (value == "-") return Ok{};
      if (fs::is_directory(p, ec)) return Error{ErrorCode::kIo, "'" + value + "' is a folder, not a file"};
      if (fs::exists(p, ec) && ::access(value.c_str(), W_OK) != 0)
        return Error{ErrorCode::kIo, "cannot write '" + value + "': " + std::strerror(errno)};
      const fs::path parent = p.parent_path();
      if (Status st = check_path(parent.empty() ? "." : parent.string(), PathKind::kOutputDir); !st.ok())
        return Error{st.error().code, "cannot write '" + value + "': " + st.error().message};
      return Ok{};
    }
    case PathKind::kOutputDir: {
      if (fs::exists(p, ec)) {
        if (!fs::is_directory(p, ec)) return Error{ErrorCode::kIo, "'" + value + "' is a file, not a folder"};
        if (::access(value.c_str(), W_OK | X_OK) != 0)
          return Error{ErrorCode::kIo, "cannot write in folder '" + value + "': " + std::strerror(errno)};
        return Ok{};
      }
      // The nearest folder that exists must let us create the rest.
      fs::path ancestor = p.parent_path();
      while (!ancestor.empty() && !fs::exists(ancestor, ec)) ancestor = ancestor.parent_path();
      const std::string a = ancestor.empty() ? "." : ancestor.string();
      if (!fs::is_directory(a, ec))
        return Error{ErrorCode::kIo, "cannot create folder '" + value + "': '" + a + "' is a file"};
      if (::access(a.c_str(), W_OK | X_OK) != 0)
        return Error{ErrorCode::kIo, "cannot create folder '" + value + "' in '" + a + "': " + std::strerror(errno)};
      return Ok{};
    }
  }
  return Ok{};
}

// Parses a whole number written plainly ("42", no sign, no exponent); nullopt otherwise.
std::optional<uint64_t> parse_whole(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<uint64_t>(v);
}

}  // namespace

std::string exit_status_text() {
  return "Exit status (every subcommand):\n"
         "  0  success\n"
         "  1  an I/O failure: a file or folder that cannot be read or written, a run that failed\n"
         "  2  bad input: an unknown subcommand or option, a bad value, an invalid scenario or config\n"
         "  3  a run that completed with jobs unaccounted for (node, master, cluster, demo)";
}

int exit_code_of(const Error& error) {
  return error.code == ErrorCode::kIo || error.code == ErrorCode::kNotFound ? kExitFailure : kExitBadInput;
}

int fail(const char* command, int code, const std::string& message) {
  std::fprintf(stderr, "coedge %s: %s\n", command, message.c_str());
  return code;
}

CLI::Validator whole_number(uint64_t min, uint64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const auto v = parse_whole(text);
        if (!v || *v < min || *v > max) {
          const std::string range = max == UINT64_MAX ? "a whole number, " + std::to_string(min) + " or more"
                                                      : "a whole number from " + std::to_string(min) + " to " +
                                                            std::to_string(max);
          return "expected " + range + ", got " + coedge::quoted(text);
        }
        return {};
      },
      "");
}

namespace {

// A number in [min, max], or in (0, max] when `above_zero`.
CLI::Validator number_check(double min, double max, bool above_zero) {
  return CLI::Validator(
      [min, max, above_zero](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v) ||
            (above_zero ? v <= 0 : v < min) || v > max)
          return (above_zero ? "expected a number more than 0 and up to " + trim_number(max)
                             : "expected a number from " + trim_number(min) + " to " + trim_number(max)) +
                 ", got " + coedge::quoted(text);
        return {};
      },
      "");
}

}  // namespace

CLI::Validator number(double min, double max) { return number_check(min, max, false); }
CLI::Validator positive_number(double max) { return number_check(0, max, true); }

CLI::Validator port(bool zero_means_off) {
  return CLI::Validator(
      [zero_means_off](std::string& text) -> std::string {
        const auto v = parse_whole(text);
        if (!v || *v > 65535 || (!zero_means_off && *v == 0))
          return std::string("expected a TCP port from ") + (zero_means_off ? "0 (off)" : "1") + " to 65535, got " +
                 coedge::quoted(text);
        return {};
      },
      "");
}

CLI::Validator one_of(std::vector<std::string> values) {
  return CLI::Validator(
      [values](std::string& text) -> std::string {
        if (std::find(values.begin(), values.end(), text) != values.end()) return {};
        std::string message = "expected " + or_list(values) + ", got " + coedge::quoted(text);
        if (const std::string guess = closest(text, values); !guess.empty())
          message += "; did you mean '" + guess + "'?";
        return message;
      },
      "");
}

CLI::Option* optional_value(CLI::App* cmd, const std::string& name, std::string& target,
                            const std::string& default_value, const std::vector<std::string>& values,
                            const std::string& help) {
  optional_values().push_back({cmd->get_name(), name, default_value, values});
  std::string type = "[";
  for (size_t i = 0; i < values.size(); ++i) type += (i ? "|" : "") + values[i];
  type += "]";
  return cmd->add_option(name, target,
                         help + ". The value is optional: a word after " + name + " other than " + or_list(values) +
                             " is the next argument, not its value")
      ->expected(0, 1)
      ->type_name(type)
      ->check(one_of(values));
}

void input_path(CLI::Option* option, const std::string& value, PathKind kind) {
  path_checks().push_back({option, &value, nullptr, kind});
}
void input_path(CLI::Option* option, const std::vector<std::string>& values) {
  path_checks().push_back({option, nullptr, &values, PathKind::kInputFile});
}
void output_path(CLI::Option* option, const std::string& value, PathKind kind) {
  path_checks().push_back({option, &value, nullptr, kind});
}

void finish(CLI::App& app) {
  app.footer(exit_status_text() + "\n(docs/COMMAND_LINE.md: exit status, --json, --progress)");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    bool has_positional = false;
    for (CLI::Option* o : sub->get_options()) has_positional |= o->get_lnames().empty() && o->get_snames().empty();
    for (CLI::Option* o : sub->get_options()) {
      if (o->get_expected_max() == 0 || o->get_name() == "--help" || o->get_lnames() == std::vector<std::string>{"help"})
        continue;  // a flag
      const bool positional = o->get_lnames().empty() && o->get_snames().empty();
      const std::string key = positional ? o->get_name() : (o->get_lnames().empty() ? o->get_snames().front()
                                                                                     : o->get_lnames().front());
      const std::string current = o->get_type_name();
      if (current.empty() || current.front() != '[')  // optional_value() named its own
        o->type_name(type_name_for(sub->get_name(), key, current));
      // An option of several values (repeat it, or commas where it has a delimiter) takes
      // one per occurrence here, so that it cannot take the positional argument as well.
      if (has_positional && !positional && o->get_expected_max() > 1) o->allow_extra_args(false);
    }
  }
}

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // An unknown subcommand: CLI11 would say "A subcommand is required", or print the main
  // help for `coedge calibrate --help` and exit 0.
  if (!args.empty() && !args.front().empty() && args.front()[0] != '-') {
    const std::vector<std::string> all = subcommand_names(app, false);
    if (std::find(all.begin(), all.end(), args.front()) == all.end()) {
      const std::vector<std::string> listed = subcommand_names(app, true);
      std::string message = "unknown subcommand " + coedge::quoted(args.front());
      if (const std::string guess = closest(args.front(), listed); !guess.empty())
        message += "; did you mean '" + guess + "'?";
      else
        message += " (subcommands: " + known_list(listed, 20) + ")";
      return report(nullptr, message, kExitBadInput);
    }
  }
  rewrite_optional_values(args, app);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::vector<CLI::App*> parsed = app.get_subcommands();
    const CLI::App* sub = parsed.empty() ? nullptr : parsed.front();
    // Unknown options first, the main program's too (`coedge --verison`): they are the
    // likely cause of any other complaint, a missing subcommand included.
    for (const CLI::App* scope : {sub, static_cast<const CLI::App*>(&app)}) {
      if (scope == nullptr) continue;
      for (const std::string& extra : scope->remaining())
        if (extra.size() > 1 && extra[0] == '-') return report(scope, unknown_option_message(scope, extra), kExitBadInput);
    }
    if (sub == nullptr && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr)
      return report(nullptr, "give a subcommand: " + known_list(subcommand_names(app, true), 20), kExitBadInput);
    for (const CLI::App* scope : {sub, static_cast<const CLI::App*>(&app)}) {
      if (scope == nullptr) continue;
      for (const std::string& extra : scope->remaining())
        return report(scope, "unexpected argument " + coedge::quoted(extra), kExitBadInput);
    }
    return report(sub, reword(e), kExitBadInput);
  }
  return std::nullopt;
}

std::optional<int> check_paths(CLI::App& app) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  const CLI::App* sub = parsed.empty() ? nullptr : parsed.front();
  for (const PathCheck& c : path_checks()) {
    if (c.option->count() == 0) continue;  // not given: a default is the subcommand's to resolve
    std::vector<std::string> values;
    if (c.value != nullptr) values.push_back(*c.value);
    if (c.values != nullptr) values = *c.values;
    for (const std::string& v : values) {
      if (v.empty()) continue;
      if (Status st = check_path(v, c.kind); !st.ok())
        return report(sub, display_name(c.option) + ": " + st.error().message, kExitFailure);
    }
  }
  return std::nullopt;
}

}  // namespace coedge::app::cli
