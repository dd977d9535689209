// worker_seccomp_program() (see seccomp_filter.h). The program is assembled with symbolic
// jump targets (the shared return instructions and the two argument checks sit at its
// end) and resolved once, so adding a call to the list cannot break a jump offset.
#include "os/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string_view>

namespace coedge::os {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
constexpr bool kHasX32 = true;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
constexpr bool kHasX32 = false;
#else
#error "seccomp_filter: add this architecture's AUDIT_ARCH and check its system-call list"
#endif
constexpr uint32_t kX32Bit = 0x40000000U;

// clone()'s namespace flags. Not CLONE_NEWTIME: it is 0x80, inside clone()'s exit-signal
// byte, and only clone3/unshare take it (both refused anyway).
constexpr uint32_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// Where a jump goes: the next instruction or a label at the end of the program, in this
// order (classic BPF only jumps forward: the argument checks come before the returns).
enum Label { kNext = -1, kCloneCheck = 0, kPersonalityCheck, kSocketCheck, kIoctlCheck, kAllow, kDeny, kNoSys, kKill, kLabels };

struct Insn {
  uint16_t code;
  uint32_t k;
  Label jt = kNext;
  Label jf = kNext;
};

constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
// The low 32 bits of the first argument (little-endian on both architectures).
constexpr uint32_t kArg0Low = offsetof(seccomp_data, args);
// The low half of args[1] (little-endian), an ioctl's request: the kernel compares 32 bits.
constexpr uint32_t kArg1Low = offsetof(seccomp_data, args) + sizeof(uint64_t);
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "args' low halves are at their start");

Insn load(uint32_t offset) { return {BPF_LD | BPF_W | BPF_ABS, offset}; }
Insn jump_if_equal(uint32_t k, Label jt, Label jf = kNext) { return {BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf}; }
Insn ret(uint32_t k) { return {BPF_RET | BPF_K, k}; }

#define COEDGE_DENY(name) \
  DeniedSyscall { #name, SYS_##name }

}  // namespace

const std::vector<DeniedSyscall>& denied_syscalls() {
  static const std::vector<DeniedSyscall> list = {
      // other processes: debugging, reading or writing their memory, stealing descriptors
      COEDGE_DENY(ptrace), COEDGE_DENY(process_vm_readv), COEDGE_DENY(process_vm_writev),
      COEDGE_DENY(kcmp), COEDGE_DENY(pidfd_getfd), COEDGE_DENY(process_madvise),
      // mounts and namespaces (CAP_SYS_ADMIN is dropped; this is the second wall)
      COEDGE_DENY(mount), COEDGE_DENY(umount2), COEDGE_DENY(pivot_root), COEDGE_DENY(move_mount),
      COEDGE_DENY(open_tree), COEDGE_DENY(fsopen), COEDGE_DENY(fsconfig), COEDGE_DENY(fsmount),
      COEDGE_DENY(fspick), COEDGE_DENY(mount_setattr), COEDGE_DENY(unshare), COEDGE_DENY(setns),
      COEDGE_DENY(open_by_handle_at), COEDGE_DENY(name_to_handle_at), COEDGE_DENY(fanotify_init),
      COEDGE_DENY(lookup_dcookie), COEDGE_DENY(quotactl), COEDGE_DENY(acct),
      // the machine: swap, reboot, kernels and modules, the log, the clock, the terminal
      COEDGE_DENY(swapon), COEDGE_DENY(swapoff), COEDGE_DENY(reboot), COEDGE_DENY(kexec_load),
      COEDGE_DENY(kexec_file_load), COEDGE_DENY(init_module), COEDGE_DENY(finit_module),
      COEDGE_DENY(delete_module), COEDGE_DENY(syslog), COEDGE_DENY(settimeofday),
      COEDGE_DENY(clock_settime), COEDGE_DENY(clock_adjtime), COEDGE_DENY(adjtimex),
      COEDGE_DENY(vhangup),
#if defined(__x86_64__)
      COEDGE_DENY(iopl), COEDGE_DENY(ioperm),
#endif
      // kernel subsystems a worker never needs, each with a history of exploits
      COEDGE_DENY(keyctl), COEDGE_DENY(add_key), COEDGE_DENY(request_key), COEDGE_DENY(bpf),
      COEDGE_DENY(perf_event_open), COEDGE_DENY(userfaultfd),
      // io_uring runs its operations in kernel threads, out of seccomp's sight
      COEDGE_DENY(io_uring_setup), COEDGE_DENY(io_uring_enter), COEDGE_DENY(io_uring_register),
  };
  return list;
}

#undef COEDGE_DENY

std::vector<sock_filter> worker_seccomp_program() {
  std::vector<Insn> body;
  body.push_back(load(kArchOffset));
  body.push_back(jump_if_equal(kArch, kNext, kKill));
  body.push_back(load(kNrOffset));
  if (kHasX32) body.push_back({BPF_JMP | BPF_JGE | BPF_K, kX32Bit, kDeny, kNext});
  body.push_back(jump_if_equal(SYS_clone3, kNoSys));
  body.push_back(jump_if_equal(SYS_clone, kCloneCheck));
  body.push_back(jump_if_equal(SYS_personality, kPersonalityCheck));
  body.push_back(jump_if_equal(SYS_socket, kSocketCheck));
  body.push_back(jump_if_equal(SYS_ioctl, kIoctlCheck));
  for (const DeniedSyscall& call : denied_syscalls()) {
    body.push_back(jump_if_equal(static_cast<uint32_t>(call.number), kDeny));
  }
  body.push_back(ret(SECCOMP_RET_ALLOW));

  // The labelled tail; each entry starts the label of the same index.
  std::vector<std::vector<Insn>> tail(kLabels);
  tail[kAllow] = {ret(SECCOMP_RET_ALLOW)};
  tail[kDeny] = {ret(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))};
  tail[kNoSys] = {ret(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA))};
  tail[kKill] = {ret(SECCOMP_RET_KILL_PROCESS)};
  tail[kCloneCheck] = {load(kArg0Low), {BPF_JMP | BPF_JSET | BPF_K, kNamespaceFlags, kDeny, kAllow}};
  tail[kPersonalityCheck] = {load(kArg0Low), jump_if_equal(0, kAllow),
                             jump_if_equal(0xffffffffU, kAllow, kDeny)};
  tail[kSocketCheck] = {load(kArg0Low), jump_if_equal(AF_UNIX, kDeny, kAllow)};
  // A worker shares the agent's session (sandbox.cc keeps it, for the process-group
  // kill): TIOCSTI would type into the operator's terminal (CVE-2017-5226), TIOCLINUX
  // too on a virtual console.
  tail[kIoctlCheck] = {load(kArg1Low), jump_if_equal(TIOCSTI, kDeny), jump_if_equal(TIOCLINUX, kDeny, kAllow)};

  std::vector<size_t> label_at(kLabels);
  std::vector<Insn> all = body;
  for (int l = 0; l < kLabels; ++l) {
    label_at[static_cast<size_t>(l)] = all.size();
    all.insert(all.end(), tail[static_cast<size_t>(l)].begin(), tail[static_cast<size_t>(l)].end());
  }
  const auto offset = [&](size_t at, Label target) -> uint8_t {
    if (target == kNext) return 0;
    const size_t to = label_at[static_cast<size_t>(target)];
    COEDGE_CHECK(to > at && to - at - 1 <= 255);  // classic BPF jumps forward, 8 bits
    return static_cast<uint8_t>(to - at - 1);
  };
  std::vector<sock_filter> program;
  program.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const Insn& insn = all[i];
    program.push_back(sock_filter{insn.code, offset(i, insn.jt), offset(i, insn.jf), insn.k});
  }
  COEDGE_CHECK(program.size() < BPF_MAXINSNS);
  return program;
}

Result<Fd> seccomp_program_file() {
  const std::vector<sock_filter> program = worker_seccomp_program();
  const std::string_view bytes(reinterpret_cast<const char*>(program.data()),
                               program.size() * sizeof(sock_filter));
  Result<Fd> file = sealed_memory_file("coedge-seccomp", bytes);
  if (!file) return file.error();
  if (::lseek(file->get(), 0, SEEK_SET) != 0) {
    return Error{ErrorCode::kIo, "cannot rewind the seccomp program file"};
  }
  return file;
}

}  // namespace coedge::os
