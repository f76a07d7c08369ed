// SPDX-License-Identifier: BSD-3-Clause
// flowteam — per-flow packet reordering metrics (BRIEF §7), mergeable.
//
// Feed each flow's sequence numbers in arrival order to a FlowReorder (or a
// ReorderTable that holds N of them). Three families of metrics come out,
// all in one ReorderStats that sums across flows and lcores:
//
// 1. TRex-style counters (loss apart from reordering), over the stream as
//    a whole, with a 1024-sequence received-window bitmap:
//      seq == expected       -> in_order
//      seq >  expected       -> seq_too_high; dropped += seq - expected (gap)
//      seq <  expected       -> seq_too_low, then exactly one of:
//          bit already set   -> dup
//          bit clear         -> out_of_order (a late packet fills a gap;
//                               dropped -= 1)
//          > 1024 behind     -> stale (cannot tell a late fill from a dup;
//                               dropped is left alone). Stale packets are
//                               left out of every other metric.
//    "expected" is the highest sequence seen + 1. By default the first
//    arrival starts the stream; a packet below it (within the window) moves
//    the start down, so 3,1,2 ends with dropped 0, out_of_order 2. Set
//    ReorderConfig::first_seq when the sender's first sequence is known:
//    then a lost first packet counts as dropped and anything below it is
//    stale.
//
// 2. RFC 4737 over the duplicate-free arrivals (positions i = 0,1,2,...):
//    NextExp = highest sequence received + 1 (never decreases); a packet with
//    s < NextExp is reordered. Loss alone is not reordering (1,2,4,5 has no
//    reordered packet). The classic pitfall: 1,10,2,3,4,5 -> 2,3,4,5 are all
//    reordered (4 of 6), because 10 raised NextExp to 11. The "overtaken"
//    view is also in the stats: n_reordering[0] counts reordered packets
//    whose immediate predecessor was smaller (3,4,5 above), so
//    reordered - n_reordering[0] = packets directly overtaken (1 above).
//    - extent e = i - min{j < i : s[j] > s}: kept as a log2 histogram with
//      exact count/sum/max. The first j with s[j] > s is always a "record"
//      (a new maximum); records are kept as runs (consecutive positions and
//      consecutive sequences in one run, so an in-order stream is one run),
//      16 runs per flow. When the needed run has been evicted the extent is
//      a lower bound and extent_truncated counts it.
//    - n-reordering: n = how many arrivals just before it all carry a larger
//      sequence; histogram n = 0..15, bin 16 = "n >= 16". n_reordered_ge3
//      counts n >= 3 (what trips TCP's dupthresh of 3).
//    - reordering-free runs: maximal stretches of consecutive non-reordered
//      arrivals (length >= 1), closed by a reordered packet or finish().
//
// 3. RFC 5236 with threshold DT (ReorderConfig::density_threshold, default 8):
//    - RD: displacement D = receive index - sequence (D < 0 early, D > 0
//      late), computed with the RFC authors' algorithm: a look-ahead window
//      of the next DT+1 distinct arrivals decides losses (a missing receive
//      index is skipped: rd_skipped), early arrivals wait in a DT-slot
//      buffer, duplicates get no receive index, and arrivals with |D| > DT
//      or arriving after their index was skipped are discarded
//      (rd_discarded). rd_freq[D + kMaxDensityThreshold] counts D; rd(D)
//      is the normalised density.
//    - RBD: occupancy of an ideal resequencing buffer (release in order),
//      with the same DT as occupancy threshold BT: the expected packet is
//      declared lost when it is not among the next DT+1 arrivals, or when
//      holding another packet would push the occupancy above DT (rbd_lost
//      counts the sequence numbers given up). rbd_freq[B] counts arrivals
//      after which the buffer held B packets; rbd(B) is normalised.
//    Because of the look-ahead, RD/RBD lag the stream by up to DT+1
//    distinct arrivals; finish() drains them.
//
// Sequences are 64-bit and must not wrap (extend 16/32-bit wire sequences
// before feeding them). on_packet() never allocates, locks or throws; one
// FlowReorder is about 2 KiB (checked by a static_assert in reorder.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "measure/histogram.h"

namespace flowteam::measure {

// Largest RFC 5236 threshold DT supported; the look-ahead window holds DT+1.
inline constexpr std::uint32_t kMaxDensityThreshold = 15;
inline constexpr std::uint32_t kLookahead = kMaxDensityThreshold + 1;
static_assert((kLookahead & (kLookahead - 1)) == 0, "look-ahead ring must be a power of two");

inline constexpr std::uint32_t kDupWindow = 1024; // received-window bitmap, sequences
inline constexpr std::uint32_t kRecordRuns = 16;  // RFC 4737 record history, runs
inline constexpr std::uint32_t kNReorderCap = 16; // n-reordering: bins 0..15, 16 = ">= 16"
inline constexpr std::size_t kExtentBins = 24;    // extent log2 bins (exact up to 4,194,303)
static_assert((kDupWindow & (kDupWindow - 1)) == 0 && kDupWindow % 64 == 0);
static_assert((kRecordRuns & (kRecordRuns - 1)) == 0);
static_assert((kNReorderCap & (kNReorderCap - 1)) == 0);

struct ReorderConfig {
    // RFC 5236 displacement threshold DT, also the buffer-occupancy threshold
    // BT of RBD. 1..kMaxDensityThreshold.
    std::uint32_t density_threshold = 8;
    // The sender's first sequence number, when known (else: the first arrival).
    std::optional<std::uint64_t> first_seq;

    // Throws std::invalid_argument naming the field when out of range.
    void validate() const;
};

// How one packet was classified (TRex view; kLate == RFC 4737 "reordered").
enum class Arrival : std::uint8_t {
    kInOrder,   // seq == expected
    kGap,       // seq >  expected (seq_too_high): a new highest after a gap
    kLate,      // seq <  expected, fills a gap: reordered
    kDuplicate, // already received
    kStale,     // more than kDupWindow behind (or below first_seq): ignored
    kUntracked, // ReorderTable only: flow id beyond the table
};

struct ReorderStats {
    // -- arrivals
    std::uint64_t received = 0; // every packet
    std::uint64_t unique = 0;   // received - dup - stale (RFC 4737 sample size)

    // -- TRex-style
    std::uint64_t in_order = 0;
    std::uint64_t seq_too_high = 0; // gap events
    std::uint64_t seq_too_low = 0;  // = dup + out_of_order + stale
    std::uint64_t dup = 0;
    std::uint64_t out_of_order = 0; // late packets that filled a gap
    std::uint64_t stale = 0;
    std::uint64_t dropped = 0; // sequences still missing

    // -- RFC 4737
    std::uint64_t reordered = 0;
    Log2Histogram<kExtentBins> extent;                          // one sample per reordered packet
    std::uint64_t extent_truncated = 0;                         // extents reported as lower bounds
    std::array<std::uint64_t, kNReorderCap + 1> n_reordering{}; // [n], last = n >= cap
    std::uint64_t n_reordered_ge3 = 0;
    std::uint64_t free_runs = 0;    // reordering-free runs (length >= 1)
    std::uint64_t free_run_sum = 0; // total packets in them
    std::uint64_t free_run_max = 0;

    // -- RFC 5236
    std::uint32_t density_threshold = 0;                               // DT used (largest, after merges)
    std::array<std::uint64_t, 2 * kMaxDensityThreshold + 1> rd_freq{}; // [D + kMaxDensityThreshold]
    std::uint64_t rd_skipped = 0;   // receive indices skipped (lost, as RD sees it)
    std::uint64_t rd_discarded = 0; // arrivals given no receive index (|D| > DT, too late, dup)
    std::array<std::uint64_t, kMaxDensityThreshold + 1> rbd_freq{}; // [occupancy]
    std::uint64_t rbd_lost = 0;      // sequences the resequencing buffer gave up on
    std::uint64_t rbd_discarded = 0; // arrivals after their sequence was given up (or dup)

    // -- ReorderTable::totals() only
    std::uint64_t untracked = 0;

    // Sum counters and histograms, max the maxima.
    void merge(const ReorderStats& o);

    double reordered_ratio() const { return ratio(reordered, unique); }
    // Missing sequences over sequences the sender must have sent so far.
    double loss_ratio() const { return ratio(dropped, unique + dropped); }
    double mean_free_run() const { return ratio(free_run_sum, free_runs); }
    std::uint64_t rd_total() const;      // packets with a displacement
    std::uint64_t rbd_total() const;     // arrivals with an occupancy sample
    std::uint64_t rd_count(int d) const; // 0 when |d| > kMaxDensityThreshold
    double rd(int d) const;              // normalised RD[d]
    double rbd(std::uint32_t b) const;   // normalised RBD[b]
    // Reordered packets overtaken by their immediate predecessor (n >= 1).
    std::uint64_t overtaken() const { return reordered - n_reordering[0]; }

    bool operator==(const ReorderStats&) const = default;

  private:
    static double ratio(std::uint64_t a, std::uint64_t b) {
        return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
    }
};

// All metrics for one flow. Copyable, fixed size, no heap.
class FlowReorder {
  public:
    explicit FlowReorder(const ReorderConfig& cfg = {});

    // Per-packet update. No allocation, no exceptions.
    Arrival on_packet(std::uint64_t seq);
    // End of measurement: drains the RFC 5236 look-ahead and closes the open
    // reordering-free run. Idempotent; more packets may follow (they continue
    // the same stream).
    void finish();
    // Forget everything (same config).
    void reset();

    const ReorderStats& stats() const { return st_; }
    std::uint64_t next_expected() const { return next_exp_; }

    // Hint: brings the lines on_packet(seq) touches in the common in-order
    // case toward the cache (the RX loop calls it a few packets ahead, as the
    // per-flow state of thousands of flows lives in L3 at best). No effect on
    // the state.
    void prefetch(std::uint64_t seq) const noexcept {
        __builtin_prefetch(this);
        __builtin_prefetch(&next_exp_);
        __builtin_prefetch(&seen_[(seq & (kDupWindow - 1)) >> 6]);
        __builtin_prefetch(&runs_[0]);
        __builtin_prefetch(&recent_[0]);
        __builtin_prefetch(&rd_win_);
        __builtin_prefetch(&rbd_win_);
        __builtin_prefetch(&st_.rd_freq[kMaxDensityThreshold]);   // in order: displacement 0
        __builtin_prefetch(&st_.rbd_freq[0]);                     // in order: occupancy 0
    }

  private:
    // Fixed ring of up to kLookahead sequence numbers in arrival order.
    struct Lookahead {
        std::array<std::uint64_t, kLookahead> v{};
        std::uint64_t max_pushed = 0; // >= every element (fast "not in window")
        std::uint8_t head = 0;
        std::uint8_t size = 0;

        std::uint64_t at(std::uint32_t k) const { return v[(head + k) & (kLookahead - 1)]; }
        std::uint64_t front() const { return v[head]; }
        void push(std::uint64_t s);
        std::uint64_t pop();
        bool contains(std::uint64_t s) const;
        std::uint64_t min() const;
        // Smallest element >= s, or false.
        bool min_at_least(std::uint64_t s, std::uint64_t& out) const;
    };
    // Records with consecutive positions and consecutive sequences.
    struct RecordRun {
        std::uint64_t pos;
        std::uint64_t seq;
        std::uint64_t len;
    };

    void advance_to(std::uint64_t seq); // bitmap: seq becomes the highest
    bool seen(std::uint64_t seq) const;
    void mark(std::uint64_t seq);
    void on_record(std::uint64_t seq);    // RFC 4737: s >= NextExp
    void on_reordered(std::uint64_t seq); // RFC 4737: s <  NextExp
    void close_run();
    void rd_push(std::uint64_t seq);
    void rd_step();
    void rd_advance(std::uint64_t to);
    void rbd_push(std::uint64_t seq);
    void rbd_step();
    void rbd_release();
    bool rbd_holds(std::uint64_t seq) const;
    void rbd_remove(std::uint32_t k);

    // Small fields first, grouped to avoid padding.
    std::uint32_t dt_;     // config: DT (= BT)
    bool has_first_;       // config: first_seq given
    bool started_ = false; // first packet seen (or first_seq given)
    bool ri_init_ = false; // RD receive index set
    bool e_init_ = false;  // RBD expected sequence set
    std::uint8_t runs_head_ = 0;
    std::uint8_t runs_n_ = 0;
    bool runs_evicted_ = false;
    std::uint8_t rbd_n_ = 0;  // packets held by the RBD buffer
    std::uint64_t first_seq_; // config

    ReorderStats st_;

    // Stream position (TRex and RFC 4737 share "highest + 1").
    std::uint64_t next_exp_ = 0;
    std::uint64_t base_ = 0;    // lowest sequence of the stream
    std::uint64_t pos_ = 0;     // arrival position among unique packets
    std::uint64_t cur_run_ = 0; // open reordering-free run
    std::array<std::uint64_t, kDupWindow / 64> seen_{};

    // RFC 4737 history.
    std::array<RecordRun, kRecordRuns> runs_{};
    std::array<std::uint64_t, kNReorderCap> recent_{}; // last arrivals, by pos_

    // RFC 5236 RD.
    std::uint64_t ri_ = 0;
    std::uint64_t rd_buf_ = 0; // bit k: sequence ri_ + k arrived early
    Lookahead rd_win_;

    // RFC 5236 RBD.
    std::uint64_t e_ = 0;
    std::array<std::uint64_t, kLookahead> rbd_buf_{}; // held sequences (> e_), unordered
    Lookahead rbd_win_;
};

// N flows preallocated, indexed by a dense flow id (e.g. from the flow
// table). Packets of flow ids >= N are counted as untracked.
class ReorderTable {
  public:
    // Throws std::invalid_argument when n_flows == 0 or cfg is invalid.
    ReorderTable(std::uint32_t n_flows, const ReorderConfig& cfg = {});

    Arrival on_packet(std::uint32_t flow_id, std::uint64_t seq) {
        if (flow_id >= flows_.size()) {
            ++untracked_;
            return Arrival::kUntracked;
        }
        return flows_[flow_id].on_packet(seq);
    }
    void finish();
    void reset();

    std::uint32_t size() const { return static_cast<std::uint32_t>(flows_.size()); }
    // Control path (bounds-checked: throws std::out_of_range).
    const FlowReorder& flow(std::uint32_t id) const { return flows_.at(id); }
    std::uint64_t untracked() const { return untracked_; }
    // All flows merged, plus untracked.
    ReorderStats totals() const;

  private:
    std::vector<FlowReorder> flows_;
    std::uint64_t untracked_ = 0;
};

} // namespace flowteam::measure
