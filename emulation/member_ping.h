// SPDX-License-Identifier: BSD-3-Clause
// flowteam — member ping: a sender's probe of one member's round-trip time.
//
// FLARE measures its paths with periodic probes; a sender that runs alone
// (`flowteam tx` on real or memif ports) does the same so that the dynamic
// mode's flowlet rule can use the members' delay skew: every ping period,
// on each member whose queue is empty, the sender transmits a ping carrying
// its own clock; the receiving team (`flowteam rx`) turns it into a pong in
// place and sends it back on the member it arrived on; the sender takes half
// the round trip as that member's path delay. Only the sender's clock is
// read, so two hosts need no clock synchronisation.
//
//   offset  size  field
//   0       6     destination MAC: 01:80:c2:ff:46:54 (a group address, never
//                 forwarded by a learning bridge as unicast; link-local scope)
//   6       6     source MAC: 02:66:74:ff:00:<member> (locally administered)
//   12      2     ethertype 0x88B5 (IEEE 802 local experimental 1)
//   14      4     magic "FTMP"
//   18      1     kind: 1 ping, 2 pong
//   19      1     member the ping was sent on
//   20      4     sequence (per member)
//   24      8     sender's tick when sent
//   32      28    zero (pads to the 60-byte minimum frame)
//
// All multi-byte fields big-endian. Parsing never reads beyond `len`. No
// allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/types.h"

namespace flowteam::emulation {

inline constexpr std::uint16_t kPingEtherType = 0x88B5;
inline constexpr std::uint32_t kPingMagic = 0x46544D50u;   // "FTMP"
inline constexpr std::uint32_t kPingFrameBytes = 60;
inline constexpr std::uint8_t kPingKindPing = 1;
inline constexpr std::uint8_t kPingKindPong = 2;

struct MemberPing {
    std::uint8_t kind = kPingKindPing;
    std::uint8_t member = 0;
    std::uint32_t seq = 0;
    Tick sent = 0;
};

// Write a ping into buf (kPingFrameBytes). Returns the frame length, 0 when cap is too small.
std::size_t build_member_ping(const MemberPing& p, std::uint8_t* buf, std::size_t cap);
// Read a ping or pong back; false when the frame is not one (wrong length,
// ethertype, magic or kind).
bool parse_member_ping(const std::uint8_t* data, std::size_t len, MemberPing& out);
// Cheap pre-check on the frame length alone (before touching its bytes).
inline bool maybe_member_ping(std::size_t len) { return len == kPingFrameBytes; }
// Turn a ping into a pong in place (the receiving side's echo). false when
// the frame is not a ping (nothing changed).
bool ping_to_pong(std::uint8_t* data, std::size_t len);

} // namespace flowteam::emulation
