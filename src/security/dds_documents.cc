#include "security/dds_documents.h"

#include <sstream>

#include "core/text.h"
#include "net/dds.h"

namespace coedge::security {
namespace {

const char* kHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

std::string domains(const char* indent) {
  std::ostringstream x;
  x << indent << "<domains>\n"
    << indent << "  <id_range>\n"
    << indent << "    <min>0</min>\n"
    << indent << "    <max>" << kMaxDomainId << "</max>\n"
    << indent << "  </id_range>\n"
    << indent << "</domains>\n";
  return x.str();
}

const char* flag(bool b) { return b ? "true" : "false"; }

void topic_rule(std::ostringstream& x, const std::string& expression, bool protect_discovery,
                const char* protection) {
  x << "        <topic_rule>\n"
    << "          <topic_expression>" << xml_escape(expression) << "</topic_expression>\n"
    << "          <enable_discovery_protection>" << flag(protect_discovery) << "</enable_discovery_protection>\n"
    << "          <enable_liveliness_protection>" << flag(protect_discovery) << "</enable_liveliness_protection>\n"
    << "          <enable_read_access_control>true</enable_read_access_control>\n"
    << "          <enable_write_access_control>true</enable_write_access_control>\n"
    << "          <metadata_protection_kind>" << protection << "</metadata_protection_kind>\n"
    << "          <data_protection_kind>" << protection << "</data_protection_kind>\n"
    << "        </topic_rule>\n";
}

void criterion(std::ostringstream& x, const char* kind, const Criterion& c) {
  x << "        <" << kind << ">\n          <topics>\n";
  for (const auto& t : c.topics) x << "            <topic>" << xml_escape(t) << "</topic>\n";
  x << "          </topics>\n          <partitions>\n";
  for (const auto& p : c.partitions) {
    // An empty element is the default partition (Cyclone reads it as "").
    x << "            <partition>" << xml_escape(p) << "</partition>\n";
  }
  x << "          </partitions>\n        </" << kind << ">\n";
}

std::string topic(const char* dds_topic) { return dds_topic; }

}  // namespace

std::string enclave_name(Role role, const std::string& name) {
  switch (role) {
    case Role::kMaster: return "/coedge/master";
    case Role::kNode: return "/coedge/node/" + name;
    case Role::kCamera: return "/coedge/camera/" + name;
  }
  return "";
}

std::string governance_xml(TopicProtection other_topics) {
  std::ostringstream x;
  x << kHeader
    << "<dds xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
       "xsi:noNamespaceSchemaLocation=\"http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd\">\n"
    << "  <domain_access_rules>\n"
    << "    <domain_rule>\n"
    << domains("      ")
    << "      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>\n"
    << "      <enable_join_access_control>true</enable_join_access_control>\n"
    << "      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>\n"
    << "      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>\n"
    << "      <rtps_protection_kind>NONE</rtps_protection_kind>\n"
    << "      <topic_access_rules>\n";
  // First match wins (Cyclone tries the rules in order): the control topics before "*".
  for (const char* t : {net::kNodeReportTopic, net::kPlanTopic, net::kSourceStatsTopic, net::kCommandTopic,
                        net::kTaskAckTopic})
    topic_rule(x, t, true, "ENCRYPT");
  topic_rule(x, "*", false, other_topics == TopicProtection::kEncrypt ? "ENCRYPT" : "SIGN");
  x << "      </topic_access_rules>\n"
    << "    </domain_rule>\n"
    << "  </domain_access_rules>\n"
    << "</dds>\n";
  return x.str();
}

Grant role_grant(Role role, const std::string& name, const std::string& subject_name,
                 const std::string& not_before, const std::string& not_after) {
  Grant g{.name = enclave_name(role, name),
          .subject_name = subject_name,
          .not_before = not_before,
          .not_after = not_after,
          .publish = {},
          .subscribe = {}};
  // The readers of task claims subscribe to every node's partition with the wildcard
  // "coedge.node.*", which this pattern allows (see the contract above); plan and command
  // are read in net::kMasterPartition (or the default partition).
  const Criterion control_reader{.topics = {topic(net::kPlanTopic), topic(net::kCommandTopic), topic(net::kTaskAckTopic)},
                                 .partitions = {"", net::kMasterPartition, "coedge.node.*"}};
  switch (role) {
    case Role::kMaster:
      // Only where the master writes them (net::kMasterPartition): a grant for "*" would let
      // a stolen master key write them in partitions nobody expects, for no use.
      g.publish.push_back(
          {.topics = {topic(net::kPlanTopic), topic(net::kCommandTopic)}, .partitions = {net::kMasterPartition}});
      g.subscribe.push_back({.topics = {"*"}, .partitions = {"*"}});
      break;
    case Role::kNode:
      g.publish.push_back({.topics = {topic(net::kNodeReportTopic), topic(net::kTaskAckTopic)},
                           .partitions = {net::node_partition(name)}});
      g.publish.push_back({.topics = {"rt/coedge/*/detections", "rt/coedge/*/classification"}, .partitions = {""}});
      g.subscribe.push_back(control_reader);
      g.subscribe.push_back({.topics = {"*"}, .partitions = {"", "coedge.camera.*"}});
      break;
    case Role::kCamera:
      g.publish.push_back({.topics = {"rt/coedge/" + name + "/*/image_raw"},
                           .partitions = {"", net::camera_partition(name)}});
      g.publish.push_back({.topics = {topic(net::kSourceStatsTopic)}, .partitions = {net::camera_partition(name)}});
      g.subscribe.push_back(control_reader);
      break;
  }
  return g;
}

std::string permissions_xml(const std::vector<Grant>& grants) {
  std::ostringstream x;
  x << kHeader
    << "<dds xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
       "xsi:noNamespaceSchemaLocation=\"http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd\">\n"
    << "  <permissions>\n";
  for (const Grant& g : grants) {
    x << "    <grant name=\"" << xml_escape(g.name) << "\">\n"
      << "      <subject_name>" << xml_escape(g.subject_name) << "</subject_name>\n"
      << "      <validity>\n"
      << "        <not_before>" << xml_escape(g.not_before) << "</not_before>\n"
      << "        <not_after>" << xml_escape(g.not_after) << "</not_after>\n"
      << "      </validity>\n"
      << "      <allow_rule>\n"
      << domains("        ");
    for (const Criterion& c : g.publish) criterion(x, "publish", c);
    for (const Criterion& c : g.subscribe) criterion(x, "subscribe", c);
    x << "      </allow_rule>\n"
      << "      <default>DENY</default>\n"
      << "    </grant>\n";
  }
  x << "  </permissions>\n"
    << "</dds>\n";
  return x.str();
}

}  // namespace coedge::security
