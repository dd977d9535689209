#include "infer/profiler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "core/rng.h"
#include "infer/image.h"
#include "media/codecs_plugin.h"

namespace coedge::infer {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

// A 1280x720 frame with some structure, JPEG-encoded as a camera would send it.
Result<std::vector<uint8_t>> sample_frame() {
  cv::Mat frame(720, 1280, CV_8UC3);
  cv::randu(frame, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::GaussianBlur(frame, frame, cv::Size(9, 9), 3);
  cv::rectangle(frame, cv::Rect(400, 200, 300, 180), cv::Scalar(40, 160, 220), cv::FILLED);
  auto codecs = media::codecs();
  if (!codecs.ok()) return codecs.error();
  std::vector<uint8_t> bytes;
  if (!(*codecs)->imencode(".jpg", frame, bytes)) {
    return Error{ErrorCode::kIo, "cannot encode the profiler's sample frame as JPEG"};
  }
  return bytes;
}

}  // namespace

Result<ModelMeasurement> profile_model(Model& model, const std::string& name,
                                       const ProfileOptions& o) {
  COEDGE_CHECK(o.min_batch >= 1 && o.min_batch <= o.max_batch && o.runs >= 1 && o.warmup >= 0);
  auto kind = infer_task_kind(model);
  if (!kind.ok()) return kind.error();
  if (model.fixed_batch() > 0 && (o.min_batch != model.fixed_batch() || o.max_batch != model.fixed_batch())) {
    return Error{ErrorCode::kUnsupported,
                 model.path() + ": the file fixes the batch size to " +
                     std::to_string(model.fixed_batch()) +
                     "; export it with a dynamic batch axis to profile batch sizes " +
                     std::to_string(o.min_batch) + "-" + std::to_string(o.max_batch)};
  }
  ModelMeasurement m;
  m.name = name;
  m.kind = kind.value();
  m.input_shape = model.item_shape();

  const int per_batch = o.warmup + o.runs;
  const int stock_passes = o.stock ? 2 * (o.warmup + o.runs) : 0;
  const int total = per_batch * (o.max_batch - o.min_batch + 1) + stock_passes;
  int done = 0;
  auto step = [&](const std::string& what) {
    ++done;
    if (o.progress) o.progress(done, total, what);
  };

  Rng rng(2023);
  for (int b = o.min_batch; b <= o.max_batch; ++b) {
    std::vector<int64_t> shape{b};
    shape.insert(shape.end(), m.input_shape.begin(), m.input_shape.end());
    Tensor input = Tensor::zeros(shape);
    for (float& v : input.data) v = static_cast<float>(rng.uniform());
    std::vector<double> times;
    const std::string what = "batch " + std::to_string(b);
    for (int r = 0; r < per_batch; ++r) {
      const auto start = Clock::now();
      // A segmentation model is timed as the server runs it: the pass and its argmax.
      Status ran = Ok{};
      if (m.kind == TaskKind::kSegmentation) {
        if (auto out = model.run_argmax(input); !out.ok()) ran = out.error();
      } else if (auto out = model.run(input); !out.ok()) {
        ran = out.error();
      }
      const double elapsed = ms_since(start);
      if (!ran.ok()) return ran.error();
      if (r >= o.warmup) times.push_back(elapsed);
      step(what);
    }
    m.batches.push_back({b, quantile(times, 0.5), quantile(times, 0.95)});
  }

  if (!o.stock) return m;
  // Stock pre/post on one frame, with a real output of the model to post-process.
  StockTask task(model, m.kind);
  const auto jpeg = sample_frame();
  if (!jpeg.ok()) return jpeg.error();
  std::vector<double> pre_times, post_times;
  const size_t item = 3 * static_cast<size_t>(m.input_shape[1] * m.input_shape[2]);
  std::vector<float> buffer(item);
  Tensor one = Tensor::zeros({1, m.input_shape[0], m.input_shape[1], m.input_shape[2]});
  Letterbox letterbox;
  for (int r = 0; r < o.warmup + o.runs; ++r) {
    const auto start = Clock::now();
    auto image = decode_image(*jpeg);
    if (!image.ok()) return image.error();
    if (m.kind != TaskKind::kDetection) {  // segmentation's stock pre is classification's
      if (Status st = classification_preprocess(*image, task.classification, buffer); !st.ok())
        return st.error();
    } else {
      auto lb = detection_preprocess(*image, static_cast<int>(m.input_shape[2]),
                                     static_cast<int>(m.input_shape[1]), buffer);
      if (!lb.ok()) return lb.error();
      letterbox = lb.value();
    }
    if (r >= o.warmup) pre_times.push_back(ms_since(start));
    step("pre-processing");
  }
  std::copy(buffer.begin(), buffer.end(), one.data.begin());
  Result<Tensor> output = Tensor{};
  Result<LabelMap> labels = LabelMap{};
  if (m.kind == TaskKind::kSegmentation) labels = model.run_argmax(one);
  else output = model.run(one);
  if (!output.ok()) return output.error();
  if (!labels.ok()) return labels.error();
  for (int r = 0; r < o.warmup + o.runs; ++r) {
    const auto start = Clock::now();
    if (m.kind == TaskKind::kSegmentation) {
      if (class_areas(labels->item(0)).empty())
        return Error{ErrorCode::kUnsupported, model.path() + ": the model output is empty"};
    } else if (m.kind == TaskKind::kClassification) {
      if (classification_postprocess(output->item(0), task.classification.top_k).empty())
        return Error{ErrorCode::kUnsupported, model.path() + ": the model output is empty"};
    } else {
      auto detections = detection_postprocess(output->item(0), static_cast<int>(output->shape.back()),
                                              letterbox, task.detection);
      if (!detections.ok()) return detections.error();
    }
    if (r >= o.warmup) post_times.push_back(ms_since(start));
    step("post-processing");
  }
  m.pre_ms = quantile(pre_times, 0.5);
  m.post_ms = quantile(post_times, 0.5);
  return m;
}

ModelProfile to_model_profile(const ModelMeasurement& m, std::string& notes) {
  COEDGE_CHECK(m.batches.size() == kMaxBatch && m.batches.front().batch == 1);
  ModelProfile p;
  p.name = m.name;
  p.input_shape = m.input_shape;
  p.input_bytes = 1;
  for (int64_t d : m.input_shape) p.input_bytes *= d;  // one uint8 frame at the input size
  Duration previous{0};
  for (int b = 1; b <= kMaxBatch; ++b) {
    Duration t = from_ms(m.batches[static_cast<size_t>(b - 1)].median_ms);
    if (t < Duration{1}) t = Duration{1};
    if (t < previous) {
      char line[160];
      std::snprintf(line, sizeof line, "%s: ExeTime(%d) raised from %.3f ms to %.3f ms (noise: "
                    "it measured below ExeTime(%d))\n", m.name.c_str(), b, to_ms(t),
                    to_ms(previous), b - 1);
      notes += line;
      t = previous;
    }
    p.exe_time[static_cast<size_t>(b - 1)] = t;
    previous = t;
  }
  p.pre_time = from_ms(m.pre_ms);
  p.post_time = from_ms(m.post_ms);
  p.profile_source = "measured";
  return p;
}

}  // namespace coedge::infer
