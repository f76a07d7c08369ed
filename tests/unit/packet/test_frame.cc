// SPDX-License-Identifier: BSD-3-Clause
// The test-frame builder: lengths, checksums, invalid specs.
#include <gtest/gtest.h>

#include "helpers.h"
#include "packet/frame.h"

namespace flowteam::packet {
namespace {

using test::Bytes;

// One's-complement sum of 16-bit words; a correct checksum makes it 0xFFFF.
std::uint32_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        acc += static_cast<std::uint32_t>((p[i] << 8) | p[i + 1]);
    if (n % 2) acc += static_cast<std::uint32_t>(p[n - 1] << 8);
    while (acc >> 16)
        acc = (acc & 0xFFFF) + (acc >> 16);
    return acc;
}

TEST(FrameBuilder, Ipv4TcpChecksumsVerify) {
    FrameSpec s = test::v4_spec(kProtoTcp, "198.18.0.1", "198.18.0.2", 40000, 5201);
    s.payload_len = 101; // odd length exercises the checksum tail
    s.ipv4_options_len = 8;
    const Bytes f = test::build(s);
    ASSERT_EQ(f.size(), 14u + 28 + 20 + 101);
    EXPECT_EQ(ones_sum(f.data() + 14, 28), 0xFFFFu); // IPv4 header
    // TCP: pseudo-header (addresses, protocol, length) + segment.
    const std::size_t seg = 20 + 101;
    std::uint32_t acc = ones_sum(f.data() + 14 + 12, 8);
    acc += kProtoTcp + static_cast<std::uint32_t>(seg);
    EXPECT_EQ(ones_sum(f.data() + 14 + 28, seg, acc), 0xFFFFu);
}

TEST(FrameBuilder, Ipv6UdpChecksumAndPayloadLength) {
    FrameSpec s = test::v6_spec(kProtoUdp, "2001:db8::1", "2001:db8::2", 1234, 4321);
    s.payload_len = 10;
    const Bytes f = test::build(s);
    ASSERT_EQ(f.size(), 14u + 40 + 8 + 10);
    EXPECT_EQ((f[18] << 8) | f[19], 18); // IPv6 payload length
    std::uint32_t acc = ones_sum(f.data() + 22, 32);
    acc += kProtoUdp + 18u;
    EXPECT_EQ(ones_sum(f.data() + 54, 18, acc), 0xFFFFu);
}

TEST(FrameBuilder, PaddingAndInvalidSpecs) {
    FrameSpec s = test::v4_spec(kProtoUdp, "198.18.0.1", "198.18.0.2", 1, 2);
    EXPECT_EQ(frame_length(s), 60u); // 42 bytes padded to the Ethernet minimum
    s.pad_to_min = false;
    EXPECT_EQ(frame_length(s), 42u);
    std::uint8_t buf[64];
    EXPECT_EQ(build_frame(s, buf, 41), 0u); // too small a buffer
    EXPECT_EQ(build_frame(s, buf, sizeof buf), 42u);
    FrameSpec bad = s;
    bad.ipv4_options_len = 6;
    EXPECT_EQ(frame_length(bad), 0u);
    bad = s;
    bad.n_vlans = 4;
    EXPECT_EQ(frame_length(bad), 0u);
    bad = s;
    bad.payload_len = 65535;
    EXPECT_EQ(frame_length(bad), 0u);
}

} // namespace
} // namespace flowteam::packet
