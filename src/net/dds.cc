// DdsDomain: validates DdsOptions, renders them as a Cyclone XML configuration and creates
// the domain and its participant; also the ROS topic name mapping and partition names.
// Stateless functions and an immutable object, so thread-safe. With DDS Security, the
// plugins and files are checked here first (Cyclone's own refusal only says "error"), and a
// participant Cyclone refuses is retried once with Cyclone's tracing into a private
// temporary file, whose error lines become part of the message.
#include "net/dds.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "core/text.h"
#include "net/dds_internal.h"

namespace coedge::net {
namespace {

using internal::io_error;

// Highest domain id whose RTPS ports (7400 + 250 * id + offsets) fit in 16 bits.
constexpr uint32_t kMaxDomainId = 232;

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
  if (o.security && o.domain > kMaxSecureDomainId) {
    return Error{ErrorCode::kInvalidInput,
                 "DDS domain id " + std::to_string(o.domain) +
                     " cannot be secured: Cyclone's access control accepts domains 0.." +
                     std::to_string(kMaxSecureDomainId) + " only"};
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

// The security plugins, as Cyclone's XML names them: element, file, init and finalize
// functions.
struct Plugin {
  const char* element;
  const char* file;
  const char* init;
  const char* finalize;
};
constexpr Plugin kPlugins[] = {
    {"Authentication", "libdds_security_auth.so", "init_authentication", "finalize_authentication"},
    {"AccessControl", "libdds_security_ac.so", "init_access_control", "finalize_access_control"},
    {"Cryptographic", "libdds_security_crypto.so", "init_crypto", "finalize_crypto"},
};

std::string plugin_path(const std::string& dir, const char* file) {
  return dir.empty() ? std::string(file) : dir + "/" + file;
}

std::string file_uri(const std::string& path) { return xml_escape("file:" + path); }

// Every security file named in `f`, with what it is for (crl only when set).
std::vector<std::pair<const char*, std::string>> security_files(const DdsSecurityFiles& f) {
  std::vector<std::pair<const char*, std::string>> out = {
      {"identity CA certificate", f.identity_ca}, {"identity certificate", f.certificate},
      {"private key", f.private_key},             {"permissions CA certificate", f.permissions_ca},
      {"governance document", f.governance},      {"permissions document", f.permissions}};
  if (!f.crl.empty()) out.emplace_back("certificate revocation list", f.crl);
  return out;
}

Status check_security(const DdsSecurityFiles& f) {
  const std::string dir = dds_security_plugin_dir();
  for (const auto& p : kPlugins) {
    std::string path = plugin_path(dir, p.file);
    if (dir.empty() || access(path.c_str(), R_OK) != 0) {
      return Error{ErrorCode::kNotFound,
                   std::string("DDS Security needs Cyclone's ") + p.element + " plugin " +
                       path + ", which " + (dir.empty() ? "was not found when CoEdge was built"
                                                        : "cannot be read") +
                       ": install Cyclone DDS with its security plugins (Debian: libddsc0debian) "
                       "or set COEDGE_DDS_SECURITY_PLUGIN_DIR to the folder holding "
                       "libdds_security_{auth,ac,crypto}.so"};
    }
  }
  for (const auto& [what, path] : security_files(f)) {
    if (path.empty()) {
      return Error{ErrorCode::kNotFound, std::string("DDS Security: no ") + what + " file given"};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in || in.peek() == std::ifstream::traits_type::eof()) {
      return Error{ErrorCode::kNotFound,
                   std::string("DDS Security: the ") + what + " " + path + " " +
                       (std::filesystem::exists(path) ? "cannot be read or is empty"
                                                      : "does not exist") +
                       " (check the keystore: coedge keys)"};
    }
  }
  return Ok{};
}

// Cyclone's error lines from a trace file (at most a few; the rest is discovery chatter).
// A line is kept when it has one of these words or phrases; a bare "not " would also match
// warnings about discovery ("... not found in ..."), so only negations that say why
// something was refused are listed.
std::string trace_errors(const std::string& path) {
  static constexpr const char* kErrorWords[] = {
      "error",         "fail",          "invalid",      "revoked",   "expired",
      "not yet valid", "not valid",     "not allowed",  "not permitted",
      "denied",        "refused",       "unable to",    "could not", "cannot"};
  std::ifstream in(path);
  std::string line, out;
  int kept = 0;
  while (std::getline(in, line) && kept < 6) {
    std::string lower = line;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (std::none_of(std::begin(kErrorWords), std::end(kErrorWords), [&](const char* w) {
          return lower.find(w) != std::string::npos;
        })) {
      continue;
    }
    // Trace lines start with a timestamp and thread name: keep the text after them.
    if (auto colon = line.find(": "); colon != std::string::npos && colon < 60) {
      line = line.substr(colon + 2);
    }
    out += (out.empty() ? "" : "; ") + line;
    ++kept;
  }
  return out;
}

// Creates the participant of a secure domain again, with Cyclone's tracing into a private
// temporary file, to learn why it refused; "" when that tells nothing.
std::string secure_refusal_reason(const DdsOptions& options) {
  std::error_code ec;
  std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  if (ec) tmp = "/tmp";
  std::string path = (tmp / "coedge-dds-XXXXXX").string();
  int fd = mkstemp(path.data());
  if (fd < 0) return "";
  close(fd);
  std::string xml = dds_config_xml(options);
  const std::string tracing = "<Tracing><Category>fatal,error,warning</Category><OutputFile>" +
                              xml_escape(path) + "</OutputFile></Tracing>";
  xml.insert(xml.rfind("</Domain>"), tracing);
  std::string reason;
  dds_entity_t domain = dds_create_domain(options.domain, xml.c_str());
  if (domain >= 0) {
    dds_entity_t participant = dds_create_participant(options.domain, nullptr, nullptr);
    internal::delete_entity(participant);
    internal::delete_entity(domain);
    reason = trace_errors(path);
  }
  std::filesystem::remove(path, ec);
  return reason;
}

}  // namespace

Status check_partition_name(const std::string& what, const std::string& name) {
  if (name.empty()) return Error{ErrorCode::kInvalidInput, what + " is empty"};
  if (name.size() > kMaxSampleName) {
    return Error{ErrorCode::kInvalidInput, what + " '" + name.substr(0, 32) + "...' is longer than " +
                                               std::to_string(kMaxSampleName) + " characters"};
  }
  if (auto bad = name.find_first_of("*?[]\\"); bad != std::string::npos) {
    return Error{ErrorCode::kInvalidInput,
                 what + " '" + name + "' contains '" + name[bad] +
                     "', a DDS partition wildcard character (names may not contain * ? [ ] \\)"};
  }
  return Ok{};
}

std::string dds_security_plugin_dir() {
  // The one environment variable below apps/: the plugins are part of the installed
  // Cyclone, not of a cluster's configuration, and a packager or test needs to point at them.
  if (const char* env = std::getenv("COEDGE_DDS_SECURITY_PLUGIN_DIR"); env != nullptr && *env) {
    return env;
  }
  return COEDGE_DDS_SECURITY_PLUGIN_DIR;
}

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
  // Cyclone drops (with a warning) any sample whose serialized size exceeds this, before
  // reassembling it: a peer cannot make it hold a 2 GiB sample (its default). The largest
  // sample CoEdge accepts is an image of kMaxImageBytes; 1 MiB more covers its header.
  x << "<MaxSampleSize>" << (kMaxImageBytes + (size_t{1} << 20)) << "B</MaxSampleSize>";
  x << "</Internal>";
  if (o.security) {
    const DdsSecurityFiles& f = *o.security;
    const std::string dir = dds_security_plugin_dir();
    auto library = [&](const Plugin& p) {
      x << "<Library path=\"" << xml_escape(plugin_path(dir, p.file)) << "\" initFunction=\""
        << p.init << "\" finalizeFunction=\"" << p.finalize << "\"/>";
    };
    x << "<Security>";
    x << "<Authentication>";
    library(kPlugins[0]);
    x << "<IdentityCA>" << file_uri(f.identity_ca) << "</IdentityCA>";
    x << "<IdentityCertificate>" << file_uri(f.certificate) << "</IdentityCertificate>";
    x << "<PrivateKey>" << file_uri(f.private_key) << "</PrivateKey>";
    if (!f.crl.empty()) x << "<CRL>" << file_uri(f.crl) << "</CRL>";
    x << "</Authentication>";
    x << "<AccessControl>";
    library(kPlugins[1]);
    x << "<PermissionsCA>" << file_uri(f.permissions_ca) << "</PermissionsCA>";
    x << "<Governance>" << file_uri(f.governance) << "</Governance>";
    x << "<Permissions>" << file_uri(f.permissions) << "</Permissions>";
    x << "</AccessControl>";
    x << "<Cryptographic>";
    library(kPlugins[2]);
    x << "</Cryptographic>";
    x << "</Security>";
  }
  x << "</Domain></CycloneDDS>";
  return x.str();
}

Result<std::unique_ptr<DdsDomain>> DdsDomain::create(const DdsOptions& options) {
  if (auto v = validate(options); !v) return v.error();
  if (options.security) {
    if (auto v = check_security(*options.security); !v) return v.error();
  }
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
    if (!options.security) return io_error("creating the DDS participant of " + where, participant);
    const DdsSecurityFiles& f = *options.security;
    std::string reason = secure_refusal_reason(options);
    return Error{ErrorCode::kIo,
                 "the DDS participant of " + where + " could not authenticate or was refused (" +
                     dds_strretcode(participant) +
                     "): its identity certificate " + f.certificate +
                     " must be signed by the identity CA " + f.identity_ca +
                     ", unexpired, not revoked" + (f.crl.empty() ? "" : " (CRL " + f.crl + ")") +
                     " and match the private key " + f.private_key + "; the governance " +
                     f.governance + " and permissions " + f.permissions +
                     " must be signed by the permissions CA " + f.permissions_ca +
                     ", and the permissions must grant domain " + std::to_string(options.domain) +
                     " to this certificate's subject. " +
                     (reason.empty() ? std::string("Cyclone gave no reason in its trace")
                                     : "Cyclone says: " + reason)};
  }
  return std::unique_ptr<DdsDomain>(new DdsDomain(options, domain, participant));
}

DdsDomain::~DdsDomain() {
  internal::delete_entity(participant_);
  internal::delete_entity(domain_);
}

}  // namespace coedge::net
