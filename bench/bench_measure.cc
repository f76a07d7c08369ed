// SPDX-License-Identifier: BSD-3-Clause
// Reorder-metric update cost per packet (FlowReorder::on_packet), the same
// through a ReorderTable spread over many flows, and the receive side's
// per-packet work with and without the measurement (BM_RxPerPacket).
#include <benchmark/benchmark.h>
#include <cstdint>
#include <random>
#include <vector>

#include "emulation/probe_header.h"
#include "measure/reorder.h"

namespace {

using flowteam::measure::FlowReorder;
using flowteam::measure::ReorderConfig;
using flowteam::measure::ReorderTable;

constexpr std::size_t kStream = 1 << 16; // sequence numbers replayed in a loop

// In-order stream with `per_10k` of 10,000 positions swapped with a packet up
// to 8 ahead. A swap makes one packet late (RFC 4737 reordered) plus those
// it jumped over when they arrive after it, so 25 gives ~1 % reordered
// (the benchmark reports the measured figure as reordered_%).
std::vector<std::uint64_t> make_stream(std::uint32_t per_10k, std::uint64_t seed) {
    std::vector<std::uint64_t> s(kStream);
    for (std::size_t k = 0; k < kStream; ++k)
        s[k] = k;
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::uint32_t> p(0, 9999);
    std::uniform_int_distribution<std::uint32_t> d(1, 8);
    for (std::size_t k = 0; k + 8 < kStream; ++k) {
        if (p(rng) < per_10k) std::swap(s[k], s[k + d(rng)]);
    }
    return s;
}

// Arg 0: swaps per 10,000 packets (0 = in order, 25 ~ 1 % reordered,
// 250 ~ 10 %); Arg 1: RFC 5236 threshold DT.
void BM_FlowReorder(benchmark::State& state) {
    const auto stream = make_stream(static_cast<std::uint32_t>(state.range(0)), 42);
    ReorderConfig cfg;
    cfg.density_threshold = static_cast<std::uint32_t>(state.range(1));
    FlowReorder f(cfg);
    std::uint64_t offset = 0; // keeps sequences increasing across replays
    std::size_t k = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(f.on_packet(offset + stream[k]));
        if (++k == kStream) {
            k = 0;
            offset += kStream;
        }
    }
    f.finish();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["pps"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["reordered_%"] = 100.0 * f.stats().reordered_ratio();
}
BENCHMARK(BM_FlowReorder)->Args({0, 8})->Args({25, 8})->Args({25, 15})->Args({250, 8});

// Bursts of 32 packets spread at random over N flows (each flow replays its
// own stream): the table no longer fits in L1/L2 (1024 flows ~ 2 MiB,
// 65536 flows ~ 130 MiB), so this shows the cache-miss cost per packet.
void BM_ReorderTable(benchmark::State& state) {
    const auto stream = make_stream(static_cast<std::uint32_t>(state.range(0)), 43);
    const auto n_flows = static_cast<std::uint32_t>(state.range(1));
    ReorderTable table(n_flows);
    std::vector<std::uint64_t> next(n_flows, 0);
    std::mt19937 rng(1);
    std::uniform_int_distribution<std::uint32_t> pick(0, n_flows - 1);
    std::vector<std::uint32_t> flow_of(4096);
    for (auto& f : flow_of)
        f = pick(rng);
    std::size_t k = 0;
    for (auto _ : state) {
        for (int b = 0; b < 32; ++b) {
            const std::uint32_t f = flow_of[k++ & 4095];
            const std::uint64_t pos = next[f]++;
            const std::uint64_t seq = (pos / kStream) * kStream + stream[pos % kStream];
            benchmark::DoNotOptimize(table.on_packet(f, seq));
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 32);
    state.counters["pps"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * 32.0, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReorderTable)->Args({0, 1024})->Args({25, 1024})->Args({25, 65536});

// The receive side's per-packet work on probe frames, as the RX stage does it:
// the probe parse (+ per-member packet/byte counters) alone — what
// `--no-measure` leaves — against the same plus the ReorderTable update of the
// packet's flow. Frames: 65,536 minimum-size probe frames in memory, flows
// picked at random per packet (interleaved like many flows on one queue), in
// order per flow except ~1 % of neighbours swapped. Arg 0: measure (0/1);
// Arg 1: flows; Arg 2 (optional): prefetch the flow state two packets ahead
// from the frame's probe header, as the engine's RX loop does (1) or not (0).
// The difference of the two ns/packet is the measurement's
// cost; bench/run --rx-measure gives the whole RX path's cost on the real
// data plane to compare it with.
void BM_RxPerPacket(benchmark::State& state) {
    namespace em = flowteam::emulation;
    const bool measure = state.range(0) != 0;
    const auto n_flows = static_cast<std::uint32_t>(state.range(1));
    const bool ahead = state.range(2) != 0;
    constexpr std::size_t kPackets = 1 << 16;
    constexpr std::size_t kSlot = 128;
    const std::uint32_t len = em::kMinProbeFrameBytes;
    static constexpr em::MacAddr kMac{0x02, 0x66, 0x74, 0xff, 0x00, 0x01};
    std::vector<std::uint8_t> frames(kPackets * kSlot);
    std::vector<std::uint32_t> per_flow(n_flows, 0);
    std::vector<em::PacketDesc> descs(kPackets);
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::uint32_t> pick(0, n_flows - 1);
    for (auto& d : descs) {
        d.flow_id = pick(rng);
        d.seq = per_flow[d.flow_id]++;
        d.bytes = len;
        d.src_ip = 0xC6120001u + d.flow_id;
        d.dst_ip = 0xC6130001u;
        d.src_port = static_cast<std::uint16_t>(1024 + d.flow_id % 60000);
        d.dst_port = 5001;
    }
    std::uniform_int_distribution<std::uint32_t> p(0, 99);
    for (std::size_t k = 0; k + 1 < kPackets; ++k)
        if (p(rng) == 0) std::swap(descs[k], descs[k + 1]);
    for (std::size_t k = 0; k < kPackets; ++k)
        if (em::build_probe_frame(descs[k], kMac, &frames[k * kSlot], kSlot) != len) {
            state.SkipWithError("build_probe_frame failed");
            return;
        }
    ReorderTable table(n_flows);
    std::uint64_t pass = 0, bytes = 0, bad = 0;
    std::uint64_t member_packets[2] = {};
    std::size_t k = 0;
    for (auto _ : state) {
        for (int b = 0; b < 32; ++b) {
            if (measure && ahead) {
                const std::size_t a = (k + 2) & (kPackets - 1);
                std::uint32_t fid = 0, seq = 0;
                em::peek_probe_flow(&frames[a * kSlot], len, fid, seq);
                const std::uint32_t f = fid % n_flows;
                table.flow(f).prefetch(pass * per_flow[f] + seq);
            }
            em::PacketDesc d;
            const em::ProbeStatus st = em::parse_probe_frame(&frames[k * kSlot], len, d);
            ++member_packets[k & 1];
            bytes += len;
            if (st != em::ProbeStatus::ok) [[unlikely]] {
                ++bad;
            } else if (measure) {
                const std::uint32_t f = d.flow_id % n_flows;
                // Sequences keep increasing across replays of the frame set.
                benchmark::DoNotOptimize(table.on_packet(f, pass * per_flow[f] + d.seq));
            }
            benchmark::DoNotOptimize(d);
            if (++k == kPackets) {
                k = 0;
                ++pass;
            }
        }
    }
    benchmark::DoNotOptimize(member_packets);
    benchmark::DoNotOptimize(bytes);
    if (bad != 0) state.SkipWithError("probe parse failed");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 32);
    state.counters["pps"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * 32.0, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RxPerPacket)
    ->Args({0, 4096, 0})
    ->Args({1, 4096, 0})
    ->Args({1, 4096, 1})
    ->Args({0, 65536, 0})
    ->Args({1, 65536, 0})
    ->Args({1, 65536, 1});

} // namespace
