// The stock worker behind the SDK's callbacks (node/stock_worker.h), driven as the SDK
// drives a post worker: init with a coedge_task_info (a 100x100 input; class names
// `class "N"` when asked), post on the output of a 100x100 frame without letterbox, fini.
// Test code only (stock_worker_test, result_publisher_test).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "node/stock_worker.h"

namespace coedge::node::testing {

struct StockWorker {
  const coedge_worker_callbacks* cb = stock_worker_callbacks();
  void* state = nullptr;
  std::vector<std::string> names;
  std::vector<const char*> name_ptrs;

  // `kind` "detection" ([rows, 5 + classes]) or "classification" ([classes]).
  StockWorker(const std::string& kind, int classes, double confidence, double nms_iou, bool labels) {
    coedge_task_info info{};
    info.node = "n";
    info.task = "t";
    info.model = "m";
    info.kind = kind.c_str();
    info.task_dir = "/nonexistent";
    info.role = "post";
    info.input_rank = 3;
    info.input_shape[0] = 3;
    info.input_shape[1] = 100;
    info.input_shape[2] = 100;
    info.confidence = confidence;
    info.nms_iou = nms_iou;
    if (labels) {
      for (int i = 0; i < classes; ++i) names.push_back("class \"" + std::to_string(i) + "\"");
      for (const std::string& n : names) name_ptrs.push_back(n.c_str());
      info.label_count = classes;
      info.labels = name_ptrs.data();
    }
    char error[512] = {0};
    state = cb->init(&info, error, sizeof error);
    EXPECT_NE(state, nullptr) << error;
  }
  ~StockWorker() {
    if (state != nullptr) cb->fini(state);
  }

  // The result text of one post call on `data` of `shape`.
  std::string post_text(const std::vector<float>& data, std::vector<int64_t> shape, size_t result_size = 64 * 1024) {
    coedge_output out{};
    out.data = data.data();
    out.elements = data.size();
    out.rank = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) out.shape[i] = shape[i];
    // The letterbox of a 100x100 frame in a 100x100 input: scale 1, no padding.
    out.aux[0] = 1;
    out.aux[3] = 100;
    out.aux[4] = 100;
    std::vector<char> result(result_size, '\0');
    char error[512] = {0};
    EXPECT_EQ(cb->post(state, &out, result.data(), result.size(), error, sizeof error), 0) << error;
    return std::string(result.data());
  }
};

}  // namespace coedge::node::testing
