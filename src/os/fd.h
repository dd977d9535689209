// Fd owns one file descriptor: it closes it when destroyed or reset, so every error path
// closes what it opened. Movable, not copyable. make_pipe() creates a close-on-exec pipe
// as two Fds; sealed_memory_file() an immutable in-memory file (how the node agent hands
// its config to the inference server, as the server's stdin), which read_from_start()
// reads whole, however often. Not thread-safe (one owner), like the descriptor it holds.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace coedge::os {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }

  int get() const { return fd_; }  // -1 when empty
  bool valid() const { return fd_ >= 0; }
  // Closes the descriptor held (if any) and takes `fd`.
  void reset(int fd = -1);
  // Gives the descriptor up without closing it.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

// pipe2(O_CLOEXEC). kIo "pipe: <errno text>".
Result<Pipe> make_pipe();

// An anonymous in-memory file (memfd_create, close-on-exec) holding `bytes`, then sealed
// against any change of content or size: nothing touches a disk, and every process given
// it reads the same bytes. `name` shows in /proc/PID/fd. kIo "memfd_create: …",
// "cannot write …", "cannot seal …".
Result<Fd> sealed_memory_file(const std::string& name, std::string_view bytes);

// Everything in `fd` from offset 0 (pread, so the shared offset of an inherited file does
// not matter and a restarted reader reads it all again); a pipe or terminal is read to
// its end instead. At most `limit` bytes: more is an error. kIo "read: …",
// kInvalidInput "more than LIMIT bytes".
Result<std::string> read_from_start(int fd, size_t limit);

}  // namespace coedge::os
