// coedge_infer_torch.so: the libtorch side of the torch backend (infer/torch_plugin.h).
// The only translation unit that includes libtorch's headers; it links libtorch and none of
// our libraries (the header above is header-only). Nothing but the versioned entry point
// is exported (-fvisibility=hidden).
//
// load: torch::jit::load -> eval -> freeze -> optimize_for_inference -> warm-up.
//  - optimize_for_inference (oneDNN convolutions) is what makes libtorch 2-3x faster than
//    OpenCV DNN here; freeze alone is not enough at batch 4 (measured, spike-torch.md). Its
//    result is never saved: torch.jit.save writes it without the packed weights and the
//    file does not load again.
//  - optimize_for_inference is not trusted blindly: libtorch 1.13's changes the outputs of
//    MobileNetV3 (max error 1.7 on outputs of 0.73, another top-1 class; measured on the
//    generated mobilenetv3-224, with a "Resize.cpp ... was resized" warning). So at load the
//    optimized module and the frozen one run the same batch; unless they agree within the
//    parity tolerance (|a - b| <= 1e-3 max|b| + 1e-4), the frozen module is used, and the
//    log says so.
//  - The first pass at each NEW batch size is 1.2-2.4x slower than the next (oneDNN
//    primitives are created per shape, measured), so warm-up runs every batch size the
//    server may use, min_batch..max_batch, not only 1 and 2. A failure at any of them fails
//    the load, naming the batch size (e.g. a trace that baked in another batch size): the
//    scheduler may batch any task up to max_batch, as the OpenCV backend's load says too.
// forward: c10::InferenceMode; at::set_num_threads on the forward thread, the first time
//  each thread runs (libtorch's setting is per thread once set; measured); the input wrapped
//  with from_blob (no copy); the output unwrapped and copied once into the caller's sink.
// Errors: c10::Error -> the first line of what_without_backtrace(); a TorchScript `raise`
//  (the interpreter's "The following operation failed ..." report) -> its last line, which
//  names the exception; std::exception -> the first line of what().
// Logs: libtorch warns through c10's warning handler; optimized MobileNet-like graphs warn
//  "An output with one or more elements was resized" (Resize.cpp) on EVERY forward, which
//  printed hundreds of lines a second in the spike. The handler here logs each distinct
//  warning (source file and line) once. glog (libtorch's logger) is set to errors only,
//  on stderr, and initialised so that it does not announce itself.
#include <ATen/Parallel.h>
#include <glog/logging.h>
#include <torch/script.h>
#include <torch/version.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include "infer/torch_plugin.h"

namespace coedge::infer {
namespace {

std::string first_line(const std::string& text) {
  const auto nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

// libtorch's message as one line (see the contract above).
std::string one_line(const std::string& text) {
  constexpr std::string_view kInterpreter = "The following operation failed in the TorchScript interpreter";
  if (text.rfind(kInterpreter, 0) == 0) {
    std::istringstream lines(text);
    std::string line, last;
    while (std::getline(lines, line))
      if (line.find_first_not_of(" \t") != std::string::npos) last = line;
    if (!last.empty()) return last;
  }
  return first_line(text);
}

class Log {
 public:
  void set(std::function<void(const std::string&)> log) {
    std::lock_guard lock(mu_);
    log_ = std::move(log);
  }
  void operator()(const std::string& line) {
    std::lock_guard lock(mu_);
    if (log_) log_(line);
    else std::cerr << "coedge: torch backend: " << line << '\n';
  }

 private:
  std::mutex mu_;
  std::function<void(const std::string&)> log_;
};

class OnceWarnings final : public c10::WarningHandler {
 public:
  explicit OnceWarnings(Log& log) : log_(log) {}
  void process(const c10::SourceLocation& where, const std::string& msg, const bool /*verbatim*/) override {
    const char* file = where.file != nullptr ? where.file : "?";
    const char* base = std::strrchr(file, '/');
    const std::string key = std::string(base != nullptr ? base + 1 : file) + ":" + std::to_string(where.line);
    {
      std::lock_guard lock(mu_);
      if (!seen_.insert(key).second) return;
    }
    log_("libtorch warning (" + key + ", logged once however often it repeats): " + first_line(msg));
  }

 private:
  Log& log_;
  std::mutex mu_;
  std::set<std::string> seen_;
};

// c10's warning handler is per thread (libtorch 1.13 keeps it thread-local): installed on
// every thread that loads or runs a module, or that thread's warnings go to glog, which is
// silenced below ERROR.
void install_warning_handler(c10::WarningHandler* handler) {
  thread_local c10::WarningHandler* installed = nullptr;
  if (installed != handler) {
    c10::Warning::set_warning_handler(handler);
    installed = handler;
  }
}

class Module final : public TorchModule {
 public:
  Module(torch::jit::Module module, int threads, c10::WarningHandler* warnings)
      : module_(std::move(module)), threads_(threads), warnings_(warnings) {}

  bool forward(const float* input, std::span<const int64_t> shape, TorchOutputSink& out,
               std::string& error) override {
    return run(input, shape, out, error, false);
  }
  bool forward_argmax(const float* input, std::span<const int64_t> shape, TorchOutputSink& out,
                      std::string& error) override {
    return run(input, shape, out, error, true);
  }
  int threads_in_last_forward() const override { return threads_seen_.load(); }

  // One pass of zeros at batch `b` (warm-up).
  void warm_up(int64_t b, const std::vector<int64_t>& item) {
    std::vector<int64_t> dims{b};
    dims.insert(dims.end(), item.begin(), item.end());
    set_threads_here();
    c10::InferenceMode guard;
    module_.forward({at::zeros(dims, at::kFloat)});
  }

 private:
  void set_threads_here() {
    install_warning_handler(warnings_);
    // Per thread and per value: a thread that served a module with another count re-sets.
    thread_local int applied = 0;
    if (threads_ > 0 && applied != threads_) {
      at::set_num_threads(threads_);
      applied = threads_;
    }
  }

  static at::Tensor unwrap(const c10::IValue& y) {
    if (y.isTensor()) return y.toTensor();
    if (y.isTuple()) {
      const auto& items = y.toTupleRef().elements();
      if (!items.empty() && items[0].isTensor()) return items[0].toTensor();  // YOLOv5: (y, x)
    }
    if (y.isList()) {
      const auto list = y.toList();
      if (list.size() > 0 && list.get(0).isTensor()) return list.get(0).toTensor();
    }
    if (y.isGenericDict()) {  // torchvision segmentation: {"out": ..., "aux": ...}
      for (const auto& item : y.toGenericDict())
        if (item.key().isString() && item.key().toStringRef() == "out" && item.value().isTensor())
          return item.value().toTensor();
    }
    throw std::runtime_error("the model returned a " + y.tagKind() +
                             "; CoEdge reads a Tensor, a tuple or list whose first item is one, or a dict "
                             "with a Tensor under \"out\"");
  }

  bool run(const float* input, std::span<const int64_t> shape, TorchOutputSink& out, std::string& error,
           bool argmax) {
    try {
      set_threads_here();
      c10::InferenceMode guard;
      const std::vector<int64_t> dims(shape.begin(), shape.end());
      // Wraps the caller's batch: no copy (forward only reads its input).
      at::Tensor x = at::from_blob(const_cast<float*>(input), dims, at::kFloat);
      at::Tensor y = unwrap(module_.forward({x}));
      threads_seen_ = at::get_num_threads();
      if (argmax) {
        if (y.dim() != 4 || y.size(1) < 1 || y.size(1) > 256) {
          std::ostringstream s;
          s << "a segmentation output must be [N, C, H, W] with 1 <= C <= 256, got " << y.sizes();
          error = s.str();
          return false;
        }
        const at::Tensor ids = y.argmax(1).to(at::kByte).contiguous();
        const std::vector<int64_t> out_shape(ids.sizes().begin(), ids.sizes().end());
        std::memcpy(out.labels(out_shape), ids.data_ptr<uint8_t>(), static_cast<size_t>(ids.numel()));
      } else {
        const at::Tensor dense = y.to(at::kFloat).contiguous();
        const std::vector<int64_t> out_shape(dense.sizes().begin(), dense.sizes().end());
        std::memcpy(out.floats(out_shape), dense.data_ptr<float>(), static_cast<size_t>(dense.numel()) * sizeof(float));
      }
      return true;
    } catch (const c10::Error& e) {
      error = one_line(e.what_without_backtrace());
    } catch (const std::exception& e) {
      error = one_line(e.what());
    }
    return false;
  }

  torch::jit::Module module_;
  const int threads_;
  c10::WarningHandler* const warnings_;
  std::atomic<int> threads_seen_{0};
};

// A deterministic, varied batch for the load-time check (no RNG state touched).
at::Tensor probe_batch(int64_t b, const std::vector<int64_t>& item) {
  std::vector<int64_t> dims{b};
  dims.insert(dims.end(), item.begin(), item.end());
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return (at::sin(at::arange(n, at::kFloat) * 0.37) * 0.5 + 0.5).reshape(dims);
}

// How far the optimized module's output is from the frozen one's, against the parity
// tolerance, or that the optimized one fails where the frozen one runs; empty when they
// agree.
std::string optimization_changes_outputs(torch::jit::Module& frozen, torch::jit::Module& optimized, int64_t b,
                                         const std::vector<int64_t>& item) {
  c10::InferenceMode guard;
  const at::Tensor x = probe_batch(b, item);
  auto as_tensor = [](const c10::IValue& y) -> at::Tensor {
    if (y.isTensor()) return y.toTensor();
    if (y.isTuple() && !y.toTupleRef().elements().empty() && y.toTupleRef().elements()[0].isTensor())
      return y.toTupleRef().elements()[0].toTensor();
    return at::Tensor();
  };
  const at::Tensor want = as_tensor(frozen.forward({x}));  // throws: the model cannot run (the caller says so)
  at::Tensor got;
  try {
    got = as_tensor(optimized.forward({x}));
  } catch (const c10::Error& e) {  // e.g. an adaptive pooling the oneDNN rewrite does not take
    return "the optimized module fails: " + one_line(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return std::string("the optimized module fails: ") + one_line(e.what());
  }
  if (!want.defined() || !got.defined()) return "";  // outputs of other kinds: not compared
  if (want.sizes() != got.sizes()) return "output shape changes";
  const double max_abs = want.abs().max().item<double>();
  const double diff = (want.to(at::kDouble) - got.to(at::kDouble)).abs().max().item<double>();
  if (diff <= 1e-3 * max_abs + 1e-4) return "";
  std::ostringstream s;
  s << "max |difference| " << diff << " on outputs up to " << max_abs;
  return s.str();
}

class Runtime final : public TorchRuntime {
 public:
  Runtime() : warnings_(log_) {
    // glog: errors only, to stderr (never log files), without "Logging before
    // InitGoogleLogging()". Another user of glog in the process may have done this first.
    FLAGS_logtostderr = true;
    FLAGS_minloglevel = google::GLOG_ERROR;
    if (!google::IsGoogleLoggingInitialized()) google::InitGoogleLogging("coedge-torch");
    // One inter-op thread: the server runs one forward at a time. Settable once, before any
    // parallel work; a second setter throws, which is not ours to report.
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
    }
  }

  std::unique_ptr<TorchModule> load(const std::string& path, const TorchLoadOptions& options,
                                    std::string& error) override {
    try {
      install_warning_handler(&warnings_);
      torch::jit::Module raw = torch::jit::load(path, c10::kCPU);
      raw.eval();
      // Two frozen copies: optimize_for_inference rewrites the module it is given in place.
      torch::jit::Module frozen = torch::jit::freeze(raw);
      torch::jit::Module to_optimize = torch::jit::freeze(raw);
      torch::jit::Module optimized = torch::jit::optimize_for_inference(to_optimize);
      const int64_t first = std::max(1, options.min_batch), last = std::max(options.min_batch, options.max_batch);
      std::string changed;
      try {
        if (options.threads > 0) at::set_num_threads(options.threads);
        // Batch 2 for a dynamic batch (where the oneDNN rewrite's shapes matter), the model's
        // own batch size for a fixed one.
        const int64_t probe = std::min<int64_t>(std::max<int64_t>(2, first), last);
        changed = optimization_changes_outputs(frozen, optimized, probe, options.item_shape);
      } catch (const std::exception&) {
        // The warm-up below reports a model that cannot run.
      }
      if (!changed.empty()) {
        log_(path + ": libtorch's optimize_for_inference does not serve this model (" + changed +
             "), so it runs frozen but not optimized (slower)");
        optimized = frozen;
      }
      auto module = std::make_unique<Module>(optimized, options.threads, &warnings_);
      for (int64_t b = first; b <= last; ++b) {
        try {
          module->warm_up(b, options.item_shape);
        } catch (const std::exception& e) {
          const std::string why = e.what();
          const auto* c10 = dynamic_cast<const c10::Error*>(&e);
          const std::string line = one_line(c10 != nullptr ? c10->what_without_backtrace() : why);
          // At any batch size, as the OpenCV backend: the scheduler may batch any task.
          error = "a forward pass at batch " + std::to_string(b) + " fails: " + line;
          return nullptr;
        }
      }
      return module;
    } catch (const c10::Error& e) {
      error = one_line(e.what_without_backtrace());
    } catch (const std::exception& e) {
      error = one_line(e.what());
    }
    return nullptr;
  }

  void set_log(std::function<void(const std::string&)> log) override { log_.set(std::move(log)); }
  std::string version() const override { return TORCH_VERSION; }

 private:
  Log log_;
  OnceWarnings warnings_;
};

}  // namespace
}  // namespace coedge::infer

static_assert(COEDGE_TORCH_PLUGIN_ABI == 1, "the entry point's name below carries the ABI number: rename it");
extern "C" __attribute__((visibility("default"))) coedge::infer::TorchRuntime* coedge_infer_torch_runtime_v1() {
  // Never destroyed: libtorch keeps a pointer to its warning handler until the very end.
  static auto* runtime = new coedge::infer::Runtime();
  return runtime;
}
