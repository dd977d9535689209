// The segmentation task type: a model whose output is per-pixel class logits [N, C, H, W]
// (DeepLabV3's "out", for instance). The inference server reduces that output to one
// class id per pixel (Model::run_argmax, backend.h), so a job's output crosses shared
// memory as H*W bytes; the stock post-processing turns those ids into class areas (the
// fraction of the image each class covers). The stock pre-processing is classification's
// (resize + ImageNet normalisation, what torchvision's segmentation models expect).
// Pure functions, no OpenCV: part of coedge_infer_api, so that the node's inference
// engine decides "segmentation or not" by the same rule as the agent.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "infer/model_info.h"

namespace coedge::infer {

// A class id is one byte, and a mask with one class says nothing.
inline constexpr int64_t kMinSegmentationClasses = 2;
inline constexpr int64_t kMaxSegmentationClasses = 255;

// The class count C of a segmentation output shape [N, C, H, W] (N may be dynamic, -1),
// with 2 <= C <= 255 and H, W fixed and positive; 0 for any other shape.
int64_t segmentation_classes(std::span<const int64_t> output_shape);

// True when the file declares itself a segmentation model (ModelInfo::kind_hint: a
// TorchScript file's coedge.json "kind", an ONNX file's metadata prop "coedge.kind") and
// its first output is one (segmentation_classes > 0). Declared, not guessed from the
// shape: a [N, C, H, W] output may as well be a heatmap or a feature map that a task's
// own worker reads as floats. The server takes the argmax for exactly these models, and
// the agent sizes their output chunks at H*W bytes: one rule for both.
bool is_segmentation(const ModelInfo& info);

// Classes covering less than this fraction of the image are left out of the stock result.
inline constexpr double kMinAreaFraction = 0.005;

struct ClassArea {
  int class_id = 0;
  uint64_t pixels = 0;
  double fraction = 0;  // pixels / all pixels of the mask
};

// The classes of a label map (one id per pixel) that cover at least `min_fraction` of it,
// largest first (ties: lower class id). Empty for an empty map.
std::vector<ClassArea> class_areas(std::span<const uint8_t> labels,
                                   double min_fraction = kMinAreaFraction);

}  // namespace coedge::infer
