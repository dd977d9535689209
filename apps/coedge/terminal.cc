#include "terminal.h"

#include <unistd.h>

#include <cstdio>

namespace coedge::app {

void add_progress_flags(CLI::App* cmd, ProgressFlags& flags) {
  cmd->add_flag("-q,--quiet", flags.quiet, "No progress on stderr");
  cmd->add_flag("--progress", flags.force,
                "Progress on stderr even when it is not a terminal (one line per tenth of the work); "
                "by default progress is drawn on a terminal only");
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) != 0; }

Progress::Progress(const ProgressFlags& flags)
    : enabled_(!flags.quiet && (flags.force || stderr_is_terminal())), terminal_(stderr_is_terminal()) {}

void Progress::update(const std::string& text, double fraction) {
  if (!enabled_) return;
  const bool end = fraction >= 1.0;
  if (terminal_) {
    std::fprintf(stderr, "\r%s%s", text.c_str(), end ? "\n" : "");
    open_ = !end;
    return;
  }
  const int tenth = static_cast<int>(fraction * 10);
  if (tenth == last_tenth_ && !end) return;
  last_tenth_ = tenth;
  std::fprintf(stderr, "%s\n", text.c_str());
  if (end) last_tenth_ = -1;
}

void Progress::finish() {
  if (open_) std::fprintf(stderr, "\n");
  open_ = false;
}

}  // namespace coedge::app
