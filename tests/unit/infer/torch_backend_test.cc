// The torch backend through its plugin, on the generated torch fixtures
// (tools/gen_torch_fixtures.py): a forward pass, the argmax in the graph, the thread count
// set on the forward's thread, and every error a user can meet, with its exact text.
#include "infer/torch_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "infer/make_backend.h"
#include "infer/torch_plugin_loader.h"

namespace coedge::infer {
namespace {

std::string fixture(const std::string& name, const std::string& ext = ".pt") {
  return std::string(COEDGE_BINARY_DIR) + "/models/fixtures/torch/" + name + ext;
}

Tensor seeded_batch(int64_t n, uint32_t seed = 7) {
  Tensor t = Tensor::zeros({n, 3, 32, 32});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& v : t.data) v = u(rng);
  return t;
}

std::unique_ptr<Model> load(const std::string& path, int threads = 1, int max_batch = 4) {
  BackendOptions options;
  options.threads = threads;
  options.max_batch = max_batch;
  TorchBackend backend(options);
  auto model = backend.load(path);
  EXPECT_TRUE(model.ok()) << model.error().message;
  return model.ok() ? std::move(model.value()) : nullptr;
}

std::string load_error(const std::string& path) {
  TorchBackend backend(BackendOptions{});
  auto model = backend.load(path);
  return model.ok() ? "(loaded)" : model.error().message;
}

// A copy of a fixture with `from` replaced by `to` (same length) everywhere.
std::string patched_copy(const std::string& name, const std::string& from, const std::string& to) {
  std::ifstream in(fixture(name), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(from.size(), to.size());
  size_t hits = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1), ++hits)
    bytes.replace(at, from.size(), to);
  EXPECT_GT(hits, 0u) << from;
  const std::string out = ::testing::TempDir() + "/coedge-" + name + "-patched.pt";
  std::ofstream(out, std::ios::binary) << bytes;
  return out;
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(TorchBackend, RunsABatchThroughTheFrozenOptimizedModule) {
  auto model = load(fixture("tiny-classifier"));
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->info().format, ModelFormat::kTorchScript);
  auto out = model->run(seeded_batch(3));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->shape, (std::vector<int64_t>{3, 4}));
  float peak = 0;
  for (float v : out->data) {
    ASSERT_TRUE(std::isfinite(v));
    peak = std::max(peak, std::abs(v));
  }
  EXPECT_GT(peak, 0.1f);  // the fixtures' outputs are of order 1 (gen_torch_fixtures.py)
  // The same input twice gives the same output; another input another one.
  auto again = model->run(seeded_batch(3));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->data, out->data);
  auto other = model->run(seeded_batch(3, 8));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->data, out->data);
  // Batch sizes beyond the warmed-up ones still run.
  auto big = model->run(seeded_batch(6));
  ASSERT_TRUE(big.ok()) << big.error().message;
  EXPECT_EQ(big->shape, (std::vector<int64_t>{6, 4}));
}

TEST(TorchBackend, MakeBackendKnowsTorch) {
  auto backend = make_backend("torch", BackendOptions{});
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  EXPECT_EQ((*backend)->name(), "torch");
  auto model = (*backend)->load(fixture("tiny-detector"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto out = (*model)->run(seeded_batch(2));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->shape, (std::vector<int64_t>{2, 64, 6}));
  auto unknown = make_backend("tensorrt", BackendOptions{});
  ASSERT_FALSE(unknown.ok());
  EXPECT_HAS(unknown.error().message, "(available: opencv, torch)");
}

TEST(TorchBackend, ArgmaxInTheGraphEqualsArgmaxOfTheLogits) {
  auto model = load(fixture("tiny-segmenter"));
  ASSERT_NE(model, nullptr);
  const Tensor batch = seeded_batch(3);
  auto labels = model->run_argmax(batch);
  ASSERT_TRUE(labels.ok()) << labels.error().message;
  EXPECT_EQ(labels->shape, (std::vector<int64_t>{3, 32, 32}));
  auto logits = model->run(batch);
  ASSERT_TRUE(logits.ok());
  auto expected = argmax_channels(*logits);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(labels->data, expected->data);
  size_t classes_seen = 0;
  for (uint8_t c = 0; c < 4; ++c)
    classes_seen += std::count(labels->data.begin(), labels->data.end(), c) > 0;
  EXPECT_GE(classes_seen, 2u);  // not a constant mask
  // A classifier's output has no pixels: the error says what shape was expected.
  auto classifier = load(fixture("tiny-classifier"));
  ASSERT_NE(classifier, nullptr);
  auto wrong = classifier->run_argmax(batch);
  ASSERT_FALSE(wrong.ok());
  EXPECT_HAS(wrong.error().message, fixture("tiny-classifier") + ": inference failed in libtorch: "
                                                                  "a segmentation output must be [N, C, H, W]");
}

TEST(TorchBackend, ThreadsAreSetOnTheThreadThatRunsForward) {
  // Both loaded on this thread; the second load's warm-up leaves this thread at 2 threads,
  // which a new thread would inherit (measured, spike-torch.md) unless forward sets its own.
  auto one = load(fixture("tiny-classifier"), 1);
  auto two = load(fixture("tiny-detector"), 2);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  const auto run_on_another_thread = [](Model& model) {
    std::thread other([&] { EXPECT_TRUE(model.run(seeded_batch(1)).ok()); });
    other.join();
    return torch_threads_in_last_forward(model);
  };
  EXPECT_EQ(run_on_another_thread(*one), 1);
  EXPECT_EQ(run_on_another_thread(*two), 2);
  // One thread serving both: each forward runs with its model's count.
  std::thread both([&] {
    for (Model* m : {one.get(), two.get(), one.get()}) {
      ASSERT_TRUE(m->run(seeded_batch(1)).ok());
      EXPECT_EQ(torch_threads_in_last_forward(*m), m == one.get() ? 1 : 2);
    }
  });
  both.join();
  EXPECT_EQ(torch_threads_in_last_forward(*one), 1);
}

TEST(TorchBackend, MissingFile) {
  EXPECT_EQ(load_error("/no/such/model.pt"), "/no/such/model.pt: cannot open: No such file or directory");
}

TEST(TorchBackend, AnOnnxFileIsNotTorchScript) {
  const std::string onnx = fixture("tiny-classifier", ".onnx");
  EXPECT_EQ(load_error(onnx), onnx + ": not a TorchScript file (no zip end-of-central-directory record); "
                                     "for ONNX use `backend: opencv`");
}

TEST(TorchBackend, AFileWithoutMetadataSaysHowToAddIt) {
  const std::string bare = patched_copy("tiny-classifier", "extra/coedge.json", "extra/coedge.jsox");
  const std::string msg = load_error(bare);
  EXPECT_HAS(msg, bare + ": has no extra/coedge.json");
  EXPECT_HAS(msg, "tools/export_models.py --add-metadata " + bare + " --input 3xHxW");
}

TEST(TorchBackend, AFileLibtorchRejectsNamesTheFileAndLibtorchsReason) {
  // The metadata is fine, the serialized module is not (its pickle's opcodes renamed).
  const std::string broken = patched_copy("tiny-classifier", "__torch__", "__xorch__");
  const std::string msg = load_error(broken);
  EXPECT_HAS(msg, broken + ": the torch backend cannot load it: ");
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;  // one line, no C++ backtrace
}

TEST(TorchBackend, AModelThatCannotRunAtBatchOneFailsToLoad) {
  // Metadata that lies about the input: the detector's reshape to 64 rows fails on 28x28.
  const std::string lying = patched_copy("tiny-detector", "3, 32, 32]", "3, 28, 28]");
  const std::string msg = load_error(lying);
  EXPECT_HAS(msg, lying + ": the torch backend cannot load it: a forward pass at batch 1 fails: ");
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(TorchBackend, WrongInputShapeIsCheckedBeforeLibtorch) {
  auto model = load(fixture("tiny-classifier"));
  ASSERT_NE(model, nullptr);
  Tensor wrong = Tensor::zeros({2, 3, 16, 16});
  auto out = model->run(wrong);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message, fixture("tiny-classifier") +
                                     ": input [2, 3, 16, 16] does not match the model's [N, 3, 32, 32] (input 'images')");
}

TEST(TorchBackend, AnExceptionInsideTheModel) {
  // tiny-raises refuses batches larger than 3: loaded for batches up to 3 (warm-up 1..3),
  // it raises when given 4 anyway; loaded for batches up to 4, the load refuses it.
  auto model = load(fixture("tiny-raises"), 1, 3);
  ASSERT_NE(model, nullptr);
  auto fine = model->run(seeded_batch(3));
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  auto raised = model->run(seeded_batch(4));
  ASSERT_FALSE(raised.ok());
  EXPECT_EQ(raised.error().message, fixture("tiny-raises") +
                                        ": inference failed in libtorch: builtins.RuntimeError: "
                                        "tiny-raises refuses batches larger than 3");
  auto after = model->run(seeded_batch(2));  // the model still serves after an exception
  EXPECT_TRUE(after.ok());
  BackendOptions up_to_4;
  up_to_4.max_batch = 4;
  auto refused = TorchBackend(up_to_4).load(fixture("tiny-raises"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("a forward pass at batch 4 fails: builtins.RuntimeError: tiny-raises refuses"),
            std::string::npos)
      << refused.error().message;
}

TEST(TorchBackend, MissingPlugin) {
  set_torch_plugin_path("/nonexistent/coedge_infer_torch.so");
  const std::string msg = load_error(fixture("tiny-classifier"));
  set_torch_plugin_path("");
  EXPECT_EQ(msg, fixture("tiny-classifier") +
                     ": the torch backend is not available: this coedge was built without the torch backend "
                     "(COEDGE_TORCH=OFF) or lib/coedge/coedge_infer_torch.so is missing (looked at "
                     "/nonexistent/coedge_infer_torch.so); use `backend: opencv` with the ONNX file");
  // The file's own errors come first, without the plugin: a missing file is still that.
  set_torch_plugin_path("/nonexistent/coedge_infer_torch.so");
  const std::string missing = load_error("/no/such/model.pt");
  set_torch_plugin_path("");
  EXPECT_HAS(missing, "/no/such/model.pt: cannot open");
}

}  // namespace
}  // namespace coedge::infer
