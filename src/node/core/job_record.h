// What the node runtime records about one job (one frame of one task) from its release
// to its end: the timestamps of every stage, the batch it ran in, and how it ended.
// Times are on the agent's clock (TimePoint since the agent started); a stage the job
// never reached keeps TimePoint{} and `reached()` says so. The frame's identity is the
// agent's own account (its sensor thread or its feed), never a worker's. Plain data.
#pragma once

#include <cstdint>
#include <string>

#include "core/job_outcome.h"
#include "core/time.h"

namespace coedge::node {

// Which frame a job is for, as its source named it when the agent captured or received it.
struct FrameIdentity {
  uint32_t sensor = 0;         // index into NodeConfig::sensors
  uint64_t sequence = 0;       // the sensor's frame counter (coedge_frame.sequence)
  std::string file;            // folder sensor: the image's file name (no directory); else empty
  int64_t index = -1;          // video: the frame's index in the file (from 0); synthetic: its
                               // frame counter; -1: none
  int64_t stamp_ns = -1;       // topic: the image header's stamp (unix ns); -1: none
  std::string frame_id;        // topic: the image header's frame_id
  int64_t capture_unix_us = 0; // wall clock (UTC) when the frame was captured; 0: unknown
  bool operator==(const FrameIdentity&) const = default;
};

struct JobRecord {
  uint64_t id = 0;
  uint32_t task = 0;  // index into NodeConfig::tasks
  TimePoint release{};
  TimePoint deadline{};  // absolute
  TimePoint pre_start{}, pre_end{};
  TimePoint infer_start{}, infer_end{};  // the whole batch's forward pass
  TimePoint post_start{}, post_end{};
  TimePoint end{};  // when its outcome was decided
  int batch = 0;    // size of the batch it ran in; 0 if it never ran
  JobOutcome outcome = JobOutcome::kOpen;
  DropCause reason = DropCause::kNone;
  FrameIdentity frame;

  static bool reached(TimePoint t) { return t != TimePoint{}; }
};

}  // namespace coedge::node
