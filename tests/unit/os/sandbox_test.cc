// sandbox_command: the command lines, their errors, and — when bubblewrap can create
// namespaces here — what a worker started through them can and cannot do. The workers
// are started by ProcessSupervisor, as the agent does, and are shell one-liners.
#include "os/sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "os/fd.h"
#include "os/process_supervisor.h"

namespace coedge::os {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

struct RunResult {
  bool started = false;
  int exit_code = -1;
  int signal = 0;
  std::string output;  // stdout and stderr
};

// Runs a launch command to completion under a ProcessSupervisor (as the agent would).
RunResult run(const os::LaunchCommand& cmd, const std::string& log_path) {
  std::error_code ec;
  fs::remove(log_path, ec);
  os::ProcessSupervisor sup;
  os::ChildSpec spec;
  spec.name = "sandboxed";
  spec.argv = cmd.argv;
  spec.env = cmd.env;
  spec.cwd = cmd.cwd;
  spec.pass_fds = cmd.pass_fds;
  spec.log_path = log_path;
  spec.restart = false;
  const int id = sup.add(spec);
  RunResult result;
  Status s = sup.start(id, kEpoch);
  if (!s) {
    result.output = s.error().message;
    return result;
  }
  result.started = true;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const os::ChildEvent& e : sup.poll(kEpoch)) {
      if (e.kind == os::ChildEvent::Kind::kExited) {
        result.exit_code = e.exit_code;
        result.signal = e.signal;
        result.output = read_file(log_path);
        return result;
      }
    }
    std::this_thread::sleep_for(2ms);
  }
  ADD_FAILURE() << "sandboxed command did not exit";
  return result;
}

// A fresh base directory outside /tmp: inside the sandbox /tmp is the IPC directory, so
// a task directory under /tmp would get its mount point there (see sandbox.h).
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/var/tmp/coedge_sandbox_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    fs::create_directories(task_dir());
    fs::create_directories(other_task_dir());
    fs::create_directories(ipc_dir());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  std::string task_dir() const { return base_ + "/tasks/t0"; }
  std::string other_task_dir() const { return base_ + "/tasks/t1"; }
  std::string ipc_dir() const { return base_ + "/ipc"; }
  std::string log() const { return base_ + "/run.log"; }

  os::SandboxSpec spec(LaunchMode mode = LaunchMode::kSandbox) const {
    os::SandboxSpec s;
    s.mode = mode;
    s.task_dir = task_dir();
    s.ipc_dir = ipc_dir();
    return s;
  }

  // Runs `script` with /bin/sh (or `shell`) under `s`; fails the test if the command
  // line cannot be built.
  RunResult sh(const os::SandboxSpec& s, const std::string& script,
               const std::string& shell = "/bin/sh") {
    Result<os::LaunchCommand> cmd = os::sandbox_command(s, {shell, "-c", script});
    EXPECT_TRUE(cmd) << cmd.error().message;
    if (!cmd) return {};
    return run(*cmd, log());
  }

  // Skips when bwrap is missing or cannot create its namespaces here (e.g. in a container
  // without user namespaces): the sandbox then has nothing to test.
  void require_bwrap() {
    static const std::string reason = [this] {
      Result<std::string> bwrap = os::find_bwrap();
      if (!bwrap) return bwrap.error().message;
      RunResult r = run(os::LaunchCommand{{*bwrap, "--ro-bind", "/", "/", "true"}, {}, {}, {}}, log());
      if (!r.started || r.exit_code != 0) return "bwrap cannot run here: " + r.output;
      r = sh(spec(), "true");
      if (!r.started || r.exit_code != 0)
        return "bwrap cannot create the sandbox here: " + r.output;
      return std::string();
    }();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }

  std::string base_;
};

bool contains(const std::vector<std::string>& v, const std::vector<std::string>& seq) {
  return std::search(v.begin(), v.end(), seq.begin(), seq.end()) != v.end();
}

// --- command lines and errors (no bwrap needed) ---

TEST_F(SandboxTest, ProcessIsolationIsThePlainCommand) {
  os::SandboxSpec s = spec(LaunchMode::kProcess);
  s.ipc_dir = "relative/ignored";  // no meaning without a sandbox
  s.env = {{"A", "1"}};
  Result<os::LaunchCommand> cmd = os::sandbox_command(s, {"/bin/echo", "hi"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  EXPECT_EQ(cmd->argv, (std::vector<std::string>{"/bin/echo", "hi"}));
  EXPECT_EQ(cmd->env, s.env);
  EXPECT_EQ(cmd->cwd, task_dir());
}

// The index of `seq` in `v`, or -1.
long index_of(const std::vector<std::string>& v, const std::vector<std::string>& seq) {
  const auto it = std::search(v.begin(), v.end(), seq.begin(), seq.end());
  return it == v.end() ? -1 : static_cast<long>(it - v.begin());
}

TEST_F(SandboxTest, SandboxCommandLine) {
  os::SandboxSpec s = spec();
  s.bwrap = "/bin/true";  // any executable: the command is not run
  s.env = {{"COEDGE_TASK", "t0"}};
  s.read_only_binds = {"/usr/share"};
  s.run_dir = base_;
  s.pass_fds = {7, 9};
  s.seccomp_fd = 11;
  Result<os::LaunchCommand> cmd = os::sandbox_command(s, {"/bin/echo", "hi"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  const std::vector<std::string>& a = cmd->argv;
  EXPECT_EQ(a.front(), "/bin/true");
  for (const char* flag : {"--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                           "--die-with-parent"}) {
    EXPECT_TRUE(contains(a, {flag})) << flag;
  }
  // The worker stays in the process group the supervisor signals (sandbox.cc), and in
  // its task cgroup's view (OpenCV reads its CPU quota there).
  EXPECT_FALSE(contains(a, {"--new-session"}));
  EXPECT_FALSE(contains(a, {"--unshare-cgroup"}));
  EXPECT_FALSE(contains(a, {"--unshare-cgroup-try"}));
  EXPECT_TRUE(contains(a, {"--cap-drop", "ALL"}));
  // The worker's descriptors are 3 and 4; the seccomp program comes after them, reopened
  // at every start.
  EXPECT_TRUE(contains(a, {"--seccomp", "5"}));
  EXPECT_EQ(cmd->pass_fds.size(), 3u);
  EXPECT_EQ(cmd->pass_fds[0].fd, 7);
  EXPECT_FALSE(cmd->pass_fds[0].reopen);
  EXPECT_EQ(cmd->pass_fds[1].fd, 9);
  EXPECT_FALSE(cmd->pass_fds[1].reopen);
  EXPECT_EQ(cmd->pass_fds[2].fd, 11);
  EXPECT_TRUE(cmd->pass_fds[2].reopen);
  // The mounts, in their order: root, the hidden paths, /dev, /proc, a private /dev/shm,
  // /tmp, the task directory, the read-only binds, the remounts.
  const std::vector<long> order = {
      index_of(a, {"--ro-bind", "/", "/"}),
      index_of(a, {"--tmpfs", base_}),
      index_of(a, {"--dev", "/dev", "--proc", "/proc"}),
      index_of(a, {"--tmpfs", "/dev/shm"}),
      index_of(a, {"--bind", ipc_dir(), "/tmp"}),
      index_of(a, {"--bind", task_dir(), task_dir()}),
      index_of(a, {"--ro-bind", "/usr/share", "/usr/share"}),
      index_of(a, {"--remount-ro", base_}),
      index_of(a, {"--chdir", task_dir()}),
      index_of(a, {"--", "/bin/echo", "hi"})};
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_GE(order[i], 0) << "mount " << i << " missing";
    if (i > 0) {
      EXPECT_LT(order[i - 1], order[i]) << "mount " << i << " out of order";
    }
  }
  // The default private paths, between the root and /dev, and remounted at the end.
  for (const std::vector<std::string>& mount :
       {std::vector<std::string>{"--tmpfs", "/root"}, {"--ro-bind", "/dev/null", "/etc/shadow"}}) {
    EXPECT_LT(index_of(a, {"--ro-bind", "/", "/"}), index_of(a, mount)) << mount[1];
    EXPECT_LT(index_of(a, mount), index_of(a, {"--dev", "/dev"})) << mount[1];
  }
  EXPECT_LT(index_of(a, {"--ro-bind", "/usr/share", "/usr/share"}), index_of(a, {"--remount-ro", "/root"}));
  EXPECT_FALSE(contains(a, {"--bind", "/dev/shm", "/dev/shm"}));
  EXPECT_TRUE(contains(a, {"--setenv", "COEDGE_TASK", "t0"}));
  EXPECT_EQ(a.back(), "hi");
  EXPECT_TRUE(cmd->env.empty());
  EXPECT_TRUE(cmd->cwd.empty());

  // Without seccomp no --seccomp and no extra descriptor; a shm_dir is bound (the
  // node's shared memory as a file, until it is passed as descriptors).
  s.seccomp = false;
  s.shm_dir = "/dev/shm";
  cmd = os::sandbox_command(s, {"/bin/echo", "hi"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  EXPECT_FALSE(contains(cmd->argv, {"--seccomp"}));
  EXPECT_EQ(cmd->pass_fds.size(), 2u);
  EXPECT_TRUE(contains(cmd->argv, {"--bind", "/dev/shm", "/dev/shm"}));
  EXPECT_FALSE(contains(cmd->argv, {"--tmpfs", "/dev/shm"}));

  // kProcess passes the worker's descriptors alone.
  s.mode = LaunchMode::kProcess;
  s.seccomp = true;
  cmd = os::sandbox_command(s, {"/bin/echo", "hi"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  ASSERT_EQ(cmd->pass_fds.size(), 2u);
  EXPECT_EQ(cmd->pass_fds[1].fd, 9);
}

// Private paths: nested ones collapse into the outermost, /tmp needs none, an
// executable under a hidden directory is bound back.
TEST_F(SandboxTest, PrivatePathsCommandLine) {
  os::SandboxSpec s = spec();
  s.bwrap = "/bin/true";
  s.seccomp = false;
  write_file(base_ + "/secret/inner/key", "k");
  write_file(base_ + "/bin/worker", "#!/bin/sh\n");
  s.private_paths = {base_ + "/secret/inner", base_ + "/secret", "/tmp", base_ + "/bin"};
  Result<os::LaunchCommand> cmd = os::sandbox_command(s, {base_ + "/bin/worker"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  const std::vector<std::string>& a = cmd->argv;
  EXPECT_TRUE(contains(a, {"--tmpfs", base_ + "/secret"}));
  EXPECT_FALSE(contains(a, {"--tmpfs", base_ + "/secret/inner"}));
  EXPECT_FALSE(contains(a, {"--tmpfs", "/tmp"}));
  EXPECT_LT(index_of(a, {"--tmpfs", base_ + "/bin"}),
            index_of(a, {"--ro-bind", base_ + "/bin/worker", base_ + "/bin/worker"}));
}

TEST_F(SandboxTest, Errors) {
  auto error_of = [](const os::SandboxSpec& s) {
    Result<os::LaunchCommand> cmd = sandbox_command(s, {"/bin/true"});
    return cmd ? std::string("(no error)") : cmd.error().message;
  };
  os::SandboxSpec s = spec();
  s.bwrap = "/bin/true";
  ASSERT_TRUE(os::sandbox_command(s, {"/bin/true"}));

  os::SandboxSpec relative = s;
  relative.task_dir = "tasks/t0";
  EXPECT_NE(error_of(relative).find("relative"), std::string::npos) << error_of(relative);
  EXPECT_NE(error_of(relative).find("tasks/t0"), std::string::npos);
  relative.mode = LaunchMode::kProcess;
  EXPECT_NE(error_of(relative).find("relative"), std::string::npos) << error_of(relative);

  os::SandboxSpec missing = s;
  missing.task_dir = base_ + "/tasks/nope";
  EXPECT_NE(error_of(missing).find("does not exist"), std::string::npos) << error_of(missing);
  EXPECT_EQ(os::sandbox_command(missing, {"/bin/true"}).error().code, ErrorCode::kNotFound);

  os::SandboxSpec ipc = s;
  ipc.ipc_dir = "ipc";
  EXPECT_NE(error_of(ipc).find("ipc_dir"), std::string::npos) << error_of(ipc);

  SandboxSpec rootfs = s;
  rootfs.rootfs = base_ + "/no-rootfs";
  EXPECT_NE(error_of(rootfs).find("rootfs"), std::string::npos) << error_of(rootfs);
  EXPECT_NE(error_of(rootfs).find("does not exist"), std::string::npos) << error_of(rootfs);

  SandboxSpec bind = s;
  bind.read_only_binds = {"/nonexistent/model.onnx"};
  EXPECT_NE(error_of(bind).find("/nonexistent/model.onnx"), std::string::npos) << error_of(bind);

  SandboxSpec outside_run = s;
  outside_run.run_dir = ipc_dir();
  EXPECT_NE(error_of(outside_run).find("is not inside run_dir '" + ipc_dir() + "'"), std::string::npos)
      << error_of(outside_run);

  SandboxSpec private_relative = s;
  private_relative.private_paths = {"keys"};
  EXPECT_NE(error_of(private_relative).find("private path 'keys' is not an absolute path"), std::string::npos)
      << error_of(private_relative);
  SandboxSpec private_missing = s;
  private_missing.private_paths = {base_ + "/no-keys"};
  EXPECT_NE(error_of(private_missing).find("private path '" + base_ + "/no-keys' does not exist"),
            std::string::npos)
      << error_of(private_missing);
  SandboxSpec private_own = s;
  private_own.private_paths = {task_dir()};
  EXPECT_NE(error_of(private_own).find("lies inside the task's own directory"), std::string::npos)
      << error_of(private_own);
  SandboxSpec private_root = s;
  private_root.private_paths = {"/"};
  EXPECT_NE(error_of(private_root).find("would hide everything"), std::string::npos) << error_of(private_root);

  SandboxSpec stdio = s;
  stdio.pass_fds = {1};
  EXPECT_NE(error_of(stdio).find("pass_fds holds 1"), std::string::npos) << error_of(stdio);

  SandboxSpec bad_env = s;
  bad_env.env = {{"A=B", "c"}};
  EXPECT_NE(error_of(bad_env).find("A=B"), std::string::npos) << error_of(bad_env);

  SandboxSpec no_bwrap = s;
  no_bwrap.bwrap = "/nonexistent/bwrap";
  EXPECT_NE(error_of(no_bwrap).find("install bubblewrap (Debian package bubblewrap)"),
            std::string::npos)
      << error_of(no_bwrap);

  Result<std::string> none = os::find_bwrap("");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_NE(none.error().message.find("install bubblewrap (Debian package bubblewrap)"),
            std::string::npos);
  EXPECT_FALSE(os::find_bwrap("/nonexistent:" + base_));

  // A bwrap found on the given search path.
  const std::string fake = base_ + "/bin/bwrap";
  write_file(fake, "#!/bin/sh\n");
  fs::permissions(fake, fs::perms::owner_all);
  Result<std::string> found = os::find_bwrap("/nonexistent:" + base_ + "/bin");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, fake);
}

TEST_F(SandboxTest, AnEmptyCommandIsACallerBug) {
  EXPECT_DEATH((void)os::sandbox_command(spec(), {}), "command");
}

// --- running workers in the sandbox ---

class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    COEDGE_CHECK(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    COEDGE_CHECK(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    COEDGE_CHECK(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(SandboxTest, NoNetwork) {
  require_bwrap();
  Listener listener;
  const std::string connect =
      "echo hello > /dev/tcp/127.0.0.1/" + std::to_string(listener.port()) + " && echo CONNECTED";
  // The control: the same command without the sandbox reaches the listener.
  RunResult plain = sh(spec(LaunchMode::kProcess), connect, "/bin/bash");
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("CONNECTED"), std::string::npos) << plain.output;

  RunResult boxed = sh(spec(), connect, "/bin/bash");
  EXPECT_NE(boxed.exit_code, 0) << boxed.output;
  EXPECT_EQ(boxed.output.find("CONNECTED"), std::string::npos) << boxed.output;
}

TEST_F(SandboxTest, WritesOnlyItsTaskDirectory) {
  require_bwrap();
  const std::string parent = base_ + "/tasks";
  const std::vector<std::string> outside = {
      "/etc/coedge_x", "/usr/coedge_x",         "/root/coedge_x", "/coedge_x",
      parent + "/x",   other_task_dir() + "/x", base_ + "/x"};
  std::string script;
  for (const std::string& p : outside) {
    script += "if { echo x > " + p + "; } 2>/dev/null; then echo WROTE " + p + "; fi; ";
  }
  script += "echo inside > " + task_dir() + "/absolute && echo relative > relative && echo DONE";
  RunResult r = sh(spec(), script);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "DONE\n");
  EXPECT_EQ(read_file(task_dir() + "/absolute"), "inside\n");
  EXPECT_EQ(read_file(task_dir() + "/relative"), "relative\n") << "starts in its task directory";
  for (const std::string& p : outside) {
    EXPECT_FALSE(fs::exists(p)) << p;
    std::error_code ec;
    fs::remove(p, ec);  // should a broken sandbox have written it
  }

  // The control: without the sandbox the other task's directory is writable.
  RunResult plain = sh(spec(LaunchMode::kProcess), "echo x > " + other_task_dir() + "/x");
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_TRUE(fs::exists(other_task_dir() + "/x"));
}

TEST_F(SandboxTest, TmpIsTheIpcDirectory) {
  require_bwrap();
  write_file(ipc_dir() + "/from_host", "h\n");
  const std::string host_tmp_file = "/tmp/coedge_sandbox_test_" + std::to_string(::getpid());
  write_file(host_tmp_file, "x\n");
  RunResult r = sh(spec(),
                   "echo from-worker > /tmp/from_worker; cat /tmp/from_host; "
                   "test -e " +
                       host_tmp_file +
                       " && echo HOST_TMP_VISIBLE; "
                       "echo shm > /dev/shm/coedge_sandbox_test_" +
                       std::to_string(::getpid()));
  fs::remove(host_tmp_file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "h\n");
  EXPECT_EQ(read_file(ipc_dir() + "/from_worker"), "from-worker\n");
  const std::string shm = "/dev/shm/coedge_sandbox_test_" + std::to_string(::getpid());
  EXPECT_FALSE(fs::exists(shm)) << "/dev/shm is private to the sandbox";
  fs::remove(shm);

  // With a shm_dir, /dev/shm is the host's.
  os::SandboxSpec shared = spec();
  shared.shm_dir = "/dev/shm";
  r = sh(shared, "echo shm > " + shm);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(shm), "shm\n");
  fs::remove(shm);
}

TEST_F(SandboxTest, OwnPidNamespaceAndNoCapabilities) {
  require_bwrap();
  RunResult r = sh(spec(), "echo $$; ls /proc | grep -c '^[0-9]*$'; grep CapEff /proc/self/status");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  int pid = 0;
  int processes = 0;
  std::string cap_label;
  std::string caps;
  in >> pid >> processes >> cap_label >> caps;
  EXPECT_LE(pid, 3) << r.output;
  EXPECT_LE(processes, 5) << "only the sandbox's own processes: " << r.output;
  EXPECT_EQ(caps, "0000000000000000") << r.output;
}

TEST_F(SandboxTest, EnvironmentIsSet) {
  require_bwrap();
  os::SandboxSpec s = spec();
  s.env = {{"COEDGE_TASK", "t0"}, {"COEDGE_MSG", "two words"}};
  RunResult r = sh(s, "echo \"$COEDGE_TASK|$COEDGE_MSG\"");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "t0|two words\n");

  s.mode = LaunchMode::kProcess;
  r = sh(s, "echo \"$COEDGE_TASK|$COEDGE_MSG\"");
  EXPECT_EQ(r.output, "t0|two words\n");
}

TEST_F(SandboxTest, RootfsGivesEachTaskItsOwnLibraries) {
  require_bwrap();
  // Two tiny root filesystems with different "library versions", at a path of their own
  // (/opt/lib) and at a system path (/etc); the host's programs come in read-only.
  const std::string rootfs1 = base_ + "/rootfs1";
  const std::string rootfs2 = base_ + "/rootfs2";
  write_file(rootfs1 + "/opt/lib/version", "1.0\n");
  write_file(rootfs2 + "/opt/lib/version", "2.0\n");
  write_file(rootfs1 + "/etc/mylib.conf", "conf-1\n");
  write_file(rootfs2 + "/etc/mylib.conf", "conf-2\n");
  fs::create_symlink("opt/lib", rootfs1 + "/mylib");
  fs::create_symlink("opt/lib", rootfs2 + "/mylib");
  std::vector<std::string> host;
  for (const char* p : {"/usr", "/bin", "/lib", "/lib64", "/sbin"}) {
    if (fs::exists(p)) host.push_back(p);
  }
  const std::string script =
      "cat /opt/lib/version /etc/mylib.conf /mylib/version; "
      "test -e /etc/passwd && echo HOST_ETC; "
      "{ echo x > /opt/lib/version; } 2>/dev/null && echo WROTE_ROOTFS; "
      "{ echo x > /newfile; } 2>/dev/null && echo WROTE_ROOT; "
      "echo ok > out && cat out";
  for (const auto& [rootfs, version] : {std::pair{rootfs1, "1"}, std::pair{rootfs2, "2"}}) {
    os::SandboxSpec s = spec();
    s.rootfs = rootfs;
    s.read_only_binds = host;
    RunResult r = sh(s, script);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, std::string(version) + ".0\nconf-" + version + "\n" + version + ".0\nok\n");
  }
  EXPECT_EQ(read_file(rootfs1 + "/opt/lib/version"), "1.0\n");
  EXPECT_FALSE(fs::exists(rootfs1 + "/newfile"));

  // The executable is bound from the host when the rootfs lacks it.
  os::SandboxSpec s = spec();
  s.rootfs = rootfs1;
  s.read_only_binds = {};
  for (const char* p : {"/usr", "/lib", "/lib64"}) {  // sh and its libraries, not the worker
    if (fs::exists(p)) s.read_only_binds.push_back(p);
  }
  Result<os::LaunchCommand> cmd = os::sandbox_command(s, {"/usr/bin/env"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  EXPECT_FALSE(contains(cmd->argv, {"--ro-bind", "/usr/bin/env", "/usr/bin/env"})) << "under /usr";
  const std::string worker = base_ + "/bin/worker.sh";
  write_file(worker, "#!/usr/bin/sh\ncat /opt/lib/version\n");
  fs::permissions(worker, fs::perms::owner_all);
  cmd = sandbox_command(s, {worker});
  ASSERT_TRUE(cmd) << cmd.error().message;
  EXPECT_TRUE(contains(cmd->argv, {"--ro-bind", worker, worker}));
  RunResult r = run(*cmd, log());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "1.0\n");
}

TEST_F(SandboxTest, RunDirAndPrivatePathsAreHidden) {
  require_bwrap();
  // A keystore outside the run directory, marked private; the run directory holds the
  // task's folder, another task's and a log.
  const std::string keys = base_ + "-keys";
  write_file(keys + "/node.key", "SECRET\n");
  write_file(keys + "/public.pem", "PUBLIC\n");
  write_file(other_task_dir() + "/result", "OTHER\n");
  write_file(base_ + "/logs/agent.log", "LOG\n");
  write_file(task_dir() + "/mine", "MINE\n");
  os::SandboxSpec s = spec();
  s.run_dir = base_;
  s.private_paths = {keys, keys + "/public.pem"};
  const std::string script =
      "cat " + task_dir() + "/mine; echo run: $(ls " + base_ + "); echo tasks: $(ls " + base_ + "/tasks); "
      "cat " + other_task_dir() + "/result " + base_ + "/logs/agent.log " + keys + "/node.key 2>/dev/null; "
      "echo keys: $(ls " + keys + "); echo root: $(ls -A /root); echo shadow: $(cat /etc/shadow 2>/dev/null | wc -c); "
      "{ echo x > " + base_ + "/x; } 2>/dev/null && echo WROTE_RUN_DIR; "
      "{ echo x > " + keys + "/x; } 2>/dev/null && echo WROTE_KEYS; "
      "{ echo x > /root/x; } 2>/dev/null && echo WROTE_ROOT; "
      "echo ok > " + task_dir() + "/written && echo DONE";
  RunResult r = sh(s, script);
  std::error_code ec;
  fs::remove_all(keys, ec);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "MINE\nrun: tasks\ntasks: t0\nkeys:\nroot:\nshadow: 0\nDONE\n");
  EXPECT_EQ(read_file(task_dir() + "/written"), "ok\n");
  EXPECT_FALSE(fs::exists(base_ + "/x"));
}

// The worker gets its descriptors at 3, 4..., runs under the seccomp filter, and does
// not see the program's descriptor; a restart gets both again (the program is read from
// its start by every bwrap).
TEST_F(SandboxTest, DescriptorsAndSeccompReachEveryStart) {
  require_bwrap();
  Result<Pipe> answer = make_pipe();
  ASSERT_TRUE(answer.ok());
  os::SandboxSpec s = spec();
  s.pass_fds = {answer->write.get()};
  Result<os::LaunchCommand> cmd = os::sandbox_command(
      s, {"/bin/sh", "-c",
          "echo \"$(grep -E '^(Seccomp|CapEff):' /proc/self/status | tr -s '\\t\\n' '  ')fds: $(ls /proc/self/fd | "
          "sort -n | tr '\\n' ' ')\" >&3; "
          "unshare -U true 2>/dev/null && echo UNSHARED >&3; exit 3"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  os::ProcessSupervisor sup;
  os::ChildSpec child;
  child.name = "boxed";
  child.argv = cmd->argv;
  child.pass_fds = cmd->pass_fds;
  child.log_path = log();
  child.backoff_initial = 0s;
  const int id = sup.add(child);
  ASSERT_TRUE(sup.start(id, kEpoch));
  int exits = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (exits < 2 && std::chrono::steady_clock::now() < deadline) {
    for (const os::ChildEvent& e : sup.poll(kEpoch)) {
      if (e.kind != os::ChildEvent::Kind::kExited) continue;
      ++exits;
      EXPECT_EQ(e.exit_code, 3) << read_file(log());
    }
    std::this_thread::sleep_for(2ms);
  }
  sup.stop_all(1s);
  answer->write.reset();
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(answer->read.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ASSERT_GE(exits, 2) << read_file(log());
  // ls holds one more descriptor (3+1) while it lists them.
  const std::string line = "CapEff: 0000000000000000 Seccomp: 2 fds: 0 1 2 3 4 \n";
  EXPECT_EQ(out.substr(0, 2 * line.size()), line + line) << read_file(log());
}

TEST_F(SandboxTest, StoppingTheSandboxStopsTheWorker) {
  require_bwrap();
  // A unique command line to find the sandboxed process from the host.
  const std::string marker = "4242." + std::to_string(::getpid());
  Result<os::LaunchCommand> cmd = os::sandbox_command(spec(), {"/bin/sleep", marker});
  ASSERT_TRUE(cmd) << cmd.error().message;
  auto find_worker = [&] {
    std::vector<pid_t> found;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmdline = read_file(entry.path().string() + "/cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      const std::string stat = read_file(entry.path().string() + "/stat");
      const size_t paren = stat.rfind(')');
      const bool zombie =
          paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
      if (!zombie && cmdline == "/bin/sleep " + marker + " ") found.push_back(std::stoi(name));
    }
    return found;
  };
  os::ProcessSupervisor sup;
  os::ChildSpec child;
  child.name = "boxed-sleep";
  child.argv = cmd->argv;
  child.pass_fds = cmd->pass_fds;
  const int id = sup.add(child);
  ASSERT_TRUE(sup.start(id, kEpoch));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (find_worker().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_FALSE(find_worker().empty()) << "the sandboxed sleep did not start";
  sup.stop(id, 1s);
  bool gone = false;
  const auto deadline2 = std::chrono::steady_clock::now() + 10s;
  while (!(gone = find_worker().empty()) && std::chrono::steady_clock::now() < deadline2) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_TRUE(gone) << "the worker outlived its sandbox";
}

}  // namespace
}  // namespace coedge::os
