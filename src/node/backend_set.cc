#include "node/backend_set.h"

#include "infer/make_backend.h"

namespace coedge::node {

Result<infer::Backend*> BackendSet::get(const std::string& name) {
  if (auto it = backends_.find(name); it != backends_.end()) return it->second.get();
  auto made = infer::make_backend(name, options_);
  if (!made.ok()) return made.error();
  infer::Backend* backend = made->get();
  backends_.emplace(name, std::move(*made));
  return backend;
}

}  // namespace coedge::node
