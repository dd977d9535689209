#include "infer/stock_task.h"

#include <algorithm>

#include "infer/image.h"

namespace coedge::infer {

std::string_view to_string(TaskKind kind) {
  switch (kind) {
    case TaskKind::kClassification: return "classification";
    case TaskKind::kDetection: return "detection";
    case TaskKind::kSegmentation: return "segmentation";
  }
  return "";
}

Result<TaskKind> infer_task_kind(const std::string& path, const ModelInfo& info) {
  if (info.outputs.empty()) return Error{ErrorCode::kUnsupported, path + ": the model declares no output"};
  const auto& out = info.outputs.front().shape;
  const bool segmentation = is_segmentation(info);
  if (info.kind_hint == "segmentation" && !segmentation) {
    return Error{ErrorCode::kUnsupported,
                 path + ": its metadata says segmentation, but output " + shape_string(out) +
                     " is not [N, C, H, W] with 2 to 255 classes and a fixed H and W"};
  }
  if (segmentation) return TaskKind::kSegmentation;
  if (out.size() == 2 && out[1] > 0) return TaskKind::kClassification;
  if (out.size() == 3 && out[2] >= 6) return TaskKind::kDetection;
  if (out.size() == 4) {
    return Error{ErrorCode::kUnsupported,
                 path + ": output " + shape_string(out) +
                     " may be per-pixel classes: a segmentation model declares itself (an ONNX file's metadata "
                     "prop coedge.kind = segmentation, a TorchScript file's coedge.json \"kind\"; docs/MODELS.md), "
                     "with 2 to 255 classes (one byte per pixel) and a fixed H and W"};
  }
  return Error{ErrorCode::kUnsupported,
               path + ": output " + shape_string(out) +
                   " is neither [N, classes] (classification), [N, rows, 5 + classes] "
                   "(YOLO-style detection) nor [N, C, H, W] (segmentation)"};
}

Result<TaskKind> infer_task_kind(const Model& model) { return infer_task_kind(model.path(), model.info()); }

StockTask::StockTask(Model& model, TaskKind kind) : model_(model), kind_(kind) {
  const auto shape = model.item_shape();
  COEDGE_CHECK(shape.size() == 3 && shape[0] == 3);
  height_ = static_cast<int>(shape[1]);
  width_ = static_cast<int>(shape[2]);
  classification.width = width_;
  classification.height = height_;
}

std::vector<FrameResult> StockTask::run(std::span<const Frame> frames, int max_batch) {
  std::vector<FrameResult> results(frames.size());
  const size_t item = 3 * static_cast<size_t>(width_) * static_cast<size_t>(height_);
  const int chunk = std::max(1, model_.fixed_batch() > 0 ? static_cast<int>(model_.fixed_batch())
                                                         : max_batch);
  std::vector<size_t> good;           // frames in the current batch
  std::vector<Letterbox> letterboxes;  // parallel to `good`, detection only
  Tensor batch;

  auto flush = [&] {
    if (good.empty()) return;
    batch.shape = {static_cast<int64_t>(good.size()), 3, height_, width_};
    batch.data.resize(good.size() * item);  // fixed-batch models are padded with zeros
    if (model_.fixed_batch() > 0 && static_cast<int64_t>(good.size()) < model_.fixed_batch()) {
      batch.shape[0] = model_.fixed_batch();
      batch.data.resize(static_cast<size_t>(model_.fixed_batch()) * item, 0.0f);
    }
    if (kind_ == TaskKind::kSegmentation) {
      // What the inference server runs: the argmax, then class areas per item.
      auto labels = model_.run_argmax(batch);
      for (size_t i = 0; i < good.size(); ++i) {
        FrameResult& r = results[good[i]];
        if (labels.ok()) r.areas = class_areas(labels->item(static_cast<int64_t>(i)));
        else r.status = labels.error();
      }
      good.clear();
      return;
    }
    auto output = model_.run(batch);
    for (size_t i = 0; i < good.size(); ++i) {
      FrameResult& r = results[good[i]];
      if (!output.ok()) {
        r.status = output.error();
        continue;
      }
      const std::span<const float> row = output->item(static_cast<int64_t>(i));
      if (kind_ == TaskKind::kClassification) {
        r.classes = classification_postprocess(row, classification.top_k);
      } else {
        auto detections = detection_postprocess(row, static_cast<int>(output->shape.back()),
                                                letterboxes[i], detection);
        if (detections.ok()) r.detections = std::move(detections.value());
        else r.status = detections.error();
      }
    }
    good.clear();
    letterboxes.clear();
  };

  for (size_t f = 0; f < frames.size(); ++f) {
    cv::Mat image;
    if (const auto* bytes = std::get_if<std::span<const uint8_t>>(&frames[f])) {
      auto decoded = decode_image(*bytes);
      if (!decoded.ok()) {
        results[f].status = decoded.error();
        continue;
      }
      image = std::move(decoded.value());
    } else {
      image = std::get<cv::Mat>(frames[f]);
    }
    batch.data.resize((good.size() + 1) * item);
    const std::span<float> slot(batch.data.data() + good.size() * item, item);
    if (kind_ != TaskKind::kDetection) {  // segmentation pre-processes as classification
      if (Status st = classification_preprocess(image, classification, slot); !st.ok()) {
        results[f].status = st;
        continue;
      }
    } else {
      auto lb = detection_preprocess(image, width_, height_, slot);
      if (!lb.ok()) {
        results[f].status = lb.error();
        continue;
      }
      letterboxes.push_back(lb.value());
    }
    good.push_back(f);
    if (static_cast<int>(good.size()) == chunk) flush();
  }
  flush();
  return results;
}

}  // namespace coedge::infer
