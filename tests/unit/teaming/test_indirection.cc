// SPDX-License-Identifier: BSD-3-Clause
// Stable indirection table: a membership change moves only what must move.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "teaming/indirection.h"
#include "teaming/members.h"

namespace flowteam::teaming {
namespace {

std::vector<std::uint32_t> random_flows(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint32_t> h(n);
    for (auto& x : h) x = rng();
    return h;
}

MemberSet equal_members(std::uint8_t n) {
    std::vector<MemberInfo> m(n);
    return MemberSet(m.data(), n);
}

void expect_consistent(const IndirectionTable& t, const MemberView& v) {
    std::uint32_t counted[kMaxMembers] = {};
    for (std::uint32_t b = 0; b < t.size(); ++b) {
        const std::uint8_t m = t.data()[b];
        if (v.n_active == 0) {
            ASSERT_EQ(m, kNoMember) << "bucket " << b;
            continue;
        }
        ASSERT_TRUE(v.is_up(m)) << "bucket " << b << " on down member " << int(m);
        ++counted[m];
    }
    for (std::uint8_t m = 0; m < kMaxMembers; ++m) EXPECT_EQ(counted[m], t.count(m)) << "member " << int(m);
}

TEST(Indirection, SizeValidation) {
    EXPECT_THROW(IndirectionTable(128), std::invalid_argument);
    EXPECT_THROW(IndirectionTable(1000), std::invalid_argument);
    EXPECT_THROW(IndirectionTable(0), std::invalid_argument);
    EXPECT_THROW(IndirectionTable(kMaxBuckets * 2), std::invalid_argument);
    EXPECT_NO_THROW(IndirectionTable(256));
    EXPECT_EQ(IndirectionTable().size(), kDefaultBuckets);
}

TEST(Indirection, BuildEqualIsInterleavedAndExact) {
    MemberSet s = equal_members(4);
    IndirectionTable t(1024);
    t.build(s.view());
    for (std::uint32_t b = 0; b < 1024; ++b) ASSERT_EQ(t.data()[b], b % 4);
    for (std::uint8_t m = 0; m < 4; ++m) EXPECT_EQ(t.count(m), 256u);
    EXPECT_EQ(t.lookup(0x12345u), (0x12345u & 1023u) % 4);
    EXPECT_EQ(t.bucket_of(0xFFFF'FFFFu), 1023u);
}

TEST(Indirection, BuildWithDownMembersHasNoBucketOnThem) {
    MemberInfo m[5] = {};
    m[1].up = false;
    m[3].up = false;
    MemberSet s(m, 5);
    IndirectionTable t(512);
    t.build(s.view());
    expect_consistent(t, s.view());
    EXPECT_EQ(t.count(0) + t.count(2) + t.count(4), 512u);
    for (std::uint8_t k : {0, 2, 4}) EXPECT_NEAR(t.count(k), 512.0 / 3, 1.0);
}

// Losing one of N members moves exactly that member's flows (≈1/N), where
// `hash % n_active` moves ≈(N-1)/N of them.
TEST(Indirection, LosingOneMemberMovesOnlyItsShare) {
    const auto flows = random_flows(100'000, 1234);
    for (std::uint8_t n = 2; n <= 8; ++n) {
        for (std::uint8_t lost = 0; lost < n; ++lost) {
            MemberSet s = equal_members(n);
            IndirectionTable t(1024);
            t.build(s.view());
            std::vector<std::uint8_t> before(flows.size()), mod_before(flows.size());
            for (std::size_t i = 0; i < flows.size(); ++i) {
                before[i] = t.lookup(flows[i]);
                mod_before[i] = s.view().active[flows[i] % s.view().n_active];
            }
            const std::uint32_t lost_buckets = t.count(lost);
            s.set_up(lost, false);
            EXPECT_EQ(t.member_down(lost, s.view()), lost_buckets);
            expect_consistent(t, s.view());
            std::size_t moved = 0, on_lost = 0, mod_moved = 0;
            for (std::size_t i = 0; i < flows.size(); ++i) {
                const std::uint8_t now = t.lookup(flows[i]);
                if (before[i] == lost) ++on_lost;
                if (now != before[i]) {
                    ++moved;
                    ASSERT_EQ(before[i], lost) << "flow " << i << " moved but was not on the lost member";
                }
                if (s.view().active[flows[i] % s.view().n_active] != mod_before[i]) ++mod_moved;
            }
            const double frac = double(moved) / flows.size();
            const double mod_frac = double(mod_moved) / flows.size();
            EXPECT_EQ(moved, on_lost);
            EXPECT_NEAR(frac, 1.0 / n, 0.01) << "N=" << int(n) << " lost=" << int(lost);
            EXPECT_NEAR(mod_frac, double(n - 1) / n, 0.01) << "N=" << int(n) << " lost=" << int(lost);
            if (n >= 3) {
                EXPECT_GT(mod_frac, frac + 0.3);
            }
            // The lost member's buckets spread evenly over the others.
            for (std::uint8_t k = 0; k < s.view().n_active; ++k)
                EXPECT_NEAR(t.count(s.view().active[k]), 1024.0 / (n - 1), 1.0);
        }
    }
}

TEST(Indirection, RejoinRestoresBalanceAndLayout) {
    for (std::uint8_t n = 2; n <= 8; ++n) {
        MemberSet s = equal_members(n);
        IndirectionTable t(1024);
        t.build(s.view());
        const std::vector<std::uint8_t> original(t.data(), t.data() + t.size());
        const std::uint8_t lost = n / 2;
        s.set_up(lost, false);
        const std::uint32_t out = t.member_down(lost, s.view());
        const std::vector<std::uint8_t> degraded(t.data(), t.data() + t.size());
        s.set_up(lost, true);
        EXPECT_EQ(t.member_up(lost, s.view()), out);
        expect_consistent(t, s.view());
        for (std::uint32_t b = 0; b < t.size(); ++b) {
            // Only buckets going to the joiner move, and the flap restores the layout.
            if (t.data()[b] != degraded[b]) {
                EXPECT_EQ(t.data()[b], lost);
            }
            EXPECT_EQ(t.data()[b], original[b]) << "bucket " << b;
        }
        for (std::uint8_t m = 0; m < n; ++m) EXPECT_EQ(t.count(m), t.quota(m));
    }
}

TEST(Indirection, JoinOfNewMemberTakesQuotaFromOthersOnly) {
    // Member 3 starts down, so it has no home buckets in use; on joining it
    // takes its quota; nothing else moves.
    MemberInfo m[4] = {};
    m[3].up = false;
    MemberSet s(m, 4);
    IndirectionTable t(1024);
    t.build(s.view());
    const std::vector<std::uint8_t> before(t.data(), t.data() + t.size());
    s.set_up(3, true);
    EXPECT_EQ(t.member_up(3, s.view()), 256u);
    for (std::uint32_t b = 0; b < t.size(); ++b)
        if (t.data()[b] != before[b]) {
            EXPECT_EQ(t.data()[b], 3);
        }
    for (std::uint8_t k = 0; k < 4; ++k) EXPECT_EQ(t.count(k), 256u);
}

TEST(Indirection, WeightsTenToOneWithinTwoPercent) {
    const MemberInfo m[] = {{10'000'000'000ull, 1, true}, {1'000'000'000ull, 1, true}};
    MemberSet s(m, 2);
    IndirectionTable t(1024);
    t.build(s.view());
    const double share[2] = {10.0 / 11, 1.0 / 11};
    const auto flows = random_flows(1'000'000, 99);
    std::size_t on[2] = {};
    for (std::uint32_t h : flows) ++on[t.lookup(h)];
    for (int k = 0; k < 2; ++k) {
        const double b = double(t.count(static_cast<std::uint8_t>(k))) / t.size();
        const double f = double(on[k]) / flows.size();
        EXPECT_LT(std::fabs(b - share[k]) / share[k], 0.02) << "member " << k << " buckets " << b;
        EXPECT_LT(std::fabs(f - share[k]) / share[k], 0.02) << "member " << k << " flows " << f;
    }
}

TEST(Indirection, LostMemberSpreadsByWeight) {
    const MemberInfo m[] = {{0, 1, true}, {0, 2, true}, {0, 3, true}, {0, 4, true}};
    MemberSet s(m, 4);
    IndirectionTable t(1024);
    t.build(s.view());
    for (std::uint8_t k = 0; k < 4; ++k) EXPECT_NEAR(t.count(k), 1024.0 * (k + 1) / 10, 1.0);
    s.set_up(3, false);
    t.member_down(3, s.view());
    for (std::uint8_t k = 0; k < 3; ++k) EXPECT_NEAR(t.count(k), 1024.0 * (k + 1) / 6, 1.0);
}

TEST(Indirection, AllDownThenUp) {
    MemberSet s = equal_members(3);
    IndirectionTable t(256);
    t.build(s.view());
    for (std::uint8_t k = 0; k < 3; ++k) {
        s.set_up(k, false);
        t.member_down(k, s.view());
    }
    expect_consistent(t, s.view());
    EXPECT_EQ(t.lookup(12345), kNoMember);
    s.set_up(1, true);
    EXPECT_EQ(t.member_up(1, s.view()), 0u); // unowned buckets are not "moves"
    EXPECT_EQ(t.count(1), 256u);
    s.set_up(0, true);
    EXPECT_EQ(t.member_up(0, s.view()), 128u);
    expect_consistent(t, s.view());
}

// Random membership churn: the table never points at a down member and every
// up member stays within two buckets of its quota.
TEST(Indirection, RandomChurnInvariants) {
    std::mt19937 rng(2024);
    for (int trial = 0; trial < 20; ++trial) {
        const std::uint8_t n = static_cast<std::uint8_t>(2 + rng() % 7);
        std::vector<MemberInfo> m(n);
        for (auto& x : m) x.weight = 1 + rng() % 5;
        MemberSet s(m.data(), n);
        IndirectionTable t(1024);
        t.build(s.view());
        for (int step = 0; step < 200; ++step) {
            const std::uint8_t k = static_cast<std::uint8_t>(rng() % n);
            const bool up = !s.is_up(k);
            const std::vector<std::uint8_t> before(t.data(), t.data() + t.size());
            s.set_up(k, up);
            const std::uint32_t moved = up ? t.member_up(k, s.view()) : t.member_down(k, s.view());
            expect_consistent(t, s.view());
            std::uint32_t changed = 0;
            for (std::uint32_t b = 0; b < t.size(); ++b) {
                if (t.data()[b] == before[b]) continue;
                if (before[b] != kNoMember && t.data()[b] != kNoMember) ++changed;
                if (up) ASSERT_EQ(t.data()[b], k); // join: only towards the joiner
                else ASSERT_EQ(before[b], k);      // leave: only the leaver's buckets
            }
            EXPECT_EQ(changed, moved);
            for (std::uint8_t j = 0; j < s.view().n_active; ++j) {
                const std::uint8_t a = s.view().active[j];
                EXPECT_LE(std::abs(int(t.count(a)) - int(t.quota(a))), 2)
                    << "trial " << trial << " step " << step << " member " << int(a);
            }
        }
    }
}

} // namespace
} // namespace flowteam::teaming
