// SPDX-License-Identifier: BSD-3-Clause
// Microbenchmarks: emulated member link (try_send + deliver per packet),
// traffic generation and probe frame build/parse.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "common/types.h"
#include "emulation/link.h"
#include "emulation/probe_header.h"
#include "emulation/traffic.h"

namespace {

using namespace flowteam;
using namespace flowteam::emulation;

// A 10 Gb/s link, simulated time advancing exactly one burst's serialisation
// per iteration (steady state: the queue neither grows nor starves).
// range(0): burst size; range(1): 0 plain, 1 jitter, 2 background load 0.5.
void BM_LinkSendDeliver(benchmark::State& state) {
    const auto burst = static_cast<std::uint16_t>(state.range(0));
    LinkConfig c;
    c.rate_bps = 10'000'000'000ull;
    c.delay_ns = 10'000;
    c.queue_packets = 1024;
    c.mode = QueueMode::taildrop;
    if (state.range(1) == 1) {
        c.jitter_ns = 5'000;
    } else if (state.range(1) == 2) {
        c.background_load = 0.5;
    }
    EmulatedLink<void*> link(c, 1'000'000'000ull);
    std::vector<void*> pk(burst), dropped(burst), out(kBurstSize * 4);
    std::vector<std::uint32_t> bytes(burst, 1500);
    for (std::uint16_t i = 0; i < burst; ++i) {
        pk[i] = reinterpret_cast<void*>(static_cast<std::uintptr_t>(i + 1));
    }
    // 1500 B at 10 Gb/s = 1200 ns per packet; with 50 % cross traffic twice that.
    const Tick step = static_cast<Tick>(burst) * (state.range(1) == 2 ? 2400u : 1200u);
    Tick now = 0;
    std::uint64_t delivered = 0;
    for (auto _ : state) {
        std::uint16_t nd = 0;
        const std::uint16_t k = link.try_send(pk.data(), bytes.data(), burst, now, dropped.data(), &nd);
        benchmark::DoNotOptimize(k);
        std::uint16_t got;
        do {
            got = link.deliver(out.data(), static_cast<std::uint16_t>(out.size()), now);
            delivered += got;
        } while (got == out.size());
        now += step;
    }
    benchmark::DoNotOptimize(delivered);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * burst);
    state.counters["dropped"] = static_cast<double>(link.counters().dropped_total());
    state.counters["pps"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * burst, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LinkSendDeliver)->ArgsProduct({{1, 8, 32}, {0, 1, 2}});

// Traffic generator: 64 unpaced elephants, bursts of 32 descriptors.
void BM_TrafficGenerate(benchmark::State& state) {
    TrafficConfig c;
    c.n_flows = 64;
    TrafficGenerator g(c, 1'000'000'000ull);
    PacketDesc out[kBurstSize];
    Tick now = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(g.generate(now, out, kBurstSize));
        now += 1000;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBurstSize);
}
BENCHMARK(BM_TrafficGenerate);

// Build (range(1) = zero fill) and parse one probe frame of range(0) bytes.
void BM_ProbeBuildParse(benchmark::State& state) {
    const auto bytes = static_cast<std::uint32_t>(state.range(0));
    PacketDesc d;
    TrafficGenerator::flow_tuple(7, 1, 4000, d);
    d.bytes = bytes;
    std::vector<std::uint8_t> buf(bytes);
    const MacAddr dst = {2, 0, 0, 0, 0, 1};
    for (auto _ : state) {
        d.seq += 1;
        benchmark::DoNotOptimize(build_probe_frame(d, dst, buf.data(), buf.size(), state.range(1) != 0));
        PacketDesc r;
        benchmark::DoNotOptimize(parse_probe_frame(buf.data(), buf.size(), r));
        benchmark::DoNotOptimize(r.seq);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ProbeBuildParse)->ArgsProduct({{74, 1514}, {0, 1}});

} // namespace
