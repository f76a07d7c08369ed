// SPDX-License-Identifier: BSD-3-Clause
// packet/ microbenchmarks: parse + hash per packet over 4096 prepared, varied
// frames (IPv4 TCP/UDP, IPv6 with and without extension headers, 802.1Q and
// QinQ, a few ARP/ICMP), processed in bursts of kBurstSize as the data plane does.
//
//   build-*/bench/flowteam-microbench --benchmark_filter=Packet
//
// items_per_second is packets per second; time_per_pkt is the inverse.
#include <algorithm>
#include <benchmark/benchmark.h>
#include <cstdint>
#include <random>
#include <vector>

#include "common/types.h"
#include "packet/flow_key.h"
#include "packet/frame.h"
#include "packet/hash.h"
#include "packet/toeplitz.h"

namespace {

using namespace flowteam;
using namespace flowteam::packet;

constexpr std::size_t kFrames = 4096; // power of two: the cursor wraps with a mask
constexpr std::size_t kStride = 256;  // bytes per frame slot (headers + small payload)
static_assert((kFrames & (kFrames - 1)) == 0 && kFrames % kBurstSize == 0);

struct FrameSet {
    std::vector<std::uint8_t> arena = std::vector<std::uint8_t>(kFrames * kStride);
    std::vector<std::uint16_t> len = std::vector<std::uint16_t>(kFrames);
    std::vector<FlowKey> keys = std::vector<FlowKey>(kFrames);

    const std::uint8_t* frame(std::size_t i) const { return arena.data() + i * kStride; }

    // udp64: only untagged IPv4/UDP frames of 60 bytes (64 on the wire with
    // the FCS), the TX forwarding benchmark's traffic; otherwise the mix.
    explicit FrameSet(bool udp64 = false) {
        std::mt19937_64 rng(0xbe9c4);
        for (std::size_t i = 0; i < kFrames; ++i) {
            FrameSpec s;
            s.src_mac[5] = static_cast<std::uint8_t>(rng());
            s.dst_mac[5] = static_cast<std::uint8_t>(rng());
            const std::uint32_t kind = udp64 ? 0 : static_cast<std::uint32_t>(rng() % 100);
            s.l4_proto = udp64 || rng() % 3 == 0 ? kProtoUdp : kProtoTcp;
            if (kind < 60) { // IPv4 TCP/UDP (198.18.0.0/15)
                s.l3 = L3::ipv4;
                set_ipv4(s.src_ip, 0xC6120000u | static_cast<std::uint32_t>(rng() & 0x1FFFF));
                set_ipv4(s.dst_ip, 0xC6120000u | static_cast<std::uint32_t>(rng() & 0x1FFFF));
            } else if (kind < 80) { // IPv6, a quarter with a hop-by-hop header
                s.l3 = L3::ipv6;
                s.src_ip = {0x20, 0x01, 0x0d, 0xb8};
                s.dst_ip = {0x20, 0x01, 0x0d, 0xb8};
                for (std::size_t b = 8; b < 16; ++b) {
                    s.src_ip[b] = static_cast<std::uint8_t>(rng());
                    s.dst_ip[b] = static_cast<std::uint8_t>(rng());
                }
                if (rng() % 4 == 0) {
                    s.n_ext = 1;
                    s.ext[0] = 0;
                }
            } else if (kind < 95) { // 802.1Q or QinQ IPv4
                s.l3 = L3::ipv4;
                set_ipv4(s.src_ip, 0xC6120000u | static_cast<std::uint32_t>(rng() & 0x1FFFF));
                set_ipv4(s.dst_ip, 0xC6120000u | static_cast<std::uint32_t>(rng() & 0x1FFFF));
                s.n_vlans = static_cast<std::uint8_t>(1 + rng() % 2);
                s.vlan_tpid = {s.n_vlans == 2 ? kEtherTypeQinQ : kEtherTypeVlan, kEtherTypeVlan,
                               kEtherTypeVlan};
                s.vlan_id = {static_cast<std::uint16_t>(rng() & 0xFFF),
                             static_cast<std::uint16_t>(rng() & 0xFFF)};
            } else if (kind < 98) { // ICMP: l34 falls back to l3
                s.l3 = L3::ipv4;
                s.l4_proto = 1;
                set_ipv4(s.src_ip, 0xC6120001u);
                set_ipv4(s.dst_ip, 0xC6120002u);
            } else { // ARP: everything falls back to l2
                s.l3 = L3::none;
                s.ethertype = 0x0806;
            }
            s.src_port = static_cast<std::uint16_t>(rng());
            s.dst_port = static_cast<std::uint16_t>(rng());
            s.payload_len = static_cast<std::uint16_t>(udp64 ? 18 : rng() % 64);
            len[i] = static_cast<std::uint16_t>(build_frame(s, arena.data() + i * kStride, kStride));
            parse_frame(frame(i), len[i], keys[i]);
        }
    }
};

const FrameSet& frames() {
    static const FrameSet f;
    return f;
}

const FrameSet& frames_udp64() {
    static const FrameSet f(true);
    return f;
}

void set_counters(benchmark::State& state) {
    const auto pkts = static_cast<double>(state.iterations()) * kBurstSize;
    state.SetItemsProcessed(static_cast<std::int64_t>(pkts));
    state.counters["time_per_pkt"] =
        benchmark::Counter(pkts, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_PacketParseHash(benchmark::State& state, HashPolicy policy, bool udp64 = false) {
    const FrameSet& f = udp64 ? frames_udp64() : frames();
    const ToeplitzKey& rss_key = default_rss_key();
    FlowKey keys[kBurstSize];
    std::uint32_t hashes[kBurstSize];
    std::size_t cursor = 0;
    for (auto _ : state) {
        for (std::uint16_t j = 0; j < kBurstSize; ++j)
            parse_frame(f.frame(cursor + j), f.len[cursor + j], keys[j]);
        flow_hash_burst(keys, kBurstSize, policy, &rss_key, hashes);
        benchmark::DoNotOptimize(hashes);
        benchmark::ClobberMemory();
        cursor = (cursor + kBurstSize) & (kFrames - 1);
    }
    set_counters(state);
}

using ParseFn = ParseStatus (*)(const std::uint8_t*, std::size_t, FlowKey&);

// parse_fn: parse_frame, or detail::parse_frame_general (no fast path) for comparison.
void BM_PacketParse(benchmark::State& state, bool udp64, ParseFn parse_fn) {
    const FrameSet& f = udp64 ? frames_udp64() : frames();
    FlowKey keys[kBurstSize];
    std::size_t cursor = 0;
    for (auto _ : state) {
        for (std::uint16_t j = 0; j < kBurstSize; ++j)
            parse_fn(f.frame(cursor + j), f.len[cursor + j], keys[j]);
        benchmark::DoNotOptimize(keys);
        benchmark::ClobberMemory();
        cursor = (cursor + kBurstSize) & (kFrames - 1);
    }
    set_counters(state);
}

void BM_PacketHash(benchmark::State& state, HashPolicy policy) {
    const FrameSet& f = frames();
    const ToeplitzKey& rss_key = default_rss_key();
    std::uint32_t hashes[kBurstSize];
    std::size_t cursor = 0;
    for (auto _ : state) {
        flow_hash_burst(f.keys.data() + cursor, kBurstSize, policy, &rss_key, hashes);
        benchmark::DoNotOptimize(hashes);
        benchmark::ClobberMemory();
        cursor = (cursor + kBurstSize) & (kFrames - 1);
    }
    set_counters(state);
}

// Table-driven vs bit-by-bit Toeplitz over the IPv6 4-tuple (36 bytes).
void BM_PacketToeplitz(benchmark::State& state, bool reference) {
    const ToeplitzKey& key = default_rss_key();
    std::vector<std::uint8_t> tuples(kFrames * kRssTupleIpv6L4);
    std::mt19937_64 rng(0x7e0);
    for (auto& b : tuples)
        b = static_cast<std::uint8_t>(rng());
    std::size_t cursor = 0;
    for (auto _ : state) {
        std::uint32_t acc = 0;
        for (std::uint16_t j = 0; j < kBurstSize; ++j) {
            const std::uint8_t* t = tuples.data() + (cursor + j) * kRssTupleIpv6L4;
            acc ^= reference ? key.hash_reference(t, kRssTupleIpv6L4) : key.hash(t, kRssTupleIpv6L4);
        }
        benchmark::DoNotOptimize(acc);
        cursor = (cursor + kBurstSize) & (kFrames - 1);
    }
    set_counters(state);
}

BENCHMARK_CAPTURE(BM_PacketParse, mix, false, &parse_frame);
BENCHMARK_CAPTURE(BM_PacketParse, mix_general, false, &detail::parse_frame_general);
BENCHMARK_CAPTURE(BM_PacketParse, ipv4_udp64, true, &parse_frame);
BENCHMARK_CAPTURE(BM_PacketParse, ipv4_udp64_general, true, &detail::parse_frame_general);
BENCHMARK_CAPTURE(BM_PacketParseHash, l34_ipv4_udp64, HashPolicy::l34, true);
BENCHMARK_CAPTURE(BM_PacketParseHash, l2, HashPolicy::l2);
BENCHMARK_CAPTURE(BM_PacketParseHash, l23, HashPolicy::l23);
BENCHMARK_CAPTURE(BM_PacketParseHash, l3, HashPolicy::l3);
BENCHMARK_CAPTURE(BM_PacketParseHash, l34, HashPolicy::l34);
BENCHMARK_CAPTURE(BM_PacketParseHash, toeplitz, HashPolicy::toeplitz);
BENCHMARK_CAPTURE(BM_PacketHash, l2, HashPolicy::l2);
BENCHMARK_CAPTURE(BM_PacketHash, l23, HashPolicy::l23);
BENCHMARK_CAPTURE(BM_PacketHash, l3, HashPolicy::l3);
BENCHMARK_CAPTURE(BM_PacketHash, l34, HashPolicy::l34);
BENCHMARK_CAPTURE(BM_PacketHash, toeplitz, HashPolicy::toeplitz);
BENCHMARK_CAPTURE(BM_PacketToeplitz, ipv6_l4_table, false);
BENCHMARK_CAPTURE(BM_PacketToeplitz, ipv6_l4_reference, true);

} // namespace
