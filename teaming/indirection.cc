// SPDX-License-Identifier: BSD-3-Clause
#include "teaming/indirection.h"

#include <stdexcept>
#include <string>

#include "teaming/quota.h"

namespace flowteam::teaming {

IndirectionTable::IndirectionTable(std::uint32_t buckets) {
    if (buckets < kMinBuckets || buckets > kMaxBuckets || (buckets & (buckets - 1)) != 0)
        throw std::invalid_argument("buckets: must be a power of two in " + std::to_string(kMinBuckets) + ".." +
                                    std::to_string(kMaxBuckets) + ", got " + std::to_string(buckets));
    mask_ = buckets - 1;
    table_.assign(buckets, kNoMember);
    home_.assign(buckets, kNoMember);
}

void IndirectionTable::compute_quotas(const MemberView& view) {
    std::uint32_t w[kMaxMembers] = {};
    for (std::uint8_t i = 0; i < view.n_members && i < kMaxMembers; ++i)
        w[i] = view.is_up(i) ? view.weight[i] : 0;
    largest_remainder(size(), w, kMaxMembers, quota_.data());
}

// Up member (other than `except`) with the largest deficit quota - count;
// ties to the lower index. kNoMember when no member is up.
std::uint8_t IndirectionTable::neediest(const MemberView& view, std::uint8_t except) const {
    std::uint8_t best = kNoMember;
    std::int64_t best_need = 0;
    for (std::uint8_t k = 0; k < view.n_active; ++k) {
        const std::uint8_t m = view.active[k];
        if (m == except) continue;
        const std::int64_t need = std::int64_t{quota_[m]} - std::int64_t{count_[m]};
        if (best == kNoMember || need > best_need) {
            best = m;
            best_need = need;
        }
    }
    return best;
}

void IndirectionTable::move(std::uint32_t bucket, std::uint8_t to) {
    const std::uint8_t from = table_[bucket];
    if (from < kMaxMembers) --count_[from];
    if (to < kMaxMembers) ++count_[to];
    table_[bucket] = to;
}

void IndirectionTable::build(const MemberView& view) {
    // Home layout: every configured member up.
    MemberView all = view;
    all.active_mask = 0;
    all.n_active = 0;
    for (std::uint8_t i = 0; i < view.n_members && i < kMaxMembers; ++i) {
        all.active_mask |= 1u << i;
        all.active[all.n_active++] = i;
    }
    compute_quotas(all);
    std::int64_t scratch[kMaxMembers];
    std::vector<std::uint32_t> order(size());
    interleave(quota_.data(), kMaxMembers, scratch, order.data());
    count_.fill(0);
    for (std::uint32_t b = 0; b < size(); ++b) {
        home_[b] = static_cast<std::uint8_t>(order[b]);
        table_[b] = home_[b];
        ++count_[home_[b]];
    }
    // Then the members that are down leave, one at a time.
    MemberView cur = all;
    for (std::uint8_t i = 0; i < view.n_members && i < kMaxMembers; ++i) {
        if (view.is_up(i)) continue;
        cur.active_mask &= ~(1u << i);
        cur.n_active = 0;
        for (std::uint8_t j = 0; j < cur.n_members; ++j)
            if ((cur.active_mask >> j) & 1u) cur.active[cur.n_active++] = j;
        member_down(i, cur);
    }
    compute_quotas(view);
}

std::uint32_t IndirectionTable::member_down(std::uint8_t member, const MemberView& view) {
    compute_quotas(view);
    std::uint32_t moved = 0;
    for (std::uint32_t b = 0; b < size(); ++b) {
        if (table_[b] != member) continue;
        const std::uint8_t to = neediest(view, member);
        move(b, to);
        if (to != kNoMember) ++moved;
    }
    return moved;
}

std::uint32_t IndirectionTable::member_up(std::uint8_t member, const MemberView& view) {
    compute_quotas(view);
    std::uint32_t moved = 0;
    // Buckets with no (up) owner: only when no member was up before.
    for (std::uint32_t b = 0; b < size(); ++b) {
        const std::uint8_t owner = table_[b];
        if (owner != kNoMember && view.is_up(owner)) continue;
        const bool counted = owner != kNoMember;
        move(b, neediest(view, kNoMember));
        if (counted) ++moved;
    }
    if (member >= kMaxMembers || !view.is_up(member)) return moved;
    auto excess = [&](std::uint8_t m) { return std::int64_t{count_[m]} - std::int64_t{quota_[m]}; };
    // Pass 1: home buckets held by members above quota.
    for (std::uint32_t b = 0; b < size() && count_[member] < quota_[member]; ++b) {
        const std::uint8_t owner = table_[b];
        if (home_[b] != member || owner == member || owner == kNoMember) continue;
        if (excess(owner) <= 0) continue;
        move(b, member);
        ++moved;
    }
    // Pass 2: buckets of the members furthest above quota.
    std::array<std::uint32_t, kMaxMembers> cursor{};
    while (count_[member] < quota_[member]) {
        std::uint8_t donor = kNoMember;
        std::int64_t best = 0;
        for (std::uint8_t k = 0; k < view.n_active; ++k) {
            const std::uint8_t m = view.active[k];
            if (m == member) continue;
            if (excess(m) > best) {
                best = excess(m);
                donor = m;
            }
        }
        if (donor == kNoMember) break;
        std::uint32_t& c = cursor[donor];
        while (c < size() && table_[c] != donor) ++c;
        if (c == size()) break; // cannot happen: a donor above quota owns buckets
        move(c, member);
        ++moved;
    }
    return moved;
}

} // namespace flowteam::teaming
