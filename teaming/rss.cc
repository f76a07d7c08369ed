// SPDX-License-Identifier: BSD-3-Clause
#include "teaming/rss.h"

#include <map>
#include <set>
#include <stdexcept>

#include "teaming/quota.h"

namespace flowteam::teaming {

std::vector<std::uint32_t> queue_range(std::uint16_t n) {
    std::vector<std::uint32_t> q(n);
    for (std::uint16_t i = 0; i < n; ++i) q[i] = i;
    return q;
}

std::vector<std::uint16_t> build_reta(std::uint32_t reta_size, const std::vector<std::uint32_t>& queues,
                                      const std::vector<std::uint32_t>& weights) {
    if (reta_size < kMinRetaSize || reta_size > kMaxRetaSize)
        throw std::invalid_argument("reta_size: must be in " + std::to_string(kMinRetaSize) + ".." +
                                    std::to_string(kMaxRetaSize) + ", got " + std::to_string(reta_size));
    if (queues.empty()) throw std::invalid_argument("queues: need at least one RX queue");
    if (queues.size() > reta_size)
        throw std::invalid_argument("queues: " + std::to_string(queues.size()) + " queues do not fit in a RETA of " +
                                    std::to_string(reta_size) + " entries");
    std::set<std::uint32_t> seen;
    for (std::uint32_t q : queues) {
        if (q > 0xFFFFu) throw std::invalid_argument("queues: queue " + std::to_string(q) + " is above 65535");
        if (!seen.insert(q).second)
            throw std::invalid_argument("queues: queue " + std::to_string(q) + " listed twice");
    }
    std::vector<std::uint32_t> w(queues.size(), 1u);
    if (!weights.empty()) {
        if (weights.size() != queues.size())
            throw std::invalid_argument("weights: " + std::to_string(weights.size()) + " weights for " +
                                        std::to_string(queues.size()) + " queues (need one per queue)");
        for (std::size_t i = 0; i < weights.size(); ++i) {
            if (weights[i] == 0)
                throw std::invalid_argument("weights: weight of queue " + std::to_string(queues[i]) +
                                            " must be >= 1");
            w[i] = weights[i];
        }
    }
    std::vector<std::uint32_t> counts(queues.size());
    largest_remainder(reta_size, w.data(), w.size(), counts.data());
    std::vector<std::int64_t> scratch(queues.size());
    std::vector<std::uint32_t> order(reta_size);
    interleave(counts.data(), counts.size(), scratch.data(), order.data());
    std::vector<std::uint16_t> reta(reta_size);
    for (std::uint32_t i = 0; i < reta_size; ++i) reta[i] = static_cast<std::uint16_t>(queues[order[i]]);
    return reta;
}

namespace {
bool same_socket(std::int32_t a, std::int32_t b) { return a < 0 || b < 0 || a == b; }

std::int32_t socket_of(std::uint32_t lcore, const std::vector<LcoreInfo>& lcores) {
    for (const LcoreInfo& l : lcores)
        if (l.lcore == lcore) return l.socket;
    return -1;
}
} // namespace

bool check_socket_locality(const std::vector<std::uint32_t>& lcore_of_queue,
                           const std::vector<LcoreInfo>& lcores, std::int32_t port_socket,
                           std::string* warning) {
    std::string detail;
    bool ok = true;
    for (std::size_t q = 0; q < lcore_of_queue.size(); ++q) {
        const std::int32_t s = socket_of(lcore_of_queue[q], lcores);
        if (same_socket(s, port_socket)) continue;
        if (!ok) detail += ", ";
        ok = false;
        detail += "queue " + std::to_string(q) + " on lcore " + std::to_string(lcore_of_queue[q]) +
                  " (socket " + std::to_string(s) + ")";
    }
    if (!ok && warning != nullptr)
        *warning = "port on socket " + std::to_string(port_socket) + " is polled across NUMA: " + detail;
    return ok;
}

QueueLcoreMap map_queues_to_lcores(std::uint16_t n_queues, const std::vector<LcoreInfo>& lcores,
                                   const std::vector<std::int32_t>& port_sockets) {
    if (n_queues == 0) throw std::invalid_argument("queues: need at least one RX queue per port");
    if (lcores.empty()) throw std::invalid_argument("lcores: need at least one lcore to poll the queues");
    if (port_sockets.empty()) throw std::invalid_argument("ports: need at least one member port");
    std::set<std::uint32_t> seen;
    for (const LcoreInfo& l : lcores)
        if (!seen.insert(l.lcore).second)
            throw std::invalid_argument("lcores: lcore " + std::to_string(l.lcore) + " listed twice");

    QueueLcoreMap r;
    // Preferred socket: the one most ports sit on (known sockets only);
    // ties go to the socket of the earliest port.
    std::map<std::int32_t, std::size_t> votes;
    for (std::int32_t s : port_sockets)
        if (s >= 0) ++votes[s];
    std::size_t best_votes = 0;
    for (std::int32_t s : port_sockets) {
        if (s < 0) continue;
        if (votes[s] > best_votes) {
            best_votes = votes[s];
            r.socket = s;
        }
    }
    std::vector<std::uint32_t> pool;
    for (const LcoreInfo& l : lcores)
        if (r.socket < 0 || l.socket == r.socket) pool.push_back(l.lcore);
    if (pool.empty()) // nothing on the preferred socket: use every lcore
        for (const LcoreInfo& l : lcores) pool.push_back(l.lcore);
    r.lcore_of_queue.resize(n_queues);
    for (std::uint16_t q = 0; q < n_queues; ++q) r.lcore_of_queue[q] = pool[q % pool.size()];

    r.port_cross_socket.assign(port_sockets.size(), 0);
    for (std::size_t p = 0; p < port_sockets.size(); ++p) {
        std::string w;
        if (check_socket_locality(r.lcore_of_queue, lcores, port_sockets[p], &w)) continue;
        r.port_cross_socket[p] = 1;
        r.cross_socket = true;
        if (!r.warning.empty()) r.warning += "\n";
        r.warning += "port " + std::to_string(p) + ": " + w;
    }
    return r;
}

bool check_queue_mapping(const std::vector<std::vector<std::uint32_t>>& map, std::string* error) {
    auto fail = [&](std::string msg) {
        if (error != nullptr) *error = std::move(msg);
        return false;
    };
    if (map.empty()) return fail("queue mapping: no member ports");
    const std::size_t nq = map[0].size();
    if (nq == 0) return fail("queue mapping: port 0 has no queues");
    for (std::size_t p = 1; p < map.size(); ++p) {
        if (map[p].size() != nq)
            return fail("queue mapping: port " + std::to_string(p) + " has " + std::to_string(map[p].size()) +
                        " queues but port 0 has " + std::to_string(nq) +
                        "; every member port needs the same number of RX queues");
        for (std::size_t q = 0; q < nq; ++q)
            if (map[p][q] != map[0][q])
                return fail("queue mapping: queue " + std::to_string(q) + " of port " + std::to_string(p) +
                            " is polled by lcore " + std::to_string(map[p][q]) + " but queue " +
                            std::to_string(q) + " of port 0 by lcore " + std::to_string(map[0][q]) +
                            "; queue q of every member port must map to the same lcore");
    }
    return true;
}

} // namespace flowteam::teaming
