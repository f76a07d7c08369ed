// SPDX-License-Identifier: BSD-3-Clause
// flowteam — flow completion time (FCT) at the receiver.
//
// A flow's FCT is the time from the send tick of its first packet (the probe
// header's tx tick: when the generator produced it) to the arrival of the
// packet that completes it (the last of its bytes to arrive, whatever its
// sequence number). The receiver knows a flow's size from the probe header
// (flow_bytes: UDP payload bytes of the whole flow, probe headers included),
// counts the payload bytes it received and, when they reach the size, the
// flow is complete: one sample in the histogram of its size bucket.
//
// Flows without a size (flow_bytes = 0: unbounded elephants) have no FCT and
// are counted apart. A flow still short of bytes when its state is retired
// (end of run, or its slot taken by a newer flow) is counted as incomplete in
// its bucket — never as a sample. The wait before a flow's first packet leaves
// the generator is not part of the FCT.
//
// Everything is fixed-size: FlowFct is 32 bytes of per-flow state kept in the
// RX flow table; FctStats holds one log-linear histogram per size bucket.
// No allocation, no division on the per-packet path.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "common/types.h"

namespace flowteam::measure {

// Size buckets of the LetFlow/CONGA evaluations: < 100 KB, 100 KB – 10 MB, > 10 MB.
inline constexpr std::size_t kFctBuckets = 3;
inline constexpr std::uint64_t kFctSmallMax = 100'000;     // bytes: small flows are < this
inline constexpr std::uint64_t kFctLargeMin = 10'000'000;  // large flows are > this
constexpr std::size_t fct_bucket_of(std::uint64_t flow_bytes) {
    return flow_bytes < kFctSmallMax ? 0 : flow_bytes <= kFctLargeMin ? 1 : 2;
}
const char* fct_bucket_name(std::size_t bucket);   // "<100KB", "100KB-10MB", ">10MB"
const char* fct_bucket_key(std::size_t bucket);    // "small", "medium", "large"

// Log-linear histogram of durations (any unit, e.g. TSC ticks): values below
// 16 exact, above that 16 bins per power of two (relative bin width 1/16).
// count, sum, min and max are exact; percentiles resolve to a bin's upper
// edge clamped to [min, max]. Mergeable, no allocation.
struct FctHistogram {
    static constexpr unsigned kSubBits = 4;
    static constexpr unsigned kSub = 1u << kSubBits;                  // 16
    static constexpr std::size_t kBins = kSub + (64 - kSubBits) * kSub; // 976

    std::array<std::uint64_t, kBins> bins{};
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    std::uint64_t min = 0;
    std::uint64_t max = 0;

    static constexpr std::size_t bin_of(std::uint64_t v) {
        if (v < kSub) return static_cast<std::size_t>(v);
        const unsigned e = static_cast<unsigned>(std::bit_width(v)) - 1;   // >= kSubBits
        const std::uint64_t sub = (v >> (e - kSubBits)) & (kSub - 1);
        return kSub + static_cast<std::size_t>(e - kSubBits) * kSub + static_cast<std::size_t>(sub);
    }
    static constexpr std::uint64_t bin_lower(std::size_t b) {
        if (b < kSub) return b;
        const unsigned e = static_cast<unsigned>((b - kSub) / kSub) + kSubBits;
        const std::uint64_t sub = (b - kSub) % kSub;
        return (kSub + sub) << (e - kSubBits);
    }
    static constexpr std::uint64_t bin_upper(std::size_t b) {
        if (b < kSub) return b;
        const unsigned e = static_cast<unsigned>((b - kSub) / kSub) + kSubBits;
        return bin_lower(b) + ((std::uint64_t{1} << (e - kSubBits)) - 1);
    }

    void add(std::uint64_t v) noexcept {
        ++bins[bin_of(v)];
        min = count == 0 || v < min ? v : min;
        max = v > max ? v : max;
        ++count;
        sum += v;
    }
    void merge(const FctHistogram& o) noexcept;
    double mean() const { return count == 0 ? 0.0 : static_cast<double>(sum) / static_cast<double>(count); }
    // The p-quantile (0 <= p <= 1): the upper edge of the bin holding the
    // ceil(p·count)-th smallest sample, clamped to [min, max]; 0 when empty.
    std::uint64_t percentile(double p) const;
};

// Per-flow state, kept in the receiver's flow table next to the reorder state.
struct FlowFct {
    Tick first_tx = kNoTick;       // smallest send tick seen (= the first packet's once it arrived)
    std::uint64_t size = 0;        // payload bytes of the whole flow (0 = unbounded: no FCT)
    std::uint64_t got = 0;         // payload bytes received (duplicates excluded by the caller)
    bool done = false;
    static constexpr Tick kNoTick = UINT64_MAX;

    void reset() noexcept { *this = FlowFct{}; }
    // One packet of the flow: its send tick, arrival tick, payload bytes and
    // the flow size it carries. Returns true when it completes the flow, with
    // the FCT in `fct` (arrival − first send tick, 0 if the clocks disagree).
    bool on_packet(Tick tx, Tick arrival, std::uint32_t payload, std::uint64_t flow_bytes, Tick& fct) noexcept {
        if (done) return false;
        if (tx != 0 && tx < first_tx) first_tx = tx;
        size = flow_bytes;
        got += payload;
        if (size == 0 || got < size) return false;
        done = true;
        fct = first_tx != kNoTick && arrival > first_tx ? arrival - first_tx : 0;
        return true;
    }
};

struct FctStats {
    std::array<FctHistogram, kFctBuckets> done{};         // completed flows' FCT, in ticks
    std::array<std::uint64_t, kFctBuckets> incomplete{};  // flows seen whose bytes did not all arrive
    std::uint64_t unbounded = 0;                          // flows without a size (no FCT)

    void on_complete(std::uint64_t flow_bytes, Tick fct) noexcept { done[fct_bucket_of(flow_bytes)].add(fct); }
    // A flow's state is retired (end of run, or its slot reused).
    void on_retire(const FlowFct& f) noexcept {
        if (f.done) return;
        if (f.size == 0) ++unbounded;
        else ++incomplete[fct_bucket_of(f.size)];
    }
    void merge(const FctStats& o) noexcept;
    std::uint64_t completed() const;
    std::uint64_t incomplete_total() const;
    FctHistogram all() const;   // the buckets merged
};

} // namespace flowteam::measure
