// SPDX-License-Identifier: BSD-3-Clause
// Hash policies: names, distribution quality, field sensitivity, fallbacks.
#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <functional>
#include <gtest/gtest.h>
#include <random>

#include "common/types.h"
#include "helpers.h"
#include "packet/flow_key.h"
#include "packet/hash.h"
#include "packet/hash_fast.h"
#include "packet/toeplitz.h"

namespace flowteam::packet {
namespace {

using test::build;
using test::Bytes;
using test::parse_exact;

constexpr HashPolicy kAllPolicies[] = {HashPolicy::l2, HashPolicy::l23, HashPolicy::l3, HashPolicy::l34,
                                       HashPolicy::toeplitz};

FlowKey parsed(const FrameSpec& s) {
    FlowKey k;
    EXPECT_EQ(parse_exact(build(s), k), ParseStatus::ok);
    return k;
}

// A random IPv4 or IPv6 TCP/UDP key with a random VLAN, as the parser makes it.
FlowKey random_key(std::mt19937_64& rng, bool ipv6) {
    FrameSpec s;
    for (auto& b : s.dst_mac)
        b = static_cast<std::uint8_t>(rng());
    for (auto& b : s.src_mac)
        b = static_cast<std::uint8_t>(rng());
    s.n_vlans = 2;
    s.vlan_tpid = {kEtherTypeQinQ, kEtherTypeVlan, kEtherTypeVlan};
    s.vlan_id = {static_cast<std::uint16_t>(rng() & 0xFFF), static_cast<std::uint16_t>(rng() & 0xFFF), 0};
    s.l3 = ipv6 ? L3::ipv6 : L3::ipv4;
    s.l4_proto = rng() % 2 ? kProtoTcp : kProtoUdp;
    for (auto& b : s.src_ip)
        b = static_cast<std::uint8_t>(rng());
    for (auto& b : s.dst_ip)
        b = static_cast<std::uint8_t>(rng());
    s.src_port = static_cast<std::uint16_t>(rng());
    s.dst_port = static_cast<std::uint16_t>(rng());
    return parsed(s);
}

// Pearson chi-square of bucket counts against a uniform expectation.
double chi_square(const std::vector<std::uint32_t>& counts, double expected) {
    double chi = 0;
    for (std::uint32_t c : counts)
        chi += (c - expected) * (c - expected) / expected;
    return chi;
}

// 256 buckets, 65536 flows -> mean 256, binomial sd 16; chi-square with 255
// degrees of freedom has mean 255 and sd 22.6.
void expect_uniform(const std::vector<std::uint32_t>& hashes, const char* what) {
    for (int shift : {0, 24}) { // low bits (hash & mask) and high bits
        std::vector<std::uint32_t> counts(256, 0);
        for (std::uint32_t h : hashes)
            ++counts[(h >> shift) & 0xFF];
        const double expected = static_cast<double>(hashes.size()) / 256;
        const auto [mn, mx] = std::minmax_element(counts.begin(), counts.end());
        EXPECT_LT(chi_square(counts, expected), 255 + 5 * 22.6) << what << " shift " << shift;
        EXPECT_GT(*mn, expected * 0.6) << what << " shift " << shift;
        EXPECT_LT(*mx, expected * 1.4) << what << " shift " << shift;
    }
}

TEST(HashPolicyNames, RoundTripAndAliases) {
    for (HashPolicy p : kAllPolicies) {
        HashPolicy out = HashPolicy::l2;
        ASSERT_TRUE(parse_hash_policy(to_string(p), out)) << to_string(p);
        EXPECT_EQ(out, p);
    }
    HashPolicy out = HashPolicy::toeplitz;
    EXPECT_TRUE(parse_hash_policy("layer3+4", out));
    EXPECT_EQ(out, HashPolicy::l34);
    EXPECT_TRUE(parse_hash_policy("layer2+3", out));
    EXPECT_EQ(out, HashPolicy::l23);
    EXPECT_TRUE(parse_hash_policy("layer2", out));
    EXPECT_EQ(out, HashPolicy::l2);
    for (const char* bad : {"", "L34", "l4", "l34 ", "toeplitz2", "layer3"}) {
        out = HashPolicy::l23;
        EXPECT_FALSE(parse_hash_policy(bad, out)) << bad;
        EXPECT_EQ(out, HashPolicy::l23) << "untouched on failure";
    }
    EXPECT_STREQ(to_string(HashLayer::l34), "l34");
    EXPECT_STREQ(to_string(HashLayer::l2), "l2");
}

TEST(HashDistribution, RandomFlowsEveryPolicy) {
    std::mt19937_64 rng(0xd15'7001);
    std::vector<FlowKey> keys4, keys6;
    for (int i = 0; i < 65536; ++i)
        keys4.push_back(random_key(rng, false));
    for (int i = 0; i < 65536; ++i)
        keys6.push_back(random_key(rng, true));
    for (HashPolicy p : kAllPolicies) {
        for (const auto* keys : {&keys4, &keys6}) {
            std::vector<std::uint32_t> h(keys->size());
            flow_hash_burst(keys->data(), 0, p, nullptr, h.data()); // n == 0 is a no-op
            for (std::size_t i = 0; i < keys->size(); i += kBurstSize)
                flow_hash_burst(keys->data() + i, kBurstSize, p, nullptr, h.data() + i);
            expect_uniform(h, to_string(p));
        }
    }
}

TEST(HashDistribution, StructuredFlows) {
    // Multichannel migration: one host pair, consecutive source ports.
    FrameSpec s = test::v4_spec(kProtoTcp, "198.18.0.1", "198.18.1.1", 0, 6600);
    std::vector<std::uint32_t> l34, tz;
    for (std::uint32_t port = 0; port < 65536; ++port) {
        s.src_port = static_cast<std::uint16_t>(port);
        const FlowKey k = parsed(s);
        l34.push_back(flow_hash(k, HashPolicy::l34));
        tz.push_back(flow_hash(k, HashPolicy::toeplitz));
    }
    expect_uniform(l34, "l34 consecutive ports");
    expect_uniform(tz, "toeplitz consecutive ports");
    // Consecutive addresses in 198.18.0.0/16 to one server.
    std::vector<std::uint32_t> l3, l23;
    for (std::uint32_t a = 0; a < 65536; ++a) {
        set_ipv4(s.src_ip, 0xC6120000u | a);
        const FlowKey k = parsed(s);
        l3.push_back(flow_hash(k, HashPolicy::l3));
        l23.push_back(flow_hash(k, HashPolicy::l23));
    }
    expect_uniform(l3, "l3 consecutive addresses");
    expect_uniform(l23, "l23 consecutive addresses");
    // Consecutive MACs (VMs on one host).
    std::vector<std::uint32_t> l2;
    for (std::uint32_t m = 0; m < 65536; ++m) {
        s.src_mac[4] = static_cast<std::uint8_t>(m >> 8);
        s.src_mac[5] = static_cast<std::uint8_t>(m);
        l2.push_back(flow_hash(parsed(s), HashPolicy::l2));
    }
    expect_uniform(l2, "l2 consecutive MACs");
}

TEST(HashDistribution, AvalancheOfTheAddressHashes) {
    // Flipping any one input bit flips each output bit with probability ~1/2:
    // mean Hamming distance ~16 of 32 for every input bit.
    std::mt19937_64 rng(0xd15'7002);
    std::vector<FlowKey> base;
    for (int i = 0; i < 400; ++i)
        base.push_back(random_key(rng, false));
    struct Field {
        const char* name;
        std::size_t offset;
        std::size_t bits;
    };
    const Field fields[] = {{"src_ip", offsetof(FlowKey, src_ip), 32},
                            {"dst_ip", offsetof(FlowKey, dst_ip), 32},
                            {"src_port", offsetof(FlowKey, src_port), 16},
                            {"dst_port", offsetof(FlowKey, dst_port), 16}};
    for (const Field& f : fields) {
        for (std::size_t bit = 0; bit < f.bits; ++bit) {
            double flips = 0;
            for (const FlowKey& k : base) {
                FlowKey m = k;
                reinterpret_cast<std::uint8_t*>(&m)[f.offset + bit / 8] ^=
                    static_cast<std::uint8_t>(1u << (bit % 8));
                flips += std::popcount(flow_hash(k, HashPolicy::l34) ^ flow_hash(m, HashPolicy::l34));
            }
            const double mean = flips / static_cast<double>(base.size());
            EXPECT_NEAR(mean, 16.0, 1.5) << f.name << " bit " << bit;
        }
    }
}

// Which fields each policy must read (true) or ignore (false).
struct Mutation {
    const char* name;
    std::function<void(FlowKey&)> apply;
    bool l2, l23, l3, l34, toeplitz;
};

TEST(HashFields, EachPolicyReadsExactlyItsFields) {
    const Mutation muts[] = {
        {"dst_mac", [](FlowKey& k) { k.dst_mac[5] ^= 0x01; }, true, true, false, false, false},
        {"src_mac", [](FlowKey& k) { k.src_mac[0] ^= 0x80; }, true, true, false, false, false},
        {"outer_vlan", [](FlowKey& k) { k.outer_vlan ^= 0x001; }, true, true, false, false, false},
        {"inner_vlan", [](FlowKey& k) { k.inner_vlan ^= 0x800; }, true, true, false, false, false},
        {"src_ip", [](FlowKey& k) { k.src_ip[3] ^= 0x01; }, false, true, true, true, true},
        {"dst_ip", [](FlowKey& k) { k.dst_ip[0] ^= 0x40; }, false, true, true, true, true},
        {"src_port", [](FlowKey& k) { k.src_port ^= 0x0100; }, false, false, false, true, true},
        {"dst_port", [](FlowKey& k) { k.dst_port ^= 0x0001; }, false, false, false, true, true},
        {"l4_proto", [](FlowKey& k) { k.l4_proto = k.l4_proto == kProtoTcp ? kProtoUdp : kProtoTcp; }, false,
         false, false, true, false},
        // Bookkeeping fields are never hashed.
        {"offsets", [](FlowKey& k) { k.l3_offset += 4, k.l4_offset += 4, k.vlan_count = 1; }, false, false,
         false, false, false},
    };
    std::mt19937_64 rng(0xf1e1d);
    for (bool ipv6 : {false, true}) {
        for (int i = 0; i < 200; ++i) {
            const FlowKey k = random_key(rng, ipv6);
            ASSERT_TRUE(k.has_l4);
            for (const Mutation& m : muts) {
                FlowKey mk = k;
                m.apply(mk);
                const bool expect[] = {m.l2, m.l23, m.l3, m.l34, m.toeplitz};
                for (std::size_t p = 0; p < std::size(kAllPolicies); ++p) {
                    const bool changed = flow_hash(k, kAllPolicies[p]) != flow_hash(mk, kAllPolicies[p]);
                    EXPECT_EQ(changed, expect[p])
                        << m.name << " under " << to_string(kAllPolicies[p]) << (ipv6 ? " ipv6" : " ipv4");
                }
            }
        }
    }
}

TEST(HashFields, Ipv4AndIpv6WithTheSameBytesDiffer) {
    std::mt19937_64 rng(7);
    FlowKey a = random_key(rng, false);
    FlowKey b = a;
    b.l3 = L3::ipv6;
    EXPECT_NE(flow_hash(a, HashPolicy::l3), flow_hash(b, HashPolicy::l3));
    EXPECT_NE(flow_hash(a, HashPolicy::l34), flow_hash(b, HashPolicy::l34));
}

TEST(HashFallback, NoPortsMeansL3) {
    HashLayer used = HashLayer::l2;
    // ICMP: no ports.
    const FlowKey icmp = parsed(test::v4_spec(1, "198.18.0.1", "198.18.0.2", 0, 0));
    EXPECT_EQ(flow_hash(icmp, HashPolicy::l34, nullptr, &used), flow_hash(icmp, HashPolicy::l3));
    EXPECT_EQ(used, HashLayer::l3);
    EXPECT_EQ(flow_hash(icmp, HashPolicy::toeplitz, nullptr, &used),
              rss_hash(default_rss_key(), icmp, false));
    EXPECT_EQ(used, HashLayer::l3);
    // A first fragment has ports, but every fragment hashes on addresses only.
    FrameSpec s = test::v4_spec(kProtoUdp, "198.18.0.1", "198.18.0.2", 4789, 4789);
    s.more_fragments = true;
    const FlowKey first = parsed(s);
    ASSERT_TRUE(first.has_l4);
    s.frag_offset = 100;
    const FlowKey later = parsed(s);
    ASSERT_FALSE(later.has_l4);
    for (HashPolicy p : {HashPolicy::l34, HashPolicy::toeplitz}) {
        EXPECT_EQ(flow_hash(first, p, nullptr, &used), flow_hash(later, p)) << to_string(p);
        EXPECT_EQ(used, HashLayer::l3);
    }
    // Truncated L4 and a too-long IPv6 chain keep the addresses: l34 -> l3.
    FrameSpec v6 = test::v6_spec(kProtoTcp, "2001:db8::1", "2001:db8::2", 1, 2);
    v6.n_ext = kMaxIpv6ExtHeaders + 1;
    std::fill(v6.ext.begin(), v6.ext.end(), 60);
    FlowKey bad;
    ASSERT_EQ(parse_exact(build(v6), bad), ParseStatus::bad_ext_header);
    EXPECT_EQ(flow_hash(bad, HashPolicy::l34, nullptr, &used), flow_hash(bad, HashPolicy::l3));
    EXPECT_EQ(used, HashLayer::l3);
}

TEST(HashFallback, NoL3MeansL2) {
    FrameSpec s;
    s.l3 = L3::none;
    s.ethertype = 0x0806;
    s.n_vlans = 1;
    s.vlan_id[0] = 42;
    const FlowKey arp = parsed(s);
    const std::uint32_t l2 = flow_hash(arp, HashPolicy::l2);
    for (HashPolicy p : kAllPolicies) {
        HashLayer used = HashLayer::l34;
        EXPECT_EQ(flow_hash(arp, p, nullptr, &used), l2) << to_string(p);
        EXPECT_EQ(used, HashLayer::l2) << to_string(p);
    }
    // A malformed IPv4 header (bad_l3) also hashes on L2.
    Bytes f = build(test::v4_spec(kProtoTcp, "198.18.0.1", "198.18.0.2", 1, 2));
    f[14] = 0x44;
    FlowKey k;
    ASSERT_EQ(parse_exact(f, k), ParseStatus::bad_l3);
    EXPECT_EQ(flow_hash(k, HashPolicy::l34), flow_hash(k, HashPolicy::l2));
}

TEST(HashFallback, ToeplitzKeyTooShortDegrades) {
    const FlowKey v4 = parsed(test::v4_spec(kProtoTcp, "66.9.149.187", "161.142.100.80", 2794, 1766));
    const FlowKey v6 =
        parsed(test::v6_spec(kProtoTcp, "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766));
    HashLayer used = HashLayer::l2;
    // 12 bytes: the IPv4 2-tuple fits, the 4-tuple does not.
    const std::vector<std::uint8_t> k12(default_rss_key().data(), default_rss_key().data() + 12);
    const ToeplitzKey short_key(k12);
    EXPECT_EQ(flow_hash(v4, HashPolicy::toeplitz, &short_key, &used), 0x323e8fc2u); // "IPv4 only" value
    EXPECT_EQ(used, HashLayer::l3);
    // IPv6 needs 36 bytes even without ports: falls to l2, not to a constant.
    EXPECT_EQ(flow_hash(v6, HashPolicy::toeplitz, &short_key, &used), flow_hash(v6, HashPolicy::l2));
    EXPECT_EQ(used, HashLayer::l2);
    // The full key gives the 4-tuple values.
    EXPECT_EQ(flow_hash(v4, HashPolicy::toeplitz, nullptr, &used), 0x51ccc178u);
    EXPECT_EQ(used, HashLayer::l34);
    EXPECT_EQ(flow_hash(v6, HashPolicy::toeplitz, nullptr, &used), 0x40207d3du);
    EXPECT_EQ(used, HashLayer::l34);
}

TEST(HashBurst, MatchesSingleAndCountsLayers) {
    std::mt19937_64 rng(0xb0257);
    std::vector<FlowKey> keys;
    for (int i = 0; i < kBurstSize; ++i) {
        switch (i % 4) {
        case 0:
            keys.push_back(random_key(rng, false));
            break;
        case 1:
            keys.push_back(random_key(rng, true));
            break;
        case 2:
            keys.push_back(parsed(test::v4_spec(1, "10.0.0.1", "10.0.0.9", 0, 0)));
            break; // ICMP
        default: {
            FrameSpec s;
            s.l3 = L3::none;
            s.src_mac[5] = static_cast<std::uint8_t>(i);
            keys.push_back(parsed(s));
        }
        }
    }
    const ToeplitzKey sym = ToeplitzKey::symmetric();
    for (HashPolicy p : kAllPolicies) {
        std::uint32_t out[kBurstSize];
        std::uint64_t counts[kHashLayerCount] = {};
        flow_hash_burst(keys.data(), kBurstSize, p, &sym, out, counts);
        std::uint64_t expect_counts[kHashLayerCount] = {};
        for (int i = 0; i < kBurstSize; ++i) {
            HashLayer used = HashLayer::l2;
            EXPECT_EQ(out[i], flow_hash(keys[i], p, &sym, &used)) << to_string(p) << " " << i;
            ++expect_counts[static_cast<std::size_t>(used)];
        }
        for (std::size_t l = 0; l < kHashLayerCount; ++l)
            EXPECT_EQ(counts[l], expect_counts[l]) << to_string(p);
        const std::uint64_t ports = p == HashPolicy::l34 || p == HashPolicy::toeplitz ? kBurstSize / 2 : 0;
        EXPECT_EQ(counts[static_cast<std::size_t>(HashLayer::l34)], ports) << to_string(p);
        EXPECT_EQ(counts[static_cast<std::size_t>(HashLayer::l2)],
                  p == HashPolicy::l2 ? kBurstSize : kBurstSize / 4)
            << to_string(p);
    }
}


// flow_hash_fast() (the data plane's fused parse + hash) must give, for every
// frame it accepts, exactly flow_hash(parse_frame(frame)) under each policy;
// it must accept the common shape (untagged IPv4 IHL 5 TCP/UDP, not a
// fragment) and refuse what parse_frame would not parse fully (prefixes,
// mutated headers, VLANs, IPv6, options, fragments) and toeplitz.
TEST(HashFastPath, SameHashAsParseThenHash) {
    std::mt19937_64 rng(0x5eed'0006);
    std::size_t refused_other = 0;   // frames outside the common shape, refused (non-toeplitz policies)
    // taken: how many of the (non-toeplitz) policies took the frame.
    auto compare = [&](const std::uint8_t* data, std::size_t len, int i, int& taken) {
        std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[len == 0 ? 1 : len]); // ASan-exact block
        if (len != 0) std::memcpy(copy.get(), data, len);
        FlowKey k;
        const ParseStatus st = parse_frame(copy.get(), len, k);
        taken = 0;
        for (HashPolicy p : kAllPolicies) {
            std::uint32_t h = 0xdeadbeef;
            HashLayer used = HashLayer::l23;
            if (!flow_hash_fast(copy.get(), len, p, h, used)) {
                EXPECT_EQ(h, 0xdeadbeefu);
                continue;
            }
            ASSERT_NE(p, HashPolicy::toeplitz);
            ++taken;
            ASSERT_EQ(st, ParseStatus::ok) << i << " len " << len;
            ASSERT_TRUE(k.has_l4 && !k.fragment && k.vlan_count == 0 && k.l3 == L3::ipv4) << i;
            HashLayer want_used = HashLayer::l2;
            ASSERT_EQ(h, flow_hash(k, p, nullptr, &want_used)) << i << " policy " << to_string(p);
            ASSERT_EQ(used, want_used) << i;
        }
    };
    for (int i = 0; i < 4000; ++i) {
        FrameSpec s = test::random_spec(rng);
        const bool common = i % 4 != 3;
        if (common) test::steer_common_shape(s, rng);
        const Bytes f = build(s);
        int taken = -1;
        compare(f.data(), f.size(), i, taken);
        // The common shape is always taken, under l2, l23, l3 and l34.
        if (common) {
            EXPECT_EQ(taken, 4) << i;
        }
        // Anything else the general parser sees as not the common shape is refused.
        FlowKey k;
        if (!common && (test::parse_exact(f, k) != ParseStatus::ok || k.vlan_count != 0 || k.l3 != L3::ipv4 ||
                        !k.has_l4 || k.fragment)) {
            EXPECT_EQ(taken, 0) << i;
            refused_other += taken == 0 ? 1 : 0;
        }
        int ignored = 0;
        if (i % 20 == 0)
            for (std::size_t len = 0; len < f.size(); ++len)
                compare(f.data(), len, i, ignored);
        Bytes g = f;
        g[rng() % g.size()] = static_cast<std::uint8_t>(rng());
        compare(g.data(), g.size(), i, ignored);
    }
    EXPECT_GT(refused_other, 500u);   // the random non-common frames did exercise the refusals
}

} // namespace
} // namespace flowteam::packet
