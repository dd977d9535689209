// The seccomp filter of a sandboxed worker: a classic-BPF program, built by hand from the
// system-call numbers (no libseccomp), that bubblewrap installs with `--seccomp FD` right
// before it executes the worker. A task's pre/post code decodes images, runs OpenCV and
// talks to the agent through shared memory; it never needs to debug other processes,
// mount, load modules or BPF programs, use the kernel keyring, set the clock or enter
// namespaces. Those calls are the kernel attack surface a hostile worker would try, so
// they fail with EPERM. Everything else is allowed (a deny list: an allow list would
// break every library update of the worker's own code).
//
// The program, in order:
//   1. the architecture is not this build's (x86-64; aarch64) → kill the process (an
//      i386 `int 0x80` call on x86-64 would otherwise dodge every number below);
//   2. x86-64 only: an x32 number (bit 30 set) → EPERM;
//   3. clone3 → ENOSYS (its flags live in memory, which seccomp cannot read; glibc then
//      falls back to clone, checked next);
//   4. clone with a namespace flag (CLONE_NEWNS/NEWCGROUP/NEWUTS/NEWIPC/NEWUSER/NEWPID/
//      NEWNET) in its first argument → EPERM; threads and fork pass;
//   5. personality with an argument other than 0 (PER_LINUX) or 0xffffffff (a query) →
//      EPERM (no ADDR_NO_RANDOMIZE, no READ_IMPLIES_EXEC);
//   6. socket(AF_UNIX, …) → EPERM: a path-named Unix socket of the host (a daemon's
//      control socket anywhere in the read-only view) is reachable by connect() however
//      the mount is read-only, and the network namespace does not cover it.
//      socketpair() stays allowed (it reaches nothing outside the process);
//   7. the deny list (denied_syscalls()) → EPERM;
//   8. anything else → allowed.
//
// What it does not do: it does not limit file, socket or memory calls (the mount and
// network namespaces and the cgroup do); it reduces the kernel's attack surface but does
// not remove it. Pure; thread-safe.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "core/result.h"
#include "os/fd.h"

namespace coedge::os {

// A denied system call: its name (for docs and messages) and its number on this build's
// architecture.
struct DeniedSyscall {
  const char* name;
  long number;
};

// Step 6's list, for this architecture (calls the architecture lacks, e.g. iopl on
// aarch64, are left out).
const std::vector<DeniedSyscall>& denied_syscalls();

// The whole program (see the top). Fewer than BPF_MAXINSNS (4096) instructions; every
// jump lands inside it.
std::vector<sock_filter> worker_seccomp_program();

// The program's raw bytes (what bwrap's --seccomp reads: an array of sock_filter) in an
// in-memory file sealed against change, at offset 0, close-on-exec. Give it to a child
// with PassFd::reopen so every start reads it from its beginning. kIo from
// sealed_memory_file.
Result<Fd> seccomp_program_file();

}  // namespace coedge::os
