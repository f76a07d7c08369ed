// SPDX-License-Identifier: BSD-3-Clause
#include "migration/inflight.h"

#include <algorithm>
#include <stdexcept>

namespace flowteam::migration {

namespace {
constexpr std::uint32_t kSlack = 64; // per channel, on top of 2 × pages
} // namespace

InflightIndex::InflightIndex(std::uint32_t pages, std::uint16_t channels)
    : pages_(pages), channels_(channels) {
    if (channels == 0) throw std::invalid_argument("migration in-flight index: channels must be >= 1");
    const std::uint64_t cap = 2ull * pages + static_cast<std::uint64_t>(channels) * kSlack;
    if (cap >= kNone) throw std::invalid_argument("migration in-flight index: too many pages");
    key_.assign(cap, 0);
    up_ack_.resize(cap);
    up_req_.resize(cap);
    for (std::uint32_t s = 0; s < cap; ++s)
        up_ack_[s] = up_req_[s] = s;
    slot_of_page_.assign(pages, kNone);
    regions_.resize(channels);
    new_start_.assign(channels, 0);
    const std::uint32_t share = static_cast<std::uint32_t>(cap / channels);
    for (std::uint16_t c = 0; c < channels; ++c) {
        regions_[c].start = c * share;
        regions_[c].cap = c + 1u == channels ? static_cast<std::uint32_t>(cap) - c * share : share;
    }
}

void InflightIndex::remove(std::uint32_t page) {
    const std::uint32_t s = slot_of_page_[page];
    if (s == kNone) return;
    kill(up_ack_, s);
    kill(up_req_, s);
    slot_of_page_[page] = kNone;
    --live_;
}

void InflightIndex::remove_from_requests(std::uint32_t page) {
    const std::uint32_t s = slot_of_page_[page];
    if (s != kNone) kill(up_req_, s);
}

void InflightIndex::add(std::uint32_t round, std::uint32_t page, std::uint16_t channel) {
    if (page >= pages_ || channel >= channels_) return;
    remove(page);
    const std::uint64_t k = key(round, page);
    if (regions_[channel].len != 0 && key_[regions_[channel].start + regions_[channel].len - 1] >= k) {
        ++out_of_order_;
        return;
    }
    if (regions_[channel].len == regions_[channel].cap) compact();
    Region& r = regions_[channel];
    const std::uint32_t s = r.start + r.len++;
    key_[s] = k;
    up_ack_[s] = s;
    up_req_[s] = s;
    slot_of_page_[page] = s;
    ++live_;
}

// Packs each region's live slots to its front, then moves the regions so the
// free room is split evenly (in place: regions moving down are moved in
// ascending order, regions moving up in descending order, so none overwrites
// another's slots still to be moved).
void InflightIndex::compact() {
    ++compactions_;
    const std::uint32_t cap = static_cast<std::uint32_t>(key_.size());
    // 1. pack live slots (live in the ack set) to the front of each region
    for (Region& r : regions_) {
        std::uint32_t w = r.start;
        for (std::uint32_t s = r.start; s < r.start + r.len; ++s) {
            if (up_ack_[s] != s) continue;
            const bool req = up_req_[s] == s;
            key_[w] = key_[s];
            up_req_[w] = req ? w : w + 1;
            ++w;
        }
        r.len = w - r.start;
    }
    // 2. new starts: each region gets its live slots plus an even share of the free room
    const std::uint32_t share = (cap - live_) / channels_;
    std::uint32_t at = 0;
    for (std::uint16_t c = 0; c < channels_; ++c) {
        new_start_[c] = at;
        at += regions_[c].len + share;
    }
    // 3. move: downward ones ascending, upward ones descending
    auto move = [&](Region& r, std::uint32_t ns) {
        if (ns < r.start) {
            for (std::uint32_t i = 0; i < r.len; ++i) {
                key_[ns + i] = key_[r.start + i];
                up_req_[ns + i] = up_req_[r.start + i] == r.start + i ? ns + i : ns + i + 1;
            }
        } else if (ns > r.start) {
            for (std::uint32_t i = r.len; i-- > 0;) {
                key_[ns + i] = key_[r.start + i];
                up_req_[ns + i] = up_req_[r.start + i] == r.start + i ? ns + i : ns + i + 1;
            }
        }
        r.start = ns;
    };
    for (std::uint16_t c = 0; c < channels_; ++c)
        if (new_start_[c] < regions_[c].start) move(regions_[c], new_start_[c]);
    for (std::uint16_t c = channels_; c-- > 0;)
        if (new_start_[c] > regions_[c].start) move(regions_[c], new_start_[c]);
    // 4. capacities, fresh links for free slots, page -> slot
    for (std::uint16_t c = 0; c < channels_; ++c) {
        Region& r = regions_[c];
        r.cap = (c + 1u == channels_ ? cap : new_start_[c + 1]) - r.start;
        for (std::uint32_t s = r.start; s < r.start + r.cap; ++s) {
            up_ack_[s] = s;
            if (s >= r.start + r.len)
                up_req_[s] = s;
            else
                slot_of_page_[static_cast<std::uint32_t>(key_[s])] = s;
        }
    }
}

} // namespace flowteam::migration
