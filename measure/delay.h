// SPDX-License-Identifier: BSD-3-Clause
// flowteam — per-member delay bounds over a sliding pair of windows.
//
// The receiver feeds one sample per packet (e.g. a member's path delay
// after departure, or its one-way latency from the sender's timestamp);
// lo()/hi() are the smallest and largest sample of the current and the
// previous window, so the bounds follow a change within two windows and a
// single quiet window never empties them. When both windows are empty the
// last known bounds stay (a member that carried nothing lately keeps the
// delay it had: better than "unknown", which would pin flows to it).
//
// No allocation, no locks; add() is two compares. Not thread-safe: one per
// receiving lcore and member; the caller publishes lo()/hi().
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/types.h"

namespace flowteam::measure {

class DelayWindow {
public:
    static constexpr Tick kNone = ~Tick{0};

    void add(Tick sample) noexcept {
        cur_lo_ = std::min(cur_lo_, sample);
        cur_hi_ = std::max(cur_hi_, sample);
        ++cur_n_;
    }
    // Close the current window when `window` ticks have passed since it began.
    void roll(Tick now, Tick window) noexcept {
        if (!started_) {
            started_ = true;
            start_ = now;
            return;
        }
        if (now - start_ < window) return;
        start_ = now;
        if (cur_n_ != 0 || prev_n_ != 0) {
            known_lo_ = lo();
            known_hi_ = hi();
        }
        total_ += cur_n_;
        prev_lo_ = cur_lo_;
        prev_hi_ = cur_hi_;
        prev_n_ = cur_n_;
        cur_lo_ = kNone;
        cur_hi_ = 0;
        cur_n_ = 0;
    }
    bool known() const noexcept { return cur_n_ != 0 || prev_n_ != 0 || known_lo_ != kNone; }
    // Bounds over the two windows (the last known ones when both are empty;
    // kNone / 0 before the first sample).
    Tick lo() const noexcept { return cur_n_ != 0 || prev_n_ != 0 ? std::min(cur_lo_, prev_lo_) : known_lo_; }
    Tick hi() const noexcept { return cur_n_ != 0 || prev_n_ != 0 ? std::max(cur_hi_, prev_hi_) : known_hi_; }
    std::uint64_t samples() const noexcept { return total_ + cur_n_; }

private:
    Tick start_ = 0;
    bool started_ = false;
    Tick cur_lo_ = kNone, cur_hi_ = 0, prev_lo_ = kNone, prev_hi_ = 0;
    std::uint64_t cur_n_ = 0, prev_n_ = 0, total_ = 0;
    Tick known_lo_ = kNone, known_hi_ = 0;
};

} // namespace flowteam::measure
