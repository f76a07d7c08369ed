// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the `dynamic` distribution mode: flowlet switching.
//
// Per flow (hash-indexed entry, 16 bytes) a signature, a last-seen timestamp
// and a member. A packet arriving after an idle gap >= delta starts a new
// flowlet, which may go to another member chosen by a policy:
//   - least_loaded : CONGA-style discounting rate estimator per member,
//                    load = X / share; the least loaded active member wins
//   - tokens       : FLARE token counting, members earn tokens in proportion
//                    to their share, the chosen member pays the bytes; the
//                    member with most tokens wins
//   - random       : LetFlow, random active member (weighted by share)
// Optional periodic rebalancing moves flows that never pause (Windows
// "Dynamic"); those moves may reorder and are counted apart. Every
// rebalance_period, member loads over the last period (bytes / share) are
// compared; when (max - min) / max > rebalance_threshold_pct, at most one
// active flow is moved from the most to the least loaded member, and only a
// flow whose last-period bytes f narrow the spread (f * (1/share_hi +
// 1/share_lo) < 2 * spread, so no flow ping-pongs between two members).
//
// When a flowlet ends (DynamicConfig::timing):
//   - sender (FLARE's classic rule): the flow was idle at the sender for
//     >= delta. Safe only when delta exceeds the members' delay skew plus
//     whatever the flow's packets still wait in a member queue, which nobody
//     knows in advance: a sender held back by a full queue looks idle.
//   - queue (the default in the data plane): the flow's last packet has
//     LEFT its member long enough ago that nothing sent now can overtake it
//     (flowlet/drain.h: `now >= departure + max(0, hi_o - lo_n) + delta`).
//     BurstView::drain says which positions in each member's send order are
//     safe to leave; the entry holds, instead of a time, the number of the
//     chunk (<= kBurstSize packets decided together) of the flow's last
//     packet, and the flow may start a flowlet once everything its member
//     got in that chunk is safe — at most kBurstSize - 1 packets after its
//     own last one, never before (per-packet numbering cost ~25
//     instructions per packet; a chunk number costs what a time does). A
//     flowlet start refused because the packets had not drained, although
//     the flow had been idle at the sender for the smallest member gap
//     (skew + delta), is counted in `moves_held`. Flows on a member that is
//     down leave it at once (member_lost_moves), drained or not.
//     Which member a flowlet start takes: a new flow, the policy's pick; a
//     known flow moves at most once per chunk (so drained flows do not herd
//     after a stall), decided once per chunk: to the member the policy ranks
//     best at the chunk's start among those a slow (64 x T_dre) estimator
//     finds lighter by more than a packet and whose queue holds no more —
//     else it stays (the per-packet loop then costs about what sender
//     timing's does).
//
// Key property: a flow's member changes only at a flowlet start, except for
// forced moves (rebalance_moves) and moves off a member that went down
// (member_lost_moves). Flows whose hashes share an entry share its member
// (counted in `collisions`); the entry is refreshed by any packet mapped to
// it, so sharing never shortens anyone's gap.
//
// Member share: view.weight[m] when every active member has a non-zero
// weight, otherwise view.capacity_bps[m] (equal shares when all are zero).
// Policies compute in 2^-24 fixed point: share ratios beyond 2^24:1 are
// clipped (least_loaded), shares below 2^-24 of the total earn no tokens.
//
// Performance: the burst is processed in two passes (indices + prefetch,
// then decisions in packet order); per-member policy state lives in
// registers for the burst. For tables far larger than the caches, pass the
// next burst's hashes (look-ahead overload) so that its cache misses overlap
// with this burst's work (measure with bench/bench_flowlet.cc).
//
// Time: `now` must not go backwards for one Dynamic (one per TX lcore). A
// timestamp that appears to lie in the future is treated as "just seen".
//
// No allocation after construction, no locks, no exceptions on the hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/types.h"

namespace flowteam::flowlet {

enum class Policy : std::uint8_t { least_loaded, tokens, random };
enum class Timing : std::uint8_t { sender, queue };

// Parse "sender" | "queue"; false when unknown.
bool parse_timing(std::string_view s, Timing& out);
const char* to_string(Timing t);

// Parse "least-loaded" (or "least_loaded") | "tokens" | "random"; false when unknown.
bool parse_policy(std::string_view s, Policy& out);
const char* to_string(Policy p);

// Bytes per flowlet-table entry (signature, 56-bit last-seen or chunk
// number, member, period bytes).
inline constexpr std::size_t kFlowletEntryBytes = 16;
inline constexpr std::uint32_t kMaxFlowletEntries = 1u << 27;   // 2 GiB of table
inline constexpr std::uint32_t kMinFlowletEntries = 16;         // smaller requests are rounded up

struct DynamicConfig {
    std::uint32_t table_entries = 1u << 16;   // flowlet entries, 1..2^27, rounded up to a power of two (>= 16)
    Tick delta = 0;                           // sender timing: flowlet gap in ticks (0 = every packet may move),
                                              // < 2^54 (queue timing: the gap is in BurstView::drain)
    Timing timing = Timing::sender;
    Policy policy = Policy::least_loaded;
    Tick dre_period = 0;                      // CONGA T_dre in ticks (0: derived = delta/4, min 1)
    std::uint32_t dre_alpha_shift = 3;        // alpha = 1/2^shift, 1..16 (CONGA: tau = T_dre/alpha)
    Tick rebalance_period = 0;                // 0 = no forced rebalancing of non-pausing flows (sender timing only)
    std::uint32_t rebalance_threshold_pct = 10; // load spread (max-min)/max, 0..99, that triggers a forced move
    std::uint64_t token_bound_bytes = 1u << 20; // tokens policy: |token balance| per member is clamped to this, 1..2^32
    std::uint64_t seed = 1;                   // RNG seed (random policy)
};

struct DynamicCounters {
    std::uint64_t packets = 0;
    std::uint64_t new_flows = 0;         // flowlet starts on an empty entry or one last used by another flow
    std::uint64_t flowlet_starts = 0;    // packets that began a flowlet (incl. new flows)
    std::uint64_t member_moves = 0;      // flowlet starts of a known flow that changed member
    std::uint64_t rebalance_moves = 0;   // forced moves without a gap (may reorder)
    std::uint64_t member_lost_moves = 0; // active entries moved because their member went down
    std::uint64_t collisions = 0;        // packets whose flow shared an active entry with another flow
    std::uint64_t no_member = 0;         // packets with no active member (kNoMember returned)
    std::uint64_t moves_held = 0;        // queue timing: idle at the sender for the smallest member gap, but its
                                         // packets had not left the member early enough: kept there
};

// Table slot of a flow hash: Fibonacci hashing onto 2^(64 - shift) entries.
inline constexpr std::uint64_t kFibonacci64 = 0x9E3779B97F4A7C15ull;
inline std::uint32_t entry_slot(std::uint32_t hash, unsigned shift) noexcept {
    return static_cast<std::uint32_t>((std::uint64_t{hash} * kFibonacci64) >> shift);
}

// Where a hash's flowlet entry lives, for a caller that prefetches it while
// it still hashes the rest of the burst (the data plane's classify loop):
// the entry then arrives during the burst instead of in assign().
struct EntryLocator {
    const std::uint8_t* base = nullptr;   // nullptr: no table (not the dynamic mode)
    unsigned shift = 63;
    const void* entry(std::uint32_t hash) const noexcept {
        return base + std::size_t{entry_slot(hash, shift)} * kFlowletEntryBytes;
    }
};

class Dynamic {
public:
    // Throws std::invalid_argument (one line, naming the field) on bad config.
    explicit Dynamic(const DynamicConfig& cfg);
    ~Dynamic();
    Dynamic(const Dynamic&) = delete;
    Dynamic& operator=(const Dynamic&) = delete;
    Dynamic(Dynamic&&) noexcept;
    Dynamic& operator=(Dynamic&&) noexcept;

    // Assign a member to each packet of the burst. `out[i]` is a member index
    // from view.active, or kNoMember when no member is up. burst.bytes may be
    // nullptr (then every packet counts as 1 byte: balancing by packets).
    void assign(const BurstView& burst, const MemberView& view, std::uint8_t* out);

    // Same, with the hashes of the burst that comes next (look-ahead, the
    // l3fwd pattern: the data plane hashes one RX burst ahead). Their table
    // entries are prefetched while this burst is decided, so the cache misses
    // of a large table overlap with work. Same results as assign() above.
    void assign(const BurstView& burst, const MemberView& view, std::uint8_t* out,
                const std::uint32_t* next_hash, std::uint16_t next_n);

    const DynamicCounters& counters() const;
    // The configuration in effect (table_entries rounded, dre_period derived).
    const DynamicConfig& config() const;
    // Sender timing: a new flowlet gap from the next burst on (e.g. measured). Throws when >= 2^54.
    void set_delta(Tick delta);
    std::size_t memory_bytes() const;      // flowlet table + estimator state (+ queue timing's chunk log)
    // Entries whose flow may not start a new flowlet yet (telemetry; O(table)):
    // sender timing, seen within delta; queue timing, last packet not past
    // `drain` (every used entry when drain is nullptr).
    std::uint32_t active_entries(Tick now, const DrainView* drain = nullptr) const;

    // Current estimator load per member (bytes in the discounting window, as
    // of the last burst), for telemetry and tests.
    std::uint64_t member_load(std::uint8_t member) const;

    // Table slot of a flow hash (tests and telemetry: which hashes collide).
    std::uint32_t entry_index(std::uint32_t hash) const;
    // The table's address and slot function (valid while this object lives;
    // the table is never reallocated).
    EntryLocator locator() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace flowteam::flowlet
