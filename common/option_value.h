// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the one parser for option values: counts, sizes, rates,
// durations and real numbers, as given on a command line, in an INI --config
// or in a scenario file. DPDK-free and Boost-free (apps/cli.h plugs it into
// Boost.Program_options).
//
// Every function either returns a value that is exactly what the text says
// (no NaN, no infinity unless asked for, no sign on an unsigned value, no
// overflow, no silent truncation to a narrower type, no fraction dropped) or
// throws OptionError with one line: "<option>: '<text>' <what is wrong>
// (allowed: <what is allowed>)". The text is quoted with quote(): at most 48
// characters, control and non-ASCII bytes escaped, so garbage never spreads
// over several lines.
//
// Units:
//   sizes/counts  K M G T: powers of 1000, or of 1024 where the option says
//                 so (SizeSpec::k_binary); KiB MiB GiB TiB (also Ki Mi Gi
//                 Ti): always powers of 1024; an optional trailing B ("64KB",
//                 "1MiB"). A fraction is allowed when the product is whole
//                 ("1.5K" = 1500, "1.5" is refused).
//   rates         bit/s: K M G T (powers of 1000), optional "bps" ("10Gbps").
//   durations     ns us ms s; a bare "0"; "inf" / "infinite" / "none" only
//                 where DurationSpec::allow_inf (returns kInfiniteNs).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flowteam::opt {

// A bad option value: what() is the whole one-line message.
struct OptionError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// 'text' for a message: at most 48 characters (then "..."), bytes outside
// printable ASCII as \xNN.
std::string quote(std::string_view text);

// True when `text` is valid UTF-8 (no overlong forms, no surrogates).
bool is_utf8(std::string_view text);

// A non-negative integer: decimal digits only, lo..hi.
std::uint64_t parse_uint(const std::string& option, std::string_view text, std::uint64_t lo = 0,
                         std::uint64_t hi = UINT64_MAX);

struct SizeSpec {
    std::uint64_t lo = 0;
    std::uint64_t hi = UINT64_MAX;
    bool k_binary = false;        // K M G T mean powers of 1024 (KiB... always do)
    bool bytes = false;           // a byte size: say "bytes" in messages
};
std::uint64_t parse_size(const std::string& option, std::string_view text, const SizeSpec& spec);

// Bits per second, lo..hi (default 1 Kb/s .. 10 Tb/s).
std::uint64_t parse_rate_bps(const std::string& option, std::string_view text, std::uint64_t lo = 1000,
                             std::uint64_t hi = 10'000'000'000'000ull);

inline constexpr std::uint64_t kInfiniteNs = UINT64_MAX;
inline constexpr std::uint64_t kMaxDurationNs = 1'000'000'000'000'000ull; // 1e6 s (~11.6 days)

struct DurationSpec {
    std::uint64_t lo = 0;
    std::uint64_t hi = kMaxDurationNs;
    bool allow_inf = false;       // "inf", "infinite", "none" → kInfiniteNs
};
// Rounded to the nearest nanosecond ("1.5ns" = 2 ns).
std::uint64_t parse_duration_ns(const std::string& option, std::string_view text, const DurationSpec& spec = {});

// A finite real number (decimal or exponent form), lo..hi.
double parse_real(const std::string& option, std::string_view text, double lo, double hi);

// For messages: 1500 → "1500", 2000000000 → "2s" when exact, etc.
std::string format_duration(std::uint64_t ns);
std::string format_real(double v);

} // namespace flowteam::opt
