// SPDX-License-Identifier: BSD-3-Clause
// flowteam — fixed-bin log2 histogram: allocation-free, mergeable.
//
// Bin 0 holds the value 0; bin b (1 <= b < Bins-1) holds [2^(b-1), 2^b - 1];
// the last bin holds everything from 2^(Bins-2) up (overflow). So with
// Bins = 24 the exact bins reach 4,194,303 and larger values land in bin 23.
// count/sum/max are kept exactly, so mean() and max() are exact; percentiles
// are resolved to a bin (the answer is the bin's upper edge, clamped to max()).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace flowteam::measure {

template <std::size_t Bins>
struct Log2Histogram {
    static_assert(Bins >= 2 && Bins <= 65, "Log2Histogram: 2..65 bins");

    std::array<std::uint64_t, Bins> bins{};
    std::uint64_t count = 0;
    std::uint64_t sum = 0; // wraps after 2^64 (not a concern for packet counts)
    std::uint64_t max = 0;

    static constexpr std::size_t kBins = Bins;

    static constexpr std::size_t bin_of(std::uint64_t v) {
        const auto b = static_cast<std::size_t>(std::bit_width(v));
        return b < Bins - 1 ? b : Bins - 1;
    }
    // Smallest value that lands in bin b.
    static constexpr std::uint64_t bin_lower(std::size_t b) {
        return b == 0 ? 0 : (std::uint64_t{1} << (b - 1));
    }
    // Largest value that lands in bin b (UINT64_MAX for the overflow bin).
    static constexpr std::uint64_t bin_upper(std::size_t b) {
        if (b == 0) return 0;
        if (b >= Bins - 1 || b >= 64) return std::numeric_limits<std::uint64_t>::max();
        return (std::uint64_t{1} << b) - 1;
    }

    void add(std::uint64_t v, std::uint64_t n = 1) {
        bins[bin_of(v)] += n;
        count += n;
        sum += v * n;
        max = std::max(max, v);
    }

    void merge(const Log2Histogram& o) {
        for (std::size_t b = 0; b < Bins; ++b)
            bins[b] += o.bins[b];
        count += o.count;
        sum += o.sum;
        max = std::max(max, o.max);
    }

    double mean() const { return count == 0 ? 0.0 : static_cast<double>(sum) / static_cast<double>(count); }

    // Upper edge of the bin holding the p-quantile (0 <= p <= 1), clamped to
    // max(); 0 when empty. percentile(1.0) == max().
    std::uint64_t percentile(double p) const {
        if (count == 0) return 0;
        if (p <= 0.0) p = 0.0;
        if (p >= 1.0) return max;
        // Rank of the sample we look for, 1-based: ceil(p * count), at least 1.
        auto rank = static_cast<std::uint64_t>(p * static_cast<double>(count));
        if (static_cast<double>(rank) < p * static_cast<double>(count)) ++rank;
        if (rank == 0) rank = 1;
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < Bins; ++b) {
            seen += bins[b];
            if (seen >= rank) return std::min(bin_upper(b), max);
        }
        return max;
    }

    bool operator==(const Log2Histogram&) const = default;
};

} // namespace flowteam::measure
