// SPDX-License-Identifier: BSD-3-Clause
// flowteam — zero-cost typed view over an rte_mbuf (STYLE §6).
//
// INTERNAL to dataplane/: includes rte_mbuf.h. apps/ never include it.
// A MbufView is one pointer; every accessor is an inline load. It never
// owns, frees or allocates. Header access is only valid within the first
// segment: header<T>(off) checks that off + sizeof(T) <= data_len() in debug
// builds and callers use contiguous() when the packet may be chained.
#pragma once

#include <rte_mbuf.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

namespace flowteam::dataplane {

class MbufView {
public:
    explicit MbufView(rte_mbuf* m) noexcept : m_(m) { assert(m != nullptr); }

    rte_mbuf* raw() const noexcept { return m_; }

    // First segment.
    std::uint8_t* data() const noexcept { return rte_pktmbuf_mtod(m_, std::uint8_t*); }
    std::uint16_t data_len() const noexcept { return m_->data_len; }
    std::span<std::uint8_t> first_segment() const noexcept { return {data(), data_len()}; }

    // Whole packet.
    std::uint32_t pkt_len() const noexcept { return m_->pkt_len; }
    std::uint16_t segments() const noexcept { return m_->nb_segs; }
    bool is_contiguous() const noexcept { return m_->nb_segs == 1; }
    // The first n bytes are in the first segment.
    bool contiguous(std::uint32_t n) const noexcept { return n <= m_->data_len; }

    // Typed header at a byte offset into the first segment. T is a packed
    // header struct or a byte type; no alignment is assumed by callers that
    // read through memcpy-able types.
    template <typename T>
    T* header(std::uint32_t offset = 0) const noexcept {
        assert(offset + sizeof(T) <= m_->data_len);
        return rte_pktmbuf_mtod_offset(m_, T*, offset);
    }

    // RSS hash delivered by the NIC, when the RSS_HASH offload filled it.
    bool has_rss_hash() const noexcept { return (m_->ol_flags & RTE_MBUF_F_RX_RSS_HASH) != 0; }
    std::uint32_t rss_hash() const noexcept { return m_->hash.rss; }

    std::uint16_t port() const noexcept { return m_->port; }

    // Space left for prepend/append in the first / last segment.
    std::uint16_t headroom() const noexcept { return rte_pktmbuf_headroom(m_); }
    std::uint16_t tailroom() const noexcept { return rte_pktmbuf_tailroom(rte_pktmbuf_lastseg(m_)); }

    // Copies len bytes starting at offset into dst, across segments.
    // Returns false when the packet is shorter. Control/slow path helper.
    bool copy_out(std::uint32_t offset, std::uint32_t len, void* dst) const noexcept {
        if (offset + len > m_->pkt_len) return false;
        const void* p = rte_pktmbuf_read(m_, offset, len, dst);
        if (p != nullptr && p != dst) __builtin_memcpy(dst, p, len);
        return p != nullptr;
    }

private:
    rte_mbuf* m_;
};

static_assert(sizeof(MbufView) == sizeof(void*), "MbufView must stay one pointer");

} // namespace flowteam::dataplane
