// The protobuf wire format, just enough to read and rewrite ONNX files without libprotobuf
// (which would tie the agent and the workers to one protobuf version and one onnx.proto).
//
// Reader walks one message's fields in order; it never recurses (a nested message is read
// with another Reader over Field::bytes), checks every length against the buffer, and turns
// `ok()` false on malformed input, so an untrusted file cannot make it read out of bounds.
// Writer appends fields; `raw` copies a field exactly as it was read (Field::raw), which is
// how a rewrite keeps every field it does not understand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace coedge::infer::onnx_wire {

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;
  uint64_t varint = 0;
  std::string_view bytes;  // for length-delimited fields
  std::string_view raw;    // the whole field as encoded: key, length and value
};

// One protobuf message's fields, in order. `ok` turns false on malformed input.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool next(Field& f) {
    if (pos_ >= data_.size() || !ok_) return false;
    const size_t start = pos_;
    uint64_t key;
    if (!varint(key)) return fail();
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<uint32_t>(key & 7);
    f.varint = 0;
    f.bytes = {};
    bool good;
    switch (f.wire) {
      case kVarint: good = varint(f.varint) || fail(); break;
      case kFixed64: good = skip(8); break;
      case kFixed32: good = skip(4); break;
      case kLength: {
        uint64_t len;
        if (!varint(len) || len > data_.size() - pos_) return fail();
        f.bytes = data_.substr(pos_, len);
        pos_ += len;
        good = true;
        break;
      }
      default: return fail();
    }
    if (good) f.raw = data_.substr(start, pos_ - start);
    return good;
  }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  bool skip(size_t n) {
    if (n > data_.size() - pos_) return fail();
    pos_ += n;
    return true;
  }
  bool varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      out |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void raw(std::string_view field) { out_.append(field); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void key(uint32_t number, Wire wire) { varint((static_cast<uint64_t>(number) << 3) | wire); }
  void bytes(uint32_t number, std::string_view value) {
    key(number, kLength);
    varint(value.size());
    out_.append(value);
  }

 private:
  std::string& out_;
};

}  // namespace coedge::infer::onnx_wire
