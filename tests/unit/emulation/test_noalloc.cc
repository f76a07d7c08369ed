// SPDX-License-Identifier: BSD-3-Clause
// Unit test: the per-packet paths of the emulation layer never allocate.
// Global operator new is replaced for this binary and counts allocations
// while a scope is armed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <vector>

#include "emulation/flowsize.h"
#include "emulation/link.h"
#include "emulation/probe_header.h"
#include "emulation/traffic.h"

namespace {
bool g_counting = false;
std::size_t g_allocs = 0;

void* counted_alloc(std::size_t n) {
    if (g_counting) {
        ++g_allocs;
    }
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    return p;
}
void* counted_alloc_nothrow(std::size_t n) noexcept {
    if (g_counting) {
        ++g_allocs;
    }
    return std::malloc(n == 0 ? 1 : n);
}
void* counted_alloc_aligned(std::size_t n, std::align_val_t a) {
    if (g_counting) {
        ++g_allocs;
    }
    const auto al = static_cast<std::size_t>(a);
    void* p = std::aligned_alloc(al, (n + al - 1) / al * al + (n == 0 ? al : 0));
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    return p;
}
} // namespace

// Every replaceable form, so that no allocation reaches the sanitizer's
// operator new while its matching delete lands here (or the reverse).
void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc_nothrow(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc_nothrow(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    try {
        return counted_alloc_aligned(n, a);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
    return operator new(n, a, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

using namespace flowteam;
using namespace flowteam::emulation;

TEST(NoAlloc, PerPacketPathsDoNotAllocate) {
    LinkConfig lc;
    lc.delay_ns = 20'000;
    lc.jitter_ns = 5'000;
    lc.background_load = 0.3;
    lc.mode = QueueMode::taildrop;
    lc.queue_packets = 64;
    EmulatedLink<void*> link(lc, 1'000'000'000ull);
    std::vector<void*> lost(link.ring_capacity());

    TrafficConfig tc;
    tc.mode = ArrivalMode::poisson;
    tc.capacity_bps = 10'000'000'000ull;
    tc.load = 0.7;
    tc.sizes = FlowSizeDist::parse("1000 0.5\n200000 1\n", "small");
    tc.pace_bps = 5'000'000'000ull;
    tc.gap_every_bytes = 20'000;
    tc.gap_ns = 10'000;
    TrafficGenerator gen(tc, 1'000'000'000ull);
    const FlowSizeDist sizes = FlowSizeDist::parse("1000 0.5\n200000 1\n", "small");
    Rng rng(1);
    std::vector<std::uint8_t> frame(kMaxProbeFrameBytes);
    const MacAddr dst = {2, 0, 0, 0, 0, 1};

    PacketDesc desc[kBurstSize];
    void* pk[kBurstSize];
    void* dropped[kBurstSize];
    void* out[kBurstSize];
    std::uint32_t bytes[kBurstSize];
    std::uint64_t delivered = 0, built = 0;

    // The counter itself works (an explicit call cannot be elided).
    g_allocs = 0;
    g_counting = true;
    ::operator delete(::operator new(16));
    g_counting = false;
    ASSERT_EQ(g_allocs, 1u);

    g_allocs = 0;
    g_counting = true;
    for (Tick t = 0; t < 5'000'000; t += 1000) {
        const std::uint16_t n = gen.generate(t, desc, kBurstSize);
        for (std::uint16_t i = 0; i < n; ++i) {
            built += build_probe_frame(desc[i], dst, frame.data(), frame.size());
            PacketDesc r;
            (void)parse_probe_frame(frame.data(), desc[i].bytes, r);
            pk[i] = &desc[i];
            bytes[i] = desc[i].bytes;
        }
        std::uint16_t nd = 0;
        (void)link.try_send(pk, bytes, n, t, dropped, &nd);
        delivered += link.deliver(out, kBurstSize, t);
        (void)sizes.sample(rng);
        if (t == 2'500'000) {
            (void)link.set_down(t, lost.data(), link.ring_capacity());
            link.set_up(t + 1000);
        }
    }
    g_counting = false;
    EXPECT_EQ(g_allocs, 0u);
    EXPECT_GT(delivered, 100u);
    EXPECT_GT(built, 0u);
}
