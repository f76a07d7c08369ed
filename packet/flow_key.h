// SPDX-License-Identifier: BSD-3-Clause
// flowteam — flow key extracted from a raw Ethernet frame.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowteam::packet {

// What the parser could see. A frame that is truncated or malformed is
// classified, never read beyond `len`.
enum class ParseStatus : std::uint8_t {
    ok = 0,           // L2 at least; see has_l3 / has_l4 for how deep
    truncated_l2,     // shorter than an Ethernet header (or a VLAN tag is cut)
    truncated_l3,     // IPv4/IPv6 header cut short
    bad_l3,           // IPv4 IHL < 5, version mismatch, total length < header, ...
    truncated_l4,     // L4 header (ports) cut short on a first fragment
    bad_ext_header,   // IPv6 extension-header chain cut or too long
    count_            // number of statuses (for counter arrays)
};

const char* to_string(ParseStatus s);

enum class L3 : std::uint8_t { none = 0, ipv4 = 4, ipv6 = 6 };

// Protocol numbers we give ports for.
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoSctp = 132;

// Compact, POD flow key. Addresses in network byte order exactly as on the
// wire (IPv4 uses the first 4 bytes of src_ip/dst_ip, the rest are zero);
// ports in host byte order. Everything not visible stays zero.
struct FlowKey {
    std::uint8_t dst_mac[6];
    std::uint8_t src_mac[6];
    std::uint16_t outer_vlan;   // VLAN id (12 bits) of the outer tag, 0 if none
    std::uint16_t inner_vlan;   // VLAN id of the inner tag (QinQ), 0 if none
    std::uint16_t ethertype;    // innermost ethertype, host order
    L3 l3;
    std::uint8_t l4_proto;      // IPv4 protocol / IPv6 final next-header
    bool has_l4;                // ports visible (TCP/UDP/SCTP, not a non-first fragment)
    bool fragment;              // IPv4 or IPv6 fragment (first or not)
    std::uint8_t vlan_count;    // 0, 1 or 2; a third tag stops parsing at L2
    std::uint8_t pad_;
    std::uint8_t src_ip[16];
    std::uint8_t dst_ip[16];
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint16_t l3_offset;    // byte offset of the IP header in the frame
    std::uint16_t l4_offset;    // byte offset of the L4 header (0 when !has_l4)

    bool has_l3() const { return l3 != L3::none; }
};

// Parse `len` bytes of an Ethernet frame into `key` (fully overwritten).
// Never reads outside [data, data+len). Returns ok when at least the
// Ethernet header was read; deeper layers are reported through has_l3()/
// has_l4 and, when malformed, through the status.
ParseStatus parse_frame(const std::uint8_t* data, std::size_t len, FlowKey& key);

} // namespace flowteam::packet
