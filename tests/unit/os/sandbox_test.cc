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
      RunResult r = run(os::LaunchCommand{{*bwrap, "--ro-bind", "/", "/", "true"}, {}, {}}, log());
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

TEST_F(SandboxTest, SandboxCommandLine) {
  os::SandboxSpec s = spec();
  s.bwrap = "/bin/true";  // any executable: the command is not run
  s.env = {{"COEDGE_TASK", "t0"}};
  s.read_only_binds = {"/usr/share"};
  Result<os::LaunchCommand> cmd = os::sandbox_command(s, {"/bin/echo", "hi"});
  ASSERT_TRUE(cmd) << cmd.error().message;
  const std::vector<std::string>& a = cmd->argv;
  EXPECT_EQ(a.front(), "/bin/true");
  for (const char* flag :
       {"--unshare-pid", "--unshare-net", "--die-with-parent"}) {
    EXPECT_TRUE(contains(a, {flag})) << flag;
  }
  // The worker stays in the process group the supervisor signals (sandbox.cc).
  EXPECT_FALSE(contains(a, {"--new-session"}));
  EXPECT_FALSE(contains(a, {"--unshare-ipc"}));
  EXPECT_TRUE(contains(a, {"--cap-drop", "ALL"}));
  EXPECT_TRUE(contains(a, {"--ro-bind", "/", "/"}));
  EXPECT_TRUE(contains(a, {"--bind", "/dev/shm", "/dev/shm"}));
  EXPECT_TRUE(contains(a, {"--bind", ipc_dir(), "/tmp"}));
  EXPECT_TRUE(contains(a, {"--bind", task_dir(), task_dir()}));
  EXPECT_TRUE(contains(a, {"--chdir", task_dir()}));
  EXPECT_TRUE(contains(a, {"--ro-bind", "/usr/share", "/usr/share"}));
  EXPECT_TRUE(contains(a, {"--setenv", "COEDGE_TASK", "t0"}));
  EXPECT_TRUE(contains(a, {"--", "/bin/echo", "hi"}));
  EXPECT_EQ(a.back(), "hi");
  EXPECT_TRUE(cmd->env.empty());
  EXPECT_TRUE(cmd->cwd.empty());
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
  EXPECT_EQ(read_file(shm), "shm\n") << "/dev/shm is the host's shm_dir";
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
