// SPDX-License-Identifier: BSD-3-Clause
// migration/: wire encode+decode per frame, page checksum / zero test per
// page, receiver apply per frame, and a whole in-memory migration per core.
#include <benchmark/benchmark.h>
#include <cstring>
#include <memory>
#include <vector>

#include "migration/memory.h"
#include "migration/receiver.h"
#include "migration/scheduler.h"
#include "migration/sender.h"
#include "migration/wire.h"

namespace {

using namespace flowteam;
using namespace flowteam::migration;

WireLimits bench_limits() {
    WireLimits l;
    l.vm_count = 6;
    l.channels = 4;
    l.pages.assign(6, 65536);
    return l;
}

// One page fragment: encode (header + body copy) then decode with full validation.
void BM_WireEncodeDecodeFrame(benchmark::State& state) {
    const std::uint32_t mtu = static_cast<std::uint32_t>(state.range(0));
    const std::uint32_t frag = page_fragment_bytes(mtu);
    const WireLimits lim = bench_limits();
    std::vector<std::uint8_t> page(kPageSize, 0x5A), buf(udp_payload_capacity(mtu));
    FrameHeader h;
    h.type = FrameType::page;
    h.vm = 3;
    h.channel = 2;
    h.round = 1;
    h.page_len = kPageSize;
    h.payload_len = static_cast<std::uint16_t>(frag);
    std::uint32_t seq = 0;
    for (auto _ : state) {
        h.seq = seq++;
        h.page = seq & 0xFFFF;
        const std::size_t n = encode_frame(h, page.data(), buf.data(), buf.size());
        FrameView v;
        const WireStatus s = decode(buf.data(), n, lim, v);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(v.body);
    }
    state.counters["frames/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["Gb/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * (kHeaderSize + frag) * 8 / 1e9,
                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WireEncodeDecodeFrame)->Arg(1500)->Arg(9000);

// Zero-copy TX: header only (the body stays in guest memory), then decode.
void BM_WireHeaderOnlyEncodeDecode(benchmark::State& state) {
    const WireLimits lim = bench_limits();
    std::vector<std::uint8_t> buf(kHeaderSize + 1408);
    FrameHeader h;
    h.type = FrameType::page;
    h.round = 1;
    h.page_len = kPageSize;
    h.payload_len = 1408;
    std::uint32_t seq = 0;
    for (auto _ : state) {
        h.seq = seq++;
        encode_header(h, buf.data(), buf.size());
        FrameView v;
        benchmark::DoNotOptimize(decode(buf.data(), buf.size(), lim, v));
    }
    state.counters["frames/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WireHeaderOnlyEncodeDecode);

// Per-page checksum over `range(0)` pages of PRNG content (1 = L1-resident, 4096 = 16 MiB, from memory).
void BM_PageChecksum(benchmark::State& state) {
    const std::uint32_t pages = static_cast<std::uint32_t>(state.range(0));
    PageImage img(pages);
    std::uint64_t x = 1;
    for (std::uint64_t i = 0; i < img.bytes() / 8; ++i) {
        x = mix64(x);
        std::memcpy(img.page(0) + i * 8, &x, 8);
    }
    std::uint32_t p = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(page_checksum(img.page(p)));
        if (++p == pages) p = 0;
    }
    state.counters["pages/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * kPageSize / 1e9,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PageChecksum)->Arg(1)->Arg(4096);

// Zero-page test on a zero page (the worst case: every byte is read).
void BM_PageIsZero(benchmark::State& state) {
    PageImage img(1);
    for (auto _ : state)
        benchmark::DoNotOptimize(page_is_zero(img.page(0)));
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * kPageSize / 1e9,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PageIsZero);

MemoryConfig bench_mem(std::uint32_t pages, std::uint16_t vms = 1) {
    MemoryConfig c;
    VmSpec s;
    s.mem_bytes = std::uint64_t{pages} * kPageSize;
    s.mix = {0.0, 0.0}; // all incompressible: every page is a full body
    c.vms.assign(vms, s);
    return c;
}

// Receiver: decode + apply one in-order raw fragment (memcpy into the
// destination, seq tracking, ack run).
void BM_ReceiverApplyFrame(benchmark::State& state) {
    const std::uint32_t mtu = static_cast<std::uint32_t>(state.range(0));
    const std::uint32_t pages = 4096;
    VmMemory mem(bench_mem(pages));
    ReceiverConfig rc;
    rc.channels = 1;
    rc.mtu = mtu;
    auto rx = std::make_unique<Receiver>(mem, rc);
    const std::uint32_t frag = page_fragment_bytes(mtu);
    const std::uint32_t per_page = frames_per_page(mtu);
    // pre-built frames of every page, round 1
    std::vector<std::vector<std::uint8_t>> frames;
    std::uint32_t seq = 0;
    for (std::uint32_t p = 0; p < pages; ++p)
        for (std::uint32_t off = 0; off < kPageSize; off += frag) {
            FrameHeader h;
            h.type = FrameType::page;
            h.round = 1;
            h.page = p;
            h.offset = static_cast<std::uint16_t>(off);
            h.payload_len = static_cast<std::uint16_t>(std::min(frag, kPageSize - off));
            h.page_len = kPageSize;
            h.seq = seq++;
            std::vector<std::uint8_t> f(kHeaderSize + h.payload_len);
            encode_frame(h, mem.source_page(0, p) + off, f.data(), f.size());
            frames.push_back(std::move(f));
        }
    std::size_t i = 0;
    std::uint64_t bytes = 0;
    for (auto _ : state) {
        const auto& f = frames[i];
        benchmark::DoNotOptimize(rx->on_frame(0, f.data(), f.size()));
        bytes += f.size();
        if (++i == frames.size()) {
            // replaying the same seqs would measure the late/duplicate path: start a fresh receiver
            state.PauseTiming();
            rx = std::make_unique<Receiver>(mem, rc);
            i = 0;
            state.ResumeTiming();
        }
    }
    state.counters["frames/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["Gb/s"] =
        benchmark::Counter(static_cast<double>(bytes) * 8 / 1e9, benchmark::Counter::kIsRate);
    state.counters["frames/page"] = per_page;
}
BENCHMARK(BM_ReceiverApplyFrame)->Arg(1500)->Arg(9000);

// A whole migration of one 16 MiB idle VM, sender -> receiver -> back channel,
// in memory on one core: the pure model's ceiling.
void BM_MigrateInMemory(benchmark::State& state) {
    const std::uint32_t mtu = static_cast<std::uint32_t>(state.range(0));
    const std::uint32_t pages = 4096;
    std::vector<std::uint8_t> buf(udp_payload_capacity(mtu)), fb(udp_payload_capacity(mtu));
    std::uint64_t page_bytes = 0;
    for (auto _ : state) {
        state.PauseTiming();
        VmMemory mem(bench_mem(pages));
        SchedulerConfig sc;
        sc.precopy.channels = 2;
        Scheduler sched(mem, sc);
        SenderConfig tc;
        tc.mtu = mtu;
        Sender tx(mem, sched, tc);
        ReceiverConfig rc;
        rc.mtu = mtu;
        Receiver rx(mem, rc);
        state.ResumeTiming();
        Tick now = 0;
        sched.start(now);
        while (!sched.done()) {
            now += 1000;
            sched.poll(now);
            for (int k = 0; k < 64; ++k) {
                TxFrame f;
                const std::size_t n = tx.next_frame(now, buf.data(), buf.size(), f);
                if (n == 0) break;
                rx.on_frame(now, buf.data(), n);
            }
            rx.poll(now);
            FeedbackFrame ff;
            for (std::size_t n; (n = rx.next_feedback(now, fb.data(), fb.size(), ff)) != 0;)
                tx.on_feedback(now, fb.data(), n);
        }
        page_bytes += std::uint64_t{pages} * kPageSize;
        benchmark::DoNotOptimize(rx.vm_counters(0).completed_copies);
    }
    state.counters["Gb/s"] =
        benchmark::Counter(static_cast<double>(page_bytes) * 8 / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MigrateInMemory)->Arg(1500)->Arg(9000)->Unit(benchmark::kMillisecond);

} // namespace

namespace {

// Forged back-channel frames (issue #15 finding 1): one 8.9 KB ack or
// page_request frame (MTU 9000: 743 ack / 557 request entries) against a
// 128 MiB VM (32768 pages) whose pages are all in flight. Every entry names
// the whole VM and a round whose copies were all superseded (round 1 while
// every page's copy in flight is of round 2, on both channels), so it matches
// nothing: the state does not change and every iteration costs the same.
// range(0): 0 = ack, 1 = page_request.
struct ForgedFixture {
    static constexpr std::uint32_t kPages = 32768; // 128 MiB
    static constexpr std::uint32_t kMtu = 9000;
    VmMemory mem{bench_mem(kPages)};
    Scheduler sched{mem, [] {
                        SchedulerConfig sc;
                        sc.precopy.channels = 2;
                        return sc;
                    }()};
    Sender tx{mem, sched, [] {
                  SenderConfig c;
                  c.mtu = kMtu;
                  return c;
              }()};
    std::vector<std::uint8_t> frame = std::vector<std::uint8_t>(udp_payload_capacity(kMtu));
    std::size_t len = 0;

    explicit ForgedFixture(bool ack) {
        sched.start(0);
        sched.poll(0);
        Precopy& pc = sched.migration(0);
        PageRef refs[256];
        Tick now = 1;
        // pass 1: every page in flight (round 1)
        while (pc.pass() <= 1 && pc.next_pages(now, 256, refs) != 0 && !pc.pass_exhausted())
            ;
        // every page of round 1 reported lost on both channels: pass 2 re-sends them all
        for (std::uint16_t ch = 0; ch < 2; ++ch) {
            PageRequest q;
            q.round = 1;
            q.channel = ch;
            q.first_page = 0;
            q.last_page = kPages - 1;
            pc.on_page_request(now, q);
        }
        std::uint32_t handed = 0;
        while (handed < kPages) {
            const std::uint32_t n = pc.next_pages(++now, 256, refs);
            if (n == 0) break;
            handed += n;
        }
        FrameHeader h;
        h.vm = 0;
        h.channel = 0;
        if (ack) {
            std::vector<AckEntry> e(max_ack_entries(kMtu));
            for (auto& a : e) {
                a.round = 1;
                a.first_page = 0;
                a.count = kPages;
            }
            len = encode_acks(h, e.data(), static_cast<std::uint32_t>(e.size()), frame.data(), frame.size());
        } else {
            std::vector<PageRequest> e(max_request_entries(kMtu));
            for (std::size_t i = 0; i < e.size(); ++i) {
                e[i].round = 1;
                e[i].channel = static_cast<std::uint16_t>(i & 1);
                e[i].first_page = 0;
                e[i].last_page = kPages - 1;
            }
            len = encode_requests(h, e.data(), static_cast<std::uint32_t>(e.size()), frame.data(),
                                  frame.size());
        }
    }
};

void BM_ForgedFeedbackFrame(benchmark::State& state) {
    const bool ack = state.range(0) == 0;
    auto fx = std::make_unique<ForgedFixture>(ack);
    const std::uint64_t unconfirmed = fx->sched.migration(0).stats(0).unconfirmed;
    for (auto _ : state)
        benchmark::DoNotOptimize(fx->tx.on_feedback(1'000'000, fx->frame.data(), fx->len));
    state.SetLabel(ack ? "ack" : "page_request");
    state.counters["frame_bytes"] = static_cast<double>(fx->len);
    state.counters["in_flight"] = static_cast<double>(unconfirmed);
    state.counters["frames/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ForgedFeedbackFrame)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

} // namespace
