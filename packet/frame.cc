// SPDX-License-Identifier: BSD-3-Clause
// flowteam — test frame builder.
#include "packet/frame.h"

#include <cstring>

#include "common/bytes.h"

namespace flowteam::packet {

namespace {

std::size_t ext_len(std::uint8_t type) {
    switch (type) {
    case 51:
        return 24; // AH: hdrlen 4 -> (4 + 2) * 4 = 24 (12 fixed + 12 ICV)
    case 50:
        return 8; // ESP: SPI + sequence, the rest is opaque payload
    case 59:
        return 0; // No Next Header: nothing
    default:
        return 8; // hop-by-hop, routing, fragment, dest opts, mobility, HIP, shim6: hdrlen 0
    }
}

std::size_t l4_header_len(std::uint8_t proto) {
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

// Does the packet carry an L4 header right after the IP header / ext chain?
bool carries_l4(const FrameSpec& s) {
    if (s.l3 == L3::ipv4) return s.frag_offset == 0;
    for (std::uint8_t i = 0; i < s.n_ext; ++i) {
        if (s.ext[i] == 50 || s.ext[i] == 59) return false;
        if (s.ext[i] == 44 && s.frag_offset != 0) return false;
    }
    return true;
}

bool valid(const FrameSpec& s) {
    if (s.n_vlans > 3 || s.n_ext > kMaxFrameExtHeaders) return false;
    if (s.ipv4_options_len % 4 != 0 || s.ipv4_options_len > 40) return false;
    return true;
}

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        acc += static_cast<std::uint32_t>((p[i] << 8) | p[i + 1]);
    if (n % 2 != 0) acc += static_cast<std::uint32_t>(p[n - 1] << 8);
    return acc;
}

std::uint16_t fold(std::uint32_t acc) {
    while (acc >> 16)
        acc = (acc & 0xFFFF) + (acc >> 16);
    return static_cast<std::uint16_t>(~acc & 0xFFFF);
}

} // namespace

std::size_t frame_length(const FrameSpec& s) {
    if (!valid(s)) return 0;
    std::size_t n = kEthHeaderLen + kVlanTagLen * s.n_vlans;
    const std::size_t l4 = carries_l4(s) ? l4_header_len(s.l4_proto) : 0;
    if (s.l3 == L3::ipv4) {
        const std::size_t total = 20 + s.ipv4_options_len + l4 + s.payload_len;
        if (total > 0xFFFF) return 0;
        n += total;
    } else if (s.l3 == L3::ipv6) {
        std::size_t payload = l4 + s.payload_len;
        for (std::uint8_t i = 0; i < s.n_ext; ++i)
            payload += ext_len(s.ext[i]);
        if (payload > 0xFFFF) return 0;
        n += 40 + payload;
    } else {
        n += s.payload_len;
    }
    if (s.pad_to_min && n < 60) n = 60;
    return n;
}

std::size_t build_frame(const FrameSpec& s, std::uint8_t* buf, std::size_t cap) {
    const std::size_t total_len = frame_length(s);
    if (total_len == 0 || total_len > cap) return 0;
    std::memset(buf, 0, total_len);

    std::memcpy(buf, s.dst_mac.data(), 6);
    std::memcpy(buf + 6, s.src_mac.data(), 6);
    std::size_t off = 12;
    for (std::uint8_t i = 0; i < s.n_vlans; ++i) {
        store_be16(buf + off, s.vlan_tpid[i]);
        store_be16(buf + off + 2, s.vlan_id[i] & 0x0FFF);
        off += 4;
    }
    const std::uint16_t type = s.l3 == L3::ipv4   ? kEtherTypeIpv4
                               : s.l3 == L3::ipv6 ? kEtherTypeIpv6
                                                  : s.ethertype;
    store_be16(buf + off, type);
    off += 2;
    if (s.l3 == L3::none) return total_len; // payload is zeros

    const bool l4 = carries_l4(s);
    const std::size_t l4_len = l4 ? l4_header_len(s.l4_proto) : 0;
    std::size_t l4_off = 0;
    std::size_t ip_payload = 0; // bytes covered by the L4 checksum

    if (s.l3 == L3::ipv4) {
        std::uint8_t* ip = buf + off;
        const std::size_t ihl = 20 + s.ipv4_options_len;
        const std::size_t total = ihl + l4_len + s.payload_len;
        ip[0] = static_cast<std::uint8_t>(0x40 | (ihl / 4));
        store_be16(ip + 2, static_cast<std::uint16_t>(total));
        store_be16(ip + 4, 0x1234); // identification
        store_be16(ip + 6, static_cast<std::uint16_t>((s.more_fragments ? 0x2000 : 0) | (s.frag_offset & 0x1FFF)));
        ip[8] = s.ttl;
        ip[9] = s.l4_proto;
        std::memcpy(ip + 12, s.src_ip.data(), 4);
        std::memcpy(ip + 16, s.dst_ip.data(), 4);
        std::memset(ip + 20, 1, s.ipv4_options_len); // NOP options
        store_be16(ip + 10, fold(sum16(ip, ihl, 0)));
        l4_off = off + ihl;
        ip_payload = l4_len + s.payload_len;
    } else {
        std::uint8_t* ip = buf + off;
        ip[0] = 0x60;
        ip[6] = s.n_ext != 0 ? s.ext[0] : s.l4_proto;
        ip[7] = s.ttl;
        std::memcpy(ip + 8, s.src_ip.data(), 16);
        std::memcpy(ip + 24, s.dst_ip.data(), 16);
        std::size_t p = off + 40;
        for (std::uint8_t i = 0; i < s.n_ext; ++i) {
            const std::uint8_t t = s.ext[i];
            const std::uint8_t next = i + 1 < s.n_ext ? s.ext[i + 1] : s.l4_proto;
            std::uint8_t* h = buf + p;
            if (t == 59) continue; // no bytes, and nothing follows in the chain
            if (t == 50) {         // ESP: SPI, sequence; next header is inside the encrypted trailer
                store_be16(h + 2, 0x0100);
                h[7] = 1;
            } else if (t == 44) {
                h[0] = next;
                store_be16(h + 2, static_cast<std::uint16_t>((s.frag_offset << 3) | (s.more_fragments ? 1 : 0)));
                store_be16(h + 6, 0x5678); // identification (low half)
            } else if (t == 51) {
                h[0] = next;
                h[1] = 4;
            } else {
                h[0] = next;
                h[1] = 0;
                if (t == 0 || t == 60) {
                    h[2] = 1;
                    h[3] = 4;
                } // PadN option filling the header
            }
            p += ext_len(t);
        }
        store_be16(ip + 4, static_cast<std::uint16_t>((p - off - 40) + l4_len + s.payload_len)); // no padding
        l4_off = p;
        ip_payload = l4_len + s.payload_len;
    }

    if (l4_len != 0) {
        std::uint8_t* h = buf + l4_off;
        store_be16(h, s.src_port);
        store_be16(h + 2, s.dst_port);
        if (s.l4_proto == kProtoTcp) {
            h[7] = 1;     // sequence 1
            h[12] = 0x50; // data offset 5
            h[13] = 0x10; // ACK
            store_be16(h + 14, 0xFFFF);
        } else if (s.l4_proto == kProtoUdp) {
            store_be16(h + 4, static_cast<std::uint16_t>(ip_payload));
        }
        const bool fragment = s.frag_offset != 0 || s.more_fragments;
        const bool v6_frag = [&] {
            for (std::uint8_t i = 0; i < s.n_ext; ++i)
                if (s.ext[i] == 44) return true;
            return false;
        }();
        const bool is_frag = s.l3 == L3::ipv4 ? fragment : (v6_frag && fragment);
        if (!is_frag && (s.l4_proto == kProtoTcp || s.l4_proto == kProtoUdp)) {
            // Pseudo-header: addresses, protocol, L4 length.
            std::uint32_t acc = 0;
            const std::size_t alen = s.l3 == L3::ipv4 ? 4 : 16;
            acc = sum16(s.src_ip.data(), alen, acc);
            acc = sum16(s.dst_ip.data(), alen, acc);
            acc += s.l4_proto;
            acc += static_cast<std::uint32_t>(ip_payload);
            acc = sum16(h, ip_payload, acc);
            std::uint16_t c = fold(acc);
            if (s.l4_proto == kProtoUdp && c == 0) c = 0xFFFF;
            store_be16(h + (s.l4_proto == kProtoTcp ? 16 : 6), c);
        }
    }
    return total_len;
}

} // namespace flowteam::packet
