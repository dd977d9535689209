#include "os/fd.h"

#include <fcntl.h>
#include <sys/mman.h>
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

Result<Fd> sealed_memory_file(const std::string& name, std::string_view bytes) {
  Fd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return Error{ErrorCode::kIo, "memfd_create: " + errno_text(errno)};
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{ErrorCode::kIo, "cannot write " + name + ": " + errno_text(errno)};
    done += static_cast<size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return Error{ErrorCode::kIo, "cannot seal " + name + ": " + errno_text(errno)};
  }
  return fd;
}

Result<std::string> read_from_start(int fd, size_t limit) {
  std::string out;
  char buf[65536];
  bool seekable = true;
  for (;;) {
    const ssize_t n = seekable ? ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()))
                               : ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && seekable && errno == ESPIPE && out.empty()) {
      seekable = false;  // a pipe or a terminal: read it as it comes
      continue;
    }
    if (n < 0) return Error{ErrorCode::kIo, "read: " + errno_text(errno)};
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) {
      return Error{ErrorCode::kInvalidInput, "more than " + std::to_string(limit) + " bytes"};
    }
  }
}

}  // namespace coedge::os
