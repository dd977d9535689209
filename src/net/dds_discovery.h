// What a participant can see of the others on its domain, from Cyclone's built-in
// discovery topics (DCPSParticipant, DCPSPublication): the domain sentry's eyes
// (`coedge sentry`, docs/COMMAND_LINE.md). A plain participant in a secure domain sees
// nothing of the secure participants (their discovery is protected and they ignore it):
// what it sees is other unauthenticated participants and their writers, i.e. attempts.
// Thread-safety: take() from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "net/dds.h"

namespace coedge::net {

struct DiscoveredWriter {
  std::string participant;  // the writer's participant's GUID prefix, hex
  std::string writer;       // the writer's GUID, hex
  std::string topic;        // DDS topic name, e.g. "rt/coedge/plan"
  std::string type;
  std::vector<std::string> partitions;  // empty: the default partition
  bool alive = true;        // false: the writer is gone (deleted, or its participant left)
};

class DiscoveryWatcher {
 public:
  // Errors: kIo when Cyclone refuses a built-in reader.
  static Result<std::unique_ptr<DiscoveryWatcher>> create(DdsDomain& domain);
  ~DiscoveryWatcher();
  DiscoveryWatcher(const DiscoveryWatcher&) = delete;
  DiscoveryWatcher& operator=(const DiscoveryWatcher&) = delete;

  // Writers that appeared (alive) or went away (!alive) since the last call, in order;
  // this participant's own writers are left out.
  std::vector<DiscoveredWriter> take();
  // Remote participants currently known (any: secure ones are not known to a plain one).
  size_t participants();

  struct State;  // internal

 private:
  explicit DiscoveryWatcher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace coedge::net
