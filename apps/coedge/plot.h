// Plots with gnuplot (Debian's gnuplot-nox): writes the data and a script next to the
// PNG, so that a figure can be restyled and redrawn by hand, then runs gnuplot.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace coedge::app {

struct Series {
  std::string title;
  std::vector<std::pair<double, double>> points;  // (x, y), in drawing order
};

struct PlotSpec {
  std::string png;     // output path; the .dat and .gp files go beside it
  std::string title;
  std::string xlabel, ylabel;
  bool logscale_x = false;
};

// Errors: gnuplot missing or failing (with its exit status), files not writable.
Status plot_lines(const PlotSpec& spec, const std::vector<Series>& series);

}  // namespace coedge::app
