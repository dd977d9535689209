// A node agent's link to its cluster (`coedge node --scenario`): it follows the master's
// plan, subscribes to the camera topics of the tasks the plan gives this node (remote
// data fetch, paper §5), releases a job for every frame it accepts and hands the frame
// to the pipeline, reports what it measured every second (cumulative counts per task,
// latency sums, bandwidth to its peers, its profiles), measures that bandwidth (an iperf
// probe at a low duty cycle plus the frames it receives), and tells the agent when the
// master says stop.
//
// Lean nodes: a task runs here only while the plan gives it (from the moment a plan
// naming this node arrives: the pipeline starts the task's workers and asks for its model)
// until a grace period after the last frame this node owns (then its workers stop).
//
// Hand-over without losing or doubling a job, once the task is ready: the node a plan
// names claims the task when its workers and model are ready, from F = max(effective
// time, ready + lead), and tells every other node and the cameras in an acknowledgement
// (DDS topic task_ack); the node losing the task keeps its frames until F. A frame belongs
// to the node whose interval holds its capture stamp (camera clock, CLOCK_REALTIME), so
// every frame has one owner as long as the nodes' clocks agree (one machine: always; hosts:
// PTP or NTP) and the acknowledgement arrives within the lead. A node that never gets
// ready never claims: the old owner keeps the task. The rules live in the hand-over table
// (node/cluster/handover_table.h, passive, tested on its own, ready mode); this feed is its driver.
// Plans are ordered by (master epoch, version): a restarted master's plans are followed
// although their versions start again at 1 (net::plan_supersedes); each report names the
// epoch and version of the newest plan applied.
//
// Topics: one subscription per distinct topic, shared by the tasks here that read it. A
// task on the cluster's own camera (`coedge camera`) takes every frame it accepts (the
// camera publishes at the task's period); a task on a camera driver's topic (the
// scenario's `topic:`) takes one frame per period (node/core/topic_sampler.h) and counts
// the rest as skipped. Each frame is decoded once (node/cluster/ros_frame.h: bgr8, rgb8,
// mono8, jpeg/png CompressedImage) and published once with the jobs of every task that
// took it (node/cluster/topic_frames.h); a rejected one's jobs are dropped kBadFrame. The
// node's results are published on the bus (node/cluster/result_publisher.h).
//
// Received control samples are checked before use (node/cluster/sample_checks.h): a plan,
// a task claim or a command refused is not applied, and is counted per (topic, reason)
// (counts().rejected_samples for the node's summary.json, coedge_node_rejected_samples_total)
// and logged: the first of each (topic, reason), then at most one line per 10 s.
//
// Threads: a feeder thread of its own takes frames from DDS and publishes them into the
// pipeline (the one producer of every topic sensor's pool); a probe thread measures
// bandwidth; poll() and the rest are called from the agent's loop thread only.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/node_config.h"
#include "core/clock.h"
#include "core/result.h"
#include "core/scenario.h"
#include "net/dds.h"
#include "node/core/accounting.h"
#include "node/feed.h"
#include "node/pipeline.h"

namespace coedge::node {

struct ClusterOptions {
  std::string node;                      // this node's name in the scenario
  uint32_t domain = 0;                   // DDS domain id
  std::string interface_address;         // DDS interface; empty: Cyclone's default
  std::vector<std::string> dds_peers;    // unicast discovery peers; empty: multicast
  // Peers' addresses for the bandwidth probe, by node name; a node not listed is not probed.
  std::vector<std::pair<std::string, std::string>> peer_addresses;
  int probe_port = 5201;                 // iperf3 port of every node's probe server
  Duration probe_every = std::chrono::seconds(3);   // one peer probed each time, in turn
  Duration probe_length = std::chrono::milliseconds(250);
  Duration report_every = std::chrono::seconds(1);
  bool best_effort_frames = false;       // subscribe best-effort (ROS 2 SensorDataQoS cameras)
  // DDS Security files of this node's identity (its keystore); none: an open domain. With
  // them, a task claim from a writer in no node's partition is refused (sample_checks.h).
  std::optional<net::DdsSecurityFiles> security;
};

// The ROS 2 topic of a task's camera: /coedge/<source node>/<task>/image_raw.
std::string camera_topic(const std::string& source_node, const std::string& task);

class ClusterFeed final : public Feed {
 public:
  // `scenario`: the cluster's (nodes, tasks in the agent's config order, models);
  // context.config: the agent's config (cluster_node_config): its tasks in the scenario's
  // order, each with a topic sensor (its path the task's topic: its camera's,
  // camera_topic(), or a driver's, one sensor shared by the tasks on a driver's topic).
  // REQUIRES: everything passed outlives the feed; the pipeline is started.
  static Result<std::unique_ptr<ClusterFeed>> start(const ClusterOptions& options,
                                                    const Scenario& scenario,
                                                    const FeedContext& context);
  ~ClusterFeed() override;

  // Applies a new plan, sends the periodic report, reads commands. Returns true once the
  // master asked this node to stop.
  bool poll(TimePoint now) override;
  // Accepts no more frames (the agent is stopping and drains what it has): returns once
  // the feeder thread is gone, so nothing is published into the pipeline after it.
  void stop_accepting() override;
  // The last report, after every job is closed, so the master's accounting is complete.
  void final_report() override;
  Counts counts() const override;

  struct Impl;

 private:
  explicit ClusterFeed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coedge::node
