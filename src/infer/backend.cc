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

Result<Tensor> Model::run(const Tensor& input) {
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
  return forward(input);
}

}  // namespace coedge::infer
