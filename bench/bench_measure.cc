// SPDX-License-Identifier: BSD-3-Clause
// Reorder-metric update cost per packet (FlowReorder::on_packet), and the
// same through a ReorderTable spread over many flows.
#include <benchmark/benchmark.h>
#include <cstdint>
#include <random>
#include <vector>

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

} // namespace
