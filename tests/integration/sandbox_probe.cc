// A stand-in for a hostile worker: started by sandbox_escape_test.cc exactly as the node
// starts a worker (bubblewrap with its options, seccomp, the task's cgroup), it tries
// each escape and prints one line per check: "OK <check>" when the attempt was refused,
// "FAIL <check>: <what happened>" when it got through. It never relies on being refused:
// every attempt is real (and aimed at things the test set up to be harmless targets).
//
// Usage: coedge-sandbox-probe MODE [--key value]...
//   MODE all   the checks below (the options say where the targets are)
//   MODE bomb  fork until refused: OK when a fork fails with EAGAIN before --max forks
//   MODE oom   a child touches --mib MiB: OK when the child is killed and we are not
//   MODE harmless  the checks safe to run outside a sandbox (the test's control)
//   MODE caps  prints CapEff and CapPrm (run by `all` through exec)
// Options: --port P (a host TCP listener on 127.0.0.1), --sentinel PID (a host process),
//   --marker TEXT (in the sentinel's command line), --run-dir D, --task-dir D,
//   --other-task-dir D, --keystore FILE, --secret TEXT (what the keystore and the other
//   task's file hold), --ro-fd N (a descriptor passed read-only), --shm-name NAME,
//   --unix-socket PATH (a host Unix socket listening), --run-file PATH (a file under /run).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

// Under AddressSanitizer (the asan preset), LeakSanitizer stops the world with ptrace at
// exit, which the seccomp filter this probe runs under refuses: it would turn every exit
// into "LeakSanitizer has encountered a fatal error". The probe checks escapes, not leaks.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

namespace {

std::map<std::string, std::string> g_opts;
int g_failures = 0;

std::string opt(const std::string& key) {
  auto it = g_opts.find(key);
  return it == g_opts.end() ? std::string() : it->second;
}

void result(const std::string& check, bool refused, const std::string& detail) {
  if (refused) {
    std::printf("OK %s\n", check.c_str());
  } else {
    ++g_failures;
    std::printf("FAIL %s: %s\n", check.c_str(), detail.c_str());
  }
  std::fflush(stdout);
}

std::string err(int e) { return std::string(std::strerror(e)); }

bool tcp_connect(uint32_t addr, int port, int* error);
bool unix_connect(const std::string& path);
bool create_refused(const std::string& path, std::string* detail);
std::string status_field(const std::string& name);

std::string read_text(const std::string& path, bool* ok = nullptr) {
  std::ifstream in(path);
  if (ok != nullptr) *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The checks that are harmless outside a sandbox (no signal but 0, writes only into the
// test's own folders, removed at once): the test's control run, which shows that each
// of them does see an escape where there is one.
void check_harmless() {
  int e = 0;
  const int port = std::atoi(opt("port").c_str());
  result("net_host_listener", !tcp_connect(INADDR_LOOPBACK, port, &e), "connected to the host's 127.0.0.1:" + opt("port"));
  result("unix_socket_to_host", !unix_connect(opt("unix-socket")),
         "connected to the host's Unix socket " + opt("unix-socket"));
  const pid_t sentinel = static_cast<pid_t>(std::atol(opt("sentinel").c_str()));
  const int r0 = ::kill(sentinel, 0);
  result("signal_host_sentinel", r0 != 0 && errno == ESRCH, "kill(" + opt("sentinel") + ", 0) succeeded");
  std::string d;
  result("write_run_dir", create_refused(opt("run-dir") + "/coedge-probe", &d), d);
  result("write_other_task", create_refused(opt("other-task-dir") + "/coedge-probe", &d), d);
  const std::string other = read_text(opt("other-task-dir") + "/secret");
  result("read_other_task", other.find(opt("secret")) == std::string::npos, "read the other task's secret");
  const std::string key = read_text(opt("keystore"));
  result("read_keystore", key.find(opt("secret")) == std::string::npos, "read the keystore");
  result("seccomp_filter", status_field("Seccomp") == "2", "Seccomp " + status_field("Seccomp"));
  result("cap_eff_zero", status_field("CapEff") == "0000000000000000", "CapEff " + status_field("CapEff"));
}

// --- network ---

bool tcp_connect(uint32_t addr, int port, int* error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno;
    return false;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(addr);
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  *error = errno;
  ::close(fd);
  return connected;
}

bool unix_connect(const std::string& path) {
  const int u = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (u < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  const bool connected = ::connect(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(u);
  return connected;
}

void check_network() {
  int e = 0;
  const int port = std::atoi(opt("port").c_str());
  result("net_host_listener", !tcp_connect(INADDR_LOOPBACK, port, &e), "connected to the host's 127.0.0.1:" + opt("port"));
  result("net_outside", !tcp_connect(0x0a000001 /* 10.0.0.1 */, 80, &e), "connected to 10.0.0.1:80");
  // Only a loopback device (down) in the sandbox's network namespace.
  const std::string dev = read_text("/proc/net/dev");
  size_t interfaces = 0;
  std::istringstream lines(dev);
  std::string line;
  std::string names;
  while (std::getline(lines, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    ++interfaces;
    names += name + " ";
  }
  result("net_only_loopback", interfaces == 1 && names == "lo ", "interfaces: " + names);

  // A host daemon's Unix socket: the network namespace does not cover path-named sockets.
  result("unix_socket_to_host", !unix_connect(opt("unix-socket")),
         "connected to the host's Unix socket " + opt("unix-socket"));
  result("run_hidden", ::access(opt("run-file").c_str(), F_OK) != 0, opt("run-file") + " is visible");
}

// --- processes ---

void check_processes() {
  const pid_t sentinel = static_cast<pid_t>(std::atol(opt("sentinel").c_str()));
  errno = 0;
  const int r0 = ::kill(sentinel, 0);
  const int e0 = errno;
  result("signal_host_sentinel", r0 != 0 && e0 == ESRCH, "kill(" + opt("sentinel") + ", 0) = " + std::to_string(r0) + " " + err(e0));
  const int r9 = ::kill(sentinel, SIGKILL);
  result("kill_host_sentinel", r9 != 0, "kill(" + opt("sentinel") + ", SIGKILL) succeeded");

  // /proc lists the sandbox's own processes only: none of them is the sentinel.
  std::vector<std::string> pids;
  bool sentinel_seen = false;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* ent = ::readdir(d)) {
      const std::string name = ent->d_name;
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      pids.push_back(name);
      // The sentinel is "/bin/sleep MARKER" (our own argv, and bwrap's, hold the marker too).
      const std::string cmdline = read_text("/proc/" + name + "/cmdline");
      if (!opt("marker").empty() && cmdline == std::string("/bin/sleep") + '\0' + opt("marker") + '\0') {
        sentinel_seen = true;
      }
    }
    ::closedir(d);
  }
  std::string listed;
  for (const std::string& p : pids) listed += p + " ";
  result("proc_shows_only_sandbox", !sentinel_seen && pids.size() <= 4, "/proc lists " + listed);

  // ptrace: a sibling inside the sandbox, and the host sentinel.
  const pid_t sibling = ::fork();
  if (sibling == 0) {
    ::pause();
    ::_exit(0);
  }
  errno = 0;
  const long attached = ::ptrace(PTRACE_ATTACH, sibling, nullptr, nullptr);
  const int ea = errno;
  result("ptrace_sibling", attached != 0, "PTRACE_ATTACH to the sibling " + std::to_string(sibling) + " succeeded");
  if (attached == 0) ::ptrace(PTRACE_DETACH, sibling, nullptr, nullptr);
  (void)ea;
  const long seized = ::ptrace(PTRACE_SEIZE, sentinel, nullptr, nullptr);
  result("ptrace_host_sentinel", seized != 0, "PTRACE_SEIZE of the host sentinel succeeded");
  ::kill(sibling, SIGKILL);
  ::waitpid(sibling, nullptr, 0);
  const long pvr = ::syscall(SYS_process_vm_readv, sibling, nullptr, 0, nullptr, 0, 0);
  result("process_vm_readv", pvr != 0, "process_vm_readv succeeded");
}

// kill(-1, SIGKILL) reaches every process we may signal: inside the sandbox only. The
// test checks that the sentinel is still alive afterwards.
void check_kill_everything() {
  const int r = ::kill(-1, SIGKILL);
  std::printf("INFO kill(-1, SIGKILL) = %d %s\n", r, r == 0 ? "" : err(errno).c_str());
  result("kill_all_sent", true, "");
}

// --- files ---

// Whether creating `path` was refused; removes it if not.
bool create_refused(const std::string& path, std::string* detail) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *detail = err(errno);
    return true;
  }
  ::close(fd);
  ::unlink(path.c_str());
  *detail = "created " + path;
  return false;
}

void check_files() {
  std::string d;
  result("write_etc", create_refused("/etc/coedge-probe", &d), d);
  result("write_usr", create_refused("/usr/coedge-probe", &d), d);
  result("write_root_dir", create_refused("/coedge-probe", &d), d);
  result("write_run_dir", create_refused(opt("run-dir") + "/coedge-probe", &d), d);
  result("write_other_task", create_refused(opt("other-task-dir") + "/coedge-probe", &d), d);
  result("write_keystore_dir", create_refused(opt("keystore") + ".probe", &d), d);
  // The own task directory is writable (the control: the probe can write at all).
  std::string own_detail;
  const bool own_refused = create_refused(opt("task-dir") + "/coedge-probe", &own_detail);
  result("write_own_task_dir_works", !own_refused, "could not write the own task dir: " + own_detail);

  // Reading what is private or another task's.
  bool ok = false;
  const std::string other = read_text(opt("other-task-dir") + "/secret", &ok);
  result("read_other_task", other.find(opt("secret")) == std::string::npos, "read the other task's secret");
  DIR* other_dir = ::opendir(opt("other-task-dir").c_str());
  result("list_other_task", other_dir == nullptr, "opened the other task's directory");
  if (other_dir != nullptr) ::closedir(other_dir);
  const std::string key = read_text(opt("keystore"), &ok);
  result("read_keystore", key.find(opt("secret")) == std::string::npos, "read the keystore");
  int entries = 0;
  if (DIR* root = ::opendir("/root")) {
    while (dirent* ent = ::readdir(root)) entries += std::strcmp(ent->d_name, ".") && std::strcmp(ent->d_name, "..");
    ::closedir(root);
  }
  result("read_root_home", entries == 0, std::to_string(entries) + " entries in /root");
  const std::string shadow = read_text("/etc/shadow");
  result("read_shadow", shadow.find("root:") == std::string::npos, "read /etc/shadow");
  int run_entries = 0;
  std::string run_list;
  if (DIR* run = ::opendir(opt("run-dir").c_str())) {
    while (dirent* ent = ::readdir(run)) {
      if (!std::strcmp(ent->d_name, ".") || !std::strcmp(ent->d_name, "..")) continue;
      ++run_entries;
      run_list += std::string(ent->d_name) + " ";
    }
    ::closedir(run);
  }
  result("run_dir_shows_only_tasks", run_list == "tasks ", "the run dir lists " + run_list);

  // A descriptor passed read-only (a sealed memfd, as the node passes frames).
  const int ro = std::atoi(opt("ro-fd").c_str());
  result("write_ro_fd", ::write(ro, "x", 1) < 0, "write() to the read-only descriptor succeeded");
  result("pwrite_ro_fd", ::pwrite(ro, "x", 1, 0) < 0, "pwrite() succeeded");
  const std::string self = "/proc/self/fd/" + opt("ro-fd");
  const int rw = ::open(self.c_str(), O_RDWR | O_CLOEXEC);
  bool reopen_refused = true;
  std::string reopen_detail;
  if (rw >= 0) {
    if (::write(rw, "x", 1) >= 0) {
      reopen_refused = false;
      reopen_detail = "write through a /proc/self/fd reopen succeeded";
    }
    void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
    if (map != MAP_FAILED) {
      reopen_refused = false;
      reopen_detail += " a shared writable mapping succeeded";
      ::munmap(map, 4096);
    }
    if (::ftruncate(rw, 0) == 0) {
      reopen_refused = false;
      reopen_detail += " ftruncate succeeded";
    }
    ::close(rw);
  }
  result("write_ro_fd_via_proc_reopen", reopen_refused, reopen_detail);

  // /dev/shm is private: a file made here is not the host's (the test looks there).
  const std::string shm = "/dev/shm/" + opt("shm-name");
  const int s = ::open(shm.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  std::printf("INFO created %s in the sandbox's /dev/shm: %s\n", shm.c_str(), s >= 0 ? "yes" : err(errno).c_str());
  if (s >= 0) ::close(s);
  int shm_entries = 0;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (dirent* ent = ::readdir(dir)) shm_entries += std::strcmp(ent->d_name, ".") && std::strcmp(ent->d_name, "..");
    ::closedir(dir);
  }
  result("dev_shm_private", shm_entries <= 1, std::to_string(shm_entries) + " entries in /dev/shm");
}

// --- privileges ---

std::string status_field(const std::string& name) {
  std::istringstream in(read_text("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "(missing)";
}

void check_privileges() {
  result("cap_eff_zero", status_field("CapEff") == "0000000000000000", "CapEff " + status_field("CapEff"));
  result("cap_prm_zero", status_field("CapPrm") == "0000000000000000", "CapPrm " + status_field("CapPrm"));
  // The bounding set keeps what bwrap leaves there (as root without a user namespace);
  // with no_new_privs an exec never adds to the permitted set: checked by re-executing.
  std::printf("INFO CapBnd %s CapInh %s CapAmb %s\n", status_field("CapBnd").c_str(), status_field("CapInh").c_str(),
              status_field("CapAmb").c_str());
  int pipe_fds[2];
  std::string after_exec;
  if (::pipe2(pipe_fds, O_CLOEXEC) == 0) {
    const pid_t child = ::fork();
    if (child == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::execl("/proc/self/exe", "coedge-sandbox-probe", "caps", nullptr);
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    char buf[256];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) after_exec.append(buf, static_cast<size_t>(n));
    ::close(pipe_fds[0]);
    ::waitpid(child, nullptr, 0);
  }
  result("exec_regains_no_caps", after_exec == "0000000000000000 0000000000000000\n",
         "after exec CapEff CapPrm: " + after_exec);
  result("no_new_privs", status_field("NoNewPrivs") == "1", "NoNewPrivs " + status_field("NoNewPrivs"));
  result("seccomp_filter", status_field("Seccomp") == "2", "Seccomp " + status_field("Seccomp"));

  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].effective = data[0].permitted = 1U << CAP_SYS_ADMIN;
  const long capset = ::syscall(SYS_capset, &header, data);
  result("capset_sys_admin", capset != 0, "capset(CAP_SYS_ADMIN) succeeded");
  const int mounted = ::mount("none", "/tmp", "tmpfs", 0, nullptr);
  result("mount", mounted != 0, "mount tmpfs on /tmp succeeded");
  if (mounted == 0) ::umount("/tmp");
  result("remount_root_rw", ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND, nullptr) != 0, "remounted / writable");
  const int unshared = ::unshare(CLONE_NEWUSER);
  result("unshare_user_ns", unshared != 0, "unshare(CLONE_NEWUSER) succeeded");
  const long keyctl = ::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
  result("keyctl", keyctl < 0, "keyctl succeeded");
  const long bpf = ::syscall(SYS_bpf, 0, nullptr, 0);
  result("bpf", bpf < 0 && errno == EPERM, "bpf() did not fail with EPERM: " + err(errno));
  const int chrooted = ::chroot("/tmp");
  result("chroot", chrooted != 0, "chroot succeeded");
}

// --- cgroup limits ---

int fork_bomb(long max) {
  std::vector<pid_t> children;
  int refused_errno = 0;
  for (long i = 0; i < max; ++i) {
    const pid_t p = ::fork();
    if (p == 0) {
      ::pause();
      ::_exit(0);
    }
    if (p < 0) {
      refused_errno = errno;
      break;
    }
    children.push_back(p);
  }
  for (pid_t p : children) ::kill(p, SIGKILL);
  for (pid_t p : children) ::waitpid(p, nullptr, 0);
  std::printf("INFO forked %zu children before %s\n", children.size(),
              refused_errno != 0 ? err(refused_errno).c_str() : "the bound");
  result("fork_bomb_stopped", refused_errno == EAGAIN, "forked " + std::to_string(children.size()) + " without refusal");
  return 0;
}

int oom(long mib) {
  const pid_t child = ::fork();
  if (child == 0) {
    const size_t step = size_t{1} << 20;
    std::vector<char*> blocks;
    for (long i = 0; i < mib; ++i) {
      char* b = static_cast<char*>(std::malloc(step));
      if (b == nullptr) ::_exit(3);
      std::memset(b, 1, step);
      blocks.push_back(b);
    }
    ::_exit(0);  // touched it all: no limit
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  std::printf("INFO the %ld MiB toucher %s\n", mib,
              killed ? "was SIGKILLed" : WIFEXITED(status) ? ("exited " + std::to_string(WEXITSTATUS(status))).c_str() : "ended");
  result("oom_killed_in_cgroup", killed, "the toucher was not killed");
  result("oom_parent_survives", true, "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s all|bomb|oom [--key value]...\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    g_opts[key] = argv[i + 1];
  }
  if (mode == "caps") {
    std::printf("%s %s\n", status_field("CapEff").c_str(), status_field("CapPrm").c_str());
    return 0;
  }
  if (mode == "bomb") return fork_bomb(std::atol(opt("max").empty() ? "100000" : opt("max").c_str()));
  if (mode == "oom") return oom(std::atol(opt("mib").empty() ? "1024" : opt("mib").c_str()));
  if (mode == "harmless") {
    check_harmless();
    return g_failures == 0 ? 0 : 1;
  }
  if (mode != "all") {
    std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
    return 2;
  }
  check_network();
  check_processes();
  check_files();
  check_privileges();
  check_kill_everything();
  std::printf("DONE %d failed\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
