// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the configured members of a team and the MemberView the modes
// read (dense list of up members, mask, weights).
#pragma once

#include <cstdint>

#include "common/types.h"

namespace flowteam::teaming {

// Weights, one per member. Rule:
//   - every MemberInfo::weight left at the default 1 (or every one 0): the
//     weights are derived from capacity_bps — capacity in Mb/s (at least 1),
//     divided by the gcd of all of them (10G + 1G -> 10 : 1, 25G + 10G -> 5 : 2);
//   - otherwise the weights are used as given and each must be >= 1.
// Throws std::invalid_argument on a zero capacity (when deriving) or a zero
// weight (when given).
void derive_weights(const MemberInfo* members, std::uint8_t n, std::uint32_t* out);

class MemberSet {
public:
    MemberSet() = default;
    // 1..kMaxMembers members. Throws std::invalid_argument (one line, naming
    // the field) on a bad count, capacity or weight.
    MemberSet(const MemberInfo* members, std::uint8_t n);

    // Link state change. Returns true when the state actually changed.
    // Throws std::invalid_argument when `member` is not a configured member.
    bool set_up(std::uint8_t member, bool up);

    const MemberView& view() const { return view_; }
    std::uint8_t size() const { return view_.n_members; }
    bool is_up(std::uint8_t member) const { return view_.is_up(member); }

private:
    void rebuild_active();
    MemberView view_{};
};

} // namespace flowteam::teaming
