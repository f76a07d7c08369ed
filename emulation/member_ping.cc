// SPDX-License-Identifier: BSD-3-Clause
// flowteam — member ping frames, see member_ping.h.
#include "emulation/member_ping.h"

#include <cstring>

#include "common/bytes.h"

namespace flowteam::emulation {

namespace {

constexpr std::uint8_t kDst[6] = {0x01, 0x80, 0xc2, 0xff, 0x46, 0x54};


} // namespace

std::size_t build_member_ping(const MemberPing& p, std::uint8_t* buf, std::size_t cap) {
    if (cap < kPingFrameBytes) return 0;
    std::memset(buf, 0, kPingFrameBytes);
    std::memcpy(buf, kDst, 6);
    const std::uint8_t src[6] = {0x02, 0x66, 0x74, 0xff, 0x00, p.member};
    std::memcpy(buf + 6, src, 6);
    buf[12] = static_cast<std::uint8_t>(kPingEtherType >> 8);
    buf[13] = static_cast<std::uint8_t>(kPingEtherType);
    store_be32(buf + 14, kPingMagic);
    buf[18] = p.kind;
    buf[19] = p.member;
    store_be32(buf + 20, p.seq);
    store_be32(buf + 24, static_cast<std::uint32_t>(p.sent >> 32));
    store_be32(buf + 28, static_cast<std::uint32_t>(p.sent));
    return kPingFrameBytes;
}

bool parse_member_ping(const std::uint8_t* data, std::size_t len, MemberPing& out) {
    if (len != kPingFrameBytes) return false;
    if (((std::uint16_t{data[12]} << 8) | data[13]) != kPingEtherType) return false;
    if (load_be32(data + 14) != kPingMagic) return false;
    if (data[18] != kPingKindPing && data[18] != kPingKindPong) return false;
    out.kind = data[18];
    out.member = data[19];
    out.seq = load_be32(data + 20);
    out.sent = (Tick{load_be32(data + 24)} << 32) | load_be32(data + 28);
    return true;
}

bool ping_to_pong(std::uint8_t* data, std::size_t len) {
    MemberPing p;
    if (!parse_member_ping(data, len, p) || p.kind != kPingKindPing) return false;
    data[18] = kPingKindPong;
    return true;
}

} // namespace flowteam::emulation
