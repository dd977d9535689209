#include "node/stock_worker.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>

#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "infer/classification.h"
#include "infer/detection.h"
#include "infer/segmentation.h"
#include "media/codecs_plugin.h"

namespace coedge::node {
namespace {

struct StockState {
  bool detection = false;
  bool segmentation = false;            // pre as classification; post: class areas
  std::string masks_dir;                // segmentation with masks: png: TASK_DIR/masks; else ""
  int width = 0, height = 0;
  infer::ClassificationConfig classification;
  infer::DetectionConfig detection_config;
  float min_probability = 0;             // classification: the task's confidence, if set
  std::vector<std::string> labels_json;  // per class id: its name as a JSON string; empty: none
};

// "name": the class's name from the model's labels file, or null without one.
void append_name(std::string& json, const StockState& state, int class_id) {
  json += ",\"name\":";
  if (class_id >= 0 && static_cast<size_t>(class_id) < state.labels_json.size()) {
    json += state.labels_json[static_cast<size_t>(class_id)];
  } else {
    json += "null";
  }
}

void set_error(char* error, size_t size, const std::string& text) {
  if (size > 0) std::snprintf(error, size, "%s", text.c_str());
}

void* stock_init(const coedge_task_info* info, char* error, size_t error_size) {
  auto state = std::make_unique<StockState>();
  const std::string kind = info->kind ? info->kind : "";
  if (kind != "classification" && kind != "detection" && kind != "segmentation") {
    set_error(error, error_size,
              "the stock worker handles classification, detection and segmentation models, not '" + kind + "'");
    return nullptr;
  }
  if (info->input_rank != 3 || info->input_shape[0] != 3) {
    set_error(error, error_size, "the stock worker needs a [3, H, W] input item");
    return nullptr;
  }
  state->detection = kind == "detection";
  state->segmentation = kind == "segmentation";
  if (state->segmentation && info->output_rank != 2) {
    set_error(error, error_size, "a segmentation task's output item must be its class ids [H, W]");
    return nullptr;
  }
  const std::string masks = info->masks ? info->masks : "";
  if (state->segmentation && masks == "png" && std::string(info->role ? info->role : "") == "post") {
    state->masks_dir = std::string(info->task_dir ? info->task_dir : ".") + "/masks";
    std::error_code ec;
    std::filesystem::create_directories(state->masks_dir, ec);
    if (ec) {
      set_error(error, error_size, "cannot create " + state->masks_dir + " for the masks: " + ec.message());
      return nullptr;
    }
  }
  state->height = static_cast<int>(info->input_shape[1]);
  state->width = static_cast<int>(info->input_shape[2]);
  state->classification.width = state->width;
  state->classification.height = state->height;
  // The task's thresholds (node config tasks[i].confidence / nms_iou); -1: the defaults.
  if (info->confidence >= 0) {
    state->detection_config.confidence = static_cast<float>(info->confidence);
    state->min_probability = static_cast<float>(info->confidence);
  }
  if (info->nms_iou >= 0) state->detection_config.nms_iou = static_cast<float>(info->nms_iou);
  // Names escaped once, here: the agent validated them as UTF-8 (config/node_config_loader.h).
  for (int32_t i = 0; i < info->label_count && info->labels != nullptr; ++i) {
    try {
      state->labels_json.push_back(nlohmann::json(std::string(info->labels[i] ? info->labels[i] : "")).dump());
    } catch (const nlohmann::json::exception&) {
      set_error(error, error_size, "class name " + std::to_string(i) + " is not UTF-8 text");
      return nullptr;
    }
  }
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
  if (!state->detection) {  // segmentation pre-processes as classification
    const Status st = infer::classification_preprocess(image, state->classification, out);
    if (!st.ok()) {
      set_error(error, error_size, st.error().message);
      return 1;
    }
    tensor->aux[3] = frame->width;  // the frame's size, for the result (the mask is at model size)
    tensor->aux[4] = frame->height;
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

// `one` more item still leaves room for the closing `],"truncated":true}` and the NUL.
bool fits(const std::string& json, const std::string& one, size_t result_size) {
  return json.size() + one.size() + 24 <= result_size;
}

// Writes `labels` ([height, width] class ids) as an 8-bit single-channel PNG at `path`,
// through the media plugin, to a temporary name renamed into place (a reader never sees
// half a file).
bool write_mask_png(const std::string& path, const uint8_t* labels, int width, int height, std::string& why) {
  auto codecs = media::codecs();
  if (!codecs.ok()) {
    why = codecs.error().message;
    return false;
  }
  const cv::Mat mask(height, width, CV_8UC1, const_cast<uint8_t*>(labels));
  std::vector<uint8_t> bytes;
  try {
    if (!(*codecs)->imencode(".png", mask, bytes)) {
      why = "cannot encode the mask as PNG";
      return false;
    }
  } catch (const cv::Exception& e) {
    why = std::string("cannot encode the mask as PNG: ") + e.what();
    return false;
  }
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      why = "cannot write " + temp;
      return false;
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    why = "cannot rename " + temp + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// {"classes":[{"class":K,"name":...,"area":F},...],"frame":[W,H][,"mask":"PATH"]}: the
// classes covering at least 0.5% of the mask, largest first (infer::class_areas).
// `names`: with each class's name (left out when the result would not fit otherwise).
int segmentation_post(const StockState& state, const coedge_output* output, bool names, std::string& json,
                      std::string& why) {
  constexpr int64_t kMaxSide = 1 << 16;  // a mask side the PNG writer (int sizes) takes
  if (output->dtype != COEDGE_DTYPE_U8 || output->labels == nullptr || output->rank != 2 ||
      output->shape[0] <= 0 || output->shape[1] <= 0 || output->shape[0] > kMaxSide || output->shape[1] > kMaxSide ||
      static_cast<uint64_t>(output->shape[0] * output->shape[1]) != output->elements) {
    why = "a segmentation output item must be [H, W] class ids, one byte each, sides up to 65536";
    return 1;
  }
  // The frame's size, as the pre-processing wrote it into aux (a worker's own numbers).
  const auto side = [](double v) { return std::isfinite(v) && v >= 0 && v <= kMaxSide ? static_cast<int>(v) : 0; };
  const auto areas = infer::class_areas(std::span<const uint8_t>(output->labels, output->elements));
  json = "{\"classes\":[";
  for (size_t i = 0; i < areas.size(); ++i) {  // at most 200 (>= 0.5% each): always fits
    char item[64];
    std::snprintf(item, sizeof item, "%s{\"class\":%d", i ? "," : "", areas[i].class_id);
    json += item;
    if (names) append_name(json, state, areas[i].class_id);
    std::snprintf(item, sizeof item, ",\"area\":%.4f}", areas[i].fraction);
    json += item;
  }
  char frame[64];
  std::snprintf(frame, sizeof frame, "],\"frame\":[%d,%d]", side(output->aux[3]), side(output->aux[4]));
  json += frame;
  if (!state.masks_dir.empty()) {
    const std::string path = state.masks_dir + "/" + std::to_string(output->job) + ".png";
    // Written once: a second call for the same job (without names) only names the file.
    if (names && !write_mask_png(path, output->labels, static_cast<int>(output->shape[1]),
                                 static_cast<int>(output->shape[0]), why)) {
      return 1;
    }
    json += ",\"mask\":" + nlohmann::json(path).dump();
  }
  json += "}";
  return 0;
}

int stock_post(void* opaque, const coedge_output* output, char* result, size_t result_size,
               char* error, size_t error_size) {
  auto* state = static_cast<StockState*>(opaque);
  if (state->segmentation) {
    std::string json, why;
    if (segmentation_post(*state, output, true, json, why) != 0) {
      set_error(error, error_size, why);
      return 1;
    }
    // Too long with names (200 classes with long ones): the ids and areas, which always fit.
    if (json.size() + 1 > result_size && segmentation_post(*state, output, false, json, why) != 0) {
      set_error(error, error_size, why);
      return 1;
    }
    if (json.size() + 1 > result_size) {
      set_error(error, error_size, "the segmentation result does not fit the result buffer");
      return 1;
    }
    std::memcpy(result, json.c_str(), json.size() + 1);
    return 0;
  }
  if (output->dtype != COEDGE_DTYPE_F32 || output->data == nullptr) {
    set_error(error, error_size, "the stock worker expects a float32 output for a " +
                                     std::string(state->detection ? "detection" : "classification") + " task");
    return 1;
  }
  const std::span<const float> data(output->data, output->elements);
  std::string json;
  bool truncated = false;  // items left out to fit result_size: "truncated":true says so
  if (!state->detection) {
    json = "{\"top\":[";
    const auto top = infer::classification_postprocess(data, state->classification.top_k);
    bool first = true;
    for (const infer::ClassScore& c : top) {
      if (c.probability < state->min_probability) continue;  // sorted: the rest are lower
      char item[64];
      std::string one;
      std::snprintf(item, sizeof item, "%s{\"class\":%d", first ? "" : ",", c.class_id);
      one += item;
      append_name(one, *state, c.class_id);
      std::snprintf(item, sizeof item, ",\"p\":%.4f}", c.probability);
      one += item;
      if (!fits(json, one, result_size)) {
        truncated = true;
        break;
      }
      json += one;
      first = false;
    }
    json += truncated ? "],\"truncated\":true}" : "]}";
  } else {
    if (output->rank != 2) {
      set_error(error, error_size, "detector output item is not [rows, 5 + classes]");
      return 1;
    }
    infer::Letterbox lb;
    lb.scale = output->aux[0];
    lb.pad_x = output->aux[1];
    lb.pad_y = output->aux[2];
    // aux is what the pre-processing wrote: a worker's numbers, checked before the casts.
    const auto side = [](double v) { return std::isfinite(v) && v >= 0 && v <= (1 << 16) ? static_cast<int>(v) : 0; };
    lb.frame = cv::Size(side(output->aux[3]), side(output->aux[4]));
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
      std::string one;
      std::snprintf(item, sizeof item, "%s{\"class\":%d", i ? "," : "", d.class_id);
      one += item;
      append_name(one, *state, d.class_id);
      std::snprintf(item, sizeof item, ",\"score\":%.3f,\"box\":[%.1f,%.1f,%.1f,%.1f]}", d.score, d.box.x, d.box.y,
                    d.box.width, d.box.height);
      one += item;
      if (!fits(json, one, result_size)) {  // sorted by score: the lowest are left out
        truncated = true;
        break;
      }
      json += one;
    }
    json += truncated ? "],\"truncated\":true}" : "]}";
  }
  if (json.size() + 1 > result_size) json = "{\"truncated\":true}";  // a result_size below any list
  std::memcpy(result, json.c_str(), json.size() + 1);
  return 0;
}

void stock_fini(void* opaque) { delete static_cast<StockState*>(opaque); }

const coedge_worker_callbacks kStock = {COEDGE_WORKER_ABI_VERSION, stock_init, stock_pre, stock_post,
                                        stock_fini};

}  // namespace

const coedge_worker_callbacks* stock_worker_callbacks() { return &kStock; }

}  // namespace coedge::node
