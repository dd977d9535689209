#include "plot.h"

#include <cstdlib>
#include <filesystem>

#include "write_file.h"

namespace coedge::app {
namespace {
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
}  // namespace

Status plot_lines(const PlotSpec& spec, const std::vector<Series>& series) {
  const std::filesystem::path png(spec.png);
  const std::string stem = (png.parent_path() / png.stem()).string();
  std::string data;
  for (const Series& s : series) {  // one gnuplot data block per series
    data += "# " + s.title + "\n";
    for (const auto& [x, y] : s.points) data += std::to_string(x) + " " + std::to_string(y) + "\n";
    data += "\n\n";
  }
  if (Status st = write_file(stem + ".dat", data); !st.ok()) return st;
  std::string script = "set terminal png size 1000,650\nset output " + quoted(spec.png) + "\n";
  script += "set title " + quoted(spec.title) + "\nset xlabel " + quoted(spec.xlabel) +
            "\nset ylabel " + quoted(spec.ylabel) + "\nset grid\nset key outside right\n";
  if (spec.logscale_x) script += "set logscale x\n";
  script += "plot ";
  for (size_t i = 0; i < series.size(); ++i) {
    script += (i ? ", " : "") + quoted(stem + ".dat") + " index " + std::to_string(i) +
              " with linespoints title " + quoted(series[i].title);
  }
  script += "\n";
  if (Status st = write_file(stem + ".gp", script); !st.ok()) return st;
  const std::string command = "gnuplot " + quoted(stem + ".gp") + " 2>&1";
  const int status = std::system(command.c_str());
  if (status != 0) {
    return Error{ErrorCode::kIo, "gnuplot failed (exit status " + std::to_string(status) +
                                     ") drawing " + spec.png +
                                     "; is Debian's gnuplot-nox installed? ('make setup')"};
  }
  return Ok{};
}

}  // namespace coedge::app
