// SPDX-License-Identifier: BSD-3-Clause
// Zero-copy TX building block (dataplane::ExtSegmentChainer): a frame whose
// header sits in a normal mbuf and whose page body is a second segment
// attached to guest memory. Checked with real mbufs through an rte_ring (what
// a net_ring member port does with them): the bytes the receiver reads are
// the guest page's bytes at read time (no copy was taken at send time), the
// head mbuf holds the header only, every attach is matched by one release
// (free callback), and the segment pool is whole again afterwards.
#include <gtest/gtest.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/migrate.h"
#include "migration/memory.h"
#include "migration/wire.h"

namespace {

namespace dp = flowteam::dataplane;
namespace mig = flowteam::migration;

TEST(ZeroCopy, ChainedGuestSegmentsCarryTheLivePageAndAreReleased) {
    mig::MemoryConfig mc;
    mig::VmSpec s;
    s.mem_bytes = 16ull * mig::kPageSize;
    s.mix = {0.0, 0.0}; // random pages: every byte matters
    mc.vms.assign(1, s);
    mc.with_destination = false;
    mig::VmMemory mem(mc);

    constexpr unsigned kFrames = 48; // 16 pages x 3 fragments at MTU 1500
    const std::uint32_t frag = mig::page_fragment_bytes(1500);
    constexpr std::uint32_t kHdr = mig::kL2L4Headers + mig::kHeaderSize;
    rte_mempool* hp = rte_pktmbuf_pool_create("zc_test_hdr", 127, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(hp, nullptr);
    rte_ring* wire = rte_ring_create("zc_test_wire", 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(wire, nullptr);
    {
        dp::ExtSegmentChainer ch("zc_test_seg", 63);
        const unsigned seg_free0 = 63;
        std::vector<rte_mbuf*> sent;
        for (unsigned f = 0; f < kFrames; ++f) {
            const std::uint32_t page = f / 3, off = (f % 3) * frag;
            const std::uint32_t len = std::min(frag, mig::kPageSize - off);
            rte_mbuf* m = rte_pktmbuf_alloc(hp);
            ASSERT_NE(m, nullptr);
            std::uint8_t* d = rte_pktmbuf_mtod(m, std::uint8_t*);
            std::memset(d, static_cast<int>(0xA0 + (f & 15)), kHdr); // stands for Ethernet..wire header
            m->data_len = kHdr;
            m->pkt_len = kHdr;
            dp::FrameBuf b;
            b.data = d;
            b.len = kHdr;
            b.ext_ok = true;
            b.ext = mem.source_page(0, page) + off;
            b.ext_len = len;
            ASSERT_TRUE(ch.chain(m, b));
            EXPECT_EQ(m->nb_segs, 2u);
            EXPECT_EQ(m->data_len, kHdr);          // the body was not copied into the head
            EXPECT_EQ(m->pkt_len, kHdr + len);
            sent.push_back(m);
        }
        EXPECT_EQ(ch.attached(), kFrames);
        EXPECT_EQ(ch.free_segments(), seg_free0 - kFrames);
        // the guest writes page 5 after the frames were built: the wire reads it live
        mem.touch_page(0, 5);
        std::vector<std::uint8_t> lin(kHdr + mig::kPageSize);
        unsigned received = 0;
        for (std::size_t i = 0; i < sent.size(); i += 16) {
            const unsigned n = static_cast<unsigned>(std::min<std::size_t>(16, sent.size() - i));
            ASSERT_EQ(rte_ring_enqueue_burst(wire, reinterpret_cast<void**>(sent.data() + i), n, nullptr), n);
            rte_mbuf* got[16];
            ASSERT_EQ(rte_ring_dequeue_burst(wire, reinterpret_cast<void**>(got), 16, nullptr), n);
            for (unsigned k = 0; k < n; ++k, ++received) {
                const unsigned f = static_cast<unsigned>(i) + k;
                const std::uint32_t page = f / 3, off = (f % 3) * frag;
                const std::uint32_t len = std::min(frag, mig::kPageSize - off);
                ASSERT_EQ(got[k]->pkt_len, kHdr + len);
                const auto* p = static_cast<const std::uint8_t*>(rte_pktmbuf_read(got[k], 0, kHdr + len, lin.data()));
                ASSERT_NE(p, nullptr);
                EXPECT_EQ(p[0], static_cast<std::uint8_t>(0xA0 + (f & 15)));
                EXPECT_EQ(std::memcmp(p + kHdr, mem.source_page(0, page) + off, len), 0) << "frame " << f;
            }
            rte_pktmbuf_free_bulk(got, n);
        }
        EXPECT_EQ(received, kFrames);
        EXPECT_EQ(ch.released(), ch.attached());
        EXPECT_EQ(ch.pool_empty(), 0u);
        EXPECT_EQ(ch.free_segments(), seg_free0); // every segment back in its pool
    }
    rte_ring_free(wire);
    EXPECT_EQ(rte_mempool_avail_count(hp), 127u);
    rte_mempool_free(hp);
}

} // namespace
