// SPDX-License-Identifier: BSD-3-Clause
// Toeplitz RSS hash: Microsoft's published verification values, symmetric
// key, fast vs reference, key parsing and validation.
#include <cctype>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <random>
#include <span>
#include <stdexcept>
#include <string>

#include "helpers.h"
#include "packet/hash.h"
#include "packet/toeplitz.h"

namespace flowteam::packet {
namespace {

using test::build;
using test::ip4;
using test::ip6;
using test::parse_exact;

constexpr const char* kMicrosoftKeyHex =
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa";

// "Verifying the RSS Hash Calculation" (Microsoft Learn, NDIS RSS): destination
// address:port, source address:port, hash over IP only, hash over IP + TCP.
struct Vector {
    const char* dst;
    std::uint16_t dport;
    const char* src;
    std::uint16_t sport;
    std::uint32_t ip_only;
    std::uint32_t with_tcp;
};

constexpr Vector kIpv4Vectors[] = {
    {"161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178},
    {"65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea},
    {"12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a},
    {"209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f},
    {"202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2},
};

constexpr Vector kIpv6Vectors[] = {
    {"3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2cc18cd5, 0x40207d3d},
    {"ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0f0c461c, 0xdde51bbf},
    {"fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x4b61e985, 0x02d1feef},
};

TEST(Toeplitz, MicrosoftVectorsIpv4) {
    const ToeplitzKey& key = default_rss_key();
    for (const Vector& v : kIpv4Vectors) {
        const auto src = ip4(v.src), dst = ip4(v.dst);
        std::uint8_t t[kRssTupleMax];
        ASSERT_EQ(rss_tuple_ipv4(src.data(), dst.data(), t), kRssTupleIpv4);
        EXPECT_EQ(key.hash(t, kRssTupleIpv4), v.ip_only) << v.src;
        EXPECT_EQ(key.hash_reference(t, kRssTupleIpv4), v.ip_only) << v.src;
        ASSERT_EQ(rss_tuple_ipv4(src.data(), dst.data(), v.sport, v.dport, t), kRssTupleIpv4L4);
        EXPECT_EQ(key.hash(t, kRssTupleIpv4L4), v.with_tcp) << v.src;
        EXPECT_EQ(key.hash_reference(t, kRssTupleIpv4L4), v.with_tcp) << v.src;
    }
}

TEST(Toeplitz, MicrosoftVectorsIpv6) {
    const ToeplitzKey& key = default_rss_key();
    for (const Vector& v : kIpv6Vectors) {
        const auto src = ip6(v.src), dst = ip6(v.dst);
        std::uint8_t t[kRssTupleMax];
        ASSERT_EQ(rss_tuple_ipv6(src.data(), dst.data(), t), kRssTupleIpv6);
        EXPECT_EQ(key.hash(t, kRssTupleIpv6), v.ip_only) << v.src;
        EXPECT_EQ(key.hash_reference(t, kRssTupleIpv6), v.ip_only) << v.src;
        ASSERT_EQ(rss_tuple_ipv6(src.data(), dst.data(), v.sport, v.dport, t), kRssTupleIpv6L4);
        EXPECT_EQ(key.hash(t, kRssTupleIpv6L4), v.with_tcp) << v.src;
        EXPECT_EQ(key.hash_reference(t, kRssTupleIpv6L4), v.with_tcp) << v.src;
    }
}

TEST(Toeplitz, MicrosoftVectorsThroughParsedFrames) {
    // End to end: build the TCP frame, parse it, hash the FlowKey.
    for (const Vector& v : kIpv4Vectors) {
        FlowKey k;
        ASSERT_EQ(parse_exact(build(test::v4_spec(kProtoTcp, v.src, v.dst, v.sport, v.dport)), k),
                  ParseStatus::ok);
        EXPECT_EQ(rss_hash(default_rss_key(), k, false), v.ip_only) << v.src;
        EXPECT_EQ(rss_hash(default_rss_key(), k, true), v.with_tcp) << v.src;
        EXPECT_EQ(flow_hash(k, HashPolicy::toeplitz), v.with_tcp) << v.src;
    }
    for (const Vector& v : kIpv6Vectors) {
        FrameSpec s = test::v6_spec(kProtoTcp, v.src, v.dst, v.sport, v.dport);
        s.n_ext = 2; // extension headers do not enter the (non-_EX) RSS hash
        s.ext = {0, 60};
        s.n_vlans = 1;
        FlowKey k;
        ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok);
        EXPECT_EQ(rss_hash(default_rss_key(), k, false), v.ip_only) << v.src;
        EXPECT_EQ(rss_hash(default_rss_key(), k, true), v.with_tcp) << v.src;
        EXPECT_EQ(flow_hash(k, HashPolicy::toeplitz), v.with_tcp) << v.src;
    }
}

TEST(Toeplitz, FragmentsUseTheTwoTuple) {
    const Vector& v = kIpv4Vectors[0];
    FrameSpec s = test::v4_spec(kProtoTcp, v.src, v.dst, v.sport, v.dport);
    s.more_fragments = true; // first fragment: ports are visible but not used
    FlowKey k;
    ASSERT_EQ(parse_exact(build(s), k), ParseStatus::ok);
    ASSERT_TRUE(k.has_l4);
    std::uint8_t t[kRssTupleMax];
    EXPECT_EQ(rss_tuple(k, true, t), kRssTupleIpv4);
    EXPECT_EQ(rss_hash(default_rss_key(), k, true), v.ip_only);
    FlowKey none{};
    EXPECT_EQ(rss_tuple(none, true, t), 0u);
    EXPECT_EQ(rss_hash(default_rss_key(), none, true), 0u);
}

TEST(Toeplitz, SymmetricKeyIsDirectionless) {
    const ToeplitzKey sym = ToeplitzKey::symmetric();
    EXPECT_EQ(sym.size(), 40u);
    EXPECT_EQ(sym.to_hex().substr(0, 8), "6d5a6d5a");
    const ToeplitzKey sym52 = ToeplitzKey::symmetric(52); // i40e/ice key length
    std::mt19937_64 rng(0x5133);
    int differ_with_ms_key = 0;
    for (int i = 0; i < 2000; ++i) {
        std::uint8_t a[16], b[16];
        for (auto& x : a)
            x = static_cast<std::uint8_t>(rng());
        for (auto& x : b)
            x = static_cast<std::uint8_t>(rng());
        const auto pa = static_cast<std::uint16_t>(rng()), pb = static_cast<std::uint16_t>(rng());
        std::uint8_t fwd[kRssTupleMax], rev[kRssTupleMax];
        for (const ToeplitzKey* key : {&sym, &sym52}) {
            rss_tuple_ipv4(a, b, fwd);
            rss_tuple_ipv4(b, a, rev);
            EXPECT_EQ(key->hash(fwd, 8), key->hash(rev, 8));
            rss_tuple_ipv4(a, b, pa, pb, fwd);
            rss_tuple_ipv4(b, a, pb, pa, rev);
            EXPECT_EQ(key->hash(fwd, 12), key->hash(rev, 12));
            rss_tuple_ipv6(a, b, fwd);
            rss_tuple_ipv6(b, a, rev);
            EXPECT_EQ(key->hash(fwd, 32), key->hash(rev, 32));
            rss_tuple_ipv6(a, b, pa, pb, fwd);
            rss_tuple_ipv6(b, a, pb, pa, rev);
            EXPECT_EQ(key->hash(fwd, 36), key->hash(rev, 36));
        }
        // The property is the key's, not the function's: the Microsoft key is not symmetric.
        if (default_rss_key().hash(fwd, 36) != default_rss_key().hash(rev, 36)) ++differ_with_ms_key;
    }
    EXPECT_GT(differ_with_ms_key, 1990);
}

TEST(Toeplitz, FastMatchesReferenceOnRandomKeysAndInputs) {
    std::mt19937_64 rng(0xfa57);
    for (int i = 0; i < 300; ++i) {
        std::vector<std::uint8_t> kb(ToeplitzKey::kMinLen +
                                     rng() % (ToeplitzKey::kMaxLen - ToeplitzKey::kMinLen + 1));
        for (auto& x : kb)
            x = static_cast<std::uint8_t>(rng());
        const ToeplitzKey key(kb);
        ASSERT_EQ(key.max_input(), kb.size() - 4);
        for (int j = 0; j < 20; ++j) {
            std::vector<std::uint8_t> in(rng() % (key.max_input() + 1));
            for (auto& x : in)
                x = static_cast<std::uint8_t>(rng());
            ASSERT_EQ(key.hash(in.data(), in.size()), key.hash_reference(in.data(), in.size()))
                << "key " << key.to_hex() << " n " << in.size();
        }
    }
    // Linearity over GF(2) (a property of Toeplitz, checked on the fast path).
    const ToeplitzKey& key = default_rss_key();
    for (int i = 0; i < 1000; ++i) {
        std::uint8_t x[36], y[36], z[36];
        for (int b = 0; b < 36; ++b) {
            x[b] = static_cast<std::uint8_t>(rng());
            y[b] = static_cast<std::uint8_t>(rng());
            z[b] = x[b] ^ y[b];
        }
        ASSERT_EQ(key.hash(z, 36), key.hash(x, 36) ^ key.hash(y, 36));
    }
    std::uint8_t zero[1] = {0};
    EXPECT_EQ(key.hash(zero, 0), 0u);
}

TEST(Toeplitz, KeyFieldPathMatchesTupleBytes) {
    // rss_hash() reads the FlowKey fields directly; it must equal hashing the
    // rss_tuple() bytes, for every key length (including too-short keys).
    std::mt19937_64 rng(0x7e1);
    for (int i = 0; i < 400; ++i) {
        std::vector<std::uint8_t> kb(ToeplitzKey::kMinLen + rng() % 40);
        for (auto& x : kb)
            x = static_cast<std::uint8_t>(rng());
        const ToeplitzKey key(kb);
        FlowKey k{};
        k.l3 = static_cast<L3>(i % 3 == 0 ? 0 : i % 3 == 1 ? 4 : 6);
        for (std::size_t b = 0; b < (k.l3 == L3::ipv4 ? 4u : 16u); ++b) {
            k.src_ip[b] = static_cast<std::uint8_t>(rng());
            k.dst_ip[b] = static_cast<std::uint8_t>(rng());
        }
        k.has_l4 = rng() % 4 != 0;
        k.fragment = rng() % 5 == 0;
        k.src_port = static_cast<std::uint16_t>(rng());
        k.dst_port = static_cast<std::uint16_t>(rng());
        for (bool with_l4 : {false, true}) {
            std::uint8_t t[kRssTupleMax];
            const std::size_t n = rss_tuple(k, with_l4, t);
            const std::uint32_t want = n == 0 ? 0 : key.hash_reference(t, n);
            EXPECT_EQ(rss_hash(key, k, with_l4), want) << "key len " << kb.size() << " tuple " << n;
        }
    }
}

TEST(ToeplitzKeyConfig, HexRoundTripAndFormats) {
    EXPECT_EQ(default_rss_key().to_hex(), kMicrosoftKeyHex);
    EXPECT_TRUE(ToeplitzKey::from_hex(kMicrosoftKeyHex) == default_rss_key());
    EXPECT_TRUE(ToeplitzKey::from_hex(std::string("0x") + kMicrosoftKeyHex) == default_rss_key());
    std::string colons, upper;
    for (std::size_t i = 0; i < std::strlen(kMicrosoftKeyHex); i += 2) {
        if (i) colons += ':';
        colons.append(kMicrosoftKeyHex + i, 2);
    }
    for (char c : std::string(kMicrosoftKeyHex))
        upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(ToeplitzKey::from_hex(colons) == default_rss_key());
    EXPECT_TRUE(ToeplitzKey::from_hex(upper) == default_rss_key());
    EXPECT_TRUE(ToeplitzKey::microsoft() == default_rss_key());
    // A copy carries its tables.
    const ToeplitzKey copy = ToeplitzKey::symmetric();
    ToeplitzKey again = copy;
    std::uint8_t in[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    EXPECT_EQ(again.hash(in, 12), copy.hash_reference(in, 12));
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no exception)";
}

TEST(ToeplitzKeyConfig, BadHexIsAClearError) {
    std::string bad = kMicrosoftKeyHex;
    bad[5] = 'g';
    std::string msg = error_of([&] { ToeplitzKey::from_hex(bad); });
    EXPECT_NE(msg.find("'g' at position 5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rss key"), std::string::npos) << msg;
    msg = error_of([&] { ToeplitzKey::from_hex(std::string(kMicrosoftKeyHex) + "a"); });
    EXPECT_NE(msg.find("odd number"), std::string::npos) << msg;
    msg = error_of([&] { ToeplitzKey::from_hex("6d5a:56"); }); // 3 bytes
    EXPECT_NE(msg.find("3 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("12..128"), std::string::npos) << msg;
    msg = error_of([&] { ToeplitzKey::from_hex("6d5a56da 255b0ec2"); });
    EXPECT_NE(msg.find("' ' at position 8"), std::string::npos) << msg;
    msg = error_of([&] { ToeplitzKey::from_hex("6:d5a56da255b0ec24167253d"); }); // ':' inside a byte
    EXPECT_NE(msg.find("':' at position 1"), std::string::npos) << msg;
    msg = error_of([&] { ToeplitzKey::from_hex(std::string(2 * 129, 'a')); });
    EXPECT_NE(msg.find("129 bytes"), std::string::npos) << msg;
    msg = error_of([&] { ToeplitzKey::from_hex(std::string("6d5a56da255b0ec2416725\x01", 23)); });
    EXPECT_NE(msg.find("'\\x01'"), std::string::npos) << msg;
    EXPECT_THROW(ToeplitzKey::symmetric(8), std::invalid_argument);
    const std::uint8_t eleven[11] = {};
    EXPECT_THROW((ToeplitzKey{std::span<const std::uint8_t>(eleven)}), std::invalid_argument);
}

TEST(ToeplitzKeyConfig, KeyLengthVersusTuple) {
    // 16 bytes: enough for IPv4 with ports (12 + 4), not for IPv6 (32 + 4).
    std::vector<std::uint8_t> k16(default_rss_key().data(), default_rss_key().data() + 16);
    const ToeplitzKey key(k16);
    EXPECT_TRUE(key.fits(kRssTupleIpv4));
    EXPECT_TRUE(key.fits(kRssTupleIpv4L4));
    EXPECT_FALSE(key.fits(kRssTupleIpv6));
    EXPECT_FALSE(key.fits(kRssTupleIpv6L4));
    EXPECT_NO_THROW(key.require(kRssTupleIpv4L4, "IPv4 4-tuple"));
    const std::string msg = error_of([&] { key.require(kRssTupleIpv6L4, "IPv6 4-tuple"); });
    EXPECT_NE(msg.find("IPv6 4-tuple"), std::string::npos) << msg;
    EXPECT_NE(msg.find("at least 40 bytes"), std::string::npos) << msg;
    // The IPv4 values of the 40-byte key are reproduced by its 16-byte prefix.
    for (const Vector& v : kIpv4Vectors) {
        const auto src = ip4(v.src), dst = ip4(v.dst);
        std::uint8_t t[kRssTupleMax];
        rss_tuple_ipv4(src.data(), dst.data(), v.sport, v.dport, t);
        EXPECT_EQ(key.hash(t, 12), v.with_tcp);
    }
    // A tuple that does not fit hashes to 0 (fast and reference), never reads past the tables.
    std::uint8_t t[kRssTupleMax] = {1};
    EXPECT_EQ(key.hash(t, kRssTupleIpv6), 0u);
    EXPECT_EQ(key.hash_reference(t, kRssTupleIpv6), 0u);
    EXPECT_TRUE(default_rss_key().fits(kRssTupleMax));
    EXPECT_EQ(rss_key_len_for(kRssTupleIpv6L4), ToeplitzKey::kStandardLen);
}

} // namespace
} // namespace flowteam::packet
