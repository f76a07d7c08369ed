// SPDX-License-Identifier: BSD-3-Clause
// flowteam — flow completion time: histogram and per-bucket totals.
#include "measure/fct.h"

#include <algorithm>

namespace flowteam::measure {

const char* fct_bucket_name(std::size_t bucket) {
    switch (bucket) {
    case 0: return "<100KB";
    case 1: return "100KB-10MB";
    default: return ">10MB";
    }
}

const char* fct_bucket_key(std::size_t bucket) {
    switch (bucket) {
    case 0: return "small";
    case 1: return "medium";
    default: return "large";
    }
}

void FctHistogram::merge(const FctHistogram& o) noexcept {
    if (o.count == 0) return;
    for (std::size_t b = 0; b < kBins; ++b) bins[b] += o.bins[b];
    min = count == 0 ? o.min : std::min(min, o.min);
    max = std::max(max, o.max);
    count += o.count;
    sum += o.sum;
}

std::uint64_t FctHistogram::percentile(double p) const {
    if (count == 0) return 0;
    if (p <= 0.0) return min;
    if (p >= 1.0) return max;
    const double want = p * static_cast<double>(count);
    auto rank = static_cast<std::uint64_t>(want);
    if (static_cast<double>(rank) < want) ++rank;
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBins; ++b) {
        seen += bins[b];
        if (seen >= rank) return std::clamp(bin_upper(b), min, max);
    }
    return max;
}

void FctStats::merge(const FctStats& o) noexcept {
    for (std::size_t b = 0; b < kFctBuckets; ++b) {
        done[b].merge(o.done[b]);
        incomplete[b] += o.incomplete[b];
    }
    unbounded += o.unbounded;
}

std::uint64_t FctStats::completed() const {
    std::uint64_t n = 0;
    for (const auto& h : done) n += h.count;
    return n;
}

std::uint64_t FctStats::incomplete_total() const {
    std::uint64_t n = 0;
    for (auto v : incomplete) n += v;
    return n;
}

FctHistogram FctStats::all() const {
    FctHistogram h;
    for (const auto& d : done) h.merge(d);
    return h;
}

} // namespace flowteam::measure
