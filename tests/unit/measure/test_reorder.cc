// SPDX-License-Identifier: BSD-3-Clause
// Hand-checked sequences for every reorder metric.
#include <cstdint>
#include <gtest/gtest.h>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "measure/reorder.h"

namespace flowteam::measure {
namespace {

ReorderStats run(std::initializer_list<std::uint64_t> seqs, ReorderConfig cfg = {}) {
    FlowReorder f(cfg);
    for (auto s : seqs)
        f.on_packet(s);
    f.finish();
    return f.stats();
}

ReorderConfig dt(std::uint32_t d) {
    ReorderConfig c;
    c.density_threshold = d;
    return c;
}

// Every displacement bin except those listed is zero.
void expect_rd_only(const ReorderStats& s, std::initializer_list<std::pair<int, std::uint64_t>> bins) {
    std::uint64_t listed = 0;
    for (auto [d, c] : bins) {
        EXPECT_EQ(s.rd_count(d), c) << "D=" << d;
        listed += c;
    }
    EXPECT_EQ(s.rd_total(), listed);
}

void expect_rbd_only(const ReorderStats& s,
                     std::initializer_list<std::pair<std::uint32_t, std::uint64_t>> bins) {
    std::uint64_t listed = 0;
    for (auto [b, c] : bins) {
        EXPECT_EQ(s.rbd_freq[b], c) << "B=" << b;
        listed += c;
    }
    EXPECT_EQ(s.rbd_total(), listed);
}

// ------------------------------------------------------------------ config

TEST(ReorderConfig, Validates) {
    EXPECT_NO_THROW(dt(1).validate());
    EXPECT_NO_THROW(dt(kMaxDensityThreshold).validate());
    EXPECT_THROW(dt(0).validate(), std::invalid_argument);
    EXPECT_THROW(dt(kMaxDensityThreshold + 1).validate(), std::invalid_argument);
    EXPECT_THROW(FlowReorder{dt(0)}, std::invalid_argument);
    EXPECT_THROW(ReorderTable(0, ReorderConfig{}), std::invalid_argument);
    EXPECT_THROW(ReorderTable(4, dt(99)), std::invalid_argument);
    try {
        dt(99).validate();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("density_threshold"), std::string::npos);
    }
}

TEST(FlowReorder, FitsTheMemoryBudget) {
    EXPECT_LE(sizeof(FlowReorder), 2048u);
}

// ------------------------------------------------------------------ in order

TEST(FlowReorder, InOrderStream) {
    FlowReorder f;
    for (std::uint64_t s = 1; s <= 1000; ++s)
        EXPECT_EQ(f.on_packet(s), Arrival::kInOrder);
    // RD/RBD lag by the DT+1 look-ahead until finish().
    EXPECT_EQ(f.stats().rd_total(), 1000u - 8u);
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.received, 1000u);
    EXPECT_EQ(s.unique, 1000u);
    EXPECT_EQ(s.in_order, 1000u);
    EXPECT_EQ(s.seq_too_high + s.seq_too_low + s.dup + s.out_of_order + s.dropped, 0u);
    EXPECT_EQ(s.reordered, 0u);
    EXPECT_EQ(s.reordered_ratio(), 0.0);
    EXPECT_EQ(s.extent.count, 0u);
    EXPECT_EQ(s.free_runs, 1u);
    EXPECT_EQ(s.free_run_sum, 1000u);
    EXPECT_EQ(s.free_run_max, 1000u);
    expect_rd_only(s, {{0, 1000}});
    EXPECT_DOUBLE_EQ(s.rd(0), 1.0);
    expect_rbd_only(s, {{0, 1000}});
    EXPECT_DOUBLE_EQ(s.rbd(0), 1.0);
    EXPECT_EQ(s.rd_skipped + s.rd_discarded + s.rbd_lost + s.rbd_discarded, 0u);
    EXPECT_EQ(s.density_threshold, 8u);
    EXPECT_EQ(f.next_expected(), 1001u);
}

TEST(FlowReorder, FinishIsIdempotent) {
    FlowReorder f;
    for (std::uint64_t s : {1, 3, 2, 4})
        f.on_packet(s);
    f.finish();
    const ReorderStats once = f.stats();
    f.finish();
    EXPECT_EQ(f.stats(), once);
}

// ------------------------------------------------------------------ 1,10,2,3,4,5

// The classic RFC 4737 pitfall: 10 raises NextExp to 11, so 2,3,4,5 are all
// reordered although only 10 is out of place (and 6..9 are lost).
TEST(FlowReorder, EarlyPacketMakesFourReordered) {
    FlowReorder f;
    EXPECT_EQ(f.on_packet(1), Arrival::kInOrder);
    EXPECT_EQ(f.on_packet(10), Arrival::kGap);
    for (std::uint64_t s : {2, 3, 4, 5})
        EXPECT_EQ(f.on_packet(s), Arrival::kLate);
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.unique, 6u);
    EXPECT_EQ(s.reordered, 4u);
    EXPECT_DOUBLE_EQ(s.reordered_ratio(), 4.0 / 6.0);
    // Extents: 2 at i=2, 3 at i=3, ... all first overtaken by 10 at j=1.
    EXPECT_EQ(s.extent.count, 4u);
    EXPECT_EQ(s.extent.sum, 1u + 2u + 3u + 4u);
    EXPECT_EQ(s.extent.max, 4u);
    EXPECT_EQ(s.extent.bins[1], 1u); // e=1
    EXPECT_EQ(s.extent.bins[2], 2u); // e=2,3
    EXPECT_EQ(s.extent.bins[3], 1u); // e=4
    EXPECT_EQ(s.extent_truncated, 0u);
    // Only 2 is directly overtaken (by 10): the alternative view says 1.
    EXPECT_EQ(s.n_reordering[1], 1u);
    EXPECT_EQ(s.n_reordering[0], 3u);
    EXPECT_EQ(s.overtaken(), 1u);
    EXPECT_EQ(s.n_reordered_ge3, 0u);
    // Reordering-free runs: {1,10}; 2..5 each end a zero-length run.
    EXPECT_EQ(s.free_runs, 1u);
    EXPECT_EQ(s.free_run_max, 2u);
    // TRex: 10 opens a gap of 8, 2..5 fill four of it.
    EXPECT_EQ(s.in_order, 1u);
    EXPECT_EQ(s.seq_too_high, 1u);
    EXPECT_EQ(s.seq_too_low, 4u);
    EXPECT_EQ(s.out_of_order, 4u);
    EXPECT_EQ(s.dup, 0u);
    EXPECT_EQ(s.dropped, 4u); // 6,7,8,9
    EXPECT_DOUBLE_EQ(s.loss_ratio(), 4.0 / 10.0);
    // RD (DT 8): 10 takes receive index 2 (D = -8); 2,3,4 take 3,4,5 (one
    // late each). For the last arrival, 5, indices 6..9 are missing from the
    // window and buffer (lost: skipped) and 10 waits in the buffer, so 5
    // takes index 10: D = +5.
    expect_rd_only(s, {{0, 1}, {-8, 1}, {1, 3}, {5, 1}});
    EXPECT_EQ(s.rd_skipped, 4u);
    // RBD: 10 waits in the buffer from its arrival to the end.
    expect_rbd_only(s, {{0, 1}, {1, 5}});
}

TEST(FlowReorder, EarlyPacketBeyondThresholdIsLostForRd) {
    // DT 4: D would be -8, so RD discards 10; the others line up exactly.
    const auto s = run({1, 10, 2, 3, 4, 5}, dt(4));
    expect_rd_only(s, {{0, 5}});
    EXPECT_EQ(s.rd_discarded, 1u);
    EXPECT_EQ(s.reordered, 4u); // RFC 4737 does not depend on DT
}

// ------------------------------------------------------------------ single swap

TEST(FlowReorder, SingleSwap) {
    FlowReorder f;
    EXPECT_EQ(f.on_packet(1), Arrival::kInOrder);
    EXPECT_EQ(f.on_packet(3), Arrival::kGap);
    EXPECT_EQ(f.on_packet(2), Arrival::kLate);
    EXPECT_EQ(f.on_packet(4), Arrival::kInOrder);
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.reordered, 1u);
    EXPECT_DOUBLE_EQ(s.reordered_ratio(), 0.25);
    EXPECT_EQ(s.extent.count, 1u);
    EXPECT_EQ(s.extent.max, 1u);
    EXPECT_EQ(s.n_reordering[1], 1u);
    EXPECT_EQ(s.n_reordered_ge3, 0u);
    EXPECT_EQ(s.free_runs, 2u); // {1,3} {4}
    EXPECT_EQ(s.free_run_sum, 3u);
    EXPECT_EQ(s.free_run_max, 2u);
    EXPECT_DOUBLE_EQ(s.mean_free_run(), 1.5);
    EXPECT_EQ(s.seq_too_high, 1u);
    EXPECT_EQ(s.out_of_order, 1u);
    EXPECT_EQ(s.dropped, 0u);
    expect_rd_only(s, {{0, 2}, {-1, 1}, {1, 1}});
    EXPECT_DOUBLE_EQ(s.rd(0), 0.5);
    EXPECT_DOUBLE_EQ(s.rd(-1), 0.25);
    // RBD: 3 waits one arrival, released when 2 comes.
    expect_rbd_only(s, {{0, 3}, {1, 1}});
}

// ------------------------------------------------------------------ loss only

TEST(FlowReorder, LossAloneIsNotReordering) {
    const auto s = run({1, 2, 4, 5});
    EXPECT_EQ(s.reordered, 0u);
    EXPECT_EQ(s.extent.count, 0u);
    EXPECT_EQ(s.dropped, 1u);
    EXPECT_EQ(s.seq_too_high, 1u);
    EXPECT_EQ(s.out_of_order, 0u);
    EXPECT_EQ(s.free_runs, 1u);
    EXPECT_EQ(s.free_run_max, 4u);
    // RD skips the missing receive index 3 (the RFC's "RI skips lost packets").
    expect_rd_only(s, {{0, 4}});
    EXPECT_EQ(s.rd_skipped, 1u);
    // RBD gives up on 3 (not among the next DT+1 arrivals): never occupied.
    expect_rbd_only(s, {{0, 4}});
    EXPECT_EQ(s.rbd_lost, 1u);
}

TEST(FlowReorder, LossWithKnownFirstSequence) {
    ReorderConfig c;
    c.first_seq = 1;
    FlowReorder f(c);
    EXPECT_EQ(f.on_packet(2), Arrival::kGap); // 1 lost
    f.on_packet(3);
    f.on_packet(4);
    EXPECT_EQ(f.on_packet(0), Arrival::kStale); // below the stream start
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.dropped, 1u);
    EXPECT_EQ(s.seq_too_high, 1u);
    EXPECT_EQ(s.stale, 1u);
    EXPECT_EQ(s.seq_too_low, 1u);
    EXPECT_EQ(s.unique, 3u);
    EXPECT_EQ(s.reordered, 0u);
    expect_rd_only(s, {{0, 3}});
    EXPECT_EQ(s.rd_skipped, 1u);
    EXPECT_EQ(s.rbd_lost, 1u);
}

TEST(FlowReorder, AutoStartMovesDownForEarlierSequences) {
    // First arrival 3 starts the stream; 1 then 2 show it started earlier.
    FlowReorder f;
    f.on_packet(3);
    EXPECT_EQ(f.on_packet(1), Arrival::kLate);
    EXPECT_EQ(f.stats().dropped, 1u); // 2 still missing
    EXPECT_EQ(f.on_packet(2), Arrival::kLate);
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.out_of_order, 2u);
    EXPECT_EQ(s.reordered, 2u);
    EXPECT_EQ(s.extent.sum, 1u + 2u); // 1: i=1,j=0; 2: i=2,j=0
    // RD starts at the smallest sequence in the first window: 3 is early by 2.
    expect_rd_only(s, {{-2, 1}, {1, 2}});
}

// ------------------------------------------------------------------ duplicates

TEST(FlowReorder, Duplicates) {
    FlowReorder f;
    f.on_packet(1);
    f.on_packet(2);
    EXPECT_EQ(f.on_packet(2), Arrival::kDuplicate);
    f.on_packet(3);
    EXPECT_EQ(f.on_packet(1), Arrival::kDuplicate);
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.received, 5u);
    EXPECT_EQ(s.unique, 3u);
    EXPECT_EQ(s.dup, 2u);
    EXPECT_EQ(s.seq_too_low, 2u);
    EXPECT_EQ(s.out_of_order, 0u);
    EXPECT_EQ(s.reordered, 0u); // duplicates removed before RFC 4737
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.free_runs, 1u);
    EXPECT_EQ(s.free_run_max, 3u);
    expect_rd_only(s, {{0, 3}});
    expect_rbd_only(s, {{0, 3}});
}

TEST(FlowReorder, DuplicateOfALateFill) {
    const auto s = run({1, 3, 2, 2, 3});
    EXPECT_EQ(s.dup, 2u);
    EXPECT_EQ(s.out_of_order, 1u);
    EXPECT_EQ(s.reordered, 1u);
}

TEST(FlowReorder, StaleBeyondTheWindow) {
    FlowReorder f;
    for (std::uint64_t s = 1; s <= 2000; ++s) {
        if (s != 5) f.on_packet(s);
    }
    EXPECT_EQ(f.on_packet(5), Arrival::kStale); // 1996 behind > 1024
    EXPECT_EQ(f.on_packet(1500), Arrival::kDuplicate);
    const auto& s = f.stats();
    EXPECT_EQ(s.stale, 1u);
    EXPECT_EQ(s.dropped, 1u); // cannot tell; left counted as lost
    EXPECT_EQ(s.reordered, 0u);
}

TEST(FlowReorder, WindowKeepsHistoryAcrossGaps) {
    FlowReorder f;
    for (std::uint64_t s = 1; s <= 100; ++s)
        f.on_packet(s);
    EXPECT_EQ(f.on_packet(300), Arrival::kGap);      // 101..299 missing
    EXPECT_EQ(f.on_packet(50), Arrival::kDuplicate); // still remembered
    EXPECT_EQ(f.on_packet(150), Arrival::kLate);     // fills the gap
    EXPECT_EQ(f.on_packet(150), Arrival::kDuplicate);
    EXPECT_EQ(f.on_packet(5000), Arrival::kGap); // gap > window: all forgotten
    EXPECT_EQ(f.on_packet(4500), Arrival::kLate);
    EXPECT_EQ(f.on_packet(3977), Arrival::kLate); // oldest in the window (5000 - 1023)
    EXPECT_EQ(f.on_packet(3976), Arrival::kStale);
    EXPECT_EQ(f.on_packet(300), Arrival::kStale);
    const auto& s = f.stats();
    EXPECT_EQ(s.dup, 2u);
    EXPECT_EQ(s.out_of_order, 3u);
    EXPECT_EQ(s.stale, 2u);
    EXPECT_EQ(s.dropped, (199u - 1u) + (4699u - 2u));
}

// ------------------------------------------------------------------ n-reordering

TEST(FlowReorder, LateAfterThreeLaterPacketsTripsDupthresh) {
    const auto s = run({1, 3, 4, 5, 2, 6});
    EXPECT_EQ(s.reordered, 1u);
    EXPECT_EQ(s.n_reordering[3], 1u);
    EXPECT_EQ(s.n_reordered_ge3, 1u);
    EXPECT_EQ(s.extent.max, 3u); // i=4, j=1
    // RD: 3,4,5 each one early, 2 three late.
    expect_rd_only(s, {{0, 2}, {-1, 3}, {3, 1}});
    // RBD: 3,4,5 wait (1,2,3), 2 releases them.
    expect_rbd_only(s, {{0, 3}, {1, 1}, {2, 1}, {3, 1}});
}

TEST(FlowReorder, TwoLaterPacketsDoNotTripDupthresh) {
    const auto s = run({1, 3, 4, 2, 5});
    EXPECT_EQ(s.n_reordering[2], 1u);
    EXPECT_EQ(s.n_reordered_ge3, 0u);
}

TEST(FlowReorder, ReorderedButNotOvertakenByPredecessor) {
    // 3 is reordered (5 came first) but arrives right after 2 < 3: n = 0.
    const auto s = run({1, 5, 2, 3});
    EXPECT_EQ(s.reordered, 2u);
    EXPECT_EQ(s.n_reordering[1], 1u); // 2
    EXPECT_EQ(s.n_reordering[0], 1u); // 3
    EXPECT_EQ(s.extent.sum, 1u + 2u);
}

TEST(FlowReorder, NReorderingCapsAtSixteen) {
    FlowReorder f;
    f.on_packet(1);
    for (std::uint64_t s = 3; s <= 40; ++s)
        f.on_packet(s);
    f.on_packet(2);
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.n_reordering[kNReorderCap], 1u); // n = 38 >= 16
    EXPECT_EQ(s.n_reordered_ge3, 1u);
    EXPECT_EQ(s.extent.max, 38u); // i=39, j=1: exact, history is one run
    EXPECT_EQ(s.extent_truncated, 0u);
}

// ------------------------------------------------------------------ extents

TEST(FlowReorder, ExtentsAcrossRuns) {
    // Records: 1,2 (one run), 5,6,7 (one run after the gap). 3 and 4 late.
    const auto s = run({1, 2, 5, 6, 7, 3, 4});
    EXPECT_EQ(s.reordered, 2u);
    EXPECT_EQ(s.extent.sum, 3u + 4u); // 3: i=5, j=2; 4: i=6, j=2
    EXPECT_EQ(s.extent.max, 4u);
}

TEST(FlowReorder, ExtentFromTheRunAboveTheLatePacket) {
    // 1 arrives late after 2..9: first larger arrival is 2 at j=0.
    // 12 late after 13..20: the run 13..20 starts at j = 10.
    const auto s = run({2, 3, 4, 5, 6, 7, 8, 9, 1, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 12});
    EXPECT_EQ(s.reordered, 2u);
    EXPECT_EQ(s.extent.sum, 8u + 8u);
    // 1 is below the first arrival: auto start moved down, no loss.
    EXPECT_EQ(s.dropped, 0u);
}

TEST(FlowReorder, ExtentAfterNonRecordArrivals) {
    // 1 4 2 5 6 3: for 3 the first larger arrival is 4 (j=1), i=5 -> 4.
    const auto s = run({1, 4, 2, 5, 6, 3});
    EXPECT_EQ(s.reordered, 2u);
    EXPECT_EQ(s.extent.sum, 1u + 4u);
    EXPECT_EQ(s.n_reordering[2], 1u); // 3 after 5,6
    EXPECT_EQ(s.n_reordering[1], 1u); // 2 after 4
}

TEST(FlowReorder, ExtentIsLowerBoundWhenHistoryEvicted) {
    // Every second sequence lost: each record starts a new run; 21 runs > 16.
    FlowReorder f;
    for (std::uint64_t s = 1; s <= 41; s += 2)
        f.on_packet(s);
    f.on_packet(2); // true extent: i=21, first larger is 3 at j=1 -> 20
    f.finish();
    const auto& s = f.stats();
    EXPECT_EQ(s.extent_truncated, 1u);
    EXPECT_EQ(s.extent.max, 16u); // oldest retained run starts at j=5
    EXPECT_LE(s.extent.max, 20u);
}

// ------------------------------------------------------------------ RFC 5236

// Receive index with a loss (RFC 5236 §3.1): 4 lost, RI skips it, no
// displacement anywhere.
TEST(ReorderDensity, ReceiveIndexSkipsLoss) {
    const auto s = run({1, 2, 3, 5, 6});
    expect_rd_only(s, {{0, 5}});
    EXPECT_EQ(s.rd_skipped, 1u);
}

// Receive index with a duplicate (RFC 5236 §3.1): the duplicate gets no
// receive index.
TEST(ReorderDensity, DuplicateGetsNoReceiveIndex) {
    const auto s = run({1, 2, 3, 2, 4, 5});
    expect_rd_only(s, {{0, 5}});
}

// The standard RD illustration: 1 6 7 2 3 4 5 8 -> D = 0 -4 -4 2 2 2 2 0.
TEST(ReorderDensity, EarlyPairAndLateFour) {
    for (std::uint32_t d : {4u, 8u, 15u}) {
        const auto s = run({1, 6, 7, 2, 3, 4, 5, 8}, dt(d));
        expect_rd_only(s, {{0, 2}, {-4, 2}, {2, 4}});
        EXPECT_DOUBLE_EQ(s.rd(-4), 0.25);
        EXPECT_DOUBLE_EQ(s.rd(2), 0.5);
        EXPECT_EQ(s.rd_discarded, 0u);
        // RBD: 6 and 7 wait for 2..5: occupancies 0 1 2 2 2 2 0 0.
        expect_rbd_only(s, {{0, 3}, {1, 1}, {2, 4}});
    }
    // DT 3: 6 and 7 are displaced beyond the threshold -> lost for RD; 6 and
    // 7 are then missing receive indices (skipped), the rest lines up.
    const auto s = run({1, 6, 7, 2, 3, 4, 5, 8}, dt(3));
    expect_rd_only(s, {{0, 6}});
    EXPECT_EQ(s.rd_discarded, 2u);
    EXPECT_EQ(s.rd_skipped, 2u);
}

// The threshold decides late versus lost: 2 arrives after 3,4,5 (D = 3).
TEST(ReorderDensity, ThresholdDecidesLateOrLost) {
    const auto s3 = run({1, 3, 4, 5, 2, 6}, dt(3));
    expect_rd_only(s3, {{0, 2}, {-1, 3}, {3, 1}});
    EXPECT_EQ(s3.rd_discarded, 0u);

    const auto s2 = run({1, 3, 4, 5, 2, 6}, dt(2));
    // 2 is not among the 3 arrivals after 1: RI 2 is skipped, and when 2
    // finally arrives its index is gone (treated as lost/duplicate).
    expect_rd_only(s2, {{0, 5}});
    EXPECT_EQ(s2.rd_skipped, 1u);
    EXPECT_EQ(s2.rd_discarded, 1u);
    // RBD with BT 2 likewise gives up on 2 and never holds anything.
    expect_rbd_only(s2, {{0, 5}});
    EXPECT_EQ(s2.rbd_lost, 1u);
    EXPECT_EQ(s2.rbd_discarded, 1u);
}

// Reorder buffer-occupancy density, hand-computed.
TEST(ReorderBufferDensity, IdealResequencingBuffer) {
    // 1 4 2 5 3 with BT 2: occupancy after each arrival 0 1 1 2 0.
    const auto s = run({1, 4, 2, 5, 3}, dt(2));
    expect_rbd_only(s, {{0, 2}, {1, 2}, {2, 1}});
    EXPECT_DOUBLE_EQ(s.rbd(1), 0.4);
    EXPECT_EQ(s.rbd_lost, 0u);
}

TEST(ReorderBufferDensity, OccupancyThreshold) {
    // Same with BT 1: when 5 arrives the buffer would hold 4 and 5 (> 1), so
    // 3 is given up, 4 and 5 are released; 3 arrives after that: discarded.
    const auto s = run({1, 4, 2, 5, 3}, dt(1));
    expect_rbd_only(s, {{0, 2}, {1, 2}});
    EXPECT_EQ(s.rbd_lost, 1u);
    EXPECT_EQ(s.rbd_discarded, 1u);
    // The RFC 4737 view is unaffected by the threshold.
    EXPECT_EQ(s.reordered, 2u);
}

// ------------------------------------------------------------------ merge / table

TEST(ReorderStats, MergeOfTwoFlowsIsTheSum) {
    const auto a = run({1, 10, 2, 3, 4, 5});
    const auto b = run({1, 3, 4, 5, 2, 6, 6});
    ReorderStats m = a;
    m.merge(b);
    EXPECT_EQ(m.received, a.received + b.received);
    EXPECT_EQ(m.unique, a.unique + b.unique);
    EXPECT_EQ(m.dup, 1u);
    EXPECT_EQ(m.reordered, 5u);
    EXPECT_EQ(m.dropped, a.dropped + b.dropped);
    EXPECT_EQ(m.extent.count, 5u);
    EXPECT_EQ(m.extent.sum, a.extent.sum + b.extent.sum);
    EXPECT_EQ(m.extent.max, 4u);
    EXPECT_EQ(m.n_reordered_ge3, 1u);
    EXPECT_EQ(m.free_runs, a.free_runs + b.free_runs);
    EXPECT_EQ(m.free_run_max, std::max(a.free_run_max, b.free_run_max));
    for (int d = -static_cast<int>(kMaxDensityThreshold); d <= static_cast<int>(kMaxDensityThreshold); ++d) {
        EXPECT_EQ(m.rd_count(d), a.rd_count(d) + b.rd_count(d));
    }
    for (std::uint32_t k = 0; k <= kMaxDensityThreshold; ++k) {
        EXPECT_EQ(m.rbd_freq[k], a.rbd_freq[k] + b.rbd_freq[k]);
    }
    EXPECT_DOUBLE_EQ(m.reordered_ratio(), 5.0 / 12.0);
    // Merging an empty one changes nothing; order does not matter.
    ReorderStats m2 = b;
    m2.merge(a);
    m2.merge(ReorderStats{});
    EXPECT_EQ(m, m2);
}

TEST(ReorderTable, InterleavedFlowsAndUntracked) {
    ReorderTable t(2);
    // Flow 0: 1,3,2 ; flow 1: 1,2,4 ; flow 7: untracked.
    EXPECT_EQ(t.on_packet(0, 1), Arrival::kInOrder);
    EXPECT_EQ(t.on_packet(1, 1), Arrival::kInOrder);
    EXPECT_EQ(t.on_packet(0, 3), Arrival::kGap);
    EXPECT_EQ(t.on_packet(7, 1), Arrival::kUntracked);
    EXPECT_EQ(t.on_packet(1, 2), Arrival::kInOrder);
    EXPECT_EQ(t.on_packet(0, 2), Arrival::kLate);
    EXPECT_EQ(t.on_packet(1, 4), Arrival::kGap);
    t.finish();
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.untracked(), 1u);
    EXPECT_EQ(t.flow(0).stats().reordered, 1u);
    EXPECT_EQ(t.flow(1).stats().reordered, 0u);
    EXPECT_EQ(t.flow(1).stats().dropped, 1u);

    ReorderStats expect = t.flow(0).stats();
    expect.merge(t.flow(1).stats());
    expect.untracked = 1;
    EXPECT_EQ(t.totals(), expect);
    EXPECT_EQ(t.totals().received, 6u);

    t.reset();
    EXPECT_EQ(t.totals().received, 0u);
    EXPECT_EQ(t.untracked(), 0u);
    EXPECT_EQ(t.on_packet(0, 50), Arrival::kInOrder); // fresh auto start
}

TEST(FlowReorder, ResetKeepsConfig) {
    FlowReorder f(dt(3));
    for (std::uint64_t s : {1, 3, 2})
        f.on_packet(s);
    f.reset();
    ReorderStats fresh;
    fresh.density_threshold = 3;
    EXPECT_EQ(f.stats(), fresh);
    for (std::uint64_t s : {5, 6})
        f.on_packet(s);
    f.finish();
    EXPECT_EQ(f.stats().reordered, 0u);
    EXPECT_EQ(f.stats().density_threshold, 3u);
}

} // namespace
} // namespace flowteam::measure
