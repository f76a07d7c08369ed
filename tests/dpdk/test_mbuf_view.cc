// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/mbuf_view.h"
#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <rte_ether.h>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;

TEST(MbufView, SingleSegmentAccess) {
    dp::MbufPools pools({1023, 32});
    rte_mempool* mp = dp::pool_for(pools, -1, RTE_MBUF_DEFAULT_BUF_SIZE);
    ASSERT_NE(mp, nullptr);
    rte_mbuf* m = make_frame(mp, 128, 0xA1B2C3D4u);
    ASSERT_NE(m, nullptr);
    const dp::MbufView v(m);
    EXPECT_EQ(v.raw(), m);
    EXPECT_EQ(v.pkt_len(), 128u);
    EXPECT_EQ(v.data_len(), 128u);
    EXPECT_EQ(v.segments(), 1u);
    EXPECT_TRUE(v.is_contiguous());
    EXPECT_TRUE(v.contiguous(128));
    EXPECT_FALSE(v.contiguous(129));
    EXPECT_EQ(v.first_segment().size(), 128u);
    const auto* eth = v.header<rte_ether_hdr>();
    EXPECT_EQ(eth->ether_type, rte_cpu_to_be_16(0x88B5));
    EXPECT_EQ(eth->src_addr.addr_bytes[0], 0x02);
    EXPECT_EQ(eth->dst_addr.addr_bytes[5], 0xff);
    std::uint32_t seq = 0;
    std::memcpy(&seq, v.header<std::uint8_t>(kSeqOffset), 4);
    EXPECT_EQ(seq, 0xA1B2C3D4u);
    EXPECT_EQ(v.data(), rte_pktmbuf_mtod(m, std::uint8_t*));
    EXPECT_EQ(v.headroom(), RTE_PKTMBUF_HEADROOM);
    EXPECT_EQ(v.tailroom(), RTE_MBUF_DEFAULT_DATAROOM - 128);
    EXPECT_FALSE(v.has_rss_hash());
    rte_pktmbuf_free(m);
    EXPECT_EQ(pools.pools().at(0).in_use, 0u);
}

TEST(MbufView, ChainedSegmentsAreReadAcross) {
    dp::MbufPools pools({1023, 32});
    rte_mempool* mp = dp::pool_for(pools, -1, RTE_MBUF_DEFAULT_BUF_SIZE);
    rte_mbuf* m = make_frame(mp, 5000, 77, 1000);   // 5 segments of 1000 bytes
    ASSERT_NE(m, nullptr);
    const dp::MbufView v(m);
    EXPECT_EQ(v.segments(), 5u);
    EXPECT_EQ(v.pkt_len(), 5000u);
    EXPECT_EQ(v.data_len(), 1000u);
    EXPECT_FALSE(v.is_contiguous());
    EXPECT_TRUE(v.contiguous(1000));
    EXPECT_FALSE(v.contiguous(1001));
    std::uint8_t across[8];
    ASSERT_TRUE(v.copy_out(996, 8, across));          // spans segments 0 and 1
    for (std::uint32_t i = 0; i < 8; ++i) EXPECT_EQ(across[i], static_cast<std::uint8_t>(77 * 7 + 996 + i));
    EXPECT_FALSE(v.copy_out(4996, 8, across));        // past the end
    EXPECT_TRUE(frame_intact(m, 5000));
    EXPECT_EQ(frame_seq(m), 77u);
    rte_pktmbuf_free(m);
}

} // namespace
} // namespace flowteam::dptest
