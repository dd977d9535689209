// The DDS Security documents' structure (security/dds_documents.h): what the governance
// protects and in which order its rules are tried, and what each role's grant allows.
#include "security/dds_documents.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/dds.h"

namespace coedge::security {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The text of the i-th <tag>...</tag> element (0-based), or "" when there are fewer.
std::string element(const std::string& text, const std::string& tag, size_t i) {
  size_t at = 0;
  for (size_t k = 0;; ++k) {
    at = text.find("<" + tag + ">", at);
    if (at == std::string::npos) return "";
    const size_t end = text.find("</" + tag + ">", at);
    if (end == std::string::npos) return "";
    if (k == i) return text.substr(at, end + tag.size() + 3 - at);
    at = end;
  }
}

std::vector<std::string> elements(const std::string& text, const std::string& tag) {
  std::vector<std::string> out;
  for (size_t i = 0;; ++i) {
    std::string e = element(text, tag, i);
    if (e.empty()) return out;
    out.push_back(e);
  }
}

std::string value(const std::string& text, const std::string& tag) {
  const std::string e = element(text, tag, 0);
  if (e.empty()) return "<missing>";
  return e.substr(tag.size() + 2, e.size() - 2 * tag.size() - 5);
}

TEST(GovernanceXml, DomainRuleProtectsDiscoveryAndRefusesTheUnauthenticated) {
  const std::string xml = governance_xml(TopicProtection::kSign);
  EXPECT_EQ(xml.rfind("<?xml", 0), 0u);
  EXPECT_NE(xml.find("omg_shared_ca_governance.xsd"), std::string::npos);
  EXPECT_EQ(count(xml, "<domain_rule>"), 1u);
  EXPECT_EQ(value(xml, "min"), "0");
  EXPECT_EQ(value(xml, "max"), "230");
  EXPECT_EQ(value(xml, "allow_unauthenticated_participants"), "false");
  EXPECT_EQ(value(xml, "enable_join_access_control"), "true");
  EXPECT_EQ(value(xml, "discovery_protection_kind"), "ENCRYPT");
  EXPECT_EQ(value(xml, "liveliness_protection_kind"), "ENCRYPT");
  EXPECT_EQ(value(xml, "rtps_protection_kind"), "NONE");
}

TEST(GovernanceXml, ControlTopicsAreEncryptedAndComeBeforeTheCatchAll) {
  for (TopicProtection images : {TopicProtection::kSign, TopicProtection::kEncrypt}) {
    const std::vector<std::string> rules = elements(governance_xml(images), "topic_rule");
    ASSERT_EQ(rules.size(), 6u);
    const std::vector<std::string> control = {net::kNodeReportTopic, net::kPlanTopic, net::kSourceStatsTopic,
                                              net::kCommandTopic, net::kTaskAckTopic};
    for (size_t i = 0; i < control.size(); ++i) {
      SCOPED_TRACE(control[i]);
      EXPECT_EQ(value(rules[i], "topic_expression"), control[i]);
      EXPECT_EQ(value(rules[i], "enable_discovery_protection"), "true");
      EXPECT_EQ(value(rules[i], "enable_liveliness_protection"), "true");
      EXPECT_EQ(value(rules[i], "enable_read_access_control"), "true");
      EXPECT_EQ(value(rules[i], "enable_write_access_control"), "true");
      EXPECT_EQ(value(rules[i], "metadata_protection_kind"), "ENCRYPT");
      EXPECT_EQ(value(rules[i], "data_protection_kind"), "ENCRYPT");
    }
    // Cyclone applies the first rule whose expression matches: "*" must be last.
    const std::string& rest = rules[5];
    EXPECT_EQ(value(rest, "topic_expression"), "*");
    EXPECT_EQ(value(rest, "enable_read_access_control"), "true");
    EXPECT_EQ(value(rest, "enable_write_access_control"), "true");
    const char* kind = images == TopicProtection::kEncrypt ? "ENCRYPT" : "SIGN";
    EXPECT_EQ(value(rest, "metadata_protection_kind"), kind);
    EXPECT_EQ(value(rest, "data_protection_kind"), kind);
  }
}

// The topics of every <publish> (or <subscribe>) criterion of a grant, each with its
// partitions: "topic@partition".
std::vector<std::string> allowed(const std::string& xml, const std::string& kind) {
  std::vector<std::string> out;
  for (const std::string& c : elements(xml, kind)) {
    for (const std::string& t : elements(c, "topic"))
      for (const std::string& p : elements(c, "partition"))
        out.push_back(value(t, "topic") + "@" + value(p, "partition"));
  }
  return out;
}

TEST(PermissionsXml, GrantNamesTheSubjectValidityAndDeniesByDefault) {
  const std::string xml = permissions_xml(
      {role_grant(Role::kNode, "n1", "CN=/coedge/node/n1", "2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z")});
  EXPECT_NE(xml.find("omg_shared_ca_permissions.xsd"), std::string::npos);
  EXPECT_EQ(count(xml, "<grant name=\"/coedge/node/n1\">"), 1u);
  EXPECT_EQ(value(xml, "subject_name"), "CN=/coedge/node/n1");
  EXPECT_EQ(value(xml, "not_before"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(value(xml, "not_after"), "2036-01-01T00:00:00Z");
  EXPECT_EQ(value(xml, "default"), "DENY");
  EXPECT_EQ(count(xml, "<allow_rule>"), 1u);
  EXPECT_EQ(count(xml, "<deny_rule>"), 0u);
  EXPECT_EQ(value(element(xml, "allow_rule", 0), "max"), "230");
}

TEST(PermissionsXml, MasterAloneWritesPlanAndCommand) {
  const std::string master = permissions_xml({role_grant(Role::kMaster, "", "CN=/coedge/master", "a", "b")});
  EXPECT_EQ(allowed(master, "publish"),
            (std::vector<std::string>{"rt/coedge/plan@coedge.master", "rt/coedge/command@coedge.master"}));
  EXPECT_EQ(allowed(master, "subscribe"), (std::vector<std::string>{"*@*"}));
  for (Role role : {Role::kNode, Role::kCamera}) {
    const std::string xml = permissions_xml({role_grant(role, "n1", "CN=x", "a", "b")});
    for (const std::string& p : allowed(xml, "publish")) {
      EXPECT_EQ(p.find("rt/coedge/plan"), std::string::npos) << p;
      EXPECT_EQ(p.find("rt/coedge/command"), std::string::npos) << p;
      EXPECT_EQ(p.find("*@"), std::string::npos) << "no catch-all publish: " << p;
    }
  }
}

TEST(PermissionsXml, NodeWritesReportsAndClaimsOnlyInItsOwnPartition) {
  const std::string xml = permissions_xml({role_grant(Role::kNode, "n1", "CN=/coedge/node/n1", "a", "b")});
  EXPECT_EQ(allowed(xml, "publish"),
            (std::vector<std::string>{"rt/coedge/node_report@coedge.node.n1", "rt/coedge/task_ack@coedge.node.n1",
                                      "rt/coedge/*/detections@", "rt/coedge/*/classification@"}));
  EXPECT_EQ(allowed(xml, "subscribe"),
            (std::vector<std::string>{"rt/coedge/plan@", "rt/coedge/plan@coedge.master", "rt/coedge/plan@coedge.node.*",
                                      "rt/coedge/command@", "rt/coedge/command@coedge.master",
                                      "rt/coedge/command@coedge.node.*", "rt/coedge/task_ack@",
                                      "rt/coedge/task_ack@coedge.master", "rt/coedge/task_ack@coedge.node.*", "*@",
                                      "*@coedge.camera.*"}));
}

TEST(PermissionsXml, CameraWritesOnlyItsImagesAndItsSourceStats) {
  const std::string xml = permissions_xml({role_grant(Role::kCamera, "n2", "CN=/coedge/camera/n2", "a", "b")});
  EXPECT_EQ(value(xml, "subject_name"), "CN=/coedge/camera/n2");
  EXPECT_EQ(allowed(xml, "publish"),
            (std::vector<std::string>{"rt/coedge/n2/*/image_raw@", "rt/coedge/n2/*/image_raw@coedge.camera.n2",
                                      "rt/coedge/source_stats@coedge.camera.n2"}));
  for (const std::string& s : allowed(xml, "subscribe")) {
    EXPECT_TRUE(s.rfind("rt/coedge/plan@", 0) == 0 || s.rfind("rt/coedge/command@", 0) == 0 ||
                s.rfind("rt/coedge/task_ack@", 0) == 0)
        << s;
  }
}

TEST(PermissionsXml, EscapesMarkup) {
  const std::string xml = permissions_xml({role_grant(Role::kMaster, "", "CN=a<b&c", "a", "b")});
  EXPECT_EQ(value(xml, "subject_name"), "CN=a&lt;b&amp;c");
}

TEST(EnclaveName, OnePerRole) {
  EXPECT_EQ(enclave_name(Role::kMaster, ""), "/coedge/master");
  EXPECT_EQ(enclave_name(Role::kNode, "n1"), "/coedge/node/n1");
  EXPECT_EQ(enclave_name(Role::kCamera, "n1"), "/coedge/camera/n1");
}

}  // namespace
}  // namespace coedge::security
