// Progress on stderr, the same in every long-running subcommand (sim, sweep, profile,
// demo, cluster): drawn on one line with carriage returns only when stderr is a terminal, so that
// logs and pipes never fill with `^M` lines; `--progress` forces it where stderr is not a
// terminal (then one plain line per tenth of the work), `-q` silences it. CoEdge prints
// no colour anywhere (docs/COMMAND_LINE.md: any colour would go only to a terminal and
// honour NO_COLOR).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace coedge::app {

struct ProgressFlags {
  bool quiet = false;
  bool force = false;
};

// Adds -q,--quiet and --progress to `cmd`.
void add_progress_flags(CLI::App* cmd, ProgressFlags& flags);

// Whether stderr is a terminal.
bool stderr_is_terminal();

// One task's progress line. Not thread-safe: callers from several threads hold a lock.
class Progress {
 public:
  explicit Progress(const ProgressFlags& flags);
  bool enabled() const { return enabled_; }
  // `text` describes the state, e.g. "[coedge+coedge] simulated  40%"; `fraction` in [0, 1]
  // decides when a plain line is due (every tenth) and when the line is finished (1).
  void update(const std::string& text, double fraction);
  // Ends a drawn line early (a failure before 100%).
  void finish();

 private:
  bool enabled_ = false;
  bool terminal_ = false;
  bool open_ = false;   // a drawn line without its newline
  int last_tenth_ = -1;
};

}  // namespace coedge::app
