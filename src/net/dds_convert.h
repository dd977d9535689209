// Conversion of received DDS samples (the C types idlc generates from idl/*.idl) into the
// plain structs of net/dds.h: the first code that touches a peer's bytes after Cyclone has
// deserialized them. Internal to src/net and to the fuzz targets (fuzz/), which feed them
// samples that Cyclone's own deserializer produced from arbitrary bytes. Every function is
// pure and total: any sample Cyclone accepts converts without crashing, and without work or
// memory beyond the caps of dds.h (kMaxSample*, kMaxImageBytes): every length is checked
// before anything is copied, and a sample over a cap is Error{kInvalidInput, "<what>: <field>
// has N ..., more than the cap M"} (never truncated: a cut report would read as a true one).
// Only size is checked here; what the values mean (NaN, decreasing counters, unknown tasks)
// is for the layers that know (master, node).
#pragma once

#include "coedge.h"
#include "core/result.h"
#include "net/dds.h"
#include "ros_image.h"

namespace coedge::net::internal {

Result<NodeReport> from_msg(const coedge_msg_NodeReport& m);
Result<Plan> from_msg(const coedge_msg_Plan& m);
Result<SourceStats> from_msg(const coedge_msg_SourceStats& m);
Result<TaskAck> from_msg(const coedge_msg_TaskAck& m);
Result<Command> from_msg(const coedge_msg_Command& m);
Result<Image> from_ros(const sensor_msgs_msg_dds__Image_& m);
Result<Image> from_ros(const sensor_msgs_msg_dds__CompressedImage_& m);

}  // namespace coedge::net::internal
