// SPDX-License-Identifier: BSD-3-Clause
// flowteam — a capture file checked before it is replayed (before EAL
// starts): DPDK's net_pcap replays whatever libpcap reads and a file it
// cannot read simply sends nothing, so a run would report 0 packets and
// succeed. Pure C++ (no libpcap, no DPDK).
//
// Accepted: classic pcap (either byte order, micro- or nanosecond stamps)
// and pcapng (section header, interface descriptions, enhanced and simple
// packet blocks), link type Ethernet (1) only, at least one packet, every
// record complete, every captured length 14..65535 bytes.
#pragma once

#include <cstdint>
#include <string>

namespace flowteam::opt {

struct PcapSummary {
    bool pcapng = false;
    std::uint64_t packets = 0;
    std::uint32_t max_caplen = 0;
};

inline constexpr std::uint32_t kPcapMinCaplen = 14;      // an Ethernet header
inline constexpr std::uint32_t kPcapMaxCaplen = 65535;   // the largest frame a link carries

// Reads the whole file; throws OptionError "<option>: 'path' ...: <what>"
// (one line) when it is not a replayable Ethernet capture.
PcapSummary check_pcap_file(const std::string& option, const std::string& path);

} // namespace flowteam::opt
