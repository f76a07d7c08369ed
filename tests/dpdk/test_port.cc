// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "dataplane/testbed.h"
#include "dpdk_env.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <rte_ethdev.h>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;
using std::chrono::milliseconds;

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

dp::PortConfig jumbo4() {
    dp::PortConfig c;
    c.rx_queues = c.tx_queues = 4;
    c.rx_desc = c.tx_desc = 512;
    c.mtu = 9000;
    return c;
}

TEST(Port, FourQueuesMtu9000OnRingPairWithLargeMbufs) {
    dp::MbufPools pools({4095, 64});
    dp::RingPair pair({"jumbo", 4, 256, -1});
    dp::Port a(pair.port_a(), jumbo4(), pools);
    dp::Port b(pair.port_b(), jumbo4(), pools);
    const auto& s = a.setup();
    EXPECT_EQ(s.rx_queues, 4);
    EXPECT_EQ(s.tx_queues, 4);
    EXPECT_EQ(s.mtu, 9000u);
    EXPECT_GE(s.mbuf_data_room, RTE_PKTMBUF_HEADROOM + 9000 + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN);
    EXPECT_FALSE(s.rx_scatter);
    EXPECT_FALSE(s.hw_rss) << "net_ring has no RSS";
    EXPECT_EQ(s.rx_desc, 512);
    std::uint16_t mtu = 0;
    ASSERT_EQ(rte_eth_dev_get_mtu(pair.port_a(), &mtu), 0);
    EXPECT_EQ(mtu, 9000);
    a.start();
    b.start();
    // A 9000-byte-payload frame crosses in one segment, intact.
    rte_mempool* mp = dp::lookup_pool(s.pool_name);
    constexpr std::uint32_t kLen = 9000 + RTE_ETHER_HDR_LEN;
    std::vector<rte_mbuf*> out{make_frame(mp, kLen, 9)};
    ASSERT_EQ(out[0]->nb_segs, 1);
    ASSERT_EQ(tx_all({pair.port_a(), 3}, out, milliseconds(500)), 1u);
    std::vector<rte_mbuf*> in;
    rx_until({pair.port_b(), 3}, in, 1, milliseconds(500));
    ASSERT_EQ(in.size(), 1u);
    EXPECT_TRUE(frame_intact(in[0], kLen));
    free_all(in);
    EXPECT_FALSE(s.notes.empty());
}

TEST(Port, ScatterModeUsesSegmentsWhenThePmdHasIt) {
    dp::MbufPools pools({2047, 64});
    dp::RingPair pair({"scat", 1, 256, -1});
    auto cfg = jumbo4();
    cfg.rx_queues = cfg.tx_queues = 1;
    cfg.jumbo = dp::JumboBuffers::Scatter;
    dp::Port a(pair.port_a(), cfg, pools);
    dp::Port b(pair.port_b(), cfg, pools);
    EXPECT_TRUE(a.setup().rx_scatter);
    EXPECT_TRUE(a.setup().tx_multi_segs);
    EXPECT_EQ(a.setup().mbuf_data_room, RTE_MBUF_DEFAULT_BUF_SIZE);
    EXPECT_TRUE(has(a.setup().rx_offload_names, "SCATTER"));
    EXPECT_TRUE(has(a.setup().tx_offload_names, "MULTI_SEGS"));
    a.start();
    b.start();
    rte_mempool* mp = dp::lookup_pool(a.setup().pool_name);
    std::vector<rte_mbuf*> out{make_frame(mp, 9014, 5)};
    EXPECT_EQ(out[0]->nb_segs, 5);   // 4 x 2048 + 822
    ASSERT_EQ(tx_all({pair.port_a(), 0}, out, milliseconds(500)), 1u);
    std::vector<rte_mbuf*> in;
    rx_until({pair.port_b(), 0}, in, 1, milliseconds(500));
    ASSERT_EQ(in.size(), 1u);
    EXPECT_TRUE(frame_intact(in[0], 9014));
    free_all(in);
}

TEST(Port, FourQueuesMtu9000OnNull) {
    dp::MbufPools pools({4095, 64});
    auto null = dp::make_null_port({1500, false, false});
    dp::Port p(null.port_id(), jumbo4(), pools);
    EXPECT_EQ(p.setup().mtu, 9000u);
    EXPECT_EQ(p.setup().rx_queues, 4);
    EXPECT_TRUE(p.setup().hw_rss) << "net_null advertises RSS";
    p.start();
    std::array<rte_mbuf*, 32> burst{};
    for (std::uint16_t q = 0; q < 4; ++q) {
        const std::uint16_t n = rte_eth_rx_burst(p.id(), q, burst.data(), 32);
        EXPECT_EQ(n, 32);
        for (std::uint16_t i = 0; i < n; ++i) {
            EXPECT_EQ(burst[i]->pkt_len, 1500u);
            rte_pktmbuf_free(burst[i]);
        }
    }
    p.stop();
    EXPECT_FALSE(p.started());
}

TEST(Port, ScatterOnAPmdWithoutItFailsClearly) {
    dp::MbufPools pools({1023, 32});
    auto null = dp::make_null_port();
    auto cfg = jumbo4();
    cfg.jumbo = dp::JumboBuffers::Scatter;
    try {
        dp::Port p(null.port_id(), cfg, pools);
        FAIL() << "net_null has no RX scatter";
    } catch (const dp::PortError& e) {
        const std::string w = e.what();
        EXPECT_NE(w.find("net_null"), std::string::npos) << w;
        EXPECT_NE(w.find("SCATTER"), std::string::npos) << w;
        EXPECT_NE(w.find("use large mbufs"), std::string::npos) << w;
    }
}

TEST(Port, MtuAboveTheDeviceLimitFailsClearly) {
    dp::MbufPools pools({1023, 32});
    auto srv = dp::make_memif_port({dp::MemifRole::Server, scratch_path("mtu.sock"), 0, 10, 2048, ""});
    try {
        dp::Port p(srv.port_id(), jumbo4(), pools);
        FAIL() << "memif caps max_rx_pktlen at 1518";
    } catch (const dp::PortError& e) {
        const std::string w = e.what();
        EXPECT_NE(w.find("net_memif"), std::string::npos) << w;
        EXPECT_NE(w.find("MTU 9000"), std::string::npos) << w;
        EXPECT_NE(w.find("..1500"), std::string::npos) << w;
    }
}

TEST(Port, TooManyQueuesFailsClearly) {
    dp::MbufPools pools({1023, 32});
    dp::RingPair pair({"oneq", 1, 64, -1});
    try {
        dp::Port p(pair.port_a(), jumbo4(), pools);
        FAIL();
    } catch (const dp::PortError& e) {
        const std::string w = e.what();
        EXPECT_NE(w.find("at most 1 / 1"), std::string::npos) << w;
        EXPECT_NE(w.find("lower the queue count"), std::string::npos) << w;
    }
}

TEST(Port, InvalidConfigNamesTheField) {
    dp::MbufPools pools({1023, 32});
    dp::RingPair pair({"inval", 1, 64, -1});
    dp::PortConfig c;
    c.mtu = 9001;
    try {
        dp::Port p(pair.port_a(), c, pools);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).rfind("mtu: 9001", 0), 0u) << e.what();
    }
    c = {};
    c.rx_queues = 0;
    EXPECT_THROW(dp::Port(pair.port_a(), c, pools), std::invalid_argument);
    EXPECT_THROW(dp::Port(60000, dp::PortConfig{}, pools), dp::PortError);
    EXPECT_THROW(dp::MbufPools({1023, 1000}), std::invalid_argument);
}

TEST(Port, PoolTooSmallForTheRxRingsFailsClearly) {
    dp::MbufPools pools({255, 32});
    auto null = dp::make_null_port();
    dp::PortConfig c;
    c.rx_queues = 2;
    c.rx_desc = 256;
    try {
        dp::Port p(null.port_id(), c, pools);
        FAIL();
    } catch (const dp::PortError& e) {
        EXPECT_NE(std::string(e.what()).find("raise the mbuf count"), std::string::npos) << e.what();
    }
}

TEST(Port, PoolsArePerSocketAndDataRoom) {
    dp::MbufPools pools({1023, 32});
    const std::string a = pools.ensure(-1, RTE_MBUF_DEFAULT_BUF_SIZE);
    const std::string b = pools.ensure(-1, RTE_MBUF_DEFAULT_BUF_SIZE);
    const std::string c = pools.ensure(-1, 4096);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    const auto list = pools.pools();
    ASSERT_EQ(list.size(), 2u);
    for (const auto& p : list) {
        EXPECT_EQ(p.size, 1023u);
        EXPECT_EQ(p.cache, 32u);
        EXPECT_EQ(p.in_use, 0u);
        EXPECT_EQ(p.available, 1023u);
    }
}

} // namespace
} // namespace flowteam::dptest
