// The DDS Security documents of a CoEdge cluster, as XML (OMG DDS Security 1.1, the
// omg_shared_ca_governance.xsd and omg_shared_ca_permissions.xsd schemas that Cyclone's
// builtin access control parses). Pure text generators: keystore.cc signs and writes them.
//
// How Cyclone 0.10 matches them (src/security/builtin_plugins/access_control, read for
// this): topic expressions and partitions are matched with its own fnmatch (ac_fnmatch:
// '*', '?', '[...]', no flags, so '*' also matches '/'); the governance's topic rules are
// tried in order and the first whose expression matches a topic applies; in the
// permissions, the first allow/deny rule with a criterion matching both the topic and the
// partitions decides, else <default>. An endpoint's partitions must ALL match one of the
// rule's partition patterns, the pattern applied to the endpoint's partition string as is:
// a reader in the wildcard partition "coedge.node.*" is allowed by the permission pattern
// "coedge.node.*" (its '*' matches the literal '*'), but not by "coedge.node.n1"; a
// criterion without <partitions> means the default partition "" only. A grant applies to
// the identity whose certificate subject, printed as RFC 2253 (X509_NAME_print_ex,
// XN_FLAG_RFC2253), equals <subject_name> exactly.
#pragma once

#include <string>
#include <vector>

#include "security/keystore.h"

namespace coedge::security {

// One publish or subscribe criterion: these topics in these partitions ("" = default).
struct Criterion {
  std::vector<std::string> topics;
  std::vector<std::string> partitions;
};

struct Grant {
  std::string name;          // the grant's name (the enclave, "/coedge/node/n1")
  std::string subject_name;  // as Cyclone compares it: "CN=/coedge/node/n1"
  std::string not_before;    // "YYYY-MM-DDThh:mm:ssZ" (DDS_Security_parse_xml_date)
  std::string not_after;
  std::vector<Criterion> publish;
  std::vector<Criterion> subscribe;
};

// Plan and command are in net::kMasterPartition, which only the master's grant may write
// in ("*"). Permissions that name no partition allow the default partition only, as
// SROS2's do: so even a ROS 2 enclave made with SROS2's default (allow-all "rt/*")
// permissions in the same keystore cannot write them.

// Domains 0..230: Cyclone 0.10's access control refuses a document naming a domain id
// above 230 ("Can not parse governance file"), though net::DdsOptions::domain allows 232;
// a secure domain is therefore 0..230.
inline constexpr int kMaxDomainId = 230;

// The domain's rules: no unauthenticated participant, join access control, discovery and
// liveliness encrypted, RTPS messages not protected as a whole (the submessages are);
// the control topics (net::kNodeReportTopic, ...) access-controlled, discovery- and
// liveliness-protected, data and metadata encrypted; every other topic "*" (images,
// results, a ROS 2 peer's topics) access-controlled, its data and metadata signed or
// encrypted per `other_topics`.
std::string governance_xml(TopicProtection other_topics);

// What (role, name) may do (keystore.h; docs/SECURITY.md has the table), for the identity
// whose certificate subject is `subject_name`, valid in [not_before, not_after]:
//  master: publishes plan and command (any partition), subscribes to everything;
//  node N: publishes node_report and task_ack in node_partition(N) only, and the result
//    topics rt/coedge/*/detections and rt/coedge/*/classification (default partition);
//    subscribes plan, command, task_ack (the default partition, net::kMasterPartition or the
//    readers' wildcard "coedge.node.*") and every topic of the default partition and of "coedge.camera.*"
//    (images, results, source statistics);
//  camera N: publishes rt/coedge/N/*/image_raw (default partition or its own
//    camera_partition(N)) and source_stats in camera_partition(N) only; subscribes plan,
//    command, task_ack as a node does.
// Everything else is denied (<default>DENY</default>).
Grant role_grant(Role role, const std::string& name, const std::string& subject_name,
                 const std::string& not_before, const std::string& not_after);

std::string permissions_xml(const std::vector<Grant>& grants);

// "/coedge/master", "/coedge/node/N", "/coedge/camera/N": the enclave and the certificate's
// common name.
std::string enclave_name(Role role, const std::string& name);

}  // namespace coedge::security
