// SPDX-License-Identifier: BSD-3-Clause
// flowteam — probe frame writer and bounds-checked reader.
#include "emulation/probe_header.h"

#include <cstring>

#include "common/bytes.h"

namespace flowteam::emulation {

namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88A8;
constexpr std::uint8_t kProtoUdp = 17;


// RFC 1071 one's-complement sum over `n` bytes (n even).
std::uint32_t csum_add(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
    for (std::size_t i = 0; i + 1 < n; i += 2) {
        sum += load_be16(p + i);
    }
    return sum;
}
std::uint16_t csum_fold(std::uint32_t sum) {
    while ((sum >> 16) != 0) {
        sum = (sum & 0xFFFFu) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum);
}

} // namespace

std::size_t build_probe_frame(const PacketDesc& d, const MacAddr& dst_mac, std::uint8_t* buf, std::size_t cap,
                              bool zero_fill) {
    if (d.bytes < kMinProbeFrameBytes || d.bytes > kMaxProbeFrameBytes || cap < d.bytes || buf == nullptr) {
        return 0;
    }
    std::uint8_t* eth = buf;
    std::memcpy(eth, dst_mac.data(), 6);
    const MacAddr src = vport_mac(d.vport);
    std::memcpy(eth + 6, src.data(), 6);
    store_be16(eth + 12, kEtherIpv4);

    std::uint8_t* ip = buf + kEthHeaderBytes;
    const std::uint16_t ip_len = static_cast<std::uint16_t>(d.bytes - kEthHeaderBytes);
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, ip_len);
    store_be16(ip + 4, static_cast<std::uint16_t>(d.seq));
    store_be16(ip + 6, 0x4000); // DF, offset 0
    ip[8] = 64;
    ip[9] = kProtoUdp;
    store_be16(ip + 10, 0);
    store_be32(ip + 12, d.src_ip);
    store_be32(ip + 16, d.dst_ip);
    store_be16(ip + 10, csum_fold(csum_add(ip, kIpv4HeaderBytes, 0)));

    std::uint8_t* udp = ip + kIpv4HeaderBytes;
    store_be16(udp, d.src_port);
    store_be16(udp + 2, d.dst_port);
    store_be16(udp + 4, static_cast<std::uint16_t>(ip_len - kIpv4HeaderBytes));
    store_be16(udp + 6, 0);

    std::uint8_t* ph = udp + kUdpHeaderBytes;
    store_be32(ph, kProbeMagic);
    ph[4] = kProbeVersion;
    ph[5] = d.flags;
    store_be16(ph + 6, kProbeHeaderBytes);
    store_be32(ph + 8, d.flow_id);
    store_be32(ph + 12, d.seq);
    store_be64(ph + 16, d.tx_time);
    store_be64(ph + 24, d.flow_bytes);
    if (zero_fill) {
        std::memset(buf + kMinProbeFrameBytes, 0, d.bytes - kMinProbeFrameBytes);
    }
    return d.bytes;
}

const char* to_string(ProbeStatus s) {
    switch (s) {
    case ProbeStatus::ok: return "ok";
    case ProbeStatus::truncated_l2: return "truncated_l2";
    case ProbeStatus::not_ipv4: return "not_ipv4";
    case ProbeStatus::truncated_l3: return "truncated_l3";
    case ProbeStatus::bad_l3: return "bad_l3";
    case ProbeStatus::bad_checksum: return "bad_checksum";
    case ProbeStatus::fragment: return "fragment";
    case ProbeStatus::not_udp: return "not_udp";
    case ProbeStatus::bad_l4: return "bad_l4";
    case ProbeStatus::not_probe: return "not_probe";
    case ProbeStatus::bad_magic: return "bad_magic";
    case ProbeStatus::bad_version: return "bad_version";
    case ProbeStatus::bad_probe: return "bad_probe";
    case ProbeStatus::count_: break;
    }
    return "?";
}

ProbeStatus parse_probe_frame(const std::uint8_t* data, std::size_t len, PacketDesc& d) {
    if (data == nullptr || len < kEthHeaderBytes) {
        return ProbeStatus::truncated_l2;
    }
    std::size_t off = 12;
    std::uint16_t type = load_be16(data + off);
    for (int tags = 0; (type == kEtherVlan || type == kEtherQinQ) && tags < 2; ++tags) {
        if (len < off + 6) { // TCI + inner type
            return ProbeStatus::truncated_l2;
        }
        off += 4;
        type = load_be16(data + off);
    }
    if (type != kEtherIpv4) {
        return ProbeStatus::not_ipv4;
    }
    const std::size_t l3 = off + 2;
    if (len < l3 + kIpv4HeaderBytes) {
        return ProbeStatus::truncated_l3;
    }
    const std::uint8_t* ip = data + l3;
    const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0F) * 4u;
    if ((ip[0] >> 4) != 4 || ihl < kIpv4HeaderBytes) {
        return ProbeStatus::bad_l3;
    }
    if (len < l3 + ihl) {
        return ProbeStatus::truncated_l3;
    }
    if (csum_fold(csum_add(ip, ihl, 0)) != 0) {
        return ProbeStatus::bad_checksum;
    }
    const std::size_t total = load_be16(ip + 2);
    if (total < ihl) {
        return ProbeStatus::bad_l3;
    }
    if (total > len - l3) {
        return ProbeStatus::truncated_l3;
    }
    if ((load_be16(ip + 6) & 0x3FFFu) != 0) { // MF or a fragment offset
        return ProbeStatus::fragment;
    }
    if (ip[9] != kProtoUdp) {
        return ProbeStatus::not_udp;
    }
    if (total < ihl + kUdpHeaderBytes) {
        return ProbeStatus::bad_l4;
    }
    const std::uint8_t* udp = ip + ihl;
    const std::size_t udp_len = load_be16(udp + 4);
    if (udp_len < kUdpHeaderBytes || udp_len > total - ihl) {
        return ProbeStatus::bad_l4;
    }
    const std::size_t payload = udp_len - kUdpHeaderBytes;
    if (payload < kProbeHeaderBytes) {
        return ProbeStatus::not_probe;
    }
    const std::uint8_t* ph = udp + kUdpHeaderBytes;
    if (load_be32(ph) != kProbeMagic) {
        return ProbeStatus::bad_magic;
    }
    if (ph[4] != kProbeVersion) {
        return ProbeStatus::bad_version;
    }
    const std::size_t hlen = load_be16(ph + 6);
    if (hlen < kProbeHeaderBytes || hlen > payload) {
        return ProbeStatus::bad_probe;
    }
    d.flags = ph[5];
    d.flow_id = load_be32(ph + 8);
    d.seq = load_be32(ph + 12);
    d.tx_time = load_be64(ph + 16);
    d.flow_bytes = load_be64(ph + 24);
    d.src_ip = load_be32(ip + 12);
    d.dst_ip = load_be32(ip + 16);
    d.src_port = load_be16(udp);
    d.dst_port = load_be16(udp + 2);
    d.proto = ip[9];
    d.vport = load_be16(data + 10); // low 16 bits of the source MAC (vport_mac layout)
    d.bytes = static_cast<std::uint32_t>(l3 + total);
    return ProbeStatus::ok;
}

} // namespace flowteam::emulation

