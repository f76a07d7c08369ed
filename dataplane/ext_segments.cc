// SPDX-License-Identifier: BSD-3-Clause
// flowteam — zero-copy TX segments (see ext_segments.h).
#include "dataplane/ext_segments.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <stdexcept>

namespace flowteam::dataplane {

namespace {
constexpr std::uint16_t kShinfoPriv =
    static_cast<std::uint16_t>(RTE_ALIGN_CEIL(sizeof(rte_mbuf_ext_shared_info), RTE_MBUF_PRIV_ALIGN));
inline rte_mbuf_ext_shared_info* seg_shinfo(rte_mbuf* m) noexcept {
    return static_cast<rte_mbuf_ext_shared_info*>(rte_mbuf_to_priv(m));
}
} // namespace

ExtSegmentChainer::ExtSegmentChainer(const std::string& name, unsigned segments) {
    // Segments carry no data of their own: the data room is only the headroom.
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), segments, 0, kShinfoPriv, 0, SOCKET_ID_ANY);
    if (mp == nullptr)
        throw std::runtime_error("zero-copy: segment pool " + name + " (" + std::to_string(segments) +
                                 " mbufs) failed: " + rte_strerror(rte_errno) + "; give EAL more memory (-m)");
    pool_ = mp;
    iova_va_ = rte_eal_iova_mode() == RTE_IOVA_VA;
}

ExtSegmentChainer::~ExtSegmentChainer() { rte_mempool_free(static_cast<rte_mempool*>(pool_)); }

unsigned ExtSegmentChainer::free_segments() const noexcept {
    return rte_mempool_avail_count(static_cast<const rte_mempool*>(pool_));
}

void ExtSegmentChainer::on_free(void*, void* opaque) {
    static_cast<ExtSegmentChainer*>(opaque)->released_.fetch_add(1, std::memory_order_relaxed);
}

bool ExtSegmentChainer::chain(void* head, const FrameBuf& b) noexcept {
    if (head == nullptr || b.ext == nullptr || b.ext_len == 0 || b.ext_len > UINT16_MAX) return false;
    rte_mbuf* seg = rte_pktmbuf_alloc(static_cast<rte_mempool*>(pool_));
    if (seg == nullptr) [[unlikely]] {
        ++pool_empty_;
        return false;
    }
    rte_mbuf_ext_shared_info* sh = seg_shinfo(seg);
    sh->free_cb = &ExtSegmentChainer::on_free;
    sh->fcb_opaque = this;
    rte_mbuf_ext_refcnt_set(sh, 1);
    void* addr = const_cast<std::uint8_t*>(b.ext); // transmitted, never written
    const rte_iova_t iova = iova_va_ ? static_cast<rte_iova_t>(reinterpret_cast<std::uintptr_t>(addr))
                                     : rte_mem_virt2iova(addr);
    rte_pktmbuf_attach_extbuf(seg, addr, iova, static_cast<std::uint16_t>(b.ext_len), sh);
    seg->data_len = static_cast<std::uint16_t>(b.ext_len);
    seg->pkt_len = b.ext_len;
    ++attached_;                               // every attach is matched by one release (free callback)
    if (rte_pktmbuf_chain(static_cast<rte_mbuf*>(head), seg) != 0) [[unlikely]] {
        rte_pktmbuf_free(seg);                 // too many segments
        return false;
    }
    return true;
}

} // namespace flowteam::dataplane
