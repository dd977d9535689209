// A stock task: the stock pre-processing, one batched forward pass, and the stock
// post-processing, for a classification, a detection or a segmentation model (for the
// last, the pass is Model::run_argmax and the result the class areas, segmentation.h). Each frame is a job whose
// result is either its output or its own Error (corrupt bytes, a zero-size frame, wrong
// channel count): a bad frame never stops the others and is always reported.
// Not thread-safe (it owns scratch buffers).
#pragma once

#include <span>
#include <string>
#include <variant>
#include <vector>

#include <opencv2/core.hpp>

#include "core/result.h"
#include "infer/backend.h"
#include "infer/classification.h"
#include "infer/detection.h"
#include "infer/segmentation.h"

namespace coedge::infer {

enum class TaskKind { kClassification, kDetection, kSegmentation };
std::string_view to_string(TaskKind kind);

// From the model's declared output: [N, classes] is classification, [N, rows, 5 + classes]
// is a YOLO-style detector, [N, C, H, W] with 2 <= C <= 255 is segmentation (per-pixel
// classes). A file whose metadata says "segmentation" (ModelInfo::kind_hint) must have
// such an output. Errors name the file and the shape.
Result<TaskKind> infer_task_kind(const std::string& path, const ModelInfo& info);
Result<TaskKind> infer_task_kind(const Model& model);

struct FrameResult {
  Status status = Ok{};
  std::vector<ClassScore> classes;     // classification
  std::vector<Detection> detections;   // detection
  std::vector<ClassArea> areas;        // segmentation
};

// A frame given either as encoded bytes (decoded by pre-processing) or already decoded.
using Frame = std::variant<std::span<const uint8_t>, cv::Mat>;

class StockTask {
 public:
  // REQUIRES: `model` outlives the task; its input is [N, 3, H, W].
  StockTask(Model& model, TaskKind kind);
  TaskKind kind() const { return kind_; }

  // Pre-processes every frame, runs the good ones as one batch (in chunks of at most
  // `max_batch`), post-processes each. One result per frame, in order.
  std::vector<FrameResult> run(std::span<const Frame> frames, int max_batch = 10);

  ClassificationConfig classification;
  DetectionConfig detection;

 private:
  Model& model_;
  TaskKind kind_;
  int width_, height_;
};

}  // namespace coedge::infer
