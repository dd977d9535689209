// The inference server's model loader (lean nodes: a node holds only the models of the
// tasks it runs). The agent says which models to hold (ipc::ServerCommand, kLoad/kUnload);
// the loader reads them on a thread of its own, so that the models already held keep
// serving meanwhile (a large model takes seconds to read), and poll(), on the server's
// thread, hands each loaded model over and reports what became of it.
//
// One load at a time, the smallest file first: under a node's CPU quota, loads side by
// side only delay each other (and add up their parsing peaks of memory), while one after
// the other the first model, and the tasks that use it, are ready soonest. The load thread
// runs at nice kLoaderNice, below the node's other threads: a load takes seconds of CPU,
// and must not starve the inference of the tasks already running, nor the agent's DDS
// threads (whose liveliness the master watches).
//
// A kLoad of a model held answers kLoaded at once; of a model loading or queued, nothing
// more (its load answers). A kUnload drops a queued load (answering kUnloaded), lets a
// load in flight finish and then unloads it, or unloads a held model (hand_over(m,
// nullptr) first, then the model is freed and the allocator trimmed). A failed load
// answers kLoadFailed (its message on stderr), or kUnloaded when the model was unloaded
// meanwhile; the next kLoad tries again. An index out
// of range is refused on stderr (only the agent writes the commands; still checked).
//
// Thread-safety: on_command, poll, loading and wait are called from one thread (the
// server's); hand_over and tell are called on it too, never from the load thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "infer/backend.h"
#include "ipc/messages.h"

namespace coedge::node {

class ModelLoader {
 public:
  static constexpr int kLoaderNice = 10;

  struct ModelFile {
    std::string name;  // for messages
    std::string file;  // what backend->load() reads
    infer::Backend* backend = nullptr;  // the one that runs this model; outlives the loader
  };
  // The engine takes a loaded model (or nullptr: no longer) for model index m.
  using HandOver = std::function<void(uint32_t model, infer::Model* loaded)>;
  // What became of a command, for the agent.
  using Tell = std::function<void(uint32_t model, ipc::ModelState state)>;

  // REQUIRES: every model names its backend.
  ModelLoader(std::vector<ModelFile> models, HandOver hand_over, Tell tell);
  ~ModelLoader();  // waits for a load in flight
  ModelLoader(const ModelLoader&) = delete;
  ModelLoader& operator=(const ModelLoader&) = delete;

  void on_command(const ipc::ServerCommand& command);
  // Hands finished loads over and starts the next. True when something changed.
  bool poll();
  // A load in flight or queued: poll() has work coming (the caller polls more often).
  bool loading() const;
  // Waits for the load in flight, if any (at shutdown).
  void wait();

 private:
  struct Slot {
    std::unique_ptr<infer::Model> model;
    std::future<Result<std::unique_ptr<infer::Model>>> loading;
    std::chrono::steady_clock::time_point started;
    bool wanted = false;
    bool queued = false;  // wanted, waiting for its turn to load
  };
  static constexpr uint32_t kNoModel = UINT32_MAX;

  void start_next();
  void unload(uint32_t m);

  std::vector<ModelFile> models_;
  HandOver hand_over_;
  Tell tell_;
  std::vector<Slot> slots_;
};

}  // namespace coedge::node
