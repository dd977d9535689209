// The RouDi memory-pool configuration: normalise_pools() adds the chunk-header and
// alignment overhead (128 bytes) and rounds every chunk size up to a multiple of 4 KiB,
// merges pools that end up the same size (adding their counts), sorts them by size and
// leaves out pools with no chunks; roudi_config_toml() writes the [general] version and one
// [[segment]] with a [[segment.mempool]] (size, count) per pool, in the given order.
#include "ipc/roudi_config.h"

#include <gtest/gtest.h>

#include <sstream>

namespace coedge::ipc {

// For EXPECT_EQ on pool lists (found by argument-dependent lookup, so not in the
// anonymous namespace; static keeps them private to this file).
static bool operator==(const MemPool& a, const MemPool& b) {
  return a.chunk_bytes == b.chunk_bytes && a.count == b.count;
}
[[maybe_unused]] static void PrintTo(const MemPool& p, std::ostream* os) {
  *os << "{" << p.chunk_bytes << ", " << p.count << "}";
}

namespace {

TEST(NormalisePools, RoundsUpToFourKibIncludingTheOverhead) {
  // 128 bytes of overhead are added before rounding.
  EXPECT_EQ(normalise_pools({{0, 1}}), (std::vector<MemPool>{{4096, 1}}));
  EXPECT_EQ(normalise_pools({{1, 1}}), (std::vector<MemPool>{{4096, 1}}));
  EXPECT_EQ(normalise_pools({{4096 - 128, 1}}), (std::vector<MemPool>{{4096, 1}}));
  EXPECT_EQ(normalise_pools({{4096 - 127, 1}}), (std::vector<MemPool>{{8192, 1}}));
  EXPECT_EQ(normalise_pools({{4096, 2}}), (std::vector<MemPool>{{8192, 2}}));
  // A 640x640x3 float tensor plus a header.
  const uint64_t tensor = 640ull * 640 * 3 * 4 + 200;
  const auto pools = normalise_pools({{tensor, 8}});
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0].chunk_bytes % 4096, 0u);
  EXPECT_GE(pools[0].chunk_bytes, tensor + 128);
  EXPECT_LT(pools[0].chunk_bytes, tensor + 128 + 4096);
  EXPECT_EQ(pools[0].count, 8u);
}

TEST(NormalisePools, MergesEqualSizesAndSorts) {
  const auto pools = normalise_pools({
      {100000, 3},  // -> 102400 (25 pages)
      {10, 5},      // -> 4096
      {3000, 2},    // -> 4096: merged with the one above
      {9000, 1},    // -> 12288
      {100100, 4},  // -> 102400: merged
  });
  EXPECT_EQ(pools, (std::vector<MemPool>{{4096, 7}, {12288, 1}, {102400, 7}}));
}

TEST(NormalisePools, SkipsPoolsWithoutChunks) {
  EXPECT_TRUE(normalise_pools({}).empty());
  EXPECT_TRUE(normalise_pools({{1000, 0}, {50000, 0}}).empty());
  EXPECT_EQ(normalise_pools({{1000, 0}, {2000, 3}, {70000, 0}}),
            (std::vector<MemPool>{{4096, 3}}));
}

TEST(NormalisePools, OutputIsSortedWholePages) {
  const auto once = normalise_pools({{5000, 2}, {100, 1}});
  EXPECT_EQ(once, (std::vector<MemPool>{{4096, 1}, {8192, 2}}));
  for (const MemPool& p : once) EXPECT_EQ(p.chunk_bytes % 4096, 0u);
}

TEST(RoudiConfigToml, WritesOneSegmentWithAMempoolPerPool) {
  const std::string text = roudi_config_toml({{4096, 7}, {12288, 1}});
  EXPECT_EQ(text,
            "# written by the coedge node agent\n"
            "[general]\n"
            "version = 1\n"
            "\n"
            "[[segment]]\n"
            "\n"
            "[[segment.mempool]]\n"
            "size = 4096\n"
            "count = 7\n"
            "\n"
            "[[segment.mempool]]\n"
            "size = 12288\n"
            "count = 1\n");
}

TEST(RoudiConfigToml, EmptyPoolListStillHasTheHeaderAndSegment) {
  const std::string text = roudi_config_toml({});
  EXPECT_NE(text.find("[general]\nversion = 1\n"), std::string::npos);
  EXPECT_NE(text.find("[[segment]]\n"), std::string::npos);
  EXPECT_EQ(text.find("[[segment.mempool]]"), std::string::npos);
}

TEST(RoudiConfigToml, LargeSizesAreWrittenAsPlainIntegers) {
  const auto pools = normalise_pools({{uint64_t{3} << 30, 2}});  // 3 GiB: one more page
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0].chunk_bytes, (uint64_t{3} << 30) + 4096);
  const std::string text = roudi_config_toml(pools);
  // Not "3.22123e+09": the integer, digit for digit.
  EXPECT_NE(text.find("\nsize = 3221229568\ncount = 2\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace coedge::ipc
