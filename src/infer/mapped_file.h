// A model file mapped read-only, for the readers that parse it in place (onnx_info,
// torchscript_info) and the OpenCV backend, which hands the bytes to OpenCV: mapped, not
// read, so that only the pages a reader touches come into memory (a 350 MB model read
// whole was held twice, in every agent at start). An empty file maps to no bytes. A file
// truncated by another process while mapped would fault (SIGBUS) rather than read short:
// model files are not rewritten under a running node. Move-only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace coedge::infer {

class MappedFile {
 public:
  // Errors: cannot open, not a regular file, cannot map (each naming the file).
  static Result<MappedFile> open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile() = default;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace coedge::infer
