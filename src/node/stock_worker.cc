#include "node/stock_worker.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include <opencv2/core.hpp>

#include "infer/classification.h"
#include "infer/detection.h"

namespace coedge::node {
namespace {

struct StockState {
  bool detection = false;
  int width = 0, height = 0;
  infer::ClassificationConfig classification;
  infer::DetectionConfig detection_config;
};

void set_error(char* error, size_t size, const std::string& text) {
  if (size > 0) std::snprintf(error, size, "%s", text.c_str());
}

void* stock_init(const coedge_task_info* info, char* error, size_t error_size) {
  auto state = std::make_unique<StockState>();
  const std::string kind = info->kind ? info->kind : "";
  if (kind != "classification" && kind != "detection") {
    set_error(error, error_size, "the stock worker handles classification and detection models, not '" + kind + "'");
    return nullptr;
  }
  if (info->input_rank != 3 || info->input_shape[0] != 3) {
    set_error(error, error_size, "the stock worker needs a [3, H, W] input item");
    return nullptr;
  }
  state->detection = kind == "detection";
  state->height = static_cast<int>(info->input_shape[1]);
  state->width = static_cast<int>(info->input_shape[2]);
  state->classification.width = state->width;
  state->classification.height = state->height;
  return state.release();
}

int stock_pre(void* opaque, const coedge_frame* frame, coedge_tensor* tensor, char* error,
              size_t error_size) {
  auto* state = static_cast<StockState*>(opaque);
  if (frame->channels != 3 || frame->width <= 0 || frame->height <= 0) {
    set_error(error, error_size, "frame is not a non-empty 3-channel image");
    return 1;
  }
  // A header over the shared-memory pixels: read in place, never copied.
  const cv::Mat image(frame->height, frame->width, CV_8UC3, const_cast<uint8_t*>(frame->pixels),
                      static_cast<size_t>(frame->stride));
  const std::span<float> out(tensor->data, tensor->elements);
  if (!state->detection) {
    const Status st = infer::classification_preprocess(image, state->classification, out);
    if (!st.ok()) {
      set_error(error, error_size, st.error().message);
      return 1;
    }
    return 0;
  }
  auto letterbox = infer::detection_preprocess(image, state->width, state->height, out);
  if (!letterbox.ok()) {
    set_error(error, error_size, letterbox.error().message);
    return 1;
  }
  tensor->aux[0] = letterbox->scale;
  tensor->aux[1] = letterbox->pad_x;
  tensor->aux[2] = letterbox->pad_y;
  tensor->aux[3] = letterbox->frame.width;
  tensor->aux[4] = letterbox->frame.height;
  return 0;
}

int stock_post(void* opaque, const coedge_output* output, char* result, size_t result_size,
               char* error, size_t error_size) {
  auto* state = static_cast<StockState*>(opaque);
  const std::span<const float> data(output->data, output->elements);
  std::string json;
  if (!state->detection) {
    json = "{\"top\":[";
    const auto top = infer::classification_postprocess(data, state->classification.top_k);
    for (size_t i = 0; i < top.size(); ++i) {
      char item[64];
      std::snprintf(item, sizeof item, "%s{\"class\":%d,\"p\":%.4f}", i ? "," : "", top[i].class_id,
                    top[i].probability);
      json += item;
    }
    json += "]}";
  } else {
    if (output->rank != 2) {
      set_error(error, error_size, "detector output item is not [rows, 5 + classes]");
      return 1;
    }
    infer::Letterbox lb;
    lb.scale = output->aux[0];
    lb.pad_x = output->aux[1];
    lb.pad_y = output->aux[2];
    lb.frame = cv::Size(static_cast<int>(output->aux[3]), static_cast<int>(output->aux[4]));
    auto detections = infer::detection_postprocess(data, static_cast<int>(output->shape[1]), lb,
                                            state->detection_config);
    if (!detections.ok()) {
      set_error(error, error_size, detections.error().message);
      return 1;
    }
    json = "{\"detections\":[";
    for (size_t i = 0; i < detections->size(); ++i) {
      const infer::Detection& d = (*detections)[i];
      char item[160];
      std::snprintf(item, sizeof item, "%s{\"class\":%d,\"score\":%.3f,\"box\":[%.1f,%.1f,%.1f,%.1f]}",
                    i ? "," : "", d.class_id, d.score, d.box.x, d.box.y, d.box.width, d.box.height);
      json += item;
    }
    json += "]}";
  }
  if (json.size() + 1 > result_size) json = "{\"truncated\":true}";
  std::memcpy(result, json.c_str(), json.size() + 1);
  return 0;
}

void stock_fini(void* opaque) { delete static_cast<StockState*>(opaque); }

const coedge_worker_callbacks kStock = {COEDGE_WORKER_ABI_VERSION, stock_init, stock_pre, stock_post,
                                        stock_fini};

}  // namespace

const coedge_worker_callbacks* stock_worker_callbacks() { return &kStock; }

}  // namespace coedge::node
