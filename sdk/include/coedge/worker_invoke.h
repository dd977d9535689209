// The one path by which CoEdge calls a worker's callbacks (coedge/worker.h), used by the
// SDK's runtime in a worker process (isolation process and sandbox, sdk/worker_sdk.cc) and
// by the agent's threads in isolation none (src/node/in_process_pipeline.cc), so that a
// worker sees the same inputs, is held to the same limits and gives the same results in
// every mode. C++ for CoEdge's own runtime, not part of the worker C ABI.
//
// WorkerInvoker wraps one worker instance (its callbacks and the state init returned):
//   pre:  fills a coedge_frame's tensor (data, elements, rank and shape of one input item)
//         and calls the worker's pre;
//   post: hands one output item (validated: dtype, rank, shape and element count agree) to the
//         worker's post, refuses a result that filled its whole buffer (no room for the
//         NUL: it was cut) and keeps the result (result()). It writes no file: the caller
//         hands the result to the agent's writer (node/core/result_log.h), through the
//         task's result ring (worker_sdk.cc) or directly (isolation none).
// Failures come back as false with the message; the caller counts the drop, and may
// report() it (rate-limited on stderr).
//
// Thread-safety: an invoker is used by one thread at a time (one per worker role).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coedge/worker.h"

namespace coedge::sdk {

inline constexpr size_t kResultBytes = 64 * 1024;  // a post result, with its NUL

// One output item for post-processing, as the inference server produced it. The data and
// shape are untrusted (another process wrote them): post() checks them before use.
struct OutputItem {
  std::span<const float> data;     // a float32 item (COEDGE_DTYPE_F32)
  std::span<const uint8_t> labels; // or a one-byte item (COEDGE_DTYPE_U8): set one of the two
  int32_t dtype = COEDGE_DTYPE_F32;
  std::span<const int64_t> shape;  // one item, without the batch axis
  const double* aux = nullptr;     // 6 values from pre-processing; nullptr: zeros
  uint64_t job = 0;
  int32_t batch = 0;
  int64_t release_us = 0, deadline_us = 0;
};

class WorkerInvoker {
 public:
  // REQUIRES: cb->pre and cb->post set; state as cb->init returned it. `name` prefixes
  // reported errors (e.g. "coedge worker a/post").
  WorkerInvoker(const coedge_worker_callbacks* cb, void* state, std::string name);

  // Pre-processes `frame` into `tensor` (one input item of `shape`; tensor.size() must be
  // the product of the shape); the worker's aux values land in `aux` (6 values).
  bool pre(const coedge_frame& frame, std::span<float> tensor, std::span<const int64_t> shape,
           double* aux);
  // Post-processes one output item; on success result() holds what the worker wrote.
  bool post(const OutputItem& item);

  // The last failure's message (never empty after a failure).
  const std::string& error() const { return error_; }
  // Logs a failure of `job` on stderr: `why`, or else the last failure's message; the
  // first 20, then every 1000th.
  void report(uint64_t job, const char* what, const char* why = nullptr);
  // The last result post() accepted (the worker's JSON text, without its NUL; may be
  // empty: no result). Valid until the next post().
  std::string_view result() const { return std::string_view(result_.data()); }

 private:
  const coedge_worker_callbacks* cb_;
  void* state_;
  std::string name_;
  std::vector<char> result_;
  std::string error_;
  uint64_t reported_ = 0;
};

// The number of elements of `shape`, or 0 if the shape is empty, longer than
// COEDGE_MAX_RANK or has a non-positive dimension.
uint64_t elements_of(std::span<const int64_t> shape);

}  // namespace coedge::sdk
