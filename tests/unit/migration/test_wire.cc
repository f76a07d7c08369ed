// SPDX-License-Identifier: BSD-3-Clause
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <vector>

#include "migration/wire.h"
#include "sim.h"

namespace flowteam::migration {
namespace {

WireLimits limits() {
    WireLimits l;
    l.vm_count = 3;
    l.channels = 4;
    l.pages = {1024, 2048, 16};
    return l;
}

FrameHeader page_header(std::uint16_t off, std::uint16_t len) {
    FrameHeader h;
    h.type = FrameType::page;
    h.vm = 1;
    h.channel = 3;
    h.round = 7;
    h.page = 2047;
    h.offset = off;
    h.payload_len = len;
    h.page_len = 4096;
    h.seq = 0xDEADBEEF;
    h.tx_time = 0x0123456789ABCDEFull;
    return h;
}

std::vector<std::uint8_t> body(std::size_t n, std::uint8_t seed = 1) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>(seed + i * 7);
    return b;
}

std::vector<std::uint8_t> encode(const FrameHeader& h) {
    std::vector<std::uint8_t> out(9000);
    const auto b = body(h.payload_len);
    const std::size_t n = encode_frame(h, b.data(), out.data(), out.size());
    out.resize(n);
    return out;
}

TEST(Wire, SizingFor1500And9000) {
    EXPECT_EQ(udp_payload_capacity(1500), 1472u);
    EXPECT_EQ(page_fragment_bytes(1500), 1408u);
    EXPECT_EQ(frames_per_page(1500), 3u);
    EXPECT_EQ(frame_body_capacity(1500), 1424u);
    EXPECT_EQ(page_fragment_bytes(9000), 4096u);
    EXPECT_EQ(frames_per_page(9000), 1u);
    EXPECT_GT(frame_body_capacity(9000), 4096u + 4000u); // "with room"
    EXPECT_EQ(max_ack_entries(1500), 1424u / 12u);
    EXPECT_EQ(max_request_entries(1500), 1424u / 16u);
    EXPECT_THROW(check_mtu(500), std::invalid_argument);
    EXPECT_THROW(check_mtu(9217), std::invalid_argument);
    EXPECT_NO_THROW(check_mtu(1500));
}

TEST(Wire, HeaderLayoutIsLittleEndianAndChecksummed) {
    const auto f = encode(page_header(1408, 1408));
    ASSERT_EQ(f.size(), 48u + 1408u);
    EXPECT_EQ(std::memcmp(f.data(), "FTMG", 4), 0);
    EXPECT_EQ(f[4], 1);                 // version
    EXPECT_EQ(f[5], 1);                 // type page
    EXPECT_EQ(f[8] | (f[9] << 8), 1);   // vm
    EXPECT_EQ(f[10] | (f[11] << 8), 3); // channel
    EXPECT_EQ(f[20] | (f[21] << 8), 1408);
    EXPECT_EQ(f[26] | (f[27] << 8), 48);
    EXPECT_EQ(f[28], 0xEF);
    EXPECT_EQ(f[31], 0xDE);
    std::uint32_t crc;
    std::memcpy(&crc, f.data() + 44, 4);
    EXPECT_EQ(crc, crc32c(f.data(), 44));
    // CRC32C check value of "123456789"
    EXPECT_EQ(crc32c(reinterpret_cast<const std::uint8_t*>("123456789"), 9), 0xE3069283u);
}

TEST(Wire, RoundTripEveryType) {
    const WireLimits lim = limits();
    FrameView v;
    {
        const FrameHeader h = page_header(2816, 1280);
        const auto f = encode(h);
        ASSERT_EQ(decode(f.data(), f.size(), lim, v), WireStatus::ok);
        EXPECT_EQ(v.h.vm, 1);
        EXPECT_EQ(v.h.channel, 3);
        EXPECT_EQ(v.h.round, 7u);
        EXPECT_EQ(v.h.page, 2047u);
        EXPECT_EQ(v.h.offset, 2816);
        EXPECT_EQ(v.h.payload_len, 1280);
        EXPECT_EQ(v.h.seq, 0xDEADBEEFu);
        EXPECT_EQ(v.h.tx_time, 0x0123456789ABCDEFull);
        EXPECT_EQ(std::memcmp(v.body, body(1280).data(), 1280), 0);
    }
    {
        FrameHeader h = page_header(0, 0);
        h.flags = kFlagZero | kFlagResend;
        h.page_len = 0;
        const auto f = encode(h);
        ASSERT_EQ(f.size(), 48u); // zero page: header only
        ASSERT_EQ(decode(f.data(), f.size(), lim, v), WireStatus::ok);
        EXPECT_EQ(v.h.flags, kFlagZero | kFlagResend);
    }
    {
        FrameHeader h = page_header(0, 700);
        h.flags = kFlagCompressed;
        h.page_len = 700;
        const auto f = encode(h);
        ASSERT_EQ(decode(f.data(), f.size(), lim, v), WireStatus::ok);
        EXPECT_EQ(v.h.page_len, 700);
    }
    {
        FrameHeader h;
        h.type = FrameType::round_end;
        h.vm = 2;
        h.channel = 0;
        h.round = 3;
        h.count = 99;
        const auto f = encode(h);
        ASSERT_EQ(decode(f.data(), f.size(), lim, v), WireStatus::ok);
        EXPECT_EQ(v.h.type, FrameType::round_end);
        EXPECT_EQ(v.h.count, 99u);
    }
    {
        FrameHeader h;
        h.vm = 0;
        h.channel = 2;
        const AckEntry a[2] = {{1, 0, 128}, {2, 1000, 24}};
        std::vector<std::uint8_t> out(1472);
        const std::size_t n = encode_acks(h, a, 2, out.data(), out.size());
        ASSERT_EQ(n, 48u + 24u);
        ASSERT_EQ(decode(out.data(), n, lim, v), WireStatus::ok);
        ASSERT_EQ(v.h.type, FrameType::ack);
        ASSERT_EQ(v.h.count, 2u);
        EXPECT_EQ(ack_entry(v, 1).round, 2u);
        EXPECT_EQ(ack_entry(v, 1).first_page, 1000u);
        EXPECT_EQ(ack_entry(v, 1).count, 24u);
    }
    {
        FrameHeader h;
        h.vm = 1;
        const PageRequest r[1] = {{5, 3, 10, 2047}};
        std::vector<std::uint8_t> out(1472);
        const std::size_t n = encode_requests(h, r, 1, out.data(), out.size());
        ASSERT_EQ(decode(out.data(), n, lim, v), WireStatus::ok);
        const PageRequest q = request_entry(v, 0);
        EXPECT_EQ(q.round, 5u);
        EXPECT_EQ(q.channel, 3);
        EXPECT_EQ(q.first_page, 10u);
        EXPECT_EQ(q.last_page, 2047u);
    }
}

TEST(Wire, EncodeChecksCapacity) {
    std::vector<std::uint8_t> out(100);
    const auto b = body(1408);
    EXPECT_EQ(encode_frame(page_header(0, 1408), b.data(), out.data(), out.size()), 0u);
    EXPECT_EQ(encode_header(page_header(0, 1408), out.data(), 47), 0u);
    EXPECT_EQ(encode_header(page_header(0, 1408), out.data(), 48), 48u);
    const AckEntry a[10] = {};
    EXPECT_EQ(encode_acks(FrameHeader{}, a, 10, out.data(), out.size()), 0u); // 48 + 120 > 100
    EXPECT_EQ(encode_acks(FrameHeader{}, a, 0, out.data(), out.size()), 0u);
}

// Every invalid class decode() knows, each built from a valid frame.
TEST(Wire, EveryInvalidClassIsRecognised) {
    const WireLimits lim = limits();
    std::array<bool, kWireStatusCount> covered{};
    for (const test::BadFrame& b : test::invalid_frames(lim)) {
        FrameView v;
        const WireStatus got = decode(b.bytes.data(), b.bytes.size(), lim, v);
        EXPECT_EQ(got, b.why) << b.what << ": got " << to_string(got);
        covered[static_cast<std::size_t>(got)] = true;
    }
    // every reason decode() can give was produced (the last three are the receiver's)
    for (std::size_t i = 1; i < kWireStatusCount; ++i) {
        const auto s = static_cast<WireStatus>(i);
        if (s == WireStatus::unexpected_type || s == WireStatus::decompress_failed ||
            s == WireStatus::round_ahead)
            continue;
        EXPECT_TRUE(covered[i]) << to_string(s);
    }
}

// Fuzz-style: every truncation and random byte flips of valid frames of
// every type. decode() must never read out of bounds (ASan) and must either
// reject or return fields within the limits.
TEST(Wire, FuzzTruncationsAndFlips) {
    const WireLimits lim = limits();
    std::vector<std::vector<std::uint8_t>> seeds;
    seeds.push_back(encode(page_header(0, 1408)));
    seeds.push_back(encode(page_header(2816, 1280)));
    {
        FrameHeader h = page_header(0, 0);
        h.flags = kFlagZero;
        h.page_len = 0;
        seeds.push_back(encode(h));
        h = page_header(0, 321);
        h.flags = kFlagCompressed;
        h.page_len = 321;
        seeds.push_back(encode(h));
        h = FrameHeader{};
        h.type = FrameType::round_end;
        h.round = 4;
        seeds.push_back(encode(h));
        h.type = FrameType::end;
        seeds.push_back(encode(h));
    }
    {
        std::vector<std::uint8_t> out(1472);
        const AckEntry a[3] = {{1, 0, 5}, {2, 7, 1}, {3, 100, 900}};
        out.resize(encode_acks(FrameHeader{}, a, 3, out.data(), out.size()));
        seeds.push_back(out);
        out.assign(1472, 0);
        const PageRequest r[2] = {{1, 1, 0, 1}, {2, 3, 5, 1023}};
        out.resize(encode_requests(FrameHeader{}, r, 2, out.data(), out.size()));
        seeds.push_back(out);
    }
    std::array<std::uint64_t, kWireStatusCount> seen{};
    auto check = [&](const std::vector<std::uint8_t>& f) {
        // exact-size heap copy so ASan flags any read past the end
        std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[f.size() == 0 ? 1 : f.size()]);
        if (!f.empty()) std::memcpy(copy.get(), f.data(), f.size());
        FrameView v;
        const WireStatus s = decode(copy.get(), f.size(), lim, v);
        ++seen[static_cast<std::size_t>(s)];
        if (s != WireStatus::ok) return;
        ASSERT_LT(v.h.vm, lim.vm_count);
        ASSERT_LT(v.h.channel, lim.channels);
        ASSERT_EQ(f.size(), 48u + v.h.payload_len);
        if (v.h.type == FrameType::page) {
            ASSERT_LT(v.h.page, lim.pages[v.h.vm]);
            ASSERT_LE(std::uint32_t{v.h.offset} + v.h.payload_len, 4096u);
        }
        if (v.h.type == FrameType::ack) {
            for (std::uint32_t i = 0; i < v.h.count; ++i) {
                const AckEntry a = ack_entry(v, i);
                ASSERT_LE(std::uint64_t{a.first_page} + a.count, lim.pages[v.h.vm]);
            }
        }
        if (v.h.type == FrameType::page_request) {
            for (std::uint32_t i = 0; i < v.h.count; ++i) {
                ASSERT_LT(request_entry(v, i).last_page, lim.pages[v.h.vm]);
            }
        }
    };
    for (const auto& s : seeds) {
        for (std::size_t n = 0; n <= s.size(); ++n)
            check(std::vector<std::uint8_t>(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n)));
    }
    std::mt19937_64 rng(1234);
    std::uint64_t accepted_mutants = 0;
    for (int it = 0; it < 40000; ++it) {
        auto f = seeds[rng() % seeds.size()];
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k)
            f[rng() % f.size()] ^= static_cast<std::uint8_t>(1u + rng() % 255);
        if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
        const std::uint64_t before = seen[0];
        check(f);
        accepted_mutants += seen[0] - before;
    }
    // flips in the header never pass: the CRC catches them (flips in the body do pass)
    for (int it = 0; it < 20000; ++it) {
        auto f = seeds[rng() % seeds.size()];
        f[rng() % 48] ^= static_cast<std::uint8_t>(1u + rng() % 255);
        FrameView v;
        EXPECT_NE(decode(f.data(), f.size(), lim, v), WireStatus::ok);
    }
    EXPECT_GT(seen[static_cast<std::size_t>(WireStatus::truncated)], 0u);
    EXPECT_GT(seen[static_cast<std::size_t>(WireStatus::bad_checksum)], 0u);
    EXPECT_GT(seen[static_cast<std::size_t>(WireStatus::length_mismatch)], 0u);
    (void)accepted_mutants;
}

} // namespace
} // namespace flowteam::migration
