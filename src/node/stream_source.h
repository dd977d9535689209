// A live network stream as a FrameSource (sensor kind `stream`): a camera's H.264 (or any
// codec FFmpeg decodes) over http, tcp, udp, rtsp, ..., read through OpenCV's FFmpeg
// backend in the media plugin (media/codecs.h).
//
// A live stream must be drained as fast as it comes, or the decoder falls behind and every
// frame is late. So a reader thread per stream reads and decodes every frame as it arrives
// and keeps only the newest one, stamped at its arrival (wall clock and monotonic clock).
// next(), on the agent's capture thread, never waits: it hands out the newest frame that
// arrived since its last call — the newest, not the one nearest the release time: a
// capture loop that falls behind gets the freshest picture and skips the rest — or no
// frame at all when none arrived (the agent then releases no job).
//
// Failures, each told once as an event (FrameSource::take_events) and counted
// (StreamStats):
//  - stalled: no frame for stall_timeout (from the last frame, or from the start); once
//    per outage, however long; "frames again" when one comes.
//  - dropped: the connection ended: end of stream, connection closed, a read error, or no
//    data for stall_timeout (FFmpeg's read timeout, CAP_PROP_READ_TIMEOUT_MSEC).
//  - a failed open (connection refused, no stream within open_timeout,
//    CAP_PROP_OPEN_TIMEOUT_MSEC): the first of an outage is told, the others counted.
// After a drop or a failed open the reader waits, then connects again: reconnect_min
// first, doubling up to reconnect_max, back to reconnect_min once a frame arrives. All of
// it happens on the reader thread: the capture thread is never blocked by the network.
//
// Lifetime: open_stream_source() only checks and constructs; the reader starts at start()
// (when the sensor starts capturing), so nothing is decoded while the node profiles its
// models, and "stalled since the start" counts from start(). request_stop() asks the reader
// to stop and returns at once; stop() (and the destructor) also wait for it.
//
// How long a stop waits: the reader returns from FFmpeg within open_timeout (connecting) or
// stall_timeout (reading). But OpenCV serialises FFmpeg opens across the whole process (one
// mutex around every CvCapture_FFMPEG::open, in OpenCV 4.6): a camera that accepts the
// connection and never answers holds every other stream's (re)connection, and every video
// sensor's open, for up to its open_timeout. So one dead camera delays the others'
// reconnections. The readers queue for that turn in front of OpenCV (stream_source.cc,
// OpenGate), where a stop reaches them: a stop waits for the open in progress, not for
// the queue. DNS lookups of the URL's host are not bounded by open_timeout (FFmpeg resolves
// before its timeout applies); use an address, or a resolver that answers quickly.
//
// Thread-safety: as FrameSource (one caller thread); the reader thread shares the newest
// frame, the counters and the events with it under a mutex.
#pragma once

#include <cstdint>
#include <memory>

#include "config/node_config.h"
#include "core/result.h"
#include "core/time.h"
#include "node/frame_source.h"

namespace coedge::node {

// The delay before the next connection attempt after `failures` consecutive failed
// attempts or lost connections since the last frame (0: the first retry):
// reconnect_min * 2^failures, at most reconnect_max.
Duration reconnect_delay(const config::StreamSettings& settings, uint32_t failures);

// A stream sensor's source, not yet reading: start() starts its reader (which connects in
// the background). Errors (kNotFound, naming the sensor): no URL, or no media plugin.
Result<std::unique_ptr<FrameSource>> open_stream_source(const config::SensorConfig& config);

}  // namespace coedge::node
