// SPDX-License-Identifier: BSD-3-Clause
// flowteam — receive side scaling: RETA construction and queue -> lcore
// mapping for the member ports of a team. No DPDK; dataplane/ programs the
// result with rte_eth_dev_rss_reta_update().
//
// The rule that keeps a flow on one core: every member port uses the same
// RSS key and the same RETA, and queue q of EVERY member port is polled by
// the same lcore. A flow then lands on the same queue index — and so the
// same lcore — whichever member it arrives on (after a failover, or with a
// switch that hashes differently from the sender).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flowteam::teaming {

// RETA sizes accepted: 1..4096. NICs report 64 (i40e VF), 128 (ixgbe),
// 512 (i40e, mlx5), 2048 (ice); rte_eth_dev_rss_reta_update() wants a
// multiple of 64 (kRetaGroup) — dataplane/ uses the size the port reports.
inline constexpr std::uint32_t kRetaGroup = 64;
inline constexpr std::uint32_t kMinRetaSize = 1;
inline constexpr std::uint32_t kMaxRetaSize = 4096;

// RETA entry of a hash. NICs index the RETA with the low bits of the RSS
// hash: for a power-of-two size this is hash & (size-1) (== hash % size); for
// other sizes we assume hash % size. reta_size must be > 0.
constexpr std::uint32_t reta_slot(std::uint32_t hash, std::uint32_t reta_size) {
    return (reta_size & (reta_size - 1)) == 0 ? (hash & (reta_size - 1)) : (hash % reta_size);
}

// Build a RETA of `reta_size` entries over `queues` (queue ids, 0..65535, as
// given; weights optional, one per queue, >= 1; empty = equal). Each queue
// gets its largest-remainder share of the entries, laid out interleaved
// (equal weights: queues[i % n], DPDK's default). Throws
// std::invalid_argument on a bad size, an empty or too long queue list (more
// queues than entries), a queue id above 65535, duplicate queues, or weights
// that do not match.
std::vector<std::uint16_t> build_reta(std::uint32_t reta_size, const std::vector<std::uint32_t>& queues,
                                      const std::vector<std::uint32_t>& weights = {});

// Queue ids 0..n-1 (the usual queue list).
std::vector<std::uint32_t> queue_range(std::uint16_t n);

// Queue of a hash under a RETA.
inline std::uint16_t reta_queue(const std::vector<std::uint16_t>& reta, std::uint32_t hash) {
    return reta[reta_slot(hash, static_cast<std::uint32_t>(reta.size()))];
}

// An lcore and its NUMA socket (socket < 0: unknown, matches any socket).
struct LcoreInfo {
    std::uint32_t lcore = 0;
    std::int32_t socket = -1;
};

// Queue -> lcore mapping shared by every member port.
struct QueueLcoreMap {
    std::vector<std::uint32_t> lcore_of_queue;   // queue q -> lcore, for every member port
    std::int32_t socket = -1;                    // socket the mapping prefers (-1: none known)
    bool cross_socket = false;                   // some port has a queue polled from another socket
    std::vector<std::uint8_t> port_cross_socket; // per port (order of port_sockets): 1 if so
    std::string warning;                         // one line per remote port; empty when all local
};

// Map `n_queues` queues round-robin onto the lcores on the preferred socket
// (the socket most member ports sit on; ties: the first port's), in the
// order given; lcores of other sockets are used only when the preferred
// socket has none. The same vector serves every member port (see the rule
// above). A port whose socket differs from one of its queues' lcores is
// flagged and described in `warning` (cross-NUMA polling costs throughput).
// Throws std::invalid_argument when n_queues is 0, lcores is empty or lists
// an lcore twice, or port_sockets is empty.
QueueLcoreMap map_queues_to_lcores(std::uint16_t n_queues, const std::vector<LcoreInfo>& lcores,
                                   const std::vector<std::int32_t>& port_sockets);

// Validate an arbitrary mapping map[port][queue] = lcore against the rule:
// every port has the same number of queues (>= 1) and queue q of every port
// is polled by the same lcore. On failure returns false and, if `error` is
// not null, a one-line explanation naming the port, queue and lcores.
bool check_queue_mapping(const std::vector<std::vector<std::uint32_t>>& map, std::string* error);

// Socket check of a mapping for one port: true when every queue's lcore is
// on `port_socket` (unknown sockets match). Otherwise false and, if `warning`
// is not null, which queues are polled from which socket. An lcore missing
// from `lcores` counts as unknown.
bool check_socket_locality(const std::vector<std::uint32_t>& lcore_of_queue,
                           const std::vector<LcoreInfo>& lcores, std::int32_t port_socket,
                           std::string* warning);

} // namespace flowteam::teaming
