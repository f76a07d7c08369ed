// SPDX-License-Identifier: BSD-3-Clause
// Whole migrations through the simulated testbed (sim.h): scheduler ->
// sender -> pipe -> receiver -> back channel -> pre-copy, time simulated.
#include <gtest/gtest.h>
#include <random>

#include "sim.h"

namespace flowteam::migration {
namespace {

using test::Testbed;
using test::TestbedConfig;
constexpr Tick kMs = 1'000'000;

TestbedConfig base(std::uint16_t vms = 3, std::uint32_t pages = 1024) {
    TestbedConfig c;
    VmSpec s;
    s.mem_bytes = std::uint64_t{pages} * kPageSize;
    s.mix = {0.25, 0.40};
    s.workload = {64, 5000.0};
    c.mem.vms.assign(vms, s);
    c.mem.seed = 2024;
    c.sched.max_concurrent = 2;
    c.sched.precopy.channels = 2;
    c.sched.precopy.rto_ns = 20 * kMs;
    c.receiver.channels = 2;
    c.rate_bps = 1e9;
    return c;
}

// Every page verified, and the report fields consistent with what went out.
void expect_verified_and_consistent(Testbed& tb) {
    std::uint64_t zero_pages = 0;
    for (std::uint16_t v = 0; v < tb.mem.vm_count(); ++v) {
        const VerifyResult r = tb.rx.verify(v);
        EXPECT_TRUE(r.ok()) << "vm " << v << ": " << r.mismatched << " mismatched, " << r.never_received
                            << " never received";
        const MigrationStats s = tb.sched.migration(v).stats(tb.now);
        EXPECT_EQ(s.phase, Phase::completed);
        EXPECT_EQ(s.transferred, tb.payload_by_vm[v]) << "transferred = sum of sent payload";
        EXPECT_EQ(s.precopy_bytes + s.downtime_bytes, s.transferred);
        EXPECT_EQ(s.wire_bytes, s.transferred + s.frames_sent * tb.cfg_.sender.wire_overhead);
        EXPECT_GE(s.dirty_sync_count, 2u); // setup + at least the switchover sync
        EXPECT_GE(s.rounds, 1u);
        EXPECT_LE(s.downtime_ns, s.total_time_ns);
        EXPECT_LE(s.setup_time_ns, s.total_time_ns);
        EXPECT_GT(s.total_time_ns, 0u);
        EXPECT_EQ(s.duplicate + s.normal, s.pages_sent);
        EXPECT_GE(s.pages_sent, tb.mem.pages(v));
        EXPECT_EQ(s.acked_pages, s.pages_sent - (s.pages_sent - s.acked_pages)); // tautology guard
        EXPECT_EQ(s.unconfirmed, 0u);
        EXPECT_EQ(s.remaining, 0u);
        EXPECT_GT(s.mbps, 0);
        zero_pages += s.duplicate;
    }
    EXPECT_EQ(tb.zero_page_frames, zero_pages) << "a zero page is one header-only frame";
    for (std::size_t i = 0; i < kWireStatusCount; ++i)
        EXPECT_EQ(tb.tx.counters().drops[i], 0u);
}

TEST(EndToEnd, CleanRunVerifiesEveryPage) {
    Testbed tb(base());
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    EXPECT_EQ(tb.rx.dropped_total(), 0u);
    EXPECT_EQ(tb.max_active_seen, 2u);
    EXPECT_EQ(tb.sched.max_active(), 2);
    std::uint64_t zeros = 0;
    for (std::uint16_t v = 0; v < 3; ++v) {
        const MigrationStats s = tb.sched.migration(v).stats(tb.now);
        EXPECT_EQ(s.resent_pages, 0u);
        EXPECT_TRUE(tb.rx.vm_counters(v).end_seen);
        zeros += s.duplicate;
    }
    // about a quarter of the pages are zero, each sent without a body
    EXPECT_GT(zeros, 3u * 1024u / 5u);
    // MTU 1500, no compression: a raw page is 3 frames
    std::uint64_t normal = 0;
    for (std::uint16_t v = 0; v < 3; ++v)
        normal += tb.sched.migration(v).stats(tb.now).normal;
    EXPECT_EQ(tb.page_frames, zeros + 3 * normal);
    // both channels of every VM carried frames
    ASSERT_EQ(tb.frames_by_flow.size(), 6u);
    for (auto n : tb.frames_by_flow)
        EXPECT_GT(n, 100u);
    // the 3rd VM waited for a slot
    EXPECT_GE(tb.sched.migration(2).start_tick(),
              std::min(tb.sched.migration(0).end_tick(), tb.sched.migration(1).end_tick()));
}

TEST(EndToEnd, OnePercentLossIsRecovered) {
    TestbedConfig c = base();
    c.fwd.loss = 0.01;
    c.back.loss = 0.01;
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    EXPECT_GT(tb.fwd.lost, 50u);
    std::uint64_t resent = 0, requested = 0;
    for (std::uint16_t v = 0; v < 3; ++v) {
        const MigrationStats s = tb.sched.migration(v).stats(tb.now);
        resent += s.resent_pages;
        requested += s.requested_pages;
        EXPECT_GT(tb.rx.vm_counters(v).gaps, 0u);
    }
    EXPECT_GT(resent, 20u);
    EXPECT_GT(requested, 0u);
}

TEST(EndToEnd, ReorderingWithinWindowsIsHarmless) {
    TestbedConfig c = base();
    c.fwd.shuffle = 32;
    c.back.shuffle = 4;
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    EXPECT_EQ(tb.rx.dropped_total(), 0u);
}

TEST(EndToEnd, LossAndReorderingTogether) {
    TestbedConfig c = base();
    c.fwd.loss = 0.02;
    c.fwd.shuffle = 16;
    c.back.loss = 0.02;
    c.receiver.reorder_frames = 64;
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
}

TEST(EndToEnd, DirtyingLeadsToLaterRoundsAndConverges) {
    TestbedConfig c = base(2);
    c.sched.precopy.downtime_limit_ns = 1 * kMs; // ~31 pages at 1 Gb/s shared by two
    for (auto& v : c.mem.vms)
        v.workload = {128, 5000.0}; // ~0.3 writes per page sent
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    for (std::uint16_t v = 0; v < 2; ++v) {
        const MigrationStats s = tb.sched.migration(v).stats(tb.now);
        EXPECT_GE(s.dirty_sync_count, 3u) << "vm " << v;
        EXPECT_EQ(s.switchover, Switchover::converged);
        EXPECT_GT(s.dirtied_pages, 100u);
        EXPECT_GT(s.pages_sent, tb.mem.pages(v) + 100u);
        EXPECT_GT(s.dirty_pages_rate, 0);
        EXPECT_GT(tb.mem.workload_counters(v).writes, 150u);
    }
}

TEST(EndToEnd, NonConvergingGuestHitsMaxRoundsOrIsThrottled) {
    for (bool ac : {false, true}) {
        TestbedConfig c = base(1, 1024);
        c.sched.precopy.downtime_limit_ns = 1 * kMs;
        c.sched.precopy.max_rounds = ac ? 30 : 6;
        c.sched.precopy.auto_converge = ac;
        c.mem.vms[0].workload = {512, 200000.0};
        Testbed tb(c);
        ASSERT_TRUE(tb.run());
        expect_verified_and_consistent(tb);
        const MigrationStats s = tb.sched.migration(0).stats(tb.now);
        if (!ac) {
            EXPECT_EQ(s.switchover, Switchover::max_rounds);
            EXPECT_EQ(s.dirty_sync_count, 7u);
            EXPECT_EQ(s.throttle, 0);
        } else {
            EXPECT_EQ(s.switchover, Switchover::converged);
            EXPECT_GT(s.throttle_steps, 0u);
            EXPECT_GT(s.throttle, 0);
            EXPECT_LT(s.dirty_sync_count, 31u);
        }
    }
}

// Every non-zero page copy that is not a re-send is either compressed,
// tried and rejected, or skipped by the sample (re-sends go raw, untried).
void expect_every_body_page_decided(Testbed& tb) {
    std::uint64_t normal = 0, resent = 0;
    for (std::uint16_t v = 0; v < tb.sched.vm_count(); ++v) {
        const MigrationStats s = tb.sched.migration(v).stats(tb.now);
        normal += s.normal;
        resent += s.resent_pages;
    }
    const SenderCounters& sc = tb.tx.counters();
    EXPECT_LE(sc.compress_calls + sc.compress_skipped, normal);
    EXPECT_GE(sc.compress_calls + sc.compress_skipped + resent, normal);
}

TEST(EndToEnd, CompressionFlagPathWithZlibAndRle) {
    test::ZlibCodec z;
    test::RleCodec rle;
    for (int which = 0; which < 2; ++which) {
        TestbedConfig c = base(2);
        c.compressor = which == 0 ? static_cast<Compressor*>(&z) : &rle;
        c.decompressor = which == 0 ? static_cast<Decompressor*>(&z) : &rle;
        Testbed tb(c);
        ASSERT_TRUE(tb.run());
        expect_verified_and_consistent(tb);
        std::uint64_t comp = 0, comp_bytes = 0, rx_comp = 0;
        for (std::uint16_t v = 0; v < 2; ++v) {
            const MigrationStats s = tb.sched.migration(v).stats(tb.now);
            comp += s.compressed_pages;
            comp_bytes += s.compressed_bytes;
            rx_comp += tb.rx.vm_counters(v).compressed_pages;
        }
        const SenderCounters& sc = tb.tx.counters();
        EXPECT_EQ(rx_comp, comp); // lossless pipe: every compressed copy decompressed
        EXPECT_EQ(tb.rx.drops()[static_cast<std::size_t>(WireStatus::decompress_failed)], 0u);
        // ~35 % of 2048 pages are random: the sample skips them without a compress attempt
        EXPECT_GT(sc.compress_skipped, 500u) << which;
        if (which == 0) {
            // ~40 % are compressible: deflate shrinks them into one frame
            EXPECT_GT(comp, 600u);
            EXPECT_LT(comp_bytes, comp * page_fragment_bytes(1500));
            EXPECT_LT(sc.compress_rejects, comp);
        } else {
            // RLE finds no long runs in deflate material: tried and rejected, sent raw
            EXPECT_GT(sc.compress_rejects, 500u);
        }
        expect_every_body_page_decided(tb);
    }
}

// Without the sample every non-zero first copy is tried: random pages come
// back "not shrunk" and go raw; nothing is skipped.
TEST(EndToEnd, CompressSampleOffTriesEveryPage) {
    test::ZlibCodec z;
    TestbedConfig c = base(2);
    c.compressor = &z;
    c.decompressor = &z;
    c.sender.compress_sample = false;
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    EXPECT_EQ(tb.tx.counters().compress_skipped, 0u);
    EXPECT_GT(tb.tx.counters().compress_rejects, 500u);
    expect_every_body_page_decided(tb);
}

// Sender compresses, receiver has no decompressor (a configuration mismatch):
// every compressed copy fails, is asked for again and comes back raw.
TEST(EndToEnd, CodecMismatchStillCompletesThroughRawResends) {
    test::ZlibCodec z;
    TestbedConfig c = base(1);
    c.compressor = &z;
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    const MigrationStats s = tb.sched.migration(0).stats(tb.now);
    const std::uint64_t failed = tb.rx.drops()[static_cast<std::size_t>(WireStatus::decompress_failed)];
    EXPECT_GT(failed, 300u);
    EXPECT_EQ(failed, s.compressed_pages);
    EXPECT_GE(s.resent_pages, failed);
}

TEST(EndToEnd, JumboAnd1500FramingBothVerify) {
    for (std::uint32_t mtu : {1500u, 9000u}) {
        TestbedConfig c = base(2);
        c.sender.mtu = mtu;
        c.receiver.mtu = mtu;
        Testbed tb(c);
        ASSERT_TRUE(tb.run()) << mtu;
        expect_verified_and_consistent(tb);
        std::uint64_t zeros = 0, normal = 0;
        for (std::uint16_t v = 0; v < 2; ++v) {
            zeros += tb.sched.migration(v).stats(tb.now).duplicate;
            normal += tb.sched.migration(v).stats(tb.now).normal;
        }
        EXPECT_EQ(tb.page_frames, zeros + frames_per_page(mtu) * normal) << mtu;
        const std::uint32_t biggest = *std::max_element(tb.frame_sizes.begin(), tb.frame_sizes.end());
        EXPECT_LE(biggest, udp_payload_capacity(mtu));
        EXPECT_EQ(biggest, kHeaderSize + page_fragment_bytes(mtu));
    }
}

TEST(EndToEnd, ZeroCopyTransmit) {
    TestbedConfig c = base(2);
    c.sender.zero_copy = true;
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    EXPECT_GT(tb.tx.counters().zero_copy_frames, 1000u);
}

TEST(EndToEnd, CorruptedAndTruncatedFramesAreCountedAndDropped) {
    TestbedConfig c = base(2);
    auto rng = std::make_shared<std::mt19937_64>(77);
    c.tamper = [rng](Tick, std::vector<std::uint8_t>& f) {
        const std::uint64_t r = (*rng)() % 100;
        if (r == 0)
            f.resize((*rng)() % f.size()); // truncated
        else if (r == 1)
            f[(*rng)() % 48] ^= static_cast<std::uint8_t>(1 + (*rng)() % 255); // header flip
        else if (r == 2)
            for (auto& b : f)
                b = static_cast<std::uint8_t>((*rng)()); // garbage
    };
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    const auto& d = tb.rx.drops();
    EXPECT_GT(tb.rx.dropped_total(), 50u);
    EXPECT_GT(d[static_cast<std::size_t>(WireStatus::bad_checksum)], 0u);
    EXPECT_GT(d[static_cast<std::size_t>(WireStatus::truncated)] +
                  d[static_cast<std::size_t>(WireStatus::length_mismatch)],
              0u);
    EXPECT_GT(d[static_cast<std::size_t>(WireStatus::bad_magic)], 0u);
    EXPECT_EQ(tb.rx_rejects, tb.rx.dropped_total());
}

TEST(EndToEnd, SeveralSimultaneousMigrationsWithFourChannels) {
    TestbedConfig c = base(5, 512);
    c.sched.max_concurrent = 3;
    c.sched.precopy.channels = 4;
    c.sched.precopy.batch_pages = 16;
    c.receiver.channels = 4;
    c.fwd.loss = 0.005;
    Testbed tb(c);
    ASSERT_TRUE(tb.run());
    expect_verified_and_consistent(tb);
    EXPECT_EQ(tb.max_active_seen, 3u);
    ASSERT_EQ(tb.frames_by_flow.size(), 20u);
    for (auto n : tb.frames_by_flow)
        EXPECT_GT(n, 50u);
    const SchedulerTotals t = tb.sched.totals(tb.now);
    EXPECT_EQ(t.completed, 5);
    EXPECT_EQ(t.max_active, 3);
    std::uint64_t sum = 0;
    for (auto p : tb.payload_by_vm)
        sum += p;
    EXPECT_EQ(t.transferred, sum);
}

} // namespace
} // namespace flowteam::migration
