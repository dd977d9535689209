// Which inference backend runs each of a node's models, and so which file it loads.
//
// A model asks for `opencv`, `torch` or `auto` (its own `backend:` in the node config, else
// the node's). `auto` takes the backend its profile was measured on (ModelProfile::backend,
// written by `coedge profile --backend auto`, which records the faster one), so that the
// scheduler plans with the numbers of the backend that runs the model. A profile that
// records no backend was measured on opencv (profile sets written before backends were
// recorded all were). With no profile at all (the agent measures the models at start),
// `auto` takes torch when the model has a TorchScript file, opencv otherwise.
//
// Files: opencv loads NAME.onnx, torch loads NAME.pt; a model given as either finds the
// other next to it (the generator and tools/export_models.py write both from the same
// weights). A request that its file cannot serve is an error naming the model, the file
// and what to do. Pure apart from checking that files exist.
#pragma once

#include <string>
#include <vector>

#include "config/node_config.h"
#include "core/result.h"

namespace coedge::config {

// The backends a request may name, "auto" included.
bool is_backend_request(const std::string& name);

// Fills config.model_backends and sets config.model_files to the file each backend loads. Returns one line per choice worth telling (an auto choice, a backend that differs
// from the one the profile was measured on), for the caller to print. Run it once the
// profiles and the backend are final (after `coedge node --profiles/--backend`), or again
// after they change: it starts each time from the requests and the files as given
// (model_sources). Errors name the model's FILE:LINE (model_where) when known; on error
// the config is left unchanged.
Result<std::vector<std::string>> resolve_model_backends(NodeConfig& config);

// The backend that runs model m: the resolved one, or opencv when the backends were not
// resolved (a config built by hand, as tests do).
std::string backend_of(const NodeConfig& config, size_t m);

}  // namespace coedge::config
