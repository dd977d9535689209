// The inference backends of one process, by name (infer/make_backend.h), each made on
// first use with the same options: a node whose models run on opencv and on torch holds
// one of each, and a node whose models all run on one never loads the other (the torch
// backend's plugin, and libtorch with it, is loaded only when a model runs on it).
//
// Both get the same thread count: the inference engine runs one forward pass at a time,
// so whichever backend runs it, at most that many inference threads are busy, and two
// backends in one server do not oversubscribe the cores (docs/NODE_CONFIG.md, "backend").
// Not thread-safe: used by the thread that loads models (the server's, or the agent's
// profiler); the backends themselves are used from the loader's thread as before.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/result.h"
#include "infer/backend.h"

namespace coedge::node {

class BackendSet {
 public:
  explicit BackendSet(infer::BackendOptions options) : options_(options) {}
  // Errors: a name no backend answers to, or one that cannot start (the torch plugin
  // missing), with make_backend's message.
  Result<infer::Backend*> get(const std::string& name);

 private:
  infer::BackendOptions options_;
  std::map<std::string, std::unique_ptr<infer::Backend>> backends_;
};

}  // namespace coedge::node
