// CpuLimit: a CPU quota for the processes of one emulated node, with cgroup v1's cpu
// controller (mounted at /sys/fs/cgroup/cpu). create() makes /sys/fs/cgroup/cpu/<prefix>/<name>
// with cpu.cfs_period_us = period (default 10 ms: shorter than the kernel's 100 ms, so a node
// at 1/3 core is throttled in small slices, not in 66 ms stalls) and cpu.cfs_quota_us =
// cores x period. The kernel's minimum quota is 1 ms: when cores x period is below it, the
// period is lengthened to 1 ms / cores (documented, not an error). When cpuacct is mounted as
// a separate hierarchy (/sys/fs/cgroup/cpuacct, as on this machine) a matching cgroup
// /sys/fs/cgroup/cpuacct/<prefix>/<name> is made too, and join()/add() put processes in both,
// so that cpu_used() can read cpuacct.usage; if cpuacct is co-mounted with cpu, its files are
// read from the cpu cgroup. Needs root.
//
// The destructor SIGKILLs every process still inside, waits (bounded, 5 s) until cgroup.procs
// is empty, removes the cgroup directories and then the <prefix> directories if no other
// CpuLimit uses them; failures go to stderr; it never throws. cleanup_stale() removes every
// cgroup under <prefix> the same way (for a crashed run). EmulatedNetwork::create() calls it:
// create the network first. Not thread-safe; the static join() is for a forked child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge::cluster {

class CpuLimit {
 public:
  // prefix and name: 1..40 of [A-Za-z0-9_-]; cores in (0, 1024]; period in [1 ms, 1 s].
  // Errors name the file and the errno text; a missing /sys/fs/cgroup/cpu (kUnsupported) says
  // that cgroup v1's cpu controller is needed. An existing <prefix>/<name> cgroup is an error
  // (another CpuLimit with that name, or a crashed run: see cleanup_stale()).
  static Result<std::unique_ptr<CpuLimit>> create(const std::string& prefix, const std::string& name,
                                                  double cores,
                                                  Duration period = std::chrono::milliseconds(10));
  CpuLimit(const CpuLimit&) = delete;
  CpuLimit& operator=(const CpuLimit&) = delete;
  ~CpuLimit();

  // "/sys/fs/cgroup/cpu/<prefix>/<name>/cgroup.procs": compute it in the parent, pass
  // .c_str() to join() in the child.
  std::string procs_path() const;
  // For a child after fork(), before exec: writes "0" (itself) to procs_path and, when there
  // is one, to the matching cpuacct cgroup.procs (same path under /sys/fs/cgroup/cpuacct/,
  // built in a stack buffer). open/write/close only, no allocation. Returns 0 or an errno
  // (of the cpu cgroup; a missing cpuacct cgroup is ignored).
  static int join(const char* procs_path);
  Status add(pid_t pid);  // moves a running process (all its threads) in
  // Changes the quota to `cores` (same period); cores <= 0 lifts it (quota -1). For a
  // fleet that starts up unthrottled and is limited once it runs.
  Status set_cores(double cores);
  std::vector<pid_t> pids() const;  // the processes inside (cgroup.procs of the cpu cgroup)
  // CPU time used by everything that was ever inside (cpuacct.usage). kUnsupported when
  // cpuacct is not mounted.
  Result<Duration> cpu_used() const;

  double cores() const { return cores_; }
  Duration period() const { return period_; }
  std::string path() const { return cpu_dir_; }  // the cpu cgroup's directory

  // Removes every cgroup under /sys/fs/cgroup/cpu/<prefix>/ and /sys/fs/cgroup/cpuacct/<prefix>/
  // (deepest first; SIGKILLing the processes inside and waiting until they are gone), then the
  // <prefix> directories themselves. Ok when there was nothing.
  static Status cleanup_stale(const std::string& prefix);

 private:
  CpuLimit() = default;
  Status destroy();

  std::string prefix_, name_;
  double cores_ = 0;
  Duration period_{};
  std::string cpu_dir_;    // created by us; removed in the destructor
  std::string acct_dir_;   // empty when no separate cpuacct cgroup was made
  std::string usage_file_;  // cpuacct.usage, or empty
};

}  // namespace coedge::cluster
