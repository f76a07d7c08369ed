// SPDX-License-Identifier: BSD-3-Clause
// Apportionment helpers and the member set (weights, view).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "teaming/members.h"
#include "teaming/quota.h"

namespace flowteam::teaming {
namespace {

TEST(LargestRemainder, HandCheckedValues) {
    {
        const std::uint32_t w[] = {1, 1, 1};
        std::uint32_t q[3];
        largest_remainder(10, w, 3, q);
        EXPECT_EQ(q[0], 4u); // remainders tie: lowest index gets the leftover
        EXPECT_EQ(q[1], 3u);
        EXPECT_EQ(q[2], 3u);
    }
    {
        const std::uint32_t w[] = {10, 1}; // 1024*10/11 = 930.9, 1024/11 = 93.09
        std::uint32_t q[2];
        largest_remainder(1024, w, 2, q);
        EXPECT_EQ(q[0], 931u);
        EXPECT_EQ(q[1], 93u);
    }
    {
        const std::uint32_t w[] = {1, 2, 3, 4}; // 100 * {.1,.2,.3,.4}
        std::uint32_t q[4];
        largest_remainder(100, w, 4, q);
        EXPECT_EQ(q[0], 10u);
        EXPECT_EQ(q[1], 20u);
        EXPECT_EQ(q[2], 30u);
        EXPECT_EQ(q[3], 40u);
    }
    {
        const std::uint32_t w[] = {1, 1, 2}; // 5 * {.25,.25,.5} = 1.25 1.25 2.5 -> 1 1 3? remainders .25 .25 .5
        std::uint32_t q[3];
        largest_remainder(5, w, 3, q);
        EXPECT_EQ(q[0], 1u);
        EXPECT_EQ(q[1], 1u);
        EXPECT_EQ(q[2], 3u);
    }
    {
        const std::uint32_t w[] = {0, 1, 0};
        std::uint32_t q[3];
        largest_remainder(7, w, 3, q);
        EXPECT_EQ(q[0], 0u);
        EXPECT_EQ(q[1], 7u);
        EXPECT_EQ(q[2], 0u);
    }
    {
        const std::uint32_t w[] = {0, 0};
        std::uint32_t q[2] = {5, 5};
        largest_remainder(7, w, 2, q);
        EXPECT_EQ(q[0], 0u);
        EXPECT_EQ(q[1], 0u);
    }
}

TEST(LargestRemainder, RandomWeightsSumAndWithinOne) {
    std::mt19937 rng(42);
    for (int trial = 0; trial < 2000; ++trial) {
        const std::size_t n = 1 + rng() % 16;
        std::vector<std::uint32_t> w(n), q(n);
        std::uint64_t wsum = 0;
        for (auto& x : w) {
            x = rng() % 5 == 0 ? 0 : 1 + rng() % 1000;
            wsum += x;
        }
        const std::uint32_t total = 1 + rng() % 5000;
        largest_remainder(total, w.data(), n, q.data());
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < n; ++i) {
            sum += q[i];
            if (wsum == 0) continue;
            const double exact = double(total) * w[i] / double(wsum);
            EXPECT_LT(std::fabs(q[i] - exact), 1.0) << "trial " << trial;
            if (w[i] == 0) {
                EXPECT_EQ(q[i], 0u);
            }
        }
        if (wsum > 0) {
            EXPECT_EQ(sum, total) << "trial " << trial;
        }
    }
}

TEST(Interleave, HandCheckedAndExactCounts) {
    std::int64_t scratch[3];
    {
        const std::uint32_t c[] = {2, 1};
        std::uint32_t out[3];
        ASSERT_EQ(interleave(c, 2, scratch, out), 3u);
        EXPECT_EQ(out[0], 0u);
        EXPECT_EQ(out[1], 1u);
        EXPECT_EQ(out[2], 0u);
    }
    {
        const std::uint32_t c[] = {2, 2, 2};
        std::uint32_t out[6];
        ASSERT_EQ(interleave(c, 3, scratch, out), 6u);
        const std::uint32_t want[] = {0, 1, 2, 0, 1, 2};
        for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want[i]);
    }
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t n = 1 + rng() % 8;
        std::vector<std::uint32_t> c(n);
        std::uint32_t total = 0;
        for (auto& x : c) total += (x = rng() % 50);
        std::vector<std::int64_t> s(n);
        std::vector<std::uint32_t> out(total);
        ASSERT_EQ(interleave(c.data(), n, s.data(), out.data()), total);
        std::vector<std::uint32_t> got(n);
        for (std::uint32_t k = 0; k < total; ++k) {
            ASSERT_LT(out[k], n);
            ++got[out[k]];
            // smooth: every prefix within one of the proportional count
            for (std::size_t i = 0; i < n; ++i)
                EXPECT_LT(std::fabs(got[i] - double(k + 1) * c[i] / total), 1.0 + 1e-9);
        }
        EXPECT_EQ(got, c);
    }
}

TEST(Members, WeightsDerivedFromCapacity) {
    std::uint32_t w[3];
    {
        const MemberInfo m[] = {{10'000'000'000ull, 1, true}, {1'000'000'000ull, 1, true}};
        derive_weights(m, 2, w);
        EXPECT_EQ(w[0], 10u);
        EXPECT_EQ(w[1], 1u);
    }
    {
        const MemberInfo m[] = {{25'000'000'000ull, 1, true}, {10'000'000'000ull, 1, true}};
        derive_weights(m, 2, w);
        EXPECT_EQ(w[0], 5u);
        EXPECT_EQ(w[1], 2u);
    }
    {
        const MemberInfo m[] = {{10'000'000'000ull, 0, true}, {10'000'000'000ull, 0, true},
                                {1'500'000'000ull, 0, true}};
        derive_weights(m, 3, w); // 10000:10000:1500 / 500
        EXPECT_EQ(w[0], 20u);
        EXPECT_EQ(w[1], 20u);
        EXPECT_EQ(w[2], 3u);
    }
    {
        const MemberInfo m[] = {{10'000'000'000ull, 3, true}, {1'000'000'000ull, 1, true}};
        derive_weights(m, 2, w); // given explicitly: kept
        EXPECT_EQ(w[0], 3u);
        EXPECT_EQ(w[1], 1u);
    }
    {
        const MemberInfo m[] = {{500'000ull, 1, true}, {2'000'000ull, 1, true}}; // < 1 Mb/s counts as 1
        derive_weights(m, 2, w);
        EXPECT_EQ(w[0], 1u);
        EXPECT_EQ(w[1], 2u);
    }
}

TEST(Members, BadConfigThrows) {
    std::uint32_t w[2];
    const MemberInfo zero_w[] = {{10'000'000'000ull, 2, true}, {10'000'000'000ull, 0, true}};
    EXPECT_THROW(derive_weights(zero_w, 2, w), std::invalid_argument);
    const MemberInfo zero_cap[] = {{0, 1, true}, {10'000'000'000ull, 1, true}};
    EXPECT_THROW(derive_weights(zero_cap, 2, w), std::invalid_argument);
    MemberInfo many[kMaxMembers + 1] = {};
    EXPECT_THROW(MemberSet(many, 0), std::invalid_argument);
    EXPECT_THROW(MemberSet(many, kMaxMembers + 1), std::invalid_argument);
    EXPECT_NO_THROW(MemberSet(many, kMaxMembers));
    try {
        MemberSet s(zero_cap, 2);
        FAIL() << "no throw";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("members[0].capacity_bps"), std::string::npos) << e.what();
    }
}

TEST(Members, ViewTracksUpDown) {
    MemberInfo m[4] = {};
    m[2].up = false;
    MemberSet s(m, 4);
    EXPECT_EQ(s.view().n_members, 4);
    EXPECT_EQ(s.view().n_active, 3);
    EXPECT_EQ(s.view().active_mask, 0b1011u);
    EXPECT_EQ(s.view().active[0], 0);
    EXPECT_EQ(s.view().active[1], 1);
    EXPECT_EQ(s.view().active[2], 3);
    EXPECT_FALSE(s.set_up(1, true)); // already up
    EXPECT_TRUE(s.set_up(1, false));
    EXPECT_TRUE(s.set_up(2, true));
    EXPECT_EQ(s.view().active_mask, 0b1101u);
    EXPECT_EQ(s.view().n_active, 3);
    EXPECT_EQ(s.view().active[0], 0);
    EXPECT_EQ(s.view().active[1], 2);
    EXPECT_EQ(s.view().active[2], 3);
    EXPECT_FALSE(s.view().is_up(1));
    EXPECT_FALSE(s.view().is_up(7)); // not configured
    EXPECT_THROW(s.set_up(4, true), std::invalid_argument);
}

} // namespace
} // namespace flowteam::teaming
