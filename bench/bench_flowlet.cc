// SPDX-License-Identifier: BSD-3-Clause
// flowlet::Dynamic: the per-packet decision of the `dynamic` mode.
//
// Args: {flows, policy, members, delta_us, lookahead, queue}. A pre-generated stream
// of flow hashes (flows drawn uniformly at random) is cut into bursts of 32;
// time advances 3.2 us per burst (10 Mpps) in 1-ns ticks. The table has 2
// entries per flow (1M flows -> 2M entries -> 32 MiB). With delta = 500 us
// (CONGA) and many flows nearly every packet starts a flowlet (the policy
// runs each time); with delta = 1 s flows stay active (lookup + refresh
// only). lookahead = 1: assign() is given the next burst's hashes and keeps
// prefetching into it (as a data plane that hashes one RX burst ahead would).
// queue = 1: queue timing; each burst's packets are handed to their members and
// everything but the last 64 packets of each member has drained (a member
// queue of 64 packets), as flowlet::DrainClock would report it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <memory>
#include <string>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "common/types.h"
#include "flowlet/drain.h"
#include "flowlet/dynamic.h"

namespace {

using flowteam::BurstView;
using flowteam::kBurstSize;
using flowteam::MemberView;
using flowteam::Tick;
namespace fl = flowteam::flowlet;

constexpr Tick kTicksPerBurst = 3200;   // 32 packets at 10 Mpps, 1 tick = 1 ns

void BM_FlowletAssign(benchmark::State& state) {
    const auto flows = static_cast<std::uint32_t>(state.range(0));
    const auto policy = static_cast<fl::Policy>(state.range(1));
    const auto members = static_cast<std::uint8_t>(state.range(2));
    const auto delta_us = static_cast<Tick>(state.range(3));
    const bool lookahead = state.range(4) != 0;
    const bool queue = state.range(5) != 0;

    fl::DynamicConfig cfg;
    cfg.table_entries = 2 * flows;
    cfg.delta = delta_us * 1000;
    cfg.dre_period = 20'000;   // CONGA: T_dre 20 us, alpha 1/8 -> tau 160 us
    cfg.policy = policy;
    cfg.timing = queue ? fl::Timing::queue : fl::Timing::sender;
    fl::Dynamic dyn(cfg);
    // Queue timing: what the TX stage does per burst — a DrainClock with the
    // line-rate model (100 Gb/s per member: the stream offers ~62 Gb/s, so
    // queues drain; equal path delays, delta 50 us):
    // view() before the decision, then on_handed / on_sent per member. Its
    // cost is part of the figure.
    fl::DrainConfig dc;
    dc.members = members;
    dc.delta = 50'000;
    fl::DrainClock clock(dc);
    for (std::uint8_t m = 0; m < members; ++m) {
        clock.set_rate(m, 100'000'000'000ull);
        clock.use_evidence(m, false, true);
    }
    clock.assume_zero_path_delay();
    auto hand = [&](const std::uint8_t* o, const std::uint32_t* b, Tick now) {
        std::uint32_t k[flowteam::kMaxMembers] = {};
        std::uint64_t bytes[flowteam::kMaxMembers] = {};
        for (std::uint16_t i = 0; i < kBurstSize; ++i) {
            ++k[o[i] & 15];
            bytes[o[i] & 15] += b[i];
        }
        for (std::uint8_t m = 0; m < members; ++m) {
            if (k[m] == 0) continue;
            clock.on_handed(m, k[m]);
            clock.on_sent(m, k[m], bytes[m], now);
        }
    };

    MemberView view;
    view.n_members = members;
    for (std::uint8_t m = 0; m < members; ++m) {
        view.active[view.n_active++] = m;
        view.active_mask |= 1u << m;
        view.weight[m] = 1;
        view.capacity_bps[m] = 10'000'000'000ull;
    }

    std::mt19937_64 rng(42);
    std::vector<std::uint32_t> flow_hash(flows);
    for (auto& h : flow_hash) h = static_cast<std::uint32_t>(rng());
    const std::size_t stream_len = std::max<std::size_t>(std::size_t{1} << 20, 4 * std::size_t{flows});
    std::vector<std::uint32_t> stream(stream_len + kBurstSize);   // + one burst of look-ahead
    for (auto& h : stream) h = flow_hash[rng() % flows];
    std::vector<std::uint32_t> bytes(kBurstSize);
    for (auto& b : bytes) b = 64 + static_cast<std::uint32_t>(rng() % 1437);

    std::uint8_t out[kBurstSize];
    BurstView burst;
    burst.bytes = bytes.data();
    burst.n = kBurstSize;
    Tick now = 1'000'000;
    // Warm-up: every flow seen once (table populated, pages touched).
    for (std::size_t pos = 0; pos + kBurstSize <= stream_len; pos += kBurstSize) {
        burst.hash = stream.data() + pos;
        burst.now = now += kTicksPerBurst;
        if (queue) burst.drain = &clock.view(now);
        dyn.assign(burst, view, out);
        if (queue) hand(out, bytes.data(), now);
    }
    const fl::DynamicCounters before = dyn.counters();

    std::size_t pos = 0;
    for (auto _ : state) {
        burst.hash = stream.data() + pos;
        burst.now = now += kTicksPerBurst;
        if (queue) burst.drain = &clock.view(now);
        if (lookahead)
            dyn.assign(burst, view, out, burst.hash + kBurstSize, kBurstSize);
        else
            dyn.assign(burst, view, out);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
        if (queue) hand(out, bytes.data(), now);
        pos += kBurstSize;
        if (pos + kBurstSize > stream_len) pos = 0;
    }

    const double packets = static_cast<double>(state.iterations()) * kBurstSize;
    state.SetItemsProcessed(static_cast<std::int64_t>(packets));
    state.counters["Mpps"] = benchmark::Counter(packets / 1e6, benchmark::Counter::kIsRate);
    state.counters["ns_per_pkt"] =
        benchmark::Counter(packets / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["entry_B"] = static_cast<double>(fl::kFlowletEntryBytes);
    state.counters["table_MiB"] = static_cast<double>(dyn.memory_bytes()) / (1 << 20);
    const fl::DynamicCounters& after = dyn.counters();
    state.counters["starts_pct"] =
        100.0 * static_cast<double>(after.flowlet_starts - before.flowlet_starts) /
        std::max(1.0, static_cast<double>(after.packets - before.packets));
    state.SetLabel(std::string(fl::to_string(policy)) + (queue ? " queue" : " sender"));
}

void FlowletArgs(benchmark::internal::Benchmark* b) {
    b->ArgNames({"flows", "policy", "members", "delta_us", "lookahead", "queue"});
    for (const std::int64_t queue : {0, 1})
        for (const std::int64_t flows : {1 << 10, 1 << 16, 1 << 20})
            for (const std::int64_t policy : {0, 1, 2}) b->Args({flows, policy, 2, 500, 0, queue});
    // More members (longer policy loop), long-lived flows (no policy at all).
    b->Args({1 << 20, 0, 4, 500, 0, 0});
    b->Args({1 << 20, 0, 16, 500, 0, 0});
    b->Args({1 << 20, 0, 2, 1'000'000, 0, 0});
    b->Args({1 << 20, 0, 4, 500, 0, 1});
    // With look-ahead prefetch of the next burst.
    for (const std::int64_t flows : {1 << 16, 1 << 20})
        for (const std::int64_t policy : {0, 1, 2}) b->Args({flows, policy, 2, 500, 1, 0});
    b->Args({1 << 20, 0, 2, 1'000'000, 1, 0});
}

BENCHMARK(BM_FlowletAssign)->Apply(FlowletArgs)->Unit(benchmark::kNanosecond);

// Reference for reading the figures above on a given machine: the same table
// size and hash stream, but per packet only the index, a prefetch (16 ahead)
// and a 16-byte read-modify-write — the memory cost no flowlet table of this
// size can avoid. Args: {flows}.
void BM_FlowletTableFloor(benchmark::State& state) {
    struct alignas(16) Slot {
        std::uint64_t a;
        std::uint64_t b;
    };
    static_assert(sizeof(Slot) == fl::kFlowletEntryBytes);
    const auto flows = static_cast<std::uint32_t>(state.range(0));
    const std::uint32_t entries = std::max<std::uint32_t>(16, std::bit_ceil(2 * flows));
    // Allocated like the flowlet table: 2 MiB aligned, huge pages requested.
    const std::size_t bytes = std::max<std::size_t>(std::size_t{2} << 20, std::size_t{entries} * sizeof(Slot));
    std::unique_ptr<Slot, decltype(&std::free)> mem(static_cast<Slot*>(std::aligned_alloc(std::size_t{2} << 20, bytes)),
                                                    &std::free);
    if (!mem) {
        state.SkipWithError("allocation failed");
        return;
    }
#ifdef __linux__
    (void)::madvise(mem.get(), bytes, MADV_HUGEPAGE);
#endif
    Slot* const table = mem.get();
    std::fill(table, table + entries, Slot{0, 0});
    const unsigned shift = 64 - static_cast<unsigned>(std::countr_zero(entries));
    std::mt19937_64 rng(42);
    std::vector<std::uint32_t> flow_hash(flows);
    for (auto& h : flow_hash) h = static_cast<std::uint32_t>(rng());
    const std::size_t stream_len = std::max<std::size_t>(std::size_t{1} << 20, 4 * std::size_t{flows});
    std::vector<std::uint32_t> stream(stream_len + kBurstSize);
    for (auto& h : stream) h = flow_hash[rng() % flows];
    auto index = [shift](std::uint32_t h) {
        return static_cast<std::uint32_t>((std::uint64_t{h} * 0x9E3779B97F4A7C15ull) >> shift);
    };
    std::size_t pos = 0;
    std::uint64_t now = 0;
    for (auto _ : state) {
        const std::uint32_t* h = stream.data() + pos;
        std::uint32_t idx[2 * kBurstSize];
        for (unsigned i = 0; i < 2 * kBurstSize; ++i) idx[i] = index(h[i]);
        for (unsigned i = 0; i < 16; ++i) __builtin_prefetch(&table[idx[i]], 1, 3);
        now += kTicksPerBurst;
        for (unsigned i = 0; i < kBurstSize; ++i) {
            __builtin_prefetch(&table[idx[i + 16]], 1, 3);
            Slot& s = table[idx[i]];
            s.a = now | (s.a >> 56 << 56);
            s.b += h[i];
        }
        benchmark::ClobberMemory();
        pos += kBurstSize;
        if (pos + 2 * kBurstSize > stream.size()) pos = 0;
    }
    const double packets = static_cast<double>(state.iterations()) * kBurstSize;
    state.counters["ns_per_pkt"] =
        benchmark::Counter(packets / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_FlowletTableFloor)->ArgName("flows")->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kNanosecond);

} // namespace
