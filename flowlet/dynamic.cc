// SPDX-License-Identifier: BSD-3-Clause
// flowteam — flowlet switching (FLARE / CONGA / LetFlow), see dynamic.h.
#include "flowlet/dynamic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace flowteam::flowlet {

namespace {

// One flowlet-table entry. 16 bytes, 16-aligned, so four share a cache line
// and none straddles two.
struct alignas(16) Entry {
    // bits 0..55: sender timing, last-seen tick (modulo 2^56: ~208 days at
    // 4 GHz before an idle entry could alias as active); queue timing, the
    // number of the chunk its last packet was decided in (see ChunkLog);
    // bits 56..63: member, kNoMember = empty.
    std::uint64_t stamp;
    std::uint32_t sig;           // full flow hash of the flow owning the entry
    // sender timing: bytes mapped here in the rebalance period of last-seen
    // (saturating); queue timing: unused.
    std::uint32_t period_bytes;
};
static_assert(sizeof(Entry) == kFlowletEntryBytes, "flowlet entry must stay 16 bytes");
static_assert(alignof(Entry) == 16);
static_assert(64 % sizeof(Entry) == 0, "entries must not straddle cache lines");
static_assert((kMaxFlowletEntries & (kMaxFlowletEntries - 1)) == 0);
static_assert((kMinFlowletEntries & (kMinFlowletEntries - 1)) == 0);

constexpr unsigned kStampBits = 56;
constexpr std::uint64_t kStampMask = (std::uint64_t{1} << kStampBits) - 1;
// An age beyond half the stamp range means `now` went backwards: treat as just seen.
constexpr std::uint64_t kHalfStamp = std::uint64_t{1} << (kStampBits - 1);
constexpr Tick kMaxDelta = Tick{1} << 54;
constexpr std::uint64_t kEmptyStamp = std::uint64_t{kNoMember} << kStampBits;
constexpr Tick kSlowPeriods = 64;
// Sign-extend a difference modulo 2^56.
inline std::int64_t sext56(std::uint64_t x) {
    return static_cast<std::int64_t>(x << (64 - kStampBits)) >> (64 - kStampBits);
}
constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Software prefetch of flowlet entries. Measured on AMD Zen 3 (KVM): up to
// ~16 back-to-back prefetches to DRAM all land; beyond that the extra ones
// are silently dropped (no free miss buffer), while prefetches spaced by a
// packet's work keep ~24 in flight. So a burst starts with a batch of 16 and
// then rolls 24 entries ahead — into the next burst when the caller passes
// its hashes (look-ahead) — instead of prefetching all 32 entries up front.
constexpr unsigned kPrefetchBatch = 16;
constexpr unsigned kPrefetchDistance = 24;
static_assert(kPrefetchBatch <= kPrefetchDistance && kPrefetchDistance <= kBurstSize);

struct FreeDeleter {
    void operator()(Entry* p) const noexcept { std::free(p); }
};

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::uint32_t round_up_pow2(std::uint32_t v) {
    std::uint32_t p = kMinFlowletEntries;
    while (p < v) p <<= 1;
    return p;
}

unsigned log2_exact(std::uint32_t v) { return static_cast<unsigned>(__builtin_ctz(v)); }

// Copy of the member view (STYLE §3): dense active list, membership mask and
// normalised shares. Rebuilt only when the view changes (see snapshot_of);
// only the slots of active members are written and read.
struct Snapshot {
    std::uint32_t up_mask;
    std::uint8_t n;
    std::array<std::uint8_t, kMaxMembers> act;     // active members, ascending
    std::array<double, kMaxMembers> frac;          // share / total share, per position
    std::array<double, kMaxMembers> inv;           // 1 / frac, per position (normalised load = X * inv)
    std::array<double, kMaxMembers> cum;           // cumulative frac, per position
};

void snapshot(const MemberView& v, Snapshot& s) {
    s.up_mask = 0;
    s.n = 0;
    const unsigned n_in = std::min<unsigned>(v.n_active, kMaxMembers);
    for (unsigned k = 0; k < n_in; ++k) {
        const std::uint8_t m = v.active[k];
        if (m >= kMaxMembers || ((s.up_mask >> m) & 1u) != 0) continue;   // defensive: bad or duplicate index
        s.up_mask |= 1u << m;
        s.act[s.n++] = m;
    }
    if (s.n == 0) return;
    bool all_w = true, all_c = true;
    for (unsigned k = 0; k < s.n; ++k) {
        all_w = all_w && v.weight[s.act[k]] > 0;
        all_c = all_c && v.capacity_bps[s.act[k]] > 0;
    }
    std::array<double, kMaxMembers> share;
    double total = 0;
    for (unsigned k = 0; k < s.n; ++k) {
        const std::uint8_t m = s.act[k];
        share[k] = all_w ? static_cast<double>(v.weight[m]) : all_c ? static_cast<double>(v.capacity_bps[m]) : 1.0;
        total += share[k];
    }
    const double inv_total = 1.0 / total;
    double run = 0;
    for (unsigned k = 0; k < s.n; ++k) {
        s.frac[k] = share[k] * inv_total;
        s.inv[k] = total / share[k];
        run += s.frac[k];
        s.cum[k] = run;
    }
    s.cum[s.n - 1] = 1.0;   // guard against rounding: the last member closes the interval
}

// Stand-in for BurstView::bytes == nullptr: every packet weighs 1.
constexpr std::array<std::uint32_t, kBurstSize> kOnes = [] {
    std::array<std::uint32_t, kBurstSize> a{};
    for (auto& x : a) x = 1;
    return a;
}();

// Per-lane policy state for one burst, sized by a compile-time lane count
// (>= active members) so that, with every loop fully unrolled, it lives in
// registers. The decision of packet i depends on the bytes of packet i-1, so
// the chain "compare scores -> pick -> add bytes" is the critical path of
// the burst; in 64-bit fixed point with lane masks it is ~5 integer ops,
// where doubles indexed by member cost ~23 cycles (store->load forwarding,
// FP compare, table loads). Lanes >= n are padding that is never chosen.
//   least_loaded: score = (X*inv - min) scaled so the largest inv is 2^24
//                 units per byte, saturated at 2^62; per_byte = inv in the
//                 same units (>= 1: share ratios beyond 2^24:1 are clipped).
//   tokens:       score = token balance in 2^-24 byte units (|.| <= 2^56);
//                 per_byte = share in 2^-24 units (earned per byte sent).
// A chunk of 32 packets of up to 2^32 bytes adds at most 2^61 to a score, so
// nothing overflows, and a lane saturated at 2^62 stays above a lane that
// started the chunk at 0 (the least loaded one): the ranking is preserved.
constexpr int kFixedShift = 24;
constexpr double kFixedOne = 16777216.0;   // 2^24
static_assert(double(1u << kFixedShift) == kFixedOne);
constexpr std::int64_t kScoreMax = std::int64_t{1} << 62;
constexpr std::uint64_t kMaxTokenBound = std::uint64_t{1} << 32;

// Round to nearest without a libm call (SSE4.1 roundsd).
inline std::int64_t round_fixed(double x) { return static_cast<std::int64_t>(std::floor(x + 0.5)); }

template <unsigned kN>
struct Lanes {
    std::array<std::int64_t, kN> score;
    std::array<std::int64_t, kN> per_byte;
    std::array<std::uint32_t, kN> member;   // member of the lane (kNoMember for padding)
};

// BurstView::drain == nullptr in queue timing: nothing has drained.
const DrainView kNothingDrained{};

// Queue timing: a flow's entry holds the number of the chunk (<= kBurstSize
// packets decided together) its last packet was in, not that packet's
// position; per member, this log keeps the position of the last packet the
// member got in each chunk where it got any. A flow stamped with chunk c on
// member m has drained once m's safe mark reaches that chunk's end on m —
// at most kBurstSize - 1 packets later than its own last packet (the
// precision given up: a flow waits for the rest of its chunk on m). What it
// buys: the decision pass compares and writes a chunk number, as sender
// timing compares and writes a time, with no per-packet numbering.
// Ends never decrease (positions taken back are clamped, see clamp()).
constexpr unsigned kChunkLog = 1024;   // chunks with packets per member; older ones are summarised
struct ChunkLog {
    std::array<std::uint64_t, kChunkLog> chunk{};
    std::array<std::uint64_t, kChunkLog> end{};
    std::uint64_t lo = 0, hi = 0;     // live entries [lo, hi) (absolute numbers, slot = number % kChunkLog)
    std::uint64_t cursor = 0;         // first entry not drained at the last query
    std::uint64_t evicted_end = 0;    // end of the newest entry overwritten (positions up to it)

    std::uint64_t last_end() const { return hi == lo ? evicted_end : end[(hi - 1) % kChunkLog]; }
    void append(std::uint64_t c, std::uint64_t e) noexcept {
        if (hi - lo == kChunkLog) {
            evicted_end = end[lo % kChunkLog];
            ++lo;
        }
        chunk[hi % kChunkLog] = c;
        end[hi % kChunkLog] = e;
        ++hi;
    }
    // Positions above `handed` were taken back (to be reused): no packet of
    // any chunk is left above it.
    void clamp(std::uint64_t handed) noexcept {
        for (std::uint64_t i = hi; i > lo && end[(i - 1) % kChunkLog] > handed; --i) end[(i - 1) % kChunkLog] = handed;
        evicted_end = std::min(evicted_end, handed);
    }
    // The newest chunk number c such that every packet this member got in
    // chunks <= c is at a position <= d (0: none known). `last` is the newest
    // chunk decided so far. The cursor walks from its last place: amortised
    // O(1) while d only grows.
    std::uint64_t drained_chunk(std::uint64_t d, std::uint64_t last) noexcept {
        cursor = std::max(cursor, lo);
        while (cursor < hi && end[cursor % kChunkLog] <= d) ++cursor;
        while (cursor > lo && end[(cursor - 1) % kChunkLog] > d) --cursor;
        return answer(cursor, d, last);
    }
    // The same without moving the cursor (telemetry).
    std::uint64_t drained_chunk_const(std::uint64_t d, std::uint64_t last) const noexcept {
        std::uint64_t a = lo, b = hi;   // first entry with end > d, by bisection
        while (a < b) {
            const std::uint64_t mid = a + (b - a) / 2;
            if (end[mid % kChunkLog] <= d)
                a = mid + 1;
            else
                b = mid;
        }
        return answer(a, d, last);
    }
    std::uint64_t answer(std::uint64_t first_held, std::uint64_t d, std::uint64_t last) const noexcept {
        if (first_held == hi) return last;   // everything it ever got has drained (evicted ends are lower)
        if (first_held > lo || lo == 0 || evicted_end <= d) return chunk[first_held % kChunkLog] - 1;
        return 0;   // an overwritten chunk may still hold packets: none is known drained
    }
};

} // namespace

bool parse_policy(std::string_view s, Policy& out) {
    if (s == "least-loaded" || s == "least_loaded") {
        out = Policy::least_loaded;
    } else if (s == "tokens") {
        out = Policy::tokens;
    } else if (s == "random") {
        out = Policy::random;
    } else {
        return false;
    }
    return true;
}

bool parse_timing(std::string_view s, Timing& out) {
    if (s == "sender") {
        out = Timing::sender;
    } else if (s == "queue") {
        out = Timing::queue;
    } else {
        return false;
    }
    return true;
}

const char* to_string(Timing t) {
    switch (t) {
    case Timing::sender: return "sender";
    case Timing::queue: return "queue";
    }
    return "?";
}

const char* to_string(Policy p) {
    switch (p) {
    case Policy::least_loaded: return "least-loaded";
    case Policy::tokens: return "tokens";
    case Policy::random: return "random";
    }
    return "?";
}

struct Dynamic::Impl {
    DynamicConfig cfg;
    DynamicCounters ctr;
    std::unique_ptr<Entry, FreeDeleter> table;
    std::uint32_t entries = 0;
    unsigned index_shift = 0;   // 64 - log2(entries)

    // CONGA discounting rate estimator, per member index.
    std::array<double, kMaxMembers> dre{};
    // Queue timing: the same estimator over kSlowPeriods x longer periods
    // (~10 ms with CONGA's 20 us T_dre): whether moving a known flow helps
    // is judged on it, so that a pause which decays the fast one to zero
    // looks neither like an even split nor like an idle member.
    std::array<double, kMaxMembers> slow{};
    std::array<double, kMaxMembers> slow_norm{};   // slow / share, per member (this burst)
    Tick slow_last = 0;
    std::array<double, 64> decay_pow2{};   // (1 - alpha)^(2^i)
    std::uint64_t decay_zero_after = 0;    // periods after which X has decayed to nothing
    Tick dre_last = 0;
    bool started = false;

    // FLARE tokens, per member index (clamped to +-token_bound_bytes).
    std::array<double, kMaxMembers> tokens{};

    // LetFlow RNG (xorshift64*).
    std::uint64_t rng = 1;
    // Lane that wins ties in this chunk (rotates).
    unsigned tie_lane = 0;

    // Queue timing only (allocated with the table): chunk numbers and what
    // they mean per member (see ChunkLog), and when each chunk was decided
    // (for moves_held).
    struct QueueState {
        std::uint64_t chunk_no = 1;                    // the next chunk's number (0 = none)
        std::array<ChunkLog, kMaxMembers> chunks{};
        std::array<Tick, kChunkLog> chunk_time{};      // chunk c decided at chunk_time[c % kChunkLog]
        std::uint64_t held_cursor = 1;                 // first chunk decided after now - smallest gap
    };
    std::unique_ptr<QueueState> qs;

    // Forced rebalancing: byte counts per member over the current period;
    // at most one armed move per period.
    Tick rb_cur_start = 0;
    Tick rb_prev_start = 0;
    std::array<std::uint64_t, kMaxMembers> rb_bytes_cur{};
    bool rb_armed = false;
    std::uint8_t rb_from = 0;
    std::uint8_t rb_to = 0;
    double rb_max_bytes = 0;   // a candidate flow must have sent fewer bytes last period

    explicit Impl(const DynamicConfig& c);

    std::uint32_t index(std::uint32_t h) const { return entry_slot(h, index_shift); }

    std::uint64_t next_random() {
        std::uint64_t x = rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng = x;
        return x * 0x2545F4914F6CDD1Dull;
    }

    // Snapshot of the last member view, rebuilt only when the view changes.
    Snapshot snap{};
    MemberView snap_view{};
    bool snap_valid = false;
    std::uint8_t n_configured = 0;   // members ever configured in a view (queue timing's chunk logs)
    const Snapshot& snapshot_of(const MemberView& v);

    void advance(Tick now, const Snapshot& sn);

    template <Policy P, unsigned kN>
    unsigned pick(const Snapshot& sn, const Lanes<kN>& ln);

    // One chunk of <= kBurstSize packets; `ahead` (ahead_n hashes) follow it.
    template <Policy P, bool kRebalance, bool kQueue, unsigned kN>
    void run(const std::uint32_t* hash, const std::uint32_t* bytes, std::uint16_t n, Tick now,
             const Snapshot& sn, std::uint8_t* out, const std::uint32_t* ahead, std::uint16_t ahead_n,
             const DrainView& dv, std::uint64_t* handed);

    template <Policy P, unsigned kN>
    void run_all(const BurstView& burst, const Snapshot& sn, std::uint8_t* out, const std::uint32_t* next,
                 std::uint16_t next_n);

    template <Policy P>
    void dispatch(const BurstView& burst, const Snapshot& sn, std::uint8_t* out, const std::uint32_t* next,
                  std::uint16_t next_n);

    void assign(const BurstView& burst, const MemberView& view, std::uint8_t* out, const std::uint32_t* next,
                std::uint16_t next_n);
};

Dynamic::Impl::Impl(const DynamicConfig& c) : cfg(c) {
    if (cfg.table_entries == 0 || cfg.table_entries > kMaxFlowletEntries)
        throw std::invalid_argument("flowlet table_entries must be between 1 and " +
                                    std::to_string(kMaxFlowletEntries) + ", got " +
                                    std::to_string(cfg.table_entries));
    if (cfg.delta >= kMaxDelta)
        throw std::invalid_argument("flowlet delta must be below 2^54 ticks, got " + std::to_string(cfg.delta));
    if (cfg.policy != Policy::least_loaded && cfg.policy != Policy::tokens && cfg.policy != Policy::random)
        throw std::invalid_argument("flowlet policy must be least-loaded, tokens or random");
    if (cfg.dre_alpha_shift < 1 || cfg.dre_alpha_shift > 16)
        throw std::invalid_argument("flowlet dre_alpha_shift must be between 1 and 16, got " +
                                    std::to_string(cfg.dre_alpha_shift));
    if (cfg.rebalance_threshold_pct > 99)
        throw std::invalid_argument("flowlet rebalance_threshold_pct must be between 0 and 99, got " +
                                    std::to_string(cfg.rebalance_threshold_pct));
    if (cfg.timing != Timing::sender && cfg.timing != Timing::queue)
        throw std::invalid_argument("flowlet timing must be sender or queue");
    if (cfg.timing == Timing::queue && cfg.rebalance_period != 0)
        throw std::invalid_argument("flowlet rebalance_period needs sender timing: forced moves of flows that never "
                                    "pause would reorder, which queue timing exists to prevent");
    if (cfg.token_bound_bytes == 0 || cfg.token_bound_bytes > kMaxTokenBound)
        throw std::invalid_argument("flowlet token_bound_bytes must be between 1 and 2^32, got " +
                                    std::to_string(cfg.token_bound_bytes));

    entries = round_up_pow2(cfg.table_entries);
    cfg.table_entries = entries;
    index_shift = 64 - log2_exact(entries);
    if (cfg.dre_period == 0) cfg.dre_period = std::max<Tick>(1, cfg.delta / 4);

    const double keep = 1.0 - std::ldexp(1.0, -static_cast<int>(cfg.dre_alpha_shift));
    double f = keep;
    for (auto& d : decay_pow2) {
        d = f;
        f *= f;
    }
    // (1-alpha)^k < 2^-80 -> X (bytes, < 2^64) is gone.
    decay_zero_after = static_cast<std::uint64_t>(std::ceil(-80.0 / std::log2(keep)));

    rng = splitmix64(cfg.seed);
    if (rng == 0) rng = 0x2545F4914F6CDD1Dull;

    const std::size_t bytes = std::size_t{entries} * sizeof(Entry);
    const std::size_t align = bytes >= kHugePage ? kHugePage : 64;
    const std::size_t alloc = (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, alloc);
    if (p == nullptr) throw std::bad_alloc();
#ifdef __linux__
    // Best effort: a large table is accessed at random, huge pages save TLB misses.
    if (align == kHugePage) (void)::madvise(p, alloc, MADV_HUGEPAGE);
#endif
    table.reset(static_cast<Entry*>(p));
    Entry* t = table.get();
    for (std::uint32_t i = 0; i < entries; ++i) t[i] = Entry{kEmptyStamp, 0, 0};
    if (cfg.timing == Timing::queue) qs = std::make_unique<QueueState>();
}

// The view is compared field by field on what the snapshot uses: a few
// loads per burst instead of a division per member.
const Snapshot& Dynamic::Impl::snapshot_of(const MemberView& v) {
    bool same = snap_valid && v.n_active == snap_view.n_active;
    const unsigned n = std::min<unsigned>(v.n_active, kMaxMembers);
    for (unsigned k = 0; same && k < n; ++k) {
        const std::uint8_t m = v.active[k];
        same = m == snap_view.active[k] &&
               (m >= kMaxMembers ||
                (v.weight[m] == snap_view.weight[m] && v.capacity_bps[m] == snap_view.capacity_bps[m]));
    }
    if (!same) {
        snapshot(v, snap);
        snap_view = v;
        for (unsigned k = 0; k < snap.n; ++k)
            n_configured = std::max<std::uint8_t>(n_configured, static_cast<std::uint8_t>(snap.act[k] + 1));
        snap_valid = true;
    }
    return snap;
}

// Lazy estimator decay and the rebalance check, once per burst.
void Dynamic::Impl::advance(Tick now, const Snapshot& sn) {
    if (!started) {
        started = true;
        dre_last = now;
        slow_last = now;
        rb_cur_start = rb_prev_start = now;
    }
    // Lazy decay of an estimator kept per `period` (factor (1 - alpha)^periods).
    auto decay = [this, now](std::array<double, kMaxMembers>& x, Tick& last, Tick period) {
        if (now < last + period) return;
        const std::uint64_t periods = (now - last) / period;
        last += periods * period;
        double factor = 0;
        if (periods < decay_zero_after) {
            factor = 1.0;
            for (std::uint64_t p = periods, i = 0; p != 0; p >>= 1, ++i)
                if (p & 1u) factor *= decay_pow2[i];
        }
        for (auto& v : x) v *= factor;
    };
    decay(dre, dre_last, cfg.dre_period);
    if (cfg.timing == Timing::queue) {
        decay(slow, slow_last, cfg.dre_period * kSlowPeriods);
        for (unsigned k = 0; k < sn.n; ++k) slow_norm[sn.act[k]] = slow[sn.act[k]] * sn.inv[k];
    }
    if (cfg.rebalance_period == 0 || now < rb_cur_start || now - rb_cur_start < cfg.rebalance_period) return;

    // New rebalance period: [rb_prev_start, rb_cur_start) is complete.
    const std::array<std::uint64_t, kMaxMembers> prev = rb_bytes_cur;
    rb_bytes_cur.fill(0);
    rb_prev_start = rb_cur_start;
    rb_cur_start = now;
    rb_armed = false;
    if (sn.n < 2) return;
    // Normalised loads over the last period: bytes / share.
    unsigned hi = 0, lo = 0;   // positions
    double hi_load = static_cast<double>(prev[sn.act[0]]) * sn.inv[0], lo_load = hi_load;
    for (unsigned k = 1; k < sn.n; ++k) {
        const double l = static_cast<double>(prev[sn.act[k]]) * sn.inv[k];
        if (l > hi_load) {
            hi_load = l;
            hi = k;
        }
        if (l < lo_load) {
            lo_load = l;
            lo = k;
        }
    }
    const double spread = hi_load - lo_load;
    if (hi_load <= 0 || spread * 100.0 <= static_cast<double>(cfg.rebalance_threshold_pct) * hi_load) return;
    // Moving f bytes/period from hi to lo narrows the spread iff
    // f * (inv[hi] + inv[lo]) < 2 * spread; anything larger would overshoot
    // and make the flow ping-pong between the two members.
    rb_armed = true;
    rb_from = sn.act[hi];
    rb_to = sn.act[lo];
    rb_max_bytes = 2.0 * spread / (sn.inv[hi] + sn.inv[lo]);
}

// Lane of the member for a new flowlet.
template <Policy P, unsigned kN>
unsigned Dynamic::Impl::pick(const Snapshot& sn, const Lanes<kN>& ln) {
    if constexpr (P == Policy::random) {
        const double u = static_cast<double>(next_random() >> 11) * 0x1p-53;   // [0, 1)
        unsigned k = 0;   // number of cumulative bounds <= u (branch-free: the outcome is random)
        for (unsigned j = 0; j + 1 < sn.n; ++j) k += u >= sn.cum[j] ? 1u : 0u;
        return k;
    } else {
        // least_loaded: lowest score; tokens: highest. Ties: lowest lane.
        unsigned best = 0;
        std::int64_t best_score = ln.score[0];
#pragma GCC unroll 16
        for (unsigned k = 1; k < kN; ++k) {
            const bool better = P == Policy::least_loaded ? ln.score[k] < best_score : ln.score[k] > best_score;
            best_score = better ? ln.score[k] : best_score;
            best = better ? k : best;
        }
        return best;
    }
}

template <Policy P, bool kRebalance, bool kQueue, unsigned kN>
void Dynamic::Impl::run(const std::uint32_t* hash, const std::uint32_t* bytes, std::uint16_t n, Tick now,
                        const Snapshot& sn, std::uint8_t* out, const std::uint32_t* ahead,
                        std::uint16_t ahead_n, const DrainView& dv, std::uint64_t* handed) {
    Entry* const t = table.get();
    // Pass 1: indices for the whole burst and for the look-ahead, then the
    // first kPrefetchBatch entries prefetched (for writing). Entries already
    // requested by the previous call's look-ahead are cheap to request again.
    std::uint32_t idx[kBurstSize + kPrefetchDistance];
    const unsigned n_idx = n + std::min<unsigned>(ahead_n, kPrefetchDistance);
    const unsigned batch_end = std::min(n_idx, kPrefetchDistance);
    for (std::uint16_t i = 0; i < n; ++i) idx[i] = index(hash[i]);
    for (unsigned i = n; i < n_idx; ++i) idx[i] = index(ahead[i - n]);
    for (unsigned i = 0; i < n_idx && i < kPrefetchBatch; ++i) __builtin_prefetch(&t[idx[i]], 1, 3);

    // Lanes: per-member state in registers for the burst (see Lanes).
    Lanes<kN> ln;
    double ll_min = HUGE_VAL, ll_scale = 0;
    if constexpr (P == Policy::least_loaded) {
        double inv_max = 0;
        for (unsigned k = 0; k < sn.n; ++k) {
            ll_min = std::min(ll_min, dre[sn.act[k]] * sn.inv[k]);
            inv_max = std::max(inv_max, sn.inv[k]);
        }
        ll_scale = kFixedOne / inv_max;
    }
#pragma GCC unroll 16
    for (unsigned k = 0; k < kN; ++k) {
        const bool real = k < sn.n;
        const std::uint8_t m = real ? sn.act[k] : 0;
        ln.member[k] = real ? m : kNoMember;
        if constexpr (P == Policy::least_loaded) {
            const double rel = real ? (dre[m] * sn.inv[k] - ll_min) * ll_scale : HUGE_VAL;
            ln.score[k] = rel < static_cast<double>(kScoreMax) ? round_fixed(rel) : kScoreMax;
            ln.per_byte[k] = real ? std::max<std::int64_t>(1, round_fixed(sn.inv[k] * ll_scale)) : 0;
        } else if constexpr (P == Policy::tokens) {
            ln.score[k] = real ? round_fixed(tokens[m] * kFixedOne) : std::numeric_limits<std::int64_t>::min();
            ln.per_byte[k] = real ? round_fixed(sn.frac[k] * kFixedOne) : 0;
        } else {
            ln.score[k] = 0;
            ln.per_byte[k] = 0;
        }
    }
    // Ties (equal loads / tokens, e.g. an estimator decayed to zero after an
    // idle spell) go to a lane that rotates from chunk to chunk, not always
    // to the first one: else every flow starting after a pause would land on
    // the lowest member. One unit (2^-24 byte) decides nothing else.
    // Queue timing: the tie goes to the member the slow estimator finds least
    // loaded (a flow pausing longer than the fast one's memory still
    // alternates), rotating among equals.
    if constexpr (P != Policy::random) {
        unsigned pref = tie_lane;
        tie_lane = tie_lane + 1 < sn.n ? tie_lane + 1 : 0;
        if constexpr (kQueue) {
            for (unsigned j = 1; j < sn.n; ++j) {
                const unsigned k = pref + j < sn.n ? pref + j : pref + j - sn.n;
                if (slow_norm[sn.act[k]] < slow_norm[sn.act[pref]]) pref = k;
            }
        }
#pragma GCC unroll 16
        for (unsigned k = 0; k < kN; ++k) {
            if constexpr (P == Policy::least_loaded)
                ln.score[k] += static_cast<std::int64_t>(k != pref);
            else
                ln.score[k] += static_cast<std::int64_t>(k == pref);
        }
    }

    const std::uint64_t now56 = now & kStampMask;
    const auto delta = static_cast<std::int64_t>(cfg.delta);
    const std::uint32_t up_mask = sn.up_mask;
    // Entry ages (ticks since last seen) that place its period_bytes in the
    // current / previous rebalance period.
    const auto since_cur = static_cast<std::int64_t>(now >= rb_cur_start ? now - rb_cur_start : 0);
    const auto since_prev = static_cast<std::int64_t>(now >= rb_prev_start ? now - rb_prev_start : 0);
    // Counters of this chunk (<= 32 each) packed in one register: starts,
    // new flows, moves, collisions in 16-bit fields.
    std::uint64_t packed = 0;
    std::uint32_t n_lost = 0, n_rb = 0, n_held = 0;
    // Queue timing: a known flow changes member at most once per chunk, and
    // only from m to a member n in may_move_to[m]: one that holds no more
    // packets than m (a flow cannot leave a queue that then stays full) and,
    // for least-loaded / tokens, that the slow estimator finds lighter than m
    // by more than the chunk's largest packet would shift. After a stall
    // every queue has drained and every flow may start a flowlet at once:
    // they would herd to the member whose fast estimator is lowest (or, with
    // an estimator decayed to zero, to whichever wins the tie), and queue
    // timing cannot move a flow back off a member whose queue stays full.
    // The move is decided here, once per chunk: tgt[m] is where a known flow
    // on m goes when it starts a flowlet (m itself when no move is allowed
    // or none is better), and only the first such move of the chunk is made
    // (`gate`). New flows and flows off a member that went down take the
    // policy's pick, per packet.
    std::uint32_t gate = 1;   // 0 once a known flow changed member in this chunk
    std::array<std::uint8_t, kMaxMembers> lane_of{};   // queue: lane of each active member
    std::array<std::uint8_t, kMaxMembers> tgt{};       // queue: lane a known flow on member m starts on
    if constexpr (kQueue) {
        std::array<std::uint32_t, kMaxMembers> may_move_to;   // written for every active member below
        std::uint32_t b_max = 0;
        for (std::uint16_t i = 0; i < n; ++i) b_max = std::max(b_max, bytes[i]);
        const double b = b_max;
        for (unsigned x = 0; x < sn.n; ++x) {
            const std::uint8_t mx = sn.act[x];
            std::uint32_t bits = 0;
            for (unsigned y = 0; y < sn.n; ++y) {
                const std::uint8_t my = sn.act[y];
                const bool lighter = P == Policy::random || slow_norm[mx] - slow_norm[my] > b * (sn.inv[x] + sn.inv[y]);
                if (y != x && lighter && dv.backlog[my] <= dv.backlog[mx]) bits |= 1u << my;
            }
            may_move_to[mx] = bits;
        }
        for (unsigned x = 0; x < sn.n; ++x) {
            lane_of[sn.act[x]] = static_cast<std::uint8_t>(x);
            tgt[sn.act[x]] = static_cast<std::uint8_t>(x);
        }
        if constexpr (P == Policy::random) {
            // LetFlow: one random member (by share) for the chunk's known flows.
            const unsigned r = pick<P, kN>(sn, ln);
            for (unsigned x = 0; x < sn.n; ++x)
                if ((may_move_to[sn.act[x]] >> sn.act[r]) & 1u) tgt[sn.act[x]] = static_cast<std::uint8_t>(r);
        } else {
            // The member the fast estimator ranks best at the chunk's start
            // among those the slow one allows, if better than staying.
            for (unsigned x = 0; x < sn.n; ++x) {
                const std::uint8_t mx = sn.act[x];
                std::int64_t best = ln.score[x];
                for (unsigned y = 0; y < sn.n; ++y) {
                    const bool better = P == Policy::least_loaded ? ln.score[y] < best : ln.score[y] > best;
                    if (((may_move_to[mx] >> sn.act[y]) & 1u) != 0 && better) {
                        best = ln.score[y];
                        tgt[mx] = static_cast<std::uint8_t>(y);
                    }
                }
            }
        }
    }
    // Queue timing: per member, the newest chunk whose packets on it have all
    // drained (0 for members that are down or without a drain view: their
    // flows do not start a flowlet); and the newest chunk decided at least
    // the smallest member gap ago — a flow last seen in it or before would
    // have started a flowlet under the classic rule (moves_held).
    const bool live = kQueue && &dv != &kNothingDrained;
    const std::uint64_t cur = kQueue ? qs->chunk_no : 0;
    // Only the slots of configured members and slot 15 (where an empty
    // entry's kNoMember lands) are ever read: no 128-byte clear per chunk.
    std::array<std::uint64_t, kMaxMembers> dchunk;
    // moves_held: chunks after dchunk[m] up to the held chunk (0 for members
    // that are down): a flow on m whose stamp lies in (dchunk[m], held_chunk]
    // had not drained but was idle at the sender for the smallest gap.
    std::array<std::uint64_t, kMaxMembers> hspan;
    std::uint64_t held_chunk = 0;
    if constexpr (kQueue) {
        for (unsigned mm = 0; mm < n_configured; ++mm) dchunk[mm] = hspan[mm] = 0;
        dchunk[kMaxMembers - 1] = hspan[kMaxMembers - 1] = 0;
    }
    if constexpr (kQueue) {
        if (live) {
            Tick gap_min = ~Tick{0};   // unknown gaps are ~0 (flowlet/drain.h)
            for (unsigned k = 0; k < sn.n; ++k) {
                const std::uint8_t m = sn.act[k];
                dchunk[m] = qs->chunks[m].drained_chunk(dv.drained[m], cur - 1);
                gap_min = std::min(gap_min, dv.gap[m]);
            }
            if (gap_min < now) {
                const Tick t_held = now - gap_min;
                const std::uint64_t first = cur > kChunkLog ? cur - kChunkLog + 1 : 1;
                std::uint64_t c = std::max(qs->held_cursor, first);
                while (c < cur && qs->chunk_time[c % kChunkLog] <= t_held) ++c;
                while (c > first && qs->chunk_time[(c - 1) % kChunkLog] > t_held) --c;
                qs->held_cursor = c;
                held_chunk = c - 1;   // chunks older than the log count as decided long enough ago
                for (unsigned k = 0; k < sn.n; ++k) {
                    const std::uint8_t m = sn.act[k];
                    hspan[m] = held_chunk > dchunk[m] ? held_chunk - dchunk[m] : 0;
                }
            }
        }
    }

    // Pass 2: decide, in packet order (two packets of one flow in a burst see
    // each other). Counters are updated without branches: whether a packet
    // changes member is as good as random to the branch predictor.
    for (std::uint16_t i = 0; i < n; ++i) {
        // Keep prefetching kPrefetchDistance ahead (into the next chunk /
        // burst); the first packets also cover [batch, distance).
        if (i + kPrefetchDistance < n_idx) __builtin_prefetch(&t[idx[i + kPrefetchDistance]], 1, 3);
        if (i + kPrefetchBatch < batch_end) __builtin_prefetch(&t[idx[i + kPrefetchBatch]], 1, 3);

        Entry& e = t[idx[i]];
        const std::uint32_t h = hash[i];
        const std::uint64_t st = e.stamp;
        const std::uint32_t sig = e.sig;
        const auto m = static_cast<std::uint8_t>(st >> kStampBits);
        // Sender timing: ticks since last seen, sign-extended from 56 bits:
        // negative when `now` is behind the stamp, which then counts as just
        // seen. Queue timing: how far the member's newest drained chunk is
        // past the flow's last chunk (>= 0: its packets there have drained).
        const std::int64_t age = kQueue ? sext56(dchunk[m & (kMaxMembers - 1)] - st) : sext56(now56 - st);
        const bool empty = m == kNoMember;
        const bool same = sig == h;
        // Idle >= delta / drained (or never seen): a new flowlet, free to move.
        const bool start = empty | (age >= (kQueue ? 0 : delta));   // delta is signed too: < 2^54
        // Active, but its member went down: move now (counted apart).
        const std::uint32_t up_m = (up_mask >> (m & 31u)) & 1u;   // 0 for an empty entry (bit 31 is never a member)
        const bool lost = !start & (up_m == 0);
        const bool fresh = start & (empty | !same);   // the entry changes owner
        if constexpr (kQueue) {
            // Held: idle at the sender for the smallest member gap (the
            // classic rule would move it), but its packets had not left
            // early enough.
            // 1 <= -age <= hspan[m], i.e. ~age < hspan[m] unsigned (age >= 0
            // — drained, or an empty entry — makes ~age huge).
            n_held += static_cast<std::uint32_t>(~static_cast<std::uint64_t>(age) < hspan[m & (kMaxMembers - 1)]) &
                      static_cast<std::uint32_t>(same);
        }
        std::uint32_t chosen = m;
        std::array<std::int64_t, kN> mask;   // all ones on the chosen member's lane
        if constexpr (kQueue) {
            // In lanes: the mask then compares with constants.
            // Known flow: at a flowlet start, the chunk's target for its
            // member while the gate is open; otherwise it stays. New flows
            // (about half the packets with many flows: a table slot changes
            // owner) and flows off a lost member take the policy's pick —
            // computed for every packet and selected without a branch, which
            // would be as good as random (random: drawn only when needed).
            const unsigned own = lane_of[m & (kMaxMembers - 1)];
            const unsigned go = static_cast<unsigned>(start) & gate;
            const unsigned known = own ^ ((own ^ tgt[m & (kMaxMembers - 1)]) & (0u - go));
            const unsigned any = static_cast<unsigned>(fresh | lost);
            unsigned lane;
            if constexpr (P == Policy::random) {
                lane = any != 0 ? pick<P, kN>(sn, ln) : known;
            } else {
                const unsigned best = pick<P, kN>(sn, ln);
                lane = known ^ ((known ^ best) & (0u - any));
            }
            gate &= static_cast<std::uint32_t>(any | static_cast<unsigned>(lane == own));
            chosen = sn.act[lane];
            if constexpr (P != Policy::random) {
#pragma GCC unroll 16
                for (unsigned k = 0; k < kN; ++k) mask[k] = -static_cast<std::int64_t>(k == lane);
            }
        } else if (start | lost) {
            const unsigned best = pick<P, kN>(sn, ln);
            if constexpr (P == Policy::random) {
                chosen = sn.act[best];
            } else {
                chosen = 0;
#pragma GCC unroll 16
                for (unsigned k = 0; k < kN; ++k) {
                    mask[k] = -static_cast<std::int64_t>(k == best);
                    chosen |= ln.member[k] & static_cast<std::uint32_t>(mask[k]);
                }
            }
        } else if constexpr (P != Policy::random) {
#pragma GCC unroll 16
            for (unsigned k = 0; k < kN; ++k) mask[k] = -static_cast<std::int64_t>(ln.member[k] == chosen);
        }
        if constexpr (kRebalance) {
            // Forced rebalance: the first packet, in this period, of a flow
            // that was active in the previous one and whose size fits.
            if (rb_armed) [[unlikely]] {
                if (!(start | lost) && m == rb_from && age > since_cur && age <= since_prev && e.period_bytes != 0 &&
                    static_cast<double>(e.period_bytes) < rb_max_bytes && ((up_mask >> rb_to) & 1u) != 0) {
                    chosen = rb_to;
                    if constexpr (P != Policy::random) {
#pragma GCC unroll 16
                        for (unsigned k = 0; k < kN; ++k)
                            mask[k] = -static_cast<std::int64_t>(ln.member[k] == chosen);
                    }
                    rb_armed = false;
                    ++n_rb;
                }
            }
            // Bytes per rebalance period, reset when last seen in an earlier period.
            std::uint32_t pb = (fresh | (age > since_cur)) ? 0u : e.period_bytes;
            const std::uint32_t sum = pb + bytes[i];
            pb = sum < pb ? ~std::uint32_t{0} : sum;
            e.period_bytes = pb;
        }
        const std::uint32_t actual = chosen;
        const bool moved = start & !fresh & (actual != m);
        const bool coll = !start & !same;
        packed += std::uint64_t{start} | (std::uint64_t{fresh} << 16) | (std::uint64_t{moved} << 32) |
                  (std::uint64_t{coll} << 48);
        n_lost += lost;
        e.sig = fresh ? h : sig;
        if constexpr (kQueue) {
            e.stamp = cur | (std::uint64_t{actual} << kStampBits);
        } else {
            e.stamp = now56 | (std::uint64_t{chosen} << kStampBits);
        }
        out[i] = static_cast<std::uint8_t>(actual);
        if constexpr (P != Policy::random) {
            const std::int64_t b = bytes[i];
#pragma GCC unroll 16
            for (unsigned k = 0; k < kN; ++k) {
                if constexpr (P == Policy::least_loaded)
                    ln.score[k] += (b * ln.per_byte[k]) & mask[k];
                else   // tokens: every member earns its share of the bytes, the chosen one pays them
                    ln.score[k] += b * ln.per_byte[k] - ((b << kFixedShift) & mask[k]);
            }
        }
    }

    // Commit: bytes per member (off the decision chain), scores. Unrolled so
    // that `ln` is only ever indexed by constants and stays in registers.
#pragma GCC unroll 16
    for (unsigned k = 0; k < kN; ++k) {
        if (k >= sn.n) continue;
        std::uint64_t sum = 0;
        std::uint32_t cnt = 0;
        const std::uint8_t m = sn.act[k];
        for (std::uint16_t i = 0; i < n; ++i) {   // mask, not `?:`: GCC would branch on it
            const std::uint32_t sel = 0u - static_cast<std::uint32_t>(out[i] == m);
            sum += bytes[i] & sel;
            if constexpr (kQueue) cnt += sel & 1u;
        }
        dre[m] += static_cast<double>(sum);
        if constexpr (kRebalance) rb_bytes_cur[m] += sum;
        if constexpr (kQueue) {
            slow[m] += static_cast<double>(sum);
            // This chunk's packets on m take positions handed[m] + 1 .. + cnt.
            handed[m] += cnt;
            if (live && cnt != 0) qs->chunks[m].append(cur, handed[m]);
        }
        if constexpr (P == Policy::tokens) {
            // Bounded so that no member drifts forever (e.g. while an elephant pins another one).
            const auto bound = static_cast<double>(cfg.token_bound_bytes);
            tokens[m] = std::clamp(static_cast<double>(ln.score[k]) / kFixedOne, -bound, bound);
        }
    }
    if constexpr (kQueue) {
        qs->chunk_time[cur % kChunkLog] = now;
        qs->chunk_no = cur + 1;
    }
    ctr.packets += n;
    ctr.flowlet_starts += packed & 0xFFFFu;
    ctr.new_flows += (packed >> 16) & 0xFFFFu;
    ctr.member_moves += (packed >> 32) & 0xFFFFu;
    ctr.collisions += packed >> 48;
    ctr.member_lost_moves += n_lost;
    ctr.rebalance_moves += n_rb;
    ctr.moves_held += n_held;
}

template <Policy P, unsigned kN>
void Dynamic::Impl::run_all(const BurstView& burst, const Snapshot& sn, std::uint8_t* out,
                            const std::uint32_t* next, std::uint16_t next_n) {
    // Queue timing: positions continue from chunk to chunk of a long burst.
    const DrainView& dv = burst.drain != nullptr ? *burst.drain : kNothingDrained;
    std::array<std::uint64_t, kMaxMembers> handed = dv.handed;
    if (qs && burst.drain != nullptr) {
        // Positions the caller took back (a member went down) are reused: no chunk ends above them.
        for (std::uint8_t m = 0; m < n_configured; ++m)
            if (handed[m] < qs->chunks[m].last_end()) qs->chunks[m].clamp(handed[m]);
    }
    for (std::uint16_t base = 0; base < burst.n; base += kBurstSize) {
        const auto n = static_cast<std::uint16_t>(std::min<unsigned>(kBurstSize, burst.n - base));
        const std::uint32_t* bytes = burst.bytes != nullptr ? burst.bytes + base : kOnes.data();
        const bool last = base + n >= burst.n;
        const std::uint32_t* ahead = last ? next : burst.hash + base + n;
        const auto ahead_n = static_cast<std::uint16_t>(last ? next_n : burst.n - base - n);
        if (cfg.timing == Timing::queue)
            run<P, false, true, kN>(burst.hash + base, bytes, n, burst.now, sn, out + base, ahead, ahead_n, dv,
                                    handed.data());
        else if (cfg.rebalance_period != 0)
            run<P, true, false, kN>(burst.hash + base, bytes, n, burst.now, sn, out + base, ahead, ahead_n, dv,
                                    handed.data());
        else
            run<P, false, false, kN>(burst.hash + base, bytes, n, burst.now, sn, out + base, ahead, ahead_n, dv,
                                     handed.data());
    }
}

template <Policy P>
void Dynamic::Impl::dispatch(const BurstView& burst, const Snapshot& sn, std::uint8_t* out,
                             const std::uint32_t* next, std::uint16_t next_n) {
    static_assert(kMaxMembers == 16, "lane counts below cover up to 16 members");
    if (sn.n <= 2)
        run_all<P, 2>(burst, sn, out, next, next_n);
    else if (sn.n <= 4)
        run_all<P, 4>(burst, sn, out, next, next_n);
    else if (sn.n <= 8)
        run_all<P, 8>(burst, sn, out, next, next_n);
    else
        run_all<P, 16>(burst, sn, out, next, next_n);
}

Dynamic::Dynamic(const DynamicConfig& cfg) : impl_(std::make_unique<Impl>(cfg)) {}
Dynamic::~Dynamic() = default;
Dynamic::Dynamic(Dynamic&&) noexcept = default;
Dynamic& Dynamic::operator=(Dynamic&&) noexcept = default;

void Dynamic::Impl::assign(const BurstView& burst, const MemberView& view, std::uint8_t* out,
                           const std::uint32_t* next, std::uint16_t next_n) {
    const Snapshot& sn = snapshot_of(view);
    advance(burst.now, sn);
    if (sn.n == 0) {
        for (std::uint16_t i = 0; i < burst.n; ++i) out[i] = kNoMember;
        ctr.packets += burst.n;
        ctr.no_member += burst.n;
        return;
    }
    if (next == nullptr) next_n = 0;
    switch (cfg.policy) {
    case Policy::least_loaded: dispatch<Policy::least_loaded>(burst, sn, out, next, next_n); break;
    case Policy::tokens: dispatch<Policy::tokens>(burst, sn, out, next, next_n); break;
    case Policy::random: dispatch<Policy::random>(burst, sn, out, next, next_n); break;
    }
}

void Dynamic::assign(const BurstView& burst, const MemberView& view, std::uint8_t* out) {
    impl_->assign(burst, view, out, nullptr, 0);
}

void Dynamic::assign(const BurstView& burst, const MemberView& view, std::uint8_t* out,
                     const std::uint32_t* next_hash, std::uint16_t next_n) {
    impl_->assign(burst, view, out, next_hash, next_n);
}

const DynamicCounters& Dynamic::counters() const { return impl_->ctr; }
const DynamicConfig& Dynamic::config() const { return impl_->cfg; }

void Dynamic::set_delta(Tick delta) {
    if (delta >= kMaxDelta)
        throw std::invalid_argument("flowlet delta must be below 2^54 ticks, got " + std::to_string(delta));
    impl_->cfg.delta = delta;
}

std::size_t Dynamic::memory_bytes() const {
    return std::size_t{impl_->entries} * sizeof(Entry) + sizeof(Impl) + (impl_->qs ? sizeof(Impl::QueueState) : 0);
}

std::uint32_t Dynamic::active_entries(Tick now, const DrainView* drain) const {
    const Entry* t = impl_->table.get();
    const std::uint64_t now56 = now & kStampMask;
    std::array<std::uint64_t, kMaxMembers> dchunk{};
    if (impl_->qs && drain != nullptr)
        for (std::uint8_t m = 0; m < kMaxMembers; ++m)
            dchunk[m] = impl_->qs->chunks[m].drained_chunk_const(drain->drained[m], impl_->qs->chunk_no - 1);
    std::uint32_t count = 0;
    for (std::uint32_t i = 0; i < impl_->entries; ++i) {
        const std::uint64_t st = t[i].stamp;
        if ((st >> kStampBits) == kNoMember) continue;
        if (impl_->cfg.timing == Timing::queue) {
            const auto m = static_cast<std::uint8_t>(st >> kStampBits);
            if (drain == nullptr || m >= kMaxMembers || sext56(dchunk[m] - st) < 0) ++count;
            continue;
        }
        std::uint64_t age = (now56 - st) & kStampMask;
        if (age >= kHalfStamp) age = 0;
        if (age < impl_->cfg.delta) ++count;
    }
    return count;
}

std::uint64_t Dynamic::member_load(std::uint8_t member) const {
    return member < kMaxMembers ? static_cast<std::uint64_t>(impl_->dre[member]) : 0;
}

std::uint32_t Dynamic::entry_index(std::uint32_t hash) const { return impl_->index(hash); }

EntryLocator Dynamic::locator() const {
    EntryLocator l;
    l.base = reinterpret_cast<const std::uint8_t*>(impl_->table.get());
    l.shift = impl_->index_shift;
    return l;
}

} // namespace flowteam::flowlet
