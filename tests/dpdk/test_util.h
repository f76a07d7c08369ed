// SPDX-License-Identifier: BSD-3-Clause
// flowteam dpdk test suite — frames with a sequence number, bounded polling.
#pragma once

#include "dataplane/mbuf_view.h"
#include "dataplane/port_io.h"

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace flowteam::dptest {

inline constexpr std::uint32_t kSeqOffset = 14;   // right after the Ethernet header

// An Ethernet frame of `len` bytes (>= 18): broadcast dst, fixed src,
// ethertype 0x88B5 (local experimental), then a 32-bit sequence number, then
// a byte pattern derived from seq. Chained over segments of at most
// seg_room bytes when len does not fit one mbuf (seg_room 0: one segment).
inline rte_mbuf* make_frame(rte_mempool* mp, std::uint32_t len, std::uint32_t seq, std::uint16_t seg_room = 0) {
    rte_mbuf* head = nullptr;
    rte_mbuf* prev = nullptr;
    std::uint32_t off = 0;
    std::vector<std::uint8_t> bytes(len);
    std::memset(bytes.data(), 0xff, 6);
    const std::uint8_t src[6] = {0x02, 0, 0, 0, 0, 1};
    std::memcpy(bytes.data() + 6, src, 6);
    bytes[12] = 0x88;
    bytes[13] = 0xB5;
    std::memcpy(bytes.data() + kSeqOffset, &seq, sizeof(seq));
    for (std::uint32_t i = kSeqOffset + 4; i < len; ++i) bytes[i] = static_cast<std::uint8_t>(seq * 7 + i);
    while (off < len) {
        rte_mbuf* m = rte_pktmbuf_alloc(mp);
        if (m == nullptr) {
            rte_pktmbuf_free(head);
            return nullptr;
        }
        std::uint32_t room = rte_pktmbuf_tailroom(m);
        if (seg_room != 0 && seg_room < room) room = seg_room;
        const std::uint32_t n = std::min(room, len - off);
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(n)), bytes.data() + off, n);
        off += n;
        if (head == nullptr) {
            head = m;
        } else {
            prev->next = m;
            head->nb_segs++;
            head->pkt_len += n;
        }
        prev = m;
    }
    return head;
}

inline std::uint32_t frame_seq(rte_mbuf* m) {
    std::uint32_t seq = 0;
    dataplane::MbufView(m).copy_out(kSeqOffset, sizeof(seq), &seq);
    return seq;
}

// The bytes after the sequence number match what make_frame wrote.
inline bool frame_intact(rte_mbuf* m, std::uint32_t len) {
    const dataplane::MbufView v(m);
    if (v.pkt_len() != len) return false;
    std::vector<std::uint8_t> bytes(len);
    if (!v.copy_out(0, len, bytes.data())) return false;
    std::uint32_t seq = 0;
    std::memcpy(&seq, bytes.data() + kSeqOffset, sizeof(seq));
    for (std::uint32_t i = kSeqOffset + 4; i < len; ++i)
        if (bytes[i] != static_cast<std::uint8_t>(seq * 7 + i)) return false;
    return true;
}

// Polls rx until `want` packets arrived or the deadline passed; appends them.
inline void rx_until(const dataplane::EthQueue& q, std::vector<rte_mbuf*>& got, std::size_t want,
                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<rte_mbuf*, 32> burst{};
    while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
        const std::uint16_t n = q.rx_burst(burst.data(), static_cast<std::uint16_t>(burst.size()));
        got.insert(got.end(), burst.begin(), burst.begin() + n);
        if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

// Sends all of pkts, retrying until the deadline; returns how many were sent
// (the rest are freed).
inline std::size_t tx_all(const dataplane::EthQueue& q, std::vector<rte_mbuf*>& pkts,
                          std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t sent = 0;
    while (sent < pkts.size() && std::chrono::steady_clock::now() < deadline) {
        const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(pkts.size() - sent, 32));
        const std::uint16_t k = q.tx_burst(pkts.data() + sent, n);
        sent += k;
        if (k < n) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    for (std::size_t i = sent; i < pkts.size(); ++i) rte_pktmbuf_free(pkts[i]);
    pkts.clear();
    return sent;
}

// memif 22.11 has no synchronisation between its data path (rx/tx burst on
// an lcore) and a disconnect handled by the EAL interrupt thread (regions are
// unmapped under a polling lcore: SEGV), nor between two threads
// disconnecting one device (the interrupt thread then panics, "Error adding
// fd N epoll_ctl, Bad file descriptor"). Safe shutdown of a memif link, as
// the tests do it: the rx side sends this FIN frame and stops polling; the
// tx side, on FIN, stops polling and stops its port (one disconnect, from
// its own thread); the rx side waits until its link is down, then stops.
inline constexpr std::uint32_t kMemifFin = 0xFFFFFFFFu;

inline void free_all(std::vector<rte_mbuf*>& pkts) {
    for (auto* m : pkts) rte_pktmbuf_free(m);
    pkts.clear();
}

} // namespace flowteam::dptest
