// A node's cameras (`coedge camera --scenario S.yaml --node N`): for every task whose
// source is node N and that names no `topic` (a task that does is published by a camera
// driver of its own, TaskSpec::topic), it captures a frame at the task's period and publishes it on the
// task's ROS 2 image topic (node/cluster/cluster_feed.h: camera_topic) as a sensor_msgs/Image,
// stamped with its capture time (CLOCK_REALTIME, as ROS does). It stands for the camera
// driver of a real lamppost, which a ROS 2 driver can replace. It starts
// each task once the node that the master's first plan gives it acknowledges it is ready
// (DDS task_ack; or at the plan's effective time for a task placed nowhere, or 60 s after
// it when no node claims the task), so that no frame is captured before a node can take it;
// it reports how many frames each task published (the released jobs of the cluster's
// accounting), and stops when the master says so or on SIGINT/SIGTERM.
//
// Frames are sized as the task model's input ([3, H, W] -> H x W, bgr8): the bytes a
// node would send to another (ModelProfile::input_bytes). They are synthetic, or images
// from a folder, resized. One thread per task, so a slow topic delays no other.
#pragma once

#include <atomic>
#include <string>

#include "core/scenario.h"
#include "net/dds.h"

namespace coedge::node {

struct CameraOptions {
  std::string node;
  net::DdsOptions dds;
  std::string frames_dir;  // images to replay; empty: synthetic frames
  bool best_effort = false;  // publish best-effort (as ROS 2 SensorDataQoS cameras do)
  const std::atomic<bool>* stop = nullptr;
};

// Returns the exit code: 0 after a run, 1 when it cannot start.
int run_camera(const Scenario& scenario, const CameraOptions& options);

}  // namespace coedge::node
