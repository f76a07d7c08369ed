// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "dataplane/ring_io.h"
#include "dataplane/testbed.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;
using std::chrono::milliseconds;

TEST(RingPair, BurstEndToEndWithCounters) {
    dp::MbufPools pools({4095, 64});
    dp::RingPair pair({"rp1", 1, 1024, -1});
    EXPECT_NE(pair.port_a(), pair.port_b());
    EXPECT_EQ(dp::find_port(pair.device_a()), pair.port_a());
    EXPECT_EQ(dp::find_port(pair.device_b()), pair.port_b());
    dp::Port a(pair.port_a(), {}, pools);
    dp::Port b(pair.port_b(), {}, pools);
    a.start();
    b.start();
    EXPECT_TRUE(a.link().up);
    rte_mempool* mp = dp::lookup_pool(a.setup().pool_name);
    ASSERT_NE(mp, nullptr);

    constexpr std::uint32_t kN = 32, kLen = 100;
    std::vector<rte_mbuf*> out;
    for (std::uint32_t i = 0; i < kN; ++i) out.push_back(make_frame(mp, kLen, i));
    const dp::EthQueue qa{pair.port_a(), 0}, qb{pair.port_b(), 0};
    ASSERT_EQ(tx_all(qa, out, milliseconds(1000)), kN);
    EXPECT_EQ(rte_ring_count(dp::ring_a_to_b(pair, 0)), kN);   // it is in the cable

    std::vector<rte_mbuf*> in;
    rx_until(qb, in, kN, milliseconds(1000));
    ASSERT_EQ(in.size(), kN);
    for (std::uint32_t i = 0; i < kN; ++i) {
        EXPECT_EQ(frame_seq(in[i]), i) << "a ring keeps order";
        EXPECT_TRUE(frame_intact(in[i], kLen));
    }
    free_all(in);

    const auto sa = a.stats();
    const auto sb = b.stats();
    // net_ring (22.11) counts packets only, no bytes: the engine counts bytes itself.
    EXPECT_EQ(sa.tx_packets, kN);
    EXPECT_EQ(sb.rx_packets, kN);
    EXPECT_EQ(sa.rx_packets, 0u);
    EXPECT_EQ(sb.xstat("rx_good_packets"), std::optional<std::uint64_t>(kN));
    EXPECT_EQ(sa.xstat("tx_good_packets"), std::optional<std::uint64_t>(kN));
    EXPECT_EQ(sa.xstat("no_such_counter"), std::nullopt);
    a.reset_stats();
    EXPECT_EQ(a.stats().tx_packets, 0u);
    EXPECT_EQ(pools.pools().at(0).in_use, 0u) << "every mbuf came back";
}

// The ring pushes back when full: TX takes what fits, the caller keeps the
// rest (ring of 64 holds 63) and the port counts the refusal.
TEST(RingPair, FullRingPushesBack) {
    dp::MbufPools pools({2047, 32});
    dp::RingPair pair({"rp2", 1, 64, -1});
    dp::Port a(pair.port_a(), {}, pools);
    a.start();
    rte_mempool* mp = dp::lookup_pool(a.setup().pool_name);
    const dp::EthQueue qa{pair.port_a(), 0};
    std::vector<rte_mbuf*> pkts;
    for (std::uint32_t i = 0; i < 96; ++i) pkts.push_back(make_frame(mp, 64, i));
    std::uint64_t sent = 0, refused = 0;
    for (std::size_t off = 0; off < pkts.size(); off += 32) {
        const std::uint16_t left = qa.try_send(pkts.data() + off, 32);
        sent += 32u - left;
        refused += left;
        for (std::size_t i = off + 32 - left; i < off + 32; ++i) rte_pktmbuf_free(pkts[i]);   // caller still owns them
    }
    EXPECT_EQ(sent, 63u);
    EXPECT_EQ(refused, 33u);
    const auto st = a.stats();
    EXPECT_EQ(st.tx_packets, 63u);
    // net_ring (22.11) does not count refused packets (oerrors stays 0): the
    // caller owns them and must retry or count them itself.
    // pair's destructor drains the 63 packets back into the pool.
}

TEST(RingPair, QueueQLandsOnQueueQ) {
    dp::MbufPools pools({8191, 64});
    dp::RingPair pair({"rp4", 4, 256, -1});
    EXPECT_EQ(pair.queues(), 4);
    dp::PortConfig cfg;
    cfg.rx_queues = cfg.tx_queues = 4;
    dp::Port a(pair.port_a(), cfg, pools);
    dp::Port b(pair.port_b(), cfg, pools);
    a.start();
    b.start();
    rte_mempool* mp = dp::lookup_pool(a.setup().pool_name);
    for (std::uint16_t q = 0; q < 4; ++q) {
        std::vector<rte_mbuf*> out;
        for (std::uint32_t i = 0; i < 5u + q; ++i) out.push_back(make_frame(mp, 80, q * 100 + i));
        ASSERT_EQ(tx_all({pair.port_b(), q}, out, milliseconds(500)), 5u + q);   // b → a this time
    }
    for (std::uint16_t q = 0; q < 4; ++q) {
        std::vector<rte_mbuf*> in;
        rx_until({pair.port_a(), q}, in, 5u + q, milliseconds(500));
        ASSERT_EQ(in.size(), 5u + q);
        for (std::uint32_t i = 0; i < in.size(); ++i) EXPECT_EQ(frame_seq(in[i]), q * 100 + i);
        free_all(in);
    }
    const auto sa = a.stats();
    ASSERT_EQ(sa.rx_queue_packets.size(), 4u);
    for (std::uint16_t q = 0; q < 4; ++q) EXPECT_EQ(sa.rx_queue_packets[q], 5u + q);
    EXPECT_EQ(sa.rx_packets, 5u + 6 + 7 + 8);
}

TEST(RingPair, InvalidConfigIsRefusedWithTheField) {
    try {
        dp::RingPair p({"bad name", 1, 1024, -1});
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("ring pair name"), std::string::npos);
    }
    EXPECT_THROW(dp::RingPair({"x", 17, 1024, -1}), std::invalid_argument);
    EXPECT_THROW(dp::RingPair({"x", 1, 1000, -1}), std::invalid_argument);
    dp::RingPair first({"dup", 1, 64, -1});
    try {
        dp::RingPair second({"dup", 1, 64, -1});
        FAIL();
    } catch (const dp::PortError& e) {
        EXPECT_NE(std::string(e.what()).find("already used"), std::string::npos) << e.what();
    }
}

TEST(RingPair, NamesCanBeReusedAfterDestruction) {
    for (int round = 0; round < 3; ++round) {
        dp::RingPair p({"again", 2, 64, -1});
        EXPECT_TRUE(dp::find_port(p.device_a()).has_value());
    }
    EXPECT_FALSE(dp::find_port("net_ring_againa").has_value());
}

TEST(RingPair, MoveKeepsOwnership) {
    std::vector<dp::RingPair> pairs;
    pairs.emplace_back(dp::RingPairConfig{"mv0", 1, 64, -1});
    pairs.emplace_back(dp::RingPairConfig{"mv1", 1, 64, -1});   // may reallocate: moves mv0
    EXPECT_TRUE(dp::find_port(pairs[0].device_a()).has_value());
    EXPECT_TRUE(dp::find_port(pairs[1].device_b()).has_value());
    pairs.clear();
    EXPECT_FALSE(dp::find_port("net_ring_mv0a").has_value());
}

} // namespace
} // namespace flowteam::dptest
