// Builds bwrap command lines (see sandbox.h). The order of the mounts matters: bwrap
// applies them in argument order and a later mount hides what an earlier one put below
// its target, so the root comes first, then the private paths (hiding what lies below
// them), /dev, /proc, /dev/shm, /tmp, the task directory and the read-only binds (which
// may lie below any of them, and so show through a hidden directory), and last the
// remounts read-only (of the rootfs' tmpfs root and of the hiding tmpfs: the mount
// points of the binds below them had to be created first).
#include "os/sandbox.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "os/seccomp_filter.h"
#include "os/spawn.h"

namespace coedge::os {
namespace {

namespace fs = std::filesystem;

// Checks that `path` is absolute and exists; `what` names it in the message.
// A directory bound read-write must not be a symbolic link: bwrap follows it, and a
// worker that could plant one (in a folder it writes) before its restart would get the
// link's target bound writable.
Status check_not_a_link(const std::string& what, const std::string& path) {
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(path, ec))) {
    return invalid_input("sandbox: " + what + " '" + path + "' is a symbolic link; a writable bind must be a real directory");
  }
  return Ok{};
}

Status check_path(const std::string& what, const std::string& path, bool must_be_dir) {
  if (path.empty()) return invalid_input("sandbox: " + what + " is not set");
  if (path.front() != '/') {
    return invalid_input("sandbox: " + what + " '" + path + "' is a relative path; it must be absolute");
  }
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return not_found("sandbox: " + what + " '" + path + "' does not exist");
  }
  if (must_be_dir && !fs::is_directory(st)) {
    return invalid_input("sandbox: " + what + " '" + path + "' is not a directory");
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

namespace {

// The process's one seccomp program file (SandboxSpec::seccomp_fd == -1), made on first
// use; a failure is not cached, so a later call tries again.
Result<int> shared_seccomp_fd() {
  static std::mutex mutex;
  static Fd file;
  std::lock_guard<std::mutex> lock(mutex);
  if (!file.valid()) {
    Result<Fd> made = seccomp_program_file();
    if (!made) {
      return Error{made.error().code, "sandbox: cannot make the seccomp program: " + made.error().message};
    }
    file = std::move(made.value());
  }
  return file.get();
}

// A path to hide: a directory under an empty tmpfs, a file under /dev/null.
struct Mask {
  std::string path;
  bool directory = true;
};

// Whether `path` exists in the sandbox's view before any bind: the host's, or the
// rootfs' (whose top-level entries make the root). lstat: a symlink exists as such.
bool exists_in_view(const std::string& rootfs, const std::string& path, bool* directory) {
  std::error_code ec;
  const std::string where = rootfs.empty() ? path : rootfs + path;
  if (!fs::exists(fs::symlink_status(where, ec))) return false;
  *directory = fs::is_directory(fs::status(where, ec));
  return true;
}

Result<std::vector<Mask>> private_masks(const SandboxSpec& spec, const std::string& task_dir,
                                        const std::string& ipc_dir, const std::string& rootfs) {
  std::vector<Mask> masks;
  auto add_mask = [&](const std::string& what, const std::string& raw, bool required) -> Status {
    if (raw.empty() || raw.front() != '/') {
      return invalid_input("sandbox: " + what + " '" + raw + "' is not an absolute path");
    }
    const std::string path = normalized(raw);
    if (path == "/") return invalid_input("sandbox: " + what + " '/' would hide everything");
    if (is_within(path, "/tmp")) return Ok{};  // the worker's /tmp is ipc_dir: nothing to hide
    if (is_within(path, task_dir) || is_within(path, ipc_dir)) {
      return invalid_input("sandbox: " + what + " '" + path + "' lies inside the task's own directory '" +
                           (is_within(path, task_dir) ? task_dir : ipc_dir) + "'");
    }
    bool directory = true;
    if (!exists_in_view(rootfs, path, &directory)) {
      if (required && rootfs.empty()) return not_found("sandbox: " + what + " '" + path + "' does not exist");
      return Ok{};  // nothing there to hide
    }
    masks.push_back(Mask{path, directory});
    return Ok{};
  };
  if (!spec.run_dir.empty()) {
    if (auto st = check_path("run_dir", spec.run_dir, true); !st) return st.error();
    const std::string run_dir = normalized(spec.run_dir);
    if (!is_within(task_dir, run_dir) || task_dir == run_dir) {
      return invalid_input("sandbox: task_dir '" + task_dir + "' is not inside run_dir '" + run_dir + "'");
    }
    // Not through add_mask: task_dir lies inside it by design (bound back later).
    bool directory = true;
    if (!is_within(run_dir, "/tmp") && exists_in_view(rootfs, run_dir, &directory)) {
      masks.push_back(Mask{run_dir, true});
    }
  }
  for (const std::string& path : kDefaultPrivatePaths) {
    if (auto st = add_mask("default private path", path, false); !st) return st.error();
  }
  for (const std::string& path : spec.private_paths) {
    if (auto st = add_mask("private path", path, true); !st) return st.error();
  }
  // Parents first, and nothing below a hidden directory (a tmpfs over it would only be
  // hidden by the parent's, and its --remount-ro would hit the parent's).
  std::sort(masks.begin(), masks.end(), [](const Mask& a, const Mask& b) { return a.path < b.path; });
  std::vector<Mask> outermost;
  for (Mask& m : masks) {
    const bool covered = std::any_of(outermost.begin(), outermost.end(), [&](const Mask& o) {
      return o.directory && is_within(m.path, o.path);
    });
    if (!covered) outermost.push_back(std::move(m));
  }
  return outermost;
}

}  // namespace

Result<LaunchCommand> sandbox_command(const SandboxSpec& spec,
                                      const std::vector<std::string>& command) {
  COEDGE_CHECK(!command.empty() && !command.front().empty());

  if (auto s = check_path("task_dir", spec.task_dir, true); !s) return s.error();
  if (auto s = check_not_a_link("task_dir", spec.task_dir); !s) return s.error();
  const std::string task_dir = normalized(spec.task_dir);
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return invalid_input("sandbox: invalid environment variable name '" + name + "'");
    }
  }

  std::vector<PassFd> pass_fds;
  for (int fd : spec.pass_fds) {
    if (fd < 3) return invalid_input("sandbox: pass_fds holds " + std::to_string(fd) + "; 0-2 are stdio");
    pass_fds.push_back(PassFd{fd, false});
  }

  if (spec.mode == LaunchMode::kProcess) {
    return LaunchCommand{command, spec.env, task_dir, std::move(pass_fds)};
  }

  if (auto s = check_path("ipc_dir", spec.ipc_dir, true); !s) return s.error();
  if (auto s = check_not_a_link("ipc_dir", spec.ipc_dir); !s) return s.error();
  const std::string ipc_dir = normalized(spec.ipc_dir);
  if (!spec.shm_dir.empty()) {
    if (auto s = check_path("shm_dir", spec.shm_dir, true); !s) return s.error();
  }
  if (!spec.rootfs.empty()) {
    if (auto s = check_path("rootfs", spec.rootfs, true); !s) return s.error();
  }
  const std::string rootfs = spec.rootfs.empty() ? std::string() : normalized(spec.rootfs);
  Result<std::vector<Mask>> masks = private_masks(spec, task_dir, ipc_dir, rootfs);
  if (!masks) return masks.error();
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
  // --unshare-ipc: no System V IPC or POSIX message queue shared with the host or other
  // tasks (the node's shared memory is files or memfds, not System V). --cap-drop ALL
  // matters when the agent runs as root: bwrap then keeps every capability unless told
  // otherwise, and CAP_SYS_ADMIN could remount the read-only root writable. No
  // --new-session: the supervisor stops a worker by signalling its process group, which
  // the worker must stay in to get SIGTERM and finish cleanly (flush its results); its
  // stdin is /dev/null and its output goes to a log, so it holds no terminal to inject
  // input into. No --unshare-cgroup: the worker's /proc/self/cgroup then names its task
  // cgroup, where OpenCV finds its CPU quota (and sizes its thread pool by it).
  add(argv, {"--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc",
             "--unshare-uts", "--cap-drop", "ALL"});
  if (spec.seccomp) {
    int program = spec.seccomp_fd;
    if (program < 0) {
      Result<int> shared = shared_seccomp_fd();
      if (!shared) return shared.error();
      program = *shared;
    }
    // The last descriptor; a fresh description per start, as bwrap read()s it to its end.
    add(argv, {"--seccomp", std::to_string(3 + pass_fds.size())});
    pass_fds.push_back(PassFd{program, true});
  }
  if (rootfs.empty()) {
    add(argv, {"--ro-bind", "/", "/"});
  } else if (auto s = add_rootfs(argv, rootfs); !s) {
    return s.error();
  }
  for (const Mask& mask : *masks) {
    if (mask.directory) {
      add(argv, {"--tmpfs", mask.path});
    } else {
      add(argv, {"--ro-bind", "/dev/null", mask.path});
    }
  }
  add(argv, {"--dev", "/dev", "--proc", "/proc"});
  if (spec.shm_dir.empty()) {
    add(argv, {"--tmpfs", "/dev/shm"});
  } else {
    add(argv, {"--bind", normalized(spec.shm_dir), "/dev/shm"});
  }
  add(argv, {"--bind", ipc_dir, "/tmp"});
  add(argv, {"--bind", task_dir, task_dir});

  std::vector<std::string> ro_binds;
  for (const std::string& bind : spec.read_only_binds) ro_binds.push_back(normalized(bind));
  if (command.front().front() == '/') {
    // The executable is bound from the host unless the view already shows it: with a
    // rootfs, when the rootfs has it; without, unless a private path hides it (a worker
    // built under /home).
    const std::string exe = normalized(command.front());
    std::error_code ec;
    const bool visible =
        rootfs.empty()
            ? std::none_of(masks->begin(), masks->end(),
                           [&](const Mask& m) { return is_within(exe, m.path); })
            : fs::exists(fs::symlink_status(rootfs + exe, ec));
    const bool in_binds = std::any_of(ro_binds.begin(), ro_binds.end(),
                                      [&](const std::string& b) { return is_within(exe, b); });
    if (!visible && !in_binds) {
      if (auto s = check_path("executable", exe, false); !s) return s.error();
      ro_binds.push_back(exe);
    }
  }
  for (const std::string& bind : ro_binds) add(argv, {"--ro-bind", bind, bind});
  // The tmpfs holding mount points are writable until now: the rootfs' root, and each
  // hiding tmpfs (a worker could otherwise fill them, or leave files for its restart).
  if (!rootfs.empty()) add(argv, {"--remount-ro", "/"});
  for (const Mask& mask : *masks) {
    if (mask.directory) add(argv, {"--remount-ro", mask.path});
  }

  add(argv, {"--chdir", task_dir});
  for (const auto& [name, value] : spec.env) add(argv, {"--setenv", name, value});
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return LaunchCommand{std::move(argv), {}, {}, std::move(pass_fds)};
}

}  // namespace coedge::os
