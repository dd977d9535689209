// check_listen_address and listen_spec: the IPv4 literals a metrics endpoint may bind to.
#include "config/listen_address.h"

#include <gtest/gtest.h>

namespace coedge::config {
namespace {

TEST(ListenAddressTest, AcceptsIpv4LiteralsOnly) {
  for (const char* ok : {"127.0.0.1", "0.0.0.0", "10.1.2.3"}) {
    EXPECT_TRUE(check_listen_address(ok).ok()) << ok;
  }
  for (const char* bad : {"", "localhost", "127.0.0.1:9464", "256.0.0.1", "1.2.3", " 127.0.0.1", "[::1"}) {
    const Status st = check_listen_address(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(st.error().message.find(std::string("'") + bad + "' is not an IP address"), std::string::npos)
        << st.error().message;
  }
  EXPECT_EQ(kDefaultMetricsAddress, "127.0.0.1");
}

TEST(ListenAddressTest, Ipv6IsRefusedWithTheReason) {
  for (const char* v6 : {"::", "::1", "[::1]", "fe80::1"}) {
    const Status st = check_listen_address(v6);
    ASSERT_FALSE(st.ok()) << v6;
    EXPECT_NE(st.error().message.find("is an IPv6 address; the metrics endpoint binds IPv4 only"),
              std::string::npos)
        << st.error().message;
    EXPECT_NE(st.error().message.find("0.0.0.0"), std::string::npos);
  }
}

TEST(ListenAddressTest, SpecIsHostColonPort) {
  EXPECT_EQ(listen_spec("127.0.0.1", 9464), "127.0.0.1:9464");
  EXPECT_EQ(listen_spec("0.0.0.0", 80), "0.0.0.0:80");
}

}  // namespace
}  // namespace coedge::config
