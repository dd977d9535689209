// The interface between coedge_infer and the libtorch plugin, coedge_infer_torch.so
// (torch_plugin/torch_runtime.cc). libtorch (with libc10, libgomp, oneDNN, glog and
// protobuf) is some 400 MB of shared libraries that `coedge sim` and every other command
// but the inference server never need, and `coedge` is one binary; so libtorch lives in a
// plugin that TorchBackend (torch_backend.h) opens through torch_plugin_loader.h on first
// use, as media/codecs.h does for OpenCV's codecs.
//
// Header-only, std types only: no libtorch type and no C++ exception crosses it (the
// plugin catches c10::Error and std::exception and returns false with a one-line error).
// The output goes into a caller-provided OutputSink, so the plugin copies it once, into
// the caller's memory, and never owns it.
//
// Versioned: the plugin exports one extern "C" entry whose name carries kTorchPluginAbi; a
// plugin of another version lacks the symbol, so the loader refuses it instead of calling
// through a different vtable.
//
// Thread-safety: TorchRuntime::load may run on any thread; a TorchModule is used by one
// thread at a time (the Model contract), which need not be the thread that loaded it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace coedge::infer {

#define COEDGE_TORCH_PLUGIN_ABI 1
#define COEDGE_TORCH_STRINGIFY2(x) #x
#define COEDGE_TORCH_STRINGIFY(x) COEDGE_TORCH_STRINGIFY2(x)
inline constexpr int kTorchPluginAbi = COEDGE_TORCH_PLUGIN_ABI;
inline constexpr const char* kTorchPluginFile = "coedge_infer_torch.so";
// The entry's name carries the ABI number, made from the same macro, so the two cannot
// drift apart.
inline constexpr const char* kTorchPluginEntry = "coedge_infer_torch_runtime_v" COEDGE_TORCH_STRINGIFY(COEDGE_TORCH_PLUGIN_ABI);

// Where a forward pass writes its result: the plugin asks for room of the given shape
// and copies the output into it (floats, or class ids for forward_argmax).
class TorchOutputSink {
 public:
  virtual ~TorchOutputSink() = default;
  virtual float* floats(std::span<const int64_t> shape) = 0;
  virtual uint8_t* labels(std::span<const int64_t> shape) = 0;
};

struct TorchLoadOptions {
  int threads = 0;                 // intra-op threads in forward (TorchBackend passes >= 1)
  int min_batch = 1;               // warm-up runs every batch size min_batch..max_batch at
  int max_batch = 10;              // load (a fixed-batch model: min_batch = max_batch = it)
  std::vector<int64_t> item_shape; // the input without the batch axis, e.g. {3, 224, 224}
};

class TorchModule {
 public:
  virtual ~TorchModule() = default;
  // One forward pass over `input` ([shape...], dense float32, not copied). The output is
  // unwrapped (a Tensor; element 0 of a tuple or list; key "out" of a dict) and written to
  // `out` as float32. False and `error` (one line) on failure.
  virtual bool forward(const float* input, std::span<const int64_t> shape, TorchOutputSink& out,
                       std::string& error) = 0;
  // The same pass reduced in the graph to per-pixel class ids ([N, C, H, W] -> [N, H, W]
  // uint8, argmax over C): no float mask is copied out. REQUIRES an output with C <= 256.
  virtual bool forward_argmax(const float* input, std::span<const int64_t> shape, TorchOutputSink& out,
                              std::string& error) = 0;
  // at::get_num_threads() as the last forward's thread saw it (a test hook).
  virtual int threads_in_last_forward() const = 0;
};

class TorchRuntime {
 public:
  virtual ~TorchRuntime() = default;
  // Loads, freezes and optimizes `path` for inference, and warms it up at every batch
  // size min_batch..max_batch. Null and `error` (one line: libtorch's reason) on failure.
  virtual std::unique_ptr<TorchModule> load(const std::string& path, const TorchLoadOptions& options,
                                            std::string& error) = 0;
  // Where libtorch's warnings go, one line each, each distinct warning once (libtorch
  // repeats some on every forward). Default: stderr.
  virtual void set_log(std::function<void(const std::string&)> log) = 0;
  virtual std::string version() const = 0;  // libtorch's, e.g. "1.13.1"
};

// The plugin's entry point; the runtime lives as long as the process.
using TorchPluginEntry = TorchRuntime* (*)();

}  // namespace coedge::infer
