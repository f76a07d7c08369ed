// SPDX-License-Identifier: BSD-3-Clause
#include "migration/wire.h"

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

#include "migration/memory.h"

namespace flowteam::migration {

static_assert(kPageBytes == kPageSize);
static_assert(kHeaderSize % 8 == 0);

namespace {

// Little-endian field access, independent of the host byte order.
template <typename T>
inline T to_le(T v) {
    if constexpr (std::endian::native == std::endian::big) {
        if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(v));
        if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(v));
        if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(v));
    }
    return v;
}
template <typename T>
inline void st(std::uint8_t* p, T v) {
    v = to_le(v);
    std::memcpy(p, &v, sizeof v);
}
template <typename T>
inline T ld(const std::uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return to_le(v);
}

enum Off : std::size_t {
    kOffMagic = 0,
    kOffVersion = 4,
    kOffType = 5,
    kOffFlags = 6,
    kOffVm = 8,
    kOffChannel = 10,
    kOffRound = 12,
    kOffPage = 16,
    kOffOffset = 20,
    kOffPayloadLen = 22,
    kOffPageLen = 24,
    kOffHeaderLen = 26,
    kOffSeq = 28,
    kOffTxTime = 32,
    kOffCount = 40,
    kOffCrc = 44,
};
static_assert(kOffCrc + 4 == kHeaderSize);

void write_header(const FrameHeader& h, std::uint8_t* out) noexcept {
    st<std::uint32_t>(out + kOffMagic, kWireMagic);
    out[kOffVersion] = kWireVersion;
    out[kOffType] = static_cast<std::uint8_t>(h.type);
    st<std::uint16_t>(out + kOffFlags, h.flags);
    st<std::uint16_t>(out + kOffVm, h.vm);
    st<std::uint16_t>(out + kOffChannel, h.channel);
    st<std::uint32_t>(out + kOffRound, h.round);
    st<std::uint32_t>(out + kOffPage, h.page);
    st<std::uint16_t>(out + kOffOffset, h.offset);
    st<std::uint16_t>(out + kOffPayloadLen, h.payload_len);
    st<std::uint16_t>(out + kOffPageLen, h.page_len);
    st<std::uint16_t>(out + kOffHeaderLen, static_cast<std::uint16_t>(kHeaderSize));
    st<std::uint32_t>(out + kOffSeq, h.seq);
    st<std::uint64_t>(out + kOffTxTime, h.tx_time);
    st<std::uint32_t>(out + kOffCount, h.count);
    st<std::uint32_t>(out + kOffCrc, crc32c(out, kOffCrc));
}

#if !(defined(__SSE4_2__) && defined(__x86_64__))
constexpr std::uint32_t crc_table_entry(std::uint32_t b) {
    std::uint32_t c = b;
    for (int k = 0; k < 8; ++k)
        c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    return c;
}
#endif

} // namespace

std::uint32_t crc32c(const std::uint8_t* p, std::size_t n, std::uint32_t crc) noexcept {
    crc = ~crc;
#if defined(__SSE4_2__) && defined(__x86_64__)
    std::uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
    }
    crc = static_cast<std::uint32_t>(c);
    for (; n > 0; --n, ++p)
        crc = _mm_crc32_u8(crc, *p);
#else
    for (; n > 0; --n, ++p)
        crc = (crc >> 8) ^ crc_table_entry((crc ^ *p) & 0xFFu);
#endif
    return ~crc;
}

const char* to_string(WireStatus s) {
    switch (s) {
    case WireStatus::ok:
        return "ok";
    case WireStatus::truncated:
        return "truncated";
    case WireStatus::bad_magic:
        return "bad_magic";
    case WireStatus::bad_version:
        return "bad_version";
    case WireStatus::bad_header_len:
        return "bad_header_len";
    case WireStatus::bad_checksum:
        return "bad_checksum";
    case WireStatus::bad_type:
        return "bad_type";
    case WireStatus::bad_flags:
        return "bad_flags";
    case WireStatus::bad_vm:
        return "bad_vm";
    case WireStatus::bad_channel:
        return "bad_channel";
    case WireStatus::bad_round:
        return "bad_round";
    case WireStatus::bad_page:
        return "bad_page";
    case WireStatus::length_mismatch:
        return "length_mismatch";
    case WireStatus::bad_page_len:
        return "bad_page_len";
    case WireStatus::bad_offset:
        return "bad_offset";
    case WireStatus::zero_with_body:
        return "zero_with_body";
    case WireStatus::bad_compressed:
        return "bad_compressed";
    case WireStatus::bad_control:
        return "bad_control";
    case WireStatus::bad_entry:
        return "bad_entry";
    case WireStatus::unexpected_type:
        return "unexpected_type";
    case WireStatus::decompress_failed:
        return "decompress_failed";
    case WireStatus::round_ahead:
        return "round_ahead";
    case WireStatus::count_:
        break;
    }
    return "?";
}

const char* to_string(FrameType t) {
    switch (t) {
    case FrameType::page:
        return "page";
    case FrameType::round_end:
        return "round_end";
    case FrameType::end:
        return "end";
    case FrameType::ack:
        return "ack";
    case FrameType::page_request:
        return "page_request";
    }
    return "?";
}

WireLimits WireLimits::from(const VmMemory& mem, std::uint16_t channels) {
    WireLimits l;
    l.vm_count = mem.vm_count();
    l.channels = channels;
    l.pages.resize(mem.vm_count());
    for (std::uint16_t v = 0; v < mem.vm_count(); ++v)
        l.pages[v] = mem.pages(v);
    return l;
}

void check_mtu(std::uint32_t mtu) {
    if (mtu < kMinMtu || mtu > kMaxMtu)
        throw std::invalid_argument("mtu must be in " + std::to_string(kMinMtu) + ".." +
                                    std::to_string(kMaxMtu) + ", got " + std::to_string(mtu));
}

std::size_t encode_header(const FrameHeader& h, std::uint8_t* out, std::size_t cap) noexcept {
    if (out == nullptr || cap < kHeaderSize) return 0;
    write_header(h, out);
    return kHeaderSize;
}

std::size_t encode_frame(const FrameHeader& h, const std::uint8_t* body, std::uint8_t* out,
                         std::size_t cap) noexcept {
    const std::size_t len = kHeaderSize + h.payload_len;
    if (out == nullptr || cap < len || (h.payload_len != 0 && body == nullptr)) return 0;
    write_header(h, out);
    if (h.payload_len != 0) std::memmove(out + kHeaderSize, body, h.payload_len);
    return len;
}

namespace {

// Shared by the back-channel encoders: checks room for n entries of
// entry_size bytes, turns `h` into a header-only frame of `type` carrying
// them, and returns where the entries go (nullptr when they do not fit).
std::uint8_t* begin_entries(FrameHeader& h, FrameType type, std::uint32_t n, std::size_t entry_size,
                            std::uint8_t* out, std::size_t cap) noexcept {
    const std::size_t body = static_cast<std::size_t>(n) * entry_size;
    if (n == 0 || out == nullptr || body > 0xFFFFu || cap < kHeaderSize + body) return nullptr;
    h.type = type;
    h.flags = 0;
    h.round = 0;
    h.page = 0;
    h.offset = 0;
    h.page_len = 0;
    h.count = n;
    h.payload_len = static_cast<std::uint16_t>(body);
    return out + kHeaderSize;
}

} // namespace

std::size_t encode_acks(FrameHeader h, const AckEntry* e, std::uint32_t n, std::uint8_t* out,
                        std::size_t cap) noexcept {
    std::uint8_t* b = begin_entries(h, FrameType::ack, n, kAckEntrySize, out, cap);
    if (b == nullptr) return 0;
    for (std::uint32_t i = 0; i < n; ++i, b += kAckEntrySize) {
        st<std::uint32_t>(b, e[i].round);
        st<std::uint32_t>(b + 4, e[i].first_page);
        st<std::uint32_t>(b + 8, e[i].count);
    }
    write_header(h, out);
    return kHeaderSize + h.payload_len;
}

std::size_t encode_requests(FrameHeader h, const PageRequest* e, std::uint32_t n, std::uint8_t* out,
                            std::size_t cap) noexcept {
    std::uint8_t* b = begin_entries(h, FrameType::page_request, n, kRequestEntrySize, out, cap);
    if (b == nullptr) return 0;
    for (std::uint32_t i = 0; i < n; ++i, b += kRequestEntrySize) {
        st<std::uint32_t>(b, e[i].round);
        st<std::uint16_t>(b + 4, e[i].channel);
        st<std::uint16_t>(b + 6, 0);
        st<std::uint32_t>(b + 8, e[i].first_page);
        st<std::uint32_t>(b + 12, e[i].last_page);
    }
    write_header(h, out);
    return kHeaderSize + h.payload_len;
}

AckEntry ack_entry(const FrameView& f, std::uint32_t i) noexcept {
    const std::uint8_t* b = f.body + static_cast<std::size_t>(i) * kAckEntrySize;
    return AckEntry{ld<std::uint32_t>(b), ld<std::uint32_t>(b + 4), ld<std::uint32_t>(b + 8)};
}

PageRequest request_entry(const FrameView& f, std::uint32_t i) noexcept {
    const std::uint8_t* b = f.body + static_cast<std::size_t>(i) * kRequestEntrySize;
    PageRequest r;
    r.round = ld<std::uint32_t>(b);
    r.channel = ld<std::uint16_t>(b + 4);
    r.first_page = ld<std::uint32_t>(b + 8);
    r.last_page = ld<std::uint32_t>(b + 12);
    return r;
}

WireStatus decode(const std::uint8_t* buf, std::size_t len, const WireLimits& lim, FrameView& out) noexcept {
    if (buf == nullptr || len < kHeaderSize) return WireStatus::truncated;
    if (ld<std::uint32_t>(buf + kOffMagic) != kWireMagic) return WireStatus::bad_magic;
    if (buf[kOffVersion] != kWireVersion) return WireStatus::bad_version;
    if (ld<std::uint16_t>(buf + kOffHeaderLen) != kHeaderSize) return WireStatus::bad_header_len;
    if (ld<std::uint32_t>(buf + kOffCrc) != crc32c(buf, kOffCrc)) return WireStatus::bad_checksum;

    FrameHeader h;
    const std::uint8_t type = buf[kOffType];
    if (type < static_cast<std::uint8_t>(FrameType::page) ||
        type > static_cast<std::uint8_t>(FrameType::page_request))
        return WireStatus::bad_type;
    h.type = static_cast<FrameType>(type);
    h.flags = ld<std::uint16_t>(buf + kOffFlags);
    h.vm = ld<std::uint16_t>(buf + kOffVm);
    h.channel = ld<std::uint16_t>(buf + kOffChannel);
    h.round = ld<std::uint32_t>(buf + kOffRound);
    h.page = ld<std::uint32_t>(buf + kOffPage);
    h.offset = ld<std::uint16_t>(buf + kOffOffset);
    h.payload_len = ld<std::uint16_t>(buf + kOffPayloadLen);
    h.page_len = ld<std::uint16_t>(buf + kOffPageLen);
    h.seq = ld<std::uint32_t>(buf + kOffSeq);
    h.tx_time = ld<std::uint64_t>(buf + kOffTxTime);
    h.count = ld<std::uint32_t>(buf + kOffCount);

    if (len != kHeaderSize + static_cast<std::size_t>(h.payload_len)) return WireStatus::length_mismatch;
    if ((h.flags & ~kKnownFlags) != 0) return WireStatus::bad_flags;
    if (h.vm >= lim.vm_count || h.vm >= lim.pages.size()) return WireStatus::bad_vm;
    if (h.channel >= lim.channels) return WireStatus::bad_channel;
    const std::uint32_t pages = lim.pages[h.vm];

    switch (h.type) {
    case FrameType::page: {
        if (h.round == 0) return WireStatus::bad_round;
        if (h.page >= pages) return WireStatus::bad_page;
        if (h.count > h.round) return WireStatus::bad_control; // base round (0: the copy's own)
        const bool zero = (h.flags & kFlagZero) != 0;
        const bool comp = (h.flags & kFlagCompressed) != 0;
        if (zero && comp) return WireStatus::bad_flags;
        if (zero) {
            if (h.payload_len != 0) return WireStatus::zero_with_body;
            if (h.page_len != 0) return WireStatus::bad_page_len;
            if (h.offset != 0) return WireStatus::bad_offset;
        } else if (comp) {
            if (h.offset != 0 || h.page_len == 0 || h.page_len >= kPageBytes || h.payload_len != h.page_len)
                return WireStatus::bad_compressed;
        } else {
            if (h.page_len != kPageBytes) return WireStatus::bad_page_len;
            const std::uint32_t end = static_cast<std::uint32_t>(h.offset) + h.payload_len;
            if (h.payload_len == 0 || (h.offset % kFragmentUnit) != 0 || end > kPageBytes ||
                ((h.payload_len % kFragmentUnit) != 0 && end != kPageBytes))
                return WireStatus::bad_offset;
        }
        break;
    }
    case FrameType::round_end:
    case FrameType::end:
        if (h.round == 0) return WireStatus::bad_round;
        if (h.flags != 0) return WireStatus::bad_flags;
        if (h.page != 0 || h.offset != 0 || h.page_len != 0 || h.payload_len != 0)
            return WireStatus::bad_control;
        break;
    case FrameType::ack:
    case FrameType::page_request: {
        if (h.flags != 0) return WireStatus::bad_flags;
        if (h.round != 0 || h.page != 0 || h.offset != 0 || h.page_len != 0) return WireStatus::bad_control;
        const std::uint32_t esz = h.type == FrameType::ack ? kAckEntrySize : kRequestEntrySize;
        if (h.count == 0 || static_cast<std::uint64_t>(h.count) * esz != h.payload_len)
            return WireStatus::bad_control;
        const std::uint8_t* b = buf + kHeaderSize;
        for (std::uint32_t i = 0; i < h.count; ++i, b += esz) {
            if (h.type == FrameType::ack) {
                const std::uint32_t r = ld<std::uint32_t>(b), first = ld<std::uint32_t>(b + 4),
                                    n = ld<std::uint32_t>(b + 8);
                if (r == 0 || n == 0 || static_cast<std::uint64_t>(first) + n > pages)
                    return WireStatus::bad_entry;
            } else {
                const std::uint32_t r = ld<std::uint32_t>(b);
                const std::uint16_t ch = ld<std::uint16_t>(b + 4), rsv = ld<std::uint16_t>(b + 6);
                const std::uint32_t first = ld<std::uint32_t>(b + 8), last = ld<std::uint32_t>(b + 12);
                if (r == 0 || ch >= lim.channels || rsv != 0 || first > last || last >= pages)
                    return WireStatus::bad_entry;
            }
        }
        break;
    }
    }
    out.h = h;
    out.body = buf + kHeaderSize;
    return WireStatus::ok;
}

} // namespace flowteam::migration
