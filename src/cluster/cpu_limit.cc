// CpuLimit over cgroup v1 files: plain open/read/write/mkdir/rmdir, no library. See
// cpu_limit.h for the contract.
#include "cluster/cpu_limit.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cluster/host.h"
#include "os/cgroup_limits.h"
#include "os/errno_text.h"

namespace coedge::cluster {
namespace {

constexpr const char* kCpuRoot = "/sys/fs/cgroup/cpu";
constexpr const char* kAcctRoot = "/sys/fs/cgroup/cpuacct";
constexpr const char* kCpuPrefix = "/sys/fs/cgroup/cpu/";
constexpr const char* kAcctPrefix = "/sys/fs/cgroup/cpuacct/";
constexpr Duration kCgroupKillBound = std::chrono::seconds(5);

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{ErrorCode::kIo, "cannot read " + path + ": " + os::errno_text(errno)};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Kills everything in `dirs`' cgroup.procs, then removes them, the last first (give
// parents before children). os/cgroup_limits.h: shared with the node's task cgroups.
Status empty_and_remove(const std::vector<std::string>& dirs) {
  return os::empty_and_remove_cgroups(dirs, std::chrono::duration_cast<std::chrono::milliseconds>(kCgroupKillBound));
}

// Depth-first removal of a cgroup tree, killing what is inside.
Status remove_tree(const std::string& dir) {
  Status first = Ok{};
  std::error_code ec;
  std::vector<std::string> children;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) children.push_back(entry.path().string());
  }
  for (const std::string& child : children) {
    Status s = remove_tree(child);
    if (!s && first) first = s;
  }
  Status r = empty_and_remove({dir});
  if (!r && first) first = r;
  return first;
}

bool separate_cpuacct() {
  return exists(std::string(kAcctRoot) + "/cpuacct.usage") && !exists(std::string(kCpuRoot) + "/cpuacct.usage");
}

// mkdir <root>/<prefix> (may exist) then <root>/<prefix>/<name> (must not).
Status make_cgroup(const std::string& root, const std::string& prefix, const std::string& name) {
  const std::string parent = root + "/" + prefix;
  const std::string dir = parent + "/" + name;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return Error{ErrorCode::kIo, "cannot create cgroup " + parent + ": " + os::errno_text(errno)};
    if (::mkdir(dir.c_str(), 0755) == 0) return Ok{};
    if (errno == EEXIST)
      return Error{ErrorCode::kInvalidInput,
                   "cgroup " + dir + " already exists: another CpuLimit named '" + name + "' with prefix '" +
                       prefix + "', or a crashed run (CpuLimit::cleanup_stale(\"" + prefix +
                       "\") removes it)"};
    if (errno != ENOENT)  // ENOENT: a CpuLimit destructor just removed the parent; retry
      return Error{ErrorCode::kIo, "cannot create cgroup " + dir + ": " + os::errno_text(errno)};
  }
  return Error{ErrorCode::kIo, "cannot create cgroup " + dir + ": its parent keeps disappearing"};
}

// Async-signal-safe write of "0" to a cgroup.procs file.
int write_zero(const char* path) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::write(fd, "0", 1) == 1 ? 0 : errno;
  ::close(fd);
  return rc;
}

}  // namespace

Result<std::unique_ptr<CpuLimit>> CpuLimit::create(const std::string& prefix, const std::string& name,
                                                   double cores, Duration period) {
  if (Status s = validate_name("CPU limit prefix", prefix); !s) return s.error();
  if (Status s = validate_name("CPU limit name", name); !s) return s.error();
  if (!std::isfinite(cores) || cores <= 0 || cores > 1024)
    return Error{ErrorCode::kInvalidInput, "CPU limit '" + name + "': cores must be in (0, 1024], got " +
                                               std::to_string(cores)};
  if (period < std::chrono::milliseconds(1) || period > std::chrono::seconds(1))
    return Error{ErrorCode::kInvalidInput, "CPU limit '" + name + "': period must be in [1ms, 1s], got " +
                                               format_duration(period)};
  if (Status s = require_root(); !s) return s.error();
  if (!exists(std::string(kCpuRoot) + "/cpu.cfs_quota_us"))
    return Error{ErrorCode::kUnsupported,
                 "CPU limits need cgroup v1's cpu controller mounted at /sys/fs/cgroup/cpu, and there is "
                 "no /sys/fs/cgroup/cpu/cpu.cfs_quota_us here (a cgroup-v2-only system is not supported)"};

  int64_t period_us = period.count();
  if (cores * static_cast<double>(period_us) < 1000.0) {
    period_us = static_cast<int64_t>(std::ceil(1000.0 / cores));
    if (period_us > 1000000)
      return Error{ErrorCode::kInvalidInput, "CPU limit '" + name + "': " + std::to_string(cores) +
                                                 " cores is below the kernel's minimum quota (1 ms per 1 s)"};
  }
  const int64_t quota_us = std::max<int64_t>(1000, std::llround(cores * static_cast<double>(period_us)));

  if (Status s = make_cgroup(kCpuRoot, prefix, name); !s) return s.error();
  std::unique_ptr<CpuLimit> limit(new CpuLimit());
  limit->prefix_ = prefix;
  limit->name_ = name;
  limit->cores_ = cores;
  limit->period_ = Duration(period_us);
  limit->cpu_dir_ = std::string(kCpuRoot) + "/" + prefix + "/" + name;
  // From here on the destructor removes what exists.
  if (Status s = os::write_cgroup_file(limit->cpu_dir_ + "/cpu.cfs_period_us", std::to_string(period_us)); !s)
    return s.error();
  if (Status s = os::write_cgroup_file(limit->cpu_dir_ + "/cpu.cfs_quota_us", std::to_string(quota_us)); !s)
    return s.error();
  if (separate_cpuacct()) {
    if (Status s = make_cgroup(kAcctRoot, prefix, name); !s) return s.error();
    limit->acct_dir_ = std::string(kAcctRoot) + "/" + prefix + "/" + name;
    limit->usage_file_ = limit->acct_dir_ + "/cpuacct.usage";
  } else if (exists(limit->cpu_dir_ + "/cpuacct.usage")) {
    limit->usage_file_ = limit->cpu_dir_ + "/cpuacct.usage";
  }
  return limit;
}

CpuLimit::~CpuLimit() {
  Status s = destroy();
  if (!s) std::fprintf(stderr, "coedge cluster: removing CPU limit '%s': %s\n", name_.c_str(), s.error().message.c_str());
}

Status CpuLimit::destroy() {
  Status first = Ok{};
  std::vector<std::string> dirs;
  if (!cpu_dir_.empty()) dirs.push_back(cpu_dir_);
  if (!acct_dir_.empty()) dirs.push_back(acct_dir_);
  if (dirs.empty()) return first;
  // What the node made below its limit (its tasks' cgroups) and left behind, e.g. when
  // its agent was killed: emptied and removed first, deepest first, or rmdir fails EBUSY.
  std::vector<std::string> below;
  for (const std::string& d : dirs) {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(d, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) below.push_back(it->path().string());
    }
  }
  std::sort(below.begin(), below.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  if (!below.empty()) {
    // empty_and_remove removes the last first: shallowest first in, deepest removed first.
    if (Status s = empty_and_remove({below.rbegin(), below.rend()}); !s) first = s;
  }
  if (Status s = empty_and_remove(dirs); !s && first) first = s;
  // The <prefix> directories, unless other CpuLimits still use them.
  for (const char* root : {kCpuRoot, kAcctRoot}) {
    std::string parent = std::string(root) + "/" + prefix_;
    if (::rmdir(parent.c_str()) != 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY && first)
      first = Error{ErrorCode::kIo, "cannot remove cgroup " + parent + ": " + os::errno_text(errno)};
  }
  cpu_dir_.clear();
  acct_dir_.clear();
  return first;
}

std::string CpuLimit::procs_path() const { return cpu_dir_ + "/cgroup.procs"; }

int CpuLimit::join(const char* procs_path) {
  int rc = write_zero(procs_path);
  if (rc != 0) return rc;
  // The matching cpuacct cgroup: same path under /sys/fs/cgroup/cpuacct/.
  const size_t cpu_len = std::strlen(kCpuPrefix);
  if (std::strncmp(procs_path, kCpuPrefix, cpu_len) != 0) return 0;
  char acct[4096];
  const size_t acct_len = std::strlen(kAcctPrefix);
  const size_t rest_len = std::strlen(procs_path + cpu_len);
  if (acct_len + rest_len + 1 > sizeof acct) return 0;
  std::memcpy(acct, kAcctPrefix, acct_len);
  std::memcpy(acct + acct_len, procs_path + cpu_len, rest_len + 1);
  int acct_rc = write_zero(acct);
  return acct_rc == ENOENT ? 0 : acct_rc;
}

// cgroup v1 refuses a parent a CPU quota below one of its children's (EINVAL): the
// node's own task cgroups (os/cgroup_limits.h, `worker_limits`) sit below a node's limit.
// Lowers every descendant's quota that is above `cores` (deepest first) to `cores`, which
// changes nothing they can use: the node's quota caps them anyway.
static Status clamp_descendants(const std::string& dir, double cores) {
  std::error_code ec;
  std::vector<std::string> children;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec)) children.push_back(it->path().string());
  }
  for (const std::string& child : children) {
    if (Status s = clamp_descendants(child, cores); !s) return s;
    std::ifstream period_in(child + "/cpu.cfs_period_us"), quota_in(child + "/cpu.cfs_quota_us");
    long long period = 0, quota = -1;
    if (!(period_in >> period) || !(quota_in >> quota) || period <= 0) continue;
    const long long most = std::max<long long>(1000, std::llround(cores * static_cast<double>(period)));
    if (quota > most) {  // -1 (none) is fine: it inherits the parent's
      if (Status s = os::write_cgroup_file(child + "/cpu.cfs_quota_us", std::to_string(most)); !s) return s;
    }
  }
  return Ok{};
}

Status CpuLimit::set_cores(double cores) {
  const auto period_us = static_cast<double>(period_.count());
  const int64_t quota_us = cores <= 0 ? -1 : std::max<int64_t>(1000, std::llround(cores * period_us));
  if (cores > 0) {
    if (Status s = clamp_descendants(cpu_dir_, cores); !s) return s.error();
  }
  if (Status s = os::write_cgroup_file(cpu_dir_ + "/cpu.cfs_quota_us", std::to_string(quota_us)); !s) return s.error();
  if (cores > 0) cores_ = cores;
  return Ok{};
}

Status CpuLimit::add(pid_t pid) {
  if (Status s = os::write_cgroup_file(procs_path(), std::to_string(pid)); !s) return s;
  if (!acct_dir_.empty()) return os::write_cgroup_file(acct_dir_ + "/cgroup.procs", std::to_string(pid));
  return Ok{};
}

std::vector<pid_t> CpuLimit::pids() const { return os::read_cgroup_procs(procs_path()); }

Result<Duration> CpuLimit::cpu_used() const {
  if (usage_file_.empty())
    return Error{ErrorCode::kUnsupported, "CPU limit '" + name_ + "': cpuacct is not mounted, so its CPU time is unknown"};
  Result<std::string> text = read_file(usage_file_);
  if (!text) return text.error();
  char* end = nullptr;
  unsigned long long ns = std::strtoull(text->c_str(), &end, 10);
  if (end == text->c_str()) return Error{ErrorCode::kIo, "unexpected content in " + usage_file_ + ": " + *text};
  return Duration(static_cast<int64_t>(ns / 1000));
}

Status CpuLimit::cleanup_stale(const std::string& prefix) {
  if (Status s = validate_name("CPU limit prefix", prefix); !s) return s;
  Status first = Ok{};
  for (const char* root : {kCpuRoot, kAcctRoot}) {
    std::string dir = std::string(root) + "/" + prefix;
    if (!exists(dir)) continue;
    if (Status s = require_root(); !s) return s;
    Status r = remove_tree(dir);
    if (!r && first) first = r;
  }
  return first;
}

}  // namespace coedge::cluster
