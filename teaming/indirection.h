// SPDX-License-Identifier: BSD-3-Clause
// flowteam — stable indirection table: flow hash -> bucket (hash & mask) ->
// member.
//
// Unlike `hash % n_active` (DPDK net_bond, Linux bonding), a membership change
// moves only the buckets that must move:
//   - member leaves: only its buckets move, each to the remaining member
//     furthest below its weighted quota (so they spread by weight);
//   - member joins: it takes its quota, first the buckets it owned in the
//     original layout ("home" buckets, so a down/up flap restores the exact
//     layout), then buckets of the members furthest above quota. Nothing else
//     moves.
// Quotas are largest-remainder shares of the buckets by weight over the up
// members (|quota - buckets*w/W| < 1). A member whose share is below one
// bucket may own none.
//
// Lookup is one AND and one byte load. Membership changes are O(buckets),
// allocate nothing, and are not meant for the per-packet path.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/types.h"

namespace flowteam::teaming {

inline constexpr std::uint32_t kMaxBuckets = 1u << 20;

class IndirectionTable {
public:
    // `buckets`: power of two, kMinBuckets..kMaxBuckets. Throws
    // std::invalid_argument otherwise. The table starts with every bucket
    // unowned (kNoMember) until build().
    explicit IndirectionTable(std::uint32_t buckets = kDefaultBuckets);

    // Lay the table out from scratch: the home layout is computed as if every
    // configured member were up (quotas by weight, interleaved), then the
    // members that are down in `view` leave. Returns nothing moved (initial).
    void build(const MemberView& view);

    // `member` went down; `view` is the view after the change. Returns the
    // number of buckets moved (to another member).
    std::uint32_t member_down(std::uint8_t member, const MemberView& view);
    // `member` came up; `view` is the view after the change. Returns the
    // number of buckets moved to it (buckets that were unowned because no
    // member was up are taken without counting as moves).
    std::uint32_t member_up(std::uint8_t member, const MemberView& view);

    std::uint8_t lookup(std::uint32_t hash) const { return table_[hash & mask_]; }
    std::uint32_t bucket_of(std::uint32_t hash) const { return hash & mask_; }

    std::uint32_t size() const { return mask_ + 1; }
    std::uint32_t mask() const { return mask_; }
    const std::uint8_t* data() const { return table_.data(); }
    std::uint32_t count(std::uint8_t member) const { return member < kMaxMembers ? count_[member] : 0; }
    // Quota of each member under the view of the last build/change.
    std::uint32_t quota(std::uint8_t member) const { return member < kMaxMembers ? quota_[member] : 0; }

private:
    void compute_quotas(const MemberView& view);
    std::uint8_t neediest(const MemberView& view, std::uint8_t except) const;
    void move(std::uint32_t bucket, std::uint8_t to);

    std::uint32_t mask_ = 0;
    std::vector<std::uint8_t> table_;
    std::vector<std::uint8_t> home_;   // layout with every member up
    std::array<std::uint32_t, kMaxMembers> count_{};
    std::array<std::uint32_t, kMaxMembers> quota_{};
};

} // namespace flowteam::teaming
