// SPDX-License-Identifier: BSD-3-Clause
// Property tests: FlowReorder against straightforward, unbounded reference
// implementations on random sequences (fixed seeds).
#include <algorithm>
#include <cstdint>
#include <deque>
#include <gtest/gtest.h>
#include <random>
#include <set>
#include <vector>

#include "measure/reorder.h"

namespace flowteam::measure {
namespace {

using Seq = std::vector<std::uint64_t>;

// ---------------------------------------------------------------- generators

struct GenParams {
    std::size_t n = 2000;
    double swap_p = 0.05; // per position: swap with a neighbour up to max_dist ahead
    std::uint32_t max_dist = 6;
    double loss_p = 0.01;
    double dup_p = 0.0; // per packet: re-send one of the last few
};

Seq generate(std::mt19937_64& rng, const GenParams& g) {
    Seq s;
    for (std::uint64_t k = 1; k <= g.n; ++k)
        s.push_back(k);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::uniform_int_distribution<std::uint32_t> dist(1, g.max_dist);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (u(rng) < g.swap_p) {
            const std::size_t j = std::min(s.size() - 1, i + dist(rng));
            std::swap(s[i], s[j]);
        }
    }
    Seq out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (u(rng) < g.loss_p) continue;
        out.push_back(s[i]);
        if (g.dup_p > 0 && u(rng) < g.dup_p) {
            std::uniform_int_distribution<std::size_t> back(0, std::min<std::size_t>(out.size() - 1, 20));
            out.push_back(out[out.size() - 1 - back(rng)]);
        }
    }
    return out;
}

Seq first_occurrences(const Seq& s) {
    std::set<std::uint64_t> seen;
    Seq u;
    for (auto x : s) {
        if (seen.insert(x).second) u.push_back(x);
    }
    return u;
}

// ---------------------------------------------------------------- RFC 4737, O(n^2)

struct Ref4737 {
    std::uint64_t reordered = 0;
    Log2Histogram<kExtentBins> extent;
    std::array<std::uint64_t, kNReorderCap + 1> n{};
    std::uint64_t ge3 = 0;
    std::uint64_t runs = 0, run_sum = 0, run_max = 0;
};

Ref4737 ref_4737(const Seq& arrivals) {
    const Seq u = first_occurrences(arrivals);
    Ref4737 r;
    std::uint64_t next_exp = 0;
    std::uint64_t cur = 0;
    auto close = [&] {
        if (cur > 0) {
            ++r.runs;
            r.run_sum += cur;
            r.run_max = std::max(r.run_max, cur);
        }
        cur = 0;
    };
    for (std::size_t i = 0; i < u.size(); ++i) {
        const std::uint64_t s = u[i];
        if (i == 0 || s >= next_exp) {
            next_exp = s + 1;
            ++cur;
            continue;
        }
        ++r.reordered;
        std::size_t j = 0;
        while (!(u[j] > s))
            ++j; // exists: some earlier packet raised NextExp above s
        r.extent.add(i - j);
        std::uint64_t n = 0;
        while (n < i && u[i - 1 - n] > s)
            ++n;
        ++r.n[std::min<std::uint64_t>(n, kNReorderCap)];
        if (n >= 3) ++r.ge3;
        close();
    }
    close();
    return r;
}

// ---------------------------------------------------------------- TRex, unbounded

struct RefTrex {
    std::uint64_t in_order = 0, too_high = 0, too_low = 0, dup = 0, ooo = 0, dropped = 0;
};

RefTrex ref_trex(const Seq& arrivals) {
    RefTrex r;
    std::set<std::uint64_t> got;
    std::uint64_t lo = 0, hi = 0; // stream range [lo, hi]
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
        const std::uint64_t s = arrivals[i];
        if (i == 0) {
            lo = hi = s;
            got.insert(s);
            ++r.in_order;
            continue;
        }
        if (s == hi + 1) {
            ++r.in_order;
        } else if (s > hi + 1) {
            ++r.too_high;
        } else {
            ++r.too_low;
            if (got.count(s) != 0) {
                ++r.dup;
                continue;
            }
            ++r.ooo;
        }
        got.insert(s);
        hi = std::max(hi, s);
        lo = std::min(lo, s);
    }
    r.dropped = (hi - lo + 1) - got.size();
    return r;
}

// ---------------------------------------------------------------- RFC 5236 RD
// Literal transcription of the RFC authors' algorithm (window of DT+1
// distinct arrivals, buffer of early arrivals, RI skips missing indices).

struct RefRd {
    std::array<std::uint64_t, 2 * kMaxDensityThreshold + 1> freq{};
    std::uint64_t skipped = 0, discarded = 0;
};

RefRd ref_rd(const Seq& unique_arrivals, std::uint32_t dt) {
    RefRd r;
    std::deque<std::uint64_t> window;
    std::set<std::uint64_t> buffer;
    std::size_t next = 0;
    bool ri_set = false;
    std::uint64_t ri = 0;
    auto in_window = [&](std::uint64_t x) {
        return std::find(window.begin(), window.end(), x) != window.end();
    };
    auto fetch = [&] { // get_next_arrival(): skip those below RI or already held
        while (next < unique_arrivals.size()) {
            const std::uint64_t x = unique_arrivals[next++];
            if ((ri_set && x < ri) || buffer.count(x) != 0 || in_window(x)) {
                ++r.discarded;
                continue;
            }
            window.push_back(x);
            return;
        }
    };
    for (std::uint32_t k = 0; k <= dt; ++k)
        fetch();
    if (window.empty()) return r;
    ri = *std::min_element(window.begin(), window.end());
    ri_set = true;
    while (!window.empty()) {
        if (in_window(ri) || buffer.count(ri) != 0) {
            const std::uint64_t s = window.front();
            window.pop_front();
            const std::int64_t d = static_cast<std::int64_t>(ri) - static_cast<std::int64_t>(s);
            if (d >= -static_cast<std::int64_t>(dt) && d <= static_cast<std::int64_t>(dt)) {
                ++r.freq[static_cast<std::size_t>(d + kMaxDensityThreshold)];
                buffer.erase(ri);
                if (d < 0) buffer.insert(s);
                ++ri;
            } else {
                ++r.discarded;
            }
            fetch();
        } else {
            std::uint64_t m = *std::min_element(window.begin(), window.end());
            if (!buffer.empty()) m = std::min(m, *buffer.begin());
            if (ri < m) {
                r.skipped += m - ri;
                ri = m;
            } else {
                // RI++ until found; guard the case where nothing >= RI is held.
                bool any = false;
                for (auto x : window)
                    any = any || x > ri;
                any = any || (!buffer.empty() && *buffer.rbegin() > ri);
                if (!any) {
                    window.pop_front();
                    ++r.discarded;
                    fetch();
                    continue;
                }
                ++ri;
                ++r.skipped;
            }
        }
    }
    return r;
}

// ---------------------------------------------------------------- RFC 5236 RBD
// Ideal resequencing buffer with threshold BT and a look-ahead of BT+1
// arrivals for loss, written with std containers over the whole sequence.

struct RefRbd {
    std::array<std::uint64_t, kMaxDensityThreshold + 1> freq{};
    std::uint64_t lost = 0, discarded = 0;
};

RefRbd ref_rbd(const Seq& unique_arrivals, std::uint32_t bt) {
    RefRbd r;
    // Admission needs E at admission time, so simulate in arrival order.
    std::deque<std::uint64_t> window;
    std::set<std::uint64_t> held;
    bool e_set = false;
    std::uint64_t e = 0;
    auto release = [&] {
        while (held.count(e) != 0) {
            held.erase(e);
            ++e;
        }
    };
    auto step = [&] {
        if (!e_set) {
            e = *std::min_element(window.begin(), window.end());
            e_set = true;
        }
        while (std::find(window.begin(), window.end(), e) == window.end()) {
            std::uint64_t nxt = UINT64_MAX;
            for (auto x : window) {
                if (x >= e) nxt = std::min(nxt, x);
            }
            if (!held.empty()) nxt = std::min(nxt, *held.begin());
            if (nxt == UINT64_MAX) break;
            r.lost += nxt - e;
            e = nxt;
            release();
        }
        const std::uint64_t s = window.front();
        window.pop_front();
        if (s < e) {
            ++r.discarded;
            return;
        }
        if (s == e) {
            ++e;
            release();
        } else {
            held.insert(s);
            while (held.size() > bt) {
                r.lost += *held.begin() - e;
                e = *held.begin();
                release();
            }
        }
        ++r.freq[held.size()];
    };
    for (auto x : unique_arrivals) {
        if ((e_set && x < e) || held.count(x) != 0 ||
            std::find(window.begin(), window.end(), x) != window.end()) {
            ++r.discarded;
            continue;
        }
        window.push_back(x);
        if (window.size() > bt) step();
    }
    while (!window.empty())
        step();
    return r;
}

// ---------------------------------------------------------------- checks

void check_against_references(const Seq& arrivals, std::uint32_t dt, bool expect_exact_extents) {
    ReorderConfig cfg;
    cfg.density_threshold = dt;
    FlowReorder f(cfg);
    for (auto s : arrivals)
        f.on_packet(s);
    f.finish();
    const ReorderStats& st = f.stats();

    const Seq u = first_occurrences(arrivals);
    EXPECT_EQ(st.received, arrivals.size());
    EXPECT_EQ(st.unique, u.size());
    EXPECT_EQ(st.stale, 0u);

    const Ref4737 r = ref_4737(arrivals);
    EXPECT_EQ(st.reordered, r.reordered);
    EXPECT_EQ(st.extent.count, r.extent.count);
    if (expect_exact_extents) {
        EXPECT_EQ(st.extent_truncated, 0u);
        EXPECT_EQ(st.extent, r.extent);
    } else {
        EXPECT_LE(st.extent.sum, r.extent.sum); // lower bounds only
        EXPECT_LE(st.extent.max, r.extent.max);
    }
    EXPECT_EQ(st.n_reordering, r.n);
    EXPECT_EQ(st.n_reordered_ge3, r.ge3);
    EXPECT_EQ(st.free_runs, r.runs);
    EXPECT_EQ(st.free_run_sum, r.run_sum);
    EXPECT_EQ(st.free_run_max, r.run_max);

    const RefTrex t = ref_trex(arrivals);
    EXPECT_EQ(st.in_order, t.in_order);
    EXPECT_EQ(st.seq_too_high, t.too_high);
    EXPECT_EQ(st.seq_too_low, t.too_low);
    EXPECT_EQ(st.dup, t.dup);
    EXPECT_EQ(st.out_of_order, t.ooo);
    EXPECT_EQ(st.dropped, t.dropped);
    // TRex out_of_order and RFC 4737 reordered are the same set here.
    EXPECT_EQ(st.out_of_order, st.reordered);

    const RefRd d = ref_rd(u, dt);
    EXPECT_EQ(st.rd_freq, d.freq);
    EXPECT_EQ(st.rd_skipped, d.skipped);
    EXPECT_EQ(st.rd_discarded, d.discarded);

    const RefRbd b = ref_rbd(u, dt);
    EXPECT_EQ(st.rbd_freq, b.freq);
    EXPECT_EQ(st.rbd_lost, b.lost);
    EXPECT_EQ(st.rbd_discarded, b.discarded);
}

TEST(ReorderProperty, LocalSwapsMatchReferences) {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE(seed);
        std::mt19937_64 rng(seed);
        GenParams g;
        g.swap_p = 0.02 + 0.01 * static_cast<double>(seed % 5);
        g.max_dist = 2 + static_cast<std::uint32_t>(seed % 7);
        g.loss_p = (seed % 3 == 0) ? 0.0 : 0.01;
        const Seq s = generate(rng, g);
        check_against_references(s, 1 + static_cast<std::uint32_t>(seed % kMaxDensityThreshold), true);
    }
}

TEST(ReorderProperty, SwapsLossAndDuplicatesMatchReferences) {
    for (std::uint64_t seed = 100; seed < 130; ++seed) {
        SCOPED_TRACE(seed);
        std::mt19937_64 rng(seed);
        GenParams g;
        g.n = 1500;
        g.swap_p = 0.08;
        g.max_dist = 12;
        g.loss_p = 0.03;
        g.dup_p = 0.02;
        const Seq s = generate(rng, g);
        check_against_references(s, 8, true);
    }
}

TEST(ReorderProperty, HeavyReorderingStillCountsExactly) {
    // Wide, dense displacement: record history can be evicted, so extents
    // may be lower bounds; every other metric must still match.
    for (std::uint64_t seed = 200; seed < 215; ++seed) {
        SCOPED_TRACE(seed);
        std::mt19937_64 rng(seed);
        GenParams g;
        g.n = 3000;
        g.swap_p = 0.5;
        g.max_dist = 60;
        g.loss_p = 0.05;
        const Seq s = generate(rng, g);
        check_against_references(s, static_cast<std::uint32_t>(1 + seed % kMaxDensityThreshold), false);
    }
}

TEST(ReorderProperty, RandomPermutationsOfSmallBlocks) {
    // Every block of 8 fully shuffled: extents <= 7, n up to 7.
    for (std::uint64_t seed = 300; seed < 320; ++seed) {
        SCOPED_TRACE(seed);
        std::mt19937_64 rng(seed);
        Seq s;
        for (std::uint64_t k = 1; k <= 1600; ++k)
            s.push_back(k);
        for (std::size_t b = 0; b + 8 <= s.size(); b += 8)
            std::shuffle(s.begin() + b, s.begin() + b + 8, rng);
        check_against_references(s, 8, true);
        FlowReorder f;
        for (auto x : s)
            f.on_packet(x);
        EXPECT_LE(f.stats().extent.max, 7u);
        EXPECT_EQ(f.stats().dropped, 0u);
    }
}

TEST(ReorderProperty, TableEqualsIndependentFlows) {
    std::mt19937_64 rng(7);
    constexpr std::uint32_t kFlows = 5;
    std::vector<Seq> seqs;
    for (std::uint32_t f = 0; f < kFlows; ++f) {
        GenParams g;
        g.n = 500 + 100 * f;
        g.dup_p = 0.01;
        seqs.push_back(generate(rng, g));
    }
    ReorderTable table(kFlows);
    std::vector<FlowReorder> alone(kFlows);
    std::vector<std::size_t> at(kFlows, 0);
    std::uniform_int_distribution<std::uint32_t> pick(0, kFlows); // kFlows = untracked
    std::uint64_t untracked = 0;
    for (;;) {
        bool left = false;
        for (std::uint32_t f = 0; f < kFlows; ++f)
            left = left || at[f] < seqs[f].size();
        if (!left) break;
        const std::uint32_t f = pick(rng);
        if (f == kFlows) {
            table.on_packet(1000 + f, 1);
            ++untracked;
            continue;
        }
        if (at[f] == seqs[f].size()) continue;
        const std::uint64_t s = seqs[f][at[f]++];
        EXPECT_EQ(table.on_packet(f, s), alone[f].on_packet(s));
    }
    table.finish();
    ReorderStats sum;
    for (auto& a : alone) {
        a.finish();
        sum.merge(a.stats());
    }
    sum.untracked = untracked;
    EXPECT_EQ(table.totals(), sum);
    for (std::uint32_t f = 0; f < kFlows; ++f)
        EXPECT_EQ(table.flow(f).stats(), alone[f].stats());
}

} // namespace
} // namespace flowteam::measure
