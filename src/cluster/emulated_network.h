// EmulatedNetwork: an edge fleet's network on one machine. Every node gets its own network
// namespace, all joined by a Linux bridge that lives in a hub namespace (nothing is added to
// the host's own namespace, and runs with different prefixes are fully isolated), and each
// pair of nodes gets its own bandwidth, enforced at the sender in both directions. Needs root.
//
// Names and addresses, for a prefix P and node index i (0-based):
//   namespaces  P-hub (bridge br0), P-<i> (node i), P-master (when with_master)
//   interfaces  in P-hub: br0, n<i> (node i's veth end), nm (master's); in a node or the
//               master: lo and eth0 (the other veth end). Index-based because Linux interface
//               names are at most 15 characters.
//   addresses   node i: 10.77.0.<i+1>/24 (so at most 253 nodes), master: 10.77.0.254/24;
//               each endpoint also routes 224.0.0.0/4 on eth0 (DDS multicast discovery) and the
//               bridge has multicast snooping off, so multicast is simply flooded.
// Shaping, in each node's namespace on eth0 egress: an htb root (handle 1:) that only
// classifies: class 1:1 is the unshaped default (traffic to the master, to unshaped peers,
// ARP), class 1:<hex(j+2)> is peer j; classes run at 100 Gbit/s so htb itself never limits.
// Each peer class has a tbf leaf (handle <hex(j+2)>:) at the pair's rate and a u32 filter
// (handle 800::<hex(j+1)>) matching the peer's address. tbf parameters, for a rate R bytes/s:
//   burst = max(R x 5 ms, 16 KiB): 5 ms of tokens absorbs late timer wakeups on a loaded
//           2-core machine (a smaller bucket would lose tokens and undershoot R); the 16 KiB
//           floor is > 10 full-size frames, so low rates still pass whole packets. Cost: after
//           idle, the first `burst` bytes of a transfer leave at line rate (16 KiB is 13 ms at
//           10 Mbit/s).
//   limit = burst + max(R x 100 ms, 64 KiB): a ~100 ms bottleneck queue, like a real access
//           link; the 64 KiB floor keeps one TSO-sized TCP burst or a fragmented DDS sample
//           from being dropped outright at low rates. Beyond the queue, packets are dropped.
// Both directions of a pair are shaped at their senders, so the pair is limited both ways;
// the master's egress is never shaped.
//
// Lifetime: create() first calls cleanup_stale(prefix), which removes what a crashed run with
// the same prefix left: its namespaces AND its cgroups under /sys/fs/cgroup/{cpu,cpuacct}/P —
// so create the network before the CpuLimits of the same prefix, and never run two fleets with
// one prefix. teardown() (also run by the destructor) SIGKILLs any process still inside the
// namespaces (stop them gracefully first), then deletes the namespace names; the kernel then
// destroys the namespaces, veths and bridge. set_link_mbps, link_mbps and teardown take an
// internal lock, so they may be called from any thread; the rest only read the plan.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"

namespace coedge::cluster {

struct EmulatedNode {
  std::string name;  // 1..40 of [A-Za-z0-9_-], unique; descriptive only (names use indices)
};

struct EmulatedLink {
  size_t a = 0, b = 0;  // undirected pair, indices into NetworkPlan::nodes, a != b
  double mbps = 0;      // 0 = unshaped; else 0.01..100000
};

struct NetworkPlan {
  std::string prefix = "coedge";  // every namespace and cgroup created starts with "<prefix>-"
  std::vector<EmulatedNode> nodes;  // 1..253
  std::vector<EmulatedLink> links;  // at most one per pair
  double default_mbps = 0;  // pairs without a link: 0 = unlimited (not shaped)
  bool with_master = true;  // an extra namespace "<prefix>-master" on the bridge, unshaped
};

class EmulatedNetwork {
 public:
  // Validates the plan (kInvalidInput), requires root (kUnsupported), cleans up a stale run
  // with the same prefix, then builds everything. Errors from ip/tc name the failing command
  // line and its stderr; on any error, whatever was built is torn down again.
  static Result<std::unique_ptr<EmulatedNetwork>> create(NetworkPlan plan);

  EmulatedNetwork(const EmulatedNetwork&) = delete;
  EmulatedNetwork& operator=(const EmulatedNetwork&) = delete;
  ~EmulatedNetwork();  // teardown(); failures go to stderr; never throws
  // Idempotent: the second call does nothing and returns Ok.
  Status teardown();

  // Changes the pair's rate in both directions mid-run (tc qdisc change on the tbf leaves;
  // adds the classes the first time a pair gets shaped; 0 sends it back to the unshaped class).
  // Packets queued in a tbf are dropped when its limit changes (the kernel swaps the queue).
  Status set_link_mbps(size_t a, size_t b, double mbps);
  double link_mbps(size_t a, size_t b) const;  // 0 = unshaped

  size_t size() const { return plan_.nodes.size(); }
  const NetworkPlan& plan() const { return plan_; }
  std::string address(size_t node) const;  // "10.77.0.<node+1>"
  std::string master_address() const;      // "10.77.0.254"
  std::string netns_name(size_t node) const;  // "<prefix>-<node>"
  std::string master_netns_name() const;      // "<prefix>-master"
  std::string hub_netns_name() const;         // "<prefix>-hub"
  std::string netns_path(size_t node) const;  // "/run/netns/<prefix>-<node>"
  std::string master_netns_path() const;

  // For a child after fork(), before exec: joins the network namespace at netns_path (one of
  // the *_netns_path() strings, computed in the parent). open() and setns() only — no
  // allocation — so it is safe after fork in a multi-threaded parent. Returns 0 or an errno.
  static int enter_netns(const char* netns_path);

  // Removes what a crashed run with this prefix left: the namespaces "<prefix>-hub",
  // "<prefix>-master" and "<prefix>-<digits>" (exactly these forms, so prefix "a" never touches
  // "a-b-0"), and the cgroups under /sys/fs/cgroup/{cpu,cpuacct}/<prefix>/, first SIGKILLing
  // the processes still inside them and waiting (bounded, 5 s) until they are gone. Requires
  // root when there is something to remove. Ok when there was nothing.
  static Status cleanup_stale(const std::string& prefix);

 private:
  explicit EmulatedNetwork(NetworkPlan plan);
  Status build();
  // Appends the tc lines that shape from -> to at mbps (0: unshaped) to `lines`, given which
  // classes exist (has_class_); the caller updates has_class_ once they ran.
  void append_direction(size_t from, size_t to, double mbps, std::vector<std::string>& lines) const;
  std::vector<std::string> all_netns_names() const;

  NetworkPlan plan_;
  std::vector<std::vector<double>> mbps_;   // symmetric, [a][b]
  std::vector<std::vector<bool>> has_class_;  // directed: a class + tbf for b exists at a
  mutable std::mutex mu_;
  bool torn_down_ = false;
};

}  // namespace coedge::cluster
