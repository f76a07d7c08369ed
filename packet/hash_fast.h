// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the hash primitives, and a fused parse + hash for the common frame.
//
// flow_hash_fast() hashes an untagged Ethernet / IPv4 (IHL 5, not a fragment)
// / TCP or UDP frame straight from its bytes, without building a FlowKey:
// two CRC32C words and the avalanche for l34. For every frame it accepts it
// returns exactly flow_hash(parse_frame(frame), policy) (unit-tested against
// it); anything else (VLANs, IPv6, options, fragments, other protocols,
// truncation, toeplitz) returns false and the caller takes the general path.
// Header-only so the data plane's per-packet loop inlines it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/bytes.h"
#include "packet/flow_key.h"
#include "packet/hash.h"

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace flowteam::packet::hash_detail {

// Per-layer seeds, so that e.g. an l2 and an l3 hash of equal bytes differ.
inline constexpr std::uint32_t kSeedL2 = 0x2c1b3c6du;
inline constexpr std::uint32_t kSeedL3 = 0x297a2d39u;

inline std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline std::uint32_t load32(const std::uint8_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Absorb one 64-bit word into the 32-bit state.
inline std::uint32_t absorb(std::uint32_t h, std::uint64_t w) {
#if defined(__SSE4_2__)
    return static_cast<std::uint32_t>(_mm_crc32_u64(h, w));
#else
    std::uint64_t x = w ^ (static_cast<std::uint64_t>(h) * 0x9E3779B97F4A7C15ull);
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    return static_cast<std::uint32_t>(x ^ (x >> 32));
#endif
}

// murmur3 finaliser: full avalanche of the (linear) CRC state.
inline std::uint32_t fmix32(std::uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

} // namespace flowteam::packet::hash_detail

namespace flowteam::packet {

// Hash of the common frame (see above). Returns false, outputs untouched,
// when the frame is not that case or the policy is toeplitz.
inline bool flow_hash_fast(const std::uint8_t* data, std::size_t len, HashPolicy policy, std::uint32_t& hash,
                           HashLayer& used) {
    using namespace hash_detail;
    if (policy == HashPolicy::toeplitz) return false;
    constexpr std::size_t kL4 = kCommonL4Offset;
    const std::uint8_t proto = common_ipv4_l4_proto(data, len);
    if (proto == 0) return false;
    const std::uint8_t* ip = data + kEthHeaderLen;

    // The FlowKey words the hashes read: [0,16) = MACs + two zero VLAN ids;
    // IPv4 addresses as one word; ports + protocol as one word.
    switch (policy) {
    case HashPolicy::l2:
        hash = fmix32(absorb(absorb(kSeedL2, load64(data)), std::uint64_t{load32(data + 8)}));
        used = HashLayer::l2;
        return true;
    case HashPolicy::l23: {
        std::uint32_t h = absorb(absorb(kSeedL2, load64(data)), std::uint64_t{load32(data + 8)});
        h ^= static_cast<std::uint32_t>(L3::ipv4);
        hash = fmix32(absorb(h, load64(ip + 12)));
        used = HashLayer::l23;
        return true;
    }
    case HashPolicy::l3:
        hash = fmix32(absorb(kSeedL3 ^ static_cast<std::uint32_t>(L3::ipv4), load64(ip + 12)));
        used = HashLayer::l3;
        return true;
    case HashPolicy::l34: {
        const std::uint32_t h = absorb(kSeedL3 ^ static_cast<std::uint32_t>(L3::ipv4), load64(ip + 12));
        const std::uint64_t w = static_cast<std::uint64_t>(load_be16(data + kL4)) |
                                (static_cast<std::uint64_t>(load_be16(data + kL4 + 2)) << 16) |
                                (static_cast<std::uint64_t>(proto) << 32);
        hash = fmix32(absorb(h, w));
        used = HashLayer::l34;
        return true;
    }
    case HashPolicy::toeplitz:
        break;
    }
    return false;
}

} // namespace flowteam::packet
