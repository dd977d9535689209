// The sandbox, proven: coedge-sandbox-probe (sandbox_probe.cc), a stand-in for a hostile
// worker, is started the way the node agent starts a worker — os::sandbox_command in
// sandbox mode with the node's layout (RUN_DIR/tasks/NAME as the task directory, its tmp
// as /tmp, the whole run directory hidden), seccomp on (the default), a descriptor
// passed read-only (a sealed memfd, like a camera's frames), a private keystore, and the
// task's cgroup (os::TaskCgroup, joined before exec through ChildSpec::join_cgroups) —
// under a ProcessSupervisor. Each escape it tries must be refused: network, other
// processes, writes outside its task directory, reads of private paths and other tasks,
// ptrace, regaining capabilities; a fork bomb stops at pids.max and a memory hog is
// OOM-killed inside its cgroup only. The test's own checks from the host side: the
// listener saw no connection, the sentinel process lives, the host's /dev/shm and the
// other task's folder are unchanged.
//
// Needs root, bubblewrap and cgroup v1 (cpu, memory, pids): skipped otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "os/cgroup_limits.h"
#include "os/fd.h"
#include "os/process_supervisor.h"
#include "os/sandbox.h"
#include "os/spawn.h"

namespace coedge::os {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kSecret = "COEDGE-SECRET-7f3a";

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

class Listener {
 public:
  Listener() {
    fd_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    COEDGE_CHECK(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    COEDGE_CHECK(::listen(fd_.get(), 16) == 0);
    socklen_t len = sizeof addr;
    COEDGE_CHECK(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  int port() const { return port_; }
  // Whether a connection is waiting to be accepted (one reached us).
  bool reached() const {
    pollfd p{fd_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

 private:
  Fd fd_;
  int port_ = 0;
};

struct ProbeRun {
  int exit_code = -1;
  int signal = 0;
  std::string output;
  std::map<std::string, std::string> checks;  // name -> "OK" or the FAIL detail
};

class SandboxEscapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the node's sandbox mode runs as root)";
    Result<std::string> bwrap = find_bwrap();
    if (!bwrap) GTEST_SKIP() << bwrap.error().message;
    for (const char* c : {"cpu", "memory", "pids"}) {
      if (!fs::exists(std::string("/sys/fs/cgroup/") + c + "/cgroup.procs")) {
        GTEST_SKIP() << "cgroup v1 controller " << c << " is not mounted at /sys/fs/cgroup/" << c;
      }
    }
    probe_ = std::string(COEDGE_BINARY_DIR) + "/tests/integration/coedge-sandbox-probe";
    ASSERT_TRUE(is_executable_file(probe_)) << probe_;
    std::string tmpl = "/var/tmp/coedge-escape-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    // The node's layout: RUN_DIR/tasks/NAME, the worker's /tmp inside it, other tasks and
    // logs beside it; a keystore elsewhere, marked private.
    run_dir_ = base_ + "/run";
    task_dir_ = run_dir_ + "/tasks/t0";
    other_task_dir_ = run_dir_ + "/tasks/t1";
    fs::create_directories(task_dir_ + "/tmp");
    write_file(other_task_dir_ + "/secret", kSecret + "\n");
    write_file(run_dir_ + "/logs/agent.log", "log\n");
    keys_dir_ = base_ + "/keys";
    write_file(keys_dir_ + "/node.key", kSecret + "\n");
    shm_name_ = "coedge-escape-" + std::to_string(::getpid());

    // A host process the probe must neither see nor signal.
    marker_ = "424242." + std::to_string(::getpid());
    Result<pid_t> sentinel = spawn({"/bin/sleep", marker_});
    ASSERT_TRUE(sentinel.ok()) << sentinel.error().message;
    sentinel_ = *sentinel;

    Result<Fd> frames = sealed_memory_file("coedge-escape-frames", "FRAME");
    ASSERT_TRUE(frames.ok()) << frames.error().message;
    frames_ = std::move(*frames);
  }

  void TearDown() override {
    if (sentinel_ > 0) {
      ::kill(sentinel_, SIGKILL);
      wait_for_exit(sentinel_);
    }
    std::error_code ec;
    if (!base_.empty()) fs::remove_all(base_, ec);
    if (!shm_name_.empty()) fs::remove("/dev/shm/" + shm_name_, ec);
    if (!run_file_.empty()) fs::remove(run_file_, ec);
  }

  // Runs the probe in the sandbox, in `cgroup`, to its end (bounded).
  ProbeRun run_probe(const std::vector<std::string>& args, TaskCgroup& cgroup,
                     LaunchMode mode = LaunchMode::kSandbox) {
    SandboxSpec spec;
    spec.mode = mode;
    spec.task_dir = task_dir_;
    spec.ipc_dir = task_dir_ + "/tmp";
    spec.run_dir = run_dir_;
    spec.private_paths = {keys_dir_};
    spec.pass_fds = {frames_.get()};
    std::vector<std::string> command = {probe_};
    command.insert(command.end(), args.begin(), args.end());
    Result<LaunchCommand> launch = sandbox_command(spec, command);
    ProbeRun run;
    EXPECT_TRUE(launch.ok()) << launch.error().message;
    if (!launch.ok()) return run;
    if (mode == LaunchMode::kSandbox) {
      EXPECT_NE(std::find(launch->argv.begin(), launch->argv.end(), "--seccomp"), launch->argv.end())
          << "seccomp is on by default";
    }

    ProcessSupervisor sup;
    ChildSpec child;
    child.name = "probe";
    child.argv = launch->argv;
    child.env = launch->env;
    child.cwd = launch->cwd;
    child.pass_fds = launch->pass_fds;
    child.join_cgroups = cgroup.join_files();
    child.log_path = base_ + "/probe.log";
    child.restart = false;
    std::error_code ec;
    fs::remove(child.log_path, ec);
    const int id = sup.add(child);
    Status started = sup.start(id, kEpoch);
    EXPECT_TRUE(started.ok()) << started.error().message;
    if (!started.ok()) return run;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    bool exited = false;
    while (!exited && std::chrono::steady_clock::now() < deadline) {
      for (const ChildEvent& e : sup.poll(kEpoch)) {
        if (e.kind != ChildEvent::Kind::kExited) continue;
        exited = true;
        run.exit_code = e.exit_code;
        run.signal = e.signal;
      }
      if (!exited) std::this_thread::sleep_for(5ms);
    }
    EXPECT_TRUE(exited) << "the probe did not finish";
    sup.stop_all(1s);
    run.output = read_file(child.log_path);
    std::istringstream lines(run.output);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("OK ", 0) == 0) run.checks[line.substr(3)] = "OK";
      if (line.rfind("FAIL ", 0) == 0) {
        const size_t colon = line.find(':');
        run.checks[line.substr(5, colon - 5)] = line.substr(colon + 1);
      }
    }
    return run;
  }

  static Fd unix_listen(const std::string& path) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un ua{};
    ua.sun_family = AF_UNIX;
    std::snprintf(ua.sun_path, sizeof ua.sun_path, "%s", path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ua), sizeof ua) != 0 || ::listen(fd.get(), 4) != 0) return Fd();
    return fd;
  }

  Result<TaskCgroup> make_cgroup(const CgroupLimits& limits) {
    return TaskCgroup::create("coedge-escape-" + std::to_string(::getpid()), limits);
  }

  std::string run_file_;
  std::string probe_, base_, run_dir_, task_dir_, other_task_dir_, keys_dir_, shm_name_, marker_;
  pid_t sentinel_ = -1;
  Fd frames_;
};

TEST_F(SandboxEscapeTest, EveryEscapeIsRefused) {
  Listener listener;
  // A host daemon's Unix socket (outside every hidden path) and a file under /run.
  const std::string unix_path = base_ + "/host.sock";
  Fd unix_listener = unix_listen(unix_path);
  ASSERT_TRUE(unix_listener.valid());
  run_file_ = "/run/coedge-escape-" + std::to_string(::getpid());
  write_file(run_file_, "x\n");
  Result<TaskCgroup> cgroup = make_cgroup({1.0, 256u << 20, 64});
  ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
  ProbeRun run = run_probe({"all", "--port", std::to_string(listener.port()), "--sentinel", std::to_string(sentinel_),
                            "--marker", marker_, "--run-dir", run_dir_, "--task-dir", task_dir_,
                            "--other-task-dir", other_task_dir_, "--keystore", keys_dir_ + "/node.key",
                            "--secret", kSecret, "--ro-fd", "3", "--shm-name", shm_name_, "--unix-socket",
                            unix_path, "--run-file", run_file_},
                           *cgroup);
  const std::vector<std::string> expected = {
      "net_host_listener", "net_outside", "net_only_loopback", "unix_socket_to_host", "run_hidden",
      "signal_host_sentinel", "kill_host_sentinel", "proc_shows_only_sandbox", "ptrace_sibling",
      "ptrace_host_sentinel", "process_vm_readv",
      "write_etc", "write_usr", "write_root_dir", "write_run_dir", "write_other_task", "write_keystore_dir",
      "write_own_task_dir_works", "read_other_task", "list_other_task", "read_keystore", "read_root_home",
      "read_shadow", "run_dir_shows_only_tasks", "write_ro_fd", "pwrite_ro_fd", "write_ro_fd_via_proc_reopen",
      "dev_shm_private",
      "cap_eff_zero", "cap_prm_zero", "exec_regains_no_caps", "no_new_privs", "seccomp_filter", "capset_sys_admin",
      "mount", "remount_root_rw", "unshare_user_ns", "keyctl", "bpf", "chroot", "kill_all_sent"};
  for (const std::string& check : expected) {
    auto it = run.checks.find(check);
    if (it == run.checks.end()) {
      ADD_FAILURE() << "check " << check << " did not report\n" << run.output;
      continue;
    }
    EXPECT_EQ(it->second, "OK") << check;
  }
  EXPECT_EQ(run.checks.size(), expected.size()) << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("DONE 0 failed"), std::string::npos) << run.output;
  std::cout << run.output;  // the measured results, for docs/SECURITY.md

  // From the host's side.
  EXPECT_FALSE(listener.reached()) << "a connection reached the host's listener";
  pollfd unix_poll{unix_listener.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&unix_poll, 1, 0), 0) << "a connection reached the host's Unix socket";
  EXPECT_EQ(::kill(sentinel_, 0), 0) << "the sentinel died";
  EXPECT_FALSE(fs::exists("/dev/shm/" + shm_name_)) << "the probe's /dev/shm is the host's";
  EXPECT_EQ(read_file(other_task_dir_ + "/secret"), kSecret + "\n");
  EXPECT_EQ(fs::directory_iterator(other_task_dir_) == fs::directory_iterator(), false);
  EXPECT_FALSE(fs::exists(run_dir_ + "/coedge-probe"));
  EXPECT_FALSE(fs::exists(other_task_dir_ + "/coedge-probe"));
  char frame[8] = {};
  EXPECT_EQ(::pread(frames_.get(), frame, sizeof frame, 0), 5);
  EXPECT_EQ(std::string(frame), "FRAME");
  // The sandbox's inner processes (bwrap's init, the probe) were killed with their
  // group; the last of them leave the cgroup once reaped, a moment after the leader.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!cgroup->pids().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(cgroup->pids().empty()) << "processes left in the task cgroup";
  EXPECT_TRUE(cgroup->remove());
}

// The control: the same probe as a plain process (isolation "process") sees every escape
// its harmless checks look for, so an OK above is the sandbox's doing.
TEST_F(SandboxEscapeTest, WithoutTheSandboxTheProbeSeesTheEscapes) {
  Listener listener;
  Fd unix_listener = unix_listen(base_ + "/host.sock");
  ASSERT_TRUE(unix_listener.valid());
  TaskCgroup none;
  ProbeRun run = run_probe({"harmless", "--unix-socket", base_ + "/host.sock", "--port", std::to_string(listener.port()), "--sentinel",
                            std::to_string(sentinel_), "--run-dir", run_dir_, "--other-task-dir", other_task_dir_,
                            "--keystore", keys_dir_ + "/node.key", "--secret", kSecret},
                           none, LaunchMode::kProcess);
  for (const char* check : {"net_host_listener", "unix_socket_to_host", "signal_host_sentinel", "write_run_dir", "write_other_task",
                            "read_other_task", "read_keystore", "seccomp_filter"}) {
    ASSERT_TRUE(run.checks.count(check)) << check << "\n" << run.output;
    EXPECT_NE(run.checks[check], "OK") << check << " saw no escape without the sandbox";
  }
  EXPECT_TRUE(listener.reached());
  EXPECT_EQ(::kill(sentinel_, 0), 0);
}

TEST_F(SandboxEscapeTest, AForkBombStopsAtPidsMax) {
  Result<TaskCgroup> cgroup = make_cgroup({0, 0, 32});
  ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
  ProbeRun run = run_probe({"bomb", "--max", "100000"}, *cgroup);
  EXPECT_EQ(run.checks["fork_bomb_stopped"], "OK") << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::cout << run.output;
  const std::string events = read_file(cgroup->dirs()[0] + "/pids.events");
  EXPECT_NE(events, "max 0\n") << "pids.max was never hit: " << events;
  EXPECT_EQ(::kill(sentinel_, 0), 0);
  EXPECT_TRUE(cgroup->remove());
}

TEST_F(SandboxEscapeTest, AMemoryHogIsOomKilledInItsCgroupOnly) {
  Result<TaskCgroup> cgroup = make_cgroup({0, 128u << 20, 0});
  ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
  ProbeRun run = run_probe({"oom", "--mib", "1024"}, *cgroup);
  EXPECT_EQ(run.checks["oom_killed_in_cgroup"], "OK") << run.output;
  EXPECT_EQ(run.checks["oom_parent_survives"], "OK") << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::cout << run.output;
  const std::string oom = read_file(cgroup->dirs()[0] + "/memory.oom_control");
  EXPECT_NE(oom.find("oom_kill 1"), std::string::npos) << oom;
  EXPECT_EQ(::kill(sentinel_, 0), 0);  // nothing outside the cgroup was touched
  EXPECT_TRUE(cgroup->remove());
}

// A child joins every cgroup of its task before exec, and the limits are those asked for.
TEST_F(SandboxEscapeTest, TheWorkerRunsInsideItsTaskCgroup) {
  Result<TaskCgroup> cgroup = make_cgroup({0.5, 64u << 20, 16});
  ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
  ASSERT_EQ(cgroup->dirs().size(), 3u);
  EXPECT_EQ(read_file(cgroup->dirs()[0] + "/cpu.cfs_quota_us"), "50000\n");
  EXPECT_EQ(read_file(cgroup->dirs()[1] + "/memory.limit_in_bytes"), std::to_string(64u << 20) + "\n");
  EXPECT_EQ(read_file(cgroup->dirs()[2] + "/pids.max"), "16\n");
  ProcessSupervisor sup;
  ChildSpec child;
  child.name = "joiner";
  child.argv = {"/bin/sh", "-c", "grep -E ':(cpu|memory|pids):' /proc/self/cgroup | sort"};
  child.join_cgroups = cgroup->join_files();
  child.log_path = base_ + "/joiner.log";
  child.restart = false;
  const int id = sup.add(child);
  ASSERT_TRUE(sup.start(id, kEpoch));
  bool exited = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!exited && std::chrono::steady_clock::now() < deadline) {
    for (const ChildEvent& e : sup.poll(kEpoch)) exited = exited || e.kind == ChildEvent::Kind::kExited;
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(exited);
  const std::string out = read_file(child.log_path);
  const std::string name = "coedge-escape-" + std::to_string(::getpid());
  for (const char* c : {":cpu:", ":memory:", ":pids:"}) {
    const size_t at = out.find(c);
    ASSERT_NE(at, std::string::npos) << out;
    const std::string rest = out.substr(at, out.find('\n', at) - at);
    EXPECT_NE(rest.find("/" + name), std::string::npos) << rest;
  }
  // A cgroup file that cannot be opened fails the start, naming it.
  ChildSpec bad = child;
  bad.join_cgroups = {"/sys/fs/cgroup/pids/coedge-no-such-cgroup/cgroup.procs"};
  const int bad_id = sup.add(bad);
  const Status s = sup.start(bad_id, kEpoch);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot open cgroup file '/sys/fs/cgroup/pids/coedge-no-such-cgroup/cgroup.procs'"),
            std::string::npos)
      << s.error().message;
  sup.stop_all(1s);
  EXPECT_TRUE(cgroup->remove());
}

}  // namespace
}  // namespace coedge::os
