// SPDX-License-Identifier: BSD-3-Clause
// Unit tests: probe frame build / parse.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "emulation/probe_header.h"
#include "emulation/traffic.h"

using namespace flowteam;
using namespace flowteam::emulation;

namespace {

const MacAddr kDst = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

PacketDesc sample_desc(std::uint32_t bytes) {
    PacketDesc d;
    TrafficGenerator::flow_tuple(70'000, 5, 4000, d);
    d.flow_id = 70'000;
    d.seq = 0x01020304;
    d.bytes = bytes;
    d.flags = kProbeLast;
    d.tx_time = 0x1122334455667788ull;
    d.flow_bytes = 123'456'789;
    return d;
}

} // namespace

TEST(Probe, RoundTrip) {
    for (std::uint32_t bytes : {kMinProbeFrameBytes, 75u, 1514u, 9014u, kMaxProbeFrameBytes}) {
        const PacketDesc d = sample_desc(bytes);
        std::vector<std::uint8_t> buf(bytes, 0xAB);
        ASSERT_EQ(build_probe_frame(d, kDst, buf.data(), buf.size()), bytes);
        PacketDesc r;
        ASSERT_EQ(parse_probe_frame(buf.data(), buf.size(), r), ProbeStatus::ok) << bytes;
        EXPECT_EQ(r.flow_id, d.flow_id);
        EXPECT_EQ(r.seq, d.seq);
        EXPECT_EQ(r.bytes, d.bytes);
        EXPECT_EQ(r.src_ip, d.src_ip);
        EXPECT_EQ(r.dst_ip, d.dst_ip);
        EXPECT_EQ(r.src_port, d.src_port);
        EXPECT_EQ(r.dst_port, d.dst_port);
        EXPECT_EQ(r.proto, 17);
        EXPECT_EQ(r.vport, d.vport);
        EXPECT_EQ(r.flags, d.flags);
        EXPECT_EQ(r.tx_time, d.tx_time);
        EXPECT_EQ(r.flow_bytes, d.flow_bytes);
        for (std::size_t i = kMinProbeFrameBytes; i < bytes; ++i) {
            ASSERT_EQ(buf[i], 0); // zero filler
        }
    }
}

// The prefetch hint reads the same flow id and sequence the parser does,
// and nothing from a frame too short to be a probe.
TEST(Probe, PeekGivesTheParsersFlowAndSequence) {
    PacketDesc d;
    d.src_ip = 0xC6120001;
    d.dst_ip = 0xC6130001;
    d.flow_id = 0x01020304;
    d.seq = 0xA0B0C0D0;
    d.bytes = 128;
    std::uint8_t b[128];
    ASSERT_EQ(build_probe_frame(d, kDst, b, sizeof b, false), 128u);
    PacketDesc back;
    ASSERT_EQ(parse_probe_frame(b, sizeof b, back), ProbeStatus::ok);
    std::uint32_t flow = 0, seq = 0;
    ASSERT_TRUE(peek_probe_flow(b, sizeof b, flow, seq));
    EXPECT_EQ(flow, back.flow_id);
    EXPECT_EQ(seq, back.seq);
    EXPECT_EQ(flow, 0x01020304u);
    EXPECT_EQ(seq, 0xA0B0C0D0u);
    flow = seq = 7;
    EXPECT_FALSE(peek_probe_flow(b, kMinProbeFrameBytes - 1, flow, seq));
    EXPECT_EQ(flow, 7u);
    EXPECT_EQ(seq, 7u);
}

TEST(Probe, WireBytesByHand) {
    PacketDesc d;
    d.src_ip = 0xC6120001; // 198.18.0.1
    d.dst_ip = 0xC6130001; // 198.19.0.1
    d.src_port = 1024;
    d.dst_port = 4000;
    d.vport = 0x0102;
    d.flow_id = 5;
    d.seq = 9;
    d.bytes = 100;
    d.flags = kProbeFirst;
    d.tx_time = 42;
    std::uint8_t b[100];
    std::memset(b, 0xEE, sizeof b);
    ASSERT_EQ(build_probe_frame(d, kDst, b, sizeof b, false), 100u);
    const std::uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0x66, 0x74, 0x00, 0x01, 0x02, 0x08, 0x00};
    EXPECT_EQ(std::memcmp(b, eth, 14), 0);
    // IPv4: 45 00 0056 0009 4000 40 11 csum c6120001 c6130001
    const std::uint8_t ip[20] = {0x45, 0, 0x00, 0x56, 0x00, 0x09, 0x40, 0x00, 64, 17, 0, 0,
                                 0xC6, 0x12, 0, 1, 0xC6, 0x13, 0, 1};
    std::uint8_t ip_got[20];
    std::memcpy(ip_got, b + 14, 20);
    const std::uint16_t csum = static_cast<std::uint16_t>((ip_got[10] << 8) | ip_got[11]);
    ip_got[10] = ip_got[11] = 0;
    EXPECT_EQ(std::memcmp(ip_got, ip, 20), 0);
    // Checksum by hand: 4500+0056+0009+4000+4011+c612+0001+c613+0001 = 0x2_5197 -> 0x5199 -> ~ = 0xae66.
    EXPECT_EQ(csum, 0xAE66);
    const std::uint8_t udp[8] = {0x04, 0x00, 0x0F, 0xA0, 0x00, 0x42, 0, 0};
    EXPECT_EQ(std::memcmp(b + 34, udp, 8), 0);
    const std::uint8_t probe[16] = {0x46, 0x54, 0x50, 0x52, 1, kProbeFirst, 0, 32, 0, 0, 0, 5, 0, 0, 0, 9};
    EXPECT_EQ(std::memcmp(b + 42, probe, 16), 0);
    EXPECT_EQ(b[74], 0xEE); // no zero fill asked: filler untouched
}

TEST(Probe, BuildRejectsBadSizes) {
    std::vector<std::uint8_t> buf(2000);
    PacketDesc d = sample_desc(1514);
    EXPECT_EQ(build_probe_frame(d, kDst, buf.data(), 1513), 0u);
    d.bytes = kMinProbeFrameBytes - 1;
    EXPECT_EQ(build_probe_frame(d, kDst, buf.data(), buf.size()), 0u);
    d.bytes = kMaxProbeFrameBytes + 1;
    std::vector<std::uint8_t> big(kMaxProbeFrameBytes + 10);
    EXPECT_EQ(build_probe_frame(d, kDst, big.data(), big.size()), 0u);
    EXPECT_EQ(build_probe_frame(sample_desc(100), kDst, nullptr, 100), 0u);
}

TEST(Probe, EveryTruncationIsRejectedWithoutOverread) {
    for (std::uint32_t bytes : {74u, 200u, 1514u}) {
        std::vector<std::uint8_t> full(bytes);
        ASSERT_EQ(build_probe_frame(sample_desc(bytes), kDst, full.data(), full.size()), bytes);
        for (std::size_t len = 0; len < bytes; ++len) {
            // An exact-size heap copy: AddressSanitizer flags any read past `len`.
            std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
            PacketDesc r;
            const ProbeStatus s = parse_probe_frame(cut.empty() ? nullptr : cut.data(), len, r);
            ASSERT_NE(s, ProbeStatus::ok) << "len " << len;
            ASSERT_TRUE(s == ProbeStatus::truncated_l2 || s == ProbeStatus::truncated_l3) << to_string(s);
        }
    }
}

TEST(Probe, CorruptionsAreClassified) {
    std::vector<std::uint8_t> good(200);
    ASSERT_EQ(build_probe_frame(sample_desc(200), kDst, good.data(), good.size()), 200u);
    PacketDesc r;
    auto with = [&](auto&& mutate) {
        std::vector<std::uint8_t> b = good;
        mutate(b);
        return parse_probe_frame(b.data(), b.size(), r);
    };
    // Recompute the IPv4 checksum after editing the header (so deeper checks are reached).
    auto fix_csum = [](std::vector<std::uint8_t>& b) {
        b[24] = b[25] = 0;
        std::uint32_t s = 0;
        for (int i = 14; i < 34; i += 2) {
            s += static_cast<std::uint32_t>((b[static_cast<std::size_t>(i)] << 8) | b[static_cast<std::size_t>(i) + 1]);
        }
        while (s >> 16) {
            s = (s & 0xFFFF) + (s >> 16);
        }
        b[24] = static_cast<std::uint8_t>(~s >> 8);
        b[25] = static_cast<std::uint8_t>(~s);
    };
    EXPECT_EQ(with([](auto& b) { b[12] = 0x86; b[13] = 0xDD; }), ProbeStatus::not_ipv4);
    EXPECT_EQ(with([](auto& b) { b[14] = 0x65; }), ProbeStatus::bad_l3);
    EXPECT_EQ(with([](auto& b) { b[14] = 0x44; }), ProbeStatus::bad_l3);
    EXPECT_EQ(with([](auto& b) { b[30] ^= 1; }), ProbeStatus::bad_checksum);
    EXPECT_EQ(with([&](auto& b) { b[20] = 0x20; fix_csum(b); }), ProbeStatus::fragment); // MF
    EXPECT_EQ(with([&](auto& b) { b[21] = 0x01; fix_csum(b); }), ProbeStatus::fragment); // offset
    EXPECT_EQ(with([&](auto& b) { b[23] = 6; fix_csum(b); }), ProbeStatus::not_udp);
    EXPECT_EQ(with([&](auto& b) { b[16] = 0; b[17] = 27; fix_csum(b); }), ProbeStatus::bad_l4); // IP total < 20+8
    EXPECT_EQ(with([](auto& b) { b[38] = 0x01; b[39] = 0x00; }), ProbeStatus::bad_l4);     // UDP len > IP
    EXPECT_EQ(with([](auto& b) { b[38] = 0; b[39] = 8 + 31; }), ProbeStatus::not_probe);
    EXPECT_EQ(with([](auto& b) { b[42] = 'X'; }), ProbeStatus::bad_magic);
    EXPECT_EQ(with([](auto& b) { b[46] = 2; }), ProbeStatus::bad_version);
    EXPECT_EQ(with([](auto& b) { b[49] = 31; }), ProbeStatus::bad_probe);
    EXPECT_EQ(with([](auto& b) { b[48] = 1; }), ProbeStatus::bad_probe); // header_len 288 > payload
    // Trailing Ethernet padding beyond the IPv4 total length is accepted and ignored.
    std::vector<std::uint8_t> padded = good;
    padded.resize(260, 0);
    ASSERT_EQ(parse_probe_frame(padded.data(), padded.size(), r), ProbeStatus::ok);
    EXPECT_EQ(r.bytes, 200u);
}

TEST(Probe, VlanTaggedFramesParse) {
    std::vector<std::uint8_t> good(200);
    ASSERT_EQ(build_probe_frame(sample_desc(200), kDst, good.data(), good.size()), 200u);
    for (int tags : {1, 2, 3}) {
        std::vector<std::uint8_t> b(good.begin(), good.begin() + 12);
        for (int i = 0; i < tags; ++i) {
            const std::uint8_t tag[4] = {static_cast<std::uint8_t>(i == 0 && tags > 1 ? 0x88 : 0x81),
                                         static_cast<std::uint8_t>(i == 0 && tags > 1 ? 0xA8 : 0x00), 0x00,
                                         static_cast<std::uint8_t>(10 + i)};
            b.insert(b.end(), tag, tag + 4);
        }
        b.insert(b.end(), good.begin() + 12, good.end());
        PacketDesc r;
        const ProbeStatus s = parse_probe_frame(b.data(), b.size(), r);
        if (tags <= 2) {
            ASSERT_EQ(s, ProbeStatus::ok) << tags;
            EXPECT_EQ(r.seq, 0x01020304u);
            EXPECT_EQ(r.bytes, 200u + 4u * static_cast<std::uint32_t>(tags));
            for (std::size_t len = 0; len < b.size(); ++len) {
                std::vector<std::uint8_t> cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(len));
                ASSERT_NE(parse_probe_frame(cut.data(), len, r), ProbeStatus::ok);
            }
        } else {
            EXPECT_EQ(s, ProbeStatus::not_ipv4); // a third tag is not looked through
        }
    }
}

TEST(Probe, RandomBytesAndMutationsNeverCrash) {
    std::mt19937_64 rng(99);
    std::vector<std::uint8_t> good(1514);
    ASSERT_EQ(build_probe_frame(sample_desc(1514), kDst, good.data(), good.size()), 1514u);
    int ok = 0;
    for (int it = 0; it < 20'000; ++it) {
        std::vector<std::uint8_t> b;
        if (it % 2 == 0) {
            b.resize(rng() % 200);
            for (auto& x : b) {
                x = static_cast<std::uint8_t>(rng());
            }
        } else {
            b.assign(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(rng() % (good.size() + 1)));
            for (int m = 0; m < 3 && !b.empty(); ++m) {
                b[rng() % std::min<std::size_t>(b.size(), 80)] = static_cast<std::uint8_t>(rng());
            }
        }
        PacketDesc r;
        const ProbeStatus s = parse_probe_frame(b.empty() ? nullptr : b.data(), b.size(), r);
        ASSERT_LT(static_cast<int>(s), static_cast<int>(ProbeStatus::count_));
        if (s == ProbeStatus::ok) {
            ++ok;
            ASSERT_LE(r.bytes, b.size());
        }
    }
    EXPECT_GT(ok, 0); // some mutations only touch fields the parser does not check
}

TEST(Probe, GeneratorDescriptorsBuildAndParse) {
    TrafficConfig c;
    c.n_flows = 5;
    c.flow_bytes = 5000;
    c.n_vports = 2;
    TrafficGenerator g(c, 1'000'000'000ull);
    PacketDesc out[32];
    const std::uint16_t k = g.generate(123, out, 32);
    ASSERT_EQ(k, 20); // 4 packets per 5000 B flow
    std::vector<std::uint8_t> buf(2048);
    for (std::uint16_t i = 0; i < k; ++i) {
        ASSERT_EQ(build_probe_frame(out[i], kDst, buf.data(), buf.size()), out[i].bytes);
        PacketDesc r;
        ASSERT_EQ(parse_probe_frame(buf.data(), out[i].bytes, r), ProbeStatus::ok);
        EXPECT_EQ(r.flow_id, out[i].flow_id);
        EXPECT_EQ(r.seq, out[i].seq);
        EXPECT_EQ(r.tx_time, 123u);
        EXPECT_EQ(r.vport, out[i].vport);
        EXPECT_EQ(r.flags, out[i].flags);
        EXPECT_EQ(r.flow_bytes, 5000u);
    }
}
