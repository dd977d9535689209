// Builds bwrap command lines (see sandbox.h). The order of the mounts matters: bwrap
// applies them in argument order and a later mount hides what an earlier one put below
// its target, so the root comes first, then /dev, /proc, /dev/shm, /tmp, the task
// directory and last the read-only binds (which may lie below any of them).
#include "os/sandbox.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "os/spawn.h"

namespace coedge::os {
namespace {

namespace fs = std::filesystem;

Error invalid(std::string message) { return Error{ErrorCode::kInvalidInput, std::move(message)}; }
Error not_found(std::string message) { return Error{ErrorCode::kNotFound, std::move(message)}; }

// Checks that `path` is absolute and exists; `what` names it in the message.
Status check_path(const std::string& what, const std::string& path, bool must_be_dir) {
  if (path.empty()) return invalid("sandbox: " + what + " is not set");
  if (path.front() != '/') {
    return invalid("sandbox: " + what + " '" + path + "' is a relative path; it must be absolute");
  }
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return not_found("sandbox: " + what + " '" + path + "' does not exist");
  }
  if (must_be_dir && !fs::is_directory(st)) {
    return invalid("sandbox: " + what + " '" + path + "' is not a directory");
  }
  return Ok{};
}

// Whether `path` is `dir` or lies below it (both absolute, no trailing slash but "/").
bool is_within(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string normalized(const std::string& path) {
  std::string p = fs::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

void add(std::vector<std::string>& argv, std::initializer_list<std::string> args) {
  argv.insert(argv.end(), args);
}

// The root made of the rootfs' top-level entries on a tmpfs, so that bwrap can create
// mount points on it (it cannot on a read-only bind of the whole rootfs).
Status add_rootfs(std::vector<std::string>& argv, const std::string& rootfs) {
  add(argv, {"--tmpfs", "/"});
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(rootfs, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(*it);
  }
  if (ec) {
    return Error{ErrorCode::kIo, "sandbox: cannot list rootfs '" + rootfs + "': " + ec.message()};
  }
  std::sort(entries.begin(), entries.end());  // a stable command line, for logs and tests
  for (const fs::directory_entry& entry : entries) {
    const std::string name = entry.path().filename().string();
    const std::string dest = "/" + name;
    if (entry.is_symlink(ec)) {
      const fs::path target = fs::read_symlink(entry.path(), ec);
      if (ec) {
        return Error{ErrorCode::kIo, "sandbox: cannot read symlink '" + entry.path().string() +
                                         "': " + ec.message()};
      }
      add(argv, {"--symlink", target.string(), dest});
    } else {
      add(argv, {"--ro-bind", entry.path().string(), dest});
    }
  }
  return Ok{};
}

}  // namespace

Result<std::string> find_bwrap(const std::string& search_path) {
  for (const std::string& dir : split_search_path(search_path)) {
    if (!dir.empty() && is_executable_file(dir + "/bwrap")) return dir + "/bwrap";
  }
  return not_found("sandbox: bwrap not found in PATH '" + search_path +
                   "'; install bubblewrap (Debian package bubblewrap) or use isolation: process");
}

Result<std::string> find_bwrap() {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read-only use
  return find_bwrap(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
}

Result<LaunchCommand> sandbox_command(const SandboxSpec& spec,
                                      const std::vector<std::string>& command) {
  COEDGE_CHECK(!command.empty() && !command.front().empty());

  if (auto s = check_path("task_dir", spec.task_dir, true); !s) return s.error();
  const std::string task_dir = normalized(spec.task_dir);
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return invalid("sandbox: invalid environment variable name '" + name + "'");
    }
  }

  if (spec.mode == LaunchMode::kProcess) {
    return LaunchCommand{command, spec.env, task_dir};
  }

  if (auto s = check_path("ipc_dir", spec.ipc_dir, true); !s) return s.error();
  if (auto s = check_path("shm_dir", spec.shm_dir, true); !s) return s.error();
  if (!spec.rootfs.empty()) {
    if (auto s = check_path("rootfs", spec.rootfs, true); !s) return s.error();
  }
  for (const std::string& bind : spec.read_only_binds) {
    if (auto s = check_path("read-only bind", bind, false); !s) return s.error();
  }

  std::string bwrap = spec.bwrap;
  if (bwrap.empty()) {
    Result<std::string> found = find_bwrap();
    if (!found) return found.error();
    bwrap = std::move(found.value());
  } else if (::access(bwrap.c_str(), X_OK) != 0) {
    return not_found("sandbox: bwrap '" + bwrap +
                     "' is not an executable; install bubblewrap (Debian package bubblewrap)");
  }

  std::vector<std::string> argv = {bwrap};
  // No --unshare-ipc: the node's shared memory is a file in /dev/shm, and keeping the
  // host's System V IPC namespace costs nothing. --cap-drop ALL matters when the agent runs as
  // root: bwrap then keeps every capability unless told otherwise, and CAP_SYS_ADMIN
  // could remount the read-only root writable. No --new-session: the supervisor stops a
  // worker by signalling its process group, which the worker must stay in to get
  // SIGTERM and finish cleanly (flush its results); its stdin is /dev/null and its
  // output goes to a log, so it holds no terminal to inject input into.
  add(argv, {"--die-with-parent", "--unshare-pid", "--unshare-net",
             "--unshare-uts", "--cap-drop", "ALL"});
  if (spec.rootfs.empty()) {
    add(argv, {"--ro-bind", "/", "/"});
  } else if (auto s = add_rootfs(argv, normalized(spec.rootfs)); !s) {
    return s.error();
  }
  add(argv, {"--dev", "/dev", "--proc", "/proc"});
  add(argv, {"--bind", normalized(spec.shm_dir), "/dev/shm"});
  add(argv, {"--bind", normalized(spec.ipc_dir), "/tmp"});
  add(argv, {"--bind", task_dir, task_dir});

  std::vector<std::string> ro_binds;
  for (const std::string& bind : spec.read_only_binds) ro_binds.push_back(normalized(bind));
  if (!spec.rootfs.empty() && command.front().front() == '/') {
    // The executable is bound from the host unless the rootfs or a bind already shows it.
    const std::string exe = normalized(command.front());
    std::error_code ec;
    const bool in_rootfs = fs::exists(fs::symlink_status(normalized(spec.rootfs) + exe, ec));
    const bool in_binds = std::any_of(ro_binds.begin(), ro_binds.end(),
                                      [&](const std::string& b) { return is_within(exe, b); });
    if (!in_rootfs && !in_binds) {
      if (auto s = check_path("executable", exe, false); !s) return s.error();
      ro_binds.push_back(exe);
    }
  }
  for (const std::string& bind : ro_binds) add(argv, {"--ro-bind", bind, bind});
  if (!spec.rootfs.empty()) {
    // The tmpfs root holding the mount points is writable until now.
    add(argv, {"--remount-ro", "/"});
  }

  add(argv, {"--chdir", task_dir});
  for (const auto& [name, value] : spec.env) add(argv, {"--setenv", name, value});
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return LaunchCommand{std::move(argv), {}, {}};
}

}  // namespace coedge::os
