// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the `dynamic` distribution mode: flowlet switching.
//
// Per flow (hash-indexed entry, 16 bytes) a last-seen timestamp and a
// member. A packet arriving after an idle gap >= delta starts a new flowlet,
// which may go to another member chosen by a policy:
//   - least_loaded : CONGA-style discounting rate estimator per member,
//                    load = X / capacity; the least loaded active member wins
//   - tokens       : FLARE token counting, members earn tokens in proportion
//                    to their weight, the chosen member pays the bytes; the
//                    member with most tokens wins
//   - random       : LetFlow, uniformly random active member (weighted)
// Optional periodic rebalancing moves flows that never pause (Windows
// "Dynamic"); those moves may reorder and are counted apart.
//
// No allocation after construction, no locks, no exceptions on the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/types.h"

namespace flowteam::flowlet {

enum class Policy : std::uint8_t { least_loaded, tokens, random };

// Parse "least-loaded" | "tokens" | "random"; false when unknown.
bool parse_policy(std::string_view s, Policy& out);
const char* to_string(Policy p);

struct DynamicConfig {
    std::uint32_t table_entries = 1u << 16;   // flowlet entries, power of two (rounded up)
    Tick delta = 0;                           // flowlet gap in ticks (0 = every packet may move)
    Policy policy = Policy::least_loaded;
    Tick dre_period = 0;                      // CONGA T_dre in ticks (0: derived = delta/4, min 1)
    std::uint32_t dre_alpha_shift = 3;        // alpha = 1/2^shift (CONGA: tau = T_dre/alpha)
    Tick rebalance_period = 0;                // 0 = no forced rebalancing of non-pausing flows
    std::uint32_t rebalance_threshold_pct = 10; // imbalance (load spread) that triggers a forced move
    std::uint64_t seed = 1;                   // RNG seed (random policy)
};

struct DynamicCounters {
    std::uint64_t packets = 0;
    std::uint64_t new_flows = 0;         // first packet seen on an empty/expired entry
    std::uint64_t flowlet_starts = 0;    // packets that began a flowlet (incl. new flows)
    std::uint64_t member_moves = 0;      // flowlet starts that changed member
    std::uint64_t rebalance_moves = 0;   // forced moves without a gap (may reorder)
    std::uint64_t member_lost_moves = 0; // flows moved because their member went down
    std::uint64_t collisions = 0;        // packets whose flow shared an entry with another flow
    std::uint64_t no_member = 0;         // packets with no active member (kNoMember returned)
};

class Dynamic {
public:
    explicit Dynamic(const DynamicConfig& cfg);
    ~Dynamic();
    Dynamic(const Dynamic&) = delete;
    Dynamic& operator=(const Dynamic&) = delete;
    Dynamic(Dynamic&&) noexcept;
    Dynamic& operator=(Dynamic&&) noexcept;

    // Assign a member to each packet of the burst. `out[i]` is a member index
    // from view.active, or kNoMember when no member is up.
    void assign(const BurstView& burst, const MemberView& view, std::uint8_t* out);

    const DynamicCounters& counters() const;
    const DynamicConfig& config() const;
    std::size_t memory_bytes() const;      // flowlet table + estimator state
    std::uint32_t active_entries(Tick now) const; // entries seen within delta (telemetry; O(table))

    // Current estimator load per member (bytes in the discounting window),
    // for telemetry and tests.
    std::uint64_t member_load(std::uint8_t member) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace flowteam::flowlet
