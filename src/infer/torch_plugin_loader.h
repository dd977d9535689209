// torch_runtime(): libtorch's side of the torch backend (torch_plugin.h), the plugin
// coedge_infer_torch.so, opened on first use and never unloaded.
//
// Where the plugin is looked for, in order: the path set_torch_plugin_path() named (then
// nothing else); next to the program, ../lib/coedge/coedge_infer_torch.so (the build
// tree's and an install's layout); the build tree this was compiled in, for that build
// tree's own programs outside bin/ (tests, benchmarks), as media/codecs_plugin.h does. A
// coedge built with COEDGE_TORCH=OFF has no plugin: the error says so.
//
// Thread-safe. A plugin that loaded is kept for the life of the process; a failure is not
// cached (the next call looks again).
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "infer/torch_plugin.h"

namespace coedge::infer {

// Errors (kNotFound): no plugin where it was looked for (the message names the places and
// the COEDGE_TORCH build option), a plugin that does not load (the loader's message), or
// one without this version's entry point.
Result<TorchRuntime*> torch_runtime();

// Names the plugin file to load (empty: look in the usual places).
void set_torch_plugin_path(std::string path);

// The places torch_runtime() looks, in order (see above).
std::vector<std::string> torch_plugin_places();

}  // namespace coedge::infer
