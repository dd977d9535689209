// check_listen_address and listen_spec: the IP literals a metrics endpoint may bind to.
#include "config/listen_address.h"

#include <gtest/gtest.h>

namespace coedge::config {
namespace {

TEST(ListenAddressTest, AcceptsIpLiteralsOnly) {
  for (const char* ok : {"127.0.0.1", "0.0.0.0", "10.1.2.3", "::", "::1", "[::1]", "fe80::1"}) {
    EXPECT_TRUE(check_listen_address(ok).ok()) << ok;
  }
  for (const char* bad : {"", "localhost", "127.0.0.1:9464", "256.0.0.1", "[::1", "::g", " 127.0.0.1"}) {
    const Status st = check_listen_address(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(st.error().message.find(std::string("'") + bad + "' is not an IP address"), std::string::npos)
        << st.error().message;
  }
  EXPECT_EQ(kDefaultMetricsAddress, "127.0.0.1");
}

TEST(ListenAddressTest, BracketsIpv6ForTheHttpServer) {
  EXPECT_EQ(listen_spec("127.0.0.1", 9464), "127.0.0.1:9464");
  EXPECT_EQ(listen_spec("::1", 9464), "[::1]:9464");
  EXPECT_EQ(listen_spec("[::]", 80), "[::]:80");
}

}  // namespace
}  // namespace coedge::config
