// DdsDomain: validates DdsOptions, renders them as a Cyclone XML configuration and creates
// the domain and its participant; also the ROS topic name mapping. Stateless functions and
// an immutable object, so thread-safe.
#include "net/dds.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <set>
#include <sstream>

#include "net/dds_internal.h"

namespace coedge::net {
namespace {

using internal::io_error;

// Highest domain id whose RTPS ports (7400 + 250 * id + offsets) fit in 16 bits.
constexpr uint32_t kMaxDomainId = 232;

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

// The IPv4 addresses of this machine's interfaces, or an empty set if they cannot be read.
std::set<std::string> local_ipv4_addresses() {
  std::set<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN] = {};
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) != nullptr) out.insert(buf);
  }
  freeifaddrs(list);
  return out;
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Status validate(const DdsOptions& o) {
  if (o.domain > kMaxDomainId) {
    return Error{ErrorCode::kInvalidInput, "DDS domain id " + std::to_string(o.domain) +
                                               " is out of range: use 0.." +
                                               std::to_string(kMaxDomainId)};
  }
  if (o.lease <= Duration::zero()) {
    return Error{ErrorCode::kInvalidInput,
                 "DDS liveliness lease must be positive, got " + format_duration(o.lease)};
  }
  if (!o.interface_address.empty()) {
    in_addr addr{};
    if (inet_pton(AF_INET, o.interface_address.c_str(), &addr) != 1) {
      return Error{ErrorCode::kInvalidInput,
                   "DDS interface address '" + o.interface_address +
                       "' is not an IPv4 address (expected e.g. 10.77.0.3)"};
    }
    std::set<std::string> local = local_ipv4_addresses();
    if (!local.empty() && local.count(o.interface_address) == 0) {
      return Error{ErrorCode::kInvalidInput,
                   "DDS interface address '" + o.interface_address +
                       "' is not an address of this machine (local addresses: " +
                       join(local) + ")"};
    }
  }
  for (const auto& p : o.peers) {
    if (p.empty() || p.find_first_of(" \t<>\"'&") != std::string::npos) {
      return Error{ErrorCode::kInvalidInput, "DDS discovery peer '" + p +
                                                 "' is not an IP address or host name"};
    }
  }
  return Ok{};
}

}  // namespace

std::string node_partition(const std::string& node) { return "coedge.node." + node; }
std::string camera_partition(const std::string& camera) { return "coedge.camera." + camera; }

std::string ros_to_dds_topic(const std::string& ros_topic) {
  if (!ros_topic.empty() && ros_topic.front() == '/') return "rt" + ros_topic;
  return "rt/" + ros_topic;
}

std::string dds_config_xml(const DdsOptions& o) {
  std::ostringstream x;
  x << "<CycloneDDS xmlns=\"https://cdds.io/config\"><Domain Id=\"any\">";
  x << "<General>";
  if (!o.interface_address.empty()) {
    x << "<Interfaces><NetworkInterface address=\"" << xml_escape(o.interface_address)
      << "\"/></Interfaces>";
  }
  if (!o.peers.empty()) x << "<AllowMulticast>false</AllowMulticast>";
  // 64 kB UDP datagrams carrying 16 kB fragments: a 1.2 MB image is ~20 datagrams instead
  // of ~90 at the defaults (14720 B / 1344 B). Retransmits stay small (MaxRexmitMessageSize
  // keeps its 1456 B default) so a lossy link repairs single fragments.
  x << "<MaxMessageSize>65000B</MaxMessageSize>";
  x << "<FragmentSize>16000B</FragmentSize>";
  x << "</General>";
  x << "<Discovery>";
  if (!o.peers.empty()) {
    // Unicast discovery needs predictable ports: a participant index per process.
    x << "<ParticipantIndex>auto</ParticipantIndex>";
    x << "<MaxAutoParticipantIndex>32</MaxAutoParticipantIndex>";
    x << "<Peers>";
    for (const auto& p : o.peers) x << "<Peer Address=\"" << xml_escape(p) << "\"/>";
    x << "</Peers>";
  }
  x << "</Discovery>";
  x << "<Internal>";
  // Ask for a large socket receive buffer (capped by net.core.rmem_max) but accept what the
  // kernel gives; a burst of image fragments otherwise overflows the ~200 kB default.
  x << "<SocketReceiveBufferSize min=\"default\" max=\"8MiB\"/>";
  // A small send buffer makes a writer whose own link is the bottleneck (a shaped veth,
  // a NIC queue) block for the transmission time instead of overflowing the queue: with
  // the ~200 kB default, a 1.2 MB image overran a 20 Mbit/s tbf queue and, as each new
  // frame superseded the one being repaired, no frame ever completed.
  x << "<SocketSendBufferSize min=\"64KiB\" max=\"64KiB\"/>";
  // A reliable writer blocks once this much data is unacknowledged; it must hold several
  // whole images.
  x << "<Watermarks><WhcHigh>8MiB</WhcHigh></Watermarks>";
  x << "</Internal>";
  x << "</Domain></CycloneDDS>";
  return x.str();
}

Result<std::unique_ptr<DdsDomain>> DdsDomain::create(const DdsOptions& options) {
  if (auto v = validate(options); !v) return v.error();
  const std::string where =
      "DDS domain " + std::to_string(options.domain) +
      (options.interface_address.empty() ? "" : " on interface " + options.interface_address);
  const std::string xml = dds_config_xml(options);
  dds_entity_t domain = dds_create_domain(options.domain, xml.c_str());
  if (domain < 0) {
    if (domain == DDS_RETCODE_PRECONDITION_NOT_MET) {
      return Error{ErrorCode::kIo, "creating " + where +
                                       " failed: this process already has that domain "
                                       "(one DdsDomain per domain id and process)"};
    }
    return io_error("creating " + where, domain);
  }
  dds_entity_t participant = dds_create_participant(options.domain, nullptr, nullptr);
  if (participant < 0) {
    internal::delete_entity(domain);
    return io_error("creating the DDS participant of " + where, participant);
  }
  return std::unique_ptr<DdsDomain>(new DdsDomain(options, domain, participant));
}

DdsDomain::~DdsDomain() {
  internal::delete_entity(participant_);
  internal::delete_entity(domain_);
}

}  // namespace coedge::net
