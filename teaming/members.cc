// SPDX-License-Identifier: BSD-3-Clause
#include "teaming/members.h"

#include <numeric>
#include <stdexcept>
#include <string>

namespace flowteam::teaming {

namespace {
std::string member_field(std::uint8_t i, const char* field) {
    return "members[" + std::to_string(i) + "]." + field;
}
} // namespace

void derive_weights(const MemberInfo* members, std::uint8_t n, std::uint32_t* out) {
    bool all_one = true, all_zero = true;
    for (std::uint8_t i = 0; i < n; ++i) {
        all_one = all_one && members[i].weight == 1;
        all_zero = all_zero && members[i].weight == 0;
    }
    if (!all_one && !all_zero) {
        for (std::uint8_t i = 0; i < n; ++i) {
            if (members[i].weight == 0)
                throw std::invalid_argument(member_field(i, "weight") +
                                            ": must be >= 1 when weights are given (leave every weight at 1 "
                                            "to derive them from capacity_bps)");
            out[i] = members[i].weight;
        }
        return;
    }
    std::uint64_t g = 0;
    std::uint64_t mbps[kMaxMembers] = {};
    for (std::uint8_t i = 0; i < n; ++i) {
        if (members[i].capacity_bps == 0)
            throw std::invalid_argument(member_field(i, "capacity_bps") +
                                        ": must be > 0 (weights are derived from it)");
        mbps[i] = members[i].capacity_bps / 1'000'000u;
        if (mbps[i] == 0) mbps[i] = 1;
        g = std::gcd(g, mbps[i]);
    }
    for (std::uint8_t i = 0; i < n; ++i) {
        const std::uint64_t w = mbps[i] / g;
        if (w > 0xFFFF'FFFFu)
            throw std::invalid_argument(member_field(i, "capacity_bps") +
                                        ": derived weight overflows 32 bits (capacities too far apart)");
        out[i] = static_cast<std::uint32_t>(w);
    }
}

MemberSet::MemberSet(const MemberInfo* members, std::uint8_t n) {
    if (n == 0 || n > kMaxMembers)
        throw std::invalid_argument("members: need 1.." + std::to_string(kMaxMembers) + " members, got " +
                                    std::to_string(n));
    if (members == nullptr) throw std::invalid_argument("members: null member list");
    std::uint32_t w[kMaxMembers] = {};
    derive_weights(members, n, w);
    view_ = MemberView{};
    view_.n_members = n;
    for (std::uint8_t i = 0; i < n; ++i) {
        view_.weight[i] = w[i];
        view_.capacity_bps[i] = members[i].capacity_bps;
        if (members[i].up) view_.active_mask |= 1u << i;
    }
    rebuild_active();
}

bool MemberSet::set_up(std::uint8_t member, bool up) {
    if (member >= view_.n_members)
        throw std::invalid_argument("member: " + std::to_string(member) + " is not a configured member (0.." +
                                    std::to_string(int{view_.n_members} - 1) + ")");
    if (view_.is_up(member) == up) return false;
    if (up)
        view_.active_mask |= 1u << member;
    else
        view_.active_mask &= ~(1u << member);
    rebuild_active();
    return true;
}

void MemberSet::rebuild_active() {
    view_.n_active = 0;
    view_.active.fill(0);
    for (std::uint8_t i = 0; i < view_.n_members; ++i)
        if ((view_.active_mask >> i) & 1u) view_.active[view_.n_active++] = i;
}

} // namespace flowteam::teaming
