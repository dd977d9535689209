// Runs a shell command line for a test and keeps what it printed on stdout and its exit
// code: the one popen loop of the command-line tests. Header-only, test code only.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace coedge::test {

struct CommandRun {
  int code = -1;    // the exit code; -1 if it could not start or was killed by a signal
  std::string out;  // its stdout (redirect stderr in the command line to keep it)
};

inline CommandRun run_command(const std::string& command_line) {
  CommandRun run;
  FILE* pipe = ::popen(command_line.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) run.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace coedge::test
