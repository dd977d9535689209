// The worker's seccomp program, installed for real in a forked child (no_new_privs, no
// root needed): every denied call fails with EPERM (clone3 with ENOSYS), a clone with a
// namespace flag is refused while threads and fork work, and what a worker does all day
// (write, mmap, memfd, futex through threads) still works. Also the program's shape:
// size under the kernel's limit, every jump inside it, the file holds it byte for byte.
#include "os/seccomp_filter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "os/fd.h"

namespace coedge::os {
namespace {

// Runs `body` in a forked child that first installs the program; returns the child's
// wait status and what it wrote to its stdout pipe (one line per failed check).
std::pair<int, std::string> run_filtered(const std::function<void(int out)>& body) {
  int pipe_fds[2];
  COEDGE_CHECK(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  const std::vector<sock_filter> program = worker_seccomp_program();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    // No controlling terminal: the junk-argument calls (vhangup...) could not touch one
    // even if the filter let them through.
    ::setsid();
    sock_fprog fprog{static_cast<unsigned short>(program.size()),
                     const_cast<sock_filter*>(program.data())};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
      const std::string msg = std::string("cannot install: ") + std::strerror(errno) + "\n";
      (void)!::write(pipe_fds[1], msg.data(), msg.size());
      ::_exit(90);
    }
    body(pipe_fds[1]);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {status, out};
}

void report(int out, const std::string& line) { (void)!::write(out, (line + "\n").data(), line.size() + 1); }

// A raw call with junk arguments (0): only seccomp's answer is looked at.
long raw(long nr, long a0 = 0, long a1 = 0, long a2 = 0) { return ::syscall(nr, a0, a1, a2, 0, 0, 0); }

void expect_errno(int out, const std::string& what, long result, int expected) {
  const int err = errno;
  if (result != -1 || err != expected) {
    report(out, what + ": returned " + std::to_string(result) + ", errno " + std::to_string(err) + " (" +
                    std::strerror(err) + "), expected " + std::strerror(expected));
  }
}

TEST(SeccompFilter, ProgramFitsTheKernelsLimitsAndEveryJumpLandsInside) {
  const std::vector<sock_filter> program = worker_seccomp_program();
  ASSERT_GT(program.size(), denied_syscalls().size());
  ASSERT_LT(program.size(), static_cast<size_t>(BPF_MAXINSNS));
  for (size_t i = 0; i < program.size(); ++i) {
    const sock_filter& f = program[i];
    if (BPF_CLASS(f.code) == BPF_JMP) {
      EXPECT_LT(i + 1 + f.jt, program.size()) << "instruction " << i;
      EXPECT_LT(i + 1 + f.jf, program.size()) << "instruction " << i;
    }
  }
  EXPECT_EQ(BPF_CLASS(program.back().code), BPF_RET);
}

TEST(SeccompFilter, FileHoldsTheProgramSealedFromOffsetZero) {
  Result<Fd> file = seccomp_program_file();
  ASSERT_TRUE(file.ok()) << file.error().message;
  const std::vector<sock_filter> program = worker_seccomp_program();
  std::string bytes(program.size() * sizeof(sock_filter) + 1, '\0');
  const ssize_t n = ::read(file->get(), bytes.data(), bytes.size());  // read(), as bwrap does
  ASSERT_EQ(n, static_cast<ssize_t>(program.size() * sizeof(sock_filter)));
  EXPECT_EQ(std::memcmp(bytes.data(), program.data(), static_cast<size_t>(n)), 0);
  EXPECT_LT(::write(file->get(), "x", 1), 0);  // sealed
  EXPECT_NE(::fcntl(file->get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(SeccompFilter, EveryDeniedCallFailsWithEperm) {
  auto [status, out] = run_filtered([](int out) {
    for (const DeniedSyscall& call : denied_syscalls()) {
      errno = 0;
      expect_errno(out, call.name, raw(call.number), EPERM);
    }
    // The calls a hostile worker would try, with real arguments.
    expect_errno(out, "ptrace(TRACEME)", ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr), EPERM);
    expect_errno(out, "unshare(CLONE_NEWUSER)", ::unshare(CLONE_NEWUSER), EPERM);
    // A target that does not exist: were the filter broken, this would fail with ENOENT
    // rather than mount anything on the host.
    expect_errno(out, "mount", ::mount("none", "/nonexistent-coedge-target", "tmpfs", 0, nullptr), EPERM);
    expect_errno(out, "clone3", raw(SYS_clone3), ENOSYS);
    expect_errno(out, "socket(AF_UNIX)", ::socket(AF_UNIX, SOCK_STREAM, 0), EPERM);
    expect_errno(out, "personality(ADDR_NO_RANDOMIZE)", raw(SYS_personality, ADDR_NO_RANDOMIZE), EPERM);
    // Typing into the terminal the worker shares with the agent: refused before the kernel
    // looks at the descriptor (fd 0 may not even be a terminal here).
    char c = 'x';
    expect_errno(out, "ioctl(TIOCSTI)", raw(SYS_ioctl, 0, TIOCSTI, reinterpret_cast<long>(&c)), EPERM);
    expect_errno(out, "ioctl(TIOCLINUX)", raw(SYS_ioctl, 0, TIOCLINUX, reinterpret_cast<long>(&c)), EPERM);
#if defined(__x86_64__)
    expect_errno(out, "x32 getpid", raw(0x40000000L | SYS_getpid), EPERM);
#endif
    for (const unsigned long flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                                     CLONE_NEWUTS, CLONE_NEWCGROUP}) {
      const long r = raw(SYS_clone, static_cast<long>(flag | SIGCHLD));
      if (r == 0) ::_exit(0);  // a child got through: it leaves; the parent reports
      expect_errno(out, "clone with namespace flag " + std::to_string(flag), r, EPERM);
    }
  });
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status) << "\n" << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, "");
}

TEST(SeccompFilter, WhatAWorkerDoesStillWorks) {
  auto [status, out] = run_filtered([](int out) {
    if (::getpid() <= 0) report(out, "getpid");
    if (::personality(0xffffffff) < 0) report(out, "personality query");
    int pending = 0;  // other ioctls pass the filter (FIONREAD on a pipe)
    int p[2];
    if (::pipe(p) != 0 || ::ioctl(p[0], FIONREAD, &pending) != 0) report(out, "ioctl(FIONREAD)");
    void* map = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) report(out, "mmap");
    else std::memset(map, 1, 1 << 20);
    const int mem = ::memfd_create("coedge-test", MFD_CLOEXEC);
    if (mem < 0 || ::ftruncate(mem, 4096) != 0) report(out, "memfd");
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) report(out, "socketpair");
    const int inet = ::socket(AF_INET, SOCK_STREAM, 0);  // the network namespace confines it
    if (inet < 0) report(out, "socket(AF_INET)");
    // Threads: glibc tries clone3, gets ENOSYS, falls back to clone; futex in join.
    std::atomic<int> sum{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&sum, i] { sum += i; });
    for (std::thread& t : threads) t.join();
    if (sum != 6) report(out, "threads");
    // fork (clone with SIGCHLD only) and wait.
    const pid_t child = ::fork();
    if (child == 0) ::_exit(3);
    int st = 0;
    if (child < 0 || ::waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 3) {
      report(out, "fork");
    }
  });
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status) << "\n" << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, "");
}

#if defined(__x86_64__)
// A 32-bit `int 0x80` call from a 64-bit process carries AUDIT_ARCH_I386: the process is
// killed rather than judged by the 64-bit numbers.
TEST(SeccompFilter, ForeignArchitectureCallKillsTheProcess) {
  auto [status, out] = run_filtered([](int) {
    long result = 20;  // i386 getpid
    asm volatile("int $0x80" : "+a"(result) : : "memory");
    ::_exit(5);  // not reached
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status) << "\n" << out;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}
#endif

}  // namespace
}  // namespace coedge::os
