// Running an external program (ip, tc) to completion from an argv — never through a shell — and capturing
// its exit status, stdout and stderr, optionally feeding it stdin (for `ip -batch -`). The
// program is looked up in PATH, then in /usr/sbin, /sbin, /usr/bin and /bin (ip and tc live in
// /usr/sbin, which a non-login PATH may lack). Thread-safe: no global state, every descriptor
// we open is close-on-exec, so concurrent runs never inherit each other's pipes. The child
// is started by os::spawn (default signal dispositions, empty mask, 0-2 only). A program still running
// after the timeout is killed (SIGKILL) and reported as an error. Caveat: a SIGCHLD handler
// elsewhere in the process that reaps every child (waitpid(-1)) would steal the status.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge::os {

struct CommandResult {
  int exit_code = -1;  // the program's exit status; -1 when it was killed by a signal
  int term_signal = 0;  // the signal that killed it, 0 when it exited
  std::string out;
  std::string err;
  bool succeeded() const { return term_signal == 0 && exit_code == 0; }
};

struct CommandOptions {
  std::string input;  // written to the program's stdin, which is then closed
  Duration timeout = std::chrono::seconds(30);
};

// Runs argv[0] (looked up as described above) with argv. An error only when the program could
// not be found or started, or timed out; a non-zero exit status is a CommandResult.
Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                  const CommandOptions& options = {});

// run_command that also requires exit status 0. Returns stdout; the error message names the
// command line, how it ended and its stderr.
Result<std::string> run_checked(const std::vector<std::string>& argv,
                                const CommandOptions& options = {});

// The argv as a shell-quoted line, for messages (never executed).
std::string command_line(const std::vector<std::string>& argv);

// The absolute path of an executable: `name` itself when it contains a '/', else the first
// match in PATH, /usr/sbin, /sbin, /usr/bin, /bin. kNotFound names the directories searched.
Result<std::string> find_program(const std::string& name);

}  // namespace coedge::os
