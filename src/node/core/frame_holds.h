// The agent's own record of which task still holds which frame publication. A frame chunk
// is published with one holder bit per job (task) that takes it; since ABI 3 the pre
// worker never writes the frame segment (it may be mapped read-only), so the agent
// releases each task's bit itself, exactly once, when the job leaves pre-processing:
//  - its pre worker reports it (kPreDone or kDropped): take_job;
//  - its pre worker dies or is killed: take_task;
//  - it closes any other way (expired, dropped elsewhere): the agent's sweep at each poll,
//    take_if(not at pre-processing).
// Each returns the holds it removed; the caller releases their bits in the frame pool. A
// hold is removed once, so it is released once. Thread-safe (one small mutex): add() runs
// on sensor threads (publish_frame), the rest on the agent's loop. Never calls out while
// locked except take_if's predicate (which may lock the ledger: lock order holds -> ledger).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "ipc/shm_segment.h"

namespace coedge::node {

class FrameHolds {
 public:
  struct Hold {
    uint32_t sensor = 0;   // whose frame pool
    ipc::ChunkRef frame;   // the publication
    uint64_t bit = 0;      // this job's holder bit
    uint32_t task = 0;
    uint64_t job = 0;      // unique across tasks (the ledger's id)
  };

  // REQUIRES: no hold of h.job yet.
  void add(const Hold& h);
  // The hold of job `job` when it is task `task`'s; nullopt otherwise (none, or another
  // task's: a worker cannot release another task's frame).
  std::optional<Hold> take_job(uint32_t task, uint64_t job);
  std::vector<Hold> take_task(uint32_t task);
  std::vector<Hold> take_if(const std::function<bool(const Hold&)>& done);
  size_t size() const;
  size_t held(uint32_t task) const;  // the holds of one task

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, Hold> holds_;  // by job
};

}  // namespace coedge::node
