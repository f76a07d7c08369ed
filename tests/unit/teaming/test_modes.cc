// SPDX-License-Identifier: BSD-3-Clause
// Each distribution mode's defining property, on the mode objects directly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "teaming/indirection.h"
#include "teaming/members.h"
#include "teaming/modes.h"

namespace flowteam::teaming {
namespace {

MemberSet members(std::vector<std::uint32_t> weights) {
    std::vector<MemberInfo> m(weights.size());
    for (std::size_t i = 0; i < m.size(); ++i) m[i].weight = weights[i];
    return MemberSet(m.data(), static_cast<std::uint8_t>(m.size()));
}

struct Burst {
    std::vector<std::uint32_t> hash, bytes, vport;
    std::vector<std::uint8_t> out;
    BurstView view() {
        out.assign(hash.size(), 0xEE);
        BurstView b;
        b.hash = hash.data();
        b.bytes = bytes.empty() ? nullptr : bytes.data();
        b.vport = vport.empty() ? nullptr : vport.data();
        b.n = static_cast<std::uint16_t>(hash.size());
        return b;
    }
};

// ---------------------------------------------------------------- roundrobin

TEST(RoundRobin, EqualWeightsEachBurstWithinOnePacket) {
    MemberSet s = members({1, 1, 1});
    RoundRobin rr;
    std::uint64_t total[3] = {};
    std::uint64_t sent = 0;
    std::mt19937 rng(5);
    for (int b = 0; b < 1000; ++b) {
        Burst burst;
        burst.hash.resize(b % 3 == 0 ? 32 : 1 + rng() % 32);
        auto v = burst.view();
        rr.assign(v, s.view(), burst.out.data());
        std::uint32_t c[3] = {};
        for (std::uint8_t m : burst.out) ++c[m];
        sent += v.n;
        for (int k = 0; k < 3; ++k) {
            EXPECT_LT(std::fabs(c[k] - v.n / 3.0), 1.0) << "burst " << b;
            total[k] += c[k];
            EXPECT_LE(std::fabs(total[k] - sent / 3.0), 1.0);
        }
    }
    // A plain rotation: packet i of the stream goes to member i % 3.
    RoundRobin rr2;
    Burst a;
    a.hash.resize(32);
    auto v = a.view();
    rr2.assign(v, s.view(), a.out.data());
    for (int i = 0; i < 32; ++i) EXPECT_EQ(a.out[i], i % 3);
    rr2.assign(v, s.view(), a.out.data());
    for (int i = 0; i < 32; ++i) EXPECT_EQ(a.out[i], (i + 32) % 3);
}

TEST(RoundRobin, WeightedEachBurstWithinOnePacketAndCumulativeShare) {
    std::mt19937 rng(77);
    double worst_cum = 0;
    for (int trial = 0; trial < 100; ++trial) {
        const std::size_t n = 2 + rng() % 7;
        std::vector<std::uint32_t> w(n);
        double wsum = 0;
        for (auto& x : w) wsum += (x = 1 + rng() % 30);
        MemberSet s = members(w);
        RoundRobin rr;
        std::vector<double> total(n);
        double sent = 0;
        for (int b = 0; b < 500; ++b) {
            Burst burst;
            burst.hash.resize(b % 2 ? 32 : 1 + rng() % 40);
            auto v = burst.view();
            rr.assign(v, s.view(), burst.out.data());
            std::vector<std::uint32_t> c(n);
            for (std::uint8_t m : burst.out) {
                ASSERT_LT(m, n);
                ++c[m];
            }
            sent += v.n;
            for (std::size_t k = 0; k < n; ++k) {
                ASSERT_LT(std::fabs(c[k] - v.n * w[k] / wsum), 1.0)
                    << "trial " << trial << " burst " << b << " member " << k;
                total[k] += c[k];
                worst_cum = std::max(worst_cum, std::fabs(total[k] - sent * w[k] / wsum));
            }
        }
    }
    EXPECT_LE(worst_cum, 1.5);
}

TEST(RoundRobin, WeightedIsSmoothInsideABurst) {
    MemberSet s = members({3, 1});
    RoundRobin rr;
    Burst burst;
    burst.hash.resize(8);
    auto v = burst.view();
    rr.assign(v, s.view(), burst.out.data());
    // 6 + 2, laid out by SWRR over {6, 2}: 0 0 1 0 0 0 1 0
    const std::vector<std::uint8_t> want = {0, 0, 1, 0, 0, 0, 1, 0};
    EXPECT_EQ(burst.out, want);
}

TEST(RoundRobin, Deterministic) {
    MemberSet s = members({5, 3, 2});
    RoundRobin a, b;
    std::mt19937 rng(1);
    for (int i = 0; i < 200; ++i) {
        Burst x;
        x.hash.resize(1 + rng() % 32);
        auto v = x.view();
        std::vector<std::uint8_t> oa(v.n), ob(v.n);
        a.assign(v, s.view(), oa.data());
        b.assign(v, s.view(), ob.data());
        ASSERT_EQ(oa, ob);
    }
}

// ---------------------------------------------------------------- flowcell

TEST(Flowcell, SingleFlowChangesMemberOnlyAtCellBoundaries) {
    MemberSet s = members({1, 1, 1});
    const std::uint32_t cell = 64 * 1024;
    Flowcell fc(1024, cell);
    std::mt19937 rng(3);
    std::uint64_t in_cell = 0;
    std::uint8_t cur = kNoMember;
    int cells = 0;
    std::vector<std::uint8_t> seq;
    for (int b = 0; b < 2000; ++b) {
        Burst burst;
        const std::size_t n = 1 + rng() % 32;
        burst.hash.assign(n, 0xABCDu);
        for (std::size_t i = 0; i < n; ++i) burst.bytes.push_back(64 + rng() % 9000);
        auto v = burst.view();
        fc.assign(v, s.view(), burst.out.data());
        for (std::size_t i = 0; i < n; ++i) {
            const bool boundary = cur == kNoMember || in_cell + burst.bytes[i] > cell;
            if (boundary) {
                in_cell = 0;
                ++cells;
                seq.push_back(burst.out[i]);
            } else {
                ASSERT_EQ(burst.out[i], cur) << "member changed inside a cell (burst " << b << ")";
            }
            cur = burst.out[i];
            in_cell += burst.bytes[i];
            ASSERT_LE(in_cell, cell);
        }
    }
    EXPECT_EQ(std::uint64_t(cells), fc.cells());
    // Successive cells go round-robin over the members.
    for (std::size_t k = 0; k < seq.size(); ++k) ASSERT_EQ(seq[k], k % 3) << "cell " << k;
}

TEST(Flowcell, ManyFlowsEachChangesOnlyAtItsBoundaries) {
    MemberSet s = members({2, 1, 1});
    const std::uint32_t cell = 16 * 1024;
    Flowcell fc(1024, cell);
    std::mt19937 rng(11);
    const int flows = 200; // distinct buckets 0..199: no sharing
    std::vector<std::uint64_t> in_cell(flows, 0);
    std::vector<std::uint8_t> cur(flows, kNoMember);
    std::uint64_t bytes_on[3] = {};
    for (int b = 0; b < 5000; ++b) {
        Burst burst;
        for (int i = 0; i < 32; ++i) {
            burst.hash.push_back(rng() % flows + 1024u * (rng() % 100)); // same bucket, other high bits
            burst.bytes.push_back(rng() % 2 ? 1500 : 64 + rng() % 1400);
        }
        auto v = burst.view();
        fc.assign(v, s.view(), burst.out.data());
        for (int i = 0; i < 32; ++i) {
            const std::uint32_t f = burst.hash[i] & 1023u;
            if (cur[f] == kNoMember || in_cell[f] + burst.bytes[i] > cell)
                in_cell[f] = 0;
            else
                ASSERT_EQ(burst.out[i], cur[f]) << "flow " << f << " changed member inside a cell";
            cur[f] = burst.out[i];
            in_cell[f] += burst.bytes[i];
            bytes_on[burst.out[i]] += burst.bytes[i];
        }
    }
    const double total = double(bytes_on[0] + bytes_on[1] + bytes_on[2]);
    EXPECT_NEAR(bytes_on[0] / total, 0.5, 0.01);
    EXPECT_NEAR(bytes_on[1] / total, 0.25, 0.005);
    EXPECT_NEAR(bytes_on[2] / total, 0.25, 0.005);
}

TEST(Flowcell, MemberDownMovesTheFlowAtOnce) {
    MemberSet s = members({1, 1});
    Flowcell fc(256, 1'000'000);
    Burst burst;
    burst.hash = {7, 7, 7};
    burst.bytes = {100, 100, 100};
    auto v = burst.view();
    fc.assign(v, s.view(), burst.out.data());
    const std::uint8_t first = burst.out[0];
    EXPECT_EQ(burst.out[2], first);
    s.set_up(first, false);
    fc.reset();
    fc.assign(v, s.view(), burst.out.data());
    for (std::uint8_t m : burst.out) EXPECT_EQ(m, 1 - first);
    s.set_up(1 - first, false);
    fc.assign(v, s.view(), burst.out.data());
    for (std::uint8_t m : burst.out) EXPECT_EQ(m, kNoMember);
}

TEST(Flowcell, NoByteCountsAssumesMtuPackets) {
    MemberSet s = members({1, 1});
    Flowcell fc(256, 3 * kFlowcellAssumedBytes); // three packets per cell
    Burst burst;
    burst.hash.assign(12, 5);
    auto v = burst.view(); // bytes == nullptr
    ASSERT_EQ(v.bytes, nullptr);
    fc.assign(v, s.view(), burst.out.data());
    const std::vector<std::uint8_t> want = {0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1};
    EXPECT_EQ(burst.out, want);
}

TEST(Flowcell, BadConfigThrows) {
    EXPECT_THROW(Flowcell(1000, 64), std::invalid_argument);
    EXPECT_THROW(Flowcell(1024, 0), std::invalid_argument);
}

// ---------------------------------------------------------------- vport

struct VportFixture {
    explicit VportFixture(std::vector<std::uint32_t> w, std::uint32_t capacity = 4096)
        : set(members(std::move(w))), vt(capacity) {
        table.build(set.view());
    }
    std::vector<std::uint8_t> send(const std::vector<std::uint32_t>& vports) {
        Burst b;
        b.vport = vports;
        b.hash.resize(vports.size());
        for (std::size_t i = 0; i < vports.size(); ++i) b.hash[i] = static_cast<std::uint32_t>(i * 2654435761u);
        auto v = b.view();
        vt.assign(v, set.view(), table, b.out.data(), overflow);
        return b.out;
    }
    void down(std::uint8_t m) {
        set.set_up(m, false);
        table.member_down(m, set.view());
        moves += vt.member_down(m, set.view());
    }
    void up(std::uint8_t m) {
        set.set_up(m, true);
        table.member_up(m, set.view());
    }
    MemberSet set;
    IndirectionTable table{1024};
    VportTable vt;
    std::uint64_t overflow = 0;
    std::uint64_t moves = 0;
};

TEST(Vport, PinsOnFirstSightAndBalances) {
    VportFixture f({1, 1, 1, 1});
    std::vector<std::uint32_t> ids;
    for (std::uint32_t i = 0; i < 64; ++i) ids.push_back(1000 + i * 17);
    const auto first = f.send(ids);
    // First sight: least loaded, ties to the lower index -> 0,1,2,3,0,1,...
    for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(first[i], i % 4);
    for (std::uint8_t m = 0; m < 4; ++m) EXPECT_EQ(f.vt.pinned_on(m), 16u);
    std::mt19937 rng(9);
    for (int round = 0; round < 200; ++round) {
        std::vector<std::uint32_t> burst;
        std::vector<std::size_t> idx;
        for (int i = 0; i < 32; ++i) {
            idx.push_back(rng() % ids.size());
            burst.push_back(ids[idx.back()]);
        }
        const auto out = f.send(burst);
        for (int i = 0; i < 32; ++i) ASSERT_EQ(out[i], first[idx[i]]);
    }
    EXPECT_EQ(f.vt.pinned(), 64u);
    EXPECT_EQ(f.overflow, 0u);
}

TEST(Vport, BalancesByWeight) {
    VportFixture f({10, 1});
    std::vector<std::uint32_t> ids;
    for (std::uint32_t i = 0; i < 110; ++i) ids.push_back(i);
    f.send(ids);
    EXPECT_EQ(f.vt.pinned_on(0), 100u);
    EXPECT_EQ(f.vt.pinned_on(1), 10u);
}

TEST(Vport, MemberDownMovesOnlyItsVports) {
    VportFixture f({1, 1, 1, 1});
    std::vector<std::uint32_t> ids;
    for (std::uint32_t i = 0; i < 400; ++i) ids.push_back(i * 7919u);
    const auto before = f.send(ids);
    f.down(2);
    EXPECT_EQ(f.moves, 100u);
    const auto after = f.send(ids);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ASSERT_NE(after[i], 2);
        if (before[i] != 2) {
            ASSERT_EQ(after[i], before[i]) << "vport " << ids[i] << " moved without cause";
        }
    }
    for (std::uint8_t m : {0, 1, 3}) EXPECT_NEAR(f.vt.pinned_on(m), 400.0 / 3, 1.0);
    // Join: existing vports stay; new vports fill the newcomer first.
    f.up(2);
    const auto rejoined = f.send(ids);
    EXPECT_EQ(rejoined, after);
    std::vector<std::uint32_t> fresh;
    for (std::uint32_t i = 0; i < 100; ++i) fresh.push_back(1'000'000 + i);
    const auto fresh_out = f.send(fresh);
    for (std::uint8_t m : fresh_out) EXPECT_EQ(m, 2); // 0 -> 100 pinned, still the least loaded
    EXPECT_EQ(f.vt.pinned_on(2), 100u);
    for (std::uint8_t m : {0, 1, 3}) EXPECT_NEAR(f.vt.pinned_on(m), 400.0 / 3, 1.0);
}

TEST(Vport, ExplicitRebalanceMovesTheMinimum) {
    VportFixture f({1, 1, 1, 1});
    std::vector<std::uint32_t> ids;
    for (std::uint32_t i = 0; i < 300; ++i) ids.push_back(i);
    f.down(3);
    f.send(ids); // 100 each on 0,1,2
    f.up(3);
    const auto before = f.send(ids);
    EXPECT_EQ(f.vt.pinned_on(3), 0u);
    const std::uint32_t moved = f.vt.rebalance(f.set.view());
    EXPECT_EQ(moved, 75u); // 25 from each of 0,1,2
    for (std::uint8_t m = 0; m < 4; ++m) EXPECT_EQ(f.vt.pinned_on(m), 75u);
    const auto after = f.send(ids);
    std::size_t changed = 0;
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (after[i] != before[i]) {
            ++changed;
            EXPECT_EQ(after[i], 3);
        }
    EXPECT_EQ(changed, 75u);
    EXPECT_EQ(f.vt.rebalance(f.set.view()), 0u);
}

TEST(Vport, OverflowFallsBackToTheTableAndIsCounted) {
    VportFixture f({1, 1}, 8);
    std::vector<std::uint32_t> ids;
    for (std::uint32_t i = 0; i < 20; ++i) ids.push_back(500 + i);
    const auto first = f.send(ids);
    EXPECT_EQ(f.vt.pinned(), 8u);
    EXPECT_EQ(f.overflow, 12u);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (f.vt.pinned_member(ids[i]) != kNoMember) {
            EXPECT_EQ(first[i], f.vt.pinned_member(ids[i]));
        } else {
            EXPECT_EQ(first[i], f.table.lookup(mix32(ids[i])));
        }
    }
    const auto again = f.send(ids); // sticky either way
    EXPECT_EQ(again, first);
    EXPECT_EQ(f.overflow, 24u);
    // Consecutive packets of one overflowing vport count once each.
    std::uint32_t spill = 0;
    for (std::uint32_t id : ids)
        if (f.vt.pinned_member(id) == kNoMember) spill = id;
    f.send({spill, spill, spill});
    EXPECT_EQ(f.overflow, 27u);
}

TEST(Vport, NoMemberUpThenRecovery) {
    VportFixture f({1, 1});
    const auto a = f.send({1, 2, 3});
    f.down(0);
    f.down(1);
    for (std::uint8_t m : f.send({1, 2, 3, 4})) EXPECT_EQ(m, kNoMember);
    f.up(1);
    for (std::uint8_t m : f.send({1, 2, 3, 4})) EXPECT_EQ(m, 1);
    (void)a;
    EXPECT_THROW(VportTable(0), std::invalid_argument);
    EXPECT_THROW(VportTable(VportTable::kMaxCapacity + 1), std::invalid_argument);
}

// ---------------------------------------------------------------- active-backup

TEST(ActiveBackup, PrimaryFailoverAndFailBack) {
    MemberSet s = members({1, 1, 1});
    ActiveBackup ab(1);
    ab.update(s.view());
    Burst b;
    b.hash.resize(5);
    auto v = b.view();
    ab.assign(v, s.view(), b.out.data());
    for (std::uint8_t m : b.out) EXPECT_EQ(m, 1);
    s.set_up(1, false);
    ab.update(s.view());
    ab.assign(v, s.view(), b.out.data());
    for (std::uint8_t m : b.out) EXPECT_EQ(m, 0);
    EXPECT_EQ(ab.failovers(), 1u);
    s.set_up(2, false); // a backup going down changes nothing
    ab.update(s.view());
    EXPECT_EQ(ab.current(), 0);
    EXPECT_EQ(ab.failovers(), 1u);
    s.set_up(1, true); // fail-back
    ab.update(s.view());
    EXPECT_EQ(ab.current(), 1);
    EXPECT_EQ(ab.failovers(), 2u);
    s.set_up(0, false);
    s.set_up(1, false);
    ab.update(s.view());
    ab.assign(v, s.view(), b.out.data());
    for (std::uint8_t m : b.out) EXPECT_EQ(m, kNoMember);
    s.set_up(1, true); // recovery onto the same member: not a failover
    ab.update(s.view());
    EXPECT_EQ(ab.current(), 1);
    EXPECT_EQ(ab.failovers(), 2u);
}

} // namespace
} // namespace flowteam::teaming
