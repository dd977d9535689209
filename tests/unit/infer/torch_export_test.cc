// End to end: a model as torch.onnx.export writes it (torch_export_fixture.py: torchvision
// MobileNetV3-Small, Identity nodes on initializers, squeeze-and-excitation blocks) loads
// in the OpenCV backend and computes what PyTorch computes at batches 1 to 4.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "infer/make_backend.h"
#include "infer/onnx_normalize.h"
#include "infer/parity.h"

namespace coedge::infer {
namespace {

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

TEST(TorchExport, ARawExportLoadsInOpencvAndMatchesPytorchAtEveryBatch) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("coedge-torch-export-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cmd = "/usr/bin/python3 " COEDGE_SOURCE_DIR "/tests/unit/infer/torch_export_fixture.py " + dir.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::string path = (dir / "model.onnx").string();

  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  NormalizeReport report;
  auto normalized = normalize_onnx(bytes, path, report);
  ASSERT_TRUE(normalized.ok()) << normalized.error().message;
  EXPECT_GT(report.identities_folded, 0) << "torch 1.13 wrote no Identity on initializers: " << report.summary();

  auto backend = make_backend("opencv", BackendOptions{});
  ASSERT_TRUE(backend.ok());
  auto model = backend.value()->load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  const auto input = read_floats((dir / "input.f32").string());
  const auto expected = read_floats((dir / "output.f32").string());
  ASSERT_EQ(input.size(), 4u * 3 * 64 * 64);
  ASSERT_EQ(expected.size(), 4u * 10);
  for (int64_t batch = 1; batch <= 4; ++batch) {
    SCOPED_TRACE(batch);
    Tensor t = Tensor::zeros({batch, 3, 64, 64});
    std::copy(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(t.data.size()), t.data.begin());
    auto out = model.value()->run(t);
    ASSERT_TRUE(out.ok()) << out.error().message;
    ASSERT_EQ(out->shape, (std::vector<int64_t>{batch, 10}));
    // The parity rule (infer/parity.h), torch's output the reference.
    const ParityReport r =
        compare_outputs(std::span<const float>(expected.data(), out->data.size()), out->data);
    EXPECT_TRUE(r.pass()) << "max|opencv - torch| = " << r.max_diff << ", tolerance " << r.tolerance;
    std::cerr << "batch " << batch << ": max|opencv - torch| = " << r.max_diff << " (tolerance " << r.tolerance << ")\n";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace coedge::infer
