// How every `coedge` subcommand reads its command line, in one voice (issue 18):
//  - parse(): an unknown subcommand or option is named with a "did you mean" (core/text.h)
//    and exits 2; CLI11's other errors are reworded without its internal type names;
//  - the validators below say what a value must be in the user's words ("a whole number
//    from 1 to 100000", "a TCP port from 0 to 65535"), never "UINT:FLOAT in [0 - 4e+18]";
//  - finish() gives every option a type name a user knows (FILE, DIR, DURATION, N, PORT)
//    and makes the options that take several values take one value per occurrence in a
//    subcommand with positional arguments, so that none swallows the scenario file;
//  - optional_value(): an option whose value may be left out (--compare, --compare all)
//    takes the next word only when it is one of its values;
//  - input_path()/output_path(): files and folders named on the command line are checked
//    before anything starts (check_paths()), and a file that cannot be read exits 1.
// Exit codes, the same in every subcommand (README "Exit status", docs/COMMAND_LINE.md):
// 0 ok, 1 an I/O failure, 2 bad input, 3 a run that completed with jobs unaccounted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/result.h"

namespace coedge::app::cli {

// The text of the "Exit status" section, for `coedge --help` and the docs.
std::string exit_status_text();

// The exit code of an expected failure: 1 when a file or folder could not be read or
// written (kIo, kNotFound), else 2 (bad input).
int exit_code_of(const Error& error);

// Prints "coedge COMMAND: MESSAGE" on standard error and returns `code`: how a subcommand
// ends on an error.
int fail(const char* command, int code, const std::string& message);

// Values checked as text before CLI11 converts them, with messages in the user's words.
CLI::Validator whole_number(uint64_t min, uint64_t max);  // "a whole number from 1 to 100000"
CLI::Validator number(double min, double max);            // "a number from 0.05 to 2"
CLI::Validator positive_number(double max);                // "a number more than 0 and up to 100"
CLI::Validator port(bool zero_means_off);                 // "a TCP port from 0 (off) to 65535"
CLI::Validator one_of(std::vector<std::string> values);   // "one of a, b or c", with "did you mean"

// An option whose value may be left out: `--NAME` alone means `default_value`, `--NAME V`
// and `--NAME=V` choose V; a word after --NAME that is not one of `values` is not taken
// (it stays the next argument, e.g. the scenario file). `name` is the long name only.
CLI::Option* optional_value(CLI::App* cmd, const std::string& name, std::string& target,
                            const std::string& default_value, const std::vector<std::string>& values,
                            const std::string& help);

// Paths checked by check_paths() when the option (or positional) was given. An input must
// exist and be readable; an output folder must be a writable folder or creatable; an
// output file's folder likewise ("-", standard output, passes).
// kExecutable: an input file that may also be run (a worker program).
enum class PathKind { kInputFile, kInputDir, kOutputDir, kOutputFile, kExecutable };
void input_path(CLI::Option* option, const std::string& value, PathKind kind = PathKind::kInputFile);
void input_path(CLI::Option* option, const std::vector<std::string>& values);
void output_path(CLI::Option* option, const std::string& value, PathKind kind = PathKind::kOutputDir);

// After every subcommand is added: type names and one value per occurrence (see above);
// the exit status as the main help's footer.
void finish(CLI::App& app);

// Parses the command line; returns the exit code when the program should stop here (help
// or version printed: 0; an error printed: 2), nullopt to run the subcommand.
std::optional<int> parse(CLI::App& app, int argc, char** argv);

// Checks the paths of the parsed subcommand's options (input_path, output_path); prints the
// first problem and returns its exit code (1), or nullopt.
std::optional<int> check_paths(CLI::App& app);

}  // namespace coedge::app::cli
