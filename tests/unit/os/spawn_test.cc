// The os layer's plumbing with real processes: Fd ownership, spawn() (redirections,
// environment, working directory, process group, before_exec, and every way a start can
// fail), descriptor 3, the wait helpers and errno_text. No sleeps: every wait is for
// a child that ends by itself.
#include "os/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <tuple>

#include "os/errno_text.h"
#include "os/fd.h"

namespace coedge::os {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

// Everything readable from `fd` until EOF.
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Runs argv with stdout on a pipe; returns what it printed and its wait status.
std::pair<std::string, int> capture(const std::vector<std::string>& argv, SpawnOptions options = {}) {
  Result<Pipe> pipe = make_pipe();
  EXPECT_TRUE(pipe.ok());
  options.stdout_fd = pipe->write.get();
  Result<pid_t> pid = spawn(argv, options);
  EXPECT_TRUE(pid.ok()) << pid.error().message;
  if (!pid.ok()) return {"", -1};
  pipe->write.reset();
  std::string out = read_all(pipe->read.get());
  return {out, wait_for_exit(*pid)};
}

TEST(Fd, ClosesWhatItOwnsAndMovesOwnership) {
  Result<Pipe> pipe = make_pipe();
  ASSERT_TRUE(pipe.ok()) << pipe.error().message;
  const int r = pipe->read.get();
  const int w = pipe->write.get();
  EXPECT_TRUE(::fcntl(r, F_GETFD) & FD_CLOEXEC);
  Fd moved = std::move(pipe->read);
  EXPECT_EQ(moved.get(), r);
  EXPECT_FALSE(pipe->read.valid());
  moved.reset();
  EXPECT_FALSE(is_open(r));
  const int released = pipe->write.release();
  EXPECT_EQ(released, w);
  EXPECT_TRUE(is_open(w));
  ::close(released);
}

TEST(ErrnoText, IsStrerrorsText) {
  EXPECT_EQ(errno_text(ENOENT), "No such file or directory");
  EXPECT_FALSE(errno_text(12345).empty());
}

TEST(Spawn, RunsAnArgvWithEnvironmentAndWorkingDirectory) {
  SpawnOptions options;
  options.env = {{"COEDGE_SPAWN_TEST", "a b"}};
  options.cwd = "/";
  auto [out, status] = capture({"sh", "-c", "printf '%s|%s|%s' \"$COEDGE_SPAWN_TEST\" \"$PWD\" \"$1\"", "sh",
                                "one arg; not split"},
                               options);
  EXPECT_EQ(out, "a b|/|one arg; not split");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Spawn, TheChildInheritsOnlyStdio) {
  Fd extra(::open("/dev/null", O_RDONLY));  // not close-on-exec
  ASSERT_TRUE(extra.valid());
  auto [out, status] =
      capture({"sh", "-c", "[ -e /proc/self/fd/" + std::to_string(extra.get()) + " ] && echo open || echo closed"});
  EXPECT_EQ(out, "closed\n");
}

TEST(Spawn, OwnProcessGroup) {
  SpawnOptions options;
  options.own_process_group = true;
  Result<Pipe> pipe = make_pipe();
  ASSERT_TRUE(pipe.ok());
  options.stdout_fd = pipe->write.get();
  Result<pid_t> pid = spawn({"sh", "-c", "ps -o pgid= -p $$"}, options);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  pipe->write.reset();
  const std::string out = read_all(pipe->read.get());
  wait_for_exit(*pid);
  EXPECT_EQ(std::stoi(out), *pid);
}

TEST(Spawn, SaysWhyAStartFailed) {
  auto missing = spawn({"coedge-no-such-program"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("not found in PATH"), std::string::npos) << missing.error().message;

  auto not_executable = spawn({"/etc/hostname"});
  ASSERT_FALSE(not_executable.ok());
  EXPECT_NE(not_executable.error().message.find("cannot execute '/etc/hostname'"), std::string::npos)
      << not_executable.error().message;

  SpawnOptions bad_cwd;
  bad_cwd.cwd = "/nonexistent-coedge-dir";
  auto chdir_failed = spawn({"/bin/true"}, bad_cwd);
  ASSERT_FALSE(chdir_failed.ok());
  EXPECT_EQ(chdir_failed.error().code, ErrorCode::kNotFound);
  EXPECT_NE(chdir_failed.error().message.find("cannot enter working directory '/nonexistent-coedge-dir'"),
            std::string::npos);

  SpawnOptions refuse;
  refuse.before_exec = [] { return EPERM; };
  refuse.before_exec_what = "cannot join the test cgroup";
  auto refused = spawn({"/bin/true"}, refuse);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "cannot join the test cgroup: " + errno_text(EPERM));
}

TEST(Spawn, BeforeExecRunsInTheChildAfterTheRedirections) {
  SpawnOptions options;
  options.before_exec = [] { return ::write(STDOUT_FILENO, "before ", 7) == 7 ? 0 : errno; };
  auto [out, status] = capture({"echo", "exec"}, options);
  EXPECT_EQ(out, "before exec\n");
}

TEST(Spawn, GivesFd3ToTheChildAndNoOtherDescriptor) {
  Result<Pipe> answer = make_pipe();
  ASSERT_TRUE(answer.ok());
  Result<Pipe> other = make_pipe();  // open in the parent: must not reach the child
  ASSERT_TRUE(other.ok());
  SpawnOptions options;
  options.fd3 = answer->write.get();
  const std::string probe = "echo hello >&3; if [ -e /proc/self/fd/" + std::to_string(other->write.get()) +
                            " ]; then echo leaked >&3; fi; exit 7";
  Result<pid_t> pid = spawn({"/bin/sh", "-c", probe}, options);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  answer->write.reset();
  EXPECT_EQ(read_all(answer->read.get()), "hello\n");
  const int status = wait_for_exit(*pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ(wait_for_exit(*pid), -1);  // already reaped
  EXPECT_EQ(reap_if_exited(*pid), -1);
}

// pass_fds: each listed descriptor arrives at 3+i (one listed twice), and nothing else
// does: the shell finds no descriptor of its own above 5 (up to far above ours).
TEST(Spawn, PassesDescriptorsAtThreeOnwardAndNoOther) {
  Result<Pipe> a = make_pipe();
  Result<Pipe> b = make_pipe();
  Result<Pipe> other = make_pipe();  // open in the parent: must not reach the child
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  SpawnOptions options;
  options.pass_fds = {b->write.get(), a->write.get(), b->write.get()};
  const std::string probe =
      "echo to-b >&3; echo to-a >&4; echo again-b >&5; "
      "for n in $(seq 6 200); do [ -e /proc/$$/fd/$n ] && echo leaked $n >&4; done; exit 0";
  Result<pid_t> pid = spawn({"/bin/sh", "-c", probe}, options);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  a->write.reset();
  b->write.reset();
  other->write.reset();
  EXPECT_EQ(read_all(a->read.get()), "to-a\n");
  EXPECT_EQ(read_all(b->read.get()), "to-b\nagain-b\n");
  EXPECT_EQ(WEXITSTATUS(wait_for_exit(*pid)), 0);
}

// Sources that are each other's targets: our 4 becomes the child's 3 and our 3 its 4 (a
// naive dup2 in order would overwrite our 3 before passing it).
TEST(Spawn, PassesDescriptorsThatAreEachOthersTargets) {
  Result<Pipe> a = make_pipe();
  Result<Pipe> b = make_pipe();
  ASSERT_TRUE(a.ok() && b.ok());
  // Keep every end above 99, away from 3 and 4, which hold the two write ends below.
  for (Fd* end : {&a->read, &a->write, &b->read, &b->write}) {
    *end = Fd(::fcntl(end->get(), F_DUPFD_CLOEXEC, 100));
    ASSERT_TRUE(end->valid());
  }
  // Whatever the test runner keeps at 3 and 4 is set aside and put back afterwards.
  const int saved3 = ::fcntl(3, F_DUPFD_CLOEXEC, 100);
  const int saved4 = ::fcntl(4, F_DUPFD_CLOEXEC, 100);
  const int flags3 = ::fcntl(3, F_GETFD);
  const int flags4 = ::fcntl(4, F_GETFD);
  Fd at3(::dup3(b->write.get(), 3, O_CLOEXEC));
  Fd at4(::dup3(a->write.get(), 4, O_CLOEXEC));
  SpawnOptions options;
  options.pass_fds = {4, 3};  // a becomes the child's 3, b its 4
  Result<pid_t> pid = spawn({"/bin/sh", "-c", "echo a >&3; echo b >&4"}, options);
  at3.release();
  at4.release();
  for (const auto& [saved, target, flags] : {std::tuple{saved3, 3, flags3}, std::tuple{saved4, 4, flags4}}) {
    if (saved >= 0) {
      ::dup3(saved, target, (flags & FD_CLOEXEC) != 0 ? O_CLOEXEC : 0);
      ::close(saved);
    } else {
      ::close(target);
    }
  }
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  a->write.reset();
  b->write.reset();
  EXPECT_EQ(read_all(a->read.get()), "a\n");
  EXPECT_EQ(read_all(b->read.get()), "b\n");
  EXPECT_EQ(WEXITSTATUS(wait_for_exit(*pid)), 0);
}

TEST(ReapIfExited, NulloptWhileRunning) {
  Result<Pipe> pipe = make_pipe();
  ASSERT_TRUE(pipe.ok());
  SpawnOptions options;
  options.stdin_fd = pipe->read.get();
  Result<pid_t> pid = spawn({"cat"}, options);  // runs until its stdin closes
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(reap_if_exited(*pid), std::nullopt);
  pipe->write.reset();
  pipe->read.reset();
  const int status = wait_for_exit(*pid);
  EXPECT_TRUE(WIFEXITED(status));
}

TEST(FindInPath, SearchesInOrderAndTakesPathsAsGiven) {
  EXPECT_EQ(find_in_path("sh", "/nonexistent:/bin"), "/bin/sh");
  EXPECT_EQ(find_in_path("./x", "/bin"), "./x");
  EXPECT_EQ(find_in_path("coedge-no-such-program", "/bin:/usr/bin"), "");
  EXPECT_EQ(split_search_path("a::b"), (std::vector<std::string>{"a", "", "b"}));
}

TEST(SiblingExecutable, IsInThisProgramsFolder) {
  const std::string path = sibling_executable("x");
  EXPECT_EQ(path.front(), '/');
  EXPECT_EQ(path.substr(path.size() - 2), "/x");
}

}  // namespace
}  // namespace coedge::os
