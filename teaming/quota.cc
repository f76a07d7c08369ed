// SPDX-License-Identifier: BSD-3-Clause
#include "teaming/quota.h"

namespace flowteam::teaming {

void largest_remainder(std::uint32_t total, const std::uint32_t* weights, std::size_t n,
                       std::uint32_t* out) {
    std::uint64_t wsum = 0;
    for (std::size_t i = 0; i < n; ++i) wsum += weights[i];
    if (wsum == 0) {
        for (std::size_t i = 0; i < n; ++i) out[i] = 0;
        return;
    }
    std::uint64_t given = 0;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<std::uint32_t>(std::uint64_t{total} * weights[i] / wsum);
        given += out[i];
    }
    // Hand out the leftovers to the largest remainders, in (remainder desc,
    // index asc) order, without scratch space: each round picks the best
    // entry that ranks strictly after the previous pick.
    std::uint64_t left = total - given; // < n
    bool have_prev = false;
    std::uint64_t prev_rem = 0;
    std::size_t prev_idx = 0;
    while (left > 0) {
        bool found = false;
        std::uint64_t best_rem = 0;
        std::size_t best_idx = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (weights[i] == 0) continue;
            const std::uint64_t rem = std::uint64_t{total} * weights[i] % wsum;
            // Must rank strictly after the previous pick.
            if (have_prev && (rem > prev_rem || (rem == prev_rem && i <= prev_idx))) continue;
            if (!found || rem > best_rem) {
                found = true;
                best_rem = rem;
                best_idx = i;
            }
        }
        if (!found) break; // cannot happen: more non-zero weights than leftovers
        ++out[best_idx];
        --left;
        have_prev = true;
        prev_rem = best_rem;
        prev_idx = best_idx;
    }
}

std::size_t interleave(const std::uint32_t* counts, std::size_t n, std::int64_t* scratch,
                       std::uint32_t* out) {
    std::int64_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        scratch[i] = 0;
        total += counts[i];
    }
    for (std::int64_t k = 0; k < total; ++k) {
        std::size_t best = 0;
        bool found = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (counts[i] == 0) continue;
            scratch[i] += counts[i];
            if (!found || scratch[i] > scratch[best]) {
                best = i;
                found = true;
            }
        }
        scratch[best] -= total;
        out[k] = static_cast<std::uint32_t>(best);
    }
    return static_cast<std::size_t>(total);
}

} // namespace flowteam::teaming
