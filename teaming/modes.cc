// SPDX-License-Identifier: BSD-3-Clause
#include "teaming/modes.h"

#include <stdexcept>
#include <string>

#include "teaming/quota.h"

namespace flowteam::teaming {

namespace {
void fill(std::uint8_t* out, std::uint16_t n, std::uint8_t m) {
    for (std::uint16_t i = 0; i < n; ++i) out[i] = m;
}
} // namespace

// ---------------------------------------------------------------- hash

void assign_hash(const BurstView& burst, const IndirectionTable& table, std::uint8_t* out) {
    const std::uint8_t* t = table.data();
    const std::uint32_t mask = table.mask();
    const std::uint32_t* h = burst.hash;
    for (std::uint16_t i = 0; i < burst.n; ++i) out[i] = t[h[i] & mask];
}

// ---------------------------------------------------------------- vport

VportTable::VportTable(std::uint32_t capacity) {
    if (capacity == 0 || capacity > kMaxCapacity)
        throw std::invalid_argument("vport_slots: must be in 1.." + std::to_string(kMaxCapacity) + ", got " +
                                    std::to_string(capacity));
    capacity_ = capacity;
    std::uint32_t size = 2;
    while (size < 2 * capacity) size <<= 1;
    mask_ = size - 1;
    slots_.assign(size, Slot{});
}

std::uint8_t VportTable::least_loaded(const MemberView& view, std::uint8_t except) const {
    std::uint8_t best = kNoMember;
    for (std::uint8_t k = 0; k < view.n_active; ++k) {
        const std::uint8_t m = view.active[k];
        if (m == except) continue;
        if (best == kNoMember) {
            best = m;
            continue;
        }
        // load[m]/w[m] < load[best]/w[best], weights >= 1
        const std::uint64_t lhs = std::uint64_t{load_[m]} * (view.weight[best] ? view.weight[best] : 1u);
        const std::uint64_t rhs = std::uint64_t{load_[best]} * (view.weight[m] ? view.weight[m] : 1u);
        if (lhs < rhs) best = m;
    }
    return best;
}

std::uint8_t VportTable::lookup_or_pin(std::uint32_t vport, const MemberView& view,
                                       const IndirectionTable& fallback, std::uint64_t& overflow) {
    const std::uint32_t h = mix32(vport);
    for (std::uint32_t p = 0; p < kVportMaxProbe; ++p) {
        Slot& s = slots_[(h + p) & mask_];
        if (s.used != 0) {
            if (s.key != vport) continue;
            if (!view.is_up(s.member)) {
                // Pinned to nothing (no member was up when its member left).
                const std::uint8_t m = least_loaded(view, kNoMember);
                if (m == kNoMember) return kNoMember;
                if (s.member < kMaxMembers) --load_[s.member];
                s.member = m;
                ++load_[m];
            }
            return s.member;
        }
        // Empty slot: the vport is not pinned yet.
        if (used_ >= capacity_) break;
        const std::uint8_t m = least_loaded(view, kNoMember);
        if (m == kNoMember) return kNoMember;
        s.key = vport;
        s.member = m;
        s.used = 1;
        ++used_;
        ++load_[m];
        return m;
    }
    ++overflow;
    return fallback.lookup(mix32(vport));
}

void VportTable::assign(const BurstView& burst, const MemberView& view, const IndirectionTable& fallback,
                        std::uint8_t* out, std::uint64_t& overflow) {
    if (view.n_active == 0) {
        fill(out, burst.n, kNoMember);
        return;
    }
    const std::uint32_t* keys = burst.vport != nullptr ? burst.vport : burst.hash;
    // Consecutive packets of one vport (the common case: a VM's burst) reuse
    // the previous answer, overflow included.
    std::uint32_t prev_key = 0;
    std::uint8_t prev_member = kNoMember;
    std::uint64_t prev_overflow = 0;
    bool have_prev = false;
    for (std::uint16_t i = 0; i < burst.n; ++i) {
        const std::uint32_t key = keys[i];
        if (have_prev && key == prev_key) {
            out[i] = prev_member;
            overflow += prev_overflow;
            continue;
        }
        const std::uint64_t before = overflow;
        out[i] = lookup_or_pin(key, view, fallback, overflow);
        prev_key = key;
        prev_member = out[i];
        prev_overflow = overflow - before;
        have_prev = true;
    }
}

std::uint32_t VportTable::member_down(std::uint8_t member, const MemberView& view) {
    std::uint32_t moved = 0;
    for (Slot& s : slots_) {
        if (s.used == 0 || s.member != member) continue;
        if (member < kMaxMembers) --load_[member];
        const std::uint8_t to = least_loaded(view, member);
        s.member = to;
        if (to != kNoMember) {
            ++load_[to];
            ++moved;
        }
    }
    return moved;
}

std::uint32_t VportTable::rebalance(const MemberView& view) {
    std::uint32_t w[kMaxMembers] = {};
    std::uint32_t total = 0;
    for (std::uint8_t k = 0; k < view.n_active; ++k) {
        const std::uint8_t m = view.active[k];
        w[m] = view.weight[m] ? view.weight[m] : 1u;
        total += load_[m];
    }
    std::uint32_t target[kMaxMembers] = {};
    largest_remainder(total, w, kMaxMembers, target);
    std::uint32_t moved = 0;
    for (Slot& s : slots_) {
        if (s.used == 0 || s.member >= kMaxMembers || !view.is_up(s.member)) continue;
        if (load_[s.member] <= target[s.member]) continue;
        std::uint8_t to = kNoMember;
        std::int64_t need = 0;
        for (std::uint8_t k = 0; k < view.n_active; ++k) {
            const std::uint8_t m = view.active[k];
            const std::int64_t d = std::int64_t{target[m]} - std::int64_t{load_[m]};
            if (d > need) {
                need = d;
                to = m;
            }
        }
        if (to == kNoMember) break;
        --load_[s.member];
        s.member = to;
        ++load_[to];
        ++moved;
    }
    return moved;
}

std::uint8_t VportTable::pinned_member(std::uint32_t vport) const {
    const std::uint32_t h = mix32(vport);
    for (std::uint32_t p = 0; p < kVportMaxProbe; ++p) {
        const Slot& s = slots_[(h + p) & mask_];
        if (s.used == 0) return kNoMember;
        if (s.key == vport) return s.member;
    }
    return kNoMember;
}

// ---------------------------------------------------------------- roundrobin

void RoundRobin::reset() {
    deficit_.fill(0);
    next_ = 0;
}

void RoundRobin::assign(const BurstView& burst, const MemberView& view, std::uint8_t* out) {
    const std::uint8_t na = view.n_active;
    const std::uint16_t n = burst.n;
    if (na == 0) {
        fill(out, n, kNoMember);
        return;
    }
    bool equal = true;
    std::uint64_t wsum = 0;
    std::uint64_t w[kMaxMembers];
    for (std::uint8_t k = 0; k < na; ++k) {
        w[k] = view.weight[view.active[k]] ? view.weight[view.active[k]] : 1u;
        wsum += w[k];
        equal = equal && w[k] == w[0];
    }
    if (equal) {
        std::uint8_t next = next_ < na ? next_ : 0;
        for (std::uint16_t i = 0; i < n; ++i) {
            out[i] = view.active[next];
            if (++next == na) next = 0;
        }
        next_ = next;
        return;
    }
    // Per-burst counts: floor(n*w/W), plus one for the members (with a
    // non-zero remainder) that are furthest behind.
    std::int64_t share[kMaxMembers];   // n*w (units of 1/W packets)
    std::int64_t key[kMaxMembers];     // deficit + remainder (who gets a plus one)
    std::uint32_t count[kMaxMembers];
    bool plus[kMaxMembers];
    std::uint32_t given = 0;
    for (std::uint8_t k = 0; k < na; ++k) {
        share[k] = static_cast<std::int64_t>(n * w[k]);
        count[k] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(share[k]) / wsum);
        const std::int64_t rem = share[k] - static_cast<std::int64_t>(count[k] * wsum);
        key[k] = deficit_[view.active[k]] + rem;
        plus[k] = rem == 0; // members without a remainder are not eligible
        given += count[k];
    }
    for (std::uint32_t extra = n - given; extra > 0; --extra) {
        std::uint8_t best = kNoMember;
        for (std::uint8_t k = 0; k < na; ++k)
            if (!plus[k] && (best == kNoMember || key[k] > key[best])) best = k;
        if (best == kNoMember) break; // cannot happen (more remainders than extras)
        plus[best] = true;
        ++count[best];
    }
    for (std::uint8_t k = 0; k < na; ++k)
        deficit_[view.active[k]] += share[k] - static_cast<std::int64_t>(count[k] * wsum);
    // Smooth WRR over the counts inside the burst (members with a zero
    // count compacted out; branch-free max).
    std::uint8_t idx[kMaxMembers];
    std::int32_t cnt[kMaxMembers];
    std::int32_t cur[kMaxMembers];
    std::uint8_t nz = 0;
    for (std::uint8_t k = 0; k < na; ++k) {
        if (count[k] == 0) continue;
        idx[nz] = view.active[k];
        cnt[nz] = static_cast<std::int32_t>(count[k]);
        cur[nz] = 0;
        ++nz;
    }
    const std::int32_t total = n;
    for (std::uint16_t i = 0; i < n; ++i) {
        std::uint8_t best = 0;
        cur[0] += cnt[0];
        for (std::uint8_t k = 1; k < nz; ++k) {
            cur[k] += cnt[k];
            best = cur[k] > cur[best] ? k : best;
        }
        cur[best] -= total;
        out[i] = idx[best];
    }
}

// ---------------------------------------------------------------- flowcell

Flowcell::Flowcell(std::uint32_t entries, std::uint32_t cell_bytes) {
    if (entries == 0 || (entries & (entries - 1)) != 0)
        throw std::invalid_argument("buckets: flowcell entries must be a power of two, got " +
                                    std::to_string(entries));
    if (cell_bytes == 0) throw std::invalid_argument("flowcell_bytes: must be >= 1, got 0");
    mask_ = entries - 1;
    cell_bytes_ = cell_bytes;
    entries_.assign(entries, Entry{});
}

void Flowcell::reset() { swrr_.fill(0); }

std::uint8_t Flowcell::next_member(const MemberView& view) {
    std::int64_t wsum = 0;
    std::uint8_t best = kNoMember;
    for (std::uint8_t k = 0; k < view.n_active; ++k) {
        const std::uint8_t m = view.active[k];
        const std::int64_t w = view.weight[m] ? view.weight[m] : 1;
        wsum += w;
        swrr_[m] += w;
        if (best == kNoMember || swrr_[m] > swrr_[best]) best = m;
    }
    if (best != kNoMember) swrr_[best] -= wsum;
    return best;
}

void Flowcell::assign(const BurstView& burst, const MemberView& view, std::uint8_t* out) {
    if (view.n_active == 0) {
        fill(out, burst.n, kNoMember);
        return;
    }
    const std::uint32_t* bytes = burst.bytes;
    for (std::uint16_t i = 0; i < burst.n; ++i) {
        Entry& e = entries_[burst.hash[i] & mask_];
        const std::uint32_t b = bytes != nullptr ? bytes[i] : kFlowcellAssumedBytes;
        if (e.member == kNoMember || !view.is_up(e.member) ||
            (e.bytes != 0 && std::uint64_t{e.bytes} + b > cell_bytes_)) {
            e.member = next_member(view);
            e.bytes = 0;
            ++cells_;
        }
        e.bytes = static_cast<std::uint32_t>(std::uint64_t{e.bytes} + b > 0xFFFF'FFFFu ? 0xFFFF'FFFFu
                                                                                     : e.bytes + b);
        out[i] = e.member;
    }
}

// ---------------------------------------------------------------- active-backup

void ActiveBackup::update(const MemberView& view) {
    const std::uint8_t next =
        view.is_up(primary_) ? primary_ : (view.n_active > 0 ? view.active[0] : kNoMember);
    if (next != kNoMember) {
        if (last_real_ != kNoMember && next != last_real_) ++failovers_;
        last_real_ = next;
    }
    current_ = next;
}

void ActiveBackup::assign(const BurstView& burst, const MemberView& view, std::uint8_t* out) const {
    std::uint8_t m = current_;
    if (!view.is_up(m)) // update() not called since a change: never hand out a down member
        m = view.is_up(primary_) ? primary_ : (view.n_active > 0 ? view.active[0] : kNoMember);
    fill(out, burst.n, m);
}

} // namespace flowteam::teaming
