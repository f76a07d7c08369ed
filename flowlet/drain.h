// SPDX-License-Identifier: BSD-3-Clause
// flowteam — queue-aware flowlet timing: when may a flow leave its member?
//
// A flow may leave member o for member n without being reordered once its
// last packet on o is sure to arrive before the first packet on n can. With
// d the departure of that last packet (its last bit leaves o's queue), o's
// path delay after departure at most hi_o and n's at least lo_n:
//
//     now >= d + max(0, hi_o - lo_n) + delta            (delta: a margin)
//
// A sender stalled by a full member queue therefore never looks idle: its
// packets have not departed. With delta = 0 a flow moves as soon as moving
// is safe. (The classic FLARE rule, "idle at the sender for >= delta", is
// flowlet::Timing::sender and needs delta > skew + queueing.)
//
// The sender does not see departures directly. DrainClock numbers the
// packets handed to each member (positions 1, 2, 3, ... in the member's send
// order) and collects evidence "by time t, the first D packets handed to m
// had left m (or were dropped: a dropped packet is never overtaken)":
//   - observed: from the member's own view — the testbed link model knows
//     every departure, a NIC reports its TX descriptors done —
//     on_departed(m, D, t);
//   - modelled: for a port that reports nothing, the packets leave at the
//     member's line rate after the ones handed before them — on_sent().
// view(now) turns the evidence into DrainView::drained[m]: the largest D
// known to have left m by (now - gap[m]), with
//     gap[m] = max(0, hi_m - min_n lo_n) + delta,
// min over every member (a lower bound of the pair-wise rule above, so one
// mark per member serves every destination). When a member uses both kinds
// of evidence, the smaller D wins.
//
// Safety: evidence is only used as a lower bound of what left. A sample at
// time t counts once t <= now - gap; samples closer than `spacing` are
// merged into the later one (the earlier statement is dropped, which can
// only delay a move); an unknown hi_m (no measurement yet) means nothing on
// m is ever safe to leave; an unknown lo_n counts as 0. So a late, coarse or
// missing sample delays a move and never allows an early one.
//
// Path delays (after departure: propagation, switch, jitter — not the
// sender's queueing, which the positions account for) come from
// set_path_delay() (measured by the receiver, see measure/delay.h) or
// assume_zero_path_delay() (delta must then cover the path skew). With
// auto_delta, delta = (max hi - min lo) / 8 + auto_floor: an eighth of the
// measured spread covers a jitter tail not yet seen in the measurement
// window; auto_floor covers the clock's granularity.
//
// One DrainClock per TX lcore (not thread-safe); no allocation after
// construction, no locks, no exceptions on the per-burst path.
#pragma once

#include <array>
#include <cstdint>

#include "common/types.h"

namespace flowteam::flowlet {

inline constexpr Tick kUnknownDelay = ~Tick{0};

struct DrainConfig {
    std::uint8_t members = 0;          // 1..kMaxMembers
    Tick delta = 0;                    // margin, ticks (ignored with auto_delta)
    bool auto_delta = false;           // delta from the measured delays (see above)
    Tick auto_floor = 0;               // auto_delta: added to spread / 8, ticks
    std::uint64_t tick_hz = 1'000'000'000ull;  // for the line-rate model
    std::uint32_t overhead_bytes = 24; // model: wire bytes per frame besides the frame (preamble, IFG, FCS)
};

struct DrainCounters {
    std::uint64_t evidence_samples = 0;   // departure samples kept
    std::uint64_t evidence_merged = 0;    // ... merged into a later one (spacing / full ring)
};

class DrainClock {
public:
    // Throws std::invalid_argument (one line) on a bad configuration.
    explicit DrainClock(const DrainConfig& cfg);

    // Members' line rates for the model (bits/s; 0 = no model for m).
    void set_rate(std::uint8_t m, std::uint64_t bps);
    // Which evidence a member has: observed (on_departed), modelled
    // (on_sent), or both. Default: modelled only.
    void use_evidence(std::uint8_t m, bool observed, bool modelled);

    // The team handed k more packets to member m (after Team::assign, in
    // member send order). Their positions are handed[m]+1 .. handed[m]+k.
    void on_handed(std::uint8_t m, std::uint32_t k) { handed_[m] += k; }
    // The last k packets handed to m were taken back before m sent them
    // (m went down; they are re-run through the team): positions reused.
    void on_taken_back(std::uint8_t m, std::uint32_t k) { handed_[m] -= k <= handed_[m] ? k : handed_[m]; }
    // Model: k packets of `frame_bytes` in all were given to m's port at
    // `now` (they leave at line rate after what m already holds).
    void on_sent(std::uint8_t m, std::uint32_t k, std::uint64_t frame_bytes, Tick now);
    // Observed: by time `at`, the first `departed` packets handed to m had
    // left m or were dropped. Non-decreasing in both per member.
    void on_departed(std::uint8_t m, std::uint64_t departed, Tick at);

    // Path delay of member m after departure, in ticks: [lo, hi] (hi may be
    // kUnknownDelay: not measured yet).
    void set_path_delay(std::uint8_t m, Tick lo, Tick hi);
    void assume_zero_path_delay();

    // The members' state for a burst decided at `now` (valid until the next call).
    const DrainView& view(Tick now) noexcept;

    // What the rule uses now: max over members of max(0, hi_m - min lo), and delta.
    Tick skew() const { return skew_; }
    // Model: when member m's port will have sent everything given to it (0: never used).
    Tick busy_until(std::uint8_t m) const { return wire_free_[m]; }
    Tick delta() const { return delta_eff_; }
    Tick gap(std::uint8_t m) const { return view_.gap[m]; }
    std::uint64_t handed(std::uint8_t m) const { return handed_[m]; }
    const DrainCounters& counters() const { return c_; }

private:
    // Departure samples of one kind for one member: (at, D) pairs, at and D
    // non-decreasing, in a ring; `best` is the newest sample already due.
    struct Evidence {
        static constexpr unsigned kRing = 64;
        std::array<Tick, kRing> at{};
        std::array<std::uint64_t, kRing> departed{};
        unsigned head = 0, n = 0;
        Tick best_at = 0;
        std::uint64_t best = 0;
        std::uint64_t newest = 0;   // the largest D ever reported (whatever its time)
        Tick opened = 0;            // time of the first statement merged into the newest sample
        void add(Tick t, std::uint64_t d, Tick spacing, DrainCounters& c) noexcept;
        std::uint64_t due(Tick t) noexcept;   // the largest D known to have left by t
    };
    void recompute() noexcept;

    DrainConfig cfg_;
    std::array<std::uint64_t, kMaxMembers> handed_{};
    std::array<std::uint64_t, kMaxMembers> sent_{};        // handed to the port (model)
    std::array<std::uint64_t, kMaxMembers> ticks_per_byte_fp_{}; // 32.32, 0 = no model
    std::array<Tick, kMaxMembers> wire_free_{};            // model: when m's port is idle again
    std::array<std::uint32_t, kMaxMembers> wire_frac_{};
    std::array<bool, kMaxMembers> observed_{}, modelled_{};
    std::array<Tick, kMaxMembers> lo_{}, hi_{};
    std::array<Tick, kMaxMembers> spacing_{};
    std::array<Evidence, kMaxMembers> obs_ev_{}, model_ev_{};
    DrainView view_{};
    Tick skew_ = 0, delta_eff_ = 0;
    DrainCounters c_;
};

} // namespace flowteam::flowlet
