// SPDX-License-Identifier: BSD-3-Clause
// flowteam — zero-copy TX segments (public header: no rte_*.h, no rte_ types).
//
// ExtSegmentChainer: the engine's building block for FrameBuf::ext (see
// engine_source.h). A pool of segment mbufs, each with its own
// rte_mbuf_ext_shared_info in its private area (refcount 1 per segment, so the
// lcore that attaches and the lcore that frees never share a counter).
// chain(head, b) attaches b.ext / b.ext_len to a fresh segment and appends it
// to `head` (an rte_mbuf* whose data_len/pkt_len are already set):
// head->pkt_len and nb_segs grow, nothing is copied. When the frame is freed,
// the segment's free callback counts the release and the segment returns to
// its pool; the guest memory is never freed by DPDK.
// IOVA: the address itself in IOVA-as-VA mode, else rte_mem_virt2iova — fine
// for virtual PMDs (net_ring, memif copy in software); a real NIC DMAs, so the
// guest image must first be registered (rte_extmem_register) and mapped for
// the device (rte_dev_dma_map), which this helper does not do.
// Lifetime: the chainer (its pool) must outlive every frame it chained that
// will still be freed. Thread-safe for one attaching lcore plus any freeing lcores.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "dataplane/engine_source.h"

namespace flowteam::dataplane {

class ExtSegmentChainer {
public:
    // Throws std::runtime_error (one line, with the DPDK error) when the pool cannot be created.
    ExtSegmentChainer(const std::string& name, unsigned segments);
    ~ExtSegmentChainer();
    ExtSegmentChainer(const ExtSegmentChainer&) = delete;
    ExtSegmentChainer& operator=(const ExtSegmentChainer&) = delete;

    // false (counted when the pool is empty) when b has no ext, head is null or the pool is empty.
    bool chain(void* head, const FrameBuf& b) noexcept;
    std::uint64_t attached() const noexcept { return attached_; }
    std::uint64_t released() const noexcept { return released_.load(std::memory_order_relaxed); }
    std::uint64_t pool_empty() const noexcept { return pool_empty_; }
    unsigned free_segments() const noexcept;

private:
    static void on_free(void* addr, void* opaque);
    void* pool_ = nullptr; // rte_mempool*
    bool iova_va_ = false;
    std::uint64_t attached_ = 0, pool_empty_ = 0;
    std::atomic<std::uint64_t> released_{0};
};

} // namespace flowteam::dataplane
