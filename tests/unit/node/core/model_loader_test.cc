// The server's model loader (node/core/model_loader.h) over a fake backend whose loads the
// test finishes one by one: one load at a time, the smallest file first; answers to the
// agent for every command; unloads while queued, in flight and held; a failed load tried
// again. No sleeps but waiting for a load the test has just let finish.
#include "node/core/model_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace coedge::node {
namespace {

namespace fs = std::filesystem;

class EmptyModel final : public infer::Model {
 public:
  explicit EmptyModel(std::string path) : infer::Model(std::move(path), infer::ModelInfo{}) {}

 protected:
  Result<infer::Tensor> forward(const infer::Tensor&) override { return infer::Tensor::zeros({1, 1}); }
};

// Loads block until the test finishes them (finish(file, ok)); records the order and the
// most loads ever in flight at once.
class GatedBackend final : public infer::Backend {
 public:
  std::string_view name() const override { return "gated"; }
  Result<std::unique_ptr<infer::Model>> load(const std::string& path) override {
    std::unique_lock lock(mu_);
    started_.push_back(path);
    ++in_flight_;
    most_in_flight_ = std::max(most_in_flight_, in_flight_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return outcome_.count(path) > 0; });
    const bool ok = outcome_[path];
    outcome_.erase(path);
    --in_flight_;
    if (!ok) return Error{ErrorCode::kUnsupported, path + ": cannot load"};
    return std::unique_ptr<infer::Model>(std::make_unique<EmptyModel>(path));
  }
  // Waits until `count` loads have started; returns the files in start order.
  std::vector<std::string> started(size_t count) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return started_.size() >= count; });
    return started_;
  }
  void finish(const std::string& path, bool ok = true) {
    std::lock_guard lock(mu_);
    outcome_[path] = ok;
    cv_.notify_all();
  }
  int most_in_flight() {
    std::lock_guard lock(mu_);
    return most_in_flight_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> started_;
  std::map<std::string, bool> outcome_;
  int in_flight_ = 0, most_in_flight_ = 0;
};

class ModelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-loader-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // Three model files of different sizes: big (3 kB), small (1 kB), middle (2 kB).
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, size_t>>{{"big", 3000}, {"small", 1000}, {"middle", 2000}}) {
      std::ofstream(dir_ / (name + ".onnx")) << std::string(bytes, 'x');
      files_.push_back({name, (dir_ / (name + ".onnx")).string(), &backend_});
    }
    loader_ = std::make_unique<ModelLoader>(
        files_, [this](uint32_t m, infer::Model* model) { held_[m] = model; },
        [this](uint32_t m, ipc::ModelState state) { told_.push_back({m, state}); });
  }
  void TearDown() override {
    for (const auto& f : files_) backend_.finish(f.file);  // let any load still in flight end
    loader_.reset();
    fs::remove_all(dir_);
  }
  static ipc::ServerCommand load(uint32_t m) { return {ipc::ModelCommand::kLoad, {}, m}; }
  static ipc::ServerCommand unload(uint32_t m) { return {ipc::ModelCommand::kUnload, {}, m}; }
  // Finishes the load of model m and polls until the loader has taken it.
  void complete(uint32_t m, bool ok = true) {
    backend_.finish(files_[m].file, ok);
    while (!loader_->poll()) std::this_thread::yield();
  }

  fs::path dir_;
  std::vector<ModelLoader::ModelFile> files_;
  GatedBackend backend_;
  std::map<uint32_t, infer::Model*> held_;
  std::vector<std::pair<uint32_t, ipc::ModelState>> told_;
  std::unique_ptr<ModelLoader> loader_;
};

using State = ipc::ModelState;

TEST_F(ModelLoaderTest, LoadsOneAtATimeTheSmallestFileFirst) {
  loader_->on_command(load(0));  // big: nothing else queued yet, so it starts at once
  loader_->on_command(load(1));
  loader_->on_command(load(2));
  EXPECT_TRUE(loader_->loading());
  EXPECT_EQ(backend_.started(1), std::vector<std::string>{files_[0].file});
  complete(0);
  // Of the two queued, small (1 kB) before middle (2 kB).
  EXPECT_EQ(backend_.started(2).back(), files_[1].file);
  complete(1);
  EXPECT_EQ(backend_.started(3).back(), files_[2].file);
  complete(2);
  EXPECT_EQ(backend_.most_in_flight(), 1);
  EXPECT_FALSE(loader_->loading());
  EXPECT_EQ(told_, (std::vector<std::pair<uint32_t, State>>{{0, State::kLoaded}, {1, State::kLoaded}, {2, State::kLoaded}}));
  for (uint32_t m = 0; m < 3; ++m) {
    ASSERT_NE(held_[m], nullptr);
    EXPECT_EQ(held_[m]->path(), files_[m].file);
  }
  loader_->on_command(load(1));  // already held: answered at once, nothing loaded again
  EXPECT_EQ(told_.back(), (std::pair<uint32_t, State>{1, State::kLoaded}));
  EXPECT_EQ(backend_.started(3).size(), 3u);
}

TEST_F(ModelLoaderTest, UnloadsQueuedInFlightAndHeldModels) {
  loader_->on_command(load(1));
  loader_->on_command(load(2));
  loader_->on_command(load(0));
  backend_.started(1);
  loader_->on_command(unload(2));  // queued: dropped from the queue
  EXPECT_EQ(told_, (std::vector<std::pair<uint32_t, State>>{{2, State::kUnloaded}}));
  loader_->on_command(unload(1));  // in flight: unloaded once loaded, never handed as wanted
  complete(1);
  EXPECT_EQ(told_.back(), (std::pair<uint32_t, State>{1, State::kUnloaded}));
  EXPECT_EQ(held_[1], nullptr);
  // The queue went on with what is still wanted: big, not middle.
  EXPECT_EQ(backend_.started(2), (std::vector<std::string>{files_[1].file, files_[0].file}));
  complete(0);
  ASSERT_NE(held_[0], nullptr);
  loader_->on_command(unload(0));  // held: handed back, then freed
  EXPECT_EQ(held_[0], nullptr);
  EXPECT_EQ(told_.back(), (std::pair<uint32_t, State>{0, State::kUnloaded}));
  EXPECT_FALSE(loader_->loading());
}

TEST_F(ModelLoaderTest, AFailedLoadIsToldAndTriedAgainOnTheNextLoad) {
  loader_->on_command(load(2));
  backend_.started(1);
  complete(2, /*ok=*/false);
  EXPECT_EQ(told_, (std::vector<std::pair<uint32_t, State>>{{2, State::kLoadFailed}}));
  EXPECT_EQ(held_.count(2), 0u);
  EXPECT_FALSE(loader_->loading());
  loader_->on_command(load(2));
  EXPECT_EQ(backend_.started(2).size(), 2u);
  complete(2);
  EXPECT_EQ(told_.back(), (std::pair<uint32_t, State>{2, State::kLoaded}));
}

TEST_F(ModelLoaderTest, AFailedLoadOfAModelUnloadedMeanwhileAnswersUnloaded) {
  loader_->on_command(load(1));
  backend_.started(1);
  loader_->on_command(unload(1));
  complete(1, /*ok=*/false);
  EXPECT_EQ(told_, (std::vector<std::pair<uint32_t, State>>{{1, State::kUnloaded}}));
}

TEST_F(ModelLoaderTest, AnIndexOutOfRangeIsRefused) {
  loader_->on_command(load(7));
  loader_->on_command(unload(7));
  EXPECT_TRUE(told_.empty());
  EXPECT_FALSE(loader_->loading());
}

}  // namespace
}  // namespace coedge::node
