// SPDX-License-Identifier: BSD-3-Clause
// Microbenchmarks of the team's outbound distribution: per-packet cost of
// Team::assign() for each mode, in bursts of kBurstSize (32), plus the
// `hash % n_active` baseline and the cost of a membership change.
//
// Counters: items_per_second (packets/s, i.e. Mpps when printed as M/s) and
// time/pkt (CPU time per packet).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "common/types.h"
#include "teaming/indirection.h"
#include "teaming/members.h"
#include "teaming/team.h"

namespace {

using namespace flowteam;
using namespace flowteam::teaming;

// Pre-generated traffic: kBursts bursts of 32 packets drawn from `flows`
// flows (random 32-bit hashes), 1500 B or small packets, 256 vports.
struct Workload {
    static constexpr std::size_t kBursts = 1024;
    explicit Workload(std::uint32_t flows) {
        std::mt19937 rng(12345);
        std::vector<std::uint32_t> fh(flows);
        for (auto& h : fh) h = rng();
        const std::size_t n = kBursts * kBurstSize;
        hash.resize(n);
        bytes.resize(n);
        vport.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t f = rng() % flows;
            hash[i] = fh[f];
            bytes[i] = rng() % 4 == 0 ? 64 + rng() % 400 : 1500;
            vport[i] = f % 256;
        }
    }
    BurstView burst(std::size_t k, Tick now) const {
        BurstView b;
        const std::size_t off = (k % kBursts) * kBurstSize;
        b.hash = hash.data() + off;
        b.bytes = bytes.data() + off;
        b.vport = vport.data() + off;
        b.n = kBurstSize;
        b.now = now;
        return b;
    }
    std::vector<std::uint32_t> hash, bytes, vport;
};

// items_per_second = packets per second (printed as e.g. 500M/s = 500 Mpps);
// time/pkt = CPU time per packet (printed as e.g. 1.7ns).
void set_rate_counters(benchmark::State& state, std::uint64_t packets) {
    state.SetItemsProcessed(static_cast<std::int64_t>(packets));
    state.counters["time/pkt"] = benchmark::Counter(static_cast<double>(packets),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// range(0): mode (enum value); range(1): members.
void BM_TeamAssign(benchmark::State& state) {
    const auto mode = static_cast<Mode>(state.range(0));
    const auto n = static_cast<std::uint8_t>(state.range(1));
    std::vector<MemberInfo> members(n);
    TeamConfig cfg;
    cfg.mode = mode;
    cfg.dynamic.delta = 50'000;           // 50 µs in ns ticks
    cfg.dynamic.table_entries = 1u << 16;
    Team team(cfg, members.data(), n);
    static const Workload w(4096);
    alignas(64) std::uint8_t out[kBurstSize];
    std::size_t k = 0;
    Tick now = 0;
    for (auto _ : state) {
        now += 2'000; // ~32 x 1500 B at 200 Gb/s
        team.assign(w.burst(k++, now), out);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    set_rate_counters(state, k * kBurstSize);
    state.SetLabel(to_string(mode));
}

void TeamArgs(benchmark::internal::Benchmark* b) {
    for (Mode m : {Mode::hash, Mode::vport, Mode::dynamic, Mode::roundrobin, Mode::flowcell, Mode::active_backup})
        for (int n : {2, 4, 8}) b->Args({static_cast<int>(m), n});
    b->ArgNames({"mode", "members"});
}
BENCHMARK(BM_TeamAssign)->Apply(TeamArgs);

// Weighted roundrobin (10G + 1G + 1G): the non-rotation path.
void BM_TeamAssignWeightedRoundRobin(benchmark::State& state) {
    std::vector<MemberInfo> members = {{10'000'000'000ull, 1, true}, {1'000'000'000ull, 1, true},
                                       {1'000'000'000ull, 1, true}};
    TeamConfig cfg;
    cfg.mode = Mode::roundrobin;
    Team team(cfg, members.data(), 3);
    static const Workload w(4096);
    alignas(64) std::uint8_t out[kBurstSize];
    std::size_t k = 0;
    for (auto _ : state) {
        team.assign(w.burst(k++, 0), out);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    set_rate_counters(state, k * kBurstSize);
}
BENCHMARK(BM_TeamAssignWeightedRoundRobin);

// Baseline: the bare indirection lookup vs DPDK net_bond's `hash % n_active`.
void BM_IndirectionLookup(benchmark::State& state) {
    std::vector<MemberInfo> members(4);
    MemberSet set(members.data(), 4);
    IndirectionTable t(kDefaultBuckets);
    t.build(set.view());
    static const Workload w(4096);
    alignas(64) std::uint8_t out[kBurstSize];
    std::size_t k = 0;
    for (auto _ : state) {
        const BurstView b = w.burst(k++, 0);
        assign_hash(b, t, out);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    set_rate_counters(state, k * kBurstSize);
}
BENCHMARK(BM_IndirectionLookup);

void BM_ModActiveBaseline(benchmark::State& state) {
    std::vector<MemberInfo> members(4);
    MemberSet set(members.data(), 4);
    static const Workload w(4096);
    alignas(64) std::uint8_t out[kBurstSize];
    std::size_t k = 0;
    for (auto _ : state) {
        const BurstView b = w.burst(k++, 0);
        const MemberView v = set.view();
        benchmark::DoNotOptimize(v);
        for (std::uint16_t i = 0; i < b.n; ++i) out[i] = v.active[b.hash[i] % v.n_active];
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    set_rate_counters(state, k * kBurstSize);
}
BENCHMARK(BM_ModActiveBaseline);

// A member going down and coming back (table + vport re-pin), per flap.
// range(0): buckets.
void BM_MemberFlap(benchmark::State& state) {
    std::vector<MemberInfo> members(4);
    TeamConfig cfg;
    cfg.mode = Mode::vport;
    cfg.buckets = static_cast<std::uint32_t>(state.range(0));
    Team team(cfg, members.data(), 4);
    static const Workload w(4096);
    alignas(64) std::uint8_t out[kBurstSize];
    for (std::size_t k = 0; k < 64; ++k) team.assign(w.burst(k, 0), out); // pin the vports
    for (auto _ : state) {
        team.set_member_up(1, false);
        team.set_member_up(1, true);
    }
    state.counters["buckets_moved/flap"] =
        benchmark::Counter(static_cast<double>(team.counters().bucket_moves), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_MemberFlap)->Arg(256)->Arg(1024)->Arg(4096)->Unit(benchmark::kMicrosecond);

} // namespace
