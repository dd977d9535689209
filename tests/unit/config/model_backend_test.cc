// Which backend runs each model (config/model_backend.h): a model's own `backend:` over the
// node's, `auto` from the profile's recorded backend, the file each backend loads (the
// .onnx / .pt sibling), the messages of what cannot be served; the profile set's `backend`
// field; and that the choice reaches the server through the wire document.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/model_backend.h"
#include "config/node_config_loader.h"
#include "config/node_config_wire.h"
#include "config/profile_reader.h"

namespace coedge::config {
namespace {

namespace fs = std::filesystem;

class ModelBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coedge-model-backend-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "both.onnx") << "\x08\x07";  // a protobuf field key, as ONNX starts
    std::ofstream(dir_ / "both.pt") << "PK\x03\x04 zip";
    std::ofstream(dir_ / "onnx-only.onnx") << "\x08\x07";
    std::ofstream(dir_ / "script.pt") << "PK\x03\x04 zip";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Loaded and resolved, as `coedge node` does once its options are applied.
  Result<NodeConfig> parse(const std::string& node_backend, const std::string& models) {
    auto c = parse_node_config("node: n\nisolation: process\nbackend: " + node_backend + "\nmodels: " + models +
                                   "\nsensors: [{name: c, kind: synthetic}]\n"
                                   "tasks: [{name: t, model: a, sensor: c, period: 100ms}]\n",
                               "x.yaml", dir_.string());
    if (!c.ok()) return c;
    auto told = resolve_model_backends(*c);
    if (!told.ok()) return told.error();
    return c;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(ModelBackendTest, AModelsOwnBackendOverridesTheNodesAndPicksTheFileOfItsFormat) {
  auto c = parse("opencv", "[{name: a, file: both.onnx, backend: torch}, {name: b, file: both.onnx}]");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->model_backends, (std::vector<std::string>{"torch", "opencv"}));
  EXPECT_EQ(c->model_files, (std::vector<std::string>{path("both.pt"), path("both.onnx")}));
  // Given the TorchScript file, opencv finds the ONNX one beside it.
  auto given_pt = parse("opencv", "[{name: a, file: both.pt}]");
  ASSERT_TRUE(given_pt.ok()) << given_pt.error().message;
  EXPECT_EQ(given_pt->model_files, std::vector<std::string>{path("both.onnx")});
}

TEST_F(ModelBackendTest, ABackendItsFilesCannotServeIsAnErrorNamingTheModelAndTheFile) {
  auto no_pt = parse("torch", "[{name: a, file: onnx-only.onnx}]");
  ASSERT_FALSE(no_pt.ok());
  EXPECT_NE(no_pt.error().message.find("model a of node n: backend torch loads " + path("onnx-only.pt") +
                                       ", which does not exist"),
            std::string::npos)
      << no_pt.error().message;
  EXPECT_NE(no_pt.error().message.find("x.yaml:4: model a"), std::string::npos) << no_pt.error().message;
  auto no_onnx = parse("opencv", "[{name: a, file: script.pt}]");
  ASSERT_FALSE(no_onnx.ok());
  EXPECT_NE(no_onnx.error().message.find("OpenCV DNN reads ONNX"), std::string::npos) << no_onnx.error().message;
  auto unknown = parse("opencv", "[{name: a, file: both.onnx, backend: tensorrt}]");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("x.yaml:4"), std::string::npos) << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("unknown backend 'tensorrt' (choices: opencv, torch, auto)"),
            std::string::npos)
      << unknown.error().message;
}

TEST_F(ModelBackendTest, AutoRunsAModelOnTheBackendItsProfileWasMeasuredOn) {
  auto c = parse("auto", "[{name: a, file: both.onnx}]");
  ASSERT_TRUE(c.ok()) << c.error().message;
  // Unmeasured (no profiles): torch, since it has a TorchScript file; told.
  EXPECT_EQ(c->model_backends, std::vector<std::string>{"torch"});
  auto told = resolve_model_backends(*c);
  ASSERT_TRUE(told.ok());
  ASSERT_EQ(told->size(), 1u);
  EXPECT_NE(told->front().find("backend auto chose torch (unmeasured"), std::string::npos) << told->front();

  c->profiles = "p.yaml";
  c->models[0].profile_source = "p.yaml";
  c->models[0].backend = "opencv";  // measured faster on opencv
  ASSERT_TRUE(resolve_model_backends(*c).ok());
  EXPECT_EQ(c->model_backends, std::vector<std::string>{"opencv"});
  EXPECT_EQ(c->model_files, std::vector<std::string>{path("both.onnx")});
  c->models[0].backend.clear();  // a profile from before backends were recorded: opencv's
  ASSERT_TRUE(resolve_model_backends(*c).ok());
  EXPECT_EQ(c->model_backends, std::vector<std::string>{"opencv"});
  // ... so a model asking for torch on it is told that its profile is opencv's.
  c->model_backend_requests[0] = "torch";
  auto old_profile = resolve_model_backends(*c);
  ASSERT_TRUE(old_profile.ok());
  ASSERT_EQ(old_profile->size(), 1u);
  EXPECT_NE(old_profile->front().find("was measured on opencv"), std::string::npos) << old_profile->front();
  c->model_backend_requests[0].clear();
  c->models[0].backend = "torch";
  ASSERT_TRUE(resolve_model_backends(*c).ok());
  EXPECT_EQ(c->model_backends, std::vector<std::string>{"torch"});
  EXPECT_EQ(c->model_files, std::vector<std::string>{path("both.pt")});

  // An explicit backend other than the profile's is run, with a warning naming the command.
  c->backend = "opencv";
  auto warned = resolve_model_backends(*c);
  ASSERT_TRUE(warned.ok());
  EXPECT_EQ(c->model_backends, std::vector<std::string>{"opencv"});
  ASSERT_EQ(warned->size(), 1u);
  EXPECT_NE(warned->front().find("coedge profile --backend opencv"), std::string::npos) << warned->front();
}

TEST_F(ModelBackendTest, ResolvingAgainStartsFromTheFileAsGivenAndAFailureChangesNothing) {
  std::ofstream(dir_ / "odd.torchscript") << "PK\x03\x04 zip";
  std::ofstream(dir_ / "odd.onnx") << "\x08\x07";
  auto c = parse("torch", "[{name: a, file: odd.torchscript}]");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->model_files, std::vector<std::string>{path("odd.torchscript")});
  c->backend = "opencv";
  ASSERT_TRUE(resolve_model_backends(*c).ok());
  EXPECT_EQ(c->model_files, std::vector<std::string>{path("odd.onnx")});
  c->backend = "torch";  // back from the ONNX file to the one given, not to odd.pt
  ASSERT_TRUE(resolve_model_backends(*c).ok());
  EXPECT_EQ(c->model_files, std::vector<std::string>{path("odd.torchscript")});
  fs::remove(dir_ / "odd.onnx");
  c->backend = "opencv";
  EXPECT_FALSE(resolve_model_backends(*c).ok());
  EXPECT_EQ(c->model_backends, std::vector<std::string>{"torch"});
  EXPECT_EQ(c->model_files, std::vector<std::string>{path("odd.torchscript")});
}

TEST_F(ModelBackendTest, TheChoiceTravelsToTheServer) {
  auto c = parse("opencv", "[{name: a, file: both.onnx, backend: torch}]");
  ASSERT_TRUE(c.ok()) << c.error().message;
  c->models[0].backend = "torch";
  auto back = read_node_config_wire(write_node_config_wire(*c), "test");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->model_backends, std::vector<std::string>{"torch"});
  EXPECT_EQ(back->model_files, std::vector<std::string>{path("both.pt")});
  EXPECT_EQ(back->models[0].backend, "torch");
}

TEST(ProfileSetBackend, IsReadWrittenAndChecked) {
  const std::string head = "profile_set: p\nmodels:\n  - name: m\n    input_shape: [3, 8, 8]\n"
                           "    exe_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n";
  auto set = internal::parse_profile_set_text(head + "    backend: torch\n", "p.yaml");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->models[0].backend, "torch");
  auto none = internal::parse_profile_set_text(head, "p.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->models[0].backend, "");
  auto bad = internal::parse_profile_set_text(head + "    backend: tensorrt\n", "p.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("p.yaml:6"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("unknown backend 'tensorrt'"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace coedge::config
