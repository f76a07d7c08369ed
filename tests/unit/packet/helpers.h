// SPDX-License-Identifier: BSD-3-Clause
// Shared helpers of the packet unit tests.
#pragma once

#include <arpa/inet.h>
#include <array>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "packet/flow_key.h"
#include "packet/frame.h"

namespace flowteam::packet::test {

using Bytes = std::vector<std::uint8_t>;

inline bool same_key(const FlowKey& a, const FlowKey& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

inline Bytes build(const FrameSpec& s) {
    Bytes b(frame_length(s));
    const std::size_t n = build_frame(s, b.data(), b.size());
    EXPECT_EQ(n, b.size()) << "invalid frame spec";
    return b;
}

inline std::array<std::uint8_t, 16> ip4(const char* text) {
    std::array<std::uint8_t, 16> a{};
    EXPECT_EQ(inet_pton(AF_INET, text, a.data()), 1) << text;
    return a;
}

inline std::array<std::uint8_t, 16> ip6(const char* text) {
    std::array<std::uint8_t, 16> a{};
    EXPECT_EQ(inet_pton(AF_INET6, text, a.data()), 1) << text;
    return a;
}

inline FrameSpec v4_spec(std::uint8_t proto, const char* src, const char* dst, std::uint16_t sport,
                         std::uint16_t dport) {
    FrameSpec s;
    s.l3 = L3::ipv4;
    s.l4_proto = proto;
    s.src_ip = ip4(src);
    s.dst_ip = ip4(dst);
    s.src_port = sport;
    s.dst_port = dport;
    return s;
}

inline FrameSpec v6_spec(std::uint8_t proto, const char* src, const char* dst, std::uint16_t sport,
                         std::uint16_t dport) {
    FrameSpec s;
    s.l3 = L3::ipv6;
    s.l4_proto = proto;
    s.src_ip = ip6(src);
    s.dst_ip = ip6(dst);
    s.src_port = sport;
    s.dst_port = dport;
    return s;
}

// Parses a copy of data[0, len) held in a heap block of exactly `len` bytes,
// so AddressSanitizer reports any read past the end.
inline ParseStatus parse_exact(const std::uint8_t* data, std::size_t len, FlowKey& key) {
    std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[len]);
    if (len != 0) std::memcpy(copy.get(), data, len);
    return parse_frame(copy.get(), len, key);
}

inline ParseStatus parse_exact(const Bytes& b, FlowKey& key) {
    return parse_exact(b.data(), b.size(), key);
}

// A random but well-formed frame: VLAN tags, IPv4 (options, fragments) or
// IPv6 (extension headers, fragments), TCP/UDP/SCTP/ICMP, payload.
inline FrameSpec random_spec(std::mt19937_64& rng) {
    auto pick = [&](std::uint64_t n) { return static_cast<std::uint32_t>(rng() % n); };
    FrameSpec s;
    for (auto& b : s.dst_mac)
        b = static_cast<std::uint8_t>(rng());
    for (auto& b : s.src_mac)
        b = static_cast<std::uint8_t>(rng());
    s.n_vlans = static_cast<std::uint8_t>(pick(4) == 0 ? pick(3) : 0);
    static constexpr std::uint16_t kTpids[] = {kEtherTypeVlan, kEtherTypeQinQ, kEtherTypeQinQOld};
    for (int i = 0; i < 3; ++i) {
        s.vlan_tpid[i] = kTpids[pick(3)];
        s.vlan_id[i] = static_cast<std::uint16_t>(pick(4096));
    }
    const std::uint32_t kind = pick(10);
    s.l3 = kind < 5 ? L3::ipv4 : kind < 9 ? L3::ipv6 : L3::none;
    static constexpr std::uint8_t kProtos[] = {kProtoTcp, kProtoUdp, kProtoSctp, 1 /*ICMP*/, 47 /*GRE*/};
    s.l4_proto = kProtos[pick(5)];
    for (auto& b : s.src_ip)
        b = static_cast<std::uint8_t>(rng());
    for (auto& b : s.dst_ip)
        b = static_cast<std::uint8_t>(rng());
    if (s.l3 == L3::ipv4) {
        for (std::size_t i = 4; i < 16; ++i)
            s.src_ip[i] = s.dst_ip[i] = 0;
        s.ipv4_options_len = static_cast<std::uint8_t>(pick(4) == 0 ? 4 * pick(11) : 0);
        if (pick(6) == 0) {
            s.more_fragments = pick(2) == 0;
            s.frag_offset = static_cast<std::uint16_t>(pick(3) == 0 ? 0 : 1 + pick(1000));
            if (s.frag_offset == 0) s.more_fragments = true;
        }
    } else if (s.l3 == L3::ipv6) {
        static constexpr std::uint8_t kExt[] = {0, 43, 44, 60, 51, 135, 139, 140, 50, 59};
        s.n_ext = static_cast<std::uint8_t>(pick(3) == 0 ? 1 + pick(4) : 0);
        for (std::uint8_t i = 0; i < s.n_ext; ++i)
            s.ext[i] = kExt[pick(i + 1 == s.n_ext ? 10 : 8)];
        s.frag_offset = static_cast<std::uint16_t>(pick(3) == 0 ? pick(500) : 0);
        s.more_fragments = pick(2) == 0;
    }
    s.src_port = static_cast<std::uint16_t>(rng());
    s.dst_port = static_cast<std::uint16_t>(rng());
    s.payload_len = static_cast<std::uint16_t>(pick(3) == 0 ? pick(64) : 0);
    s.pad_to_min = pick(4) != 0;
    return s;
}

// Steer a random_spec into the common shape the fast paths take (untagged
// IPv4 without options, TCP or UDP, not a fragment), keeping its random
// addresses, ports and payload.
inline void steer_common_shape(FrameSpec& s, std::mt19937_64& rng) {
    s.n_vlans = 0;
    s.l3 = L3::ipv4;
    s.l4_proto = rng() % 2 == 0 ? kProtoTcp : kProtoUdp;
    s.ipv4_options_len = 0;
    s.more_fragments = false;
    s.frag_offset = 0;
    for (std::size_t k = 4; k < 16; ++k)
        s.src_ip[k] = s.dst_ip[k] = 0;
}

} // namespace flowteam::packet::test
