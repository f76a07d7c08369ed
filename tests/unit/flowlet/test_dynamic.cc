// SPDX-License-Identifier: BSD-3-Clause
// Unit and property tests of flowlet::Dynamic (flowlet switching).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "common/types.h"
#include "flowlet/dynamic.h"

namespace flowteam::flowlet {
namespace {

// A view over `weights.size()` members, member m up when bit m of up_mask is set.
MemberView make_view(const std::vector<std::uint32_t>& weights, std::uint32_t up_mask = 0xFFFFu) {
    MemberView v;
    v.n_members = static_cast<std::uint8_t>(weights.size());
    for (std::uint8_t m = 0; m < v.n_members; ++m) {
        v.weight[m] = weights[m];
        v.capacity_bps[m] = std::uint64_t{weights[m]} * 1'000'000'000ull;
        if ((up_mask >> m) & 1u) {
            v.active[v.n_active++] = m;
            v.active_mask |= 1u << m;
        }
    }
    return v;
}

std::vector<std::uint8_t> send(Dynamic& d, const MemberView& v, Tick now, const std::vector<std::uint32_t>& hashes,
                               const std::vector<std::uint32_t>& bytes) {
    std::vector<std::uint8_t> out(hashes.size(), 0xEE);
    BurstView b;
    b.hash = hashes.data();
    b.bytes = bytes.empty() ? nullptr : bytes.data();
    b.n = static_cast<std::uint16_t>(hashes.size());
    b.now = now;
    d.assign(b, v, out.data());
    return out;
}

std::uint8_t send1(Dynamic& d, const MemberView& v, Tick now, std::uint32_t hash, std::uint32_t bytes = 1000) {
    return send(d, v, now, {hash}, {bytes})[0];
}

std::vector<std::uint32_t> unique_hashes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::unordered_set<std::uint32_t> seen;
    std::vector<std::uint32_t> out;
    while (out.size() < n) {
        const auto h = static_cast<std::uint32_t>(rng());
        if (seen.insert(h).second) out.push_back(h);
    }
    return out;
}

void expect_consistent(const DynamicCounters& c) {
    EXPECT_GE(c.flowlet_starts, c.new_flows + c.member_moves);
    EXPECT_LE(c.flowlet_starts + c.member_lost_moves + c.no_member, c.packets);
    EXPECT_LE(c.rebalance_moves + c.collisions + c.no_member, c.packets);
}

// ---------------------------------------------------------------- config

TEST(FlowletPolicy, ParseAndPrint) {
    Policy p = Policy::random;
    ASSERT_TRUE(parse_policy("least-loaded", p));
    EXPECT_EQ(p, Policy::least_loaded);
    ASSERT_TRUE(parse_policy("tokens", p));
    EXPECT_EQ(p, Policy::tokens);
    ASSERT_TRUE(parse_policy("random", p));
    EXPECT_EQ(p, Policy::random);
    ASSERT_TRUE(parse_policy("least_loaded", p));
    EXPECT_EQ(p, Policy::least_loaded);
    EXPECT_FALSE(parse_policy("conga", p));
    EXPECT_FALSE(parse_policy("", p));
    for (Policy q : {Policy::least_loaded, Policy::tokens, Policy::random}) {
        Policy back{};
        ASSERT_TRUE(parse_policy(to_string(q), back));
        EXPECT_EQ(back, q);
    }
}

TEST(FlowletConfig, RejectsBadValues) {
    auto bad = [](auto mutate) {
        DynamicConfig c;
        mutate(c);
        EXPECT_THROW(Dynamic{c}, std::invalid_argument);
    };
    bad([](DynamicConfig& c) { c.table_entries = 0; });
    bad([](DynamicConfig& c) { c.table_entries = kMaxFlowletEntries + 1; });
    bad([](DynamicConfig& c) { c.delta = Tick{1} << 54; });
    bad([](DynamicConfig& c) { c.dre_alpha_shift = 0; });
    bad([](DynamicConfig& c) { c.dre_alpha_shift = 17; });
    bad([](DynamicConfig& c) { c.rebalance_threshold_pct = 100; });
    bad([](DynamicConfig& c) { c.token_bound_bytes = 0; });
    bad([](DynamicConfig& c) { c.token_bound_bytes = (std::uint64_t{1} << 32) + 1; });
    bad([](DynamicConfig& c) { c.policy = static_cast<Policy>(7); });
    DynamicConfig ok;
    ok.table_entries = 1;
    EXPECT_NO_THROW(Dynamic{ok});
}

TEST(FlowletConfig, RoundsTableAndDerivesDrePeriod) {
    DynamicConfig c;
    c.table_entries = 1000;
    c.delta = 400;
    Dynamic d(c);
    EXPECT_EQ(d.config().table_entries, 1024u);
    EXPECT_EQ(d.config().dre_period, 100u);
    c.table_entries = 3;
    c.delta = 2;
    Dynamic small(c);
    EXPECT_EQ(small.config().table_entries, kMinFlowletEntries);
    EXPECT_EQ(small.config().dre_period, 1u);
    c.dre_period = 77;
    EXPECT_EQ(Dynamic(c).config().dre_period, 77u);
}

TEST(FlowletConfig, MemoryBytesMatchesTable) {
    static_assert(kFlowletEntryBytes == 16);
    DynamicConfig c;
    c.table_entries = 1u << 10;
    Dynamic a(c);
    c.table_entries = 1u << 16;
    Dynamic b(c);
    c.table_entries = 1u << 21;   // the 1M-flow size: 32 MiB
    Dynamic big(c);
    EXPECT_GE(a.memory_bytes(), (1u << 10) * kFlowletEntryBytes);
    EXPECT_EQ(b.memory_bytes() - a.memory_bytes(), ((1u << 16) - (1u << 10)) * kFlowletEntryBytes);
    EXPECT_EQ(big.memory_bytes() - a.memory_bytes(), ((1u << 21) - (1u << 10)) * kFlowletEntryBytes);
    EXPECT_LT(a.memory_bytes() - (1u << 10) * kFlowletEntryBytes, 4096u);   // state beside the table is small
}

TEST(FlowletConfig, EntryIndexIsInRangeAndSpreads) {
    DynamicConfig c;
    c.table_entries = 256;
    Dynamic d(c);
    std::vector<int> hist(256, 0);
    for (std::uint32_t h = 0; h < 256 * 64; ++h) {   // sequential hashes must still spread
        const std::uint32_t i = d.entry_index(h);
        ASSERT_LT(i, 256u);
        ++hist[i];
    }
    EXPECT_GT(*std::min_element(hist.begin(), hist.end()), 32);
    EXPECT_LT(*std::max_element(hist.begin(), hist.end()), 96);
}

// The locator the data plane prefetches with points at the very entry that
// assign() writes for that hash.
TEST(FlowletConfig, LocatorPointsAtTheHashsEntry) {
    DynamicConfig c;
    c.table_entries = 1024;
    c.delta = 100;
    Dynamic d(c);
    const EntryLocator loc = d.locator();
    ASSERT_NE(loc.base, nullptr);
    MemberView v{};
    v.n_members = 2;
    v.n_active = 2;
    v.active[0] = 0;
    v.active[1] = 1;
    v.weight[0] = v.weight[1] = 1;
    v.active_mask = 3;
    for (std::uint32_t h : {0u, 1u, 77u, 0xDEADBEEFu, 0xFFFFFFFFu}) {
        const auto* e = static_cast<const std::uint8_t*>(loc.entry(h));
        EXPECT_EQ(e - loc.base, std::ptrdiff_t{d.entry_index(h)} * std::ptrdiff_t{kFlowletEntryBytes});
        std::uint8_t before[kFlowletEntryBytes], after[kFlowletEntryBytes];
        std::memcpy(before, e, sizeof before);
        std::uint32_t hash = h, bytes = 100;
        std::uint8_t out = 0xEE;
        BurstView b;
        b.hash = &hash;
        b.bytes = &bytes;
        b.n = 1;
        b.now = 1000 + h % 1000;
        d.assign(b, v, &out);
        std::memcpy(after, e, sizeof after);
        EXPECT_NE(std::memcmp(before, after, sizeof before), 0) << "hash " << h;
        EXPECT_LT(out, 2u);
    }
}

// ------------------------------------------------------ the key property

struct Workload {
    std::size_t flows;
    std::uint32_t table;
    bool flap;        // membership changes + rebalancing during the run
};

class KeyProperty : public ::testing::TestWithParam<std::tuple<Policy, Workload, std::uint64_t>> {};

// Random arrivals over many flows (skewed popularity, random gaps). From the
// output alone: a flow's — and an entry's — member changes only across a gap
// >= delta, except moves counted as member_lost_moves / rebalance_moves; no
// packet ever goes to a down member.
TEST_P(KeyProperty, MemberChangesOnlyAfterGapOrCountedMove) {
    const auto [policy, wl, seed] = GetParam();
    DynamicConfig c;
    c.table_entries = wl.table;
    c.delta = 1000;
    c.policy = policy;
    c.seed = seed;
    if (wl.flap) {
        c.rebalance_period = 5000;
        c.rebalance_threshold_pct = 5;
    }
    Dynamic d(c);
    const std::vector<std::uint32_t> weights{2, 1, 1};
    std::uint32_t up = 0b111;
    MemberView view = make_view(weights, up);
    const auto hashes = unique_hashes(wl.flows, seed * 7 + 1);

    struct Last {
        Tick t = 0;
        std::uint8_t m = kNoMember;
    };
    std::vector<Last> flow(wl.flows);
    std::vector<Last> entry(d.config().table_entries);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u01(0, 1);
    Tick now = 1'000'000;
    std::uint64_t packets = 0, flow_violations = 0, entry_changes_without_gap = 0, gap_changes = 0,
                  to_down = 0, no_member_out = 0;
    std::vector<std::uint32_t> hb, bb;
    std::vector<std::size_t> fid;
    for (int burst = 0; burst < 10000; ++burst) {
        now += rng() % 300;
        if (wl.flap && burst % 700 == 699) {
            up ^= 1u << (rng() % 3);
            if (burst % 3500 == 3499) up = 0;   // now and then, everything down
            if (up == 0 && burst % 3500 != 3499) up = 0b001;
            view = make_view(weights, up);
        }
        const std::size_t n = 1 + rng() % kBurstSize;
        hb.clear();
        bb.clear();
        fid.clear();
        for (std::size_t i = 0; i < n; ++i) {
            const double x = u01(rng);
            const auto f = static_cast<std::size_t>(x * x * x * static_cast<double>(wl.flows));
            fid.push_back(f);
            hb.push_back(hashes[f]);
            bb.push_back(64 + static_cast<std::uint32_t>(rng() % 1437));
        }
        const auto out = send(d, view, now, hb, bb);
        packets += n;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t m = out[i];
            if (m == kNoMember) {
                ++no_member_out;
                EXPECT_EQ(up, 0u);
                continue;
            }
            if (!view.is_up(m)) ++to_down;
            Last& lf = flow[fid[i]];
            if (lf.m != kNoMember && now - lf.t < c.delta && lf.m != m) ++flow_violations;
            if (lf.m != kNoMember && now - lf.t >= c.delta && lf.m != m) ++gap_changes;
            lf = {now, m};
            Last& le = entry[d.entry_index(hb[i])];
            if (le.m != kNoMember && now - le.t < c.delta && le.m != m) ++entry_changes_without_gap;
            le = {now, m};
        }
    }
    const DynamicCounters& k = d.counters();
    expect_consistent(k);
    EXPECT_EQ(k.packets, packets);
    EXPECT_EQ(to_down, 0u);
    EXPECT_EQ(k.no_member, no_member_out);
    EXPECT_GT(gap_changes, 0u) << "the workload never moved a flow: the test would prove nothing";
    EXPECT_GT(k.member_moves, 0u);
    // Each counted forced move changes one entry's member exactly once.
    EXPECT_EQ(entry_changes_without_gap, k.member_lost_moves + k.rebalance_moves);
    if (!wl.flap) {
        EXPECT_EQ(flow_violations, 0u);
        EXPECT_EQ(k.member_lost_moves, 0u);
        EXPECT_EQ(k.rebalance_moves, 0u);
        EXPECT_EQ(k.no_member, 0u);
    } else {
        EXPECT_GT(k.member_lost_moves, 0u);
        EXPECT_GT(k.no_member, 0u);
        // A forced entry move may carry several colliding flows along.
        EXPECT_GE(flow_violations, k.member_lost_moves + k.rebalance_moves > 0 ? 1u : 0u);
    }
    if (wl.table < wl.flows) {
        EXPECT_GT(k.collisions, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Flowlet, KeyProperty,
    ::testing::Combine(::testing::Values(Policy::least_loaded, Policy::tokens, Policy::random),
                       ::testing::Values(Workload{3000, 1u << 16, false}, Workload{3000, 64, false},
                                         Workload{3000, 1u << 16, true}, Workload{3000, 64, true}),
                       ::testing::Values(std::uint64_t{1}, std::uint64_t{2024})),
    [](const auto& p) {
        const Workload& w = std::get<1>(p.param);
        std::string name = std::string(to_string(std::get<0>(p.param))) + "_table" + std::to_string(w.table) +
                           (w.flap ? "_flap" : "_steady") + "_seed" + std::to_string(std::get<2>(p.param));
        std::replace(name.begin(), name.end(), '-', '_');
        return name;
    });

// ------------------------------------------------------------ splitting

// delta = 0: every packet is a flowlet; least-loaded sprays equal packets
// over two equal members alternately.
TEST(FlowletSplit, DeltaZeroLeastLoadedSplitsEvenly) {
    for (const std::size_t n_flows : {std::size_t{1}, std::size_t{1000}}) {
        DynamicConfig c;
        c.delta = 0;
        c.dre_period = 1000;
        Dynamic d(c);
        const MemberView v = make_view({1, 1});
        const auto hashes = unique_hashes(n_flows, 5);
        std::mt19937_64 rng(3);
        std::int64_t count[2] = {0, 0};
        Tick now = 0;
        for (int burst = 0; burst < 5000; ++burst) {
            now += 1 + rng() % 50;
            std::vector<std::uint32_t> hb(kBurstSize), bb(kBurstSize, 1000);
            for (auto& h : hb) h = hashes[rng() % n_flows];
            for (const auto m : send(d, v, now, hb, bb)) {
                ASSERT_LT(m, 2);
                ++count[m];
            }
            ASSERT_LE(std::abs(count[0] - count[1]), 1) << "burst " << burst;
        }
        const DynamicCounters& k = d.counters();
        EXPECT_EQ(k.flowlet_starts, k.packets);
        expect_consistent(k);
    }
}

TEST(FlowletSplit, DeltaZeroDerivedPeriodWithin2Percent) {
    DynamicConfig c;   // dre_period derived = 1 tick: the estimator forgets between bursts
    c.delta = 0;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    const auto hashes = unique_hashes(500, 9);
    std::mt19937_64 rng(4);
    double count[2] = {0, 0};
    for (int burst = 0; burst < 3000; ++burst) {
        std::vector<std::uint32_t> hb(kBurstSize), bb(kBurstSize, 1500);
        for (auto& h : hb) h = hashes[rng() % hashes.size()];
        for (const auto m : send(d, v, Tick(burst) * 40, hb, bb)) ++count[m];
    }
    EXPECT_NEAR(count[0] / (count[0] + count[1]), 0.5, 0.02);
}

// Flowlet trains: K concurrent trains of geometric length, each from a random
// flow among many; a flow goes idle (>= delta) between its trains.
struct TrainGen {
    std::mt19937_64 rng;
    std::vector<std::uint32_t> hashes;
    std::vector<std::pair<std::size_t, std::uint32_t>> trains;   // flow, packets left
    std::geometric_distribution<std::uint32_t> len;

    TrainGen(std::uint64_t seed, std::size_t flows, std::size_t k, double mean_len)
        : rng(seed), hashes(unique_hashes(flows, seed + 11)), len(1.0 / mean_len) {
        for (std::size_t i = 0; i < k; ++i) trains.emplace_back(rng() % flows, 1 + len(rng));
    }
    std::uint32_t next() {
        auto& t = trains[rng() % trains.size()];
        const std::uint32_t h = hashes[t.first];
        if (--t.second == 0) t = {rng() % hashes.size(), 1 + len(rng)};
        return h;
    }
    std::uint32_t size() { return 64 + static_cast<std::uint32_t>(rng() % 1437); }
};

class WeightedSplit
    : public ::testing::TestWithParam<std::tuple<Policy, std::vector<std::uint32_t>, bool>> {};

// Byte shares follow the weights (10G+1G, 3:1) within 2 % for least-loaded
// and tokens, within 3 % for random, over many flowlets.
TEST_P(WeightedSplit, BytesFollowWeights) {
    const auto [policy, weights, by_capacity] = GetParam();
    DynamicConfig c;
    c.delta = 200;
    c.policy = policy;
    c.seed = 99;
    Dynamic d(c);
    MemberView v = make_view(weights);
    if (by_capacity) v.weight = {};   // shares from capacity_bps instead
    TrainGen gen(17, 20000, 64, 20);
    double bytes[2] = {0, 0};
    for (int burst = 0; burst < 15000; ++burst) {
        std::vector<std::uint32_t> hb(kBurstSize), bb(kBurstSize);
        for (std::size_t i = 0; i < kBurstSize; ++i) {
            hb[i] = gen.next();
            bb[i] = gen.size();
        }
        const auto out = send(d, v, Tick(burst) * 10, hb, bb);
        for (std::size_t i = 0; i < kBurstSize; ++i) bytes[out[i]] += bb[i];
    }
    const double target = double(weights[0]) / double(weights[0] + weights[1]);
    const double tol = policy == Policy::random ? 0.03 : 0.02;
    EXPECT_NEAR(bytes[0] / (bytes[0] + bytes[1]), target, tol);
    const DynamicCounters& k = d.counters();
    // Mostly multi-packet flowlets: the test exercises flowlets, not packets.
    EXPECT_GT(k.flowlet_starts, 10000u);
    EXPECT_LT(k.flowlet_starts * 5, k.packets);
    expect_consistent(k);
}

INSTANTIATE_TEST_SUITE_P(
    Flowlet, WeightedSplit,
    ::testing::Values(std::make_tuple(Policy::least_loaded, std::vector<std::uint32_t>{10, 1}, false),
                      std::make_tuple(Policy::least_loaded, std::vector<std::uint32_t>{3, 1}, false),
                      std::make_tuple(Policy::least_loaded, std::vector<std::uint32_t>{10, 1}, true),
                      std::make_tuple(Policy::tokens, std::vector<std::uint32_t>{10, 1}, false),
                      std::make_tuple(Policy::tokens, std::vector<std::uint32_t>{3, 1}, false),
                      std::make_tuple(Policy::tokens, std::vector<std::uint32_t>{3, 1}, true),
                      std::make_tuple(Policy::random, std::vector<std::uint32_t>{10, 1}, false),
                      std::make_tuple(Policy::random, std::vector<std::uint32_t>{3, 1}, false),
                      std::make_tuple(Policy::random, std::vector<std::uint32_t>{1, 1}, false)),
    [](const auto& p) {
        const auto& w = std::get<1>(p.param);
        std::string name = std::string(to_string(std::get<0>(p.param))) + "_" + std::to_string(w[0]) + "to" +
                           std::to_string(w[1]) + (std::get<2>(p.param) ? "_by_capacity" : "_by_weight");
        std::replace(name.begin(), name.end(), '-', '_');
        return name;
    });

// Hash splitting by contrast can be far off: an elephant pins its member. With
// flowlets, the same elephant (pausing now and then) follows the weights.
TEST(FlowletSplit, PausingElephantsFollowTheShare) {
    DynamicConfig c;
    c.delta = 100;
    c.policy = Policy::tokens;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    double bytes[2] = {0, 0};
    for (int i = 0; i < 20000; ++i) {
        // One flow; every 50 packets a pause of 2 * delta.
        const Tick now = Tick(i) + Tick(i / 50) * 200;
        bytes[send1(d, v, now, 0xABCDEF, 1500)] += 1500;
    }
    EXPECT_NEAR(bytes[0] / (bytes[0] + bytes[1]), 0.5, 0.02);
    EXPECT_EQ(d.counters().flowlet_starts, 400u);
}

// ---------------------------------------------------------- membership

TEST(FlowletMembers, MemberDownMovesItsFlowsOnTheirNextPacket) {
    for (Policy p : {Policy::least_loaded, Policy::tokens, Policy::random}) {
        DynamicConfig c;
        c.delta = 1'000'000'000;   // nothing ever expires in this test
        c.dre_period = 1'000'000;
        c.policy = p;
        Dynamic d(c);
        const MemberView all = make_view({1, 1, 1});
        const MemberView no1 = make_view({1, 1, 1}, 0b101);
        const auto hashes = unique_hashes(300, 21);
        std::vector<std::uint8_t> before(hashes.size());
        Tick now = 10;
        for (std::size_t f = 0; f < hashes.size(); ++f) before[f] = send1(d, all, now++, hashes[f]);
        std::unordered_set<std::uint32_t> entries_on_1;
        for (std::size_t f = 0; f < hashes.size(); ++f)
            if (before[f] == 1) entries_on_1.insert(d.entry_index(hashes[f]));
        ASSERT_FALSE(entries_on_1.empty());

        std::vector<std::uint8_t> after(hashes.size());
        for (std::size_t f = 0; f < hashes.size(); ++f) {
            after[f] = send1(d, no1, now++, hashes[f]);
            EXPECT_NE(after[f], 1);
            if (before[f] != 1) {
                EXPECT_EQ(after[f], before[f]) << "flow " << f << " moved without cause";
            }
        }
        EXPECT_EQ(d.counters().member_lost_moves, entries_on_1.size());
        EXPECT_EQ(d.counters().flowlet_starts, d.counters().new_flows);

        // Member 1 back: active flows stay where they are (no gap, no move).
        for (std::size_t f = 0; f < hashes.size(); ++f) EXPECT_EQ(send1(d, all, now++, hashes[f]), after[f]);
        EXPECT_EQ(d.counters().member_lost_moves, entries_on_1.size());
        if (p == Policy::least_loaded) {
            // ...but new flowlets find it least loaded.
            EXPECT_EQ(send1(d, all, now++, 0xFEEDu), 1);
        }
        expect_consistent(d.counters());
    }
}

TEST(FlowletMembers, AllDownGivesNoMember) {
    DynamicConfig c;
    c.delta = 100;
    Dynamic d(c);
    const MemberView none = make_view({1, 1}, 0);
    const auto out = send(d, none, 5, {1, 2, 3, 4, 5}, {100, 100, 100, 100, 100});
    for (const auto m : out) EXPECT_EQ(m, kNoMember);
    EXPECT_EQ(d.counters().no_member, 5u);
    EXPECT_EQ(d.counters().packets, 5u);
    EXPECT_EQ(d.counters().flowlet_starts, 0u);
    EXPECT_EQ(d.active_entries(5), 0u);
    // Back up: flows start normally.
    const auto back = send(d, make_view({1, 1}), 6, {1, 2}, {100, 100});
    EXPECT_LT(back[0], 2);
    EXPECT_LT(back[1], 2);
    EXPECT_EQ(d.counters().new_flows, 2u);
}

TEST(FlowletMembers, SingleActiveMemberGetsEverything) {
    for (Policy p : {Policy::least_loaded, Policy::tokens, Policy::random}) {
        DynamicConfig c;
        c.policy = p;
        c.delta = 10;
        Dynamic d(c);
        const MemberView v = make_view({1, 1, 1, 1}, 0b0100);
        const auto hashes = unique_hashes(100, 1);
        for (std::size_t i = 0; i < hashes.size(); ++i)
            ASSERT_EQ(send1(d, v, Tick(i) * 7, hashes[i]), 2);
    }
}

// --------------------------------------------------------- rebalancing

// Never-pausing flows all on member 0 (member 1 was down when they started).
// Rebalancing moves exactly one of them — and, with 3 flows, does not
// ping-pong the third one back and forth.
TEST(FlowletRebalance, MovesNeverPausingFlowOnce) {
    for (Policy p : {Policy::least_loaded, Policy::tokens, Policy::random}) {
        for (const std::size_t n_flows : {std::size_t{2}, std::size_t{3}}) {
            for (const bool enabled : {true, false}) {
                DynamicConfig c;
                c.delta = 1'000'000'000;
                c.policy = p;
                c.rebalance_period = enabled ? 100 : 0;
                c.rebalance_threshold_pct = 10;
                Dynamic d(c);
                const auto hashes = unique_hashes(n_flows, 77);
                const std::vector<std::uint32_t> bb(n_flows, 1000);
                const MemberView only0 = make_view({1, 1}, 0b01);
                const MemberView both = make_view({1, 1});
                Tick now = 0;
                for (int i = 0; i < 250; ++i)
                    for (const auto m : send(d, only0, ++now, hashes, bb)) ASSERT_EQ(m, 0);
                std::vector<std::uint8_t> last(n_flows, 0);
                std::size_t changes = 0, on1 = 0;
                for (int i = 0; i < 3000; ++i) {
                    const auto out = send(d, both, ++now, hashes, bb);
                    for (std::size_t f = 0; f < n_flows; ++f) {
                        changes += out[f] != last[f];
                        on1 += out[f] == 1;
                        last[f] = out[f];
                    }
                }
                const DynamicCounters& k = d.counters();
                if (enabled) {
                    EXPECT_EQ(k.rebalance_moves, 1u) << to_string(p) << " flows " << n_flows;
                    EXPECT_EQ(changes, 1u);
                    EXPECT_EQ(std::count(last.begin(), last.end(), 1), 1);
                    EXPECT_GT(on1, 2900u);
                } else {
                    EXPECT_EQ(k.rebalance_moves, 0u);
                    EXPECT_EQ(changes, 0u);
                }
                EXPECT_EQ(k.member_moves, 0u);
                EXPECT_EQ(k.flowlet_starts, n_flows);
                expect_consistent(k);
            }
        }
    }
}

TEST(FlowletRebalance, BalancedLoadIsLeftAlone) {
    DynamicConfig c;
    c.delta = 1'000'000'000;
    c.rebalance_period = 50;
    Dynamic d(c);
    const auto hashes = unique_hashes(4, 3);   // least-loaded puts 2 on each member
    const std::vector<std::uint32_t> bb(4, 1000);
    const MemberView v = make_view({1, 1});
    for (Tick now = 1; now < 5000; ++now) send(d, v, now, hashes, bb);
    EXPECT_EQ(d.counters().rebalance_moves, 0u);
    EXPECT_EQ(d.counters().flowlet_starts, 4u);
}

// ------------------------------------------------- table, collisions, time

std::pair<std::uint32_t, std::uint32_t> colliding_pair(const Dynamic& d) {
    const std::uint32_t h1 = 0x12345678;
    for (std::uint32_t h2 = 1;; ++h2)
        if (h2 != h1 && d.entry_index(h2) == d.entry_index(h1)) return {h1, h2};
}

TEST(FlowletTable, CollidingFlowSharesMemberAndRefreshesEntry) {
    DynamicConfig c;
    c.table_entries = 16;
    c.delta = 100;
    c.dre_period = 1'000'000;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    const auto [h1, h2] = colliding_pair(d);

    EXPECT_EQ(send1(d, v, 1000, h1), 0);   // loads 0,0 -> member 0
    EXPECT_EQ(send1(d, v, 1099, h2), 0);   // entry active: shares member 0 (least-loaded would say 1)
    EXPECT_EQ(d.counters().collisions, 1u);
    EXPECT_EQ(d.counters().flowlet_starts, 1u);
    // h1 itself was idle for 150 >= delta, but h2 kept the entry active: no new flowlet.
    EXPECT_EQ(send1(d, v, 1150, h1), 0);
    EXPECT_EQ(d.counters().flowlet_starts, 1u);
    EXPECT_EQ(d.counters().collisions, 1u);   // h1 owns the entry
    // Entry idle >= delta: h2 starts a flowlet of its own (a new flow for the entry).
    EXPECT_EQ(send1(d, v, 1250, h2), 1);
    EXPECT_EQ(d.counters().flowlet_starts, 2u);
    EXPECT_EQ(d.counters().new_flows, 2u);
    EXPECT_EQ(d.counters().member_moves, 0u);
    EXPECT_EQ(send1(d, v, 1260, h1), 1);   // now h1 collides with h2's flowlet
    EXPECT_EQ(d.counters().collisions, 2u);
    EXPECT_EQ(d.active_entries(1260), 1u);
    EXPECT_EQ(d.active_entries(1360), 0u);
}

TEST(FlowletTable, SameFlowAfterGapCountsAsMoveNotNewFlow) {
    DynamicConfig c;
    c.delta = 100;
    c.dre_period = 1'000'000;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    EXPECT_EQ(send1(d, v, 1000, 7), 0);
    EXPECT_EQ(send1(d, v, 1050, 7), 0);    // within delta: stays although member 1 is less loaded
    EXPECT_EQ(send1(d, v, 1150, 7), 1);    // gap exactly delta: new flowlet, least loaded is 1
    EXPECT_EQ(d.counters().new_flows, 1u);
    EXPECT_EQ(d.counters().flowlet_starts, 2u);
    EXPECT_EQ(d.counters().member_moves, 1u);
}

TEST(FlowletTable, StampWrapsWithoutReviving) {
    DynamicConfig c;
    c.delta = 100;
    c.dre_period = 1'000'000;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    const Tick wrap = Tick{1} << 56;
    EXPECT_EQ(send1(d, v, wrap - 10, 42), 0);
    EXPECT_EQ(send1(d, v, wrap + 5, 42), 0);        // 15 ticks later across the wrap: same flowlet
    EXPECT_EQ(d.counters().flowlet_starts, 1u);
    EXPECT_EQ(send1(d, v, wrap + 5 + 100, 42), 1);  // 100 later: new flowlet
    EXPECT_EQ(d.counters().flowlet_starts, 2u);
    // Far in the future (days of ticks), an idle flow is not mistaken for an active one.
    const Tick later = wrap + 5 + 100 + (Tick{1} << 40);
    send1(d, v, later, 42);
    EXPECT_EQ(d.counters().flowlet_starts, 3u);
}

TEST(FlowletTable, TimeGoingBackwardsNeverMovesAFlow) {
    DynamicConfig c;
    c.delta = 100;
    c.dre_period = 1'000'000;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    EXPECT_EQ(send1(d, v, 5000, 42), 0);
    EXPECT_EQ(send1(d, v, 4000, 42), 0);   // would be a huge "gap" with unsigned arithmetic
    EXPECT_EQ(d.counters().flowlet_starts, 1u);
}

TEST(FlowletTable, ActiveEntriesCountsRecentOnly) {
    DynamicConfig c;
    c.delta = 100;
    c.table_entries = 1u << 12;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    const auto a = unique_hashes(50, 1);
    std::unordered_set<std::uint32_t> idx;
    for (const auto h : a) idx.insert(d.entry_index(h));
    send(d, v, 1000, a, std::vector<std::uint32_t>(a.size(), 100));
    EXPECT_EQ(d.active_entries(1000), idx.size());
    EXPECT_EQ(d.active_entries(1099), idx.size());
    EXPECT_EQ(d.active_entries(1100), 0u);
}

// ----------------------------------------------------- policies in detail

TEST(FlowletTokens, BoundedBalanceRecoversQuickly) {
    DynamicConfig c;
    c.delta = 1'000'000'000;
    c.policy = Policy::tokens;
    c.token_bound_bytes = 1u << 20;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    // One elephant pinned on member 0 for 500 MB: member 1 earns tokens all along.
    Tick now = 1;
    ASSERT_EQ(send1(d, v, now, 0xE1E, 1000), 0);
    for (int i = 0; i < 5000; ++i) {
        std::vector<std::uint32_t> hb(100, 0xE1E), bb(100, 1000);
        for (const auto m : send(d, v, ++now, hb, bb)) ASSERT_EQ(m, 0);
    }
    // Then many single-packet flowlets: member 1 catches up for ~2 MB (the
    // bound on both sides), then the two alternate — not 500 MB of catch-up.
    const auto hashes = unique_hashes(10000, 8);
    std::size_t on0 = 0;
    for (const auto h : hashes) on0 += send1(d, v, ++now, h, 1000) == 0;
    const std::size_t catchup = 2 * (1u << 20) / 1000 + 2;
    EXPECT_GE(on0, (hashes.size() - catchup) / 2 - 1);
    EXPECT_LE(on0, (hashes.size() - catchup) / 2 + 600);
}

TEST(FlowletRandom, SeedIsReproducible) {
    auto run = [](std::uint64_t seed) {
        DynamicConfig c;
        c.policy = Policy::random;
        c.delta = 0;
        c.seed = seed;
        Dynamic d(c);
        const MemberView v = make_view({1, 1, 1, 1});
        std::vector<std::uint8_t> all;
        for (int b = 0; b < 20; ++b) {
            const auto out = send(d, v, Tick(b), std::vector<std::uint32_t>(kBurstSize, 5),
                                  std::vector<std::uint32_t>(kBurstSize, 64));
            all.insert(all.end(), out.begin(), out.end());
        }
        return all;
    };
    EXPECT_EQ(run(1), run(1));
    EXPECT_NE(run(1), run(2));
    EXPECT_EQ(run(0), run(0));   // seed 0 still yields a working generator
    const auto r = run(0);
    EXPECT_GT(std::count(r.begin(), r.end(), 3), 100);
}

TEST(FlowletLeastLoaded, EstimatorDecaysAsConfigured) {
    DynamicConfig c;
    c.delta = 1000;
    c.dre_period = 10;
    c.dre_alpha_shift = 1;   // halve every 10 ticks
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    send1(d, v, 100, 1, 1024);
    EXPECT_EQ(d.member_load(0), 1024u);
    EXPECT_EQ(d.member_load(1), 0u);
    send1(d, v, 130, 1, 0);   // three periods later: 1024 / 8
    EXPECT_EQ(d.member_load(0), 128u);
    send1(d, v, 135, 1, 0);   // same period: unchanged
    EXPECT_EQ(d.member_load(0), 128u);
    send1(d, v, 100'000, 1, 0);   // long idle: gone
    EXPECT_EQ(d.member_load(0), 0u);
    EXPECT_EQ(d.member_load(kMaxMembers), 0u);
}

TEST(FlowletBurst, LongBurstsAndMissingBytes) {
    DynamicConfig c;
    c.delta = 0;
    c.dre_period = 1'000'000;
    Dynamic d(c);
    const MemberView v = make_view({1, 1});
    std::vector<std::uint32_t> hb(100);
    for (std::size_t i = 0; i < hb.size(); ++i) hb[i] = static_cast<std::uint32_t>(i * 2654435761u);
    const auto out = send(d, v, 10, hb, {});   // bytes == nullptr: balance by packets
    EXPECT_EQ(std::count(out.begin(), out.end(), 0), 50);
    EXPECT_EQ(std::count(out.begin(), out.end(), 1), 50);
    EXPECT_EQ(d.counters().packets, 100u);
}

// The look-ahead overload only prefetches: outputs and counters are identical
// to plain assign(), also for long bursts (> kBurstSize, chunked) and with
// rebalancing and membership changes.
TEST(FlowletLookahead, SameResultsAsPlainAssign) {
    for (Policy p : {Policy::least_loaded, Policy::tokens, Policy::random}) {
        DynamicConfig c;
        c.table_entries = 1u << 12;
        c.delta = 500;
        c.policy = p;
        c.rebalance_period = 3000;
        Dynamic plain(c), ahead(c);
        const auto hashes = unique_hashes(5000, 4);
        std::mt19937_64 rng(6);
        std::vector<std::uint32_t> hb(2 * 80), bb(2 * 80);
        for (auto& h : hb) h = hashes[rng() % hashes.size()];
        Tick now = 0;
        for (int burst = 0; burst < 3000; ++burst) {
            const std::uint32_t up = burst % 500 < 450 ? 0b111u : 0b101u;
            const MemberView v = make_view({3, 2, 1}, up);
            const auto n = static_cast<std::uint16_t>(1 + rng() % 80);
            // Current burst = first half of hb, next burst = second half.
            for (std::size_t i = 0; i < 80; ++i) hb[i] = hb[80 + i];
            for (std::size_t i = 80; i < hb.size(); ++i) hb[i] = hashes[rng() % hashes.size()];
            for (auto& b : bb) b = 64 + static_cast<std::uint32_t>(rng() % 1437);
            now += rng() % 200;
            BurstView b;
            b.hash = hb.data();
            b.bytes = bb.data();
            b.n = n;
            b.now = now;
            std::vector<std::uint8_t> o1(n), o2(n);
            plain.assign(b, v, o1.data());
            ahead.assign(b, v, o2.data(), hb.data() + 80, static_cast<std::uint16_t>(1 + rng() % 80));
            ASSERT_EQ(o1, o2) << to_string(p) << " burst " << burst;
        }
        const DynamicCounters &a = plain.counters(), &b = ahead.counters();
        EXPECT_EQ(a.packets, b.packets);
        EXPECT_EQ(a.flowlet_starts, b.flowlet_starts);
        EXPECT_EQ(a.member_moves, b.member_moves);
        EXPECT_EQ(a.member_lost_moves, b.member_lost_moves);
        EXPECT_EQ(a.rebalance_moves, b.rebalance_moves);
        EXPECT_EQ(a.collisions, b.collisions);
        EXPECT_GT(a.member_lost_moves, 0u);
    }
}

// 3..16 members exercise every lane width (4, 8, 16): byte shares follow
// weights 1..n, and a down member never gets a packet.
TEST(FlowletSplit, ManyMembersFollowWeights) {
    for (Policy p : {Policy::least_loaded, Policy::tokens, Policy::random}) {
        for (const std::size_t n_members : {std::size_t{3}, std::size_t{6}, std::size_t{12}, std::size_t{16}}) {
            std::vector<std::uint32_t> weights(n_members);
            for (std::size_t m = 0; m < n_members; ++m) weights[m] = static_cast<std::uint32_t>(m + 1);
            // Member 1 is down: the shares are those of the others.
            const MemberView v = make_view(weights, 0xFFFFu & ~0b10u);
            DynamicConfig c;
            c.delta = 200;
            c.policy = p;
            Dynamic d(c);
            TrainGen gen(23, 20000, 64, 10);
            std::vector<double> bytes(n_members, 0.0);
            for (int burst = 0; burst < 4000; ++burst) {
                std::vector<std::uint32_t> hb(kBurstSize), bb(kBurstSize);
                for (std::size_t i = 0; i < kBurstSize; ++i) {
                    hb[i] = gen.next();
                    bb[i] = gen.size();
                }
                const auto out = send(d, v, Tick(burst) * 10, hb, bb);
                for (std::size_t i = 0; i < kBurstSize; ++i) {
                    ASSERT_LT(out[i], n_members);
                    ASSERT_NE(out[i], 1);
                    bytes[out[i]] += bb[i];
                }
            }
            double total = 0, wsum = 0;
            for (std::size_t m = 0; m < n_members; ++m) {
                total += bytes[m];
                wsum += m == 1 ? 0 : weights[m];
            }
            for (std::size_t m = 0; m < n_members; ++m) {
                const double target = m == 1 ? 0.0 : weights[m] / wsum;
                EXPECT_NEAR(bytes[m] / total, target, p == Policy::random ? 0.02 : 0.01)
                    << to_string(p) << " members " << n_members << " member " << m;
            }
        }
    }
}

// Extreme weight ratios stay well defined (no overflow in the fixed-point
// scores — UBSan checks) and still follow the shares.
TEST(FlowletSplit, ExtremeWeightsAreSafe) {
    for (Policy p : {Policy::least_loaded, Policy::tokens}) {
        DynamicConfig c;
        c.delta = 0;
        c.dre_period = 1u << 30;   // hardly any decay: loads grow large
        c.policy = p;
        c.token_bound_bytes = std::uint64_t{1} << 32;
        Dynamic d(c);
        MemberView v = make_view({1, 1});
        v.weight[0] = 1;
        v.weight[1] = 4'000'000'000u;
        double bytes[2] = {0, 0};
        for (int burst = 0; burst < 2000; ++burst) {
            std::vector<std::uint32_t> hb(kBurstSize), bb(kBurstSize, 65535);
            for (std::size_t i = 0; i < kBurstSize; ++i) hb[i] = static_cast<std::uint32_t>(burst * 97 + i);
            const auto out = send(d, v, Tick(burst) * 1000, hb, bb);
            for (std::size_t i = 0; i < kBurstSize; ++i) bytes[out[i]] += bb[i];
        }
        EXPECT_LT(bytes[0], 65535.0 * 2) << to_string(p);   // ~1 packet in 4e9
        EXPECT_GT(d.member_load(1), 1'000'000'000u);
    }
}

TEST(FlowletMove, MovedObjectKeepsState) {
    DynamicConfig c;
    c.delta = 100;
    Dynamic a(c);
    const MemberView v = make_view({1, 1});
    send1(a, v, 1, 9);
    Dynamic b(std::move(a));
    EXPECT_EQ(b.counters().packets, 1u);
    EXPECT_EQ(b.active_entries(2), 1u);
}

} // namespace
} // namespace flowteam::flowlet
