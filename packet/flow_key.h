// SPDX-License-Identifier: BSD-3-Clause
// flowteam — flow key extracted from a raw Ethernet frame.
//
// parse_frame() is a per-packet function: no allocation, no exceptions, and
// it never reads outside [data, data + len) whatever the bytes say.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace flowteam::packet {

// What the parser could see. A frame that is truncated or malformed is
// classified, never read beyond `len`.
//
// Which FlowKey fields are valid for each status:
//   truncated_l2            : L2 fields if the 14-byte Ethernet header was read
//                             (a VLAN tag was cut), nothing when len < 14
//   ok, truncated_l3, bad_l3: L2 fields; L3/L4 as far as has_l3()/has_l4 say
//                             (truncated_l3 and bad_l3 leave l3 == none)
//   truncated_l4            : L2 + L3 (addresses, l4_proto), no ports
//   bad_ext_header          : L2 + IPv6 addresses, no ports
// So the hash policies can always fall back to the deepest layer that was read.
enum class ParseStatus : std::uint8_t {
    ok = 0,         // L2 at least; see has_l3 / has_l4 for how deep
    truncated_l2,   // shorter than an Ethernet header (or a VLAN tag is cut)
    truncated_l3,   // IPv4/IPv6 header cut short
    bad_l3,         // IPv4 IHL < 5, version mismatch, total length < header, ...
    truncated_l4,   // L4 header (TCP 20 / UDP 8 / SCTP 12 bytes) cut short on an unfragmented
                    // packet or a first fragment (bounded by the frame and the IP length)
    bad_ext_header, // IPv6 extension-header chain cut or longer than kMaxIpv6ExtHeaders
    count_          // number of statuses (for counter arrays)
};

// "ok", "truncated_l2", ... ; "unknown" for out-of-range values.
const char* to_string(ParseStatus s);

enum class L3 : std::uint8_t { none = 0, ipv4 = 4, ipv6 = 6 };

// Protocol numbers we give ports for.
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoSctp = 132;

// Ethertypes the parser understands.
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;    // 802.1Q C-tag
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88A8;    // 802.1ad S-tag
inline constexpr std::uint16_t kEtherTypeQinQOld = 0x9100; // pre-standard QinQ

inline constexpr std::size_t kEthHeaderLen = 14;
inline constexpr std::size_t kVlanTagLen = 4;
inline constexpr std::uint8_t kMaxVlanTags = 2;       // a third tag stops parsing at L2
inline constexpr std::uint8_t kMaxIpv6ExtHeaders = 8; // a longer chain is bad_ext_header

// The common frame both fast paths take (the parser's and the fused hash of
// packet/hash_fast.h): untagged Ethernet, IPv4 with IHL 5, not a fragment, TCP
// or UDP whose header fits in min(frame, IP total length) — the general
// parser's bound, which also implies total length >= IHL. Its L4 header starts
// at kCommonL4Offset. Returns the protocol (kProtoTcp or kProtoUdp), or 0 for
// anything else.
inline constexpr std::size_t kCommonL4Offset = kEthHeaderLen + 20;
inline std::uint8_t common_ipv4_l4_proto(const std::uint8_t* data, std::size_t len) {
    const auto be16 = [](const std::uint8_t* p) {
        return static_cast<std::uint16_t>((static_cast<unsigned>(p[0]) << 8) | p[1]);
    };
    if (len < kCommonL4Offset + 8) return 0; // smallest case: UDP header
    const std::uint8_t* ip = data + kEthHeaderLen;
    if (be16(data + 12) != kEtherTypeIpv4 || ip[0] != 0x45) return 0;
    if ((be16(ip + 6) & 0x3FFF) != 0) return 0; // MF or a fragment offset
    const std::uint8_t proto = ip[9];
    const std::size_t need = proto == kProtoUdp ? 8 : proto == kProtoTcp ? 20 : 0;
    if (need == 0) return 0;
    const std::size_t total = kEthHeaderLen + be16(ip + 2);
    if ((len < total ? len : total) < kCommonL4Offset + need) return 0;
    return proto;
}

// Compact, POD flow key (64 bytes, one cache line). Addresses in network byte
// order exactly as on the wire (IPv4 uses the first 4 bytes of src_ip/dst_ip,
// the rest are zero); ports in host byte order. Everything not visible stays
// zero. The first 16 bytes (MACs + VLAN ids) are exactly what the l2 hash reads.
struct FlowKey {
    std::uint8_t dst_mac[6];
    std::uint8_t src_mac[6];
    std::uint16_t outer_vlan; // VLAN id (12 bits) of the outer tag, 0 if none
    std::uint16_t inner_vlan; // VLAN id of the inner tag (QinQ), 0 if none
    std::uint16_t ethertype;  // innermost ethertype, host order (the TPID of a third tag)
    L3 l3;
    std::uint8_t l4_proto;   // IPv4 protocol / IPv6 final next-header
    bool has_l4;             // ports visible (TCP/UDP/SCTP, not a non-first fragment)
    bool fragment;           // IPv4 or IPv6 fragment (first or not)
    std::uint8_t vlan_count; // 0, 1 or 2; a third tag stops parsing at L2
    std::uint8_t pad_;
    std::uint8_t src_ip[16];
    std::uint8_t dst_ip[16];
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint16_t l3_offset; // byte offset of the IP header in the frame (0 when !has_l3())
    std::uint16_t l4_offset; // byte offset of the L4 header (0 when !has_l4)

    bool has_l3() const { return l3 != L3::none; }
};

static_assert(sizeof(FlowKey) == 64, "FlowKey is one cache line");
static_assert(std::is_trivially_copyable_v<FlowKey> && std::is_standard_layout_v<FlowKey>);
static_assert(offsetof(FlowKey, outer_vlan) == 12 && offsetof(FlowKey, ethertype) == 16,
              "the l2 hash reads bytes [0,16) as two words");
static_assert(offsetof(FlowKey, src_ip) == 24 && offsetof(FlowKey, dst_ip) == 40 &&
              offsetof(FlowKey, src_port) == 56);

// Parse `len` bytes of an Ethernet frame into `key` (fully overwritten).
// Never reads outside [data, data+len) (data may be nullptr when len == 0).
// Returns ok when the frame was understood as far as it goes (an ARP frame
// or a non-first fragment is ok without ports); otherwise the status says
// what was cut or malformed, and `key` keeps everything read before that.
//
// Fragments: `fragment` is set for any IPv4/IPv6 fragment; non-first
// fragments carry no ports; a first fragment carries ports when the L4
// header fits (the hash policies ignore ports on fragments anyway, so all
// fragments of a datagram hash alike).
ParseStatus parse_frame(const std::uint8_t* data, std::size_t len, FlowKey& key);

namespace detail {
// parse_frame() without its fast path for untagged IPv4 (IHL 5) TCP/UDP:
// same contract and, for every input, the same status and the same key bytes.
// For tests and benchmarks only.
ParseStatus parse_frame_general(const std::uint8_t* data, std::size_t len, FlowKey& key);
} // namespace detail

} // namespace flowteam::packet
