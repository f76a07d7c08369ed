// SPDX-License-Identifier: BSD-3-Clause
// flowteam — address-hash policies.
#include "packet/hash.h"

#include <cstring>

#include "packet/hash_fast.h"
#include "packet/toeplitz.h"

namespace flowteam::packet {

namespace {

using hash_detail::absorb;
using hash_detail::fmix32;
using hash_detail::kSeedL2;
using hash_detail::kSeedL3;
using hash_detail::load32;
using hash_detail::load64;

// MACs + VLAN ids: bytes [0,16) of the key.
inline std::uint32_t absorb_l2(std::uint32_t h, const FlowKey& k) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(&k);
    h = absorb(h, load64(b));
    return absorb(h, load64(b + 8));
}

// IP addresses (IPv4: one word; IPv6: four). The L3 version is mixed in so an
// IPv4 address never collides with the IPv6 address holding the same bytes.
inline std::uint32_t absorb_l3(std::uint32_t h, const FlowKey& k) {
    h ^= static_cast<std::uint32_t>(k.l3);
    if (k.l3 == L3::ipv4) {
        return absorb(h, load32(k.src_ip) | (static_cast<std::uint64_t>(load32(k.dst_ip)) << 32));
    }
    h = absorb(h, load64(k.src_ip));
    h = absorb(h, load64(k.src_ip + 8));
    h = absorb(h, load64(k.dst_ip));
    return absorb(h, load64(k.dst_ip + 8));
}

inline std::uint32_t absorb_l4(std::uint32_t h, const FlowKey& k) {
    const std::uint64_t w = static_cast<std::uint64_t>(k.src_port) |
                            (static_cast<std::uint64_t>(k.dst_port) << 16) |
                            (static_cast<std::uint64_t>(k.l4_proto) << 32);
    return absorb(h, w);
}

inline bool ports_usable(const FlowKey& k) {
    return k.has_l4 && !k.fragment;
}

inline std::uint32_t hash_l2(const FlowKey& k) {
    return fmix32(absorb_l2(kSeedL2, k));
}
inline std::uint32_t hash_l3(const FlowKey& k) {
    return fmix32(absorb_l3(kSeedL3, k));
}
inline std::uint32_t hash_l34(const FlowKey& k) {
    return fmix32(absorb_l4(absorb_l3(kSeedL3, k), k));
}
inline std::uint32_t hash_l23(const FlowKey& k) {
    return fmix32(absorb_l3(absorb_l2(kSeedL2, k), k));
}

// One key, policy known at compile time in the burst loop. `rk` is only read
// (and must be non-null) for toeplitz.
template <HashPolicy P>
inline std::uint32_t hash_one(const FlowKey& k, const ToeplitzKey* rk, HashLayer& used) {
    if constexpr (P == HashPolicy::l2) {
        used = HashLayer::l2;
        return hash_l2(k);
    } else if constexpr (P == HashPolicy::l23) {
        if (!k.has_l3()) {
            used = HashLayer::l2;
            return hash_l2(k);
        }
        used = HashLayer::l23;
        return hash_l23(k);
    } else if constexpr (P == HashPolicy::l3) {
        if (!k.has_l3()) {
            used = HashLayer::l2;
            return hash_l2(k);
        }
        used = HashLayer::l3;
        return hash_l3(k);
    } else if constexpr (P == HashPolicy::l34) {
        if (!k.has_l3()) {
            used = HashLayer::l2;
            return hash_l2(k);
        }
        if (!ports_usable(k)) {
            used = HashLayer::l3;
            return hash_l3(k);
        }
        used = HashLayer::l34;
        return hash_l34(k);
    } else {
        static_assert(P == HashPolicy::toeplitz);
        if (!k.has_l3()) {
            used = HashLayer::l2;
            return hash_l2(k);
        }
        // Prefer the 4-tuple; a key too short for it degrades to the 2-tuple, then to l2.
        const bool l4 = ports_usable(k);
        const std::size_t n2 = k.l3 == L3::ipv4 ? kRssTupleIpv4 : kRssTupleIpv6;
        if (l4 && rk->fits(n2 + 4)) {
            used = HashLayer::l34;
            return rk->hash_key(k, true);
        }
        if (rk->fits(n2)) {
            used = HashLayer::l3;
            return rk->hash_key(k, false);
        }
        used = HashLayer::l2;
        return hash_l2(k);
    }
}

template <HashPolicy P>
void burst(const FlowKey* keys, std::uint16_t n, const ToeplitzKey* rk, std::uint32_t* out,
           std::uint64_t* layer_counts) {
    HashLayer used = HashLayer::l2;
    if (layer_counts == nullptr) {
        for (std::uint16_t i = 0; i < n; ++i)
            out[i] = hash_one<P>(keys[i], rk, used);
        return;
    }
    for (std::uint16_t i = 0; i < n; ++i) {
        out[i] = hash_one<P>(keys[i], rk, used);
        ++layer_counts[static_cast<std::size_t>(used)];
    }
}

} // namespace

bool parse_hash_policy(std::string_view s, HashPolicy& out) {
    struct Name {
        std::string_view name;
        HashPolicy policy;
    };
    static constexpr Name kNames[] = {
        {"l2", HashPolicy::l2},        {"l23", HashPolicy::l23},           {"l3", HashPolicy::l3},
        {"l34", HashPolicy::l34},      {"toeplitz", HashPolicy::toeplitz}, {"layer2", HashPolicy::l2},
        {"layer2+3", HashPolicy::l23}, {"layer3+4", HashPolicy::l34},
    };
    for (const Name& n : kNames) {
        if (n.name == s) {
            out = n.policy;
            return true;
        }
    }
    return false;
}

const char* to_string(HashPolicy p) {
    switch (p) {
    case HashPolicy::l2:
        return "l2";
    case HashPolicy::l23:
        return "l23";
    case HashPolicy::l3:
        return "l3";
    case HashPolicy::l34:
        return "l34";
    case HashPolicy::toeplitz:
        return "toeplitz";
    }
    return "unknown";
}

const char* to_string(HashLayer l) {
    switch (l) {
    case HashLayer::l2:
        return "l2";
    case HashLayer::l23:
        return "l23";
    case HashLayer::l3:
        return "l3";
    case HashLayer::l34:
        return "l34";
    }
    return "unknown";
}

std::uint32_t flow_hash(const FlowKey& key, HashPolicy policy, const ToeplitzKey* rss_key, HashLayer* used) {
    HashLayer layer = HashLayer::l2;
    std::uint32_t h = 0;
    switch (policy) {
    case HashPolicy::l2:
        h = hash_one<HashPolicy::l2>(key, nullptr, layer);
        break;
    case HashPolicy::l23:
        h = hash_one<HashPolicy::l23>(key, nullptr, layer);
        break;
    case HashPolicy::l3:
        h = hash_one<HashPolicy::l3>(key, nullptr, layer);
        break;
    case HashPolicy::l34:
        h = hash_one<HashPolicy::l34>(key, nullptr, layer);
        break;
    case HashPolicy::toeplitz:
        h = hash_one<HashPolicy::toeplitz>(key, rss_key != nullptr ? rss_key : &default_rss_key(), layer);
        break;
    }
    if (used != nullptr) *used = layer;
    return h;
}

void flow_hash_burst(const FlowKey* keys, std::uint16_t n, HashPolicy policy, const ToeplitzKey* rss_key,
                     std::uint32_t* out, std::uint64_t* layer_counts) {
    switch (policy) {
    case HashPolicy::l2:
        burst<HashPolicy::l2>(keys, n, nullptr, out, layer_counts);
        return;
    case HashPolicy::l23:
        burst<HashPolicy::l23>(keys, n, nullptr, out, layer_counts);
        return;
    case HashPolicy::l3:
        burst<HashPolicy::l3>(keys, n, nullptr, out, layer_counts);
        return;
    case HashPolicy::l34:
        burst<HashPolicy::l34>(keys, n, nullptr, out, layer_counts);
        return;
    case HashPolicy::toeplitz:
        burst<HashPolicy::toeplitz>(keys, n, rss_key != nullptr ? rss_key : &default_rss_key(), out,
                                    layer_counts);
        return;
    }
}

} // namespace flowteam::packet
