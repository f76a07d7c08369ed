// SPDX-License-Identifier: BSD-3-Clause
// flowteam — queue-aware flowlet timing, see drain.h.
#include "flowlet/drain.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace flowteam::flowlet {

namespace {
// Samples closer than gap / kSpacingDiv are merged, so the ring spans at
// least kRing / kSpacingDiv gaps (64 / 48): the sample a query needs is
// still there when its time comes.
constexpr Tick kSpacingDiv = 48;
constexpr Tick kMinSpacing = 64;   // ticks (~20 ns at 3 GHz)
} // namespace

DrainClock::DrainClock(const DrainConfig& cfg) : cfg_(cfg) {
    if (cfg_.members == 0 || cfg_.members > kMaxMembers)
        throw std::invalid_argument("drain clock: members " + std::to_string(cfg_.members) + " (allowed: 1.." +
                                    std::to_string(kMaxMembers) + ")");
    if (cfg_.tick_hz < 1'000'000ull)
        throw std::invalid_argument("drain clock: tick_hz " + std::to_string(cfg_.tick_hz) + " (allowed: >= 1 MHz)");
    for (std::uint8_t m = 0; m < kMaxMembers; ++m) {
        modelled_[m] = true;
        hi_[m] = kUnknownDelay;
        spacing_[m] = kMinSpacing;
    }
    recompute();
}

void DrainClock::set_rate(std::uint8_t m, std::uint64_t bps) {
    if (m >= cfg_.members) throw std::invalid_argument("drain clock: member " + std::to_string(m) + " does not exist");
    ticks_per_byte_fp_[m] =
        bps == 0 ? 0
                 : static_cast<std::uint64_t>((static_cast<unsigned __int128>(8u * cfg_.tick_hz) << 32) / bps);
}

void DrainClock::use_evidence(std::uint8_t m, bool observed, bool modelled) {
    if (m >= cfg_.members) throw std::invalid_argument("drain clock: member " + std::to_string(m) + " does not exist");
    if (!observed && !modelled)
        throw std::invalid_argument("drain clock: member " + std::to_string(m) + " needs some departure evidence");
    observed_[m] = observed;
    modelled_[m] = modelled;
}

void DrainClock::Evidence::add(Tick t, std::uint64_t d, Tick spacing, DrainCounters& c) noexcept {
    newest = std::max(newest, d);
    if (n != 0) {
        const unsigned last = (head + n - 1) % kRing;
        if (d <= departed[last] && t >= at[last]) return;   // says nothing new
        // Within `spacing` of the time the newest sample was opened (not
        // of its merged time: a steady stream of statements closer than
        // `spacing` would push one sample forward forever and it would
        // never fall due).
        if (t < opened + spacing || n == kRing) {
            // Merge: keep the later statement (valid: D left by t), drop the earlier one.
            at[last] = std::max(at[last], t);
            departed[last] = std::max(departed[last], d);
            ++c.evidence_merged;
            return;
        }
    } else if (d <= best && t >= best_at) {
        return;
    }
    const unsigned slot = (head + n) % kRing;
    opened = t;
    at[slot] = t;
    departed[slot] = d;
    ++n;
    ++c.evidence_samples;
}

std::uint64_t DrainClock::Evidence::due(Tick t) noexcept {
    while (n != 0 && at[head] <= t) {
        best_at = at[head];
        best = std::max(best, departed[head]);
        head = (head + 1) % kRing;
        --n;
    }
    // A query earlier than the newest due sample (the gap grew): nothing
    // older is kept, so nothing is known to have left by then.
    return best_at <= t ? best : 0;
}

void DrainClock::on_sent(std::uint8_t m, std::uint32_t k, std::uint64_t frame_bytes, Tick now) {
    sent_[m] += k;
    if (!modelled_[m] || ticks_per_byte_fp_[m] == 0) return;
    if (now > wire_free_[m]) {
        wire_free_[m] = now;
        wire_frac_[m] = 0;
    }
    const std::uint64_t wire = frame_bytes + std::uint64_t{k} * cfg_.overhead_bytes;
    const unsigned __int128 c = static_cast<unsigned __int128>(wire) * ticks_per_byte_fp_[m] + wire_frac_[m];
    wire_free_[m] += static_cast<Tick>(c >> 32);
    wire_frac_[m] = static_cast<std::uint32_t>(c);
    model_ev_[m].add(wire_free_[m] + (wire_frac_[m] != 0 ? 1 : 0), sent_[m], spacing_[m], c_);
}

void DrainClock::on_departed(std::uint8_t m, std::uint64_t departed, Tick at) {
    if (!observed_[m]) return;
    obs_ev_[m].add(at, std::min(departed, handed_[m]), spacing_[m], c_);
}

void DrainClock::set_path_delay(std::uint8_t m, Tick lo, Tick hi) {
    if (m >= cfg_.members) return;
    if (lo_[m] == lo && hi_[m] == hi) return;
    lo_[m] = lo;
    hi_[m] = hi;
    recompute();
}

void DrainClock::assume_zero_path_delay() {
    for (std::uint8_t m = 0; m < cfg_.members; ++m) {
        lo_[m] = 0;
        hi_[m] = 0;
    }
    recompute();
}

void DrainClock::recompute() noexcept {
    Tick min_lo = kUnknownDelay, max_hi = 0;
    for (std::uint8_t m = 0; m < cfg_.members; ++m) {
        min_lo = std::min(min_lo, lo_[m]);
        if (hi_[m] != kUnknownDelay) max_hi = std::max(max_hi, hi_[m]);
    }
    skew_ = max_hi > min_lo ? max_hi - min_lo : 0;
    delta_eff_ = cfg_.auto_delta ? skew_ / 8 + cfg_.auto_floor : cfg_.delta;
    for (std::uint8_t m = 0; m < cfg_.members; ++m) {
        if (hi_[m] == kUnknownDelay) {
            view_.gap[m] = kUnknownDelay;
        } else {
            // +1: a packet sent now arrives strictly after the one that left
            // (an arrival tie could be merged either way at the receiver).
            view_.gap[m] = (hi_[m] > min_lo ? hi_[m] - min_lo : 0) + delta_eff_ + 1;
        }
        spacing_[m] = view_.gap[m] == kUnknownDelay ? kMinSpacing : std::max(kMinSpacing, view_.gap[m] / kSpacingDiv);
    }
}

const DrainView& DrainClock::view(Tick now) noexcept {
    for (std::uint8_t m = 0; m < cfg_.members; ++m) {
        view_.handed[m] = handed_[m];
        // What m still holds: observed, the newest report; modelled, what the
        // port has not taken yet (the model's own queue is not counted: a
        // hint for choosing members, not a safety bound).
        const std::uint64_t left = observed_[m] ? obs_ev_[m].newest : sent_[m];
        view_.backlog[m] = handed_[m] > left ? handed_[m] - left : 0;
        const Tick g = view_.gap[m];
        if (g == kUnknownDelay || g > now) {
            view_.drained[m] = 0;
            continue;
        }
        const Tick t = now - g;
        std::uint64_t d = ~std::uint64_t{0};
        if (observed_[m]) d = obs_ev_[m].due(t);
        if (modelled_[m]) d = std::min(d, model_ev_[m].due(t));
        view_.drained[m] = std::min(d, handed_[m]);
    }
    return view_;
}

} // namespace flowteam::flowlet
