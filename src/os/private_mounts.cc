#include "os/private_mounts.h"

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "os/errno_text.h"

namespace coedge::os {

Status enter_private_mounts(uint64_t shm_bytes) {
  if (geteuid() != 0) {
    return Error{ErrorCode::kUnsupported,
                 "isolation modes 'sandbox' and 'process' need root: the node gets a private "
                 "/dev/shm for its shared memory (run as root, or use --isolation none)"};
  }
  auto fail = [](const std::string& what) {
    return Status(Error{ErrorCode::kIo, what + ": " + errno_text(errno)});
  };
  if (unshare(CLONE_NEWNS) != 0) return fail("cannot enter a private mount namespace");
  // Mounts made from here on must not propagate back to the host.
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return fail("cannot make the mount namespace private");
  }
  const std::string options = "mode=1777,size=" + std::to_string(shm_bytes);
  if (mount("coedge-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return fail("cannot mount a private /dev/shm");
  }
  return Ok{};
}

}  // namespace coedge::os
