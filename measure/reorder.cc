// SPDX-License-Identifier: BSD-3-Clause
#include "measure/reorder.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <stdexcept>
#include <string>

namespace flowteam::measure {

static_assert(sizeof(FlowReorder) <= 2048, "FlowReorder should stay around 2 KiB");

// ---------------------------------------------------------------- config

void ReorderConfig::validate() const {
    if (density_threshold < 1 || density_threshold > kMaxDensityThreshold) {
        throw std::invalid_argument("ReorderConfig.density_threshold: must be 1.." +
                                    std::to_string(kMaxDensityThreshold) + ", got " +
                                    std::to_string(density_threshold));
    }
}

// ---------------------------------------------------------------- stats

void ReorderStats::merge(const ReorderStats& o) {
    received += o.received;
    unique += o.unique;
    in_order += o.in_order;
    seq_too_high += o.seq_too_high;
    seq_too_low += o.seq_too_low;
    dup += o.dup;
    out_of_order += o.out_of_order;
    stale += o.stale;
    dropped += o.dropped;
    reordered += o.reordered;
    extent.merge(o.extent);
    extent_truncated += o.extent_truncated;
    for (std::size_t k = 0; k < n_reordering.size(); ++k)
        n_reordering[k] += o.n_reordering[k];
    n_reordered_ge3 += o.n_reordered_ge3;
    free_runs += o.free_runs;
    free_run_sum += o.free_run_sum;
    free_run_max = std::max(free_run_max, o.free_run_max);
    density_threshold = std::max(density_threshold, o.density_threshold);
    for (std::size_t k = 0; k < rd_freq.size(); ++k)
        rd_freq[k] += o.rd_freq[k];
    rd_skipped += o.rd_skipped;
    rd_discarded += o.rd_discarded;
    for (std::size_t k = 0; k < rbd_freq.size(); ++k)
        rbd_freq[k] += o.rbd_freq[k];
    rbd_lost += o.rbd_lost;
    rbd_discarded += o.rbd_discarded;
    untracked += o.untracked;
}

std::uint64_t ReorderStats::rd_total() const {
    std::uint64_t t = 0;
    for (auto c : rd_freq)
        t += c;
    return t;
}

std::uint64_t ReorderStats::rbd_total() const {
    std::uint64_t t = 0;
    for (auto c : rbd_freq)
        t += c;
    return t;
}

std::uint64_t ReorderStats::rd_count(int d) const {
    constexpr int kMax = static_cast<int>(kMaxDensityThreshold);
    if (d < -kMax || d > kMax) return 0;
    return rd_freq[static_cast<std::size_t>(d + kMax)];
}

double ReorderStats::rd(int d) const {
    return ratio(rd_count(d), rd_total());
}

double ReorderStats::rbd(std::uint32_t b) const {
    if (b >= rbd_freq.size()) return 0.0;
    return ratio(rbd_freq[b], rbd_total());
}

// ---------------------------------------------------------------- look-ahead ring
//
// The helpers below are only used in this file and are declared inline: the
// library is built with -fPIC, under which GCC does not inline functions
// that could be interposed.

inline void FlowReorder::Lookahead::push(std::uint64_t s) {
    v[(head + size) & (kLookahead - 1)] = s;
    ++size;
    max_pushed = size == 1 ? s : std::max(max_pushed, s);
}

inline std::uint64_t FlowReorder::Lookahead::pop() {
    const std::uint64_t s = v[head];
    head = static_cast<std::uint8_t>((head + 1) & (kLookahead - 1));
    --size;
    return s;
}

inline bool FlowReorder::Lookahead::contains(std::uint64_t s) const {
    if (size == 0 || s > max_pushed) return false;
    for (std::uint32_t k = 0; k < size; ++k) {
        if (at(k) == s) return true;
    }
    return false;
}

inline std::uint64_t FlowReorder::Lookahead::min() const {
    std::uint64_t m = std::numeric_limits<std::uint64_t>::max();
    for (std::uint32_t k = 0; k < size; ++k)
        m = std::min(m, at(k));
    return m;
}

inline bool FlowReorder::Lookahead::min_at_least(std::uint64_t s, std::uint64_t& out) const {
    bool found = false;
    for (std::uint32_t k = 0; k < size; ++k) {
        const std::uint64_t x = at(k);
        if (x >= s && (!found || x < out)) {
            out = x;
            found = true;
        }
    }
    return found;
}

// ---------------------------------------------------------------- FlowReorder

FlowReorder::FlowReorder(const ReorderConfig& cfg)
    : dt_((cfg.validate(), cfg.density_threshold)), has_first_(cfg.first_seq.has_value()),
      first_seq_(cfg.first_seq.value_or(0)) {
    reset();
}

void FlowReorder::reset() {
    const std::uint32_t dt = dt_;
    const bool has_first = has_first_;
    const std::uint64_t first = first_seq_;
    st_ = ReorderStats{};
    st_.density_threshold = dt;
    started_ = has_first;
    next_exp_ = first;
    base_ = first;
    pos_ = 0;
    cur_run_ = 0;
    seen_.fill(0);
    runs_head_ = 0;
    runs_n_ = 0;
    runs_evicted_ = false;
    recent_.fill(0);
    ri_init_ = has_first;
    ri_ = first;
    rd_buf_ = 0;
    rd_win_ = Lookahead{};
    e_init_ = has_first;
    e_ = first;
    rbd_n_ = 0;
    rbd_win_ = Lookahead{};
}

inline bool FlowReorder::seen(std::uint64_t seq) const {
    const std::uint64_t bit = seq & (kDupWindow - 1);
    return ((seen_[bit >> 6] >> (bit & 63)) & 1u) != 0;
}

inline void FlowReorder::mark(std::uint64_t seq) {
    const std::uint64_t bit = seq & (kDupWindow - 1);
    seen_[bit >> 6] |= std::uint64_t{1} << (bit & 63);
}

inline void FlowReorder::advance_to(std::uint64_t seq) {
    // Sequences next_exp_ .. seq enter the window: next_exp_ .. seq-1 missing,
    // seq received. Their bits alias sequences that just left the window.
    if (seq - next_exp_ >= kDupWindow) {
        seen_.fill(0);
    } else {
        for (std::uint64_t t = next_exp_; t < seq; ++t) {
            const std::uint64_t bit = t & (kDupWindow - 1);
            seen_[bit >> 6] &= ~(std::uint64_t{1} << (bit & 63));
        }
    }
    mark(seq);
    next_exp_ = seq + 1;
}

Arrival FlowReorder::on_packet(std::uint64_t seq) {
    ++st_.received;
    if (!started_) {
        started_ = true;
        next_exp_ = seq;
        base_ = seq;
    }

    Arrival verdict;
    if (seq >= next_exp_) {
        if (seq == next_exp_) {
            ++st_.in_order;
            verdict = Arrival::kInOrder;
        } else {
            ++st_.seq_too_high;
            st_.dropped += seq - next_exp_;
            verdict = Arrival::kGap;
        }
        advance_to(seq);
        on_record(seq);
    } else {
        ++st_.seq_too_low;
        if (next_exp_ - seq > kDupWindow || (has_first_ && seq < first_seq_)) {
            ++st_.stale;
            return Arrival::kStale;
        }
        if (seen(seq)) {
            ++st_.dup;
            return Arrival::kDuplicate;
        }
        mark(seq);
        ++st_.out_of_order;
        if (seq >= base_) {
            if (st_.dropped > 0) --st_.dropped; // always > 0 here; guard anyway
        } else {
            // Below the first arrival (auto start): the stream starts earlier.
            st_.dropped += base_ - seq - 1;
            base_ = seq;
        }
        on_reordered(seq);
        verdict = Arrival::kLate;
    }
    ++st_.unique;
    rd_push(seq);
    rbd_push(seq);
    return verdict;
}

void FlowReorder::finish() {
    while (rd_win_.size > 0)
        rd_step();
    while (rbd_win_.size > 0)
        rbd_step();
    close_run();
}

// ---------------------------------------------------------------- RFC 4737

inline void FlowReorder::on_record(std::uint64_t seq) {
    ++cur_run_;
    // Append (pos_, seq) to the record history.
    bool extended = false;
    if (runs_n_ > 0) {
        RecordRun& r = runs_[(runs_head_ + runs_n_ - 1) & (kRecordRuns - 1)];
        if (pos_ == r.pos + r.len && seq == r.seq + r.len) {
            ++r.len;
            extended = true;
        }
    }
    if (!extended) {
        if (runs_n_ == kRecordRuns) {
            runs_head_ = static_cast<std::uint8_t>((runs_head_ + 1) & (kRecordRuns - 1));
            --runs_n_;
            runs_evicted_ = true;
        }
        runs_[(runs_head_ + runs_n_) & (kRecordRuns - 1)] = RecordRun{pos_, seq, 1};
        ++runs_n_;
    }
    recent_[pos_ & (kNReorderCap - 1)] = seq;
    ++pos_;
}

inline void FlowReorder::on_reordered(std::uint64_t seq) {
    ++st_.reordered;
    const std::uint64_t i = pos_;

    // Extent: the first arrival with a larger sequence is the record with the
    // smallest sequence > seq. A run holds every sequence from its first to
    // its last, and seq was not received, so seq is never inside a run: the
    // answer is always the first record of a run - the oldest run starting
    // above seq. Walk from the newest run (whose last record is
    // next_exp_-1 > seq) back to the first run starting at or below seq.
    std::uint64_t j = 0;
    bool found = false;
    for (int k = runs_n_ - 1; k >= 0; --k) {
        if (runs_[(runs_head_ + k) & (kRecordRuns - 1)].seq < seq) {
            j = runs_[(runs_head_ + k + 1) & (kRecordRuns - 1)].pos; // k+1 exists
            found = true;
            break;
        }
    }
    if (!found) {
        // Every retained record is larger: the oldest retained one is the
        // answer unless older history was evicted (then it is a lower bound).
        j = runs_[runs_head_].pos;
        if (runs_evicted_) ++st_.extent_truncated;
    }
    st_.extent.add(i - j);

    // n-reordering: consecutive larger sequences just before this arrival.
    const std::uint64_t avail = std::min<std::uint64_t>(pos_, kNReorderCap);
    std::uint64_t n = 0;
    while (n < avail && recent_[(pos_ - 1 - n) & (kNReorderCap - 1)] > seq)
        ++n;
    ++st_.n_reordering[n]; // n == kNReorderCap means ">= kNReorderCap"
    if (n >= 3) ++st_.n_reordered_ge3;

    close_run();
    recent_[pos_ & (kNReorderCap - 1)] = seq;
    ++pos_;
}

inline void FlowReorder::close_run() {
    if (cur_run_ == 0) return;
    ++st_.free_runs;
    st_.free_run_sum += cur_run_;
    st_.free_run_max = std::max(st_.free_run_max, cur_run_);
    cur_run_ = 0;
}

// ---------------------------------------------------------------- RFC 5236 RD
//
// Streaming form of the RFC authors' algorithm: the window holds the next
// DT+1 distinct arrivals; each step either gives the window's first arrival
// S the receive index RI (when RI is known to exist: it is in the window or
// arrived early and waits in the buffer) or moves RI forward over indices
// that are missing from both (lost).

inline void FlowReorder::rd_advance(std::uint64_t to) {
    const std::uint64_t d = to - ri_;
    st_.rd_skipped += d;
    rd_buf_ = d >= 64 ? 0 : (rd_buf_ >> d);
    ri_ = to;
}

inline void FlowReorder::rd_push(std::uint64_t seq) {
    if (ri_init_) {
        const bool buffered = seq >= ri_ && seq - ri_ < 64 && ((rd_buf_ >> (seq - ri_)) & 1u) != 0;
        if (seq < ri_ || buffered) {
            ++st_.rd_discarded;
            return;
        }
    }
    if (rd_win_.contains(seq)) {
        ++st_.rd_discarded;
        return;
    }
    rd_win_.push(seq);
    if (rd_win_.size > dt_) rd_step();
}

inline void FlowReorder::rd_step() {
    if (!ri_init_) {
        ri_ = rd_win_.min();
        ri_init_ = true;
    }
    while ((rd_buf_ & 1u) == 0 && !rd_win_.contains(ri_)) {
        // RI is missing: jump to the smallest sequence at or above it that
        // is in the window or the buffer (buffer entries are all >= RI).
        std::uint64_t next = 0;
        bool have = rd_win_.min_at_least(ri_, next);
        if (rd_buf_ != 0) {
            const std::uint64_t b = ri_ + static_cast<std::uint64_t>(std::countr_zero(rd_buf_));
            if (!have || b < next) next = b;
            have = true;
        }
        if (!have) {
            // Only sequences below RI remain (they arrived after their index
            // was passed): nothing can take RI; drop the first one.
            rd_win_.pop();
            ++st_.rd_discarded;
            return;
        }
        rd_advance(next);
    }

    const std::uint64_t s = rd_win_.pop();
    const std::uint64_t dt = dt_;
    if (s >= ri_ ? (s - ri_ > dt) : (ri_ - s > dt)) {
        ++st_.rd_discarded; // displacement beyond the threshold
        return;
    }
    const int d = s >= ri_ ? -static_cast<int>(s - ri_) : static_cast<int>(ri_ - s);
    ++st_.rd_freq[static_cast<std::size_t>(d + static_cast<int>(kMaxDensityThreshold))];
    if (d < 0) rd_buf_ |= std::uint64_t{1} << (s - ri_); // S arrived early: it waits
    ++ri_;
    rd_buf_ >>= 1; // also drops RI itself if it waited in the buffer
}

// ---------------------------------------------------------------- RFC 5236 RBD

inline bool FlowReorder::rbd_holds(std::uint64_t seq) const {
    for (std::uint32_t k = 0; k < rbd_n_; ++k) {
        if (rbd_buf_[k] == seq) return true;
    }
    return false;
}

inline void FlowReorder::rbd_remove(std::uint32_t k) {
    rbd_buf_[k] = rbd_buf_[rbd_n_ - 1u];
    --rbd_n_;
}

// Release in-order packets waiting in the buffer.
inline void FlowReorder::rbd_release() {
    bool again = rbd_n_ > 0;
    while (again) {
        again = false;
        for (std::uint32_t k = 0; k < rbd_n_; ++k) {
            if (rbd_buf_[k] == e_) {
                rbd_remove(k);
                ++e_;
                again = rbd_n_ > 0;
                break;
            }
        }
    }
}

inline void FlowReorder::rbd_push(std::uint64_t seq) {
    if ((e_init_ && seq < e_) || rbd_holds(seq) || rbd_win_.contains(seq)) {
        ++st_.rbd_discarded;
        return;
    }
    rbd_win_.push(seq);
    if (rbd_win_.size > dt_) rbd_step();
}

inline void FlowReorder::rbd_step() {
    if (!e_init_) {
        e_ = rbd_win_.min();
        e_init_ = true;
    }
    // The expected packet is lost when it is not among the next DT+1
    // arrivals: give it up and expect the smallest sequence we do have.
    while (!rbd_win_.contains(e_)) {
        std::uint64_t next = 0;
        bool have = rbd_win_.min_at_least(e_, next);
        for (std::uint32_t k = 0; k < rbd_n_; ++k) {
            if (!have || rbd_buf_[k] < next) next = rbd_buf_[k];
            have = true;
        }
        if (!have) break; // only stale entries left; the front is dropped below
        st_.rbd_lost += next - e_;
        e_ = next;
        rbd_release();
    }

    const std::uint64_t s = rbd_win_.pop();
    if (s < e_) {
        ++st_.rbd_discarded; // its sequence was given up while it waited
        return;
    }
    if (s == e_) {
        ++e_;
        rbd_release();
    } else {
        rbd_buf_[rbd_n_++] = s;
        // Occupancy above the threshold: give up on the expected packet.
        while (rbd_n_ > dt_) {
            std::uint64_t m = rbd_buf_[0];
            for (std::uint32_t k = 1; k < rbd_n_; ++k)
                m = std::min(m, rbd_buf_[k]);
            st_.rbd_lost += m - e_;
            e_ = m;
            rbd_release();
        }
    }
    ++st_.rbd_freq[rbd_n_];
}

// ---------------------------------------------------------------- table

ReorderTable::ReorderTable(std::uint32_t n_flows, const ReorderConfig& cfg) {
    if (n_flows == 0) throw std::invalid_argument("ReorderTable n_flows: must be >= 1, got 0");
    cfg.validate();
    flows_.assign(n_flows, FlowReorder(cfg));
}

void ReorderTable::finish() {
    for (auto& f : flows_)
        f.finish();
}

void ReorderTable::reset() {
    for (auto& f : flows_)
        f.reset();
    untracked_ = 0;
}

ReorderStats ReorderTable::totals() const {
    ReorderStats t;
    for (const auto& f : flows_)
        t.merge(f.stats());
    t.untracked += untracked_;
    return t;
}

} // namespace flowteam::measure
