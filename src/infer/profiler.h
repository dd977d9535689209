// The batch profiler: measures ExeTime(model, b), the wall time of one forward pass of a
// batch of b inputs, for a range of batch sizes, after warm-up runs, and the stock pre-
// and post-processing time per frame. Inputs are seeded random tensors (the time of a
// dense CNN does not depend on the values). A segmentation model is timed as the server
// runs it, Model::run_argmax (the pass and the per-pixel argmax), and its post-processing
// is the class areas of one mask (segmentation.h). Reads the steady clock: this is measurement,
// not policy. Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/scenario.h"
#include "infer/backend.h"
#include "infer/stock_task.h"

namespace coedge::infer {

struct ProfileOptions {
  int min_batch = 1;
  int max_batch = kMaxBatch;
  int runs = 10;    // timed forward passes per batch size
  int warmup = 2;   // untimed passes per batch size before those
  bool stock = true;  // also time the stock pre- and post-processing (pre_ms, post_ms)
  // Called after every pass with (passes done, passes in all, what is being measured).
  std::function<void(int, int, const std::string&)> progress;
};

struct BatchTiming {
  int batch = 0;
  double median_ms = 0;
  double p95_ms = 0;
  double per_image_ms() const { return median_ms / batch; }
};

struct ModelMeasurement {
  std::string name;
  TaskKind kind = TaskKind::kClassification;
  std::vector<int64_t> input_shape;  // one item, e.g. {3, 360, 360}
  std::vector<BatchTiming> batches;
  double pre_ms = 0;   // median stock pre-processing of a 1280x720 JPEG frame (0 unless stock)
  double post_ms = 0;  // median stock post-processing of one output (0 unless stock)
};

Result<ModelMeasurement> profile_model(Model& model, const std::string& name,
                                       const ProfileOptions& options);

// The profile the simulator, dispatcher and executor read: ExeTime = the medians. Totals
// that measurement noise made decrease with the batch size are raised to the previous
// one (the format requires non-decreasing totals); `notes` says which. REQUIRES: the
// measurement covers batch sizes 1..kMaxBatch.
ModelProfile to_model_profile(const ModelMeasurement& m, std::string& notes);

}  // namespace coedge::infer
