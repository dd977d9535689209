// The TorchScript metadata reader (torchscript_info.h): a minimal zip reader, just enough
// to find one stored entry, and the coedge.json schema.
//
// Zip layout as torch.jit.save writes it (measured, /work/spike-torch.md): every entry is
// stored (method 0); the archive always ends with a zip64 end-of-central-directory record
// and locator, then the classic end record; entries live under a top-level folder named
// after the file's stem at save time (so the reader matches "*/extra/coedge.json"); data
// entries are 64-byte aligned through padding in the *local* header's extra field, whose
// length therefore differs from the central header's. Every offset and length read from
// the file is checked against the file's size before it is used: a model file is untrusted.
#include "infer/torchscript_info.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "infer/mapped_file.h"

namespace coedge::infer {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;
constexpr size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22, kEnd64Size = 56, kLocator64Size = 20;
constexpr size_t kMaxComment = 0xffff;
constexpr uint64_t kMaxEntries = 1'000'000;  // a hostile count cannot make us loop forever

uint64_t le(std::string_view bytes, size_t at, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
  return v;
}

// `bytes[at, at+n)` lies inside the file (no overflow).
bool inside(std::string_view bytes, uint64_t at, uint64_t n) { return at <= bytes.size() && n <= bytes.size() - at; }

struct Entry {
  std::string name;
  uint16_t method = 0;
  uint64_t compressed = 0, uncompressed = 0, local_offset = 0;
};


class ZipReader {
 public:
  ZipReader(std::string_view bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  // The central directory's entries, or an Error naming the file and the fault.
  Result<std::vector<Entry>> entries() {
    const auto end = find_end();
    if (!end) return not_torchscript("no zip end-of-central-directory record");
    uint64_t count = le(bytes_, *end + 10, 2);
    uint64_t cd_size = le(bytes_, *end + 12, 4);
    uint64_t cd_offset = le(bytes_, *end + 16, 4);
    // zip64: PyTorch always writes it; the locator sits right before the classic record.
    if (*end >= kLocator64Size && le(bytes_, *end - kLocator64Size, 4) == kLocator64Sig) {
      const uint64_t rec = le(bytes_, *end - kLocator64Size + 8, 8);
      if (!inside(bytes_, rec, kEnd64Size) || le(bytes_, rec, 4) != kEnd64Sig)
        return corrupt("the zip64 end record offset " + std::to_string(rec) + " does not point at one");
      count = le(bytes_, rec + 32, 8);
      cd_size = le(bytes_, rec + 40, 8);
      cd_offset = le(bytes_, rec + 48, 8);
    }
    if (!inside(bytes_, cd_offset, cd_size))
      return corrupt("central directory (offset " + std::to_string(cd_offset) + ", " + std::to_string(cd_size) +
                     " bytes) lies past the end of the file");
    if (count > kMaxEntries) return corrupt("implausible entry count " + std::to_string(count));
    std::vector<Entry> out;
    uint64_t at = cd_offset;
    const uint64_t cd_end = cd_offset + cd_size;
    for (uint64_t i = 0; i < count; ++i) {
      if (at > cd_end || kCentralSize > cd_end - at || le(bytes_, at, 4) != kCentralSig)
        return corrupt("central directory entry " + std::to_string(i) + " at offset " + std::to_string(at) +
                       " is malformed or past the directory's end");
      Entry e;
      e.method = static_cast<uint16_t>(le(bytes_, at + 10, 2));
      e.compressed = le(bytes_, at + 20, 4);
      e.uncompressed = le(bytes_, at + 24, 4);
      const uint64_t name_len = le(bytes_, at + 28, 2), extra_len = le(bytes_, at + 30, 2),
                     comment_len = le(bytes_, at + 32, 2);
      e.local_offset = le(bytes_, at + 42, 4);
      const uint64_t total = kCentralSize + name_len + extra_len + comment_len;
      if (total > cd_end - at)
        return corrupt("central directory entry " + std::to_string(i) + " runs past the directory's end");
      e.name.assign(bytes_.substr(at + kCentralSize, name_len));
      if (!read_zip64_extra(bytes_.substr(at + kCentralSize + name_len, extra_len), e))
        return corrupt("entry '" + e.name + "' has a malformed zip64 extra field");
      out.push_back(std::move(e));
      at += total;
    }
    return out;
  }

  // The bytes of a stored entry, located through its local header.
  Result<std::string_view> stored_data(const Entry& e) {
    if (e.method != 0)
      return Error{ErrorCode::kUnsupported,
                   name_ + ": entry '" + e.name + "' is compressed (zip method " + std::to_string(e.method) +
                       "); CoEdge reads only stored entries, as torch.jit.save writes them: re-save the "
                       "model with torch.jit.save(module, FILE, _extra_files=...)"};
    if (!inside(bytes_, e.local_offset, kLocalSize) || le(bytes_, e.local_offset, 4) != kLocalSig)
      return corrupt("entry '" + e.name + "': local header offset " + std::to_string(e.local_offset) +
                     " does not point at a local header");
    // The local header's own lengths: its extra field holds PyTorch's alignment padding.
    const uint64_t data = e.local_offset + kLocalSize + le(bytes_, e.local_offset + 26, 2) +
                          le(bytes_, e.local_offset + 28, 2);
    if (e.compressed != e.uncompressed)
      return corrupt("stored entry '" + e.name + "' has different compressed and uncompressed sizes");
    if (!inside(bytes_, data, e.compressed))
      return corrupt("entry '" + e.name + "' (offset " + std::to_string(data) + ", " + std::to_string(e.compressed) +
                     " bytes) lies past the end of the file");
    return bytes_.substr(data, e.compressed);
  }

 private:
  std::optional<size_t> find_end() const {
    if (bytes_.size() < kEndSize) return std::nullopt;
    const size_t last = bytes_.size() - kEndSize;
    const size_t first = last > kMaxComment ? last - kMaxComment : 0;
    for (size_t at = last + 1; at-- > first;) {
      // The record's comment must reach exactly to the end of the file.
      if (le(bytes_, at, 4) == kEndSig && le(bytes_, at + 20, 2) == bytes_.size() - at - kEndSize) return at;
    }
    return std::nullopt;
  }

  // Sizes and offset saturated at 0xffffffff in the central header are in the zip64 extra
  // field (id 1), in this order, each present only when saturated.
  static bool read_zip64_extra(std::string_view extra, Entry& e) {
    constexpr uint64_t kSat = 0xffffffff;
    if (e.uncompressed != kSat && e.compressed != kSat && e.local_offset != kSat) return true;
    size_t at = 0;
    while (at + 4 <= extra.size()) {
      const uint64_t id = le(extra, at, 2), len = le(extra, at + 2, 2);
      if (len > extra.size() - at - 4) return false;
      if (id == 1) {
        std::string_view field = extra.substr(at + 4, len);
        size_t f = 0;
        for (uint64_t* v : {&e.uncompressed, &e.compressed, &e.local_offset}) {
          if (*v != kSat) continue;
          if (f + 8 > field.size()) return false;
          *v = le(field, f, 8);
          f += 8;
        }
        return true;
      }
      at += 4 + len;
    }
    return false;
  }

  Error not_torchscript(const std::string& why) const {
    return Error{ErrorCode::kUnsupported, name_ + ": not a TorchScript file (" + why +
                                              "); for ONNX use `backend: opencv`"};
  }
  Error corrupt(const std::string& why) const {
    return Error{ErrorCode::kInvalidInput, name_ + ": corrupt TorchScript (zip) archive: " + why};
  }

  std::string_view bytes_;
  const std::string& name_;
};

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

Result<TensorInfo> tensor_field(const nlohmann::json& doc, const char* key, const std::string& where) {
  const auto bad = [&](const std::string& why) {
    return Error{ErrorCode::kInvalidInput, where + ": \"" + key + "\" " + why};
  };
  if (!doc.contains(key) || !doc[key].is_object()) return bad("is missing or not an object {\"name\", \"shape\"}");
  const auto& t = doc[key];
  TensorInfo info;
  info.element_type = 1;  // float: the only element type CoEdge feeds and reads
  if (t.contains("name")) {
    if (!t["name"].is_string()) return bad("name is not a string");
    info.name = t["name"].get<std::string>();
  }
  if (!t.contains("shape") || !t["shape"].is_array() || t["shape"].size() < 2 || t["shape"].size() > 8)
    return bad("shape must be an array of 2 to 8 integers, e.g. [-1, 3, 224, 224]");
  // Only the batch may be dynamic; a fixed batch is 1 to 1024, and an item holds at most
  // 2^28 values (1 GiB of floats): the file is untrusted, and the agent sizes shared
  // memory, and the backend its warm-up passes, from these numbers.
  constexpr int64_t kMaxItemElements = int64_t{1} << 28;
  int64_t item = 1;
  for (const auto& d : t["shape"]) {
    const size_t axis = info.shape.size();
    const bool integer = d.is_number_integer();
    const int64_t v = integer ? d.get<int64_t>() : 0;
    const bool fits = axis == 0 ? (v == -1 || (v >= 1 && v <= 1024))
                                : (v >= 1 && v <= kMaxItemElements && item <= kMaxItemElements / v);
    if (!integer || !fits)
      return bad("shape " + t["shape"].dump() + ": the batch (first) entry must be -1 (dynamic) or 1 to 1024, the " +
                 "others positive, at most 2^28 values per item");
    if (axis > 0) item *= v;
    info.shape.push_back(v);
  }
  return info;
}

Result<ModelInfo> parse_metadata(std::string_view json, const std::string& where) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return Error{ErrorCode::kInvalidInput, where + ": not a JSON object"};
  if (!doc.contains("coedge_model") || doc["coedge_model"] != 1)
    return Error{ErrorCode::kUnsupported,
                 where + ": \"coedge_model\" must be 1 (the metadata version this CoEdge reads), got " +
                     (doc.contains("coedge_model") ? doc["coedge_model"].dump() : std::string("nothing"))};
  ModelInfo info;
  info.format = ModelFormat::kTorchScript;
  info.producer = "torch.jit.save";
  if (doc.contains("producer") && doc["producer"].is_string()) info.producer = doc["producer"].get<std::string>();
  auto input = tensor_field(doc, "input", where);
  if (!input.ok()) return input.error();
  auto output = tensor_field(doc, "output", where);
  if (!output.ok()) return output.error();
  if (input->name.empty()) input->name = "input";
  if (output->name.empty()) output->name = "output";
  info.inputs.push_back(std::move(input.value()));
  info.outputs.push_back(std::move(output.value()));
  if (doc.contains("kind")) {
    if (!doc["kind"].is_string())
      return Error{ErrorCode::kInvalidInput, where + ": \"kind\" is not a string"};
    info.kind_hint = doc["kind"].get<std::string>();
    if (info.kind_hint != "classification" && info.kind_hint != "detection" && info.kind_hint != "segmentation")
      return Error{ErrorCode::kInvalidInput, where + ": \"kind\" '" + info.kind_hint +
                                                 "' is not classification, detection or segmentation"};
  }
  return info;
}

// YOLOv5's export.py (`--include torchscript`) saves extra/config.txt as JSON
// {"shape": [B, 3, H, W], "stride": 32, "names": [...] or {id: name}}, without the output
// shape; that is YOLOv5's Detect layout, which follows from the input: 3 anchors per cell
// on the grids of strides 8, 16 and 32, rows of (cx, cy, w, h, objectness, one score per
// class). The batch is read as dynamic: the load's warm-up tries each size.
Result<ModelInfo> parse_yolov5_config(std::string_view json, const std::string& where) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return Error{ErrorCode::kInvalidInput, where + ": not a JSON object (YOLOv5's export writes one)"};
  const auto& shape = doc.contains("shape") ? doc["shape"] : nlohmann::json();
  if (!shape.is_array() || shape.size() != 4 || !shape[1].is_number_integer() || shape[1] != 3 ||
      !shape[2].is_number_integer() || !shape[3].is_number_integer())
    return Error{ErrorCode::kInvalidInput, where + ": \"shape\" must be [batch, 3, height, width], got " +
                                               (doc.contains("shape") ? shape.dump() : std::string("nothing"))};
  const int64_t h = shape[2].get<int64_t>(), w = shape[3].get<int64_t>();
  if (h <= 0 || w <= 0 || h % 32 != 0 || w % 32 != 0 || h > 8192 || w > 8192)
    return Error{ErrorCode::kInvalidInput, where + ": input " + shape.dump() +
                                               ": YOLOv5's height and width are multiples of 32 (up to 8192)"};
  if (doc.contains("stride") && doc["stride"] != 32)
    return Error{ErrorCode::kUnsupported, where + ": stride " + doc["stride"].dump() +
                                              " is not YOLOv5's 32 (P5 models); add extra/coedge.json with the "
                                              "output shape instead"};
  const auto& names = doc.contains("names") ? doc["names"] : nlohmann::json();
  if (!(names.is_array() || names.is_object()) || names.empty() || names.size() > 100000)
    return Error{ErrorCode::kInvalidInput, where + ": \"names\" (the class names) is missing or empty"};
  const auto classes = static_cast<int64_t>(names.size());
  const int64_t rows = 3 * ((h / 8) * (w / 8) + (h / 16) * (w / 16) + (h / 32) * (w / 32));
  ModelInfo info;
  info.format = ModelFormat::kTorchScript;
  info.producer = "yolov5 export.py (config.txt)";
  info.inputs.push_back(TensorInfo{"images", 1, {-1, 3, h, w}});
  info.outputs.push_back(TensorInfo{"output0", 1, {-1, rows, 5 + classes}});
  info.kind_hint = "detection";
  return info;
}

}  // namespace

Result<ModelInfo> parse_torchscript_info(std::string_view bytes, const std::string& name) {
  ZipReader zip(bytes, name);
  auto entries = zip.entries();
  if (!entries.ok()) return entries.error();
  for (const Entry& e : entries.value()) {
    // "<archive>/extra/coedge.json": the top folder is the stem the file was saved under.
    const auto slash = e.name.find('/');
    if (slash == std::string::npos || e.name.substr(slash) != "/extra/coedge.json") continue;
    auto data = zip.stored_data(e);
    if (!data.ok()) return data.error();
    return parse_metadata(data.value(), name + ": " + e.name);
  }
  for (const Entry& e : entries.value()) {
    const auto slash = e.name.find('/');
    if (slash == std::string::npos || e.name.substr(slash) != "/extra/config.txt") continue;
    auto data = zip.stored_data(e);
    if (!data.ok()) return data.error();
    return parse_yolov5_config(data.value(), name + ": " + e.name);
  }
  bool has_code = false;
  for (const Entry& e : entries.value()) has_code = has_code || ends_with(e.name, "/data.pkl");
  if (!has_code)
    return Error{ErrorCode::kUnsupported,
                 name + ": not a TorchScript file (a zip archive without data.pkl); for ONNX use `backend: opencv`"};
  return Error{ErrorCode::kUnsupported,
               name + ": has no extra/coedge.json, the input and output shapes CoEdge needs; add them with "
                      "`tools/export_models.py --add-metadata " + name +
                      " --input 3xHxW`, or save the model with torch.jit.save(module, FILE, "
                      "_extra_files={\"coedge.json\": ...}) (docs/MODELS.md, \"The torch backend\")"};
}

Result<ModelInfo> read_torchscript_info(const std::string& path) {
  // Mapped (mapped_file.h): only the end of the archive and one entry are touched, however
  // large the weights.
  auto file = MappedFile::open(path);
  if (!file.ok()) return file.error();
  return parse_torchscript_info(file->bytes(), path);
}

}  // namespace coedge::infer
