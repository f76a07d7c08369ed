// SPDX-License-Identifier: BSD-3-Clause
#include <algorithm>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <set>
#include <stdexcept>

#include "migration/memory.h"
#include "sim.h"

namespace flowteam::migration {
namespace {

MemoryConfig small(std::uint64_t seed, std::uint32_t pages = 512) {
    MemoryConfig c;
    c.seed = seed;
    VmSpec s;
    s.mem_bytes = std::uint64_t{pages} * kPageSize;
    s.mix = {0.25, 0.40};
    s.workload = {64, 10000.0};
    c.vms = {s, s};
    return c;
}

TEST(Memory, GenerationIsDeterministicPerSeedAndVm) {
    VmMemory a(small(1)), b(small(1)), c(small(2));
    std::uint32_t differ_seed = 0, differ_vm = 0;
    for (std::uint32_t p = 0; p < a.pages(0); ++p) {
        ASSERT_EQ(a.source_checksum(0, p), b.source_checksum(0, p)) << p;
        ASSERT_EQ(a.source_checksum(1, p), b.source_checksum(1, p)) << p;
        if (a.source_checksum(0, p) != c.source_checksum(0, p)) ++differ_seed;
        if (a.source_checksum(0, p) != a.source_checksum(1, p)) ++differ_vm;
    }
    // zero pages are equal across seeds/VMs; most others differ
    EXPECT_GT(differ_seed, a.pages(0) / 2);
    EXPECT_GT(differ_vm, a.pages(0) / 2);
}

TEST(Memory, ContentMixMatchesClasses) {
    MemoryConfig cfg = small(3, 4096);
    VmMemory m(cfg);
    test::ZlibCodec z;
    std::vector<std::uint8_t> out(2 * kPageSize);
    std::uint32_t n[3] = {0, 0, 0};
    double comp_bytes = 0;
    std::uint32_t comp_pages = 0;
    for (std::uint32_t p = 0; p < m.pages(0); ++p) {
        const PageClass k = m.initial_class(0, p);
        ++n[static_cast<int>(k)];
        const std::uint8_t* src = m.source_page(0, p);
        if (k == PageClass::zero) {
            ASSERT_TRUE(page_is_zero(src)) << p;
            continue;
        }
        ASSERT_FALSE(page_is_zero(src)) << p;
        const std::size_t c = z.compress(src, kPageSize, out.data(), out.size());
        if (k == PageClass::incompressible) {
            EXPECT_EQ(c, 0u) << "PRNG page " << p << " compressed";
        } else {
            ASSERT_GT(c, 0u);
            comp_bytes += static_cast<double>(c);
            ++comp_pages;
        }
    }
    // 4096 pages, fractions .25/.40/.35: binomial sd ~ 31 pages
    EXPECT_NEAR(n[0], 0.25 * 4096, 150);
    EXPECT_NEAR(n[1], 0.40 * 4096, 150);
    EXPECT_NEAR(n[2], 0.35 * 4096, 150);
    // compressible pages shrink well under deflate and fit one MTU-1500 frame
    EXPECT_LT(comp_bytes / comp_pages, page_fragment_bytes(1500));
}

TEST(Memory, ChecksumSeesEveryByte) {
    std::mt19937_64 rng(11);
    std::vector<std::uint8_t> page(kPageSize);
    for (auto& b : page)
        b = static_cast<std::uint8_t>(rng());
    const std::uint64_t h0 = page_checksum(page.data());
    std::set<std::uint64_t> seen{h0};
    std::set<std::size_t> flips;
    for (int i = 0; i < 2000; ++i) {
        const std::size_t pos = rng() % kPageSize;
        const unsigned bitno = static_cast<unsigned>(rng() % 8);
        const std::uint8_t bit = static_cast<std::uint8_t>(1u << bitno);
        flips.insert(pos * 8 + bitno);
        page[pos] ^= bit;
        const std::uint64_t h = page_checksum(page.data());
        EXPECT_NE(h, h0) << "flip at " << pos;
        seen.insert(h);
        page[pos] ^= bit;
        ASSERT_EQ(page_checksum(page.data()), h0);
    }
    // every distinct single-bit flip gave a distinct checksum
    EXPECT_EQ(seen.size(), flips.size() + 1);
    // swapping two words changes it too (lanes are position dependent)
    std::swap(page[0], page[8]);
    if (page[0] != page[8]) {
        EXPECT_NE(page_checksum(page.data()), h0);
    }
}

TEST(Memory, WorkloadWritesSourceAtTheConfiguredRate) {
    MemoryConfig cfg = small(5, 1024);
    cfg.vms[0].workload = {100, 20000.0}; // 20k writes/s
    VmMemory m(cfg);
    const auto before = m.source_checksums(0);
    m.start_workload(0, 0);
    m.advance(0, 50'000'000); // 50 ms -> 1000 writes
    EXPECT_EQ(m.workload_counters(0).writes, 1000u);
    // dirty pages are inside the working set and really changed
    PageBitmap dirty(m.pages(0));
    const std::uint32_t n = m.collect_dirty(0, dirty);
    EXPECT_EQ(n, dirty.count());
    EXPECT_GT(n, 90u); // 1000 writes over 100 pages touch nearly all of them
    EXPECT_LE(n, 100u);
    std::uint32_t changed = 0;
    for (std::uint32_t p = 0; p < m.pages(0); ++p) {
        const bool d = dirty.test(p);
        if (m.source_checksum(0, p) != before[p]) {
            ++changed;
            EXPECT_TRUE(d) << "page " << p << " changed but not dirty";
        }
    }
    EXPECT_EQ(changed, n);
    EXPECT_EQ(m.dirty_count(0), 0u); // the log was handed out and cleared
    // fractional writes carry over: 10 × 5 ms = 1000 more writes
    for (int i = 1; i <= 10; ++i)
        m.advance(0, 50'000'000 + static_cast<Tick>(i) * 5'000'000);
    EXPECT_EQ(m.workload_counters(0).writes, 2000u);
    // the other VM's guest was never started
    EXPECT_EQ(m.workload_counters(1).writes, 0u);
}

TEST(Memory, ThrottleSlowsAndStopFreezes) {
    MemoryConfig cfg = small(6, 1024);
    cfg.vms[0].workload = {100, 20000.0};
    VmMemory m(cfg);
    m.start_workload(0, 0);
    m.set_throttle(0, 0.75);
    m.advance(0, 100'000'000); // 2000 writes × 0.25
    EXPECT_EQ(m.workload_counters(0).writes, 500u);
    m.set_throttle(0, 7.0); // clamped to 1
    EXPECT_EQ(m.throttle(0), 1.0);
    m.advance(0, 200'000'000);
    EXPECT_EQ(m.workload_counters(0).writes, 500u);
    m.set_throttle(0, 0);
    m.stop_workload(0, 250'000'000); // the 50 ms before the stop still happen
    EXPECT_EQ(m.workload_counters(0).writes, 1500u);
    EXPECT_FALSE(m.workload_running(0));
    const auto frozen = m.source_checksums(0);
    m.advance(0, 900'000'000);
    EXPECT_EQ(m.source_checksums(0), frozen);
}

TEST(Memory, BadConfigsAreRejected) {
    MemoryConfig c = small(1);
    c.vms[0].mem_bytes = 4097;
    EXPECT_THROW(VmMemory{c}, std::invalid_argument);
    c = small(1);
    c.vms[0].mix = {0.7, 0.5};
    EXPECT_THROW(VmMemory{c}, std::invalid_argument);
    c = small(1);
    c.vms[0].workload.working_set_pages = 100000;
    EXPECT_THROW(VmMemory{c}, std::invalid_argument);
    c = small(1);
    c.vms.clear();
    EXPECT_THROW(VmMemory{c}, std::invalid_argument);
    c = small(1);
    c.tick_hz = 0;
    EXPECT_THROW(VmMemory{c}, std::invalid_argument);
}

TEST(Bitmap, SetClearFindMerge) {
    PageBitmap b(200);
    EXPECT_EQ(b.find_next(0), 200u);
    EXPECT_TRUE(b.set(3));
    EXPECT_FALSE(b.set(3));
    EXPECT_TRUE(b.set(64));
    EXPECT_TRUE(b.set(199));
    EXPECT_EQ(b.count(), 3u);
    EXPECT_EQ(b.find_next(0), 3u);
    EXPECT_EQ(b.find_next(4), 64u);
    EXPECT_EQ(b.find_next(65), 199u);
    EXPECT_EQ(b.find_next(200), 200u);
    PageBitmap c(200);
    c.set(3);
    c.set(100);
    EXPECT_EQ(b.merge(c), 1u);
    EXPECT_EQ(b.count(), 4u);
    b.set_all();
    EXPECT_EQ(b.count(), 200u);
    EXPECT_EQ(b.find_next(199), 199u);
    EXPECT_TRUE(b.clear(199));
    EXPECT_EQ(b.find_next(199), 200u);
}


// The sender's "do not bother compressing" sample: every generated random
// page is judged incompressible, no compressible or zero page is, and a page
// that is half random, half text still gets a compress attempt.
TEST(Memory, SampleSeparatesRandomFromCompressiblePages) {
    MemoryConfig cfg = small(1, 4096);
    VmMemory m(cfg);
    unsigned max_comp = 0, min_rand = 1000;
    for (std::uint32_t p = 0; p < m.pages(0); ++p) {
        const unsigned d = page_sample_distinct(m.source_page(0, p));
        switch (m.initial_class(0, p)) {
        case PageClass::zero: EXPECT_EQ(d, 1u); break;
        case PageClass::compressible: max_comp = std::max(max_comp, d); break;
        case PageClass::incompressible: min_rand = std::min(min_rand, d); break;
        }
    }
    EXPECT_LE(max_comp, kIncompressibleDistinct);
    EXPECT_GT(min_rand, kIncompressibleDistinct);
    std::vector<std::uint8_t> half(kPageSize);
    std::mt19937_64 rng(5);
    for (std::uint32_t i = 0; i < kPageSize; ++i)
        half[i] = i < kPageSize / 2 ? static_cast<std::uint8_t>(rng()) : static_cast<std::uint8_t>("the kernel "[i % 11]);
    EXPECT_FALSE(page_looks_incompressible(half.data()));
}

} // namespace
} // namespace flowteam::migration
