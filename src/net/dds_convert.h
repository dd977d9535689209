// Conversion of received DDS samples (the C types idlc generates from idl/*.idl) into the
// plain structs of net/dds.h: the first code that touches a peer's bytes after Cyclone has
// deserialized them. Internal to src/net and to the fuzz targets (fuzz/), which feed them
// samples that Cyclone's own deserializer produced from arbitrary bytes. Every function is
// pure and total: any sample Cyclone accepts converts without crashing.
#pragma once

#include "coedge.h"
#include "net/dds.h"
#include "ros_image.h"

namespace coedge::net::internal {

NodeReport from_msg(const coedge_msg_NodeReport& m);
Plan from_msg(const coedge_msg_Plan& m);
SourceStats from_msg(const coedge_msg_SourceStats& m);
TaskAck from_msg(const coedge_msg_TaskAck& m);
Command from_msg(const coedge_msg_Command& m);
Image from_ros(const sensor_msgs_msg_dds__Image_& m);
Image from_ros(const sensor_msgs_msg_dds__CompressedImage_& m);

}  // namespace coedge::net::internal
