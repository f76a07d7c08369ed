// SPDX-License-Identifier: BSD-3-Clause
// flowteam — per-packet port I/O and mempool access.
//
// INTERNAL to dataplane/ (includes rte_*.h): the engine includes it, apps/
// do not. EthQueue is the DPDK side of the port contract (STYLE §2):
// rx_burst / tx_burst → count, inline, no virtual call. try_send names the
// ownership rule (STYLE §10): it returns how many were NOT sent; the caller
// still owns pkts[sent..n) and must retry or account them.
#pragma once

#include "dataplane/port.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace flowteam::dataplane {

struct MbufPools::Impl {
    MbufPoolConfig cfg;
    unsigned instance = 0;
    std::map<std::pair<int, std::uint16_t>, rte_mempool*> pools;  // (socket, data room) → pool
};

// The rte_mempool created by MbufPools::ensure (nullptr when unknown).
rte_mempool* lookup_pool(const std::string& name);
rte_mempool* pool_for(MbufPools& pools, int socket, std::uint16_t data_room);

struct EthQueue {
    std::uint16_t port = 0;
    std::uint16_t queue = 0;

    std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) const noexcept {
        return rte_eth_rx_burst(port, queue, pkts, n);
    }
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) const noexcept {
        return rte_eth_tx_burst(port, queue, pkts, n);
    }
    // Sends what the queue takes; returns how many are left (pkts[n-left..n)).
    std::uint16_t try_send(rte_mbuf** pkts, std::uint16_t n) const noexcept {
        return static_cast<std::uint16_t>(n - rte_eth_tx_burst(port, queue, pkts, n));
    }
};

} // namespace flowteam::dataplane
