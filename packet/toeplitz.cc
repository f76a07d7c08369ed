// SPDX-License-Identifier: BSD-3-Clause
// flowteam — Toeplitz RSS hash: key handling, reference and table-driven forms.
#include "packet/toeplitz.h"

#include <array>
#include <cstring>
#include <stdexcept>

#include "common/bytes.h"

namespace flowteam::packet {

namespace {

constexpr std::array<std::uint8_t, 40> kMicrosoftKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

// Bit `b` of the key, counting from the most significant bit of key[0].
inline unsigned key_bit(const std::vector<std::uint8_t>& key, std::size_t b) {
    return (key[b / 8] >> (7 - b % 8)) & 1u;
}

// The 32 key bits starting at bit `b` (needs b + 32 <= 8 * key.size()).
std::uint32_t key_window(const std::vector<std::uint8_t>& key, std::size_t b) {
    std::uint32_t w = 0;
    for (std::size_t i = 0; i < 32; ++i)
        w = (w << 1) | key_bit(key, b + i);
    return w;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void check_length(std::size_t n) {
    if (n < ToeplitzKey::kMinLen || n > ToeplitzKey::kMaxLen)
        throw std::invalid_argument("rss key: " + std::to_string(n) + " bytes is not allowed (allowed: " +
                                    std::to_string(ToeplitzKey::kMinLen) + ".." +
                                    std::to_string(ToeplitzKey::kMaxLen) + " bytes; " +
                                    std::to_string(ToeplitzKey::kStandardLen) + " covers IPv6 with ports)");
}

} // namespace

ToeplitzKey::ToeplitzKey() : key_(kMicrosoftKey.begin(), kMicrosoftKey.end()) {
    build_tables();
}

ToeplitzKey::ToeplitzKey(std::span<const std::uint8_t> key) : key_(key.begin(), key.end()) {
    check_length(key_.size());
    build_tables();
}

ToeplitzKey ToeplitzKey::from_hex(std::string_view hex) {
    std::size_t pos = 0;
    if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) pos = 2;
    std::vector<std::uint8_t> bytes;
    int high = -1; // pending high nibble
    for (; pos < hex.size(); ++pos) {
        const char c = hex[pos];
        if (c == ':' && high < 0) continue; // separator between bytes only
        const int v = hex_value(c);
        if (v < 0) {
            static constexpr char kDigits[] = "0123456789abcdef";
            const auto u = static_cast<unsigned char>(c);
            const std::string shown = (u >= 0x20 && u < 0x7f)
                                          ? std::string(1, c)
                                          : std::string{'\\', 'x', kDigits[u >> 4], kDigits[u & 0xF]};
            throw std::invalid_argument("rss key: invalid character '" + shown + "' at position " +
                                        std::to_string(pos) +
                                        " (allowed: hex digits 0-9 a-f A-F, optional 0x prefix, ':' "
                                        "between bytes)");
        }
        if (high < 0) {
            high = v;
        } else {
            bytes.push_back(static_cast<std::uint8_t>((high << 4) | v));
            high = -1;
        }
    }
    if (high >= 0) throw std::invalid_argument("rss key: odd number of hex digits (each byte needs two)");
    check_length(bytes.size());
    return ToeplitzKey(bytes);
}

ToeplitzKey ToeplitzKey::symmetric(std::size_t len) {
    check_length(len);
    std::vector<std::uint8_t> k(len);
    for (std::size_t i = 0; i < len; ++i)
        k[i] = (i % 2 == 0) ? 0x6d : 0x5a;
    return ToeplitzKey(k);
}

std::string ToeplitzKey::to_hex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(key_.size() * 2);
    for (std::uint8_t b : key_) {
        s.push_back(kDigits[b >> 4]);
        s.push_back(kDigits[b & 0xF]);
    }
    return s;
}

void ToeplitzKey::require(std::size_t tuple_len, std::string_view what) const {
    if (fits(tuple_len)) return;
    throw std::invalid_argument("rss key: " + std::to_string(key_.size()) + " bytes is too short for " +
                                std::string(what) + " (" + std::to_string(tuple_len) +
                                " input bytes need a key of at least " +
                                std::to_string(rss_key_len_for(tuple_len)) + " bytes)");
}

void ToeplitzKey::build_tables() {
    const std::size_t positions = key_.size() - 4;
    tables_.assign(positions * 256, 0);
    for (std::size_t pos = 0; pos < positions; ++pos) {
        std::uint32_t* t = &tables_[pos * 256];
        // Input bit j (0 = MSB) of byte `pos` XORs the key window at bit 8*pos + j.
        std::array<std::uint32_t, 8> w{};
        for (std::size_t j = 0; j < 8; ++j)
            w[j] = key_window(key_, pos * 8 + j);
        for (unsigned b = 1; b < 256; ++b) {
            const unsigned low = static_cast<unsigned>(__builtin_ctz(b)); // bit 0 = LSB = input bit 7
            t[b] = t[b & (b - 1)] ^ w[7 - low];
        }
    }
}

std::uint32_t ToeplitzKey::hash_reference(const std::uint8_t* input, std::size_t n) const {
    if (n > max_input()) return 0;
    // result ^= leftmost 32 bits of K for every set input bit, shifting K left by one bit each time.
    std::uint32_t window = key_window(key_, 0);
    std::size_t next = 32; // next key bit to shift in
    std::uint32_t result = 0;
    for (std::size_t i = 0; i < n; ++i) {
        for (int bit = 7; bit >= 0; --bit) {
            if ((input[i] >> bit) & 1u) result ^= window;
            window = (window << 1) | key_bit(key_, next);
            ++next;
        }
    }
    return result;
}

const ToeplitzKey& default_rss_key() {
    static const ToeplitzKey key;
    return key;
}

std::size_t rss_tuple_ipv4(const std::uint8_t src[4], const std::uint8_t dst[4], std::uint8_t* out) {
    std::memcpy(out, src, 4);
    std::memcpy(out + 4, dst, 4);
    return kRssTupleIpv4;
}

std::size_t rss_tuple_ipv4(const std::uint8_t src[4], const std::uint8_t dst[4], std::uint16_t sport,
                           std::uint16_t dport, std::uint8_t* out) {
    rss_tuple_ipv4(src, dst, out);
    store_be16(out + 8, sport);
    store_be16(out + 10, dport);
    return kRssTupleIpv4L4;
}

std::size_t rss_tuple_ipv6(const std::uint8_t src[16], const std::uint8_t dst[16], std::uint8_t* out) {
    std::memcpy(out, src, 16);
    std::memcpy(out + 16, dst, 16);
    return kRssTupleIpv6;
}

std::size_t rss_tuple_ipv6(const std::uint8_t src[16], const std::uint8_t dst[16], std::uint16_t sport,
                           std::uint16_t dport, std::uint8_t* out) {
    rss_tuple_ipv6(src, dst, out);
    store_be16(out + 32, sport);
    store_be16(out + 34, dport);
    return kRssTupleIpv6L4;
}

std::size_t rss_tuple(const FlowKey& key, bool with_l4, std::uint8_t* out) {
    const bool l4 = with_l4 && key.has_l4 && !key.fragment;
    switch (key.l3) {
    case L3::ipv4:
        return l4 ? rss_tuple_ipv4(key.src_ip, key.dst_ip, key.src_port, key.dst_port, out)
                  : rss_tuple_ipv4(key.src_ip, key.dst_ip, out);
    case L3::ipv6:
        return l4 ? rss_tuple_ipv6(key.src_ip, key.dst_ip, key.src_port, key.dst_port, out)
                  : rss_tuple_ipv6(key.src_ip, key.dst_ip, out);
    case L3::none:
        break;
    }
    return 0;
}

std::uint32_t rss_hash(const ToeplitzKey& rss_key, const FlowKey& key, bool with_l4) {
    return rss_key.hash_key(key, with_l4);
}

} // namespace flowteam::packet
