// SPDX-License-Identifier: BSD-3-Clause
// Team: dispatch, counters, membership changes, the receive-side model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "teaming/team.h"

namespace flowteam::teaming {
namespace {

constexpr Mode kAllModes[] = {Mode::hash,       Mode::vport,    Mode::dynamic,
                              Mode::roundrobin, Mode::flowcell, Mode::active_backup};

std::vector<MemberInfo> equal_members(std::uint8_t n) { return std::vector<MemberInfo>(n); }

TeamConfig config(Mode m) {
    TeamConfig c;
    c.mode = m;
    c.dynamic.table_entries = 1u << 12;
    c.dynamic.delta = 1000;
    return c;
}

struct Traffic {
    explicit Traffic(std::uint32_t seed, std::uint32_t flows = 512) : rng(seed) {
        for (std::uint32_t i = 0; i < flows; ++i) flow_hash.push_back(rng());
    }
    // A burst of `n` packets drawn from the flow pool; vport = flow index % 64.
    BurstView next(std::uint16_t n) {
        hash.resize(n);
        bytes.resize(n);
        vport.resize(n);
        flow.resize(n);
        out.assign(n, 0xEE);
        for (std::uint16_t i = 0; i < n; ++i) {
            flow[i] = rng() % flow_hash.size();
            hash[i] = flow_hash[flow[i]];
            bytes[i] = 64 + rng() % 1455;
            vport[i] = static_cast<std::uint32_t>(flow[i] % 64);
        }
        now += 100 + rng() % 2000;
        BurstView b;
        b.hash = hash.data();
        b.bytes = bytes.data();
        b.vport = vport.data();
        b.n = n;
        b.now = now;
        return b;
    }
    std::mt19937 rng;
    std::vector<std::uint32_t> flow_hash, hash, bytes, vport;
    std::vector<std::size_t> flow;
    std::vector<std::uint8_t> out;
    Tick now = 0;
};

TEST(TeamNames, ParseAndPrintRoundTrip) {
    for (Mode m : kAllModes) {
        Mode back{};
        ASSERT_TRUE(parse_mode(to_string(m), back)) << to_string(m);
        EXPECT_EQ(back, m);
    }
    for (TeamingMode t : {TeamingMode::switch_independent, TeamingMode::static_lag, TeamingMode::lacp}) {
        TeamingMode back{};
        ASSERT_TRUE(parse_teaming_mode(to_string(t), back));
        EXPECT_EQ(back, t);
    }
    Mode m{};
    EXPECT_TRUE(parse_mode("active-backup", m));
    EXPECT_EQ(m, Mode::active_backup);
    EXPECT_FALSE(parse_mode("active_backup", m));
    EXPECT_FALSE(parse_mode("", m));
    TeamingMode t{};
    EXPECT_TRUE(parse_teaming_mode("static", t));
    EXPECT_EQ(t, TeamingMode::static_lag);
    EXPECT_FALSE(parse_teaming_mode("802.3ad", t));
}

void expect_throw_naming(const TeamConfig& c, std::vector<MemberInfo> m, std::uint8_t n, const char* field) {
    try {
        Team t(c, m.data(), n);
        ADD_FAILURE() << "no throw for " << field;
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
}

TEST(Team, BadConfigThrowsNamingTheField) {
    auto m = equal_members(3);
    TeamConfig c;
    c.buckets = 1000;
    expect_throw_naming(c, m, 3, "buckets");
    c = TeamConfig{};
    c.primary = 3;
    expect_throw_naming(c, m, 3, "primary");
    c = TeamConfig{};
    c.flowcell_bytes = 0;
    expect_throw_naming(c, m, 3, "flowcell_bytes");
    c = TeamConfig{};
    c.vport_slots = 0;
    expect_throw_naming(c, m, 3, "vport_slots");
    expect_throw_naming(TeamConfig{}, m, 0, "members");
    Team ok(TeamConfig{}, m.data(), 3);
    EXPECT_THROW(ok.set_member_up(3, false), std::invalid_argument);
    EXPECT_EQ(ok.dynamic_counters(), nullptr);
    EXPECT_EQ(ok.vports(), nullptr);
}

TEST(Team, HashNeverSplitsAFlow) {
    auto m = equal_members(4);
    Team team(config(Mode::hash), m.data(), 4);
    Traffic tr(17, 4096);
    std::vector<std::uint8_t> member_of(tr.flow_hash.size(), kNoMember);
    for (int b = 0; b < 2000; ++b) {
        auto v = tr.next(static_cast<std::uint16_t>(1 + tr.rng() % 32));
        team.assign(v, tr.out.data());
        for (std::uint16_t i = 0; i < v.n; ++i) {
            std::uint8_t& seen = member_of[tr.flow[i]];
            if (seen == kNoMember) seen = tr.out[i];
            ASSERT_EQ(tr.out[i], seen) << "flow " << tr.flow[i] << " split (burst " << b << ")";
            ASSERT_EQ(tr.out[i], team.buckets()[tr.hash[i] & (team.config().buckets - 1)]);
        }
    }
    // A member change moves only the lost member's flows.
    const std::vector<std::uint8_t> before = member_of;
    team.set_member_up(2, false);
    EXPECT_EQ(team.counters().bucket_moves, 256u);
    for (std::size_t f = 0; f < tr.flow_hash.size(); ++f) {
        BurstView one;
        one.hash = &tr.flow_hash[f];
        one.n = 1;
        std::uint8_t out = 0;
        team.assign(one, &out);
        if (before[f] == kNoMember) continue; // never drawn
        if (before[f] != 2) {
            EXPECT_EQ(out, before[f]);
        } else {
            EXPECT_NE(out, 2);
        }
    }
}

TEST(Team, CountersAddUp) {
    for (Mode mode : kAllModes) {
        auto m = equal_members(3);
        Team team(config(mode), m.data(), 3);
        Traffic tr(5);
        std::uint64_t pk = 0, by = 0;
        std::uint64_t per[3] = {}, per_b[3] = {}, none = 0;
        for (int b = 0; b < 300; ++b) {
            if (b == 100) team.set_member_up(0, false);
            if (b == 150) {
                team.set_member_up(1, false);
                team.set_member_up(2, false);
            }
            if (b == 200) team.set_member_up(1, true);
            auto v = tr.next(32);
            team.assign(v, tr.out.data());
            for (int i = 0; i < 32; ++i) {
                ++pk;
                by += tr.bytes[i];
                if (tr.out[i] == kNoMember) {
                    ++none;
                } else {
                    ++per[tr.out[i]];
                    per_b[tr.out[i]] += tr.bytes[i];
                }
            }
        }
        const TeamCounters& c = team.counters();
        EXPECT_EQ(c.packets, pk) << to_string(mode);
        EXPECT_EQ(c.bytes, by);
        EXPECT_EQ(c.no_member, none);
        EXPECT_EQ(none, 50u * 32) << to_string(mode);
        for (int k = 0; k < 3; ++k) {
            EXPECT_EQ(c.per_member_packets[k], per[k]);
            EXPECT_EQ(c.per_member_bytes[k], per_b[k]);
        }
    }
}

// count_packets off: the same assignments, and the per-packet counters stay
// zero (the data plane counts them itself); the other counters still count.
TEST(Team, CountPacketsOffAssignsTheSameAndLeavesPacketCountersAlone) {
    for (Mode mode : kAllModes) {
        auto m = equal_members(3);
        TeamConfig on = config(mode), off = config(mode);
        off.count_packets = false;
        Team a(on, m.data(), 3), b(off, m.data(), 3);
        Traffic ta(9), tb(9);
        for (int burst = 0; burst < 200; ++burst) {
            if (burst == 80) {
                a.set_member_up(1, false);
                b.set_member_up(1, false);
            }
            auto va = ta.next(32);
            auto vb = tb.next(32);
            a.assign(va, ta.out.data());
            b.assign(vb, tb.out.data());
            ASSERT_EQ(ta.out, tb.out) << to_string(mode) << " burst " << burst;
        }
        const TeamCounters& ca = a.counters();
        const TeamCounters& cb = b.counters();
        EXPECT_EQ(ca.packets, 200u * 32) << to_string(mode);
        EXPECT_EQ(cb.packets, 0u) << to_string(mode);
        EXPECT_EQ(cb.bytes, 0u);
        for (int k = 0; k < 3; ++k) EXPECT_EQ(cb.per_member_packets[k], 0u);
        EXPECT_EQ(cb.bucket_moves, ca.bucket_moves) << to_string(mode);
        EXPECT_EQ(cb.vport_moves, ca.vport_moves) << to_string(mode);
    }
}

// No packet is ever assigned to a down member, in any mode, under random
// membership churn; kNoMember exactly when no member is up.
class EveryMode : public ::testing::TestWithParam<Mode> {};

TEST_P(EveryMode, NeverADownMemberAndNoMemberWhenNoneUp) {
    auto m = equal_members(5);
    m[1].capacity_bps = 1'000'000'000ull; // unequal weights too
    Team team(config(GetParam()), m.data(), 5);
    Traffic tr(31 + static_cast<std::uint32_t>(GetParam()));
    for (int b = 0; b < 3000; ++b) {
        if (b % 7 == 0) team.set_member_up(static_cast<std::uint8_t>(tr.rng() % 5), tr.rng() % 3 != 0);
        if (b % 500 == 0) // sometimes everything is down
            for (std::uint8_t k = 0; k < 5; ++k) team.set_member_up(k, false);
        auto v = tr.next(static_cast<std::uint16_t>(1 + tr.rng() % 32));
        team.assign(v, tr.out.data());
        const MemberView& view = team.view();
        for (std::uint16_t i = 0; i < v.n; ++i) {
            if (view.n_active == 0)
                ASSERT_EQ(tr.out[i], kNoMember) << "burst " << b;
            else
                ASSERT_TRUE(view.is_up(tr.out[i])) << "burst " << b << " packet " << i << " member "
                                                   << int(tr.out[i]) << " mask " << view.active_mask;
        }
    }
    EXPECT_GT(team.counters().no_member, 0u);
    if (GetParam() == Mode::dynamic) {
        ASSERT_NE(team.dynamic_counters(), nullptr);
        EXPECT_GT(team.dynamic_counters()->packets, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Modes, EveryMode, ::testing::ValuesIn(kAllModes),
                         [](const ::testing::TestParamInfo<Mode>& i) {
                             std::string s = to_string(i.param);
                             for (char& ch : s)
                                 if (ch == '-') ch = '_';
                             return s;
                         });

// Weights 10G + 1G: each weighted mode gives the 10G member 10/11 within 2 %.
TEST(Team, WeightsTenToOneWithinTwoPercent) {
    const std::vector<MemberInfo> m = {{10'000'000'000ull, 1, true}, {1'000'000'000ull, 1, true}};
    const double share[2] = {10.0 / 11, 1.0 / 11};
    for (Mode mode : {Mode::hash, Mode::roundrobin, Mode::flowcell, Mode::vport}) {
        TeamConfig c = config(mode);
        c.flowcell_bytes = 4096;
        Team team(c, m.data(), 2);
        EXPECT_EQ(team.view().weight[0], 10u);
        EXPECT_EQ(team.view().weight[1], 1u);
        Traffic tr(8, 1u << 16);
        std::vector<std::uint32_t> vp(32);
        for (int b = 0; b < 20000; ++b) {
            auto v = tr.next(32);
            if (mode == Mode::vport) { // distinct vports: one per flow
                for (int i = 0; i < 32; ++i) vp[i] = static_cast<std::uint32_t>(tr.flow[i]);
                v.vport = vp.data();
            }
            team.assign(v, tr.out.data());
        }
        const TeamCounters& cn = team.counters();
        for (int k = 0; k < 2; ++k) {
            double got;
            if (mode == Mode::flowcell)
                got = double(cn.per_member_bytes[k]) / double(cn.bytes);
            else if (mode == Mode::vport)
                got = double(team.vports()->pinned_on(static_cast<std::uint8_t>(k))) / team.vports()->pinned();
            else
                got = double(cn.per_member_packets[k]) / double(cn.packets);
            EXPECT_LT(std::fabs(got - share[k]) / share[k], 0.02)
                << to_string(mode) << " member " << k << " share " << got;
        }
    }
}

TEST(Team, ActiveBackupThroughTheTeam) {
    auto m = equal_members(3);
    TeamConfig c = config(Mode::active_backup);
    c.primary = 2;
    Team team(c, m.data(), 3);
    EXPECT_EQ(team.active_member(), 2);
    Traffic tr(1);
    auto v = tr.next(32);
    team.assign(v, tr.out.data());
    for (std::uint8_t x : tr.out) EXPECT_EQ(x, 2);
    team.set_member_up(2, false);
    EXPECT_EQ(team.active_member(), 0);
    team.assign(v, tr.out.data());
    for (std::uint8_t x : tr.out) EXPECT_EQ(x, 0);
    team.set_member_up(2, true);
    EXPECT_EQ(team.active_member(), 2);
    EXPECT_EQ(team.counters().failovers, 2u);
    EXPECT_EQ(team.counters().per_member_packets[0], 32u);
    EXPECT_EQ(team.counters().per_member_packets[2], 32u);
}

TEST(Team, VportThroughTheTeam) {
    auto m = equal_members(2);
    Team team(config(Mode::vport), m.data(), 2);
    ASSERT_NE(team.vports(), nullptr);
    Traffic tr(3);
    for (int b = 0; b < 50; ++b) {
        auto v = tr.next(32);
        team.assign(v, tr.out.data());
    }
    EXPECT_EQ(team.vports()->pinned(), 64u);
    EXPECT_EQ(team.vports()->pinned_on(0), 32u);
    team.set_member_up(0, false);
    EXPECT_EQ(team.counters().vport_moves, 32u);
    team.set_member_up(0, true);
    EXPECT_EQ(team.rebalance_vports(), 32u);
    EXPECT_EQ(team.counters().vport_moves, 64u);
    // vport == nullptr: the flow hash is the vport id.
    auto v = tr.next(32);
    v.vport = nullptr;
    team.assign(v, tr.out.data());
    for (std::uint16_t i = 0; i < v.n; ++i) EXPECT_EQ(tr.out[i], team.vports()->pinned_member(tr.hash[i]));
}

TEST(Team, DynamicDelegatesToFlowlet) {
    auto m = equal_members(3);
    TeamConfig c = config(Mode::dynamic);
    Team team(c, m.data(), 3);
    flowlet::Dynamic ref(c.dynamic);
    Traffic tr(12);
    std::vector<std::uint8_t> want(32);
    for (int b = 0; b < 500; ++b) {
        auto v = tr.next(32);
        team.assign(v, tr.out.data());
        ref.assign(v, team.view(), want.data());
        ASSERT_EQ(tr.out, want) << "burst " << b;
    }
    ASSERT_NE(team.dynamic_counters(), nullptr);
    EXPECT_EQ(team.dynamic_counters()->packets, 500u * 32);
}

// assign() with the next burst's hashes (look-ahead) gives exactly what the
// plain assign() gives, in every mode, under membership churn, with bursts of
// different sizes (including empty look-ahead) and a large dynamic table.
TEST(Team, LookAheadAssignEqualsPlainAssign) {
    for (Mode mode : kAllModes) {
        auto m = equal_members(4);
        m[2].capacity_bps = 1'000'000'000ull;
        TeamConfig c = config(mode);
        c.dynamic.table_entries = 1u << 16;
        Team plain(c, m.data(), 4);
        Team ahead(c, m.data(), 4);
        Traffic tr(77 + static_cast<std::uint32_t>(mode), 4096);
        struct Burst {
            std::vector<std::uint32_t> hash, bytes, vport;
            std::uint16_t n;
            Tick now;
        };
        std::vector<Burst> bursts;
        for (int b = 0; b < 2000; ++b) {
            const auto n = static_cast<std::uint16_t>(b % 50 == 0 ? 0 : 1 + tr.rng() % 32);
            const BurstView v = tr.next(n);
            bursts.push_back({tr.hash, tr.bytes, tr.vport, n, v.now});
        }
        std::vector<std::uint8_t> got(32), want(32);
        std::mt19937 churn(5);
        for (std::size_t b = 0; b < bursts.size(); ++b) {
            if (b % 97 == 0) {
                const auto k = static_cast<std::uint8_t>(churn() % 4);
                const bool up = churn() % 3 != 0;
                ASSERT_EQ(plain.set_member_up(k, up), ahead.set_member_up(k, up));
            }
            const Burst& cur = bursts[b];
            BurstView v;
            v.hash = cur.hash.data();
            v.bytes = cur.bytes.data();
            v.vport = cur.vport.data();
            v.n = cur.n;
            v.now = cur.now;
            const bool has_next = b + 1 < bursts.size();
            const std::uint32_t* next_hash = has_next ? bursts[b + 1].hash.data() : nullptr;
            const std::uint16_t next_n = has_next ? bursts[b + 1].n : 0;
            std::fill(got.begin(), got.end(), 0xEE);
            std::fill(want.begin(), want.end(), 0xEE);
            plain.assign(v, want.data());
            ahead.assign(v, got.data(), next_hash, next_n);
            ASSERT_EQ(got, want) << to_string(mode) << " burst " << b;
        }
        const TeamCounters& a = ahead.counters();
        const TeamCounters& p = plain.counters();
        EXPECT_EQ(a.packets, p.packets);
        EXPECT_EQ(a.bytes, p.bytes);
        EXPECT_EQ(a.no_member, p.no_member);
        EXPECT_GT(a.packets, 2000u * 10) << to_string(mode);
        for (std::size_t k = 0; k < kMaxMembers; ++k) {
            EXPECT_EQ(a.per_member_packets[k], p.per_member_packets[k]);
            EXPECT_EQ(a.per_member_bytes[k], p.per_member_bytes[k]);
        }
        if (mode == Mode::dynamic) {
            ASSERT_NE(ahead.dynamic_counters(), nullptr);
            EXPECT_EQ(ahead.dynamic_counters()->packets, plain.dynamic_counters()->packets);
        }
    }
}

TEST(Team, MoveKeepsState) {
    auto m = equal_members(2);
    Team a(config(Mode::roundrobin), m.data(), 2);
    Traffic tr(2);
    auto v = tr.next(3);
    a.assign(v, tr.out.data()); // 0 1 0
    Team b(std::move(a));
    b.assign(v, tr.out.data()); // continues: 1 0 1
    EXPECT_EQ(tr.out[0], 1);
    EXPECT_EQ(b.counters().packets, 6u);
}

// ---------------------------------------------------------------- receive side

MemberView view_of(std::uint8_t n, std::uint32_t up_mask) {
    MemberView v;
    v.n_members = n;
    v.active_mask = up_mask;
    for (std::uint8_t i = 0; i < n; ++i) {
        v.weight[i] = 1;
        if ((up_mask >> i) & 1u) v.active[v.n_active++] = i;
    }
    return v;
}

class Inbound : public ::testing::TestWithParam<std::tuple<TeamingMode, Mode>> {};

TEST_P(Inbound, FollowsTheTeamingModel) {
    const auto [teaming, mode] = GetParam();
    const MemberView all = view_of(4, 0b1111);
    std::mt19937 rng(4);
    std::uint32_t hits[4] = {};
    const int n = 40000;
    for (int i = 0; i < n; ++i) {
        const std::uint32_t h = rng();
        const auto sender = static_cast<std::uint8_t>(rng() % 4);
        const std::uint8_t got = inbound_member(teaming, mode, sender, h, 1, all);
        ASSERT_LT(got, 4);
        ++hits[got];
        if (teaming == TeamingMode::switch_independent) {
            if (mode == Mode::vport || mode == Mode::dynamic)
                ASSERT_EQ(got, sender); // each vport's MAC lives on its own member
            else
                ASSERT_EQ(got, 1); // everything arrives on the primary
        } else {
            // The switch hashes the flow: same flow, same member, whatever the sender did.
            ASSERT_EQ(got, inbound_member(teaming, mode, static_cast<std::uint8_t>((sender + 1) % 4), h, 1, all));
        }
    }
    if (teaming != TeamingMode::switch_independent ||
        (mode == Mode::vport || mode == Mode::dynamic)) {
        for (int k = 0; k < 4; ++k) EXPECT_NEAR(hits[k], n / 4.0, n * 0.02) << "member " << k;
    }
    // Receiver members down: never delivered to a down member.
    const MemberView some = view_of(4, 0b1010); // 1 and 3 up
    for (int i = 0; i < 2000; ++i) {
        const std::uint8_t got = inbound_member(teaming, mode, static_cast<std::uint8_t>(i % 4), rng(), 0, some);
        ASSERT_TRUE(some.is_up(got)) << int(got);
        const bool si = teaming == TeamingMode::switch_independent;
        const bool per_vport = mode == Mode::vport || mode == Mode::dynamic;
        if (si && !per_vport) {
            ASSERT_EQ(got, 1); // primary 0 down: the lowest up member took the MAC
        }
        if (si && per_vport && some.is_up(static_cast<std::uint8_t>(i % 4))) {
            ASSERT_EQ(got, i % 4);
        }
    }
    EXPECT_EQ(inbound_member(teaming, mode, 0, 123, 0, view_of(4, 0)), kNoMember);
    EXPECT_EQ(inbound_member(teaming, mode, kNoMember, 123, 0, all), kNoMember);
}

INSTANTIATE_TEST_SUITE_P(
    AllCombinations, Inbound,
    ::testing::Combine(::testing::Values(TeamingMode::switch_independent, TeamingMode::static_lag, TeamingMode::lacp),
                       ::testing::ValuesIn(kAllModes)),
    [](const ::testing::TestParamInfo<std::tuple<TeamingMode, Mode>>& i) {
        std::string s = std::string(to_string(std::get<0>(i.param))) + "_" + to_string(std::get<1>(i.param));
        for (char& ch : s)
            if (ch == '-') ch = '_';
        return s;
    });

} // namespace
} // namespace flowteam::teaming
