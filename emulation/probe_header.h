// SPDX-License-Identifier: BSD-3-Clause
// flowteam — wire layout of the synthetic test frames (probe frames).
//
// Every frame the traffic generator asks for is Ethernet / IPv4 / UDP with a
// small probe header at the start of the UDP payload; the rest of the payload
// is filler. The receiver recovers flow id, per-flow sequence and transmit
// timestamp from it to measure reordering, loss and latency. All multi-byte
// fields are big-endian (network order).
//
//   offset  size  field
//   0       14    Ethernet: dst MAC, src MAC (= vport_mac(vport)), type 0x0800
//   14      20    IPv4: 0x45, tos 0, total length, id = seq & 0xffff, DF,
//                 ttl 64, proto 17 (UDP), header checksum, src, dst
//   34      8     UDP: src port, dst port, length, checksum 0 (none; allowed in IPv4)
//   42      32    probe header:
//                   +0  u32 magic       0x46545052 ("FTPR")
//                   +4  u8  version     1
//                   +5  u8  flags       bit0 first packet of the flow, bit1 last
//                   +6  u16 header_len  32 (a reader skips unknown trailing fields)
//                   +8  u32 flow_id
//                   +12 u32 seq         per-flow, from 0, consecutive
//                   +16 u64 tx_tick     sender's tick when the packet was generated
//                   +24 u64 flow_bytes  total payload bytes of the flow, 0 = unbounded
//   74      ...   filler (zeros) up to the frame length
//
// The smallest probe frame is therefore 74 bytes (no Ethernet padding ever
// needed), the largest 14 + MTU. The parser accepts up to two VLAN tags
// (0x8100 / 0x88a8) in front of IPv4, never reads outside [data, data+len),
// and rejects every truncation of a valid frame (the IPv4 total length covers
// the whole frame).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "common/types.h"

namespace flowteam::emulation {

inline constexpr std::uint32_t kProbeMagic = 0x46545052u; // "FTPR"
inline constexpr std::uint8_t kProbeVersion = 1;
inline constexpr std::uint16_t kProbeHeaderBytes = 32;
inline constexpr std::uint8_t kProbeFirst = 0x01;
inline constexpr std::uint8_t kProbeLast = 0x02;

inline constexpr std::uint32_t kEthHeaderBytes = 14;
inline constexpr std::uint32_t kIpv4HeaderBytes = 20;
inline constexpr std::uint32_t kUdpHeaderBytes = 8;
inline constexpr std::uint32_t kProbeOffset = kEthHeaderBytes + kIpv4HeaderBytes + kUdpHeaderBytes; // 42
inline constexpr std::uint32_t kMinProbeFrameBytes = kProbeOffset + kProbeHeaderBytes;          // 74
inline constexpr std::uint32_t kMaxProbeFrameBytes = kEthHeaderBytes + 9202;  // MTU up to 9202 (frame <= 9216)
static_assert(kMinProbeFrameBytes >= 60, "probe frames never need Ethernet padding");

// IPv4 benchmarking range (RFC 2544 / RFC 5735): 198.18.0.0/15, host order.
inline constexpr std::uint32_t kBenchNet = 0xC6120000u; // 198.18.0.0
inline constexpr std::uint32_t kBenchMask = 0xFFFE0000u; // /15
constexpr bool in_bench_range(std::uint32_t ip) { return (ip & kBenchMask) == kBenchNet; }

using MacAddr = std::array<std::uint8_t, 6>;

// Locally administered unicast MAC of a vport (VM): 02:66:74:00:hi:lo.
constexpr MacAddr vport_mac(std::uint16_t vport) {
    return MacAddr{0x02, 0x66, 0x74, 0x00, static_cast<std::uint8_t>(vport >> 8), static_cast<std::uint8_t>(vport)};
}

// One probe packet: what the generator produces and what the parser recovers.
struct PacketDesc {
    std::uint32_t flow_id = 0;
    std::uint32_t seq = 0;        // per flow, from 0
    std::uint32_t bytes = 0;      // frame length, Ethernet header to end of payload (no FCS)
    std::uint32_t src_ip = 0;     // host order
    std::uint32_t dst_ip = 0;     // host order
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint16_t vport = 0;      // VM / virtual port (source MAC = vport_mac(vport))
    std::uint8_t proto = 17;      // always UDP
    std::uint8_t flags = 0;       // kProbeFirst | kProbeLast
    Tick tx_time = 0;
    std::uint64_t flow_bytes = 0; // payload bytes of the whole flow, 0 = unbounded

    std::uint32_t payload_bytes() const { return bytes - kProbeOffset; } // UDP payload, probe header included
};

// Write the frame for `d` (d.bytes long) into buf. Returns d.bytes, or 0 when
// cap < d.bytes or d.bytes is outside [kMinProbeFrameBytes, kMaxProbeFrameBytes]
// (nothing written then). With zero_fill the filler is zeroed, otherwise the
// bytes after the probe header are left as they were. Source MAC =
// vport_mac(d.vport). No allocation.
std::size_t build_probe_frame(const PacketDesc& d, const MacAddr& dst_mac, std::uint8_t* buf, std::size_t cap,
                              bool zero_fill = true);

enum class ProbeStatus : std::uint8_t {
    ok = 0,
    truncated_l2,   // shorter than Ethernet (+ VLAN tags)
    not_ipv4,       // ethertype is not IPv4 (after at most two VLAN tags)
    truncated_l3,   // IPv4 header or IPv4 total length beyond the frame
    bad_l3,         // version/IHL/total length inconsistent
    bad_checksum,   // IPv4 header checksum wrong
    fragment,       // IPv4 fragment
    not_udp,
    bad_l4,         // UDP length inconsistent with IPv4
    not_probe,      // UDP payload shorter than a probe header
    bad_magic,
    bad_version,
    bad_probe,      // header_len < 32 or beyond the payload
    count_
};
const char* to_string(ProbeStatus s);

// Read a probe frame back (bounds-checked; d is filled only on ok, with
// d.bytes = L2 header + IPv4 total length, i.e. Ethernet padding excluded).
ProbeStatus parse_probe_frame(const std::uint8_t* data, std::size_t len, PacketDesc& d);


// Flow id and sequence where an untagged probe frame carries them, read
// without any check beyond the length: a hint for prefetching a flow's state
// ahead of parse_probe_frame (a frame that is no probe gives some value).
// false when the frame is too short to hold a probe header.
inline bool peek_probe_flow(const std::uint8_t* data, std::size_t len, std::uint32_t& flow_id, std::uint32_t& seq) {
    if (len < kMinProbeFrameBytes) return false;
    flow_id = load_be32(data + kProbeOffset + 8);
    seq = load_be32(data + kProbeOffset + 12);
    return true;
}

} // namespace flowteam::emulation
