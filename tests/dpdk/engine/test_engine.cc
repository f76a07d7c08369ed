// SPDX-License-Identifier: BSD-3-Clause
// The engine on the embedded testbed: each mode's defining property, asserted
// from what the receiving team RECEIVED (and the counters that account for
// every packet). Runs are short (about 1-2 s each); no timing is asserted.
#include <gtest/gtest.h>

#include <rte_cycles.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/engine.h"
#include "dataplane/telemetry.h"
#include "engine_env.h"

namespace flowteam::enginetest {
namespace {

namespace dp = flowteam::dataplane;
using emulation::ProbeStatus;
using packet::ParseStatus;

constexpr std::uint64_t kMs = 1'000'000;

dp::EngineOptions base(std::size_t members = 2, std::uint64_t rate = 1'000'000'000ull) {
    dp::EngineOptions o;
    o.links.resize(members);
    for (auto& l : o.links) l.rate_bps = rate;
    o.duration_ns = 1000 * kMs;
    o.progress = false;
    o.rx_queues = 2;
    o.traffic.n_flows = 16;
    return o;
}

std::uint64_t parse_drops(const dp::EngineReport& r) {
    std::uint64_t s = 0;
    for (std::size_t i = 1; i < dp::kParseStatusCount; ++i) s += r.malformed[i];
    return s;
}

// Every packet sent is received, or counted as lost/dropped with a reason.
void expect_accounted(const dp::EngineReport& r) {
    EXPECT_GT(r.tx_packets, 0u);
    EXPECT_EQ(r.unaccounted(), 0u) << "sent " << r.tx_packets << " received " << r.rx_packets << " lost "
                                   << r.wire_lost << " dropped " << r.wire_dropped << " in flight "
                                   << r.in_flight_at_stop;
    EXPECT_EQ(r.generated, r.tx_packets + parse_drops(r) + r.tx_no_member + r.tx_unsent_at_stop);
    std::uint64_t tx = 0, rx = 0;
    for (const auto& m : r.members) {
        tx += m.tx_packets;
        rx += m.rx_packets;
    }
    EXPECT_EQ(tx, r.tx_packets);
    EXPECT_EQ(rx, r.rx_packets);
}

TEST(EngineHash, NeverSplitsAFlowAcrossMembers) {
    auto o = base();
    o.team.mode = teaming::Mode::hash;
    o.team.teaming = teaming::TeamingMode::static_lag;   // the switch hashes too: both members receive
    o.traffic.n_flows = 32;
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    EXPECT_EQ(r.wire_lost + r.wire_dropped, 0u);
    EXPECT_EQ(r.flows_seen, 32u);
    EXPECT_EQ(r.flows_split_links, 0u) << "a flow crossed more than one member link";
    EXPECT_EQ(r.flows_split_rx, 0u) << "a flow arrived on more than one receiving member";
    EXPECT_EQ(r.member_changes, 0u);
    EXPECT_EQ(r.reorder.reordered, 0u);
    EXPECT_EQ(r.reorder.dropped, 0u);
    for (const auto& m : r.members) {
        EXPECT_GT(m.tx_packets, 0u) << "32 flows over 2 members use both";
        EXPECT_GT(m.rx_packets, 0u);
    }
}

TEST(EngineHash, SwitchIndependentReceivesOnlyOnThePrimary) {
    auto o = base(3);
    o.team.mode = teaming::Mode::hash;
    o.team.teaming = teaming::TeamingMode::switch_independent;
    o.team.primary = 1;
    o.receiver_primary = 1;
    o.traffic.n_flows = 24;
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    for (std::size_t m = 0; m < 3; ++m) {
        EXPECT_GT(r.members[m].tx_packets, 0u) << "member " << m << " transmits";
        if (m == 1)
            EXPECT_EQ(r.members[m].rx_packets, r.rx_packets);
        else
            EXPECT_EQ(r.members[m].rx_packets, 0u) << "member " << m << " must not receive";
    }
    EXPECT_EQ(r.flows_split_links, 0u);
}

// Flows paced well below the members' rates, with sender-created gaps (3 ms)
// longer than the flowlet gap (1 ms), which is above the skew (100 us).
dp::EngineOptions dynamic_setup(flowlet::Policy policy) {
    auto o = base();
    o.team.mode = teaming::Mode::dynamic;
    o.team.dynamic.policy = policy;
    o.flowlet_gap_ns = 1000'000;
    o.links[0].delay_ns = 0;
    o.links[1].delay_ns = 100'000;
    o.traffic.n_flows = 16;
    o.traffic.pace_bps = 20'000'000;
    o.traffic.gap_every_bytes = 32 * 1024;
    o.traffic.gap_ns = 3 * kMs;
    o.duration_ns = 2000 * kMs;
    return o;
}

TEST(EngineDynamic, GapAboveSkewGivesNoReorderingAndEqualShares) {
    const auto r = dp::run_testbed(dynamic_setup(flowlet::Policy::least_loaded));
    expect_accounted(r);
    EXPECT_GE(r.flows_seen, 8u);
    EXPECT_EQ(r.reorder.reordered, 0u) << "delta above the skew must not reorder";
    EXPECT_EQ(r.member_changes_below_gap, 0u);
    ASSERT_TRUE(r.has_dynamic);
    EXPECT_GT(r.dynamic.flowlet_starts, r.flows_seen) << "sender gaps start new flowlets";
    // Switch-independent + dynamic: each member's traffic arrives on that member.
    for (const auto& m : r.members) {
        const double share = static_cast<double>(m.rx_packets) / static_cast<double>(r.rx_packets);
        EXPECT_NEAR(share, 0.5, 0.05) << "within 10 % of the equal share";
    }
}

TEST(EngineDynamic, MovesAFlowOnlyAfterAGapOfAtLeastDelta) {
    const auto o = dynamic_setup(flowlet::Policy::random);
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    ASSERT_TRUE(r.has_dynamic);
    EXPECT_GT(r.dynamic.member_moves, 0u);
    EXPECT_GT(r.member_changes, 0u) << "the receiver saw flows change member";
    EXPECT_EQ(r.member_changes_below_gap, 0u);
    EXPECT_GE(r.min_change_gap_ns + 1000, o.flowlet_gap_ns) << "smallest TX gap at a member change";
    EXPECT_EQ(r.reorder.reordered, 0u);
    EXPECT_GT(r.flows_split_links, 0u);
}

// Unpaced elephants at line rate: every member queue stays full and the
// single source is held back whenever one of them is (backpressure), so a
// flow looks idle at the sender while its packets still wait in a queue.
// 7 flows over 2 x 1G: the uneven split (4 + 3) makes one member fill first.
dp::EngineOptions saturated_elephants(std::uint64_t skew_ns) {
    auto o = base();
    o.team.mode = teaming::Mode::dynamic;
    o.team.teaming = teaming::TeamingMode::static_lag;   // the switch merges the paths (FLARE's model)
    o.links[0].delay_ns = 0;
    o.links[1].delay_ns = skew_ns;
    o.traffic.n_flows = 7;
    o.traffic.pace_bps = 0;
    o.duration_ns = 1000 * kMs;
    return o;
}

void expect_no_reordering_and_both_members_used(const dp::EngineReport& r, const char* what) {
    expect_accounted(r);
    EXPECT_EQ(r.reorder.reordered, 0u) << what;
    EXPECT_EQ(r.reorder.dropped, 0u) << what;
    for (const auto& m : r.members)
        EXPECT_GE(static_cast<double>(m.tx_bytes) / static_cast<double>(r.tx_bytes), 0.4) << what;
    ASSERT_TRUE(r.has_dynamic);
    EXPECT_EQ(r.flowlet_timing, "queue");
}

TEST(EngineDynamic, QueueTimingNeverReordersSaturatedElephants) {
    for (const std::uint64_t skew : {std::uint64_t{0}, 100 * std::uint64_t{1000}, 1000 * std::uint64_t{1000}}) {
        auto o = saturated_elephants(skew);
        o.flowlet_gap_ns = 0;   // as soon as moving is safe
        const auto r = dp::run_testbed(o);
        expect_no_reordering_and_both_members_used(r, ("delta 0, skew " + std::to_string(skew / 1000) + " us").c_str());
        EXPECT_GT(r.dynamic.moves_held, 0u) << "the flows did look idle at the sender: the rule held them back";
    }
    auto o = saturated_elephants(1000 * 1000);
    o.flowlet_gap_auto = true;
    const auto r = dp::run_testbed(o);
    expect_no_reordering_and_both_members_used(r, "auto delta, 1 ms skew");
    // The skew the rule used is the measured one (1 ms), and the receiver measured it.
    EXPECT_NEAR(r.flowlet_skew_us, 1000.0, 1.0);
    EXPECT_NEAR(r.members[1].path_delay_max_us - r.members[0].path_delay_min_us, 1000.0, 1.0);
    EXPECT_FALSE(r.delay_series.empty());
}

// The same load with FLARE's classic rule (idle at the sender for delta,
// delta above the 100 us skew) does reorder: the source, held back while one
// member's backlog is full (~0.4 ms for a burst at 1G), looks idle for longer
// than delta while the flows' packets still wait. The case queue timing exists for.
TEST(EngineDynamic, SenderTimingReordersSaturatedElephants) {
    auto o = saturated_elephants(100 * 1000);
    o.flowlet_timing = flowlet::Timing::sender;
    o.flowlet_gap_ns = 150 * 1000;
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    EXPECT_GT(r.reorder.reordered, 0u);
    EXPECT_EQ(r.dynamic.moves_held, 0u) << "sender timing holds nothing back";
}

TEST(EngineRoundRobin, ReordersOnceMembersDifferInDelay) {
    auto o = base();
    o.team.mode = teaming::Mode::roundrobin;
    o.traffic.n_flows = 5;   // odd: consecutive packets of a flow alternate members
    o.links[1].delay_ns = 500'000;
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    EXPECT_EQ(r.wire_lost + r.wire_dropped, 0u);
    EXPECT_GT(r.reorder.reordered, 0u);
    EXPECT_GT(r.reorder.n_reordered_ge3, 0u);
    EXPECT_EQ(r.reorder.dropped, 0u) << "reordering is not loss";
    EXPECT_EQ(r.flows_split_links, 5u);
}

TEST(EngineFailover, MemberDownLosesOnlyWhatItsLinkHeldAndOnlyItsBucketsMove) {
    auto o = base(2);
    o.team.mode = teaming::Mode::hash;
    // 20 ms of propagation: the link holds whatever it carried in the last 20 ms,
    // even when this shared 2-core machine deschedules the worker for a while.
    o.links[0].delay_ns = o.links[1].delay_ns = 20'000'000;
    o.failures.push_back({1, 700 * kMs, std::nullopt});
    o.duration_ns = 1500 * kMs;
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    EXPECT_EQ(r.wire_dropped, 0u);
    EXPECT_GT(r.wire_lost, 0u) << "the link held packets (member 1 sent " << r.members[1].tx_packets
                               << ", link accepted " << r.members[1].link_accepted << ")";
    EXPECT_EQ(r.members[0].link_lost + r.members[0].port_ring_lost, 0u);
    EXPECT_EQ(r.wire_lost, r.members[1].link_lost + r.members[1].port_ring_lost);
    EXPECT_EQ(r.tx_packets, r.rx_packets + r.wire_lost);
    // The receiver sees exactly those sequences missing, and no reordering.
    EXPECT_EQ(r.reorder.dropped, r.wire_lost);
    EXPECT_EQ(r.reorder.reordered, 0u);
    EXPECT_FALSE(r.members[1].up);
    ASSERT_EQ(r.failovers.size(), 1u);
    const auto& f = r.failovers[0];
    EXPECT_EQ(f.member, 1);
    EXPECT_FALSE(f.up);
    EXPECT_EQ(f.buckets_moved, kDefaultBuckets / 2) << "member 1 owned half the buckets";
    EXPECT_EQ(f.buckets_moved_foreign, 0u) << "only the failed member's buckets move";
    EXPECT_EQ(f.lost, r.wire_lost);
    EXPECT_EQ(r.team.bucket_moves, kDefaultBuckets / 2);
    EXPECT_EQ(r.members[1].down_events, 1u);
}

TEST(EngineFailover, MemberComesBackAndTakesOnlyItsBucketsBack) {
    auto o = base(3, 10'000'000'000ull);
    o.team.mode = teaming::Mode::hash;
    o.traffic.n_flows = 48;
    for (auto& l : o.links) l.delay_ns = 200'000;
    o.failures.push_back({2, 400 * kMs, 900 * kMs});
    o.duration_ns = 1400 * kMs;
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    ASSERT_EQ(r.failovers.size(), 2u);
    EXPECT_FALSE(r.failovers[0].up);
    EXPECT_TRUE(r.failovers[1].up);
    for (const auto& f : r.failovers) {
        EXPECT_EQ(f.member, 2);
        EXPECT_GT(f.buckets_moved, 0u);
        EXPECT_EQ(f.buckets_moved_foreign, 0u);
    }
    EXPECT_EQ(r.failovers[0].buckets_moved, r.failovers[1].buckets_moved) << "a flap restores the layout";
    EXPECT_TRUE(r.members[2].up);
    EXPECT_EQ(r.members[2].up_events, 1u);
    EXPECT_EQ(r.reorder.dropped, r.wire_lost);
}

// A source that corrupts some frames the way a broken producer would.
struct Corruption {
    std::uint64_t truncated_l2 = 0, truncated_l3 = 0, bad_l3 = 0, not_ip = 0, total = 0;
};

class CorruptingSource final : public dp::FrameSource {
public:
    CorruptingSource(const emulation::TrafficConfig& cfg, Corruption* c)
        : inner_(cfg, rte_get_tsc_hz()), c_(c) {}
    std::uint16_t fill(Tick now, dp::FrameBuf* bufs, std::uint16_t n) override {
        const std::uint16_t k = inner_.fill(now, bufs, n);
        for (std::uint16_t i = 0; i < k; ++i) {
            ++c_->total;
            switch (c_->total % 10) {
            case 3:
                bufs[i].len = 10;   // shorter than Ethernet
                ++c_->truncated_l2;
                break;
            case 5:
                bufs[i].len = 14 + 10;   // IPv4 header cut
                ++c_->truncated_l3;
                break;
            case 7:
                bufs[i].data[14] = 0x42;   // IHL 2
                ++c_->bad_l3;
                break;
            case 9:
                bufs[i].data[12] = 0x88;   // not IP: fine for the team (l2 hash), not a probe
                bufs[i].data[13] = 0xB5;
                ++c_->not_ip;
                break;
            default:
                break;
            }
        }
        return k;
    }

private:
    dp::SyntheticSource inner_;
    Corruption* c_;
};

TEST(EngineTx, MalformedFramesAreCountedByReasonAndDropped) {
    auto o = base();
    Corruption c;
    emulation::TrafficConfig tc;
    tc.n_flows = 8;
    tc.mtu = 1500;
    o.traffic_kind = dp::TrafficKind::custom;
    o.source_factory = [&c, tc](unsigned) { return std::make_unique<CorruptingSource>(tc, &c); };
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    ASSERT_GT(c.total, 100u);
    EXPECT_EQ(r.generated, c.total);
    EXPECT_EQ(r.malformed[static_cast<std::size_t>(ParseStatus::truncated_l2)], c.truncated_l2);
    EXPECT_EQ(r.malformed[static_cast<std::size_t>(ParseStatus::truncated_l3)], c.truncated_l3);
    EXPECT_EQ(r.malformed[static_cast<std::size_t>(ParseStatus::bad_l3)], c.bad_l3);
    EXPECT_EQ(parse_drops(r), c.truncated_l2 + c.truncated_l3 + c.bad_l3);
    EXPECT_EQ(r.tx_packets, c.total - parse_drops(r));
    // Not IP: carried by the team, rejected by the receiver's probe parser.
    EXPECT_EQ(r.probe_status[static_cast<std::size_t>(ProbeStatus::not_ipv4)], c.not_ip);
    EXPECT_EQ(r.probe_status[static_cast<std::size_t>(ProbeStatus::ok)], r.rx_packets - c.not_ip);
}

// Replays the first kRecorded probe frames of a synthetic source over and
// over (as a looped pcap would), paced by the source it wraps.
class LoopingSource final : public dp::FrameSource {
public:
    static constexpr std::size_t kRecorded = 400;
    explicit LoopingSource(const emulation::TrafficConfig& cfg) : inner_(cfg, rte_get_tsc_hz()) {}
    std::uint16_t fill(Tick now, dp::FrameBuf* bufs, std::uint16_t n) override {
        const std::uint16_t k = inner_.fill(now, bufs, n);
        for (std::uint16_t i = 0; i < k; ++i) {
            if (rec_.size() < kRecorded) {
                rec_.emplace_back(bufs[i].data, bufs[i].data + bufs[i].len);
                continue;
            }
            const auto& f = rec_[next_];
            if (f.size() <= bufs[i].cap) {
                std::memcpy(bufs[i].data, f.data(), f.size());
                bufs[i].len = static_cast<std::uint32_t>(f.size());
            }
            next_ = (next_ + 1) % rec_.size();
        }
        return k;
    }

private:
    dp::SyntheticSource inner_;
    std::vector<std::vector<std::uint8_t>> rec_;
    std::size_t next_ = 0;
};

// --restart-flows: each new pass of a looped replay is a new run of every
// flow (measured in order); without it the passes are duplicates.
TEST(EngineRx, RestartFlowsTakesALoopedReplayAsNewRunsOfTheFlows) {
    for (bool restart : {true, false}) {
        auto o = base(1);
        o.team.mode = teaming::Mode::hash;
        o.rx_queues = 1;
        o.restart_flows = restart;
        emulation::TrafficConfig tc;
        tc.n_flows = 8;
        tc.mtu = 1500;
        o.traffic_kind = dp::TrafficKind::custom;
        o.source_factory = [tc](unsigned) { return std::make_unique<LoopingSource>(tc); };
        const auto r = dp::run_testbed(o);
        expect_accounted(r);
        ASSERT_GT(r.rx_packets, 4 * LoopingSource::kRecorded) << "several passes needed";
        if (restart) {
            // Every flow of the recording started again on each later pass.
            EXPECT_GE(r.flow_restarts, 8u * (r.rx_packets / LoopingSource::kRecorded - 2));
            EXPECT_EQ(r.reorder.dup, 0u);
            EXPECT_EQ(r.reorder.reordered, 0u);
            EXPECT_EQ(r.reorder.unique, r.rx_packets);
        } else {
            EXPECT_EQ(r.flow_restarts, 0u);
            EXPECT_GE(r.reorder.dup, r.rx_packets - LoopingSource::kRecorded - 1);
        }
    }
}

TEST(EngineRx, SoftwareRssSpreadsFlowsOverQueuesOfEveryMember) {
    auto o = base();
    o.team.mode = teaming::Mode::hash;
    o.team.teaming = teaming::TeamingMode::static_lag;
    o.rx_queues = 4;
    o.traffic.n_flows = 64;
    const auto r = dp::run_testbed(o);
    expect_accounted(r);
    EXPECT_EQ(r.reta.size(), 128u);
    ASSERT_EQ(r.lcore_of_queue.size(), 4u);
    for (auto lc : r.lcore_of_queue) EXPECT_EQ(lc, r.lcore_of_queue[0]) << "one RX lcore polls every queue";
    for (const auto& m : r.members) {
        ASSERT_EQ(m.rx_queue_packets.size(), 4u);
        std::uint64_t sum = 0, used = 0;
        for (auto q : m.rx_queue_packets) {
            sum += q;
            used += q != 0 ? 1 : 0;
        }
        EXPECT_EQ(sum, m.rx_packets);
        EXPECT_GE(used, 2u) << "Toeplitz -> RETA spreads 64 flows over the queues";
    }
}

TEST(EngineTelemetry, MembersAndReorderAreReadableDuringTheRun) {
    auto o = base();
    o.duration_ns = 1500 * kMs;
    std::string members, reorder, flowlets, config;
    std::thread q([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        const std::string sock = engine_test_eal().telemetry_socket;
        try {
            members = dp::telemetry_query(sock, "/flowteam/members");
            reorder = dp::telemetry_query(sock, "/flowteam/reorder");
            flowlets = dp::telemetry_query(sock, "/flowteam/flowlets");
            config = dp::telemetry_query(sock, "/flowteam/config");
        } catch (const std::exception& e) {
            members = std::string("error: ") + e.what();
        }
    });
    const auto r = dp::run_testbed(o);
    q.join();
    expect_accounted(r);
    EXPECT_NE(members.find("tx_packets"), std::string::npos) << members;
    EXPECT_NE(members.find("link_delivered"), std::string::npos) << members;
    EXPECT_NE(reorder.find("reordered"), std::string::npos) << reorder;
    EXPECT_NE(flowlets.find("flowlet_starts"), std::string::npos) << flowlets;
    EXPECT_NE(config.find("rates_bps"), std::string::npos) << config;
    // After the run the providers are gone.
    const std::string after = dp::telemetry_query(engine_test_eal().telemetry_socket, "/flowteam/members");
    EXPECT_NE(after.find("available"), std::string::npos) << after;
}

TEST(EngineOptionsCheck, BadOptionsAreRejectedWithTheField) {
    auto o = base();
    o.failures.push_back({5, 0, std::nullopt});
    try {
        dp::run_testbed(o);
        FAIL() << "member 5 of 2 accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("fail"), std::string::npos) << e.what();
    }
    auto p = base();
    p.links.clear();
    EXPECT_THROW(dp::run_testbed(p), std::invalid_argument);
}

} // namespace
} // namespace flowteam::enginetest
