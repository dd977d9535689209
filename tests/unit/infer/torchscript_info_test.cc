// read_torchscript_info: the metadata of real torch.jit.save files (the generated torch
// fixtures), and hostile archives built here byte by byte (zip64 or not, compressed entry,
// lengths and offsets past the end, every truncation), each a clear Error, never a crash.
#include "infer/torchscript_info.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "infer/model_info.h"

namespace coedge::infer {
namespace {

std::string torch_fixture(const std::string& name) {
  return std::string(COEDGE_BINARY_DIR) + "/models/fixtures/torch/" + name + ".pt";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void put(std::string& out, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_at(std::string& out, size_t at, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

struct ZipEntry {
  std::string name;
  std::string data;
  uint16_t method = 0;
  size_t local_padding = 0;  // extra bytes in the local header only (PyTorch's alignment)
};

// A zip archive as torch.jit.save lays it out: local headers and data, the central
// directory, optionally the zip64 end record and locator, then the classic end record.
// With `saturate`, the central headers say 0xffffffff and carry the zip64 extra field.
struct Built {
  std::string bytes;
  std::vector<size_t> central_at;  // each central header's offset
  size_t end_at = 0, end64_at = 0;
};

Built build_zip(const std::vector<ZipEntry>& entries, bool zip64, bool saturate = false) {
  Built b;
  std::vector<size_t> local_at;
  for (const auto& e : entries) {
    local_at.push_back(b.bytes.size());
    put(b.bytes, 0x04034b50, 4);
    put(b.bytes, 20, 2);
    put(b.bytes, 0, 2);
    put(b.bytes, e.method, 2);
    put(b.bytes, 0, 4);  // time, date
    put(b.bytes, 0, 4);  // crc (not checked by the reader)
    put(b.bytes, e.data.size(), 4);
    put(b.bytes, e.data.size(), 4);
    put(b.bytes, e.name.size(), 2);
    put(b.bytes, e.local_padding, 2);
    b.bytes += e.name;
    b.bytes += std::string(e.local_padding, 'F');
    b.bytes += e.data;
  }
  const size_t cd_at = b.bytes.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    b.central_at.push_back(b.bytes.size());
    const uint64_t sat = 0xffffffff;
    put(b.bytes, 0x02014b50, 4);
    put(b.bytes, 45, 2);
    put(b.bytes, 45, 2);
    put(b.bytes, 0, 2);
    put(b.bytes, e.method, 2);
    put(b.bytes, 0, 4);
    put(b.bytes, 0, 4);
    put(b.bytes, saturate ? sat : e.data.size(), 4);
    put(b.bytes, saturate ? sat : e.data.size(), 4);
    put(b.bytes, e.name.size(), 2);
    put(b.bytes, saturate ? 4 + 24 : 0, 2);
    put(b.bytes, 0, 2);   // comment
    put(b.bytes, 0, 2);   // disk
    put(b.bytes, 0, 2);   // internal attributes
    put(b.bytes, 0, 4);   // external attributes
    put(b.bytes, saturate ? sat : local_at[i], 4);
    b.bytes += e.name;
    if (saturate) {
      put(b.bytes, 1, 2);
      put(b.bytes, 24, 2);
      put(b.bytes, e.data.size(), 8);
      put(b.bytes, e.data.size(), 8);
      put(b.bytes, local_at[i], 8);
    }
  }
  const size_t cd_size = b.bytes.size() - cd_at;
  if (zip64) {
    b.end64_at = b.bytes.size();
    put(b.bytes, 0x06064b50, 4);
    put(b.bytes, 44, 8);
    put(b.bytes, 45, 2);
    put(b.bytes, 45, 2);
    put(b.bytes, 0, 4);
    put(b.bytes, 0, 4);
    put(b.bytes, entries.size(), 8);
    put(b.bytes, entries.size(), 8);
    put(b.bytes, cd_size, 8);
    put(b.bytes, cd_at, 8);
    put(b.bytes, 0x07064b50, 4);  // locator
    put(b.bytes, 0, 4);
    put(b.bytes, b.end64_at, 8);
    put(b.bytes, 1, 4);
  }
  b.end_at = b.bytes.size();
  put(b.bytes, 0x06054b50, 4);
  put(b.bytes, 0, 4);
  put(b.bytes, zip64 ? 0xffff : entries.size(), 2);
  put(b.bytes, zip64 ? 0xffff : entries.size(), 2);
  put(b.bytes, zip64 ? 0xffffffff : cd_size, 4);
  put(b.bytes, zip64 ? 0xffffffff : cd_at, 4);
  put(b.bytes, 0, 2);
  return b;
}

const std::string kMeta =
    R"({"coedge_model": 1, "input": {"name": "images", "shape": [-1, 3, 64, 48]},)"
    R"( "output": {"name": "out", "shape": [-1, 5, 64, 48]}, "kind": "segmentation", "producer": "test"})";

std::vector<ZipEntry> model_entries(std::string meta = kMeta) {
  return {{"m/data.pkl", std::string(40, 'p')}, {"m/extra/coedge.json", std::move(meta), 0, 17},
          {"m/data/0", std::string(64, 'w'), 0, 50}};
}

std::string error_of(const Result<ModelInfo>& r) { return r.ok() ? "(no error)" : r.error().message; }

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(TorchscriptInfo, ReadsTheGeneratedFixtures) {
  auto info = read_torchscript_info(torch_fixture("tiny-classifier"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->format, ModelFormat::kTorchScript);
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(info->inputs[0].name, "images");
  EXPECT_EQ(info->inputs[0].element_type, 1);
  EXPECT_EQ(info->inputs[0].shape, (std::vector<int64_t>{-1, 3, 32, 32}));
  ASSERT_EQ(info->outputs.size(), 1u);
  EXPECT_EQ(info->outputs[0].shape, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(info->kind_hint, "classification");
  EXPECT_EQ(info->producer, "coedge-gen-torch-fixtures");

  auto seg = read_model_info(torch_fixture("tiny-segmenter"));  // dispatch by magic
  ASSERT_TRUE(seg.ok()) << seg.error().message;
  EXPECT_EQ(seg->format, ModelFormat::kTorchScript);
  EXPECT_EQ(seg->outputs[0].shape, (std::vector<int64_t>{-1, 4, 32, 32}));
  EXPECT_EQ(seg->kind_hint, "segmentation");
}

TEST(TorchscriptInfo, EveryTruncationOfARealFileIsAnError) {
  const std::string bytes = slurp(torch_fixture("tiny-detector"));
  ASSERT_GT(bytes.size(), 1000u);
  ASSERT_TRUE(parse_torchscript_info(bytes, "d.pt").ok());
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(parse_torchscript_info(std::string_view(bytes).substr(0, n), "d.pt").ok()) << n;
}

TEST(TorchscriptInfo, ReadsClassicZip64AndSaturatedHeaders) {
  for (const bool zip64 : {false, true}) {
    for (const bool saturate : {false, true}) {
      const Built b = build_zip(model_entries(), zip64, saturate);
      auto info = parse_torchscript_info(b.bytes, "m.pt");
      ASSERT_TRUE(info.ok()) << zip64 << saturate << ": " << info.error().message;
      EXPECT_EQ(info->inputs[0].shape, (std::vector<int64_t>{-1, 3, 64, 48}));
      EXPECT_EQ(info->outputs[0].name, "out");
      EXPECT_EQ(info->kind_hint, "segmentation");
      EXPECT_EQ(info->producer, "test");
    }
  }
}

TEST(TorchscriptInfo, NotAZipSaysItIsNotTorchScriptAndPointsAtOpencv) {
  const std::string onnx = std::string(COEDGE_BINARY_DIR) + "/models/fixtures/tiny-classifier.onnx";
  auto r = read_torchscript_info(onnx);
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.error().message, onnx + ": not a TorchScript file");
  EXPECT_HAS(r.error().message, "backend: opencv");
  EXPECT_FALSE(parse_torchscript_info("", "empty.pt").ok());
  auto missing = read_torchscript_info("/no/such/model.pt");
  ASSERT_FALSE(missing.ok());
  EXPECT_HAS(missing.error().message, "/no/such/model.pt: cannot open");
  auto folder = read_torchscript_info("/tmp");
  ASSERT_FALSE(folder.ok());
  EXPECT_HAS(folder.error().message, "/tmp: not a regular file");
}

TEST(TorchscriptInfo, AZipWithoutMetadataSaysHowToAddIt) {
  const Built b = build_zip({{"m/data.pkl", "x"}, {"m/data/0", "w"}}, true);
  const std::string msg = error_of(parse_torchscript_info(b.bytes, "foreign.pt"));
  EXPECT_HAS(msg, "foreign.pt: has no extra/coedge.json");
  EXPECT_HAS(msg, "--add-metadata foreign.pt");
  EXPECT_HAS(msg, "_extra_files");
  // A zip that is no TorchScript at all (no data.pkl) is said to be so.
  const Built other = build_zip({{"readme.txt", "hello"}}, false);
  EXPECT_HAS(error_of(parse_torchscript_info(other.bytes, "x.zip")), "x.zip: not a TorchScript file");
}

TEST(TorchscriptInfo, ACompressedMetadataEntryAsksToResave) {
  auto entries = model_entries();
  entries[1].method = 8;  // deflate
  const std::string msg = error_of(parse_torchscript_info(build_zip(entries, true).bytes, "c.pt"));
  EXPECT_HAS(msg, "c.pt: entry 'm/extra/coedge.json' is compressed");
  EXPECT_HAS(msg, "torch.jit.save");
}

TEST(TorchscriptInfo, OffsetsAndLengthsPastTheEndAreErrors) {
  const Built good = build_zip(model_entries(), true);
  const size_t meta_central = good.central_at[1];
  struct Case {
    const char* what;
    size_t at;
    uint64_t value;
    int width;
    const char* expect;
  };
  const Case cases[] = {
      {"zip64 record offset", good.end_at - 20 + 8, 1u << 30, 8, "zip64 end record"},
      {"central directory offset", good.end64_at + 48, 1u << 30, 8, "past the end of the file"},
      {"central directory size", good.end64_at + 40, 1u << 30, 8, "past the end of the file"},
      {"entry count", good.end64_at + 32, 5, 8, "past the directory's end"},
      {"huge entry count", good.end64_at + 32, uint64_t{1} << 40, 8, "implausible entry count"},
      {"name length", meta_central + 28, 0xfff0, 2, "past the directory's end"},
      {"local header offset", meta_central + 42, 0x7ffffff0, 4, "does not point at a local header"},
      {"entry size", meta_central + 20, 0x7ffffff0, 4, "different compressed and uncompressed"},
  };
  for (const Case& c : cases) {
    std::string bytes = good.bytes;
    put_at(bytes, c.at, c.value, c.width);
    const std::string msg = error_of(parse_torchscript_info(bytes, "h.pt"));
    EXPECT_HAS(msg, c.expect) << c.what;
    EXPECT_HAS(msg, "h.pt: ") << c.what;
  }
  // Both sizes past the end, consistently: the data range is checked against the file.
  std::string bytes = good.bytes;
  put_at(bytes, meta_central + 20, 0x7ffffff0, 4);
  put_at(bytes, meta_central + 24, 0x7ffffff0, 4);
  EXPECT_HAS(error_of(parse_torchscript_info(bytes, "h.pt")), "lies past the end of the file");
  // The local header's name length pushes the data past the end.
  bytes = good.bytes;
  const size_t local = bytes.find("m/extra/coedge.json") - 30;
  put_at(bytes, local + 26, 0xffff, 2);
  EXPECT_HAS(error_of(parse_torchscript_info(bytes, "h.pt")), "lies past the end of the file");
  // Every byte flipped in turn: an error or a result, never a crash (ASan checks reads).
  for (size_t i = 0; i < good.bytes.size(); ++i) {
    std::string flipped = good.bytes;
    flipped[i] = static_cast<char>(~flipped[i]);
    (void)parse_torchscript_info(flipped, "f.pt");
  }
}

TEST(TorchscriptInfo, BadMetadataNamesTheEntryAndTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "not a JSON object"},
      {R"({"coedge_model": 2})", "\"coedge_model\" must be 1"},
      {R"({"coedge_model": 1, "output": {"shape": [-1, 4]}})", "\"input\" is missing"},
      {R"({"coedge_model": 1, "input": {"shape": [-1, 0, 4]}, "output": {"shape": [-1, 4]}})",
       "the batch (first) entry must be -1 (dynamic) or 1 to 1024, the others positive"},
      {R"({"coedge_model": 1, "input": {"shape": [-1]}, "output": {"shape": [-1, 4]}})", "2 to 8 integers"},
      {R"({"coedge_model": 1, "input": {"shape": [-1, 3]}, "output": {"shape": [-1, 4]}, "kind": "poetry"})",
       "'poetry' is not classification, detection or segmentation"},
  };
  for (const auto& [meta, expect] : cases) {
    const std::string msg = error_of(parse_torchscript_info(build_zip(model_entries(meta), true).bytes, "b.pt"));
    EXPECT_HAS(msg, "b.pt: m/extra/coedge.json: ");
    EXPECT_HAS(msg, expect);
  }
}

TEST(TorchscriptInfo, ReadsYolov5sExportConfigWhenThereIsNoCoedgeJson) {
  // What YOLOv5's export.py --include torchscript writes: the input, stride and class names.
  const std::string config = R"({"shape": [1, 3, 640, 640], "stride": 32, "names": {"0": "person", "1": "car"}})";
  auto info = parse_torchscript_info(
      build_zip({{"yolov5s/data.pkl", "x"}, {"yolov5s/extra/config.txt", config}}, true).bytes, "y.torchscript");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->inputs[0].shape, (std::vector<int64_t>{-1, 3, 640, 640}));
  EXPECT_EQ(info->outputs[0].shape, (std::vector<int64_t>{-1, 25200, 7}));  // 3*(80²+40²+20²) rows
  EXPECT_EQ(info->kind_hint, "detection");
  // coedge.json, when both are there, is what counts.
  auto both = model_entries();
  both.push_back({"m/extra/config.txt", config});
  auto preferred = parse_torchscript_info(build_zip(both, true).bytes, "b.pt");
  ASSERT_TRUE(preferred.ok());
  EXPECT_EQ(preferred->kind_hint, "segmentation");
  const std::pair<const char*, const char*> bad[] = {
      {R"({"stride": 32, "names": ["a"]})", "\"shape\" must be [batch, 3, height, width], got nothing"},
      {R"({"shape": [1, 3, 100, 640], "names": ["a"]})", "input [1,3,100,640]: YOLOv5's height and width are multiples of 32"},
      {R"({"shape": [1, 3, 640, 640], "stride": 64, "names": ["a"]})", "stride 64 is not YOLOv5's 32"},
      {R"({"shape": [1, 3, 640, 640], "stride": 32})", "\"names\" (the class names) is missing"},
  };
  for (const auto& [text, expect] : bad) {
    const std::string msg =
        error_of(parse_torchscript_info(build_zip({{"y/data.pkl", "x"}, {"y/extra/config.txt", text}}, false).bytes, "y.pt"));
    EXPECT_HAS(msg, std::string("y.pt: y/extra/config.txt: ") + expect);
  }
}

}  // namespace
}  // namespace coedge::infer
