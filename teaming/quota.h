// SPDX-License-Identifier: BSD-3-Clause
// flowteam — apportionment helpers shared by the indirection table, the
// roundrobin mode and the RSS RETA: split N slots by weight, then lay the
// slots out interleaved.
//
// Neither function allocates (callers pass scratch space), so they may run
// on a membership change inside a data-plane lcore.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowteam::teaming {

// Largest-remainder (Hamilton) apportionment of `total` slots in proportion
// to `weights[0..n)`: out[i] = floor(total*w_i/W), then one more slot to each
// of the (total - sum of floors) entries with the largest remainders (ties:
// lower index first). A zero weight gets zero slots; if every weight is zero
// every out[i] is zero. |out[i] - total*w_i/W| < 1 for every i.
// Preconditions: total * max(w) and sum(w) fit in 64 bits (always true for
// 32-bit weights, n <= 2^31 and total <= 2^31).
void largest_remainder(std::uint32_t total, const std::uint32_t* weights, std::size_t n,
                       std::uint32_t* out);

// Interleave: write sum(counts) indices to `out` so that index i appears
// exactly counts[i] times, spread evenly (smooth weighted round-robin over the
// counts; ties to the lower index). With equal counts this is 0,1,..,n-1,0,1..
// `scratch` must hold n entries. Returns the number of entries written.
std::size_t interleave(const std::uint32_t* counts, std::size_t n, std::int64_t* scratch,
                       std::uint32_t* out);

} // namespace flowteam::teaming
