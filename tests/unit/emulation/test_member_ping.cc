// SPDX-License-Identifier: BSD-3-Clause
// Unit tests: member ping frames (build, parse, echo).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "emulation/member_ping.h"

using namespace flowteam;
using namespace flowteam::emulation;

TEST(MemberPing, RoundTripAndEcho) {
    std::array<std::uint8_t, 128> buf{};
    MemberPing p;
    p.member = 3;
    p.seq = 0xA1B2C3D4u;
    p.sent = 0x0123456789ABCDEFull;
    ASSERT_EQ(build_member_ping(p, buf.data(), buf.size()), kPingFrameBytes);
    EXPECT_TRUE(maybe_member_ping(kPingFrameBytes));
    EXPECT_FALSE(maybe_member_ping(kPingFrameBytes + 4));
    MemberPing q;
    ASSERT_TRUE(parse_member_ping(buf.data(), kPingFrameBytes, q));
    EXPECT_EQ(q.kind, kPingKindPing);
    EXPECT_EQ(q.member, 3);
    EXPECT_EQ(q.seq, p.seq);
    EXPECT_EQ(q.sent, p.sent);
    ASSERT_TRUE(ping_to_pong(buf.data(), kPingFrameBytes));
    ASSERT_TRUE(parse_member_ping(buf.data(), kPingFrameBytes, q));
    EXPECT_EQ(q.kind, kPingKindPong);
    EXPECT_EQ(q.sent, p.sent);
    EXPECT_FALSE(ping_to_pong(buf.data(), kPingFrameBytes)) << "a pong is not echoed again";
}

TEST(MemberPing, RejectsOtherFrames) {
    std::array<std::uint8_t, 128> buf{};
    MemberPing p;
    ASSERT_EQ(build_member_ping(p, buf.data(), buf.size()), kPingFrameBytes);
    MemberPing q;
    EXPECT_FALSE(parse_member_ping(buf.data(), kPingFrameBytes - 1, q)) << "truncated";
    EXPECT_FALSE(parse_member_ping(buf.data(), kPingFrameBytes + 1, q)) << "padded";
    auto bad = buf;
    bad[12] = 0x08;
    bad[13] = 0x00;
    EXPECT_FALSE(parse_member_ping(bad.data(), kPingFrameBytes, q)) << "IPv4 ethertype";
    bad = buf;
    bad[15] ^= 1;
    EXPECT_FALSE(parse_member_ping(bad.data(), kPingFrameBytes, q)) << "magic";
    bad = buf;
    bad[18] = 7;
    EXPECT_FALSE(parse_member_ping(bad.data(), kPingFrameBytes, q)) << "kind";
    EXPECT_FALSE(ping_to_pong(bad.data(), kPingFrameBytes));
    EXPECT_EQ(build_member_ping(p, buf.data(), kPingFrameBytes - 1), 0u) << "no room";
}
