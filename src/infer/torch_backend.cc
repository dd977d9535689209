#include "infer/torch_backend.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "infer/torch_plugin.h"
#include "infer/torch_plugin_loader.h"
#include "infer/torchscript_info.h"

namespace coedge::infer {
namespace {

// Writes the plugin's output straight into a Tensor or a LabelMap: one copy in all.
class Sink final : public TorchOutputSink {
 public:
  Tensor tensor;
  LabelMap labels_out;
  float* floats(std::span<const int64_t> shape) override {
    tensor.shape.assign(shape.begin(), shape.end());
    tensor.data.resize(count(shape));
    return tensor.data.data();
  }
  uint8_t* labels(std::span<const int64_t> shape) override {
    labels_out.shape.assign(shape.begin(), shape.end());
    labels_out.data.resize(count(shape));
    return labels_out.data.data();
  }

 private:
  static size_t count(std::span<const int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
};

class TorchModel final : public Model {
 public:
  TorchModel(std::string path, ModelInfo info, std::unique_ptr<TorchModule> module)
      : Model(std::move(path), std::move(info)), module_(std::move(module)) {}
  int threads_in_last_forward() const { return module_->threads_in_last_forward(); }

 protected:
  Result<Tensor> forward(const Tensor& input) override {
    Sink sink;
    std::string error;
    if (!module_->forward(input.data.data(), input.shape, sink, error)) return failed(error);
    // The agent sized shared memory by the metadata: an output that disagrees is an error
    // here, not an overrun there.
    const auto& declared = info().outputs.front().shape;
    bool matches = sink.tensor.shape.size() == declared.size();
    for (size_t i = 0; matches && i < declared.size(); ++i)
      matches = declared[i] < 0 ? sink.tensor.shape[i] == input.shape[0] : declared[i] == sink.tensor.shape[i];
    if (!matches)
      return Error{ErrorCode::kInvalidInput, path() + ": the model's output " + shape_string(sink.tensor.shape) +
                                                 " does not match extra/coedge.json's " + shape_string(declared) +
                                                 " for input " + shape_string(input.shape) +
                                                 "; correct the metadata and re-save the file"};
    return std::move(sink.tensor);
  }
  Result<LabelMap> forward_argmax(const Tensor& input) override {
    Sink sink;
    std::string error;
    if (!module_->forward_argmax(input.data.data(), input.shape, sink, error)) return failed(error);
    // [N, C, H, W] declared, [N, H, W] computed: the same check as forward's.
    const auto& declared = info().outputs.front().shape;
    const auto& got = sink.labels_out.shape;
    const bool matches = declared.size() == 4 && got.size() == 3 && got[0] == input.shape[0] &&
                         got[1] == declared[2] && got[2] == declared[3];
    if (!matches)
      return Error{ErrorCode::kInvalidInput, path() + ": the model's class map " + shape_string(got) +
                                                 " does not match extra/coedge.json's output " + shape_string(declared) +
                                                 " for input " + shape_string(input.shape) +
                                                 "; correct the metadata and re-save the file"};
    return std::move(sink.labels_out);
  }

 private:
  Error failed(const std::string& why) const {
    return Error{ErrorCode::kUnsupported, path() + ": inference failed in libtorch: " + why};
  }
  std::unique_ptr<TorchModule> module_;
};

}  // namespace

TorchBackend::TorchBackend(const BackendOptions& options) : options_(options) {
  if (options_.threads <= 0) {
    // Every core this process may run on (its affinity), not every core of the machine.
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    const int allowed = ::sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
    options_.threads = allowed > 0 ? allowed : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (options_.max_batch < 1) options_.max_batch = 1;
}

Result<std::unique_ptr<Model>> TorchBackend::load(const std::string& model_path) {
  // The file first, without libtorch: its errors say what to do with the file.
  auto info = read_torchscript_info(model_path);
  if (!info.ok()) return info.error();
  const TensorInfo& input = info->inputs.front();
  for (size_t i = 1; i < input.shape.size(); ++i) {
    if (input.shape[i] <= 0)
      return Error{ErrorCode::kUnsupported, model_path + ": extra/coedge.json: input '" + input.name + "' " +
                                                shape_string(input.shape) +
                                                " has a dynamic dimension other than the batch; give fixed sizes"};
  }
  auto runtime = torch_runtime();
  if (!runtime.ok()) return Error{runtime.error().code, model_path + ": " + runtime.error().message};
  TorchLoadOptions load_options;
  load_options.threads = options_.threads;
  load_options.item_shape.assign(input.shape.begin() + 1, input.shape.end());
  load_options.min_batch = input.shape[0] > 0 ? static_cast<int>(input.shape[0]) : 1;
  load_options.max_batch = input.shape[0] > 0 ? load_options.min_batch : options_.max_batch;
  std::string error;
  auto module = runtime.value()->load(model_path, load_options, error);
  if (module == nullptr)
    return Error{ErrorCode::kUnsupported, model_path + ": the torch backend cannot load it: " + error};
  return std::unique_ptr<Model>(std::make_unique<TorchModel>(model_path, std::move(info.value()), std::move(module)));
}

int torch_threads_in_last_forward(const Model& model) {
  const auto* torch_model = dynamic_cast<const TorchModel*>(&model);
  return torch_model != nullptr ? torch_model->threads_in_last_forward() : -1;
}

}  // namespace coedge::infer
