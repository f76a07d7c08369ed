// SPDX-License-Identifier: BSD-3-Clause
#include "common/option_value.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

namespace flowteam::opt {
namespace {

__extension__ typedef unsigned __int128 u128;

constexpr unsigned kMaxDigits = 36; // 10^36 < 2^128 / 2^8

u128 pow10(unsigned n) {
    u128 p = 1;
    for (unsigned i = 0; i < n; ++i) p *= 10;
    return p;
}

std::string lower(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

std::string u64s(std::uint64_t v) { return std::to_string(v); }

// "<digits>[.<digits>]<suffix>", no sign, no exponent: kept exactly as mant / 10^scale.
struct Decimal {
    bool negative = false;
    bool has_sign = false;
    u128 mant = 0;
    unsigned scale = 0;      // digits after the point kept in mant
    bool too_long = false;   // more integer digits than fit
    bool inexact = false;    // non-zero fraction digits beyond kMaxDigits dropped
    std::string_view suffix;
};

std::optional<Decimal> split_decimal(std::string_view s) {
    Decimal d;
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        d.has_sign = true;
        d.negative = s[i] == '-';
        ++i;
    }
    unsigned digits = 0, int_digits = 0;
    bool point = false, any = false;
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '.' && !point) {
            point = true;
            continue;
        }
        if (c < '0' || c > '9') break;
        any = true;
        if (!point) {
            if (d.mant == 0 && c == '0') continue;   // leading zeros
            if (++int_digits > kMaxDigits) {
                d.too_long = true;
                continue;
            }
            d.mant = d.mant * 10 + static_cast<unsigned>(c - '0');
            ++digits;
        } else {
            if (digits >= kMaxDigits) {
                if (c != '0') d.inexact = true;
                continue;
            }
            d.mant = d.mant * 10 + static_cast<unsigned>(c - '0');
            if (d.mant != 0) ++digits;
            ++d.scale;
        }
    }
    if (!any) return std::nullopt;
    d.suffix = s.substr(i);
    return d;
}

[[noreturn]] void fail(const std::string& option, std::string_view text, const std::string& what,
                       const std::string& allowed) {
    throw OptionError(option + ": " + quote(text) + " " + what + " (allowed: " + allowed + ")");
}

std::string range_text(std::uint64_t lo, std::uint64_t hi, const char* unit = "") {
    return u64s(lo) + ".." + u64s(hi) + unit;
}

// mant / 10^scale * mult: the exact product, its remainder, or nullopt on overflow.
struct Product {
    std::uint64_t whole = 0;
    bool remainder = false;      // a fraction below 1 is left
    bool round_up = false;       // that fraction is >= 1/2
};
std::optional<Product> scale_by(const Decimal& d, std::uint64_t mult) {
    if (d.too_long) return std::nullopt;
    u128 p = 0;
    if (__builtin_mul_overflow(d.mant, static_cast<u128>(mult), &p)) return std::nullopt;
    const u128 div = pow10(d.scale);
    const u128 q = p / div, r = p % div;
    if (q > UINT64_MAX) return std::nullopt;
    Product out;
    out.whole = static_cast<std::uint64_t>(q);
    out.remainder = r != 0 || d.inexact;
    out.round_up = r * 2 >= div && r != 0;
    return out;
}

} // namespace

std::string quote(std::string_view text) {
    std::string o = "'";
    std::size_t n = 0;
    for (unsigned char c : text) {
        if (n++ == 48) {
            o += "...";
            break;
        }
        if (c >= 0x20 && c < 0x7f) {
            o += static_cast<char>(c);
        } else {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            o += b;
        }
    }
    return o + "'";
}

bool is_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        unsigned n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (s.size() - i <= n) return false;
        for (unsigned k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false; // overlong
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::uint64_t parse_uint(const std::string& option, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
    const std::string allowed = range_text(lo, hi);
    if (text.empty()) fail(option, text, "is empty", allowed);
    for (char c : text)
        if (c < '0' || c > '9') {
            if (text.front() == '-') fail(option, text, "is negative", allowed);
            fail(option, text, "is not a whole number (digits only)", allowed);
        }
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) fail(option, text, "is too large", allowed);
    if (ec != std::errc() || p != text.data() + text.size())
        fail(option, text, "is not a whole number (digits only)", allowed);
    if (v < lo || v > hi) fail(option, text, "is out of range", allowed);
    return v;
}

std::uint64_t parse_size(const std::string& option, std::string_view text, const SizeSpec& spec) {
    const char* unit = spec.bytes ? " bytes" : "";
    const std::string allowed =
        range_text(spec.lo, spec.hi, unit) + std::string("; suffixes K M G T (powers of ") +
        (spec.k_binary ? "1024" : "1000") + "), KiB MiB GiB TiB (powers of 1024)";
    const auto d = split_decimal(text);
    if (!d) fail(option, text, "is not a number", allowed);
    if (d->negative) fail(option, text, "is negative", allowed);
    if (d->has_sign) fail(option, text, "has a sign", allowed);
    std::string suf = lower(d->suffix);
    if (!suf.empty() && suf.back() == 'b') suf.pop_back();
    std::uint64_t mult = 0;
    const std::uint64_t k = spec.k_binary ? 1024 : 1000;
    if (suf.empty()) mult = 1;
    else if (suf == "k") mult = k;
    else if (suf == "m") mult = k * k;
    else if (suf == "g") mult = k * k * k;
    else if (suf == "t") mult = k * k * k * k;
    else if (suf == "ki") mult = 1ull << 10;
    else if (suf == "mi") mult = 1ull << 20;
    else if (suf == "gi") mult = 1ull << 30;
    else if (suf == "ti") mult = 1ull << 40;
    else fail(option, text, "has an unknown unit", allowed);
    const auto p = scale_by(*d, mult);
    if (!p) fail(option, text, "is too large", allowed);
    if (p->remainder) fail(option, text, "is not a whole number", allowed);
    if (p->whole > spec.hi) fail(option, text, "is too large", allowed);
    if (p->whole < spec.lo) fail(option, text, "is too small", allowed);
    return p->whole;
}

std::uint64_t parse_rate_bps(const std::string& option, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
    const std::string allowed = u64s(lo) + ".." + u64s(hi) + " bit/s, e.g. 10G, 2.5G, 100M, 10Gbps";
    const auto d = split_decimal(text);
    if (!d) fail(option, text, "is not a rate", allowed);
    if (d->negative) fail(option, text, "is negative", allowed);
    if (d->has_sign) fail(option, text, "has a sign", allowed);
    std::string suf = lower(d->suffix);
    if (suf.size() >= 3 && suf.compare(suf.size() - 3, 3, "bps") == 0) suf.resize(suf.size() - 3);
    std::uint64_t mult = 0;
    if (suf.empty()) mult = 1;
    else if (suf == "k") mult = 1'000;
    else if (suf == "m") mult = 1'000'000;
    else if (suf == "g") mult = 1'000'000'000;
    else if (suf == "t") mult = 1'000'000'000'000;
    else fail(option, text, "has an unknown unit", allowed);
    const auto p = scale_by(*d, mult);
    if (!p) fail(option, text, "is too large", allowed);
    const std::uint64_t v = p->whole + (p->round_up ? 1 : 0);
    if (v > hi) fail(option, text, "is too large", allowed);
    if (v < lo) fail(option, text, "is too small", allowed);
    return v;
}

std::uint64_t parse_duration_ns(const std::string& option, std::string_view text, const DurationSpec& spec) {
    const std::string allowed = format_duration(spec.lo) + ".." + format_duration(spec.hi) +
                                " with a unit ns, us, ms, s (e.g. 500us)" + (spec.allow_inf ? ", or inf" : "");
    const std::string t = lower(text);
    if (t == "inf" || t == "infinite" || t == "none") {
        if (!spec.allow_inf) fail(option, text, "is not allowed here", allowed);
        return kInfiniteNs;
    }
    const auto d = split_decimal(text);
    if (!d) fail(option, text, "is not a duration", allowed);
    if (d->negative) fail(option, text, "is negative", allowed);
    if (d->has_sign) fail(option, text, "has a sign", allowed);
    const std::string suf = lower(d->suffix);
    std::uint64_t mult = 0;
    if (suf == "ns") mult = 1;
    else if (suf == "us") mult = 1'000;
    else if (suf == "ms") mult = 1'000'000;
    else if (suf == "s") mult = 1'000'000'000;
    else if (suf.empty() && d->mant == 0 && !d->too_long) mult = 1;
    else if (suf.empty()) fail(option, text, "needs a unit", allowed);
    else fail(option, text, "has an unknown unit", allowed);
    const auto p = scale_by(*d, mult);
    if (!p) fail(option, text, "is too long", allowed);
    const std::uint64_t v = p->whole + (p->round_up ? 1 : 0);
    if (v > spec.hi) fail(option, text, "is too long", allowed);
    if (v < spec.lo) fail(option, text, "is too short", allowed);
    return v;
}

double parse_real(const std::string& option, std::string_view text, double lo, double hi) {
    const std::string allowed = format_real(lo) + ".." + format_real(hi);
    double v = 0;
    std::string_view s = text;
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
    if (s.empty() || ec == std::errc::invalid_argument || p != s.data() + s.size())
        fail(option, text, "is not a number", allowed);
    if (ec == std::errc::result_out_of_range || std::isinf(v)) fail(option, text, "is out of range", allowed);
    if (std::isnan(v)) fail(option, text, "is not a number", allowed);
    if (v < lo || v > hi) fail(option, text, "is out of range", allowed);
    return v == 0 ? 0.0 : v; // no -0
}

std::string format_duration(std::uint64_t ns) {
    if (ns == kInfiniteNs) return "inf";
    if (ns == 0) return "0";
    if (ns % 1'000'000'000ull == 0) return u64s(ns / 1'000'000'000ull) + "s";
    if (ns % 1'000'000ull == 0) return u64s(ns / 1'000'000ull) + "ms";
    if (ns % 1'000ull == 0) return u64s(ns / 1'000ull) + "us";
    return u64s(ns) + "ns";
}

std::string format_real(double v) {
    char b[40];
    for (int prec = 6; prec <= 17; ++prec) {
        std::snprintf(b, sizeof b, "%.*g", prec, v);
        double back = 0;
        std::from_chars(b, b + std::char_traits<char>::length(b), back);
        if (back == v) break;
    }
    return b;
}

} // namespace flowteam::opt
