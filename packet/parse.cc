// SPDX-License-Identifier: BSD-3-Clause
// flowteam — Ethernet / VLAN / IPv4 / IPv6 / L4 parser producing a FlowKey.
//
// Bounds discipline: every read at offset `off` of `n` bytes is preceded by a
// check `end - off >= n` with the invariant off <= end <= len, so no
// arithmetic can wrap and no byte outside the frame is touched.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "common/bytes.h"
#include "packet/flow_key.h"

namespace flowteam::packet {

namespace {

inline bool is_vlan_tpid(std::uint16_t t) {
    return t == kEtherTypeVlan || t == kEtherTypeQinQ || t == kEtherTypeQinQOld;
}

// Bytes of the L4 header that must be present before we trust its ports;
// 0 for protocols without ports.
inline std::size_t l4_min_header(std::uint8_t proto) {
    switch (proto) {
    case kProtoTcp:
        return 20;
    case kProtoUdp:
        return 8;
    case kProtoSctp:
        return 12;
    default:
        return 0;
    }
}

// IPv6 next-header values.
constexpr std::uint8_t kNhHopByHop = 0;
constexpr std::uint8_t kNhRouting = 43;
constexpr std::uint8_t kNhFragment = 44;
constexpr std::uint8_t kNhEsp = 50;
constexpr std::uint8_t kNhAh = 51;
constexpr std::uint8_t kNhNone = 59;
constexpr std::uint8_t kNhDestOpts = 60;
constexpr std::uint8_t kNhMobility = 135;
constexpr std::uint8_t kNhHip = 139;
constexpr std::uint8_t kNhShim6 = 140;

constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kIpv6FragHeader = 8;

// Ports of the L4 header at `off`, bounded by `end` (frame and IP length).
ParseStatus parse_l4(const std::uint8_t* data, std::size_t off, std::size_t end, std::uint8_t proto,
                     FlowKey& key) {
    const std::size_t need = l4_min_header(proto);
    if (need == 0) return ParseStatus::ok; // no ports for this protocol
    if (end - off < need) return ParseStatus::truncated_l4;
    key.src_port = load_be16(data + off);
    key.dst_port = load_be16(data + off + 2);
    key.has_l4 = true;
    key.l4_offset = static_cast<std::uint16_t>(off);
    return ParseStatus::ok;
}

ParseStatus parse_ipv4(const std::uint8_t* data, std::size_t len, std::size_t off, FlowKey& key) {
    if (len - off < kIpv4MinHeader) return ParseStatus::truncated_l3;
    const std::uint8_t* ip = data + off;
    if ((ip[0] >> 4) != 4) return ParseStatus::bad_l3;
    const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0F) * 4;
    if (ihl < kIpv4MinHeader) return ParseStatus::bad_l3;
    if (len - off < ihl) return ParseStatus::truncated_l3;
    const std::size_t total = load_be16(ip + 2);
    if (total < ihl) return ParseStatus::bad_l3;

    key.l3 = L3::ipv4;
    key.l3_offset = static_cast<std::uint16_t>(off);
    key.l4_proto = ip[9];
    std::memcpy(key.src_ip, ip + 12, 4);
    std::memcpy(key.dst_ip, ip + 16, 4);

    const std::uint16_t frag = load_be16(ip + 6);
    const bool more_fragments = (frag & 0x2000) != 0;
    const std::uint16_t frag_offset = frag & 0x1FFF;
    key.fragment = more_fragments || frag_offset != 0;
    if (frag_offset != 0) return ParseStatus::ok; // non-first fragment: no L4 header here

    // The datagram may be shorter than the frame (Ethernet padding) or the
    // frame shorter than the datagram (snap length): bound by both.
    const std::size_t end = std::min(len, off + total);
    return parse_l4(data, off + ihl, end, key.l4_proto, key);
}

ParseStatus parse_ipv6(const std::uint8_t* data, std::size_t len, std::size_t off, FlowKey& key) {
    if (len - off < kIpv6Header) return ParseStatus::truncated_l3;
    const std::uint8_t* ip = data + off;
    if ((ip[0] >> 4) != 6) return ParseStatus::bad_l3;

    key.l3 = L3::ipv6;
    key.l3_offset = static_cast<std::uint16_t>(off);
    std::memcpy(key.src_ip, ip + 8, 16);
    std::memcpy(key.dst_ip, ip + 24, 16);

    // Payload length 0 is a jumbogram (or a sender that left it to the NIC):
    // then only the frame bounds us.
    const std::size_t payload = load_be16(ip + 4);
    const std::size_t end = payload != 0 ? std::min(len, off + kIpv6Header + payload) : len;
    std::uint8_t nh = ip[6];
    std::size_t p = off + kIpv6Header; // invariant: p <= end

    for (unsigned n_ext = 0;; ++n_ext) {
        key.l4_proto = nh;
        std::size_t hlen = 0;
        switch (nh) {
        case kNhHopByHop:
        case kNhRouting:
        case kNhDestOpts:
        case kNhMobility:
        case kNhHip:
        case kNhShim6:
            if (n_ext == kMaxIpv6ExtHeaders || end - p < 2) return ParseStatus::bad_ext_header;
            hlen = (static_cast<std::size_t>(data[p + 1]) + 1) * 8;
            break;
        case kNhAh:
            if (n_ext == kMaxIpv6ExtHeaders || end - p < 2) return ParseStatus::bad_ext_header;
            hlen = (static_cast<std::size_t>(data[p + 1]) + 2) * 4;
            break;
        case kNhFragment:
            if (n_ext == kMaxIpv6ExtHeaders) return ParseStatus::bad_ext_header;
            hlen = kIpv6FragHeader;
            break;
        case kNhEsp:  // encrypted: nothing beyond is readable
        case kNhNone: // nothing follows
            return ParseStatus::ok;
        default: // upper-layer header
            return parse_l4(data, p, end, nh, key);
        }
        if (end - p < hlen) return ParseStatus::bad_ext_header;
        if (nh == kNhFragment) {
            key.fragment = true;
            const std::uint16_t frag_offset = static_cast<std::uint16_t>(load_be16(data + p + 2) >> 3);
            if (frag_offset != 0) { // non-first fragment: payload is mid-datagram
                key.l4_proto = data[p];
                return ParseStatus::ok;
            }
        }
        nh = data[p];
        p += hlen;
    }
}

} // namespace

const char* to_string(ParseStatus s) {
    switch (s) {
    case ParseStatus::ok:
        return "ok";
    case ParseStatus::truncated_l2:
        return "truncated_l2";
    case ParseStatus::truncated_l3:
        return "truncated_l3";
    case ParseStatus::bad_l3:
        return "bad_l3";
    case ParseStatus::truncated_l4:
        return "truncated_l4";
    case ParseStatus::bad_ext_header:
        return "bad_ext_header";
    case ParseStatus::count_:
        break;
    }
    return "unknown";
}

namespace {

// Fast path for the common frame (common_ipv4_l4_proto, flow_key.h).
// Writes every byte of `key` (the same bytes the general path would give,
// checked by a unit test) with a few wide stores instead of zeroing the
// whole key first. Returns false, key untouched, for anything else.
inline bool parse_fast(const std::uint8_t* data, std::size_t len, FlowKey& key) {
    constexpr std::size_t kL3 = kEthHeaderLen;
    constexpr std::size_t kL4 = kCommonL4Offset;
    const std::uint8_t proto = common_ipv4_l4_proto(data, len);
    if (proto == 0) return false;
    const std::uint8_t* ip = data + kL3;

    auto* const b = reinterpret_cast<std::uint8_t*>(&key);
    std::memcpy(b, data, 12); // dst_mac, src_mac
    // Bytes [12, 24): no VLANs, ethertype, l3, l4_proto, has_l4, !fragment, vlan_count 0, pad_.
    std::memset(b + offsetof(FlowKey, outer_vlan), 0, 4);
    key.ethertype = kEtherTypeIpv4;
    key.l3 = L3::ipv4;
    key.l4_proto = proto;
    key.has_l4 = true;
    key.fragment = false;
    key.vlan_count = 0;
    key.pad_ = 0;
    // Both address arrays: two 16-byte zero stores, then the IPv4 addresses.
    std::memset(b + offsetof(FlowKey, src_ip), 0, 32);
    std::memcpy(key.src_ip, ip + 12, 4);
    std::memcpy(key.dst_ip, ip + 16, 4);
    // Bytes [56, 64): ports and offsets.
    key.src_port = load_be16(data + kL4);
    key.dst_port = load_be16(data + kL4 + 2);
    key.l3_offset = static_cast<std::uint16_t>(kL3);
    key.l4_offset = static_cast<std::uint16_t>(kL4);
    return true;
}

} // namespace

ParseStatus parse_frame(const std::uint8_t* data, std::size_t len, FlowKey& key) {
    if (parse_fast(data, len, key)) return ParseStatus::ok;
    return detail::parse_frame_general(data, len, key);
}

ParseStatus detail::parse_frame_general(const std::uint8_t* data, std::size_t len, FlowKey& key) {
    key = FlowKey{};
    if (len < kEthHeaderLen) return ParseStatus::truncated_l2;

    std::memcpy(key.dst_mac, data, 6);
    std::memcpy(key.src_mac, data + 6, 6);
    std::uint16_t type = load_be16(data + 12);
    std::size_t off = kEthHeaderLen;

    while (is_vlan_tpid(type)) {
        if (key.vlan_count == kMaxVlanTags) { // third tag: stay at L2
            key.ethertype = type;
            return ParseStatus::ok;
        }
        if (len - off < kVlanTagLen) {
            key.ethertype = type;
            return ParseStatus::truncated_l2;
        }
        const std::uint16_t vid = load_be16(data + off) & 0x0FFF;
        if (key.vlan_count == 0)
            key.outer_vlan = vid;
        else
            key.inner_vlan = vid;
        ++key.vlan_count;
        type = load_be16(data + off + 2);
        off += kVlanTagLen;
    }
    key.ethertype = type;

    switch (type) {
    case kEtherTypeIpv4:
        return parse_ipv4(data, len, off, key);
    case kEtherTypeIpv6:
        return parse_ipv6(data, len, off, key);
    default:
        return ParseStatus::ok; // ARP, LLDP, ... : L2 only
    }
}

} // namespace flowteam::packet
