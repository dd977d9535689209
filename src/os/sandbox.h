// The command line that launches one worker process of a task, isolated as the node's
// `LaunchMode` says: kSandbox wraps the worker in bubblewrap (bwrap) — own PID, network,
// IPC and UTS namespaces, no capabilities, the seccomp filter of os/seccomp_filter.h, a
// read-only view of the filesystem with private paths hidden (the node's run directory
// but the task's own directory, /root, /home, /run, SSH and TLS keys, password hashes, and
// what the node marks private), writable only in its task directory, /tmp (the IPC
// directory) and a private empty /dev/shm — while kProcess runs it as a plain process
// (the node's isolation modes "sandbox" and "process"; its mode "none", workers inside
// the agent, has no command line). Nothing is started: the result is handed to
// ProcessSupervisor (a ChildSpec takes argv, env, cwd and pass_fds as returned). Pure
// functions apart from reading the filesystem to validate paths, $PATH in find_bwrap(),
// and creating the process's one seccomp program file on first use; safe to call from
// any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "os/process_launcher.h"

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
  // Empty: /dev/shm is a private, empty tmpfs (shared memory reaches the worker as
  // descriptors, pass_fds). Else a directory bound read-write at /dev/shm (the node's
  // shared-memory segment as a file, before memfds): the worker can then unlink,
  // replace or truncate what is in it.
  std::string shm_dir;
  // Optional, absolute: the node's run directory. Hidden whole (an empty read-only tmpfs
  // at its path), then only task_dir is bound back: a worker sees no other task's
  // folder, log or result. task_dir must lie inside it.
  std::string run_dir;
  // More paths to hide (absolute, existing): a directory becomes an empty read-only
  // tmpfs, a file /dev/null. Always hidden too when they exist (kDefaultPrivatePaths):
  // /root, /home, /run, /etc/ssh, /etc/ssl/private and the password hashes. Anything bound
  // later (task_dir, read_only_binds, the executable) is visible again below a hidden
  // directory; paths under /tmp need no hiding (the worker's /tmp is ipc_dir). A path
  // inside task_dir or ipc_dir is an error (the worker owns those).
  std::vector<std::string> private_paths;
  // The worker's own descriptors: pass_fds[i] is its descriptor 3+i.
  std::vector<int> pass_fds;
  // Install the worker seccomp filter (bwrap --seccomp). Its program reaches bwrap as one
  // more descriptor after the worker's, reopened at every start, and is closed by bwrap
  // before the worker runs.
  bool seccomp = true;
  // The program file to pass (seccomp_program_file()); -1: the process's own one, made
  // on first use and kept open for the process's lifetime.
  int seccomp_fd = -1;
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
  // Without a rootfs the host is visible anyway (read-only) except /tmp and the
  // private paths.
  std::vector<std::string> read_only_binds;
  std::vector<std::pair<std::string, std::string>> env;  // extra environment variables
  std::string bwrap;  // path of the bwrap executable; empty: find_bwrap()
};

// Hidden in every sandbox when they exist (see SandboxSpec::private_paths).
// /run: daemons' sockets and state (also the seccomp filter refuses AF_UNIX sockets).
inline const std::vector<std::string> kDefaultPrivatePaths = {
    "/root", "/home", "/run", "/etc/ssh", "/etc/ssl/private",
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-"};

// What to start: give all four to the ProcessSupervisor's ChildSpec.
struct LaunchCommand {
  std::vector<std::string> argv;
  // Added to the agent's environment. Empty for kSandbox, where bwrap's --setenv
  // carries the variables so that argv alone is a complete command.
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;  // kProcess: task_dir; kSandbox: empty (bwrap's --chdir)
  // The child's descriptors 3, 4...: the worker's pass_fds, then (kSandbox with seccomp)
  // the program file, with reopen set. The caller keeps them open while the child may be
  // (re)started (the program file, when the spec gave none, lives as long as the process).
  std::vector<PassFd> pass_fds;
};

// REQUIRES a non-empty command[0] (the worker's
// executable; with a rootfs, an absolute one is bound from the host unless the rootfs
// or a read-only bind already provides it).
// kSandbox errors: bwrap not found, a relative path, a missing task_dir, ipc_dir,
// shm_dir, run_dir, rootfs, private path or read-only bind, a task_dir outside run_dir,
// a private path inside task_dir or ipc_dir or that is "/", an environment variable name
// that is empty or has '=', a pass_fds entry below 3, the seccomp program file that
// cannot be made. kProcess uses task_dir, env and pass_fds only (no seccomp; rootfs,
// ipc_dir, shm_dir, run_dir, private_paths and read_only_binds have no meaning without
// a sandbox: the worker sees the host) and fails on a relative or missing task_dir or a
// bad variable name.
Result<LaunchCommand> sandbox_command(const SandboxSpec& spec,
                                      const std::vector<std::string>& command);

// The first executable `bwrap` in the colon-separated `search_path`; the error says
// to install bubblewrap.
Result<std::string> find_bwrap(const std::string& search_path);
// The same with $PATH (the one environment read below apps/: it is how exec finds
// programs anyway).
Result<std::string> find_bwrap();

}  // namespace coedge::os
