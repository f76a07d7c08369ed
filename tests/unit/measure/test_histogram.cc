// SPDX-License-Identifier: BSD-3-Clause
#include <cstdint>
#include <gtest/gtest.h>
#include <limits>

#include "measure/histogram.h"

namespace flowteam::measure {
namespace {

using H8 = Log2Histogram<8>; // bins: 0 | 1 | 2-3 | 4-7 | 8-15 | 16-31 | 32-63 | >=64

TEST(Log2Histogram, BinEdges) {
    EXPECT_EQ(H8::bin_of(0), 0u);
    EXPECT_EQ(H8::bin_of(1), 1u);
    EXPECT_EQ(H8::bin_of(2), 2u);
    EXPECT_EQ(H8::bin_of(3), 2u);
    EXPECT_EQ(H8::bin_of(4), 3u);
    EXPECT_EQ(H8::bin_of(63), 6u);
    EXPECT_EQ(H8::bin_of(64), 7u);
    EXPECT_EQ(H8::bin_of(std::numeric_limits<std::uint64_t>::max()), 7u);
    EXPECT_EQ(H8::bin_lower(3), 4u);
    EXPECT_EQ(H8::bin_upper(3), 7u);
    EXPECT_EQ(H8::bin_upper(0), 0u);
    EXPECT_EQ(H8::bin_upper(7), std::numeric_limits<std::uint64_t>::max());
    for (std::size_t b = 1; b + 1 < H8::kBins; ++b) {
        EXPECT_EQ(H8::bin_of(H8::bin_lower(b)), b);
        EXPECT_EQ(H8::bin_of(H8::bin_upper(b)), b);
    }
    // 65 bins: every bit width has its own bin, the last holds 2^63..
    using H65 = Log2Histogram<65>;
    EXPECT_EQ(H65::bin_of(std::uint64_t{1} << 63), 64u);
    EXPECT_EQ(H65::bin_upper(63), (std::uint64_t{1} << 63) - 1);
}

TEST(Log2Histogram, CountSumMaxMean) {
    H8 h;
    EXPECT_EQ(h.mean(), 0.0);
    EXPECT_EQ(h.percentile(0.5), 0u);
    h.add(1);
    h.add(5);
    h.add(5);
    h.add(100);
    EXPECT_EQ(h.count, 4u);
    EXPECT_EQ(h.sum, 111u);
    EXPECT_EQ(h.max, 100u);
    EXPECT_DOUBLE_EQ(h.mean(), 111.0 / 4.0);
    EXPECT_EQ(h.bins[1], 1u);
    EXPECT_EQ(h.bins[3], 2u);
    EXPECT_EQ(h.bins[7], 1u);
    h.add(2, 10); // weighted
    EXPECT_EQ(h.count, 14u);
    EXPECT_EQ(h.sum, 131u);
    EXPECT_EQ(h.bins[2], 10u);
}

TEST(Log2Histogram, Percentile) {
    H8 h;
    for (int k = 0; k < 90; ++k)
        h.add(1);
    for (int k = 0; k < 9; ++k)
        h.add(6); // bin 4-7
    h.add(40);    // bin 32-63
    EXPECT_EQ(h.percentile(0.0), 1u);
    EXPECT_EQ(h.percentile(0.5), 1u);
    EXPECT_EQ(h.percentile(0.90), 1u); // 90th sample is still a 1
    EXPECT_EQ(h.percentile(0.91), 7u); // upper edge of 4-7
    EXPECT_EQ(h.percentile(0.99), 7u);
    EXPECT_EQ(h.percentile(0.995), 40u); // bin 32-63, clamped to max
    EXPECT_EQ(h.percentile(1.0), 40u);
}

TEST(Log2Histogram, MergeEqualsAddingEverything) {
    H8 a, b, all;
    for (std::uint64_t v : {0u, 1u, 9u, 300u}) {
        a.add(v);
        all.add(v);
    }
    for (std::uint64_t v : {2u, 9u, 17u}) {
        b.add(v);
        all.add(v);
    }
    a.merge(b);
    EXPECT_EQ(a, all);
    EXPECT_EQ(a.max, 300u);
    EXPECT_EQ(a.count, 7u);
}

} // namespace
} // namespace flowteam::measure
