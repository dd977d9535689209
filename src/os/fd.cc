#include "os/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "os/errno_text.h"

namespace coedge::os {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error{ErrorCode::kIo, "pipe: " + errno_text(errno)};
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

}  // namespace coedge::os
