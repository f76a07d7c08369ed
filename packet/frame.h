// SPDX-License-Identifier: BSD-3-Clause
// flowteam — build well-formed test frames (Ethernet / VLAN / IPv4 / IPv6 with
// extension headers / TCP / UDP / SCTP) into a caller buffer. Used by tests,
// benchmarks and traffic generators; not a per-packet path of the data plane,
// but it does not allocate either.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "packet/flow_key.h"

namespace flowteam::packet {

inline constexpr std::size_t kMaxFrameExtHeaders = 12; // more than the parser accepts, on purpose

struct FrameSpec {
    std::array<std::uint8_t, 6> dst_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    std::array<std::uint8_t, 6> src_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::uint8_t n_vlans = 0; // 0..3 tags, outermost first
    std::array<std::uint16_t, 3> vlan_tpid{kEtherTypeVlan, kEtherTypeVlan, kEtherTypeVlan};
    std::array<std::uint16_t, 3> vlan_id{}; // 12-bit ids (PCP/DEI zero)
    L3 l3 = L3::ipv4;
    std::uint16_t ethertype = 0x88B5;      // used when l3 == none (local experimental)
    std::array<std::uint8_t, 16> src_ip{}; // network order; IPv4 uses bytes 0..3
    std::array<std::uint8_t, 16> dst_ip{};
    std::uint8_t l4_proto = kProtoUdp; // TCP/UDP/SCTP get a header, others none
    std::uint16_t src_port = 0;        // host order
    std::uint16_t dst_port = 0;
    std::uint16_t payload_len = 0; // bytes after the L4 header
    std::uint8_t ttl = 64;
    std::uint8_t ipv4_options_len = 0; // multiple of 4, <= 40 (NOP options)
    std::uint16_t frag_offset = 0;     // 8-byte units (IPv4, or the IPv6 fragment header)
    bool more_fragments = false;
    // IPv6 extension headers in order (0, 43, 44, 50, 51, 59, 60, 135, 139, 140).
    // 44 takes frag_offset/more_fragments; 50 (ESP) and 59 end the chain (no L4 header).
    std::uint8_t n_ext = 0;
    std::array<std::uint8_t, kMaxFrameExtHeaders> ext{};
    bool pad_to_min = true; // pad to 60 bytes (64 with FCS)
};

// IPv4 address from a host-order integer, into a 16-byte FlowKey/FrameSpec field.
inline void set_ipv4(std::array<std::uint8_t, 16>& a, std::uint32_t host_order) {
    a = {};
    a[0] = static_cast<std::uint8_t>(host_order >> 24);
    a[1] = static_cast<std::uint8_t>(host_order >> 16);
    a[2] = static_cast<std::uint8_t>(host_order >> 8);
    a[3] = static_cast<std::uint8_t>(host_order);
}

// Length build_frame() would produce (0 when the spec is invalid: more than 3
// VLAN tags or kMaxFrameExtHeaders ext headers, IPv4 options not a multiple
// of 4 or > 40, an IPv4 datagram or IPv6 payload over 65535 bytes).
std::size_t frame_length(const FrameSpec& spec);

// Writes the frame; returns its length, or 0 when the spec is invalid or
// `cap` is too small. IPv4 header checksum is filled; TCP/UDP checksums are
// filled for unfragmented packets (left 0 for fragments and SCTP).
std::size_t build_frame(const FrameSpec& spec, std::uint8_t* buf, std::size_t cap);

} // namespace flowteam::packet
