// Fd owns one file descriptor: it closes it when destroyed or reset, so every error path
// closes what it opened. Movable, not copyable. make_pipe() creates a close-on-exec pipe
// as two Fds. Not thread-safe (one owner), like the descriptor it holds.
#pragma once

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

}  // namespace coedge::os
