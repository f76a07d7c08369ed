// SPDX-License-Identifier: BSD-3-Clause
// Flow completion time: buckets, histogram bins and percentiles against a
// sorted reference, per-flow completion under reordering, incomplete and
// unbounded flows, merging.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "measure/fct.h"

namespace flowteam::measure {
namespace {

TEST(FctBucket, Edges) {
    EXPECT_EQ(fct_bucket_of(32), 0u);
    EXPECT_EQ(fct_bucket_of(99'999), 0u);
    EXPECT_EQ(fct_bucket_of(100'000), 1u);
    EXPECT_EQ(fct_bucket_of(10'000'000), 1u);
    EXPECT_EQ(fct_bucket_of(10'000'001), 2u);
    EXPECT_STREQ(fct_bucket_name(0), "<100KB");
    EXPECT_STREQ(fct_bucket_name(1), "100KB-10MB");
    EXPECT_STREQ(fct_bucket_name(2), ">10MB");
}

TEST(FctHistogram, BinsCoverEveryValueOnce) {
    // Consecutive bins tile the value range without gaps or overlap.
    for (std::size_t b = 0; b + 1 < FctHistogram::kBins; ++b) {
        ASSERT_LE(FctHistogram::bin_lower(b), FctHistogram::bin_upper(b)) << b;
        ASSERT_EQ(FctHistogram::bin_upper(b) + 1, FctHistogram::bin_lower(b + 1)) << b;
    }
    EXPECT_EQ(FctHistogram::bin_upper(FctHistogram::kBins - 1), UINT64_MAX);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 100000; ++i) {
        const std::uint64_t v = rng() >> (rng() % 64);
        const std::size_t b = FctHistogram::bin_of(v);
        ASSERT_LT(b, FctHistogram::kBins);
        ASSERT_GE(v, FctHistogram::bin_lower(b));
        ASSERT_LE(v, FctHistogram::bin_upper(b));
        // relative bin width <= 1/16
        if (v >= 16) {
            ASSERT_LE(FctHistogram::bin_upper(b) - FctHistogram::bin_lower(b), v / 16);
        }
    }
}

TEST(FctHistogram, PercentilesWithinOneBinOfTheExactValue) {
    std::mt19937_64 rng(11);
    std::lognormal_distribution<double> d(10.0, 2.0);
    FctHistogram h;
    std::vector<std::uint64_t> v;
    for (int i = 0; i < 5000; ++i) {
        const auto x = static_cast<std::uint64_t>(d(rng)) + 1;
        v.push_back(x);
        h.add(x);
    }
    std::sort(v.begin(), v.end());
    EXPECT_EQ(h.count, v.size());
    EXPECT_EQ(h.min, v.front());
    EXPECT_EQ(h.max, v.back());
    double sum = 0;
    for (auto x : v) sum += static_cast<double>(x);
    EXPECT_DOUBLE_EQ(h.mean(), sum / static_cast<double>(v.size()));
    for (double p : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999}) {
        const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
        const std::uint64_t exact = v[rank - 1];
        const std::uint64_t got = h.percentile(p);
        EXPECT_GE(got, exact) << p;                       // the bin's upper edge
        EXPECT_LE(got, exact + exact / 16 + 1) << p;      // within one bin (6.25 %)
    }
    EXPECT_EQ(h.percentile(1.0), v.back());
    EXPECT_EQ(h.percentile(0.0), v.front());
    EXPECT_EQ(FctHistogram{}.percentile(0.99), 0u);
}

TEST(FctHistogram, MergeEqualsAddingEverything) {
    FctHistogram a, b, all;
    for (std::uint64_t x = 1; x < 3000; x += 7) {
        (x % 2 ? a : b).add(x * x);
        all.add(x * x);
    }
    FctHistogram m = a;
    m.merge(b);
    EXPECT_EQ(m.bins, all.bins);
    EXPECT_EQ(m.count, all.count);
    EXPECT_EQ(m.sum, all.sum);
    EXPECT_EQ(m.min, all.min);
    EXPECT_EQ(m.max, all.max);
    FctHistogram e;
    e.merge(a);
    EXPECT_EQ(e.min, a.min);
}

// A flow of 4 packets (1000 + 1000 + 1000 + 500 payload bytes) sent at ticks
// 100, 110, 120, 130 arrives reordered: the completion is the arrival of the
// last byte to arrive, whatever its sequence number.
TEST(FlowFct, CompletesOnTheLastByteToArrive) {
    FlowFct f;
    Tick fct = 0;
    const std::uint64_t size = 3500;
    EXPECT_FALSE(f.on_packet(110, 1110, 1000, size, fct));   // seq 1 first
    EXPECT_FALSE(f.on_packet(130, 1130, 500, size, fct));    // seq 3
    EXPECT_FALSE(f.on_packet(100, 1200, 1000, size, fct));   // seq 0, late
    EXPECT_TRUE(f.on_packet(120, 1300, 1000, size, fct));    // seq 2 completes it
    EXPECT_EQ(fct, 1300u - 100u);                            // from the first packet's send tick
    EXPECT_FALSE(f.on_packet(120, 1400, 1000, size, fct));   // nothing after completion
    EXPECT_TRUE(f.done);
}

TEST(FctStats, IncompleteAndUnboundedAreCountedApart) {
    FctStats s;
    FlowFct small, big, endless;
    Tick fct = 0;
    ASSERT_TRUE(small.on_packet(10, 60, 1000, 1000, fct));
    s.on_complete(1000, fct);
    s.on_retire(small);                          // completed: not counted again
    EXPECT_FALSE(big.on_packet(10, 20, 1448, 20'000'000, fct));
    s.on_retire(big);                            // short of bytes at the end
    EXPECT_FALSE(endless.on_packet(10, 20, 1448, 0, fct));
    s.on_retire(endless);                        // no size: no FCT
    EXPECT_EQ(s.completed(), 1u);
    EXPECT_EQ(s.done[0].count, 1u);
    EXPECT_EQ(s.done[0].sum, 50u);
    EXPECT_EQ(s.incomplete[2], 1u);
    EXPECT_EQ(s.incomplete_total(), 1u);
    EXPECT_EQ(s.unbounded, 1u);

    FctStats t;
    t.on_complete(200'000, 500);
    t.merge(s);
    EXPECT_EQ(t.completed(), 2u);
    EXPECT_EQ(t.done[1].count, 1u);
    EXPECT_EQ(t.all().count, 2u);
    EXPECT_EQ(t.all().max, 500u);
    EXPECT_EQ(t.unbounded, 1u);
}

} // namespace
} // namespace flowteam::measure
