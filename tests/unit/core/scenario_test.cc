#include "core/scenario.h"

#include <gtest/gtest.h>

#include "core/rng.h"

namespace coedge {
namespace {

TEST(Network, ExplicitLinksOverrideTheDefaultBothWays) {
  Network n;
  n.adjacency.resize(3);
  n.default_mbps = 50;
  n.set(2, 0, 100, from_ms(2));
  EXPECT_DOUBLE_EQ(n.mbps(0, 2), 100);
  EXPECT_DOUBLE_EQ(n.mbps(2, 0), 100);
  EXPECT_EQ(n.latency(0, 2), from_ms(2));
  EXPECT_DOUBLE_EQ(n.mbps(0, 1), 50);
  n.set(0, 2, 10, from_ms(1));  // replaces, does not duplicate
  EXPECT_EQ(n.adjacency[0].size(), 1u);
  EXPECT_DOUBLE_EQ(n.mbps(2, 0), 10);
}

TEST(TransferTime, RoundsUpToTheMicrosecond) {
  EXPECT_EQ(transfer_time(12500, 100), Duration(1000));
  EXPECT_EQ(transfer_time(1, 100), Duration(1));  // 0.08 us
}

TEST(FormatDuration, PicksTheLargestExactUnit) {
  EXPECT_EQ(format_duration(from_ms(1300)), "1300ms");
  EXPECT_EQ(format_duration(from_ms(2000)), "2s");
  EXPECT_EQ(format_duration(Duration(1500)), "1500us");
}

TEST(Rng, IsDeterministicAndUniformInRange) {
  Rng a(7), b(7), c(8);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(a.next(), c.next());
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = a.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

}  // namespace
}  // namespace coedge
