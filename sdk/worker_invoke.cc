// The one path that calls a worker's callbacks (coedge/worker_invoke.h).
#include "coedge/worker_invoke.h"

#include <cstdio>
#include <cstring>

namespace coedge::sdk {

uint64_t elements_of(std::span<const int64_t> shape) {
  if (shape.empty() || shape.size() > COEDGE_MAX_RANK) return 0;
  uint64_t n = 1;
  for (int64_t d : shape) {
    // An overflowing product is as wrong as a non-positive dimension: a shape the agent or
    // the server wrote is checked, never trusted (0: "does not match").
    if (d <= 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return 0;
  }
  return n;
}

WorkerInvoker::WorkerInvoker(const coedge_worker_callbacks* cb, void* state, std::string name)
    : cb_(cb), state_(state), name_(std::move(name)), result_(kResultBytes) {}

bool WorkerInvoker::pre(const coedge_frame& frame, std::span<float> tensor,
                        std::span<const int64_t> shape, double* aux) {
  const uint64_t elements = elements_of(shape);
  if (elements == 0 || elements != tensor.size()) {
    error_ = "the input shape does not match its tensor";
    return false;
  }
  coedge_tensor out{};
  out.data = tensor.data();
  out.elements = elements;
  out.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) out.shape[i] = shape[i];
  char error[512];
  error[0] = '\0';
  const int rc = cb_->pre(state_, &frame, &out, error, sizeof error);
  if (rc != 0) {
    error[sizeof error - 1] = '\0';  // the worker may have filled it
    error_ = error[0] ? error : "(no message)";
    return false;
  }
  if (aux != nullptr) std::memcpy(aux, out.aux, sizeof out.aux);
  return true;
}

bool WorkerInvoker::post(const OutputItem& item) {
  result_[0] = '\0';  // no result unless this job gives one
  // The server is another process: its dtype, rank, shape and count are checked, never trusted.
  const bool bytes = item.dtype == COEDGE_DTYPE_U8;
  if (!bytes && item.dtype != COEDGE_DTYPE_F32) {
    error_ = "the output item's element type " + std::to_string(item.dtype) + " is unknown";
    return false;
  }
  const size_t elements = bytes ? item.labels.size() : item.data.size();
  if (item.shape.size() > COEDGE_MAX_RANK || (bytes && !item.data.empty()) ||
      (!bytes && !item.labels.empty()) ||
      (!item.shape.empty() && elements_of(item.shape) != elements)) {
    error_ = "the output item's shape does not match its " + std::to_string(elements) +
             " elements";
    return false;
  }
  coedge_output out{};
  out.data = bytes ? nullptr : item.data.data();
  out.elements = elements;
  out.dtype = item.dtype;
  out.labels = bytes ? item.labels.data() : nullptr;
  out.rank = static_cast<int32_t>(item.shape.size());
  for (size_t i = 0; i < item.shape.size(); ++i) out.shape[i] = item.shape[i];
  if (item.aux != nullptr) std::memcpy(out.aux, item.aux, sizeof out.aux);
  out.job = item.job;
  out.batch = item.batch;
  out.release_us = item.release_us;
  out.deadline_us = item.deadline_us;
  result_[0] = '\0';
  char error[512];
  error[0] = '\0';
  const int rc = cb_->post(state_, &out, result_.data(), result_.size(), error, sizeof error);
  if (rc != 0) {
    error[sizeof error - 1] = '\0';
    error_ = error[0] ? error : "(no message)";
    result_[0] = '\0';
    return false;
  }
  if (std::memchr(result_.data(), '\0', result_.size()) == nullptr) {
    error_ = "the result does not fit in its buffer (64 KiB)";
    result_[0] = '\0';
    return false;
  }
  return true;
}

void WorkerInvoker::report(uint64_t job, const char* what, const char* why) {
  // A worker that fails every frame must not flood the node's log.
  if (++reported_ <= 20 || reported_ % 1000 == 0) {
    std::fprintf(stderr, "%s: job %llu: %s failed: %s%s\n", name_.c_str(),
                 static_cast<unsigned long long>(job), what, why != nullptr ? why : error_.c_str(),
                 reported_ == 20 ? " (further errors reported every 1000th)" : "");
  }
}

}  // namespace coedge::sdk
