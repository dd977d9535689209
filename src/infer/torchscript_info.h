// Reads what a TorchScript file (torch.jit.save's zip archive) declares, without libtorch:
// the entry `<archive>/extra/coedge.json` that tools/gen_models_torch.py and
// tools/export_models.py write (torch.jit.save's _extra_files; stored, never compressed):
//   {"coedge_model": 1, "input": {"name": "images", "shape": [-1, 3, H, W]},
//    "output": {"name": "...", "shape": [-1, ...]}, "kind": "classification", ...}
// or, failing that, the entry `<archive>/extra/config.txt` that YOLOv5's export.py writes
// ({"shape": [B, 3, H, W], "stride": 32, "names": ...}: YOLOv5's Detect output follows),
// so that the agent and the workers, which never load libtorch, can size shared memory and
// validate batches. The file is untrusted input: every zip offset and length is checked
// against the file's size. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "infer/model_info.h"

namespace coedge::infer {

// Errors name the file and say what to do: not a zip (not TorchScript), no coedge.json
// (re-save it with tools/export_models.py --add-metadata), a compressed or malformed entry.
Result<ModelInfo> read_torchscript_info(const std::string& path);
Result<ModelInfo> parse_torchscript_info(std::string_view bytes, const std::string& name_for_errors);

}  // namespace coedge::infer
