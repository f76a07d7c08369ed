// SPDX-License-Identifier: BSD-3-Clause
// flowteam — hash policies ("address hash" variants) over a FlowKey.
//
// The non-Toeplitz policies absorb the key's fields as 64-bit words with
// CRC32C (SSE4.2, one instruction per word) and finish with a murmur3-style
// avalanche, so every output bit depends on every input bit and both the low
// bits (hash & mask) and the high bits are usable for bucket selection.
// Values are stable for a given build but are not a wire format.
#pragma once

#include <cstdint>
#include <string_view>

#include "packet/flow_key.h"

namespace flowteam::packet {

class ToeplitzKey;

// l2: MACs + VLAN ids; l23: MACs + VLAN ids + IPs; l3: IPs; l34: IPs + protocol + L4 ports;
// toeplitz: RSS Toeplitz over the IP 4-tuple (2-tuple when ports are not usable).
// Fallback when a layer is not usable: l34 -> l3 -> l2, l23 -> l2, toeplitz -> l2.
// Ports are "usable" when has_l4 and the packet is not a fragment: every
// fragment of a datagram (the first one included) hashes on the addresses
// only, so a datagram's fragments stay together (as Linux bonding layer3+4 and
// the RSS specification do). A fallback gives exactly the hash of the lower
// policy: flow_hash(k, l34) == flow_hash(k, l3) when k has no usable ports.
enum class HashPolicy : std::uint8_t { l2, l23, l3, l34, toeplitz };

// Which layers the hash actually covered (for fallback counters). A toeplitz
// hash reports l34 (4-tuple), l3 (2-tuple) or l2 (fallback).
enum class HashLayer : std::uint8_t { l2, l23, l3, l34 };
inline constexpr std::size_t kHashLayerCount = 4;

// "l2","l23","l3","l34","toeplitz"; also the Linux bonding names "layer2",
// "layer2+3", "layer3+4". Returns false (out untouched) for anything else.
bool parse_hash_policy(std::string_view s, HashPolicy& out);
const char* to_string(HashPolicy p);
const char* to_string(HashLayer l);

// Hash of one key under a policy. `rss_key` is used for toeplitz (nullptr -> the
// default Microsoft key). `used` (optional) tells which layer was hashed.
// A toeplitz key too short for the tuple (see ToeplitzKey::require(), which
// configuration should call) degrades to the 2-tuple, then to l2 — never to a
// constant. Hot path: no allocation.
std::uint32_t flow_hash(const FlowKey& key, HashPolicy policy, const ToeplitzKey* rss_key = nullptr,
                        HashLayer* used = nullptr);

// Burst version: out[i] = flow_hash(keys[i], policy, rss_key). The policy is
// dispatched once per burst. When `layer_counts` is given (kHashLayerCount
// entries, indexed by HashLayer) the layer actually hashed is counted.
void flow_hash_burst(const FlowKey* keys, std::uint16_t n, HashPolicy policy, const ToeplitzKey* rss_key,
                     std::uint32_t* out, std::uint64_t* layer_counts = nullptr);

} // namespace flowteam::packet
