// SPDX-License-Identifier: BSD-3-Clause
// net_null, net_pcap and net_tap ports, and what rte_eth_dev_info says about
// the virtual PMDs the testbed uses.
#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "dataplane/testbed.h"
#include "dpdk_env.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <rte_ethdev.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;
using std::chrono::milliseconds;

TEST(NullPort, RxMakesPacketsTxFreesThem) {
    dp::MbufPools pools({2047, 64});
    auto null = dp::make_null_port({256, false, false});
    EXPECT_EQ(null.name().rfind("net_null", 0), 0u);
    dp::Port p(null.port_id(), {}, pools);
    p.start();
    std::vector<rte_mbuf*> in;
    rx_until({p.id(), 0}, in, 64, milliseconds(500));
    ASSERT_EQ(in.size(), 64u);
    for (auto* m : in) EXPECT_EQ(m->pkt_len, 256u);
    EXPECT_EQ(tx_all({p.id(), 0}, in, milliseconds(500)), 64u);
    const auto st = p.stats();
    EXPECT_EQ(st.rx_packets, 64u);
    EXPECT_EQ(st.tx_packets, 64u);
    EXPECT_EQ(pools.pools().at(0).in_use, 0u);
}

TEST(NullPort, NoRxMode) {
    dp::MbufPools pools({2047, 32});
    auto null = dp::make_null_port({64, false, true});
    dp::Port p(null.port_id(), {}, pools);
    p.start();
    std::vector<rte_mbuf*> in;
    rx_until({p.id(), 0}, in, 1, milliseconds(20));
    EXPECT_TRUE(in.empty());
}

void write_pcap(const std::string& path, const std::vector<std::vector<std::uint8_t>>& frames) {
    std::ofstream f(path, std::ios::binary);
    const std::uint32_t hdr[] = {0xa1b2c3d4u, 0x00040002u /* v2.4 */, 0, 0, 65535, 1 /* Ethernet */};
    f.write(reinterpret_cast<const char*>(hdr), sizeof(hdr));
    std::uint32_t ts = 1;
    for (const auto& fr : frames) {
        const std::uint32_t rec[] = {ts++, 0, static_cast<std::uint32_t>(fr.size()),
                                     static_cast<std::uint32_t>(fr.size())};
        f.write(reinterpret_cast<const char*>(rec), sizeof(rec));
        f.write(reinterpret_cast<const char*>(fr.data()), static_cast<std::streamsize>(fr.size()));
    }
}

std::vector<std::uint8_t> frame_bytes(std::uint32_t len, std::uint32_t seq) {
    std::vector<std::uint8_t> b(len, 0);
    std::uint8_t* p = b.data();
    if (p == nullptr || len < kSeqOffset + 4) return b;
    std::memset(p, 0xff, 6);
    p[6] = 0x02;
    p[11] = 1;
    p[12] = 0x88;
    p[13] = 0xB5;
    std::memcpy(p + kSeqOffset, &seq, 4);
    for (std::uint32_t i = kSeqOffset + 4; i < len; ++i) p[i] = static_cast<std::uint8_t>(seq * 7 + i);
    return b;
}

TEST(PcapPort, ReplaysAFileForever) {
    const std::string file = scratch_path("replay.pcap");
    const std::vector<std::uint32_t> lens = {60, 100, 1514};
    write_pcap(file, {frame_bytes(lens[0], 0), frame_bytes(lens[1], 1), frame_bytes(lens[2], 2)});
    {
        dp::MbufPools pools({2047, 64});
        auto pcap = dp::make_pcap_port({file, "", true});
        dp::Port p(pcap.port_id(), {}, pools);
        p.start();
        std::vector<rte_mbuf*> in;
        rx_until({p.id(), 0}, in, 10, milliseconds(2000));
        ASSERT_GE(in.size(), 10u);
        for (std::size_t i = 0; i < 10; ++i) {
            EXPECT_EQ(frame_seq(in[i]), i % 3) << i;
            EXPECT_TRUE(frame_intact(in[i], lens[i % 3])) << i;
        }
        free_all(in);
    }
    std::filesystem::remove(file);
}

TEST(PcapPort, CapturesTxToAFile) {
    const std::string file = scratch_path("capture.pcap");
    {
        dp::MbufPools pools({2047, 32});
        auto pcap = dp::make_pcap_port({"", file, false});
        dp::Port p(pcap.port_id(), {}, pools);
        p.start();
        rte_mempool* mp = dp::lookup_pool(p.setup().pool_name);
        std::vector<rte_mbuf*> out;
        for (std::uint32_t i = 0; i < 5; ++i) out.push_back(make_frame(mp, 100 + i, i));
        EXPECT_EQ(tx_all({p.id(), 0}, out, milliseconds(500)), 5u);
        EXPECT_EQ(p.stats().tx_packets, 5u);
    }   // port and device gone: the file is flushed and closed
    EXPECT_EQ(std::filesystem::file_size(file), 24u + 5 * 16 + (100 + 101 + 102 + 103 + 104));
    std::filesystem::remove(file);
}

TEST(PcapPort, MissingFileIsRefusedBeforeDpdk) {
    EXPECT_THROW(dp::make_pcap_port({"/nonexistent/x.pcap", "", true}), std::invalid_argument);
    EXPECT_THROW(dp::make_pcap_port({"", "", false}), std::invalid_argument);
}

// net_tap creates a kernel interface: done in a child process inside its own
// network namespace, so nothing appears in (or talks to) the host's.
TEST(TapPort, CreatedInAPrivateNetworkNamespace) {
    const auto r = run_child("tap", {"fttap0"}, std::chrono::seconds(60));
    ASSERT_FALSE(r.timed_out) << r.output;
    if (r.exit_code == 77) GTEST_SKIP() << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("TAP fttap0 ifindex="), std::string::npos) << r.output;
}

void print_info(const dp::PortInfo& i) {
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
        return s.empty() ? std::string("-") : s;
    };
    std::printf("  %-10s max_rxq=%-5u max_txq=%-5u reta_size=%-4u key=%-3u rss_types=0x%-10llx min_mtu=%u max_mtu=%u "
                "max_rx_pktlen=%u eff_max_mtu=%u\n             rx_capa=[%s] tx_capa=[%s]\n",
                i.driver.c_str(), i.max_rx_queues, i.max_tx_queues, i.reta_size, i.hash_key_size,
                static_cast<unsigned long long>(i.flow_type_rss_offloads), i.min_mtu, i.max_mtu, i.max_rx_pktlen,
                i.effective_max_mtu, join(i.rx_offload_names).c_str(), join(i.tx_offload_names).c_str());
}

// What the virtual PMDs report (the numbers the engine plans with).
TEST(DevInfo, VirtualPmdsAsReported) {
    dp::RingPair pair({"info", 16, 64, -1});
    auto null = dp::make_null_port();
    auto memif = dp::make_memif_port({dp::MemifRole::Server, scratch_path("info.sock"), 0, 10, 2048, ""});
    const std::string file = scratch_path("info.pcap");
    write_pcap(file, {frame_bytes(60, 0)});
    auto pcap = dp::make_pcap_port({file, "", true});
    std::printf("rte_eth_dev_info of the virtual PMDs:\n");
    const auto ring = dp::query_port_info(pair.port_a());
    const auto nul = dp::query_port_info(null.port_id());
    const auto mem = dp::query_port_info(memif.port_id());
    const auto pc = dp::query_port_info(pcap.port_id());
    for (const auto* i : {&ring, &nul, &mem, &pc}) print_info(*i);

    EXPECT_EQ(ring.driver, "net_ring");
    EXPECT_EQ(ring.max_rx_queues, 16);    // as many as the pair was built with
    EXPECT_EQ(ring.reta_size, 0);
    EXPECT_FALSE(ring.rss_capable);
    EXPECT_TRUE(ring.rx_scatter_capable);
    EXPECT_TRUE(ring.tx_multi_segs_capable);

    EXPECT_EQ(nul.driver, "net_null");
    EXPECT_TRUE(nul.rss_capable);
    EXPECT_GT(nul.reta_size, 0);
    EXPECT_GT(nul.max_rx_queues, 1);

    EXPECT_EQ(mem.driver, "net_memif");
    EXPECT_FALSE(mem.rss_capable);
    EXPECT_GT(mem.max_rx_queues, 1);
    EXPECT_EQ(mem.effective_max_mtu, 1500u);

    EXPECT_EQ(pc.driver, "net_pcap");
    EXPECT_FALSE(pc.rss_capable);
    std::filesystem::remove(file);
}

} // namespace
} // namespace flowteam::dptest
