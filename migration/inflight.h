// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the index of page copies in flight of one VM's migration, so
// that back-channel entries cost O(log n) whatever they say (issue #15).
//
// What it answers:
//   ack     (round, [first, end))          every copy of that round in the
//                                           range still in flight, any channel
//   request (round, channel, [first, last]) every copy of that round on that
//                                           channel in the range, still in flight
//                                           and not yet reported lost
// in O(log n + visited), where each visited copy leaves the set it was found
// in (acked copies leave both, reported copies leave the request set), so a
// copy costs O(1) amortised over its life and an entry that matches nothing
// costs a binary search: replaying a frame, or naming rounds or pages whose
// copies are gone, walks nothing.
//
// Layout. Copies are kept per channel, in the order the pre-copy pass hands
// them out: within one channel that order is ascending by (round, page)
// (rounds ascend, pages ascend within a pass), so each channel's run is a
// sorted array and a range is found by binary search. An ack names no
// channel: it is looked up in each channel (O(channels × log n)) or, when its
// range is shorter than that, page by page through `slot_of_page`.
// Removal is lazy: two union-find "next live slot" arrays (one for acks, one
// for requests) skip removed slots with path halving.
//
// Memory, allocated once: one arena of 2 × pages + channels × 64 slots
// (16 bytes each), split between channels. A page has one current copy, so at
// most `pages` slots are live; when a channel's share is full the arena is
// compacted in place (live slots packed, free room re-split evenly), which
// frees at least half of it: O(1) amortised per copy, no allocation.
//
// Not thread-safe. No allocation after construction.
#pragma once

#include <cstdint>
#include <vector>

namespace flowteam::migration {

class InflightIndex {
  public:
    static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

    InflightIndex() = default;
    InflightIndex(std::uint32_t pages, std::uint16_t channels);

    // A copy handed out: (round, page) must be >= the channel's last one
    // (ascending); the page's previous copy, if any, leaves the index.
    void add(std::uint32_t round, std::uint32_t page, std::uint16_t channel);
    // The page's current copy leaves the index (acknowledged).
    void remove(std::uint32_t page);
    // The page's current copy leaves the request set (reported lost).
    void remove_from_requests(std::uint32_t page);
    bool contains(std::uint32_t page) const { return slot_of_page_[page] != kNone; }

    // Calls f(page) for every copy of `round` with page in [first, end) in the
    // index; each one leaves the index. Returns the number visited.
    template <class F>
    std::uint32_t take_acked(std::uint32_t round, std::uint32_t first, std::uint32_t end, F&& f);
    // Calls f(page) -> bool for every copy of `round` on `channel` with page in
    // [first, last] still in the request set; each one leaves the request set
    // (f may also decide the copy is not lost: it leaves the set anyway).
    // Returns the number visited.
    template <class F>
    std::uint32_t take_requested(std::uint32_t round, std::uint16_t channel, std::uint32_t first,
                                 std::uint32_t last, F&& f);

    std::uint32_t live() const { return live_; }
    std::uint64_t compactions() const { return compactions_; }
    // add() calls refused because (round, page) was not ascending on its channel (never expected).
    std::uint64_t out_of_order() const { return out_of_order_; }
    std::uint32_t capacity() const { return static_cast<std::uint32_t>(key_.size()); }

  private:
    struct Region {
        std::uint32_t start = 0, len = 0, cap = 0;
    };
    static std::uint64_t key(std::uint32_t round, std::uint32_t page) {
        return (static_cast<std::uint64_t>(round) << 32) | page;
    }
    // First slot >= s of region r alive in `up` (or region end).
    std::uint32_t find(std::vector<std::uint32_t>& up, std::uint32_t s, std::uint32_t end);
    std::uint32_t lower_bound(const Region& r, std::uint64_t k) const;
    void kill(std::vector<std::uint32_t>& up, std::uint32_t s) { up[s] = s + 1; }
    void compact();

    std::uint32_t pages_ = 0;
    std::uint16_t channels_ = 0;
    std::vector<std::uint64_t> key_;    // (round << 32) | page per slot
    std::vector<std::uint32_t> up_ack_; // slot -> itself when live, else towards the next
    std::vector<std::uint32_t> up_req_;
    std::vector<std::uint32_t> slot_of_page_; // current copy's slot, kNone when not indexed
    std::vector<Region> regions_;             // per channel, in channel order in the arena
    std::vector<std::uint32_t> new_start_;    // compaction scratch, per channel
    std::uint32_t live_ = 0;
    std::uint64_t compactions_ = 0;
    std::uint64_t out_of_order_ = 0;
};

inline std::uint32_t InflightIndex::find(std::vector<std::uint32_t>& up, std::uint32_t s, std::uint32_t end) {
    while (s < end && up[s] != s) {
        const std::uint32_t n = up[s];
        if (n < end && up[n] != n) up[s] = up[n]; // path halving
        s = up[s];
    }
    return s < end ? s : end;
}

inline std::uint32_t InflightIndex::lower_bound(const Region& r, std::uint64_t k) const {
    std::uint32_t lo = r.start, hi = r.start + r.len;
    while (lo < hi) {
        const std::uint32_t mid = lo + (hi - lo) / 2;
        if (key_[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

template <class F>
std::uint32_t InflightIndex::take_acked(std::uint32_t round, std::uint32_t first, std::uint32_t end, F&& f) {
    if (first >= end || end > pages_) return 0;
    std::uint32_t visited = 0;
    if (end - first <= static_cast<std::uint32_t>(channels_) * 16u) {
        for (std::uint32_t p = first; p < end; ++p) {
            const std::uint32_t s = slot_of_page_[p];
            if (s == kNone || key_[s] != key(round, p)) continue;
            remove(p);
            f(p);
            ++visited;
        }
        return visited;
    }
    const std::uint64_t hi = key(round, end - 1);
    for (std::uint16_t c = 0; c < channels_; ++c) {
        const Region& r = regions_[c];
        const std::uint32_t e = r.start + r.len;
        for (std::uint32_t s = find(up_ack_, lower_bound(r, key(round, first)), e); s < e && key_[s] <= hi;
             s = find(up_ack_, s + 1, e)) {
            const std::uint32_t p = static_cast<std::uint32_t>(key_[s]);
            remove(p);
            f(p);
            ++visited;
        }
    }
    return visited;
}

template <class F>
std::uint32_t InflightIndex::take_requested(std::uint32_t round, std::uint16_t channel, std::uint32_t first,
                                            std::uint32_t last, F&& f) {
    if (channel >= channels_ || first > last || last >= pages_) return 0;
    const Region& r = regions_[channel];
    const std::uint32_t e = r.start + r.len;
    const std::uint64_t hi = key(round, last);
    std::uint32_t visited = 0;
    for (std::uint32_t s = find(up_req_, lower_bound(r, key(round, first)), e); s < e && key_[s] <= hi;
         s = find(up_req_, s + 1, e)) {
        kill(up_req_, s);
        f(static_cast<std::uint32_t>(key_[s]));
        ++visited;
    }
    return visited;
}

} // namespace flowteam::migration
