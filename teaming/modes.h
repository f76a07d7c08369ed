// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the distribution modes other than `dynamic` (flowlet/dynamic.h).
//
// Each mode is a function over a whole burst:
//     assign(const BurstView&, const MemberView&, std::uint8_t* out)
// `out[i]` is a member of view.active, or kNoMember when no member is up.
// No mode ever returns a member that is down in `view`. All state is
// preallocated; assign() never allocates, locks or throws.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/types.h"
#include "teaming/indirection.h"

namespace flowteam::teaming {

// Murmur3 finaliser: a cheap 32-bit mixer (vport slots, switch-side hash).
constexpr std::uint32_t mix32(std::uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EB'CA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2'AE35u;
    h ^= h >> 16;
    return h;
}

// hash: indirection-table lookup of the flow hash. A flow never changes
// member unless its bucket's member goes down (or another member joins and
// takes that bucket).
void assign_hash(const BurstView& burst, const IndirectionTable& table, std::uint8_t* out);

// vport (Hyper-V Port analog): each vport id is pinned to a member the first
// time it is seen — the up member with the fewest pinned vports relative to
// its weight (ties: lower index) — and stays there. Only a membership change
// moves vports: when a member goes down its vports (and only those) are
// re-pinned, one by one, to the least loaded remaining member. When a member
// comes up, existing vports stay where they are (as Hyper-V Port does: a VM
// keeps its NIC, new VMs fill the new member first); rebalance() moves the
// minimum number of vports to even the load out, on explicit request.
//
// Fixed-capacity open-addressing table: `capacity` vports at most, stored in
// a power-of-two table of at least 2*capacity slots (load <= 50 %), linear
// probing bounded to kVportMaxProbe slots. A vport that finds no slot (table
// full, or probe limit) is not pinned: it falls back to the indirection
// table on mix32(vport) — still sticky, but by bucket — and each such packet
// is counted in `overflow`. Pins never expire (a VM that left keeps its slot;
// size vport_slots for the VMs a host sees over the team's lifetime).
// burst.vport == nullptr: the flow hash is used as the vport id.
class VportTable {
public:
    static constexpr std::uint32_t kMaxCapacity = 1u << 22;
    static constexpr std::uint32_t kVportMaxProbe = 32;

    // Throws std::invalid_argument unless 1 <= capacity <= kMaxCapacity.
    explicit VportTable(std::uint32_t capacity);

    void assign(const BurstView& burst, const MemberView& view, const IndirectionTable& fallback,
                std::uint8_t* out, std::uint64_t& overflow);

    // `member` went down (`view` after the change): re-pin its vports. When
    // no member is up they stay pinned to nothing and are pinned again on
    // their next packet. Returns the number of vports re-pinned.
    std::uint32_t member_down(std::uint8_t member, const MemberView& view);
    // Move the fewest vports so each up member holds its largest-remainder
    // share of the pinned vports by weight. Returns the number moved.
    std::uint32_t rebalance(const MemberView& view);

    // Member a vport is pinned to (kNoMember if not pinned). O(probe).
    std::uint8_t pinned_member(std::uint32_t vport) const;
    std::uint32_t pinned() const { return used_; }
    std::uint32_t pinned_on(std::uint8_t member) const { return member < kMaxMembers ? load_[member] : 0; }
    std::uint32_t capacity() const { return capacity_; }

private:
    struct Slot {
        std::uint32_t key = 0;
        std::uint8_t member = kNoMember;
        std::uint8_t used = 0;
        std::uint16_t pad_ = 0;
    };
    static_assert(sizeof(Slot) == 8);

    std::uint8_t least_loaded(const MemberView& view, std::uint8_t except) const;
    std::uint8_t lookup_or_pin(std::uint32_t vport, const MemberView& view, const IndirectionTable& fallback,
                               std::uint64_t& overflow);

    std::uint32_t capacity_ = 0;
    std::uint32_t mask_ = 0;
    std::uint32_t used_ = 0;
    std::vector<Slot> slots_;
    std::array<std::uint32_t, kMaxMembers> load_{};
};

// roundrobin: per-packet spray, weighted, deterministic. Per burst of n
// packets member m gets floor(n*w_m/W) or that plus one (so each burst is
// within one packet of the weighted share, never off by one or more); the
// "plus ones" go to the members furthest behind over all bursts so far, so
// the cumulative share stays within about one packet of w_m/W as well. The
// burst is laid out with smooth weighted round-robin over those counts
// (equal weights: a plain rotation carried across bursts).
class RoundRobin {
public:
    void assign(const BurstView& burst, const MemberView& view, std::uint8_t* out);
    // Forget the carried deficits (on a membership change).
    void reset();

private:
    std::array<std::int64_t, kMaxMembers> deficit_{}; // (exact - given) * W, per member
    std::uint8_t next_ = 0;                           // equal weights: rotation index into view.active
};

// flowcell (Presto): each flow — by its bucket, hash & (entries-1) — sends
// cells of `cell_bytes`; a packet that would overflow the current cell (which
// already holds bytes) starts the next cell, and each new cell goes to the
// next member of a weighted round-robin (smooth WRR over the up members,
// shared by all flows). A flow changes member only at a cell boundary, or
// when its member went down (then the packet starts a new cell at once).
// burst.bytes == nullptr: every packet counts as kFlowcellAssumedBytes.
inline constexpr std::uint32_t kFlowcellAssumedBytes = 1500;
class Flowcell {
public:
    // entries: power of two >= 1; cell_bytes >= 1. Throws std::invalid_argument.
    Flowcell(std::uint32_t entries, std::uint32_t cell_bytes);
    void assign(const BurstView& burst, const MemberView& view, std::uint8_t* out);
    // On a membership change: restart the member rotation.
    void reset();
    std::uint64_t cells() const { return cells_; }

private:
    std::uint8_t next_member(const MemberView& view);
    struct Entry {
        std::uint32_t bytes = 0; // in the current cell
        std::uint8_t member = kNoMember;
    };
    std::uint32_t mask_ = 0;
    std::uint32_t cell_bytes_ = 0;
    std::vector<Entry> entries_;
    std::array<std::int64_t, kMaxMembers> swrr_{};
    std::uint64_t cells_ = 0;
};

// active_backup: everything on the primary while it is up, otherwise on the
// lowest-numbered up member; back to the primary as soon as it is up again
// (fail-back). update() recomputes the transmitting member on a membership
// change. A failover is counted each time traffic moves to an up member other
// than the last one that carried it (failover, fail-back, and recovery after
// no member was up onto a different member; a lone member's flap counts 0).
class ActiveBackup {
public:
    explicit ActiveBackup(std::uint8_t primary) : primary_(primary) {}
    void update(const MemberView& view);
    void assign(const BurstView& burst, const MemberView& view, std::uint8_t* out) const;
    std::uint8_t current() const { return current_; }
    std::uint64_t failovers() const { return failovers_; }

private:
    std::uint8_t primary_ = 0;
    std::uint8_t current_ = kNoMember;
    std::uint8_t last_real_ = kNoMember; // last member that carried traffic
    std::uint64_t failovers_ = 0;
};

} // namespace flowteam::teaming
