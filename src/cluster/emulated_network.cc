// EmulatedNetwork: builds namespaces, veths, a bridge and the htb/tbf shaping with a handful
// of `ip -batch -` / `tc -batch -` runs (one per namespace), and tears them down with plain
// syscalls (umount2 + unlink of /run/netns/<name>, exactly what `ip netns del` does). See
// emulated_network.h for the names, addresses and tbf parameters.
#include "cluster/emulated_network.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <tuple>
#include <utility>

#include "cluster/cpu_limit.h"
#include "cluster/host.h"
#include "os/command.h"
#include "os/errno_text.h"

namespace coedge::cluster {
namespace {

constexpr const char* kNetnsDir = "/run/netns";
constexpr const char* kSubnet = "10.77.0.";
constexpr size_t kMaxNodes = 253;  // 10.77.0.1 .. 10.77.0.253; .254 is the master
constexpr double kMinMbps = 0.01;
constexpr double kMaxMbps = 100000;
constexpr const char* kUnshapedRate = "rate 100gbit ceil 100gbit quantum 60000";
constexpr Duration kKillBound = std::chrono::seconds(5);

std::string hex(size_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", v);
  return buf;
}

std::string format_mbps(double mbps) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", mbps);
  return buf;
}

Status check_mbps(const std::string& what, double mbps) {
  if (std::isfinite(mbps) && (mbps == 0 || (mbps >= kMinMbps && mbps <= kMaxMbps))) return Ok{};
  return Error{ErrorCode::kInvalidInput, what + ": " + format_mbps(mbps) + " Mbit/s is not a rate; use 0 (unshaped) or " +
                                             format_mbps(kMinMbps) + ".." + format_mbps(kMaxMbps)};
}

// "tbf rate <R>bit burst <B> limit <L>", see the header for the choice of B and L.
std::string tbf_args(double mbps) {
  const double bytes_per_s = mbps * 1e6 / 8.0;
  const auto burst = static_cast<uint64_t>(std::max(bytes_per_s * 0.005, 16384.0));
  const auto limit = burst + static_cast<uint64_t>(std::max(bytes_per_s * 0.100, 65536.0));
  const auto rate = static_cast<uint64_t>(std::llround(mbps * 1e6));
  return "tbf rate " + std::to_string(rate) + "bit burst " + std::to_string(burst) + " limit " +
         std::to_string(limit);
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  return text;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs `<base...> -batch -` on the lines. On failure the error names the failing line as a
// full command line (ip/tc report "Command failed -:<n>") and its stderr.
Status run_batch(const std::vector<std::string>& base, const std::vector<std::string>& lines) {
  if (lines.empty()) return Ok{};
  std::vector<std::string> argv = base;
  argv.push_back("-batch");
  argv.push_back("-");
  os::CommandOptions options;
  options.input = join_lines(lines);
  Result<os::CommandResult> r = os::run_command(argv, options);
  if (!r) return r.error();
  if (r->succeeded()) return Ok{};
  std::string err = r->err;
  size_t failed_line = 0;
  const std::string marker = "Command failed -:";
  if (size_t pos = err.find(marker); pos != std::string::npos) {
    failed_line = static_cast<size_t>(std::strtoul(err.c_str() + pos + marker.size(), nullptr, 10));
    err.erase(pos, err.find('\n', pos) == std::string::npos ? std::string::npos : err.find('\n', pos) - pos + 1);
  }
  err = trim(err);
  if (failed_line >= 1 && failed_line <= lines.size()) {
    return Error{ErrorCode::kIo, "`" + os::command_line(base) + " " + lines[failed_line - 1] + "` failed: " +
                                     (err.empty() ? std::string("(no stderr)") : err)};
  }
  return Error{ErrorCode::kIo, "`" + os::command_line(argv) + "` exited with status " + std::to_string(r->exit_code) +
                                   ": " + (err.empty() ? std::string("(no stderr)") : err) + "; its input was:\n" +
                                   options.input};
}

struct NsId {
  dev_t dev;
  ino_t ino;
  bool operator<(const NsId& o) const { return std::tie(dev, ino) < std::tie(o.dev, o.ino); }
};

// Processes whose network namespace is one of `ids` (a /proc scan, as `ip netns pids` does).
std::vector<pid_t> pids_in(const std::set<NsId>& ids) {
  std::vector<pid_t> pids;
  if (ids.empty()) return pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0') continue;
    std::string path = std::string("/proc/") + e->d_name + "/ns/net";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;  // gone, or a zombie (no namespaces left)
    if (ids.count(NsId{st.st_dev, st.st_ino}) != 0) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return pids;
}

// Kills what is inside the named namespaces, then deletes the names. Missing names are fine.
Status delete_namespaces(const std::vector<std::string>& names) {
  Status first = Ok{};
  std::set<NsId> ids;
  std::vector<std::string> present;
  for (const std::string& name : names) {
    std::string path = std::string(kNetnsDir) + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    present.push_back(path);
    ids.insert(NsId{st.st_dev, st.st_ino});
  }
  if (present.empty()) return first;
  std::string what = "network namespaces";
  for (const std::string& p : present) what += " " + p;
  if (Status s = kill_until_gone([&] { return pids_in(ids); }, kKillBound, what); !s) first = s;
  for (const std::string& path : present) {
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT && first)
      first = Error{ErrorCode::kIo, "cannot unmount network namespace " + path + ": " + os::errno_text(errno)};
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && first)
      first = Error{ErrorCode::kIo, "cannot delete network namespace " + path + ": " + os::errno_text(errno)};
  }
  return first;
}

bool is_stale_name(const std::string& prefix, const std::string& name) {
  if (name.size() <= prefix.size() + 1 || name.compare(0, prefix.size(), prefix) != 0 || name[prefix.size()] != '-')
    return false;
  std::string rest = name.substr(prefix.size() + 1);
  if (rest == "hub" || rest == "master") return true;
  return std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status validate(const NetworkPlan& plan) {
  if (Status s = validate_name("network prefix", plan.prefix); !s) return s;
  if (plan.nodes.empty()) return Error{ErrorCode::kInvalidInput, "the emulated network has no nodes"};
  if (plan.nodes.size() > kMaxNodes)
    return Error{ErrorCode::kInvalidInput, "the emulated network has " + std::to_string(plan.nodes.size()) +
                                               " nodes; at most " + std::to_string(kMaxNodes) + " fit in 10.77.0.0/24"};
  std::set<std::string> names;
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    if (Status s = validate_name("node " + std::to_string(i) + "'s name", plan.nodes[i].name); !s) return s;
    if (!names.insert(plan.nodes[i].name).second)
      return Error{ErrorCode::kInvalidInput, "node name '" + plan.nodes[i].name + "' is used twice"};
  }
  std::set<std::pair<size_t, size_t>> pairs;
  for (const EmulatedLink& l : plan.links) {
    std::string what = "link " + std::to_string(l.a) + "-" + std::to_string(l.b);
    if (l.a >= plan.nodes.size() || l.b >= plan.nodes.size())
      return Error{ErrorCode::kInvalidInput, what + ": there are only " + std::to_string(plan.nodes.size()) + " nodes"};
    if (l.a == l.b) return Error{ErrorCode::kInvalidInput, what + " connects a node to itself"};
    if (Status s = check_mbps(what, l.mbps); !s) return s;
    if (!pairs.insert({std::min(l.a, l.b), std::max(l.a, l.b)}).second)
      return Error{ErrorCode::kInvalidInput, what + " is given twice"};
  }
  return check_mbps("default link rate", plan.default_mbps);
}

}  // namespace

EmulatedNetwork::EmulatedNetwork(NetworkPlan plan) : plan_(std::move(plan)) {
  const size_t n = plan_.nodes.size();
  mbps_.assign(n, std::vector<double>(n, plan_.default_mbps));
  has_class_.assign(n, std::vector<bool>(n, false));
  for (size_t i = 0; i < n; ++i) mbps_[i][i] = 0;
  for (const EmulatedLink& l : plan_.links) mbps_[l.a][l.b] = mbps_[l.b][l.a] = l.mbps;
}

Result<std::unique_ptr<EmulatedNetwork>> EmulatedNetwork::create(NetworkPlan plan) {
  if (Status s = validate(plan); !s) return s.error();
  if (Status s = require_root(); !s) return s.error();
  if (Status s = cleanup_stale(plan.prefix); !s)
    return Error{s.error().code, "cleaning up after an earlier run with prefix '" + plan.prefix +
                                     "': " + s.error().message};
  std::unique_ptr<EmulatedNetwork> net(new EmulatedNetwork(std::move(plan)));
  if (Status s = net->build(); !s) {
    std::string message = "creating the emulated network: " + s.error().message;
    if (Status t = net->teardown(); !t) message += "; removing it again also failed: " + t.error().message;
    return Error{s.error().code, message};
  }
  return net;
}

Status EmulatedNetwork::build() {
  const size_t n = plan_.nodes.size();
  const std::string hub = hub_netns_name();
  std::vector<std::string> lines;
  for (const std::string& name : all_netns_names()) lines.push_back("netns add " + name);
  if (Status s = run_batch({"ip"}, lines); !s) return s;

  lines = {"link add name br0 type bridge mcast_snooping 0", "link set dev br0 up"};
  auto attach = [&](const std::string& hub_end, const std::string& ns) {
    // "name"/"dev" keywords everywhere: ip takes a bare word that prefixes one of its keywords
    // as that keyword ("m" would be read as "mtu").
    lines.push_back("link add name " + hub_end + " type veth peer name eth0 netns " + ns);
    lines.push_back("link set dev " + hub_end + " master br0");
    lines.push_back("link set dev " + hub_end + " up");
  };
  for (size_t i = 0; i < n; ++i) attach("n" + std::to_string(i), netns_name(i));
  if (plan_.with_master) attach("nm", master_netns_name());
  if (Status s = run_batch({"ip", "-n", hub}, lines); !s) return s;

  auto endpoint = [&](const std::string& ns, const std::string& addr) {
    return run_batch({"ip", "-n", ns}, {"link set dev lo up", "addr add " + addr + "/24 dev eth0",
                                        "link set dev eth0 multicast on up", "route add 224.0.0.0/4 dev eth0"});
  };
  for (size_t i = 0; i < n; ++i)
    if (Status s = endpoint(netns_name(i), address(i)); !s) return s;
  if (plan_.with_master)
    if (Status s = endpoint(master_netns_name(), master_address()); !s) return s;

  for (size_t i = 0; i < n; ++i) {
    lines = {"qdisc add dev eth0 root handle 1: htb default 1",
             std::string("class add dev eth0 parent 1: classid 1:1 htb ") + kUnshapedRate};
    for (size_t j = 0; j < n; ++j)
      if (j != i && mbps_[i][j] > 0) append_direction(i, j, mbps_[i][j], lines);
    if (Status s = run_batch({"tc", "-n", netns_name(i)}, lines); !s) return s;
    for (size_t j = 0; j < n; ++j)
      if (j != i && mbps_[i][j] > 0) has_class_[i][j] = true;
  }
  return Ok{};
}

void EmulatedNetwork::append_direction(size_t from, size_t to, double mbps, std::vector<std::string>& lines) const {
  const std::string cls = "1:" + hex(to + 2);
  const std::string filter = "filter replace dev eth0 parent 1: protocol ip prio 1 handle 800::" + hex(to + 1) +
                             " u32 match ip dst " + address(to) + "/32 flowid ";
  if (mbps > 0) {
    const std::string qdisc = " dev eth0 parent " + cls + " handle " + hex(to + 2) + ": " + tbf_args(mbps);
    if (!has_class_[from][to]) {
      lines.push_back("class add dev eth0 parent 1: classid " + cls + " htb " + kUnshapedRate);
      lines.push_back("qdisc add" + qdisc);
    } else {
      lines.push_back("qdisc change" + qdisc);
    }
    lines.push_back(filter + cls);
  } else if (has_class_[from][to]) {
    lines.push_back(filter + "1:1");  // back to the unshaped default class; the tbf stays, idle
  }
}

Status EmulatedNetwork::set_link_mbps(size_t a, size_t b, double mbps) {
  const size_t n = plan_.nodes.size();
  std::string what = "link " + std::to_string(a) + "-" + std::to_string(b);
  if (a >= n || b >= n)
    return Error{ErrorCode::kInvalidInput, what + ": there are only " + std::to_string(n) + " nodes"};
  if (a == b) return Error{ErrorCode::kInvalidInput, what + " connects a node to itself"};
  if (Status s = check_mbps(what, mbps); !s) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (torn_down_) return Error{ErrorCode::kInvalidInput, what + ": the emulated network was torn down"};
  for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
    std::vector<std::string> lines;
    append_direction(from, to, mbps, lines);
    if (Status s = run_batch({"tc", "-n", netns_name(from)}, lines); !s) return s;
    if (mbps > 0) has_class_[from][to] = true;
    mbps_[from][to] = mbps;
  }
  return Ok{};
}

double EmulatedNetwork::link_mbps(size_t a, size_t b) const {
  std::lock_guard<std::mutex> lock(mu_);
  COEDGE_CHECK(a < mbps_.size() && b < mbps_.size());
  return mbps_[a][b];
}

EmulatedNetwork::~EmulatedNetwork() {
  Status s = teardown();
  if (!s) std::fprintf(stderr, "coedge cluster: tearing down the emulated network: %s\n", s.error().message.c_str());
}

Status EmulatedNetwork::teardown() {
  std::lock_guard<std::mutex> lock(mu_);
  if (torn_down_) return Ok{};
  torn_down_ = true;
  return delete_namespaces(all_netns_names());
}

std::vector<std::string> EmulatedNetwork::all_netns_names() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < plan_.nodes.size(); ++i) names.push_back(netns_name(i));
  if (plan_.with_master) names.push_back(master_netns_name());
  names.push_back(hub_netns_name());
  return names;
}

std::string EmulatedNetwork::address(size_t node) const {
  COEDGE_CHECK(node < plan_.nodes.size());
  return kSubnet + std::to_string(node + 1);
}
std::string EmulatedNetwork::master_address() const { return std::string(kSubnet) + "254"; }
std::string EmulatedNetwork::netns_name(size_t node) const {
  COEDGE_CHECK(node < plan_.nodes.size());
  return plan_.prefix + "-" + std::to_string(node);
}
std::string EmulatedNetwork::master_netns_name() const { return plan_.prefix + "-master"; }
std::string EmulatedNetwork::hub_netns_name() const { return plan_.prefix + "-hub"; }
std::string EmulatedNetwork::netns_path(size_t node) const { return std::string(kNetnsDir) + "/" + netns_name(node); }
std::string EmulatedNetwork::master_netns_path() const { return std::string(kNetnsDir) + "/" + master_netns_name(); }

int EmulatedNetwork::enter_netns(const char* netns_path) {
  int fd = ::open(netns_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::setns(fd, CLONE_NEWNET) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

Status EmulatedNetwork::cleanup_stale(const std::string& prefix) {
  if (Status s = validate_name("network prefix", prefix); !s) return s;
  std::vector<std::string> stale;
  if (DIR* dir = ::opendir(kNetnsDir)) {
    while (dirent* e = ::readdir(dir))
      if (is_stale_name(prefix, e->d_name)) stale.emplace_back(e->d_name);
    ::closedir(dir);
  }
  Status first = Ok{};
  if (!stale.empty()) {
    if (Status s = require_root(); !s) return s;
    first = delete_namespaces(stale);
  }
  Status c = CpuLimit::cleanup_stale(prefix);
  if (!c && first) first = c;
  return first;
}

}  // namespace coedge::cluster
