// The command line that launches one worker process of a task, isolated as the node's
// `LaunchMode` says: kSandbox wraps the worker in bubblewrap (bwrap) — own PID, network
// and UTS namespaces, no capabilities, a read-only view of the filesystem except its
// task directory, /tmp (the IPC directory) and /dev/shm — while kProcess runs it as a
// plain process (the node's isolation modes "sandbox" and "process"; its mode "none",
// workers inside the agent, has no command line). Nothing is started: the result is handed to ProcessSupervisor (a ChildSpec
// takes argv, env and cwd as returned). Pure functions apart from reading the
// filesystem to validate paths (and $PATH in find_bwrap()); safe to call from any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace coedge::os {

// How a worker process is started: inside bubblewrap, or as a plain process.
enum class LaunchMode { kSandbox, kProcess };

struct SandboxSpec {
  LaunchMode mode = LaunchMode::kSandbox;
  // Absolute; the only writable directory of the worker, bound read-write at the same
  // path; the worker starts in it.
  std::string task_dir;
  // Absolute; bound read-write at /tmp inside the sandbox (the node agent uses a
  // folder inside the task's directory, so the worker's /tmp is its own). Anything else mounted under /tmp (a task_dir or a
  // read-only bind below /tmp) gets its empty mount-point directory created inside
  // ipc_dir on the host, so prefer run directories outside /tmp.
  std::string ipc_dir;
  std::string shm_dir = "/dev/shm";  // bound read-write at /dev/shm (the node's shared-memory segment)
  // Optional: a directory that replaces the host's / (read-only), so that tasks can
  // see different library versions. Its top-level entries are mounted on an empty
  // root (directories and files bound read-only, symlinks recreated), so it only needs
  // what the worker reads: /dev, /proc, /tmp and missing top-level directories of
  // task_dir and read_only_binds are created on that root. A bind target *below* a
  // top-level entry of the rootfs (e.g. task_dir /var/run/x when the rootfs has /var)
  // must already exist in the rootfs, since its directories are read-only.
  std::string rootfs;
  // Extra host paths visible read-only at the same path; with a rootfs, whatever the
  // worker needs from the host (its executable, its shared libraries, the models).
  // Without a rootfs the whole host is visible anyway (read-only) except /tmp.
  std::vector<std::string> read_only_binds;
  std::vector<std::pair<std::string, std::string>> env;  // extra environment variables
  std::string bwrap;  // path of the bwrap executable; empty: find_bwrap()
};

// What to start: give all three to the ProcessSupervisor's ChildSpec.
struct LaunchCommand {
  std::vector<std::string> argv;
  // Added to the agent's environment. Empty for kSandbox, where bwrap's --setenv
  // carries the variables so that argv alone is a complete command.
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;  // kProcess: task_dir; kSandbox: empty (bwrap's --chdir)
};

// REQUIRES a non-empty command[0] (the worker's
// executable; with a rootfs, an absolute one is bound from the host unless the rootfs
// or a read-only bind already provides it).
// kSandbox errors: bwrap not found, a relative path, a missing task_dir, ipc_dir,
// shm_dir, rootfs or read-only bind, an environment variable name that is empty or has
// '='. kProcess uses task_dir and env only (rootfs, ipc_dir, shm_dir and read_only_binds
// have no meaning without a sandbox: the worker sees the host) and fails on a relative
// or missing task_dir or a bad variable name.
Result<LaunchCommand> sandbox_command(const SandboxSpec& spec,
                                      const std::vector<std::string>& command);

// The first executable `bwrap` in the colon-separated `search_path`; the error says
// to install bubblewrap.
Result<std::string> find_bwrap(const std::string& search_path);
// The same with $PATH (the one environment read below apps/: it is how exec finds
// programs anyway).
Result<std::string> find_bwrap();

}  // namespace coedge::os
