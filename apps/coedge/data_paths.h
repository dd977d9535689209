// Where the data CoEdge ships — example scenarios, profile sets, node configs, the
// generated ONNX models — is found when a command's option names none. Never in the
// current folder: a default resolves against this program's own location
// (/proc/self/exe), so `coedge city` works from any folder.
//
//   - Run from its build tree (the program is BUILD/bin/coedge of the build that compiled
//     this file: the build and source folders are compiled in and checked against the
//     program's real path): the examples of the source tree, SOURCE/examples, and the
//     models the build generated, BUILD/models.
//   - Otherwise, an installed program (PREFIX/bin/coedge, `make install`): the
//     installation's share folder, found relative to the program (bin/../share/coedge,
//     as GNUInstallDirs lays it out: docs/ARCHITECTURE.md, "Installed layout"), so that a
//     prefix can be moved or staged (DESTDIR) and still work.
//
// A path the user gives is used as given (relative to the current folder); only defaults
// come from here. The help shows a default's resolved place, and a default that no place
// holds is an error naming every place tried. Files that name other files (a node config's
// model paths) keep resolving against their own folder: nothing here changes that.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace coedge::app {

// A shipped data file or folder, looked up in every place it can be, in order.
struct DataFile {
  std::string path;                // the first place that has it, else the first place tried
  std::vector<std::string> tried;  // every place looked at, in order
  bool found = false;
};

// The shipped files that are defaults: the profile set of `city` and `sweep`, the scenario
// of `demo` (relative to the examples folder).
inline constexpr const char* kDefaultProfileSet = "profiles/jetson-tx2.yaml";
inline constexpr const char* kDemoScenario = "lamppost.yaml";

// `relative` under the shipped examples, e.g. "profiles/jetson-tx2.yaml".
DataFile example_file(const std::string& relative);
// The folder of the generated models (NAME.onnx).
DataFile default_models_dir();

// For an option whose default is `file`: `value` unchanged when the user gave one (not
// empty); else `file`'s place, or an error naming `option` and every place tried when no
// place has it (an I/O failure: the installation or the build is incomplete).
Status fill_default(std::string& value, const DataFile& file, const std::string& option);

}  // namespace coedge::app
