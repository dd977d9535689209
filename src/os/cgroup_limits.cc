// Task cgroups over cgroup v1 files: plain open/read/write/mkdir/rmdir, no library. See
// cgroup_limits.h for the contract.
#include "os/cgroup_limits.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "os/errno_text.h"

namespace coedge::os {
namespace {

constexpr auto kKillBound = std::chrono::milliseconds(5000);

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

// root + "/" + controller + own + "/" + name, without doubled slashes.
std::string cgroup_dir(const std::string& root, const std::string& controller, const std::string& own,
                       const std::string& name) {
  std::string dir = root + "/" + controller;
  if (own != "/") dir += own;
  return dir + "/" + name;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_proc_cgroup(std::string_view text) {
  std::map<std::string, std::string> own;
  size_t line_no = 0;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (line.empty()) continue;
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos || second + 1 >= line.size() || line[second + 1] != '/') {
      return invalid_input("/proc/self/cgroup line " + std::to_string(line_no) + " '" + std::string(line) +
                           "' is not 'ID:CONTROLLERS:/PATH'");
    }
    const std::string path(line.substr(second + 1));
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    while (!controllers.empty()) {  // "cpu,cpuacct"; empty for v2's "0::/"
      const size_t comma = controllers.find(',');
      const std::string_view c = controllers.substr(0, comma);
      if (!c.empty() && c.substr(0, 5) != "name=") own[std::string(c)] = path;
      if (comma == std::string_view::npos) break;
      controllers.remove_prefix(comma + 1);
    }
  }
  return own;
}

Result<CgroupPlan> plan_task_cgroup(const std::string& name, const CgroupLimits& limits,
                                    const std::map<std::string, std::string>& own, const std::string& root) {
  if (!valid_name(name)) {
    return invalid_input("cgroup name '" + name + "' must be 1 to 64 of A-Z a-z 0-9 _ . - (not '.' or '..')");
  }
  if (!std::isfinite(limits.cpus) || limits.cpus < 0 || limits.cpus > 1024) {
    return invalid_input("cgroup '" + name + "': cpus must be in [0, 1024] (0: unlimited), got " +
                         std::to_string(limits.cpus));
  }
  if (limits.memory_bytes != 0 && limits.memory_bytes < (uint64_t{1} << 20)) {
    return invalid_input("cgroup '" + name + "': memory must be at least 1 MiB (0: unlimited), got " +
                         std::to_string(limits.memory_bytes) + " bytes");
  }
  CgroupPlan plan;
  auto dir_for = [&](const std::string& controller, const char* limit) -> Result<std::string> {
    auto it = own.find(controller);
    if (it == own.end()) {
      return Error{ErrorCode::kUnsupported, "cgroup v1 controller '" + controller + "' is not mounted (not in "
                                            "/proc/self/cgroup); it is needed for the " + limit + " limit"};
    }
    std::string dir = cgroup_dir(root, controller, it->second, name);
    plan.dirs.push_back(dir);
    plan.procs_files.push_back(dir + "/cgroup.procs");
    return dir;
  };
  if (limits.cpus > 0) {
    Result<std::string> dir = dir_for("cpu", "cpus");
    if (!dir) return dir.error();
    const auto quota = std::max<long long>(1000, std::llround(limits.cpus * kCfsPeriodUs));
    plan.writes.push_back({*dir + "/cpu.cfs_period_us", std::to_string(kCfsPeriodUs)});
    plan.writes.push_back({*dir + "/cpu.cfs_quota_us", std::to_string(quota)});
  }
  if (limits.memory_bytes > 0) {
    Result<std::string> dir = dir_for("memory", "memory");
    if (!dir) return dir.error();
    const std::string bytes = std::to_string(limits.memory_bytes);
    // limit_in_bytes first: memsw may never be below it.
    plan.writes.push_back({*dir + "/memory.limit_in_bytes", bytes});
    plan.writes.push_back({*dir + "/memory.memsw.limit_in_bytes", bytes, true});
    plan.writes.push_back({*dir + "/memory.swappiness", "0", true});
  }
  if (limits.pids > 0) {
    Result<std::string> dir = dir_for("pids", "pids");
    if (!dir) return dir.error();
    plan.writes.push_back({*dir + "/pids.max", std::to_string(limits.pids)});
  }
  return plan;
}

Status write_cgroup_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error{ErrorCode::kIo, "cannot open " + path + ": " + errno_text(errno)};
  const ssize_t w = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (w != static_cast<ssize_t>(text.size())) {
    return Error{ErrorCode::kIo,
                 "writing '" + text + "' to " + path + ": " + (w < 0 ? errno_text(err) : "short write")};
  }
  return Ok{};
}

std::vector<pid_t> read_cgroup_procs(const std::string& procs_file) {
  std::vector<pid_t> pids;
  std::ifstream in(procs_file);
  long pid = 0;
  while (in >> pid) pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

Status empty_and_remove_cgroups(const std::vector<std::string>& dirs, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  const pid_t self = ::getpid();
  auto delay = std::chrono::microseconds(200);
  for (;;) {
    std::vector<pid_t> left;
    for (const std::string& d : dirs) {
      for (pid_t p : read_cgroup_procs(d + "/cgroup.procs")) {
        if (p > 0 && p != self) left.push_back(p);
      }
    }
    if (left.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string pids;
      for (pid_t p : left) pids += (pids.empty() ? "" : " ") + std::to_string(p);
      std::string what;
      for (const std::string& d : dirs) what += " " + d;
      return Error{ErrorCode::kIo, "processes still inside cgroup" + what + " after SIGKILL: " + pids};
    }
    for (pid_t p : left) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(delay);
    delay = std::min<std::chrono::microseconds>(delay * 2, std::chrono::milliseconds(20));
  }
  Status first = Ok{};
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    // A killed process may take a moment to leave (EBUSY).
    for (int attempt = 0;; ++attempt) {
      if (::rmdir(it->c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) {
        if (first) first = Error{ErrorCode::kIo, "cannot remove cgroup " + *it + ": " + errno_text(errno)};
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return first;
}

int join_cgroups_in_child(const int* fds, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    ssize_t w;
    do {
      w = ::write(fds[i], "0", 1);
    } while (w < 0 && errno == EINTR);
    if (w != 1) return w < 0 ? errno : EIO;
  }
  return 0;
}

Result<TaskCgroup> TaskCgroup::create(const std::string& name, const CgroupLimits& limits) {
  std::ifstream in("/proc/self/cgroup");
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Error{ErrorCode::kIo, "cannot read /proc/self/cgroup: " + errno_text(errno)};
  Result<std::map<std::string, std::string>> own = parse_proc_cgroup(text.str());
  if (!own) return own.error();
  Result<CgroupPlan> plan = plan_task_cgroup(name, limits, *own);
  if (!plan) return plan.error();
  return apply(std::move(*plan));
}

Result<TaskCgroup> TaskCgroup::apply(CgroupPlan plan) {
  TaskCgroup cgroup;  // its destructor removes what was made if we return an error
  cgroup.plan_ = std::move(plan);
  for (const std::string& dir : cgroup.plan_.dirs) {
    const std::string parent = std::filesystem::path(dir).parent_path().string();
    if (!exists(parent)) {
      return Error{ErrorCode::kUnsupported, "cannot create cgroup " + dir + ": " + parent +
                                                " does not exist (cgroup v1 controllers cpu, memory and pids "
                                                "mounted at /sys/fs/cgroup are needed for worker limits)"};
    }
    if (::mkdir(dir.c_str(), 0755) != 0) {
      const int err = errno;
      if (err == EEXIST) {
        return Error{ErrorCode::kInvalidInput,
                     "cgroup " + dir + " already exists: another node's, or left by a crashed run (rmdir it "
                     "once no process is inside)"};
      }
      return Error{ErrorCode::kIo, "cannot create cgroup " + dir + ": " + errno_text(err)};
    }
    ++cgroup.made_;
  }
  for (const CgroupWrite& w : cgroup.plan_.writes) {
    if (w.optional && !exists(w.file)) continue;
    Status s = write_cgroup_file(w.file, w.value);
    if (!s && !w.optional) return s.error();
  }
  return cgroup;
}

TaskCgroup::TaskCgroup(TaskCgroup&& other) noexcept
    : plan_(std::move(other.plan_)), made_(std::exchange(other.made_, 0)) {
  other.plan_ = {};
}

TaskCgroup& TaskCgroup::operator=(TaskCgroup&& other) noexcept {
  if (this != &other) {
    (void)remove();
    plan_ = std::move(other.plan_);
    made_ = std::exchange(other.made_, 0);
    other.plan_ = {};
  }
  return *this;
}

TaskCgroup::~TaskCgroup() { (void)remove(); }

std::vector<pid_t> TaskCgroup::pids() const {
  std::vector<pid_t> all;
  for (size_t i = 0; i < made_; ++i) {
    for (pid_t p : read_cgroup_procs(plan_.dirs[i] + "/cgroup.procs")) {
      if (std::find(all.begin(), all.end(), p) == all.end()) all.push_back(p);
    }
  }
  return all;
}

Status TaskCgroup::remove() {
  if (made_ == 0) return Ok{};
  const std::vector<std::string> dirs(plan_.dirs.begin(), plan_.dirs.begin() + static_cast<long>(made_));
  Status s = empty_and_remove_cgroups(dirs, kKillBound);
  if (s) made_ = 0;
  return s;
}

}  // namespace coedge::os
