// SPDX-License-Identifier: BSD-3-Clause
// flowteam — compressdev throughput per core (Google Benchmark).
//
// 4 MiB of 4 KiB pages, compressed / decompressed in bursts of 32 pages on
// the main lcore's queue pair, through dataplane::CompressEngine:
//   mixed  — guest-like: 25 % text pages, 35 % structured pages (64-byte
//            chunks of zeros, small integers, pointers, text, noise), 20 %
//            sparse pages (mostly zero), 20 % random (encrypted/compressed
//            data); no all-zero pages (those are flagged, never compressed)
//   text   — words from a small dictionary
//   binary — the first 4 MiB of DPDK's own shared objects (the brief's
//            "4 MB of binary"; override with FT_COMPRESS_INPUT=<file>)
// Counters: Gbit/s (input bits per second for compress, output bits for
// decompress — as dpdk-test-compress-perf counts), cpu_Gbit/s (the same per
// second of CPU this thread actually got: the per-core figure on a shared
// machine), ratio (page bytes over
// wire bytes, raw pages included), cycles/B (TSC cycles inside the engine
// per input byte), raw% (pages that did not shrink and go raw).
//
//   ninja -C build-rel bench/compress/flowteam-bench-compress
//   build-rel/bench/compress/flowteam-bench-compress --benchmark_min_time=2
// Same bytes through DPDK's own tool (FT_COMPRESS_DUMP=<dir> writes them):
//   dpdk-test-compress-perf -l 0-1 --no-huge -m 512 --no-pci --file-prefix=cp$$
//     --vdev=compress_isal0 -- --driver-name compress_isal --input-file <dir>/mixed.dat
//     --seg-sz 4096 --max-num-sgl-segs 1 --compress-level 1 --num-iter 20 --ptest throughput
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/compress.h"
#include "dataplane/eal.h"
#include "dataplane/migrate.h"

namespace {

using flowteam::dataplane::CompressBuffers;
using flowteam::dataplane::CompressConfig;
using flowteam::dataplane::CompressEngine;
using flowteam::dataplane::PageIn;
using flowteam::dataplane::PageOut;
using flowteam::dataplane::PageStatus;

constexpr std::uint32_t kPage = 4096;
constexpr std::size_t kPages = 1024;        // 4 MiB
constexpr std::size_t kBatch = 32;

// Thread CPU time: on a shared machine the wall-clock rate undercounts what
// one core does; cpu_Gbit/s is the rate per second of CPU this thread got.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ----------------------------------------------------------------- corpus

void fill_text(std::uint8_t* p, std::size_t n, std::mt19937_64& rng) {
    static const char* const kWords[] = {"the", "migration", "page", "of", "memory", "guest", "kernel",
                                         "and", "to", "a", "network", "team", "member", "flow", "in",
                                         "packet", "virtual", "machine", "is", "dirty", "round", "copy",
                                         "error", "return", "value", "struct", "buffer", "count"};
    constexpr std::size_t kN = sizeof(kWords) / sizeof(kWords[0]);
    std::size_t i = 0;
    while (i < n) {
        const char* w = kWords[rng() % kN];
        for (; *w != '\0' && i < n; ++w) p[i++] = static_cast<std::uint8_t>(*w);
        if (i < n) p[i++] = (rng() % 12 == 0) ? '\n' : ' ';
    }
}

void fill_random(std::uint8_t* p, std::size_t n, std::mt19937_64& rng) {
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(rng());
}

void fill_structured(std::uint8_t* p, std::mt19937_64& rng) {
    for (std::size_t off = 0; off < kPage; off += 64) {
        std::uint8_t* c = p + off;
        const unsigned kind = static_cast<unsigned>(rng() % 10);
        if (kind < 4) continue;
        if (kind < 6) {
            for (std::size_t i = 0; i < 64; i += 4) {
                const auto v = static_cast<std::uint32_t>(rng() % 256);
                std::memcpy(c + i, &v, 4);
            }
        } else if (kind < 8) {
            for (std::size_t i = 0; i < 64; i += 8) {
                const std::uint64_t v = 0x00007f3a00000000ull | ((rng() & 0xFFFFFull) << 3);
                std::memcpy(c + i, &v, 8);
            }
        } else if (kind < 9) {
            fill_text(c, 64, rng);
        } else {
            fill_random(c, 64, rng);
        }
    }
}

std::vector<std::uint8_t> make_corpus(const std::string& kind) {
    std::vector<std::uint8_t> buf(kPages * kPage, 0);
    std::mt19937_64 rng(20240611);
    if (kind == "binary") {
        std::vector<std::string> files;
        if (const char* f = std::getenv("FT_COMPRESS_INPUT")) files.emplace_back(f);
        files.emplace_back("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_mlx5.so.23.0");
        files.emplace_back("/usr/bin/dpdk-testpmd");
        files.emplace_back("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_i40e.so.23.0");
        files.emplace_back("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_ice.so.23.0");
        std::size_t have = 0;
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            while (in && have < buf.size()) {
                in.read(reinterpret_cast<char*>(buf.data() + have), static_cast<std::streamsize>(buf.size() - have));
                have += static_cast<std::size_t>(in.gcount());
            }
            if (have == buf.size()) break;
        }
        if (have < buf.size()) return {};
        return buf;
    }
    for (std::size_t p = 0; p < kPages; ++p) {
        std::uint8_t* page = buf.data() + p * kPage;
        if (kind == "text") {
            fill_text(page, kPage, rng);
            continue;
        }
        const unsigned r = static_cast<unsigned>(rng() % 100);
        if (r < 25) {
            fill_text(page, kPage, rng);
        } else if (r < 60) {
            fill_structured(page, rng);
        } else if (r < 80) {
            for (int k = 0; k < 4; ++k) fill_random(page + (rng() % 64) * 64, 64, rng);  // sparse
        } else {
            fill_random(page, kPage, rng);
        }
    }
    return buf;
}

const std::vector<std::uint8_t>& corpus(const std::string& kind) {
    static std::map<std::string, std::vector<std::uint8_t>> cache;
    auto it = cache.find(kind);
    if (it == cache.end()) it = cache.emplace(kind, make_corpus(kind)).first;
    return it->second;
}

// ---------------------------------------------------------------- engines

std::map<std::string, std::unique_ptr<CompressEngine>>& engines() {
    static std::map<std::string, std::unique_ptr<CompressEngine>> m;
    return m;
}

CompressEngine& engine(const std::string& driver, CompressBuffers b, int level) {
    const std::string key = driver + "/" + flowteam::dataplane::to_string(b) + "/" + std::to_string(level);
    auto& m = engines();
    auto it = m.find(key);
    if (it == m.end()) {
        CompressConfig c;
        c.driver = driver;
        c.buffers = b;
        c.level = level;
        it = m.emplace(key, std::make_unique<CompressEngine>(c)).first;
    }
    return *it->second;
}

// ------------------------------------------------------------- benchmarks

void run_compress(benchmark::State& state, const std::string& driver, const std::string& kind, CompressBuffers b,
                  int level) {
    const auto& data = corpus(kind);
    if (data.empty()) {
        state.SkipWithError("no input for this corpus");
        return;
    }
    CompressEngine& e = engine(driver, b, level);
    std::vector<std::uint8_t> out(kPages * kPage);
    std::vector<PageIn> in(kPages);
    std::vector<PageOut> res(kPages);
    for (std::size_t p = 0; p < kPages; ++p) in[p] = {data.data() + p * kPage, kPage};
    e.reset_stats();
    const double cpu0 = thread_cpu_seconds();
    for (auto _ : state) {
        for (std::size_t p = 0; p < kPages; ++p) res[p] = {out.data() + p * kPage, kPage, 0, PageStatus::kOk};
        for (std::size_t p = 0; p < kPages; p += kBatch) e.compress_batch(&in[p], kBatch, &res[p]);
        benchmark::DoNotOptimize(res.data());
        benchmark::ClobberMemory();
    }
    const double cpu = thread_cpu_seconds() - cpu0;
    const auto st = e.stats();
    const auto& c = st.compress;
    state.counters["cpu_Gbit/s"] = cpu > 0 ? static_cast<double>(c.bytes_in) * 8 / 1e9 / cpu : 0.0;
    state.SetBytesProcessed(static_cast<std::int64_t>(c.bytes_in));
    state.counters["Gbit/s"] = benchmark::Counter(static_cast<double>(c.bytes_in) * 8 / 1e9, benchmark::Counter::kIsRate);
    state.counters["ratio"] = c.ratio();
    state.counters["cycles/B"] = c.cycles_per_byte();
    state.counters["raw%"] = c.pages_in ? 100.0 * static_cast<double>(c.not_shrunk + c.no_room) /
                                              static_cast<double>(c.pages_in)
                                        : 0.0;
    state.counters["engine_Gbit/s"] = st.compress_gbps();
    if (c.errors() != 0) state.SkipWithError("compress errors");
}

void run_decompress(benchmark::State& state, const std::string& driver, const std::string& kind, CompressBuffers b,
                    int level) {
    const auto& data = corpus(kind);
    if (data.empty()) {
        state.SkipWithError("no input for this corpus");
        return;
    }
    CompressEngine& e = engine(driver, b, level);
    // Compress once; decompress only the pages that shrank (raw pages are copied, not inflated).
    std::vector<std::uint8_t> wire(kPages * kPage);
    std::vector<PageIn> in(kPages);
    std::vector<PageOut> res(kPages);
    for (std::size_t p = 0; p < kPages; ++p) {
        in[p] = {data.data() + p * kPage, kPage};
        res[p] = {wire.data() + p * kPage, kPage, 0, PageStatus::kOk};
    }
    for (std::size_t p = 0; p < kPages; p += kBatch) e.compress_batch(&in[p], kBatch, &res[p]);
    std::vector<PageIn> streams;
    for (std::size_t p = 0; p < kPages; ++p)
        if (res[p].status == PageStatus::kOk) streams.push_back({wire.data() + p * kPage, res[p].len});
    std::vector<std::uint8_t> back(streams.size() * kPage);
    std::vector<PageOut> dres(streams.size());
    e.reset_stats();
    const double cpu0 = thread_cpu_seconds();
    for (auto _ : state) {
        for (std::size_t p = 0; p < streams.size(); ++p) dres[p] = {back.data() + p * kPage, kPage, 0, PageStatus::kOk};
        for (std::size_t p = 0; p < streams.size(); p += kBatch)
            e.decompress_batch(&streams[p], std::min(kBatch, streams.size() - p), &dres[p], kPage);
        benchmark::DoNotOptimize(dres.data());
        benchmark::ClobberMemory();
    }
    const double cpu = thread_cpu_seconds() - cpu0;
    const auto st = e.stats();
    const auto& d = st.decompress;
    state.counters["cpu_Gbit/s"] = cpu > 0 ? static_cast<double>(d.bytes_out) * 8 / 1e9 / cpu : 0.0;
    state.SetBytesProcessed(static_cast<std::int64_t>(d.bytes_out));
    state.counters["Gbit/s"] = benchmark::Counter(static_cast<double>(d.bytes_out) * 8 / 1e9, benchmark::Counter::kIsRate);
    state.counters["cycles/B"] = d.bytes_out ? static_cast<double>(d.cycles) / static_cast<double>(d.bytes_out) : 0.0;
    state.counters["pages"] = static_cast<double>(streams.size());
    state.counters["engine_Gbit/s"] = st.decompress_gbps();
    if (d.errors() != 0) state.SkipWithError("decompress errors");
}

// Copy vs zero-copy TX of page bodies (dataplane::FrameBodyProbe): 32 frames
// per iteration, header mbuf + body copied in, or + a segment attached to the
// source memory (64 MiB, walked in order: bodies come from memory, not cache),
// then freed as after transmission. ns per frame and Gbit/s of body.
void run_frame_body(benchmark::State& state, std::uint32_t body, bool zero_copy) {
    static std::vector<std::uint8_t> guest(64u << 20, 0x5A);
    flowteam::dataplane::FrameBodyProbe probe(guest.data(), guest.size(), body);
    std::uint64_t bytes = 0, frames = 0;
    const double cpu0 = thread_cpu_seconds();
    for (auto _ : state) {
        bytes += probe.run(32, zero_copy);
        frames += 32;
    }
    const double cpu = thread_cpu_seconds() - cpu0;
    state.counters["cpu_ns/frame"] = frames ? cpu * 1e9 / static_cast<double>(frames) : 0.0;
    state.counters["cpu_Gbit/s"] = cpu > 0 ? static_cast<double>(bytes) * 8 / 1e9 / cpu : 0.0;
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void register_all() {
    for (const std::uint32_t body : {1408u})
        for (const bool zc : {false, true})
            benchmark::RegisterBenchmark(("BM_FrameBody/" + std::string(zc ? "zero-copy" : "copy") + "/body:" +
                                          std::to_string(body)).c_str(),
                                         [=](benchmark::State& s) { run_frame_body(s, body, zc); });
    struct Case {
        const char* driver;
        CompressBuffers buffers;
    };
    const Case cases[] = {{flowteam::dataplane::kCompressIsal, CompressBuffers::kExternal},
                          {flowteam::dataplane::kCompressIsal, CompressBuffers::kCopy},
                          {flowteam::dataplane::kCompressZlib, CompressBuffers::kExternal},
                          {flowteam::dataplane::kCompressZlib, CompressBuffers::kCopy}};
    for (const char* kind : {"mixed", "text", "binary"}) {
        for (const Case& c : cases) {
            const std::string suffix = std::string(c.driver) + "/" + kind + "/" +
                                       flowteam::dataplane::to_string(c.buffers) + "/level:1";
            const std::string drv = c.driver;
            const std::string k = kind;
            const CompressBuffers b = c.buffers;
            benchmark::RegisterBenchmark(("BM_Compress/" + suffix).c_str(),
                                         [=](benchmark::State& s) { run_compress(s, drv, k, b, 1); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
            benchmark::RegisterBenchmark(("BM_Decompress/" + suffix).c_str(),
                                         [=](benchmark::State& s) { run_decompress(s, drv, k, b, 1); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    std::unique_ptr<flowteam::dataplane::Eal> eal;
    try {
        flowteam::dataplane::EalOptions opts;
        opts.program = "flowteam-bench-compress";
        opts.telemetry = false;
        eal = std::make_unique<flowteam::dataplane::Eal>(opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "flowteam-bench-compress: %s\n", e.what());
        return 1;
    }
    // FT_COMPRESS_DUMP=<dir>: write the corpora (<dir>/<kind>.dat) so that
    // dpdk-test-compress-perf can run on the very same bytes.
    if (const char* dir = std::getenv("FT_COMPRESS_DUMP")) {
        for (const char* kind : {"mixed", "text", "binary"}) {
            const auto& data = corpus(kind);
            std::ofstream out(std::string(dir) + "/" + kind + ".dat", std::ios::binary);
            out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
        }
    }
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    engines().clear();
    benchmark::Shutdown();
    eal.reset();
    return 0;
}
