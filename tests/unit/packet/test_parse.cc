// SPDX-License-Identifier: BSD-3-Clause
// parse_frame(): hand-checked frames, malformed frames, and a bounds proof
// (every prefix of many frames plus random garbage, meant to run under ASan).
#include <gtest/gtest.h>
#include <random>

#include "helpers.h"
#include "packet/flow_key.h"
#include "packet/frame.h"

namespace flowteam::packet {
namespace {

using test::build;
using test::Bytes;
using test::ip4;
using test::ip6;
using test::parse_exact;
using test::same_key;
using test::v4_spec;
using test::v6_spec;

inline void put16(Bytes& b, std::size_t off, std::uint16_t v) {
    b[off] = static_cast<std::uint8_t>(v >> 8);
    b[off + 1] = static_cast<std::uint8_t>(v);
}

// ---------------------------------------------------------------------------
// Hand-written bytes, independent of the frame builder.

// 00:11:22:33:44:55 <- 66:77:88:99:aa:bb, IPv4 192.168.1.2 -> 198.18.0.5,
// TCP 8080 -> 443, IHL 5, total length 40.
const Bytes kIpv4TcpFrame = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00, // Ethernet
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,             // IPv4 (DF)
    0xc0, 0xa8, 0x01, 0x02, 0xc6, 0x12, 0x00, 0x05,                                     //   addresses
    0x1f, 0x90, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,             // TCP
    0x50, 0x10, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,                                     //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                                 // padding to 60
};

TEST(Parse, HandWrittenIpv4Tcp) {
    FlowKey k;
    ASSERT_EQ(parse_exact(kIpv4TcpFrame, k), ParseStatus::ok);
    const std::uint8_t dst[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
    const std::uint8_t src[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    EXPECT_EQ(std::memcmp(k.dst_mac, dst, 6), 0);
    EXPECT_EQ(std::memcmp(k.src_mac, src, 6), 0);
    EXPECT_EQ(k.ethertype, 0x0800);
    EXPECT_EQ(k.vlan_count, 0);
    EXPECT_EQ(k.l3, L3::ipv4);
    EXPECT_EQ(k.l3_offset, 14);
    const std::uint8_t sip[16] = {192, 168, 1, 2};
    const std::uint8_t dip[16] = {198, 18, 0, 5};
    EXPECT_EQ(std::memcmp(k.src_ip, sip, 16), 0);
    EXPECT_EQ(std::memcmp(k.dst_ip, dip, 16), 0);
    EXPECT_EQ(k.l4_proto, kProtoTcp);
    EXPECT_TRUE(k.has_l4);
    EXPECT_FALSE(k.fragment); // DF alone is not a fragment
    EXPECT_EQ(k.src_port, 8080);
    EXPECT_EQ(k.dst_port, 443);
    EXPECT_EQ(k.l4_offset, 34);
}

TEST(Parse, HandWrittenQinQIpv6Udp) {
    // S-tag 0x88a8 vid 100 (PCP 5), C-tag 0x8100 vid 0xabc, IPv6 2001:db8::1 -> 2001:db8::2, UDP 5000 -> 53.
    Bytes f = {0x02, 0,    0,    0,    0,    2,    0x02, 0,    0, 0, 0, 1,    0x88, 0xa8, 0xa0,
               0x64, 0x81, 0x00, 0x0a, 0xbc, 0x86, 0xdd, 0x60, 0, 0, 0, 0x00, 0x08, 17,   64};
    const std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    f.insert(f.end(), a, a + 16);
    f.insert(f.end(), b, b + 16);
    const std::uint8_t udp[8] = {0x13, 0x88, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00};
    f.insert(f.end(), udp, udp + 8);
    FlowKey k;
    ASSERT_EQ(parse_exact(f, k), ParseStatus::ok);
    EXPECT_EQ(k.vlan_count, 2);
    EXPECT_EQ(k.outer_vlan, 100); // PCP bits masked off
    EXPECT_EQ(k.inner_vlan, 0xabc);
    EXPECT_EQ(k.ethertype, 0x86dd);
    EXPECT_EQ(k.l3, L3::ipv6);
    EXPECT_EQ(k.l3_offset, 22);
    EXPECT_EQ(std::memcmp(k.src_ip, a, 16), 0);
    EXPECT_EQ(std::memcmp(k.dst_ip, b, 16), 0);
    EXPECT_EQ(k.l4_proto, kProtoUdp);
    EXPECT_TRUE(k.has_l4);
    EXPECT_EQ(k.src_port, 5000);
    EXPECT_EQ(k.dst_port, 53);
    EXPECT_EQ(k.l4_offset, 62);
}

// ---------------------------------------------------------------------------
// L2

TEST(Parse, ShortFramesAreTruncatedL2AndZeroed) {
    FlowKey k;
    std::memset(&k, 0xAB, sizeof k); // the key must be fully overwritten
    EXPECT_EQ(parse_frame(nullptr, 0, k), ParseStatus::truncated_l2);
    EXPECT_TRUE(same_key(k, FlowKey{}));
    std::memset(&k, 0xAB, sizeof k);
    EXPECT_EQ(parse_exact(kIpv4TcpFrame.data(), 13, k), ParseStatus::truncated_l2);
    EXPECT_TRUE(same_key(k, FlowKey{}));
}

TEST(Parse, NonIpEthertypeIsL2Only) {
    FrameSpec s;
    s.l3 = L3::none;
    s.ethertype = 0x0806; // ARP
    FlowKey k;
    EXPECT_EQ(parse_exact(build(s), k), ParseStatus::ok);
    EXPECT_FALSE(k.has_l3());
    EXPECT_FALSE(k.has_l4);
    EXPECT_EQ(k.ethertype, 0x0806);
    EXPECT_EQ(std::memcmp(k.src_mac, s.src_mac.data(), 6), 0);
}

TEST(Parse, SingleVlanAndBothQinQTpids) {
    for (std::uint16_t outer : {kEtherTypeVlan, kEtherTypeQinQ, kEtherTypeQinQOld}) {
        for (std::uint8_t tags : {1, 2}) {
            FrameSpec s = v4_spec(kProtoUdp, "198.18.0.1", "198.18.0.2", 1000, 2000);
            s.n_vlans = tags;
            s.vlan_tpid = {outer, kEtherTypeVlan, kEtherTypeVlan};
            s.vlan_id = {0x123, 0xfff, 0};
            FlowKey k;
            ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok);
            EXPECT_EQ(k.vlan_count, tags);
            EXPECT_EQ(k.outer_vlan, 0x123);
            EXPECT_EQ(k.inner_vlan, tags == 2 ? 0xfff : 0);
            EXPECT_EQ(k.l3_offset, 14 + 4 * tags);
            EXPECT_TRUE(k.has_l4);
            EXPECT_EQ(k.src_port, 1000);
        }
    }
}

TEST(Parse, ThirdVlanTagStopsAtL2) {
    FrameSpec s = v4_spec(kProtoTcp, "198.18.0.1", "198.18.0.2", 1, 2);
    s.n_vlans = 3;
    s.vlan_tpid = {kEtherTypeQinQ, kEtherTypeVlan, kEtherTypeVlan};
    s.vlan_id = {10, 20, 30};
    FlowKey k;
    EXPECT_EQ(parse_exact(build(s), k), ParseStatus::ok);
    EXPECT_EQ(k.vlan_count, 2);
    EXPECT_EQ(k.outer_vlan, 10);
    EXPECT_EQ(k.inner_vlan, 20);
    EXPECT_EQ(k.ethertype, kEtherTypeVlan);
    EXPECT_FALSE(k.has_l3());
    EXPECT_FALSE(k.has_l4);
}

TEST(Parse, CutVlanTagIsTruncatedL2WithMacs) {
    FrameSpec s = v4_spec(kProtoTcp, "198.18.0.1", "198.18.0.2", 1, 2);
    s.n_vlans = 1;
    const Bytes f = build(s);
    for (std::size_t len = 14; len < 18; ++len) {
        FlowKey k;
        EXPECT_EQ(parse_exact(f.data(), len, k), ParseStatus::truncated_l2) << len;
        EXPECT_EQ(std::memcmp(k.dst_mac, s.dst_mac.data(), 6), 0);
        EXPECT_FALSE(k.has_l3());
    }
}

// ---------------------------------------------------------------------------
// IPv4

TEST(Parse, Ipv4OptionsMoveTheL4Header) {
    for (std::uint8_t opt = 0; opt <= 40; opt += 4) {
        FrameSpec s = v4_spec(kProtoUdp, "10.1.2.3", "10.4.5.6", 111, 222);
        s.ipv4_options_len = opt;
        FlowKey k;
        ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok) << int(opt);
        EXPECT_EQ(k.l4_offset, 14 + 20 + opt);
        EXPECT_EQ(k.src_port, 111);
        EXPECT_EQ(k.dst_port, 222);
    }
}

TEST(Parse, Ipv4SctpAndPortlessProtocols) {
    FlowKey k;
    ASSERT_EQ(parse_exact(build(v4_spec(kProtoSctp, "10.0.0.1", "10.0.0.2", 36412, 38412)), k),
              ParseStatus::ok);
    EXPECT_TRUE(k.has_l4);
    EXPECT_EQ(k.src_port, 36412);
    EXPECT_EQ(k.dst_port, 38412);
    for (std::uint8_t proto : {1 /*ICMP*/, 47 /*GRE*/, 50 /*ESP*/}) {
        ASSERT_EQ(parse_exact(build(v4_spec(proto, "10.0.0.1", "10.0.0.2", 5, 6)), k), ParseStatus::ok);
        EXPECT_TRUE(k.has_l3());
        EXPECT_FALSE(k.has_l4);
        EXPECT_EQ(k.l4_proto, proto);
        EXPECT_EQ(k.src_port, 0);
        EXPECT_EQ(k.l4_offset, 0);
    }
}

TEST(Parse, Ipv4Fragments) {
    FlowKey k;
    // First fragment (MF, offset 0): ports visible, flagged.
    FrameSpec s = v4_spec(kProtoUdp, "10.0.0.1", "10.0.0.2", 4000, 4001);
    s.more_fragments = true;
    s.payload_len = 64;
    ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok);
    EXPECT_TRUE(k.fragment);
    EXPECT_TRUE(k.has_l4);
    EXPECT_EQ(k.src_port, 4000);
    // Middle and last fragments (offset != 0): no ports, whatever the bytes there look like.
    for (bool mf : {true, false}) {
        s.more_fragments = mf;
        s.frag_offset = 185;
        Bytes f = build(s);
        std::memset(f.data() + 34, 0x77, f.size() - 34); // payload that would look like ports
        ASSERT_EQ(parse_exact(f, k), ParseStatus::ok);
        EXPECT_TRUE(k.fragment);
        EXPECT_FALSE(k.has_l4);
        EXPECT_EQ(k.src_port, 0);
        EXPECT_EQ(k.l4_proto, kProtoUdp);
        EXPECT_TRUE(k.has_l3());
    }
}

TEST(Parse, Ipv4Malformed) {
    const Bytes good = build(v4_spec(kProtoTcp, "10.0.0.1", "10.0.0.2", 1, 2));
    FlowKey k;
    auto expect_l2_only = [&](ParseStatus want, const Bytes& f, const char* what) {
        EXPECT_EQ(parse_exact(f, k), want) << what;
        EXPECT_FALSE(k.has_l3()) << what;
        EXPECT_FALSE(k.has_l4) << what;
        EXPECT_EQ(std::memcmp(k.src_mac, good.data() + 6, 6), 0) << what; // L2 kept for fallback
        EXPECT_EQ(k.ethertype, 0x0800) << what;
    };
    Bytes f = good;
    f[14] = 0x65; // version 6 under ethertype 0x0800
    expect_l2_only(ParseStatus::bad_l3, f, "version");
    for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
        f = good;
        f[14] = static_cast<std::uint8_t>(0x40 | ihl);
        expect_l2_only(ParseStatus::bad_l3, f, "ihl < 5");
    }
    f = good;
    put16(f, 16, 19); // total length < IHL*4
    expect_l2_only(ParseStatus::bad_l3, f, "total length");
    f = good;
    f[14] = 0x4f; // IHL 15 = 60 bytes, frame has 46 after Ethernet
    expect_l2_only(ParseStatus::truncated_l3, f, "ihl beyond frame");
    expect_l2_only(ParseStatus::truncated_l3, Bytes(good.begin(), good.begin() + 33), "20-byte header cut");
}

TEST(Parse, Ipv4TotalLengthBoundsTheL4Header) {
    // UDP frame whose IP total length covers only 4 bytes of the UDP header:
    // the rest of the bytes in the frame are padding, not UDP.
    FrameSpec s = v4_spec(kProtoUdp, "10.0.0.1", "10.0.0.2", 7, 9);
    s.payload_len = 32;
    Bytes f = build(s);
    put16(f, 16, 24);
    FlowKey k;
    EXPECT_EQ(parse_exact(f, k), ParseStatus::truncated_l4);
    EXPECT_TRUE(k.has_l3()); // addresses stay usable for the l3 fallback
    EXPECT_FALSE(k.has_l4);
    EXPECT_EQ(k.l4_proto, kProtoUdp);
    // And a frame shorter than its total length (snap length) still yields ports.
    put16(f, 16, 1500);
    EXPECT_EQ(parse_exact(f, k), ParseStatus::ok);
    EXPECT_TRUE(k.has_l4);
}

TEST(Parse, L4HeaderMustFit) {
    struct Case {
        std::uint8_t proto;
        std::size_t hdr;
    };
    for (Case c : {Case{kProtoTcp, 20}, Case{kProtoUdp, 8}, Case{kProtoSctp, 12}}) {
        FrameSpec s = v4_spec(c.proto, "10.0.0.1", "10.0.0.2", 7, 9);
        s.pad_to_min = false;
        const Bytes f = build(s);
        ASSERT_EQ(f.size(), 34 + c.hdr);
        FlowKey k;
        EXPECT_EQ(parse_exact(f.data(), f.size() - 1, k), ParseStatus::truncated_l4) << int(c.proto);
        EXPECT_TRUE(k.has_l3());
        EXPECT_EQ(parse_exact(f, k), ParseStatus::ok);
        EXPECT_TRUE(k.has_l4);
    }
}

// ---------------------------------------------------------------------------
// IPv6

TEST(Parse, Ipv6EveryExtensionHeaderIsWalked) {
    // 0 hop-by-hop, 43 routing, 44 fragment (offset 0), 51 AH, 60 dest opts, 135 mobility, 139 HIP, 140
    // shim6.
    struct Case {
        std::uint8_t type;
        std::size_t len;
    };
    for (Case c : {Case{0, 8}, Case{43, 8}, Case{44, 8}, Case{51, 24}, Case{60, 8}, Case{135, 8},
                   Case{139, 8}, Case{140, 8}}) {
        FrameSpec s = v6_spec(kProtoTcp, "2001:db8::1", "2001:db8::2", 50000, 3260);
        s.n_ext = 1;
        s.ext[0] = c.type;
        s.more_fragments = true; // only read for the fragment header
        FlowKey k;
        ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok) << int(c.type);
        EXPECT_TRUE(k.has_l4) << int(c.type);
        EXPECT_EQ(k.l4_offset, 14 + 40 + c.len) << int(c.type);
        EXPECT_EQ(k.src_port, 50000);
        EXPECT_EQ(k.dst_port, 3260);
        EXPECT_EQ(k.l4_proto, kProtoTcp);
        EXPECT_EQ(k.fragment, c.type == 44) << int(c.type);
    }
}

TEST(Parse, Ipv6AhLengthUsesFourByteUnits) {
    // AH with payload length 7: (7 + 2) * 4 = 36 bytes (it would be 64 with the 8-byte rule).
    FrameSpec s = v6_spec(kProtoUdp, "2001:db8::1", "2001:db8::2", 1, 2);
    s.pad_to_min = false;
    Bytes f = build(s); // IPv6 + UDP, no extension header yet
    Bytes ah(36, 0);
    ah[0] = kProtoUdp;
    ah[1] = 7;
    f.insert(f.begin() + 54, ah.begin(), ah.end());
    f[14 + 6] = 51;
    put16(f, 14 + 4, static_cast<std::uint16_t>(36 + 8));
    FlowKey k;
    ASSERT_EQ(parse_exact(f, k), ParseStatus::ok);
    EXPECT_EQ(k.l4_offset, 54 + 36);
    EXPECT_EQ(k.src_port, 1);
}

TEST(Parse, Ipv6EspAndNoNextHeaderHaveNoPorts) {
    for (std::uint8_t t : {50, 59}) {
        FrameSpec s = v6_spec(kProtoTcp, "2001:db8::1", "2001:db8::2", 1, 2);
        s.n_ext = 2;
        s.ext = {0, t};
        FlowKey k;
        ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok) << int(t);
        EXPECT_TRUE(k.has_l3());
        EXPECT_FALSE(k.has_l4);
        EXPECT_EQ(k.l4_proto, t);
    }
}

TEST(Parse, Ipv6NonFirstFragmentHasNoPorts) {
    FrameSpec s = v6_spec(kProtoUdp, "2001:db8::1", "2001:db8::2", 1, 2);
    s.n_ext = 1;
    s.ext[0] = 44;
    s.frag_offset = 100;
    s.payload_len = 40;
    FlowKey k;
    ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok);
    EXPECT_TRUE(k.fragment);
    EXPECT_FALSE(k.has_l4);
    EXPECT_EQ(k.l4_proto, kProtoUdp); // the fragment header's next header
}

TEST(Parse, Ipv6ChainLimit) {
    FrameSpec s = v6_spec(kProtoUdp, "2001:db8::1", "2001:db8::2", 1, 2);
    s.n_ext = kMaxIpv6ExtHeaders;
    for (std::size_t i = 0; i < s.n_ext; ++i)
        s.ext[i] = 60;
    FlowKey k;
    ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok);
    EXPECT_TRUE(k.has_l4);
    s.n_ext = kMaxIpv6ExtHeaders + 1;
    s.ext[kMaxIpv6ExtHeaders] = 60;
    EXPECT_EQ(parse_exact(build(s), k), ParseStatus::bad_ext_header);
    EXPECT_TRUE(k.has_l3()); // addresses kept: l34 falls back to l3
    EXPECT_FALSE(k.has_l4);
}

TEST(Parse, Ipv6ExtensionHeaderBeyondFrameOrPayload) {
    FrameSpec s = v6_spec(kProtoUdp, "2001:db8::1", "2001:db8::2", 1, 2);
    s.n_ext = 1;
    s.ext[0] = 0;
    Bytes f = build(s);
    f[54 + 1] = 255; // hop-by-hop claims 2048 bytes
    FlowKey k;
    EXPECT_EQ(parse_exact(f, k), ParseStatus::bad_ext_header);
    EXPECT_TRUE(k.has_l3());
    // Within the frame but beyond the IPv6 payload length.
    f = build(s);
    put16(f, 18, 4);
    EXPECT_EQ(parse_exact(f, k), ParseStatus::bad_ext_header);
    // The fragment header needs all 8 bytes.
    s.ext[0] = 44;
    s.pad_to_min = false;
    f = build(s);
    EXPECT_EQ(parse_exact(f.data(), 54 + 7, k), ParseStatus::bad_ext_header);
}

TEST(Parse, Ipv6Malformed) {
    Bytes f = build(v6_spec(kProtoTcp, "2001:db8::1", "2001:db8::2", 1, 2));
    FlowKey k;
    EXPECT_EQ(parse_exact(f.data(), 14 + 39, k), ParseStatus::truncated_l3);
    EXPECT_FALSE(k.has_l3());
    f[14] = 0x45;
    EXPECT_EQ(parse_exact(f, k), ParseStatus::bad_l3);
    EXPECT_FALSE(k.has_l3());
    EXPECT_EQ(k.ethertype, 0x86dd);
}

TEST(Parse, Ipv6ZeroPayloadLengthIsBoundedByTheFrame) {
    Bytes f = build(v6_spec(kProtoUdp, "2001:db8::1", "2001:db8::2", 1, 2));
    put16(f, 18, 0); // jumbogram-style
    FlowKey k;
    EXPECT_EQ(parse_exact(f, k), ParseStatus::ok);
    EXPECT_TRUE(k.has_l4);
}

TEST(Parse, StatusNames) {
    EXPECT_STREQ(to_string(ParseStatus::ok), "ok");
    EXPECT_STREQ(to_string(ParseStatus::truncated_l2), "truncated_l2");
    EXPECT_STREQ(to_string(ParseStatus::truncated_l3), "truncated_l3");
    EXPECT_STREQ(to_string(ParseStatus::bad_l3), "bad_l3");
    EXPECT_STREQ(to_string(ParseStatus::truncated_l4), "truncated_l4");
    EXPECT_STREQ(to_string(ParseStatus::bad_ext_header), "bad_ext_header");
    EXPECT_STREQ(to_string(ParseStatus::count_), "unknown");
}

// ---------------------------------------------------------------------------
// Bounds: every prefix of many valid frames, random garbage, mutated frames.

void check_invariants(const FlowKey& k, ParseStatus st, std::size_t len) {
    ASSERT_LT(static_cast<unsigned>(st), static_cast<unsigned>(ParseStatus::count_));
    ASSERT_LE(k.vlan_count, kMaxVlanTags);
    if (len < kEthHeaderLen) {
        ASSERT_TRUE(same_key(k, FlowKey{}));
    }
    if (k.has_l3()) {
        ASSERT_GE(k.l3_offset, kEthHeaderLen);
        ASSERT_LE(k.l3_offset + std::size_t{20}, len);
        ASSERT_NE(st, ParseStatus::truncated_l2);
        ASSERT_NE(st, ParseStatus::truncated_l3);
        ASSERT_NE(st, ParseStatus::bad_l3);
    } else {
        ASSERT_EQ(k.l3_offset, 0);
        ASSERT_TRUE(st != ParseStatus::truncated_l4 && st != ParseStatus::bad_ext_header);
    }
    if (k.has_l4) {
        ASSERT_TRUE(k.has_l3());
        ASSERT_EQ(st, ParseStatus::ok);
        ASSERT_GE(k.l4_offset, k.l3_offset + 20);
        ASSERT_LE(k.l4_offset + std::size_t{8}, len);
    } else {
        ASSERT_EQ(k.src_port | k.dst_port | k.l4_offset, 0);
    }
}

TEST(ParseBounds, EveryPrefixOfValidFrames) {
    std::mt19937_64 rng(0x5eed'0001);
    std::size_t frames = 0, prefixes = 0, with_ports = 0;
    for (int i = 0; i < 600; ++i) {
        const FrameSpec s = test::random_spec(rng);
        const Bytes f = build(s);
        FlowKey full;
        ASSERT_EQ(parse_exact(f, full), ParseStatus::ok) << "frame " << i;
        // What the builder put in must come back out.
        ASSERT_EQ(full.l3, s.l3);
        ASSERT_EQ(full.vlan_count, std::min<std::uint8_t>(s.n_vlans, 2));
        if (full.has_l4) {
            ++with_ports;
            ASSERT_EQ(full.src_port, s.src_port);
            ASSERT_EQ(full.dst_port, s.dst_port);
        }
        ++frames;
        for (std::size_t len = 0; len <= f.size(); ++len) {
            FlowKey k;
            const ParseStatus st = parse_exact(f.data(), len, k);
            ++prefixes;
            check_invariants(k, st, len);
            if (len >= kEthHeaderLen) {
                ASSERT_EQ(std::memcmp(k.dst_mac, full.dst_mac, 12), 0);
            }
            if (k.has_l3()) { // whatever was read agrees with the full parse
                ASSERT_EQ(k.l3, full.l3);
                ASSERT_EQ(k.l3_offset, full.l3_offset);
                ASSERT_EQ(std::memcmp(k.src_ip, full.src_ip, 32), 0);
            }
            if (k.has_l4) {
                ASSERT_TRUE(same_key(k, full)) << "frame " << i << " len " << len;
            }
            // Once the frame holds the L4 header, the prefix parse is the full parse.
            if ((full.has_l4 && len >= full.l4_offset + std::size_t{20}) || len == f.size()) {
                ASSERT_TRUE(same_key(k, full)) << "frame " << i << " len " << len;
            }
            if (full.has_l3() && !k.has_l3()) {
                ASSERT_TRUE(st == ParseStatus::truncated_l2 || st == ParseStatus::truncated_l3);
            }
        }
    }
    EXPECT_EQ(frames, 600u);
    EXPECT_GT(with_ports, 200u); // the generator really exercises the L4 path
    EXPECT_GT(prefixes, 600u * 60);
}

// parse_frame() takes a fast path for untagged IPv4 (IHL 5) TCP/UDP frames
// that are not fragments. It must give the same status and byte-identical
// keys as the general parser, on valid frames steered into the fast path,
// on every prefix of them, and on random frames (near misses included). The
// destination keys are pre-filled with garbage so an unwritten byte shows.
TEST(ParseFastPath, SameKeyBytesAsTheGeneralPath) {
    std::mt19937_64 rng(0x5eed'0004);
    std::size_t fast_shaped = 0, compared = 0;
    auto compare = [&](const std::uint8_t* data, std::size_t len, const char* what, int i) {
        std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[len]); // ASan-exact block
        if (len != 0) std::memcpy(copy.get(), data, len);
        FlowKey fast, general;
        std::memset(&fast, 0xA5, sizeof fast);
        std::memset(&general, 0x5A, sizeof general);
        const ParseStatus a = parse_frame(copy.get(), len, fast);
        const ParseStatus b = detail::parse_frame_general(copy.get(), len, general);
        ++compared;
        ASSERT_EQ(a, b) << what << " " << i << " len " << len;
        ASSERT_TRUE(same_key(fast, general)) << what << " " << i << " len " << len;
    };
    for (int i = 0; i < 3000; ++i) {
        FrameSpec s = test::random_spec(rng);
        if (i % 4 != 3) { // mostly the fast-path shape, with random addresses, ports, payload
            test::steer_common_shape(s, rng);
            ++fast_shaped;
        }
        const Bytes f = build(s);
        compare(f.data(), f.size(), "frame", i);
        if (i % 10 == 0)
            for (std::size_t len = 0; len < f.size(); ++len)
                compare(f.data(), len, "prefix", i);
        // Near misses: one byte of the headers changed (ethertype, version/IHL,
        // total length, flags/fragment offset, protocol) or anything at all.
        static constexpr std::size_t kSpots[] = {12, 13, 14, 16, 17, 20, 21, 23};
        Bytes g = f;
        std::size_t at = rng() % 2 == 0 ? kSpots[rng() % 8] : rng() % g.size();
        if (at >= g.size()) at = g.size() - 1; // frames are >= 14 bytes
        g[at] = static_cast<std::uint8_t>(rng());
        compare(g.data(), g.size(), "mutated", i);
    }
    // Hand-checked: the fast path fills exactly what the general path does.
    FlowKey k;
    std::memset(&k, 0xFF, sizeof k);
    ASSERT_EQ(parse_frame(kIpv4TcpFrame.data(), kIpv4TcpFrame.size(), k), ParseStatus::ok);
    EXPECT_EQ(k.outer_vlan | k.inner_vlan | k.vlan_count | k.pad_, 0);
    EXPECT_FALSE(k.fragment);
    EXPECT_TRUE(k.has_l4);
    EXPECT_EQ(k.l4_offset, 34);
    EXPECT_EQ(k.l3_offset, 14);
    EXPECT_EQ(k.src_port, 8080);
    EXPECT_EQ(k.dst_port, 443);
    for (std::size_t b = 4; b < 16; ++b) EXPECT_EQ(k.src_ip[b] | k.dst_ip[b], 0) << b;
    EXPECT_EQ(fast_shaped, 2250u);
    EXPECT_GT(compared, 3000u * 3);
}

TEST(ParseBounds, RandomGarbage) {
    std::mt19937_64 rng(0x5eed'0002);
    static constexpr std::uint16_t kTypes[] = {kEtherTypeIpv4, kEtherTypeIpv6, kEtherTypeVlan, kEtherTypeQinQ,
                                               kEtherTypeQinQOld};
    static constexpr std::uint8_t kNh[] = {0, 43, 44, 50, 51, 59, 60, 135, 139, 140, 6, 17, 132};
    std::size_t counts[static_cast<std::size_t>(ParseStatus::count_)] = {};
    for (int i = 0; i < 40000; ++i) {
        Bytes f(rng() % 200);
        for (auto& b : f)
            b = static_cast<std::uint8_t>(rng());
        const int mode = static_cast<int>(rng() % 4);
        if (mode > 0 && f.size() >= 14) put16(f, 12, kTypes[rng() % 5]);
        // Steer deeper: plausible VLAN-inner / IP version / next-header bytes.
        if (mode > 1) {
            std::size_t off = 14;
            while (off + 4 <= f.size() && rng() % 2 == 0 && off < 30) {
                put16(f, off + 2, kTypes[rng() % 5]);
                off += 4;
            }
            const bool v4 = rng() % 2 == 0;
            if (off < f.size())
                f[off] = static_cast<std::uint8_t>((v4 ? 0x40 : 0x60) | (v4 ? 5 + rng() % 3 : 0));
            if (v4) {
                if (off + 8 < f.size() && rng() % 2 == 0) f[off + 6] = f[off + 7] = 0; // not a fragment
                if (off + 9 < f.size()) f[off + 9] = kNh[rng() % 13];
            } else if (off + 6 < f.size()) {
                f[off + 6] = kNh[rng() % 13];
                if (off + 41 < f.size() && rng() % 2 == 0) f[off + 41] = 0; // short first ext header
            }
        }
        FlowKey k;
        const ParseStatus st = parse_exact(f, k);
        check_invariants(k, st, f.size());
        ++counts[static_cast<std::size_t>(st)];
    }
    // The garbage reached every classification.
    for (std::size_t s = 0; s < static_cast<std::size_t>(ParseStatus::count_); ++s)
        EXPECT_GT(counts[s], 0u) << to_string(static_cast<ParseStatus>(s));
}

TEST(ParseBounds, MutatedFramesEveryPrefix) {
    std::mt19937_64 rng(0x5eed'0003);
    for (int i = 0; i < 300; ++i) {
        Bytes f = build(test::random_spec(rng));
        for (int m = 0; m < 8; ++m) {
            Bytes g = f;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int j = 0; j < flips; ++j)
                g[12 + rng() % std::min<std::size_t>(g.size() - 12, 90)] = static_cast<std::uint8_t>(rng());
            for (std::size_t len = 0; len <= g.size(); ++len) {
                FlowKey k;
                const ParseStatus st = parse_exact(g.data(), len, k);
                check_invariants(k, st, len);
            }
        }
    }
}

} // namespace
} // namespace flowteam::packet
