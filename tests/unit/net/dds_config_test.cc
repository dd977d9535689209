// Tests of the Cyclone XML that DdsDomain uses (net::dds_config_xml), with and without DDS
// Security, of the security plugin folder and of partition names (net/dds.h). Pure: no
// participant is created here (dds_security_test does that).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "net/dds.h"

namespace coedge::net {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

DdsSecurityFiles files(const std::string& dir) {
  return DdsSecurityFiles{dir + "/ca.cert.pem", dir + "/n1.cert.pem", dir + "/n1.key.pem",
                          dir + "/ca.cert.pem", dir + "/governance.p7s",
                          dir + "/n1.permissions.p7s", ""};
}

// Runs `fn` with COEDGE_DDS_SECURITY_PLUGIN_DIR set to `value` (unset when null), then
// restores it.
template <typename Fn>
void with_plugin_dir(const char* value, Fn fn) {
  const char* old = getenv("COEDGE_DDS_SECURITY_PLUGIN_DIR");
  std::string saved = old ? old : "";
  if (value) setenv("COEDGE_DDS_SECURITY_PLUGIN_DIR", value, 1);
  else unsetenv("COEDGE_DDS_SECURITY_PLUGIN_DIR");
  fn();
  if (old) setenv("COEDGE_DDS_SECURITY_PLUGIN_DIR", saved.c_str(), 1);
  else unsetenv("COEDGE_DDS_SECURITY_PLUGIN_DIR");
}

TEST(DdsConfigXml, PlainDomainHasNoSecurity) {
  DdsOptions o;
  o.peers = {"10.0.0.2"};
  std::string xml = dds_config_xml(o);
  EXPECT_EQ(xml.find("<Security>"), std::string::npos) << xml;
  EXPECT_EQ(count(xml, "<Domain "), 1u);
  EXPECT_NE(xml.find("<Peer Address=\"10.0.0.2\"/>"), std::string::npos) << xml;
}

TEST(DdsConfigXml, SecurityNamesThePluginsByFullPathAndTheFilesAsFileUris) {
  with_plugin_dir("/opt/cyclone plugins", [] {
    DdsOptions o;
    o.security = files("/keys");
    std::string xml = dds_config_xml(o);
    // One Security element, inside the Domain, after the rest of the configuration.
    ASSERT_EQ(count(xml, "<Security>"), 1u) << xml;
    ASSERT_EQ(count(xml, "</Security>"), 1u);
    EXPECT_LT(xml.find("</Internal>"), xml.find("<Security>"));
    EXPECT_LT(xml.find("</Security>"), xml.find("</Domain>"));
    for (const char* e : {"Authentication", "AccessControl", "Cryptographic"}) {
      EXPECT_EQ(count(xml, std::string("<") + e + ">"), 1u) << e;
    }
    EXPECT_NE(xml.find("<Library path=\"/opt/cyclone plugins/libdds_security_auth.so\" "
                       "initFunction=\"init_authentication\" "
                       "finalizeFunction=\"finalize_authentication\"/>"),
              std::string::npos)
        << xml;
    EXPECT_NE(xml.find("path=\"/opt/cyclone plugins/libdds_security_ac.so\" "
                       "initFunction=\"init_access_control\""),
              std::string::npos);
    EXPECT_NE(xml.find("path=\"/opt/cyclone plugins/libdds_security_crypto.so\" "
                       "initFunction=\"init_crypto\""),
              std::string::npos);
    EXPECT_NE(xml.find("<IdentityCA>file:/keys/ca.cert.pem</IdentityCA>"), std::string::npos);
    EXPECT_NE(xml.find("<IdentityCertificate>file:/keys/n1.cert.pem</IdentityCertificate>"),
              std::string::npos);
    EXPECT_NE(xml.find("<PrivateKey>file:/keys/n1.key.pem</PrivateKey>"), std::string::npos);
    EXPECT_NE(xml.find("<PermissionsCA>file:/keys/ca.cert.pem</PermissionsCA>"),
              std::string::npos);
    EXPECT_NE(xml.find("<Governance>file:/keys/governance.p7s</Governance>"), std::string::npos);
    EXPECT_NE(xml.find("<Permissions>file:/keys/n1.permissions.p7s</Permissions>"),
              std::string::npos);
    // The files are in their plugin's element.
    EXPECT_LT(xml.find("<PrivateKey>"), xml.find("</Authentication>"));
    EXPECT_GT(xml.find("<Permissions>"), xml.find("<AccessControl>"));
    EXPECT_EQ(xml.find("<CRL>"), std::string::npos);  // none given

    o.security->crl = "/keys/crl.pem";
    xml = dds_config_xml(o);
    EXPECT_NE(xml.find("<CRL>file:/keys/crl.pem</CRL>"), std::string::npos) << xml;
    EXPECT_LT(xml.find("<CRL>"), xml.find("</Authentication>"));
  });
}

TEST(DdsConfigXml, PathsAreXmlEscaped) {
  with_plugin_dir("/p<&>", [] {
    DdsOptions o;
    o.security = files("/k&<\"'>");
    std::string xml = dds_config_xml(o);
    EXPECT_NE(xml.find("<IdentityCA>file:/k&amp;&lt;&quot;&apos;&gt;/ca.cert.pem</IdentityCA>"),
              std::string::npos)
        << xml;
    EXPECT_NE(xml.find("path=\"/p&lt;&amp;&gt;/libdds_security_auth.so\""), std::string::npos);
    EXPECT_EQ(xml.find("/k&<"), std::string::npos);
  });
}

TEST(DdsSecurityPluginDir, TheEnvironmentOverridesTheBuiltInFolder) {
  with_plugin_dir("/somewhere/else", [] { EXPECT_EQ(dds_security_plugin_dir(), "/somewhere/else"); });
  with_plugin_dir(nullptr, [] {
    // The folder CMake found (Debian: .../libddsc0debian), where the auth plugin is.
    const std::string dir = dds_security_plugin_dir();
    ASSERT_FALSE(dir.empty()) << "CMake found no Cyclone security plugins on this machine";
    EXPECT_EQ(access((dir + "/libdds_security_auth.so").c_str(), R_OK), 0) << dir;
  });
}

TEST(PartitionNames, WildcardsAndEmptyNamesAreRefused) {
  EXPECT_EQ(node_partition("n1"), "coedge.node.n1");
  EXPECT_EQ(camera_partition("n1"), "coedge.camera.n1");
  EXPECT_TRUE(check_partition_name("node", "n1"));
  EXPECT_TRUE(check_partition_name("node", "edge-3.lab_2"));
  EXPECT_TRUE(check_partition_name("node", std::string(kMaxSampleName, 'a')));
  for (std::string bad : {"", "*", "n?", "n[12]", "a]", "back\\slash"}) {
    auto s = check_partition_name("node name", bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(s.error().message.find("node name"), std::string::npos) << s.error().message;
    if (!bad.empty()) {
      EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
    }
  }
  EXPECT_FALSE(check_partition_name("node", std::string(kMaxSampleName + 1, 'a')));
}

}  // namespace
}  // namespace coedge::net
