#include "node/core/model_loader.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace coedge::node {

ModelLoader::ModelLoader(std::vector<ModelFile> models, HandOver hand_over, Tell tell)
    : models_(std::move(models)), hand_over_(std::move(hand_over)), tell_(std::move(tell)), slots_(models_.size()) {
  for (const ModelFile& m : models_) COEDGE_CHECK(m.backend != nullptr);
}

ModelLoader::~ModelLoader() { wait(); }

void ModelLoader::on_command(const ipc::ServerCommand& command) {
  if (command.model >= slots_.size()) {
    std::fprintf(stderr, "coedge server: a command for model %u, which this node does not have\n", command.model);
    return;
  }
  Slot& slot = slots_[command.model];
  if (command.command == ipc::ModelCommand::kLoad) {
    slot.wanted = true;
    if (slot.model) tell_(command.model, ipc::ModelState::kLoaded);
    else if (!slot.loading.valid()) slot.queued = true;
  } else if (command.command == ipc::ModelCommand::kUnload) {
    slot.wanted = false;
    slot.queued = false;
    if (!slot.loading.valid()) unload(command.model);  // else poll() unloads it once loaded
  }
  start_next();
}

bool ModelLoader::poll() {
  bool changed = false;
  for (uint32_t m = 0; m < slots_.size(); ++m) {
    Slot& slot = slots_[m];
    if (!slot.loading.valid() || slot.loading.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      continue;
    }
    changed = true;
    auto model = slot.loading.get();
    if (!model.ok()) {
      std::fprintf(stderr, "coedge server: %s\n", model.error().message.c_str());
      // Unloaded while loading: the agent waits for kUnloaded, whatever became of the load.
      tell_(m, slot.wanted ? ipc::ModelState::kLoadFailed : ipc::ModelState::kUnloaded);
      continue;
    }
    slot.model = std::move(*model);
    hand_over_(m, slot.model.get());
    // A model file is parsed into temporaries several times its size, freed by now but
    // kept by the allocator (in the loader thread's arena): give them back, so a node
    // holds what its models need, not the peak of reading them.
    ::malloc_trim(0);
    std::fprintf(stderr, "coedge server: %s loaded in %.1f s\n", models_[m].name.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - slot.started).count());
    if (slot.wanted) tell_(m, ipc::ModelState::kLoaded);
    else unload(m);
  }
  if (changed) start_next();
  return changed;
}

bool ModelLoader::loading() const {
  for (const Slot& slot : slots_) {
    if (slot.loading.valid() || slot.queued) return true;
  }
  return false;
}

void ModelLoader::wait() {
  for (Slot& slot : slots_) {
    if (slot.loading.valid()) slot.loading.wait();
  }
}

void ModelLoader::start_next() {
  uint32_t next = kNoModel;
  std::uintmax_t smallest = 0;
  for (uint32_t m = 0; m < slots_.size(); ++m) {
    if (slots_[m].loading.valid()) return;  // one at a time
    if (!slots_[m].queued) continue;
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(models_[m].file, ec);
    const std::uintmax_t bytes = ec ? UINTMAX_MAX : size;  // unreadable: last (its load says why)
    if (next == kNoModel || bytes < smallest) {
      next = m;
      smallest = bytes;
    }
  }
  if (next == kNoModel) return;
  Slot& slot = slots_[next];
  slot.queued = false;
  const std::string file = models_[next].file;
  infer::Backend* backend = models_[next].backend;
  std::fprintf(stderr, "coedge server: loading %s on %s\n", file.c_str(), std::string(backend->name()).c_str());
  slot.started = std::chrono::steady_clock::now();
  slot.loading = std::async(std::launch::async, [backend, file] {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kLoaderNice);
    return backend->load(file);
  });
}

void ModelLoader::unload(uint32_t m) {
  if (slots_[m].model) {
    hand_over_(m, nullptr);
    slots_[m].model.reset();
    ::malloc_trim(0);
    std::fprintf(stderr, "coedge server: %s unloaded\n", models_[m].name.c_str());
  }
  tell_(m, ipc::ModelState::kUnloaded);
}

}  // namespace coedge::node
