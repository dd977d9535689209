// Builds a Backend (infer/backend.h) by name: the one place that knows every backend, so
// it lives in coedge_infer with them (opencv: OpenCV DNN; torch: libtorch through its
// plugin, torch_backend.h), apart from the interface, which
// links no backend library.
#pragma once

#include <memory>
#include <string_view>

#include "core/result.h"
#include "infer/backend.h"

namespace coedge::infer {

// Errors: a name no backend answers to (the message lists the available ones).
Result<std::unique_ptr<Backend>> make_backend(std::string_view name, const BackendOptions& options);

}  // namespace coedge::infer
