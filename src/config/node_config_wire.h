// A resolved NodeConfig as one JSON document: how the node agent hands its config to the
// inference server process it starts (`coedge node-server`), so that the server runs on
// the agent's own structs — the same models with the same profiles (also ones measured at
// start), the same tasks, the agent's command-line overrides — instead of deriving them
// again from files. Typed and versioned ({"format": "coedge-node-config", "version": 1});
// every field is written, durations as integer microseconds, so a config reads back
// exactly (write(read(write(c))) == write(c), byte for byte).
//
// The agent sends the document with its digest; the server reads it back, writes what
// it read and checks that the digest of that is the agent's. A mismatch (bytes changed
// on the way, or a reader that would drop or alter a field) is an error: the server then
// cannot be running on the agent's config. The digest (FNV-1a, 64 bits) finds accidents,
// not attackers: only the agent writes the document.
//
// Every problem is one Error "ORIGIN: FIELD_PATH: REASON" for the first one met (e.g.
// "the node config from the agent: tasks[1].model: 7 is not a model index (2 models)").
// Pure; thread-safe (no shared state). nlohmann-json stays behind this interface.
#pragma once

#include <string>
#include <string_view>

#include "config/node_config.h"
#include "core/result.h"

namespace coedge::config {

// 2: models carry labels and labels_file, tasks confidence and nms_iou.
// 3: sensors carry their stream settings (kind "stream").
// 4: sensors carry compressed and reliability (kind "topic").
// 5: sandbox, worker_limits and violations; tasks carry their resolved limits.
inline constexpr int kNodeConfigWireVersion = 5;

// The document for `config` (its notices are left out: they are for the agent to print).
std::string write_node_config_wire(const NodeConfig& config);

// 16 lower-case hex digits: FNV-1a 64 of `bytes`.
std::string wire_digest(std::string_view bytes);

// Reads a document written by write_node_config_wire. `origin` names where it came from,
// in messages. With `expected_digest` non-empty, also checks that `text` has that digest
// and that the config read writes back to it.
Result<NodeConfig> read_node_config_wire(std::string_view text, const std::string& origin,
                                         const std::string& expected_digest = "");

}  // namespace coedge::config
