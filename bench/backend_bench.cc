// coedge_backend_bench: the same model files and batch sizes on both inference backends,
// side by side in one run, and the ratio of their speeds (docs/PERFORMANCE.md, "Backends").
//
// For each model it loads NAME.onnx on OpenCV DNN and NAME.pt on libtorch (the generator
// writes both from the same weights), warms each up at each batch size, then times
// `--runs` rounds of one forward pass on each, the order alternating from round to round
// (A B, B A, ...), so that a change of machine load falls on both alike. It prints the
// median and p95 per backend, images per second, and torch ÷ OpenCV images per second;
// for resnet18-224 also PASS/FAIL against the goals (≥ 1.7× at batch 1, ≥ 2.0× at
// batch 4). With --parity it runs one seeded batch through both and compares the outputs:
// |a − b| ≤ 1e-3·max|a| + 1e-4 element by element (a: torch), the same top-1 class for a
// classifier, the same boxes after the stock post-processing for a detector, the same
// labels for a segmenter.
//
// A plain main rather than Google Benchmark, which cannot interleave two subjects. Nothing
// here is asserted: the figures are for reading (the machine may be shared and noisy).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "infer/backend.h"
#include "infer/classification.h"
#include "infer/detection.h"
#include "infer/make_backend.h"
#include "infer/parity.h"
#include "infer/stock_task.h"

namespace {

using namespace coedge;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> models{"resnet18-224", "vgg19-160", "yolov5s-640"};
  std::string models_dir = COEDGE_BINARY_DIR "/models";
  std::vector<int> batches{1, 4};
  int runs = 20;
  int warmup = 3;
  int threads = 0;  // 0: every core of the machine
  bool parity = false;
  std::string format = "table";
};

struct Timing {
  double median_ms = 0, p95_ms = 0;
};

struct Row {
  std::string model;
  int batch = 0;
  Timing opencv, torch;
  double ratio() const { return opencv.median_ms / torch.median_ms; }  // torch ÷ OpenCV images/s
  std::string goal;  // "PASS (≥ 1.7×)" or "" when the model has no goal
};

struct Parity {
  std::string model;
  double max_abs_diff = 0, tolerance = 0;
  size_t elements_over = 0;
  std::string agreement;  // top-1 / boxes / labels, in words
  bool pass = false;
};

struct Loaded {
  std::string model;
  std::unique_ptr<infer::Model> opencv, torch;
  std::string skipped;  // why a backend could not load the model (it is measured on the other)
};

Timing summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(std::ceil(q * ms.size())) - 1)]; };
  return {at(0.5), at(0.95)};
}

infer::Tensor seeded_batch(const infer::Model& model, int batch, uint64_t seed) {
  std::vector<int64_t> shape{batch};
  for (int64_t d : model.item_shape()) shape.push_back(d);
  infer::Tensor t = infer::Tensor::zeros(shape);
  Rng rng(seed);
  for (float& v : t.data) v = static_cast<float>(rng.uniform());
  return t;
}

double forward_ms(infer::Model& model, const infer::Tensor& input) {
  const auto start = Clock::now();
  auto out = model.run(input);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!out.ok()) {
    std::fprintf(stderr, "coedge_backend_bench: %s\n", out.error().message.c_str());
    std::exit(1);
  }
  return ms;
}

// One backend's timings, or none (NaN) when it could not load the model.
Timing summarize_or_none(const std::vector<double>& ms) {
  return ms.empty() ? Timing{std::nan(""), std::nan("")} : summarize(ms);
}

Row measure(Loaded& m, int batch, const Options& o) {
  infer::Model* opencv = m.opencv.get();
  infer::Model* torch = m.torch.get();
  const infer::Tensor input = seeded_batch(opencv ? *opencv : *torch, batch, 2023);
  auto pass = [&](infer::Model* model, std::vector<double>& into) {
    if (model) into.push_back(forward_ms(*model, input));
  };
  std::vector<double> warm, a, b;
  for (int i = 0; i < o.warmup; ++i) {
    pass(opencv, warm);
    pass(torch, warm);
  }
  for (int r = 0; r < o.runs; ++r) {
    if (r % 2 == 0) {
      pass(opencv, a);
      pass(torch, b);
    } else {
      pass(torch, b);
      pass(opencv, a);
    }
  }
  Row row{m.model, batch, summarize_or_none(a), summarize_or_none(b), ""};
  if (m.model == "resnet18-224" && (batch == 1 || batch == 4)) {
    const double goal = batch == 1 ? 1.7 : 2.0;
    char text[64];
    std::snprintf(text, sizeof text, "%s (goal >= %.1fx)", row.ratio() >= goal ? "PASS" : "FAIL", goal);
    row.goal = text;
  }
  return row;
}

double iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  return inter <= 0 ? 0.0 : inter / (a.area() + b.area() - inter);
}

Parity check_parity(Loaded& m) {
  constexpr int kBatch = 3;
  Parity p;
  p.model = m.model;
  const infer::Tensor input = seeded_batch(*m.opencv, kBatch, 7);
  auto kind = infer::infer_task_kind(*m.torch);
  auto a = m.torch->run(input);
  auto b = m.opencv->run(input);
  if (!a.ok() || !b.ok() || !kind.ok() || a->shape != b->shape) {
    p.agreement = !a.ok() ? a.error().message : !b.ok() ? b.error().message : !kind.ok() ? kind.error().message
                                                                                          : "output shapes differ";
    return p;
  }
  const infer::ParityReport tensors = infer::compare_outputs(a->data, b->data);
  p.tolerance = tensors.tolerance;
  p.max_abs_diff = tensors.max_diff;
  p.elements_over = tensors.over;
  bool agree = true;
  if (*kind == infer::TaskKind::kClassification) {
    int same = 0;
    for (int64_t i = 0; i < kBatch; ++i) {
      const auto ta = infer::classification_postprocess(a->item(i), 1), tb = infer::classification_postprocess(b->item(i), 1);
      same += !ta.empty() && !tb.empty() && ta[0].class_id == tb[0].class_id;
    }
    agree = same == kBatch;
    p.agreement = "top-1 " + std::to_string(same) + "/" + std::to_string(kBatch);
  } else if (*kind == infer::TaskKind::kDetection) {
    const int row_size = static_cast<int>(a->shape.back());
    const auto side = static_cast<float>(m.opencv->item_shape().back());
    infer::Letterbox box;
    box.frame = cv::Size(static_cast<int>(side), static_cast<int>(side));
    size_t boxes = 0, matched = 0;
    for (int64_t i = 0; i < kBatch; ++i) {
      auto da = infer::detection_postprocess(a->item(i), row_size, box, {});
      auto db = infer::detection_postprocess(b->item(i), row_size, box, {});
      if (!da.ok() || !db.ok()) {
        agree = false;
        continue;
      }
      boxes += da->size();
      agree &= da->size() == db->size();
      for (size_t k = 0; k < std::min(da->size(), db->size()); ++k)
        matched += (*da)[k].class_id == (*db)[k].class_id && iou((*da)[k].box, (*db)[k].box) >= 0.99;
    }
    agree &= matched == boxes;
    p.agreement = "boxes " + std::to_string(matched) + "/" + std::to_string(boxes) + " (IoU >= 0.99, same class)";
    if (boxes == 0) p.agreement = "no boxes above the confidence threshold on either side (tensors compared only)";
  } else {
    auto la = infer::argmax_channels(*a), lb = infer::argmax_channels(*b);
    size_t same = 0;
    if (la.ok() && lb.ok())
      for (size_t i = 0; i < la->data.size(); ++i) same += la->data[i] == lb->data[i];
    agree = la.ok() && lb.ok() && same == la->data.size();
    p.agreement = "labels " + std::to_string(same) + "/" + std::to_string(la.ok() ? la->data.size() : 0);
  }
  p.pass = agree && p.elements_over == 0;
  return p;
}

void print(const std::vector<Row>& rows, const std::vector<Parity>& parity, const std::vector<Loaded>& loaded,
           const Options& o) {
  if (o.format == "json") {
    nlohmann::ordered_json doc;
    doc["runs"] = o.runs;
    doc["threads"] = o.threads;
    for (const Row& r : rows)
      doc["rows"].push_back({{"model", r.model}, {"batch", r.batch},
                             {"opencv_ms", {{"median", r.opencv.median_ms}, {"p95", r.opencv.p95_ms}}},
                             {"torch_ms", {{"median", r.torch.median_ms}, {"p95", r.torch.p95_ms}}},
                             {"opencv_img_s", 1000.0 * r.batch / r.opencv.median_ms},
                             {"torch_img_s", 1000.0 * r.batch / r.torch.median_ms},
                             {"torch_over_opencv", r.ratio()}, {"goal", r.goal}});
    for (const Parity& p : parity)
      doc["parity"].push_back({{"model", p.model}, {"max_abs_diff", p.max_abs_diff}, {"tolerance", p.tolerance},
                               {"elements_over", p.elements_over}, {"agreement", p.agreement}, {"pass", p.pass}});
    for (const Loaded& l : loaded)
      if (!l.skipped.empty()) doc["not_loaded"].push_back({{"model", l.model}, {"why", l.skipped}});
    std::printf("%s\n", doc.dump(2).c_str());
    return;
  }
  const bool md = o.format == "markdown";
  std::printf(md ? "| model | batch | OpenCV DNN ms/img (p95) | torch ms/img (p95) | OpenCV img/s | torch img/s | torch ÷ OpenCV | goal |\n|---|---|---|---|---|---|---|---|\n"
                 : "%-14s %5s %22s %22s %12s %12s %9s  %s\n",
              "model", "batch", "OpenCV ms/img (p95)", "torch ms/img (p95)", "OpenCV img/s", "torch img/s", "ratio", "goal");
  for (const Row& r : rows) {
    char a[48], b[48];
    std::snprintf(a, sizeof a, "%.2f (%.2f)", r.opencv.median_ms / r.batch, r.opencv.p95_ms / r.batch);
    std::snprintf(b, sizeof b, "%.2f (%.2f)", r.torch.median_ms / r.batch, r.torch.p95_ms / r.batch);
    if (std::isnan(r.opencv.median_ms)) std::snprintf(a, sizeof a, "does not load");
    if (std::isnan(r.torch.median_ms)) std::snprintf(b, sizeof b, "does not load");
    std::printf(md ? "| %s | %d | %s | %s | %.1f | %.1f | %.2f× | %s |\n" : "%-14s %5d %22s %22s %12.1f %12.1f %8.2fx  %s\n",
                r.model.c_str(), r.batch, a, b, 1000.0 * r.batch / r.opencv.median_ms,
                1000.0 * r.batch / r.torch.median_ms, r.ratio(), r.goal.c_str());
  }
  if (!parity.empty()) {
    std::printf(md ? "\n| model | max abs diff | tolerance | elements over | agreement | parity |\n|---|---|---|---|---|---|\n"
                   : "\n%-14s %14s %12s %14s  %-40s %s\n",
                "model", "max |a-b|", "tolerance", "elements over", "agreement", "parity");
    for (const Parity& p : parity)
      std::printf(md ? "| %s | %.3g | %.3g | %zu | %s | %s |\n" : "%-14s %14.3g %12.3g %14zu  %-40s %s\n", p.model.c_str(),
                  p.max_abs_diff, p.tolerance, p.elements_over, p.agreement.c_str(), p.pass ? "PASS" : "FAIL");
  }
  for (const Loaded& l : loaded)
    if (!l.skipped.empty())
      std::printf("\n%s %s: %s\n", l.model.c_str(), l.opencv || l.torch ? "measured on one backend only" : "left out",
                  l.skipped.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Both inference backends on the same models and batch sizes, interleaved, in one run; "
               "prints each one's time per image and torch ÷ OpenCV DNN images per second (docs/PERFORMANCE.md)."};
  app.add_option("--models", o.models, "Model names (NAME.onnx and NAME.pt in --models-dir) or paths to NAME.onnx")
      ->delimiter(',')->capture_default_str();
  app.add_option("--models-dir", o.models_dir, "Folder of the generated models")->capture_default_str();
  app.add_option("--batches", o.batches, "Batch sizes, e.g. 1,4")->delimiter(',')->check(CLI::Range(1, 10))->capture_default_str();
  app.add_option("--runs", o.runs, "Timed rounds per batch size (each round: one pass on each backend; at least 20)")
      ->check(CLI::Range(20, 100000))->capture_default_str();
  app.add_option("--warmup", o.warmup, "Untimed passes per backend and batch size first")->check(CLI::Range(0, 1000))->capture_default_str();
  app.add_option("--threads", o.threads, "Inference threads of both backends (0: every core)")->check(CLI::Range(0, 1024))->capture_default_str();
  app.add_flag("--parity", o.parity, "Also compare the outputs of one seeded batch of 3 on both backends");
  app.add_option("--format", o.format, "table, markdown or json")->check(CLI::IsMember({"table", "markdown", "json"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  infer::BackendOptions options;
  options.threads = o.threads;
  options.max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  auto opencv = infer::make_backend("opencv", options);
  auto torch = infer::make_backend("torch", options);
  if (!opencv.ok() || !torch.ok()) {
    std::fprintf(stderr, "coedge_backend_bench: %s\n", (!opencv.ok() ? opencv : torch).error().message.c_str());
    return 1;
  }
  std::vector<Loaded> loaded;
  for (const std::string& name : o.models) {
    namespace fs = std::filesystem;
    const fs::path onnx = name.find('/') != std::string::npos ? fs::path(name) : fs::path(o.models_dir) / (name + ".onnx");
    Loaded m;
    m.model = onnx.stem().string();
    auto a = (*opencv)->load(onnx.string());
    auto b = (*torch)->load(fs::path(onnx).replace_extension(".pt").string());
    if (a.ok()) m.opencv = std::move(*a);
    if (b.ok()) m.torch = std::move(*b);
    if (!a.ok()) m.skipped = "OpenCV DNN: " + a.error().message;
    if (!b.ok()) m.skipped += (m.skipped.empty() ? "" : "; ") + std::string("torch: ") + b.error().message;
    loaded.push_back(std::move(m));
  }
  std::vector<Row> rows;
  std::vector<Parity> parity;
  for (Loaded& m : loaded) {
    if (!m.opencv && !m.torch) continue;
    if (o.parity && m.opencv && m.torch) parity.push_back(check_parity(m));
    const infer::Model& any = m.opencv ? *m.opencv : *m.torch;
    for (int b : o.batches) {
      if (any.fixed_batch() > 0 && any.fixed_batch() != b) continue;
      rows.push_back(measure(m, b, o));
      if (::isatty(STDERR_FILENO)) std::fprintf(stderr, "measured %s at batch %d\n", m.model.c_str(), b);
    }
  }
  print(rows, parity, loaded, o);
  if (rows.empty()) {
    std::fprintf(stderr, "coedge_backend_bench: no model was measured (every one was left out)\n");
    return 1;
  }
  return 0;
}
