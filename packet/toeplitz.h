// SPDX-License-Identifier: BSD-3-Clause
// flowteam — Microsoft RSS Toeplitz hash, the function NICs use to pick an RX
// queue (hash -> RETA -> queue -> core).
//
// The input tuple is the concatenation, in network byte order, of
//   IPv4 2-tuple: src(4) dst(4)                      =  8 bytes
//   IPv4 4-tuple: src(4) dst(4) sport(2) dport(2)    = 12 bytes
//   IPv6 2-tuple: src(16) dst(16)                    = 32 bytes
//   IPv6 4-tuple: src(16) dst(16) sport(2) dport(2)  = 36 bytes
// Hashing n input bytes consumes 8n + 31 key bits, so a key of K bytes fits
// inputs of up to K - 4 bytes: 12 bytes for an IPv4 2-tuple, 16 for an IPv4
// 4-tuple, 36 / 40 for IPv6 (the standard 40-byte key covers everything).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "packet/flow_key.h"

namespace flowteam::packet {

inline constexpr std::size_t kRssTupleIpv4 = 8;
inline constexpr std::size_t kRssTupleIpv4L4 = 12;
inline constexpr std::size_t kRssTupleIpv6 = 32;
inline constexpr std::size_t kRssTupleIpv6L4 = 36;
inline constexpr std::size_t kRssTupleMax = kRssTupleIpv6L4;

// Key bytes needed to hash `tuple_len` input bytes.
constexpr std::size_t rss_key_len_for(std::size_t tuple_len) {
    return tuple_len + 4;
}

class ToeplitzKey {
  public:
    static constexpr std::size_t kMinLen = rss_key_len_for(kRssTupleIpv4); // 12: IPv4 2-tuple
    static constexpr std::size_t kMaxLen = 128;
    static constexpr std::size_t kStandardLen = 40; // Microsoft / most NICs

    // The default Microsoft key (the one of the RSS verification suite):
    // 6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa
    ToeplitzKey();
    // Throws std::invalid_argument unless kMinLen <= key.size() <= kMaxLen.
    explicit ToeplitzKey(std::span<const std::uint8_t> key);

    // Hex digits, optionally "0x"-prefixed and with ':' separators between bytes
    // ("6d5a56da..." or "6d:5a:56:da:..."). Throws std::invalid_argument with the
    // position of a bad character, an odd digit count or a bad length.
    static ToeplitzKey from_hex(std::string_view hex);
    static ToeplitzKey microsoft() { return ToeplitzKey(); }
    // 0x6d5a repeated: a 16-bit periodic key, so swapping src/dst (and sport/
    // dport) gives the same hash — both directions of a flow land on one queue.
    static ToeplitzKey symmetric(std::size_t len = kStandardLen);

    std::size_t size() const { return key_.size(); }
    const std::uint8_t* data() const { return key_.data(); }
    std::string to_hex() const;

    // Longest input this key can hash (size() - 4; 0 for a moved-from key).
    std::size_t max_input() const { return tables_.size() / 256; }
    bool fits(std::size_t tuple_len) const { return tuple_len <= max_input(); }
    // Configuration-time check: throws std::invalid_argument naming `what`
    // (e.g. "IPv6 4-tuple") and the key length it needs.
    void require(std::size_t tuple_len, std::string_view what) const;

    // Table-driven hash (one 256-entry table per input byte position, built
    // at construction; the input is read 8 bytes at a time so each byte costs
    // one table load). Hot path: no allocation. Returns 0 when !fits(n).
    std::uint32_t hash(const std::uint8_t* input, std::size_t n) const {
        if (n > max_input()) return 0;
        const std::uint32_t* t = tables_.data();
        std::uint32_t h = 0;
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8, t += 8 * 256)
            h ^= lookup8(t, load_le64(input + i));
        for (; i < n; ++i, t += 256)
            h ^= t[input[i]];
        return h;
    }

    // Hash of the RSS tuple of a parsed key (see rss_tuple()) read straight
    // from the key's fields, without building the tuple. Returns 0 when the
    // key has no L3 or the tuple does not fit.
    std::uint32_t hash_key(const FlowKey& key, bool with_l4) const {
        const bool l4 = with_l4 && key.has_l4 && !key.fragment;
        const std::uint32_t* t = tables_.data();
        std::size_t n = 0;
        std::uint32_t h = 0;
        if (key.l3 == L3::ipv4) {
            n = l4 ? 12 : 8;
            if (!fits(n)) return 0;
            std::uint32_t s, d;
            std::memcpy(&s, key.src_ip, 4);
            std::memcpy(&d, key.dst_ip, 4);
            if constexpr (std::endian::native == std::endian::big) {
                s = __builtin_bswap32(s);
                d = __builtin_bswap32(d);
            }
            h = lookup8(t, s | (static_cast<std::uint64_t>(d) << 32));
        } else if (key.l3 == L3::ipv6) {
            n = l4 ? 36 : 32;
            if (!fits(n)) return 0;
            h = lookup8(t, load_le64(key.src_ip)) ^ lookup8(t + 8 * 256, load_le64(key.src_ip + 8)) ^
                lookup8(t + 16 * 256, load_le64(key.dst_ip)) ^
                lookup8(t + 24 * 256, load_le64(key.dst_ip + 8));
        } else {
            return 0;
        }
        if (l4) {
            t += (n - 4) * 256; // ports in network order: sport hi, lo, dport hi, lo
            h ^= t[key.src_port >> 8] ^ t[256 + (key.src_port & 0xFF)] ^ t[512 + (key.dst_port >> 8)] ^
                 t[768 + (key.dst_port & 0xFF)];
        }
        return h;
    }

    // Bit-by-bit reference (the pseudo-code of the Microsoft specification).
    // Returns 0 when !fits(n).
    std::uint32_t hash_reference(const std::uint8_t* input, std::size_t n) const;

    bool operator==(const ToeplitzKey& o) const { return key_ == o.key_; }

  private:
    static std::uint64_t load_le64(const std::uint8_t* p) {
        std::uint64_t w;
        std::memcpy(&w, p, sizeof w);
        if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
        return w;
    }
    // XOR of the 8 per-position tables starting at `t` for the bytes of `w` (byte 0 in bits 0..7).
    static std::uint32_t lookup8(const std::uint32_t* t, std::uint64_t w) {
        return t[0 * 256 + (w & 0xFF)] ^ t[1 * 256 + ((w >> 8) & 0xFF)] ^ t[2 * 256 + ((w >> 16) & 0xFF)] ^
               t[3 * 256 + ((w >> 24) & 0xFF)] ^ t[4 * 256 + ((w >> 32) & 0xFF)] ^
               t[5 * 256 + ((w >> 40) & 0xFF)] ^ t[6 * 256 + ((w >> 48) & 0xFF)] ^ t[7 * 256 + (w >> 56)];
    }
    void build_tables();

    std::vector<std::uint8_t> key_;
    std::vector<std::uint32_t> tables_; // max_input() * 256 entries
};

// The default Microsoft key, built once (thread-safe static).
const ToeplitzKey& default_rss_key();

// RSS input tuples in network order; return the number of bytes written.
std::size_t rss_tuple_ipv4(const std::uint8_t src[4], const std::uint8_t dst[4], std::uint8_t* out);
std::size_t rss_tuple_ipv4(const std::uint8_t src[4], const std::uint8_t dst[4], std::uint16_t sport,
                           std::uint16_t dport, std::uint8_t* out);
std::size_t rss_tuple_ipv6(const std::uint8_t src[16], const std::uint8_t dst[16], std::uint8_t* out);
std::size_t rss_tuple_ipv6(const std::uint8_t src[16], const std::uint8_t dst[16], std::uint16_t sport,
                           std::uint16_t dport, std::uint8_t* out);

// Tuple of a parsed key into out[kRssTupleMax]: the 4-tuple when with_l4 and
// the ports are usable (has_l4 and not a fragment — fragments, even first
// ones, use the 2-tuple as the RSS specification requires), else the 2-tuple.
// Returns 0 when the key has no L3.
std::size_t rss_tuple(const FlowKey& key, bool with_l4, std::uint8_t* out);

// Toeplitz hash of rss_tuple(key, with_l4). Returns 0 when the key has no L3
// or the RSS key is too short for the tuple (validate with require()).
std::uint32_t rss_hash(const ToeplitzKey& rss_key, const FlowKey& key, bool with_l4);

} // namespace flowteam::packet
