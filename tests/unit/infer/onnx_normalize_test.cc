#include "infer/onnx_normalize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <random>

#include "infer/onnx_info.h"
#include "infer/onnx_wire.h"
#include "infer_test_util.h"

namespace coedge::infer {
namespace {

using onnx_wire::Writer;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Hand-built ONNX messages (field numbers from onnx.proto3), for the cases no fixture has.
std::string node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                 const std::string& domain = "") {
  std::string b;
  Writer w(b);
  for (auto& i : in) w.bytes(1, i);
  for (auto& o : out) w.bytes(2, o);
  w.bytes(4, op);
  if (!domain.empty()) w.bytes(7, domain);
  return b;
}
std::string named(uint32_t field, const std::string& name) {  // TensorProto (8) / ValueInfoProto (1)
  std::string b;
  Writer(b).bytes(field, name);
  return b;
}
std::string model(const std::vector<std::string>& nodes, const std::vector<std::string>& inits,
                  const std::vector<std::string>& outputs, const std::vector<std::string>& value_infos = {}) {
  std::string g;
  Writer gw(g);
  for (auto& n : nodes) gw.bytes(1, n);
  gw.bytes(2, "g");
  for (auto& i : inits) gw.bytes(5, named(8, i));
  gw.bytes(11, named(1, "x"));
  for (auto& o : outputs) gw.bytes(12, named(1, o));
  for (auto& v : value_infos) gw.bytes(13, named(1, v));
  std::string m;
  Writer mw(m);
  mw.key(1, onnx_wire::kVarint);
  mw.varint(7);
  mw.bytes(2, "test");
  mw.bytes(7, g);
  return m;
}

// The nodes of a (normalized) model, as "op(in,in)->out" strings, and its initializer names.
struct Parsed {
  std::vector<std::string> nodes, initializers, value_infos;
};
Parsed parse(std::string_view bytes) {
  Parsed p;
  onnx_wire::Reader m(bytes);
  onnx_wire::Field f;
  while (m.next(f)) {
    if (f.number != 7) continue;
    onnx_wire::Reader g(f.bytes);
    onnx_wire::Field gf;
    while (g.next(gf)) {
      onnx_wire::Reader r(gf.bytes);
      onnx_wire::Field x;
      std::string ins, outs, op, name;
      while (r.next(x)) {
        if (gf.number == 1 && x.number == 1) ins += (ins.empty() ? "" : ",") + std::string(x.bytes);
        if (gf.number == 1 && x.number == 2) outs += std::string(x.bytes);
        if (gf.number == 1 && x.number == 4) op = std::string(x.bytes);
        if ((gf.number == 5 && x.number == 8) || (gf.number == 13 && x.number == 1)) name = std::string(x.bytes);
      }
      if (gf.number == 1) p.nodes.push_back(op + "(" + ins + ")->" + outs);
      if (gf.number == 5) p.initializers.push_back(name);
      if (gf.number == 13) p.value_infos.push_back(name);
    }
  }
  return p;
}

TEST(OnnxNormalize, AModelWithNothingToFoldIsLeftAsItIs) {
  NormalizeReport report;
  auto out = normalize_onnx(read_file(testing::fixture_path("tiny-classifier")), "tiny-classifier.onnx", report);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_FALSE(out->has_value());
  EXPECT_EQ(report.summary(), "");
  // An Identity on a computed value is an ordinary node: not folded.
  auto computed = normalize_onnx(model({node("Relu", {"x"}, {"r"}), node("Identity", {"r"}, {"y"})}, {}, {"y"}),
                                 "m.onnx", report);
  ASSERT_TRUE(computed.ok());
  EXPECT_FALSE(computed->has_value());
}

TEST(OnnxNormalize, FoldsIdentityChainsOnInitializersAndRenamesTheirUsers) {
  const auto bytes = model({node("Identity", {"w"}, {"w1"}), node("Identity", {"w1"}, {"w2"}, "ai.onnx"),
                            node("Identity", {"b"}, {"b1"}), node("Conv", {"x", "w2", "b1"}, {"y"}),
                            node("Add", {"y", "w1"}, {"z"}), node("Identity", {"w"}, {"out2"}, "com.other")},
                           {"w", "b"}, {"z", "out2"}, {"w2", "y"});
  NormalizeReport report;
  auto out = normalize_onnx(bytes, "m.onnx", report);
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ(report.identities_folded, 3);
  EXPECT_EQ(report.identities_copied, 0);
  const auto p = parse(**out);
  // The other domain's Identity is not ONNX's: left alone.
  EXPECT_EQ(p.nodes, (std::vector<std::string>{"Conv(x,w,b)->y", "Add(y,w)->z", "Identity(w)->out2"}));
  EXPECT_EQ(p.initializers, (std::vector<std::string>{"w", "b"}));
  EXPECT_EQ(p.value_infos, (std::vector<std::string>{"y"}));  // w2's entry named a folded output
  // The rest of the ModelProto is copied: the model still reads with its producer.
  auto info = parse_onnx_info(**out, "m.onnx");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->producer, "test");
  EXPECT_EQ(info->ir_version, 7);
  // Normalizing again changes nothing.
  auto again = normalize_onnx(**out, "m.onnx", report);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST(OnnxNormalize, AnIdentityThatIsAGraphOutputBecomesACopyOfItsInitializer) {
  const auto bytes = model({node("Identity", {"w"}, {"w1"}), node("Identity", {"w1"}, {"out"}),
                            node("Relu", {"x"}, {"y"})},
                           {"w"}, {"y", "out"});
  NormalizeReport report;
  auto out = normalize_onnx(bytes, "m.onnx", report);
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ(report.identities_folded, 1);
  EXPECT_EQ(report.identities_copied, 1);
  const auto p = parse(**out);
  EXPECT_EQ(p.nodes, (std::vector<std::string>{"Relu(x)->y"}));
  EXPECT_EQ(p.initializers, (std::vector<std::string>{"w", "out"}));
}

TEST(OnnxNormalize, AGraphWithSubgraphsIsNotRewrittenAndTheReportSaysWhy) {
  NormalizeReport report;
  auto out = normalize_onnx(read_file(testing::fixture_path("tiny-subgraph")), "tiny-subgraph.onnx", report);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_FALSE(out->has_value());
  EXPECT_EQ(report.identities_folded, 0);
  EXPECT_NE(report.not_rewritten.find("If"), std::string::npos) << report.not_rewritten;
  EXPECT_NE(report.summary().find("subgraph"), std::string::npos) << report.summary();
}

// What torch.onnx.export writes (tiny-identity: tiny-classifier's weights behind Identity
// nodes) loads in OpenCV once normalized, and computes what tiny-classifier computes.
TEST(OnnxNormalize, TheNormalizedExporterStyleFixtureRunsInOpencvLikeTheOriginal) {
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  const auto raw = read_file(testing::fixture_path("tiny-identity"));
  EXPECT_THROW(cv::dnn::readNetFromONNX(raw.data(), raw.size()), cv::Exception);  // why this exists
  NormalizeReport report;
  auto out = normalize_onnx(raw, "tiny-identity.onnx", report);
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ(report.identities_folded, 3);
  EXPECT_EQ(report.identities_copied, 1);
  EXPECT_NE(report.summary().find("folded 3 Identity"), std::string::npos) << report.summary();

  cv::dnn::Net folded = cv::dnn::readNetFromONNX((*out)->data(), (*out)->size());
  cv::dnn::Net reference = cv::dnn::readNetFromONNX(testing::fixture_path("tiny-classifier"));
  for (int batch : {1, 3}) {
    int dims[] = {batch, 3, 32, 32};
    cv::Mat input(4, dims, CV_32F);
    cv::randu(input, -1.0f, 1.0f);
    folded.setInput(input);
    reference.setInput(input);
    const cv::Mat a = folded.forward("logits").clone();
    const cv::Mat b = reference.forward("logits").clone();
    ASSERT_EQ(a.total(), static_cast<size_t>(batch) * 4);
    EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0) << "batch " << batch;
  }

  // python3-onnx's checker accepts the rewritten file.
  const std::string path = ::testing::TempDir() + "/coedge-normalized-" + std::to_string(::getpid()) + ".onnx";
  std::ofstream(path, std::ios::binary) << **out;
  const std::string cmd = "/usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
                          "full_check=True)' " + path;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::remove(path.c_str());
}

TEST(OnnxNormalize, PinningTheBatchRewritesOnlyTheInputsFirstDimension) {
  const auto raw = read_file(testing::fixture_path("tiny-se"));
  auto pinned = pin_onnx_batch(raw, "tiny-se.onnx", "images", 2);
  ASSERT_TRUE(pinned.ok()) << pinned.error().message;
  auto before = parse_onnx_info(raw, "tiny-se.onnx");
  auto after = parse_onnx_info(*pinned, "tiny-se.onnx");
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(before->inputs[0].shape, (std::vector<int64_t>{-1, 3, 32, 32}));
  EXPECT_EQ(after->inputs[0].shape, (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(after->outputs[0].shape, before->outputs[0].shape);
  EXPECT_EQ(parse(*pinned).nodes, parse(raw).nodes);
  EXPECT_EQ(parse(*pinned).initializers, parse(raw).initializers);

  auto unknown = pin_onnx_batch(raw, "tiny-se.onnx", "no_such_input", 2);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("tiny-se.onnx: cannot fix the batch of input 'no_such_input'"),
            std::string::npos) << unknown.error().message;
  for (size_t n : {size_t{0}, raw.size() / 3, raw.size() - 1})
    EXPECT_FALSE(pin_onnx_batch(std::string_view(raw).substr(0, n), "cut.onnx", "images", 2).ok()) << n;
}

TEST(OnnxNormalize, NamesTheOperatorOfANodeByNameOrByOutput) {
  const auto bytes = model({node("Relu", {"x"}, {"r"}), node("Identity", {"r"}, {"y"})}, {}, {"y"});
  EXPECT_EQ(onnx_node_op(bytes, "r"), "Relu");
  EXPECT_EQ(onnx_node_op(bytes, "y"), "Identity");
  EXPECT_EQ(onnx_node_op(bytes, "x"), "");
  EXPECT_EQ(onnx_node_op("garbage", "x"), "");
}

// The file is untrusted: every prefix and many corruptions of a real file give an answer
// (an error, or a rewrite) and never read out of bounds (run under ASan in CI).
TEST(OnnxNormalize, TruncatedAndCorruptedFilesGiveErrorsNotCrashes) {
  const auto raw = read_file(testing::fixture_path("tiny-identity"));
  ASSERT_GT(raw.size(), 500u);
  NormalizeReport report;
  int errors = 0;
  for (size_t n = 0; n < raw.size(); ++n) {
    auto out = normalize_onnx(std::string_view(raw).substr(0, n), "cut.onnx", report);
    if (!out.ok()) {
      ++errors;
      EXPECT_NE(out.error().message.find("cut.onnx"), std::string::npos);
    }
  }
  EXPECT_GT(errors, static_cast<int>(raw.size()) / 2);
  std::mt19937 rng(13);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = raw;
    for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto out = normalize_onnx(bad, "bad.onnx", report);
    if (out.ok() && out->has_value()) (void)parse_onnx_info(**out, "bad.onnx");  // the rewrite reads back
  }
  std::string garbage(4096, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  (void)normalize_onnx(garbage, "garbage.onnx", report);
  auto text = normalize_onnx("definitely not protobuf", "text.onnx", report);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("text.onnx: not a usable ONNX model"), std::string::npos) << text.error().message;
  EXPECT_FALSE(normalize_onnx("", "empty.onnx", report).ok());
}

}  // namespace
}  // namespace coedge::infer
