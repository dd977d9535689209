// CPU, memory and process-count limits for one task's workers, with cgroup v1 (the
// controllers cpu, memory and pids mounted at /sys/fs/cgroup/<controller>). A TaskCgroup
// is one cgroup per limited controller, made below this process's OWN cgroup of that
// controller (read from /proc/self/cgroup: a node started inside a container or a
// service manager's slice limits its tasks inside its own budget, and may not be
// allowed to write elsewhere). Both workers of a task join it before exec (ChildSpec::
// join_cgroups), so bubblewrap and everything the worker forks run inside it.
//
// The limits:
//   cpus         → cpu.cfs_period_us = 100000, cpu.cfs_quota_us = cpus × period (at
//                  least the kernel's 1 ms): the task's processes together get at most
//                  `cpus` cores of CPU time per period, and are throttled after;
//   memory_bytes → memory.limit_in_bytes, and, when the kernel accounts swap and lets us,
//                  memory.memsw.limit_in_bytes (no escape into swap); memory.swappiness
//                  = 0. Past the limit the kernel reclaims, then OOM-kills inside the
//                  cgroup only;
//   pids         → pids.max: processes AND threads; a fork or thread creation past it
//                  fails with EAGAIN.
// What they do not cover: memory charged elsewhere (a page of shared memory is charged
// to the cgroup that first touched it: the agent's frames, the server's outputs), kernel
// memory outside the memory controller's accounting, disk and network bandwidth, GPU or
// accelerator time, and CPU time spent by the agent and server on the task's behalf.
//
// plan_task_cgroup() is pure (tested without root). TaskCgroup::create() applies a plan
// (needs root, or write access to the own cgroups); remove() (also run by the destructor)
// SIGKILLs what is left inside and removes the directories. Not thread-safe (one owner).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace coedge::os {

// 0 means unlimited; a controller whose limit is 0 gets no cgroup.
struct CgroupLimits {
  double cpus = 0;            // cores, e.g. 0.5; at most 1024
  uint64_t memory_bytes = 0;  // at least 1 MiB when set
  uint32_t pids = 0;          // processes and threads together
  bool any() const { return cpus > 0 || memory_bytes > 0 || pids > 0; }
  bool operator==(const CgroupLimits&) const = default;
};

// One write of a plan: `value` into `file`. An optional write is skipped when the file
// does not exist or refuses it (memsw without swap accounting, swappiness).
struct CgroupWrite {
  std::string file;
  std::string value;
  bool optional = false;
  bool operator==(const CgroupWrite&) const = default;
};

struct CgroupPlan {
  std::vector<std::string> dirs;          // to create, in order
  std::vector<CgroupWrite> writes;        // then these, in order
  std::vector<std::string> procs_files;   // "<dir>/cgroup.procs" of each dir: a child joins them
};

constexpr uint32_t kCfsPeriodUs = 100000;

// The cgroup path of each controller of this process, from /proc/self/cgroup's text
// ("4:memory:/a/b", "2:cpu,cpuacct:/" → {"memory": "/a/b", "cpu": "/", "cpuacct": "/"}).
// v2's "0::/x" line is ignored. kInvalidInput names the line that does not parse.
Result<std::map<std::string, std::string>> parse_proc_cgroup(std::string_view text);

// The plan of the cgroup `name` (1..64 of [A-Za-z0-9_.-], not "." or "..") with
// `limits`, below `own` (parse_proc_cgroup's result) under `root` (/sys/fs/cgroup).
// Errors (kInvalidInput): a bad name or limit; (kUnsupported) a controller that a limit
// needs is not in `own`: "cgroup v1 controller 'pids' is not mounted ...".
Result<CgroupPlan> plan_task_cgroup(const std::string& name, const CgroupLimits& limits,
                                    const std::map<std::string, std::string>& own,
                                    const std::string& root = "/sys/fs/cgroup");

class TaskCgroup {
 public:
  // Plans from /proc/self/cgroup and /sys/fs/cgroup and applies the plan. Errors name the
  // file: a missing controller directory ("... /sys/fs/cgroup/pids/... does not exist:
  // cgroup v1 controller 'pids' is needed for the pids limit"), a cgroup that already
  // exists (another node's, or a crashed run's: remove it or choose another name), a
  // file that refuses its value. On error nothing is left behind.
  static Result<TaskCgroup> create(const std::string& name, const CgroupLimits& limits);
  // The same with a given plan (tests with a root of their own).
  static Result<TaskCgroup> apply(CgroupPlan plan);

  TaskCgroup() = default;
  TaskCgroup(TaskCgroup&& other) noexcept;
  TaskCgroup& operator=(TaskCgroup&& other) noexcept;
  TaskCgroup(const TaskCgroup&) = delete;
  TaskCgroup& operator=(const TaskCgroup&) = delete;
  ~TaskCgroup();  // remove(), errors ignored

  // The cgroup.procs files a child joins (ChildSpec::join_cgroups).
  const std::vector<std::string>& join_files() const { return plan_.procs_files; }
  const std::vector<std::string>& dirs() const { return plan_.dirs; }
  // The processes inside (any controller's cgroup), for leak checks.
  std::vector<pid_t> pids() const;
  // SIGKILLs every process inside until none is left (bounded: 5 s), then removes the
  // directories, deepest first. Idempotent. kIo names the cgroup and what is left.
  Status remove();

 private:
  CgroupPlan plan_;
  size_t made_ = 0;  // plan_.dirs[0..made_) exist
};

// Low-level helpers, shared with src/cluster's CPU limits.
// Writes `text` to `path` (one write). kIo "cannot open PATH: …" / "writing 'TEXT' to PATH: …".
Status write_cgroup_file(const std::string& path, const std::string& text);
// The pids in a cgroup.procs file (empty when unreadable).
std::vector<pid_t> read_cgroup_procs(const std::string& procs_file);
// SIGKILLs the processes of every dir's cgroup.procs (never ourselves) until none is left,
// up to `bound`; then rmdir each (ENOENT is fine). kIo names what is left.
Status empty_and_remove_cgroups(const std::vector<std::string>& dirs, std::chrono::milliseconds bound);
// For a child between fork and exec: writes "0" to each of the n descriptors (open
// cgroup.procs files), which moves the calling process into those cgroups.
// Async-signal-safe. Returns 0 or the first errno.
int join_cgroups_in_child(const int* fds, size_t n);

}  // namespace coedge::os
