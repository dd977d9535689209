// The zero-copy transport between the processes of one node, over Eclipse iceoryx 2.0
// (RouDi daemon + shared memory). A publisher loans a chunk of shared memory, writes a
// message into it once and publishes it; subscribers receive a reference to the same
// chunk and release it when done. Topics are ("coedge", kind, name): kind is "frame",
// "tensor", "output" or "event" (ipc/messages.h), name the sensor, task or publisher.
//
// iceoryx is kept behind this header's classes so the rest of the runtime never sees it.
// Each object is used by one thread at a time; a Waiter's wake() may be called from any
// thread. REQUIRES: init_runtime() has been called once in the process, before any
// Publisher or Subscriber is made.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/time.h"

namespace coedge::ipc {

// Registers this process with RouDi under a node-unique name (a restarted worker reuses
// its name, which lets RouDi reclaim the chunks its predecessor held). Blocks until RouDi
// answers; iceoryx ends the process if RouDi never appears.
void init_runtime(const std::string& name);


class Publisher {
 public:
  Publisher(const std::string& kind, const std::string& name);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // A chunk of at least `bytes`, aligned for any header. Errors: shared memory exhausted
  // (every chunk of that size is in use) or a size beyond the largest pool.
  Result<void*> loan(uint64_t bytes);
  void publish(void* chunk);
  void discard(void* chunk);  // a loaned chunk that will not be published
  bool has_subscribers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Subscriber {
 public:
  // `queue_capacity`: chunks waiting here before the oldest is discarded (the agent's
  // ledger counts such a job as lost, it never vanishes silently).
  Subscriber(const std::string& kind, const std::string& name, uint64_t queue_capacity = 64);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  const void* take();  // the next chunk, or nullptr when none is waiting
  void release(const void* chunk);
  bool connected() const;  // a publisher is offering the topic

 private:
  friend class Waiter;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks until one of the attached subscribers has data, wake() is called, or a timeout.
class Waiter {
 public:
  Waiter();
  ~Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  Status attach(Subscriber& subscriber);
  void detach(Subscriber& subscriber);
  void wait(Duration timeout);
  void wake();  // thread-safe

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coedge::ipc
