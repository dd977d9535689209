#include "infer/backend.h"

#include <functional>
#include <numeric>

namespace coedge::infer {

Tensor Tensor::zeros(std::vector<int64_t> shape) {
  Tensor t;
  t.shape = std::move(shape);
  t.data.assign(t.elements(), 0.0f);
  return t;
}

size_t Tensor::elements() const {
  if (shape.empty()) return 0;
  return static_cast<size_t>(
      std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>()));
}

std::span<const float> Tensor::item(int64_t i) const {
  const size_t per = elements() / static_cast<size_t>(shape[0]);
  return {data.data() + static_cast<size_t>(i) * per, per};
}

std::span<float> Tensor::item(int64_t i) {
  const size_t per = elements() / static_cast<size_t>(shape[0]);
  return {data.data() + static_cast<size_t>(i) * per, per};
}

std::string shape_string(std::span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += shape[i] < 0 ? "N" : std::to_string(shape[i]);
  }
  return out + "]";
}

std::vector<int64_t> Model::item_shape() const {
  const auto& shape = info_.inputs.front().shape;
  return {shape.begin() + 1, shape.end()};
}

int64_t Model::fixed_batch() const { return info_.inputs.front().shape.front(); }

size_t LabelMap::elements() const {
  if (shape.empty()) return 0;
  return static_cast<size_t>(
      std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>()));
}

std::span<const uint8_t> LabelMap::item(int64_t i) const {
  const size_t per = elements() / static_cast<size_t>(shape[0]);
  return {data.data() + static_cast<size_t>(i) * per, per};
}

Result<LabelMap> argmax_channels(const Tensor& logits) {
  if (logits.shape.size() != 4 || logits.data.size() != logits.elements() ||
      logits.shape[1] < 1 || logits.shape[1] > 256) {
    return Error{ErrorCode::kInvalidInput,
                 "a segmentation output must be [N, C, H, W] with 1 to 256 classes, not " +
                     shape_string(logits.shape)};
  }
  const int64_t n = logits.shape[0], c = logits.shape[1];
  const size_t plane = static_cast<size_t>(logits.shape[2] * logits.shape[3]);
  LabelMap out;
  out.shape = {n, logits.shape[2], logits.shape[3]};
  out.data.assign(static_cast<size_t>(n) * plane, 0);
  std::vector<float> best(plane);
  for (int64_t i = 0; i < n; ++i) {
    const float* item = logits.data.data() + static_cast<size_t>(i * c) * plane;
    uint8_t* labels = out.data.data() + static_cast<size_t>(i) * plane;
    std::copy(item, item + plane, best.begin());
    // Channel-major sweeps read memory in order; a strict > keeps ties on the lower id.
    for (int64_t k = 1; k < c; ++k) {
      const float* channel = item + static_cast<size_t>(k) * plane;
      for (size_t p = 0; p < plane; ++p) {
        if (channel[p] > best[p]) {
          best[p] = channel[p];
          labels[p] = static_cast<uint8_t>(k);
        }
      }
    }
  }
  return out;
}

Result<LabelMap> Model::forward_argmax(const Tensor& input) {
  auto logits = forward(input);
  if (!logits) return logits.error();
  auto labels = argmax_channels(*logits);
  if (!labels) return Error{labels.error().code, path_ + ": " + labels.error().message};
  return labels;
}

Result<LabelMap> Model::run_argmax(const Tensor& input) {
  if (auto valid = validate(input); !valid) return valid.error();
  return forward_argmax(input);
}

Result<Tensor> Model::run(const Tensor& input) {
  if (auto valid = validate(input); !valid) return valid.error();
  return forward(input);
}

Status Model::validate(const Tensor& input) const {
  const auto& declared = info_.inputs.front().shape;
  bool matches = input.shape.size() == declared.size() && !input.shape.empty() &&
                 input.shape[0] >= 1 && input.data.size() == input.elements();
  for (size_t i = 0; matches && i < declared.size(); ++i)
    matches = declared[i] < 0 || declared[i] == input.shape[i];
  if (!matches) {
    return Error{ErrorCode::kInvalidInput,
                 path_ + ": input " + shape_string(input.shape) + " does not match the model's " +
                     shape_string(declared) + " (input '" + info_.inputs.front().name + "')"};
  }
  return Ok{};
}

}  // namespace coedge::infer
