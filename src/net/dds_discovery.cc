// DiscoveryWatcher (dds_discovery.h): readers of Cyclone's built-in DCPSPublication and
// DCPSParticipant topics. A publication's instance handle maps to what it was when it
// appeared, so that its disposal (which carries only the key) can be reported in full.
#include "net/dds_discovery.h"

#include <dds/dds.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "net/dds_internal.h"

namespace coedge::net {
namespace {

std::string hex(const uint8_t* v, size_t n) {
  std::string out;
  char b[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", v[i]);
    out += b;
  }
  return out;
}

constexpr uint32_t kBatch = 64;

}  // namespace

struct DiscoveryWatcher::State {
  dds_entity_t participant = 0;
  dds_entity_t publications = 0;
  dds_entity_t participants = 0;
  std::string own_prefix;  // our participant's GUID prefix (12 bytes), hex
  std::map<dds_instance_handle_t, DiscoveredWriter> known;
  std::set<dds_instance_handle_t> remote_participants;
};

DiscoveryWatcher::DiscoveryWatcher(std::unique_ptr<State> state) : state_(std::move(state)) {}

DiscoveryWatcher::~DiscoveryWatcher() {
  internal::delete_entity(state_->publications);
  internal::delete_entity(state_->participants);
}

Result<std::unique_ptr<DiscoveryWatcher>> DiscoveryWatcher::create(DdsDomain& domain) {
  auto state = std::make_unique<State>();
  state->participant = domain.participant_handle();
  dds_guid_t guid{};
  if (dds_return_t rc = dds_get_guid(state->participant, &guid); rc < 0) return internal::io_error("dds_get_guid", rc);
  state->own_prefix = hex(guid.v, 12);
  state->publications = dds_create_reader(state->participant, DDS_BUILTIN_TOPIC_DCPSPUBLICATION, nullptr, nullptr);
  if (state->publications < 0) return internal::io_error("reading DCPSPublication", state->publications);
  state->participants = dds_create_reader(state->participant, DDS_BUILTIN_TOPIC_DCPSPARTICIPANT, nullptr, nullptr);
  if (state->participants < 0) {
    internal::delete_entity(state->publications);
    return internal::io_error("reading DCPSParticipant", state->participants);
  }
  return std::unique_ptr<DiscoveryWatcher>(new DiscoveryWatcher(std::move(state)));
}

std::vector<DiscoveredWriter> DiscoveryWatcher::take() {
  std::vector<DiscoveredWriter> out;
  void* samples[kBatch] = {};
  dds_sample_info_t infos[kBatch];
  for (;;) {
    samples[0] = nullptr;
    const dds_return_t n = dds_take(state_->publications, samples, infos, kBatch, kBatch);
    if (n <= 0) break;
    for (dds_return_t i = 0; i < n; ++i) {
      const dds_sample_info_t& info = infos[i];
      if (info.valid_data && info.instance_state == DDS_IST_ALIVE) {
        const auto* ep = static_cast<const dds_builtintopic_endpoint_t*>(samples[i]);
        DiscoveredWriter w;
        w.participant = hex(ep->participant_key.v, 12);
        if (w.participant == state_->own_prefix) continue;
        w.writer = hex(ep->key.v, 16);
        w.topic = ep->topic_name != nullptr ? ep->topic_name : "";
        w.type = ep->type_name != nullptr ? ep->type_name : "";
        uint32_t np = 0;
        char** ps = nullptr;
        if (ep->qos != nullptr && dds_qget_partition(ep->qos, &np, &ps)) {
          for (uint32_t k = 0; k < np; ++k) {
            w.partitions.emplace_back(ps[k] != nullptr ? ps[k] : "");
            dds_free(ps[k]);
          }
          dds_free(ps);
        }
        if (state_->known.emplace(info.instance_handle, w).second) out.push_back(std::move(w));
      } else if (info.instance_state != DDS_IST_ALIVE) {
        auto it = state_->known.find(info.instance_handle);
        if (it == state_->known.end()) continue;
        it->second.alive = false;
        out.push_back(std::move(it->second));
        state_->known.erase(it);
      }
    }
    (void)dds_return_loan(state_->publications, samples, n);
    if (static_cast<uint32_t>(n) < kBatch) break;
  }
  return out;
}

size_t DiscoveryWatcher::participants() {
  void* samples[kBatch] = {};
  dds_sample_info_t infos[kBatch];
  for (;;) {
    samples[0] = nullptr;
    const dds_return_t n = dds_take(state_->participants, samples, infos, kBatch, kBatch);
    if (n <= 0) break;
    for (dds_return_t i = 0; i < n; ++i) {
      if (infos[i].valid_data && infos[i].instance_state == DDS_IST_ALIVE) {
        const auto* p = static_cast<const dds_builtintopic_participant_t*>(samples[i]);
        if (hex(p->key.v, 12) != state_->own_prefix) state_->remote_participants.insert(infos[i].instance_handle);
      } else if (infos[i].instance_state != DDS_IST_ALIVE) {
        state_->remote_participants.erase(infos[i].instance_handle);
      }
    }
    (void)dds_return_loan(state_->participants, samples, n);
    if (static_cast<uint32_t>(n) < kBatch) break;
  }
  return state_->remote_participants.size();
}

}  // namespace coedge::net
